// Runs against the real server: create/get/update/terminate/delete/restore, search,
// synchronous logging and log_inputs.
#include <catch2/catch.hpp>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::CreateRunOptions;
using mlflowpp::InvalidArgumentError;
using mlflowpp::Run;
using mlflowpp::RunStatus;
using mlflowpp::SearchRunsOptions;
using mlflowpp::ServerError;
using mlflowpp::TimestampMs;
using mlflowpp::ViewType;

TEST_CASE("runs: create, get, update, set_terminated, delete and restore", "[integration][runs]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-runs-lifecycle"));
  const int64_t start = testing::now_ms() - 60000;  // a start time the server cannot invent

  CreateRunOptions co;
  co.run_name = "first-name";
  co.start_time = start;
  co.tags = {{"team", "ml"}, {"mlflow.user", "alice"}};
  const Run created = client.create_run(exp, co);
  const std::string id = created.info.run_id;
  REQUIRE(id.size() == 32);
  CHECK(created.info.experiment_id == exp);
  CHECK(created.info.run_name == "first-name");
  CHECK(created.info.status == RunStatus::kRunning);
  CHECK(created.info.start_time == start);
  CHECK_FALSE(created.info.end_time.has_value());
  CHECK(created.info.lifecycle_stage == "active");

  Run got = client.get_run(id);
  CHECK(got.info.run_id == id);
  CHECK(got.info.experiment_id == exp);
  CHECK(got.info.run_name == "first-name");
  CHECK(got.info.status == RunStatus::kRunning);
  CHECK(got.info.start_time == start);
  CHECK_FALSE(got.info.end_time.has_value());
  CHECK(got.info.user_id == "alice");
  CHECK(got.data.tag("team") == std::optional<std::string>("ml"));
  CHECK(got.data.tag("mlflow.user") == std::optional<std::string>("alice"));
  CHECK(got.data.tag("mlflow.runName") == std::optional<std::string>("first-name"));
  CHECK(got.data.metrics.empty());
  CHECK(got.data.params.empty());

  // Rename only: the status stays, and the mlflow.runName tag follows.
  auto info = client.update_run(id, std::nullopt, std::nullopt, "second-name");
  CHECK(info.run_name == "second-name");
  CHECK(info.status == RunStatus::kRunning);
  got = client.get_run(id);
  CHECK(got.info.run_name == "second-name");
  CHECK(got.data.tag("mlflow.runName") == std::optional<std::string>("second-name"));
  CHECK(got.info.status == RunStatus::kRunning);

  // Status and end time.
  info = client.update_run(id, RunStatus::kKilled, start + 1000);
  CHECK(info.status == RunStatus::kKilled);
  CHECK(info.end_time == std::optional<int64_t>(start + 1000));
  CHECK(info.run_name == "second-name");
  got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kKilled);
  CHECK(got.info.end_time == std::optional<int64_t>(start + 1000));

  // set_terminated with an explicit end time, then with the defaults (FINISHED, now).
  client.set_terminated(id, RunStatus::kFailed, start + 2000);
  got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFailed);
  CHECK(got.info.end_time == std::optional<int64_t>(start + 2000));
  const int64_t before = testing::now_ms();
  client.set_terminated(id);
  got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFinished);
  REQUIRE(got.info.end_time.has_value());
  CHECK(*got.info.end_time >= before);
  CHECK(*got.info.end_time <= testing::now_ms());

  // delete / restore, seen both by get_run and by search's view types.
  client.delete_run(id);
  CHECK(client.get_run(id).info.lifecycle_stage == "deleted");
  SearchRunsOptions so;
  so.run_view_type = ViewType::kActiveOnly;
  CHECK(client.search_all_runs({exp}, so).empty());
  so.run_view_type = ViewType::kDeletedOnly;
  CHECK(itest::run_ids(client.search_all_runs({exp}, so)) == std::vector<std::string>{id});
  client.restore_run(id);
  CHECK(client.get_run(id).info.lifecycle_stage == "active");
  so.run_view_type = ViewType::kActiveOnly;
  CHECK(itest::run_ids(client.search_all_runs({exp}, so)) == std::vector<std::string>{id});

  // get of a missing run
  auto missing = itest::thrown<ServerError>([&] { client.get_run(std::string(32, '0')); });
  REQUIRE(missing.has_value());
  CHECK(missing->is_not_found());
  CHECK(missing->http_status() == 404);
}

TEST_CASE("runs: synchronous log_metric, log_param, set_tag, delete_tag", "[integration][runs]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-runs-sync"));
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();

  client.log_metric(id, "loss", 0.75, TimestampMs(ts), 0);
  client.log_metric(id, "loss", 0.5, TimestampMs(ts + 10), 1);
  client.log_metric(id, "loss", 0.25, TimestampMs(ts + 20), 2);
  client.log_metric(id, "acc", 0.9);  // default timestamp (now) and step 0
  client.log_param(id, "lr", "0.001");
  client.log_param(id, "lr", "0.001");  // the same value again is accepted
  client.set_tag(id, "phase", "warmup");
  client.set_tag(id, "phase", "train");  // last write wins
  client.set_tag(id, "temp", "x");
  client.delete_tag(id, "temp");

  auto hist = itest::sorted_history(client, id, "loss");
  REQUIRE(hist.size() == 3);
  const double values[] = {0.75, 0.5, 0.25};
  for (int i = 0; i < 3; ++i) {
    CHECK(hist[i].key == "loss");
    CHECK(hist[i].step == i);
    CHECK(hist[i].timestamp == ts + 10 * i);
    CHECK(hist[i].value == values[i]);
  }
  auto acc = client.get_metric_history(id, "acc");
  REQUIRE(acc.size() == 1);
  CHECK(acc[0].value == 0.9);
  CHECK(acc[0].step == 0);
  CHECK(acc[0].timestamp >= ts - 1000);
  CHECK(acc[0].timestamp <= testing::now_ms());

  const Run run = client.get_run(id);
  auto latest = run.data.metric("loss");
  REQUIRE(latest.has_value());
  CHECK(latest->value == 0.25);  // the latest step
  CHECK(latest->step == 2);
  CHECK(run.data.param("lr") == std::optional<std::string>("0.001"));
  CHECK(run.data.params.size() == 1);
  CHECK(run.data.tag("phase") == std::optional<std::string>("train"));
  CHECK_FALSE(run.data.tag("temp").has_value());

  // A different value for an existing param: refused by the server.
  auto conflict = itest::thrown<ServerError>([&] { client.log_param(id, "lr", "0.002"); });
  REQUIRE(conflict.has_value());
  CHECK(conflict->error_code() == "INVALID_PARAMETER_VALUE");
  CHECK(conflict->http_status() == 400);
  CHECK(client.get_run(id).data.param("lr") == std::optional<std::string>("0.001"));

  // Invalid keys: refused before sending, the message names the key.
  for (const std::string bad : {"a//b", "/lead", "trail/", "a/../b", "semi;colon", "dollar$"}) {
    INFO("key: " << bad);
    auto m = itest::thrown<InvalidArgumentError>([&] { client.log_metric(id, bad, 1.0); });
    REQUIRE(m.has_value());
    CHECK(itest::contains(m->what(), bad));
    auto p = itest::thrown<InvalidArgumentError>([&] { client.log_param(id, bad, "v"); });
    REQUIRE(p.has_value());
    CHECK(itest::contains(p->what(), bad));
    auto t = itest::thrown<InvalidArgumentError>([&] { client.set_tag(id, bad, "v"); });
    REQUIRE(t.has_value());
    CHECK(itest::contains(t->what(), bad));
  }
  // Negative timestamps are refused too.
  CHECK_THROWS_AS(client.log_metric(id, "loss", 1.0, TimestampMs(-1), 0), InvalidArgumentError);
  // Nothing of the above reached the run.
  const Run after = client.get_run(id);
  CHECK(after.data.metrics.size() == 2);
  CHECK(after.data.params.size() == 1);
  CHECK(itest::sorted_history(client, id, "loss").size() == 3);
}

TEST_CASE("runs: search with filters on params, metrics and tags, order_by and paging",
          "[integration][runs]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-runs-search"));

  // 5 runs: acc strictly different, lr and group alternate.
  struct Spec {
    const char* name;
    double acc;
    const char* lr;
    const char* group;
  };
  const Spec specs[] = {{"r0", 0.55, "0.1", "a"},
                        {"r1", 0.95, "0.01", "b"},
                        {"r2", 0.15, "0.1", "b"},
                        {"r3", 0.75, "0.01", "a"},
                        {"r4", 0.35, "0.1", "a"}};
  std::map<std::string, std::string> id_of;
  for (const auto& s : specs) {
    CreateRunOptions co;
    co.run_name = s.name;
    const std::string id = client.create_run(exp, co).info.run_id;
    id_of[s.name] = id;
    client.log_batch(id, {itest::metric("acc", s.acc, testing::now_ms(), 0)}, {{"lr", s.lr}},
                     {{"group", s.group}});
  }
  auto ids = [&](std::initializer_list<const char*> names) {
    std::vector<std::string> v;
    for (const char* n : names) v.push_back(id_of[n]);
    return v;
  };

  SearchRunsOptions o;
  o.filter_string = "params.lr = '0.1'";
  CHECK(itest::sorted(itest::run_ids(client.search_all_runs({exp}, o))) ==
        itest::sorted(ids({"r0", "r2", "r4"})));
  o.filter_string = "metrics.acc > 0.5";
  CHECK(itest::sorted(itest::run_ids(client.search_all_runs({exp}, o))) ==
        itest::sorted(ids({"r0", "r1", "r3"})));
  o.filter_string = "tags.group = 'b'";
  CHECK(itest::sorted(itest::run_ids(client.search_all_runs({exp}, o))) == itest::sorted(ids({"r1", "r2"})));
  o.filter_string = "params.lr = '0.1' AND metrics.acc < 0.5 AND tags.group = 'a'";
  CHECK(itest::run_ids(client.search_all_runs({exp}, o)) == ids({"r4"}));
  o.filter_string = "attributes.run_name = 'r3'";
  CHECK(itest::run_ids(client.search_all_runs({exp}, o)) == ids({"r3"}));

  // Ordering by a metric, descending.
  o.filter_string.clear();
  o.order_by = {"metrics.acc DESC"};
  const auto by_acc_desc = ids({"r1", "r3", "r0", "r4", "r2"});
  auto all = client.search_runs({exp}, o);
  CHECK(itest::run_ids(all.items) == by_acc_desc);
  CHECK(all.next_page_token.empty());
  // Search results carry the data.
  REQUIRE(all.items.size() == 5);
  CHECK(all.items[0].data.metric("acc").value().value == 0.95);
  CHECK(all.items[0].data.param("lr") == std::optional<std::string>("0.01"));
  CHECK(all.items[0].data.tag("group") == std::optional<std::string>("b"));

  // Paging by 2.
  o.max_results = 2;
  auto p1 = client.search_runs({exp}, o);
  CHECK(itest::run_ids(p1.items) == ids({"r1", "r3"}));
  REQUIRE_FALSE(p1.next_page_token.empty());
  o.page_token = p1.next_page_token;
  auto p2 = client.search_runs({exp}, o);
  CHECK(itest::run_ids(p2.items) == ids({"r0", "r4"}));
  REQUIRE_FALSE(p2.next_page_token.empty());
  o.page_token = p2.next_page_token;
  auto p3 = client.search_runs({exp}, o);
  CHECK(itest::run_ids(p3.items) == ids({"r2"}));
  CHECK(p3.next_page_token.empty());
  o.page_token.clear();
  CHECK(itest::run_ids(client.search_all_runs({exp}, o)) == by_acc_desc);

  // A bad filter is the server's INVALID_PARAMETER_VALUE.
  o.filter_string = "metrics.acc >>> 1";
  auto bad = itest::thrown<ServerError>([&] { client.search_runs({exp}, o); });
  REQUIRE(bad.has_value());
  CHECK(bad->http_status() == 400);
  CHECK(bad->error_code() == "INVALID_PARAMETER_VALUE");
}

TEST_CASE("runs: log_inputs records a dataset with an input tag", "[integration][runs]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-runs-inputs"));
  const std::string id = client.create_run(exp).info.run_id;

  mlflowpp::DatasetInput in;
  in.dataset.name = "digits-train";
  in.dataset.digest = "3f2a9c1d";
  in.dataset.source_type = "local";
  in.dataset.source = R"({"uri": "/data/digits.csv"})";
  in.dataset.schema = R"({"mlflow_colspec": [{"type": "double", "name": "x"}]})";
  in.tags = {{"mlflow.data.context", "train"}};
  client.log_inputs(id, {in});

  const Run run = client.get_run(id);
  REQUIRE(run.inputs.dataset_inputs.size() == 1);
  const auto& got = run.inputs.dataset_inputs[0];
  CHECK(got.dataset.name == "digits-train");
  CHECK(got.dataset.digest == "3f2a9c1d");
  CHECK(got.dataset.source_type == "local");
  CHECK(got.dataset.source == R"({"uri": "/data/digits.csv"})");
  CHECK(got.dataset.schema == in.dataset.schema);
  REQUIRE(got.tags.size() == 1);
  CHECK(got.tags[0].key == "mlflow.data.context");
  CHECK(got.tags[0].value == "train");

  // Refused before sending: no digest.
  mlflowpp::DatasetInput no_digest = in;
  no_digest.dataset.digest.clear();
  CHECK_THROWS_AS(client.log_inputs(id, {no_digest}), InvalidArgumentError);
}
