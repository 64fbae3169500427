// The embedded local tracking store (src/detail/local/local_*.cpp) through the public Client
// on a `sqlite:///` URI in a temporary folder, and the store seam directly where the Client
// hides a detail (history paging). Semantics checked against MLflow's SqlAlchemyStore:
// Default experiment, names unique across deleted experiments, mlflow.runName kept in step,
// write-once params, metric dedupe, latest_metrics, NaN/Inf, page tokens, the filter grammar.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "detail/local/database.hpp"
#include "detail/local/local_stores.hpp"
#include "detail/local/local_uri.hpp"
#include "mlflowpp/mlflowpp.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;

namespace {

struct Local {
  support::TempDir dir{"local-store"};
  std::string db_path = dir.str() + "/mlflow.db";
  Client client{[&] {
    ClientOptions o;
    o.tracking_uri = "sqlite:///" + db_path;
    return o;
  }()};
};

/// The ServerError's code thrown by `f` ("" when none is thrown).
template <typename F>
std::string error_code_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const ServerError& e) {
    if (message) *message = e.server_message();
    return e.error_code();
  }
  return "";
}

Metric point(const std::string& key, double value, int64_t ts, int64_t step) {
  Metric m;
  m.key = key;
  m.value = value;
  m.timestamp = ts;
  m.step = step;
  return m;
}

}  // namespace

TEST_CASE("local: experiments lifecycle, names and tags", "[local]") {
  Local l;
  Client& c = l.client;
  const Experiment dflt = c.get_experiment("0");
  CHECK(dflt.name == "Default");
  CHECK(dflt.lifecycle_stage == "active");
  CHECK(dflt.artifact_location.size() > 2);
  CHECK(dflt.artifact_location.substr(dflt.artifact_location.size() - 2) == "/0");
  const std::string root = dflt.artifact_location.substr(0, dflt.artifact_location.size() - 2);

  const std::string id = c.create_experiment("exp-a", {}, {{"team", "ml"}});
  CHECK(id == "1");
  Experiment x = c.get_experiment(id);
  CHECK(x.name == "exp-a");
  CHECK(x.artifact_location == root + "/1");
  CHECK(x.tag("team") == std::optional<std::string>("ml"));
  CHECK(x.creation_time > 0);
  CHECK(x.last_update_time == x.creation_time);
  CHECK(c.create_experiment("exp-b", "/tmp/somewhere/else") == "2");
  CHECK(c.get_experiment("2").artifact_location == "/tmp/somewhere/else");

  CHECK(error_code_of([&] { c.create_experiment("exp-a"); }) == "RESOURCE_ALREADY_EXISTS");
  CHECK(error_code_of([&] { c.get_experiment("42"); }) == "RESOURCE_DOES_NOT_EXIST");
  CHECK(error_code_of([&] { c.get_experiment("abc"); }) == "INVALID_PARAMETER_VALUE");
  CHECK(c.get_experiment_by_name("exp-a")->experiment_id == "1");
  CHECK_FALSE(c.get_experiment_by_name("nope").has_value());

  c.rename_experiment(id, "exp-renamed");
  CHECK(c.get_experiment(id).name == "exp-renamed");
  c.set_experiment_tag(id, "team", "infra");
  c.set_experiment_tag(id, "stage", "dev");
  x = c.get_experiment(id);
  CHECK(x.tag("team") == std::optional<std::string>("infra"));
  c.delete_experiment_tag(id, "stage");
  CHECK_FALSE(c.get_experiment(id).tag("stage").has_value());
  CHECK(error_code_of([&] { c.delete_experiment_tag(id, "stage"); }) == "RESOURCE_DOES_NOT_EXIST");

  c.delete_experiment(id);
  x = c.get_experiment(id);
  CHECK(x.lifecycle_stage == "deleted");
  // Names stay taken by deleted experiments; a deleted experiment refuses changes.
  CHECK(error_code_of([&] { c.create_experiment("exp-renamed"); }) == "RESOURCE_ALREADY_EXISTS");
  CHECK(error_code_of([&] { c.rename_experiment(id, "other"); }) == "INVALID_STATE");
  CHECK(error_code_of([&] { c.set_experiment_tag(id, "k", "v"); }) == "INVALID_PARAMETER_VALUE");
  CHECK(error_code_of([&] { c.create_run(id, {}); }) == "INVALID_PARAMETER_VALUE");
  CHECK(error_code_of([&] { c.delete_experiment(id); }) == "RESOURCE_DOES_NOT_EXIST");
  c.restore_experiment(id);
  CHECK(c.get_experiment(id).lifecycle_stage == "active");
}

TEST_CASE("local: runs, names and lifecycle", "[local]") {
  Local l;
  Client& c = l.client;
  const std::string exp = c.create_experiment("runs");
  CreateRunOptions o;
  o.run_name = "first";
  o.start_time = 1700000000000;
  o.tags = {{"mlflow.user", "alice"}, {"k", "v"}};
  Run r = c.create_run(exp, o);
  CHECK(r.info.run_id.size() == 32);
  CHECK(r.info.run_name == "first");
  CHECK(r.info.status == RunStatus::kRunning);
  CHECK(r.info.start_time == 1700000000000);
  CHECK_FALSE(r.info.end_time.has_value());
  CHECK(r.info.user_id == "alice");
  CHECK(r.info.lifecycle_stage == "active");
  CHECK(r.info.artifact_uri == c.get_experiment(exp).artifact_location + "/" + r.info.run_id + "/artifacts");
  CHECK(r.data.tag("mlflow.runName") == std::optional<std::string>("first"));
  CHECK(r.data.tag("k") == std::optional<std::string>("v"));

  // A generated name: <predicate>-<noun>-<number>, also as the tag.
  Run g = c.create_run(exp, {});
  CHECK_FALSE(g.info.run_name.empty());
  CHECK(g.info.run_name.size() <= 20);
  CHECK(std::count(g.info.run_name.begin(), g.info.run_name.end(), '-') == 2);
  CHECK(g.data.tag("mlflow.runName") == std::optional<std::string>(g.info.run_name));
  // The name from the tag; a disagreeing name and tag are refused.
  CreateRunOptions t;
  t.tags = {{"mlflow.runName", "from-tag"}};
  CHECK(c.create_run(exp, t).info.run_name == "from-tag");
  t.run_name = "other";
  CHECK(error_code_of([&] { c.create_run(exp, t); }) == "INVALID_PARAMETER_VALUE");

  // The name stays in step with the tag.
  c.set_tag(r.info.run_id, "mlflow.runName", "renamed");
  CHECK(c.get_run(r.info.run_id).info.run_name == "renamed");
  RunInfo info = c.update_run(r.info.run_id, RunStatus::kFinished, int64_t{1700000005000}, "final");
  CHECK(info.status == RunStatus::kFinished);
  CHECK(info.end_time == std::optional<int64_t>(1700000005000));
  CHECK(info.run_name == "final");
  CHECK(c.get_run(r.info.run_id).data.tag("mlflow.runName") == std::optional<std::string>("final"));
  c.delete_tag(r.info.run_id, "k");
  CHECK_FALSE(c.get_run(r.info.run_id).data.tag("k").has_value());
  CHECK(error_code_of([&] { c.delete_tag(r.info.run_id, "k"); }) == "RESOURCE_DOES_NOT_EXIST");

  c.delete_run(r.info.run_id);
  CHECK(c.get_run(r.info.run_id).info.lifecycle_stage == "deleted");
  std::string msg;
  CHECK(error_code_of([&] { c.log_param(r.info.run_id, "p", "1"); }, &msg) == "INVALID_PARAMETER_VALUE");
  CHECK(msg.find("must be in the 'active' state") != std::string::npos);
  c.restore_run(r.info.run_id);
  CHECK(c.get_run(r.info.run_id).info.lifecycle_stage == "active");
  CHECK(error_code_of([&] { c.get_run("0123456789abcdef0123456789abcdef"); }) == "RESOURCE_DOES_NOT_EXIST");

  // Deleting the experiment deletes its runs; restoring restores them.
  c.delete_experiment(exp);
  CHECK(c.get_run(g.info.run_id).info.lifecycle_stage == "deleted");
  c.restore_experiment(exp);
  CHECK(c.get_run(g.info.run_id).info.lifecycle_stage == "active");
}

TEST_CASE("local: params are write-once and a refused batch writes nothing", "[local]") {
  Local l;
  Client& c = l.client;
  const std::string run = c.create_run("0", {}).info.run_id;
  c.log_param(run, "lr", "0.1");
  c.log_param(run, "lr", "0.1");  // identical: fine
  std::string msg;
  CHECK(error_code_of([&] { c.log_param(run, "lr", "0.2"); }, &msg) == "INVALID_PARAMETER_VALUE");
  CHECK(
      msg.find(
          "Changing param values is not allowed. Param with key='lr' was already logged with value='0.1'") !=
      std::string::npos);
  // log-batch: the change is refused and the batch's metrics and tags are not written.
  CHECK(error_code_of(
            [&] {
              c.log_batch(run, {point("m", 1, 10, 0)}, {{"lr", "0.3"}}, {{"t", "x"}});
            },
            &msg) == "INVALID_PARAMETER_VALUE");
  CHECK(msg.find("Changing param values is not allowed. Params were already logged=") != std::string::npos);
  CHECK(msg.find("'old_value': '0.1', 'new_value': '0.3'") != std::string::npos);
  const Run r = c.get_run(run);
  CHECK(r.data.metrics.empty());
  CHECK_FALSE(r.data.tag("t").has_value());
  CHECK(r.data.param("lr") == std::optional<std::string>("0.1"));
  c.log_batch(run, {point("m", 1, 10, 0)}, {{"lr", "0.1"}, {"bs", "32"}}, {{"t", "x"}});
  CHECK(c.get_run(run).data.param("bs") == std::optional<std::string>("32"));
  CHECK(c.get_run(run).data.tag("t") == std::optional<std::string>("x"));
}

TEST_CASE("local: metrics dedupe, latest value, NaN and Inf", "[local]") {
  Local l;
  Client& c = l.client;
  const std::string run = c.create_run("0", {}).info.run_id;
  c.log_batch(run, {point("loss", 0.5, 100, 1), point("loss", 0.5, 100, 1), point("loss", 0.4, 90, 2)});
  c.log_metric(run, "loss", 0.5, TimestampMs(100), 1);  // the same point again
  CHECK(c.get_metric_history(run, "loss").size() == 2);
  // Latest: the highest (step, timestamp, value), not the last logged.
  c.log_metric(run, "loss", 9.0, TimestampMs(500), 1);
  auto latest = c.get_run(run).data.metric("loss");
  REQUIRE(latest);
  CHECK(latest->value == 0.4);
  CHECK(latest->step == 2);
  c.log_metric(run, "loss", 0.3, TimestampMs(90), 2);  // same step and time, smaller value: not newer
  CHECK(c.get_run(run).data.metric("loss")->value == 0.4);
  c.log_metric(run, "loss", 0.45, TimestampMs(90), 2);  // larger value: newer
  CHECK(c.get_run(run).data.metric("loss")->value == 0.45);

  // NaN: history and latest read back as NaN; +-Inf as +-DBL_MAX (as MLflow's SQL store).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  c.log_batch(run, {point("n", nan, 1, 0), point("n", nan, 1, 0), point("n", 0.0, 1, 0),
                    point("p", inf, 1, 0), point("q", -inf, 1, 0)});
  auto hist = c.get_metric_history(run, "n");
  REQUIRE(hist.size() == 2);  // NaN once (deduped), 0.0 once
  CHECK(std::count_if(hist.begin(), hist.end(), [](const Metric& m) { return std::isnan(m.value); }) == 1);
  // (step, timestamp, 0) ties: the first logged (NaN) stays the latest.
  CHECK(std::isnan(c.get_run(run).data.metric("n")->value));
  CHECK(c.get_run(run).data.metric("p")->value == std::numeric_limits<double>::max());
  CHECK(c.get_run(run).data.metric("q")->value == -std::numeric_limits<double>::max());
}

TEST_CASE("local: metric history pages with MLflow's offset tokens", "[local]") {
  support::TempDir dir("local-paging");
  const auto target = detail::parse_local_target("sqlite:///" + dir.str() + "/mlflow.db");
  auto store = detail::make_local_tracking_store(detail::LocalDatabase::open(target));
  const Run r = store->create_run("0", "r", 1, {}, "");
  for (int i = 0; i < 5; ++i) store->log_metric(r.info.run_id, point("m", i, 1000 + i, i));
  auto p1 = store->get_metric_history_page(r.info.run_id, "m", 2, "");
  REQUIRE(p1.items.size() == 2);
  CHECK(p1.items[0].value == 0);
  CHECK(p1.next_page_token == "eyJvZmZzZXQiOiAyfQ==");  // base64('{"offset": 2}'), as Python
  auto p2 = store->get_metric_history_page(r.info.run_id, "m", 2, p1.next_page_token);
  CHECK(p2.items[0].value == 2);
  auto p3 = store->get_metric_history_page(r.info.run_id, "m", 2, p2.next_page_token);
  CHECK(p3.items.size() == 1);
  CHECK(p3.next_page_token.empty());
  std::string code;
  try {
    (void)store->get_metric_history_page(r.info.run_id, "m", 2, "not a token!");
  } catch (const ServerError& e) {
    code = e.error_code();
  }
  CHECK(code == "INVALID_PARAMETER_VALUE");
  CHECK(store->get_metric_history_page("nope", "m", 2, "").items.empty());
}

TEST_CASE("local: search runs filters, order and paging", "[local]") {
  Local l;
  Client& c = l.client;
  const std::string exp = c.create_experiment("search");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    CreateRunOptions o;
    o.run_name = "run-" + std::to_string(i);
    o.start_time = 1000 + i;
    const std::string id = c.create_run(exp, o).info.run_id;
    ids.push_back(id);
    c.log_batch(id, {point("loss", 1.0 / (i + 1), 5, 0), point("my key", i, 5, 0)},
                {{"lr", i % 2 ? "0.1" : "0.01"}}, {{"team", i < 3 ? "ml" : "infra"}});
  }
  c.log_metric(ids[4], "acc", std::numeric_limits<double>::quiet_NaN(), TimestampMs(5), 0);
  c.log_metric(ids[0], "acc", 0.5, TimestampMs(5), 0);
  auto search = [&](const std::string& filter, std::vector<std::string> order = {}) {
    SearchRunsOptions o;
    o.filter_string = filter;
    o.order_by = std::move(order);
    std::vector<std::string> names;
    for (const auto& r : c.search_runs({exp}, o).items) names.push_back(r.info.run_name);
    return names;
  };
  using V = std::vector<std::string>;
  CHECK(search("") == V{"run-4", "run-3", "run-2", "run-1", "run-0"});  // start_time DESC
  CHECK(search("metrics.loss < 0.22") == V{"run-4"});
  CHECK(search("metrics.`my key` >= 3") == V{"run-4", "run-3"});
  CHECK(search("metrics.\"my key\" = 2 and params.lr = '0.01'") == V{"run-2"});
  CHECK(search("params.lr != \"0.1\" AND tags.team = 'ml'") == V{"run-2", "run-0"});
  CHECK(search("tags.team LIKE 'in%'") == V{"run-4", "run-3"});
  CHECK(search("tags.team LIKE 'IN%'").empty());  // LIKE is case-sensitive, ILIKE is not
  CHECK(search("tags.team ILIKE 'IN%'") == V{"run-4", "run-3"});
  CHECK(search("attributes.run_name = 'run-1'") == V{"run-1"});
  CHECK(search("run_name LIKE 'run-%' AND attributes.start_time > 1002") == V{"run-4", "run-3"});
  CHECK(search("attributes.run_id IN ('" + ids[0] + "', '" + ids[3] + "')") == V{"run-3", "run-0"});
  CHECK(search("run_id NOT IN ('" + ids[0] + "')").size() == 4);
  CHECK(search("status = 'RUNNING'").size() == 5);
  CHECK(search("tags.`mlflow.runName` = 'run-2'") == V{"run-2"});
  CHECK(search("tags.mlflow.runName = 'run-2'") == V{"run-2"});
  CHECK(search("params.missing IS NULL").size() == 5);
  CHECK(search("metrics.acc != 1") == V{"run-4", "run-0"});  // NaN satisfies only !=
  CHECK(search("metrics.acc < 1e300") == V{"run-0"});

  CHECK(search("", {"metrics.loss ASC"}) == V{"run-4", "run-3", "run-2", "run-1", "run-0"});
  CHECK(search("", {"metrics.loss DESC"}) == V{"run-0", "run-1", "run-2", "run-3", "run-4"});
  CHECK(search("", {"params.lr ASC", "attributes.start_time ASC"}) ==
        V{"run-0", "run-2", "run-4", "run-1", "run-3"});
  CHECK(search("", {"tags.team DESC", "run_name"}) == V{"run-0", "run-1", "run-2", "run-3", "run-4"});
  // Values first, then NaN, then runs without the metric.
  CHECK(search("", {"metrics.acc DESC"}) == V{"run-0", "run-4", "run-3", "run-2", "run-1"});

  // Paging: MLflow's offset tokens, every run once.
  SearchRunsOptions o;
  o.max_results = 2;
  std::vector<std::string> all;
  for (;;) {
    auto page = c.search_runs({exp}, o);
    for (const auto& r : page.items) all.push_back(r.info.run_id);
    if (page.next_page_token.empty()) break;
    o.page_token = page.next_page_token;
  }
  CHECK(all.size() == 5);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == 5);
  CHECK(c.search_all_runs({exp}).size() == 5);

  // Deleted runs only with the right view type.
  c.delete_run(ids[0]);
  CHECK(search("").size() == 4);
  SearchRunsOptions d;
  d.run_view_type = ViewType::kDeletedOnly;
  CHECK(c.search_runs({exp}, d).items.size() == 1);
  d.run_view_type = ViewType::kAll;
  CHECK(c.search_runs({exp}, d).items.size() == 5);

  // Refusals name the unsupported part.
  for (const char* bad :
       {"metrics.loss < 1 OR metrics.loss > 2", "(metrics.loss < 1)", "metrics.loss LIKE '1'",
        "params.lr < '1'", "attributes.bogus = 'x'", "status IN ('RUNNING')", "metrics.loss < 'x'",
        "params.lr = 1", "datasets.name = 'x'", "metrics.loss <> 1", "tags.a = 'x' tags.b = 'y'"}) {
    std::string msg;
    INFO(bad);
    CHECK(error_code_of([&] { (void)search(bad); }, &msg) == "INVALID_PARAMETER_VALUE");
    CHECK_FALSE(msg.empty());
  }
  std::string msg;
  (void)error_code_of([&] { (void)search("metrics.loss < 1 OR metrics.loss > 2"); }, &msg);
  CHECK(msg.find("'OR'") != std::string::npos);
  CHECK(error_code_of([&] {
          (void)search("", {"metrics.loss", "metrics.loss DESC"});
        }) == "INVALID_PARAMETER_VALUE");
  CHECK(error_code_of([&] { (void)search("", {"metrics.loss SIDEWAYS"}); }) == "INVALID_PARAMETER_VALUE");
}

TEST_CASE("local: search experiments", "[local]") {
  Local l;
  Client& c = l.client;
  c.create_experiment("alpha", {}, {{"team", "ml"}});
  c.create_experiment("beta", {}, {{"team", "infra"}});
  const std::string gamma = c.create_experiment("gamma");
  auto names = [&](SearchExperimentsOptions o) {
    std::vector<std::string> out;
    for (const auto& x : c.search_experiments(o).items) out.push_back(x.name);
    return out;
  };
  using V = std::vector<std::string>;
  SearchExperimentsOptions o;
  o.order_by = {"name ASC"};
  CHECK(names(o) == V{"Default", "alpha", "beta", "gamma"});
  o.filter_string = "name LIKE '%a' AND tags.team = 'infra'";
  CHECK(names(o) == V{"beta"});
  o.filter_string = "tags.team IS NULL";
  CHECK(names(o) == V{"Default", "gamma"});
  o.filter_string = "attributes.name ILIKE 'ALPHA'";
  CHECK(names(o) == V{"alpha"});
  o.filter_string = "creation_time > 0 AND experiment_id != '0'";
  CHECK(names(o) == V{"alpha", "beta", "gamma"});
  o.filter_string.clear();
  o.order_by.clear();
  o.max_results = 3;
  auto page = c.search_experiments(o);
  CHECK(page.items.size() == 3);
  CHECK_FALSE(page.next_page_token.empty());
  o.page_token = page.next_page_token;
  CHECK(c.search_experiments(o).items.size() == 1);
  c.delete_experiment(gamma);
  SearchExperimentsOptions d;
  d.view_type = ViewType::kDeletedOnly;
  CHECK(names(d) == V{"gamma"});
  d.filter_string = "metrics.x > 1";
  CHECK(error_code_of([&] { (void)c.search_experiments(d); }) == "INVALID_PARAMETER_VALUE");
}

TEST_CASE("local: dataset inputs are deduplicated", "[local]") {
  Local l;
  Client& c = l.client;
  const std::string run = c.create_run("0", {}).info.run_id;
  DatasetInput in;
  in.dataset = {"train", "abc123", "local", "{\"uri\": \"/data\"}", "", ""};
  in.tags = {{"mlflow.data.context", "training"}};
  c.log_inputs(run, {in, in});
  c.log_inputs(run, {in});
  const Run r = c.get_run(run);
  REQUIRE(r.inputs.dataset_inputs.size() == 1);
  CHECK(r.inputs.dataset_inputs[0].dataset.digest == "abc123");
  REQUIRE(r.inputs.dataset_inputs[0].tags.size() == 1);
  CHECK(r.inputs.dataset_inputs[0].tags[0].value == "training");
}

TEST_CASE("local: the async logger writes through log-batch", "[local]") {
  Local l;
  std::string run_id;
  {
    StartRunOptions o;
    o.experiment_name = "async";
    o.run_name = "async-run";
    ActiveRun run = l.client.start_run(o);
    run_id = run.run_id();
    run.log_param("lr", "0.1");
    run.set_tag("phase", "train");
    for (int step = 0; step < 3000; ++step) run.log_metric("loss", 1.0 / (step + 1), step);
    run.log_metric("acc", std::numeric_limits<double>::quiet_NaN(), 0);
    const EndRunResult end = run.end();
    CHECK(end.status_set);
    CHECK(end.flush.ok());
  }
  const Run r = l.client.get_run(run_id);
  CHECK(r.info.status == RunStatus::kFinished);
  CHECK(r.info.end_time.has_value());
  CHECK(r.info.run_name == "async-run");
  CHECK(r.data.param("lr") == std::optional<std::string>("0.1"));
  CHECK(r.data.tag("phase") == std::optional<std::string>("train"));
  CHECK(r.data.tag("mlflow.source.type") == std::optional<std::string>("LOCAL"));
  REQUIRE(r.data.metric("loss"));
  CHECK(r.data.metric("loss")->step == 2999);
  CHECK(std::isnan(r.data.metric("acc")->value));
  CHECK(l.client.get_metric_history(run_id, "loss").size() == 3000);
}

TEST_CASE("local: a changed param in an async batch is isolated by bisection", "[local]") {
  Local l;
  const std::string exp = l.client.create_experiment("async-bisect");
  const std::string run_id = l.client.create_run(exp).info.run_id;
  l.client.log_param(run_id, "lr", "0.1");

  AsyncLogger& logger = l.client.async_logger();
  std::mutex mu;
  std::vector<LogError> errors;
  logger.set_error_callback([&](const LogError& e) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(e);
  });
  // One batch: metrics, params and tags around a param whose value changes (refused by the
  // store, as MLflow's SqlAlchemyStore.log_batch refuses it).
  for (int step = 0; step < 50; ++step) logger.log_metric(run_id, "loss", 1.0 / (step + 1), step);
  logger.log_param(run_id, "batch", "64");
  logger.log_param(run_id, "lr", "0.2");
  logger.log_param(run_id, "optimizer", "adam");
  logger.set_tag(run_id, "phase", "train");
  for (int step = 50; step < 100; ++step) logger.log_metric(run_id, "loss", 1.0 / (step + 1), step);
  const FlushResult flushed = logger.flush();
  CHECK(flushed.complete);
  CHECK(flushed.rejected == 1);
  CHECK(flushed.dropped == 0);

  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(errors.size() == 1);
    const LogError& e = errors[0];
    CHECK(e.kind == LogError::Kind::kRejectedByServer);
    CHECK(e.run_id == run_id);
    CHECK(e.key == "lr");
    CHECK(e.items == 1);
    CHECK(e.error_code == "INVALID_PARAMETER_VALUE");
    CHECK(e.message.find("'lr'") != std::string::npos);
  }
  const Run r = l.client.get_run(run_id);
  CHECK(r.data.param("lr") == std::optional<std::string>("0.1"));
  CHECK(r.data.param("batch") == std::optional<std::string>("64"));
  CHECK(r.data.param("optimizer") == std::optional<std::string>("adam"));
  CHECK(r.data.tag("phase") == std::optional<std::string>("train"));
  CHECK(l.client.get_metric_history(run_id, "loss").size() == 100);
  logger.set_error_callback(nullptr);
}

TEST_CASE("local: an empty mlflow.runName tag counts as absent, duplicate tag keys are refused", "[local]") {
  Local l;
  const std::string exp = l.client.create_experiment("run-name-tag");
  CreateRunOptions o;
  o.tags = {{"mlflow.runName", ""}, {"team", "ml"}};
  const Run generated = l.client.create_run(exp, o);
  CHECK_FALSE(generated.info.run_name.empty());
  CHECK(generated.data.tag("mlflow.runName") == std::optional<std::string>(generated.info.run_name));
  CHECK(generated.data.tag("team") == std::optional<std::string>("ml"));
  CHECK(l.client.get_run(generated.info.run_id).info.run_name == generated.info.run_name);

  o.run_name = "given";
  const Run given = l.client.create_run(exp, o);
  CHECK(given.info.run_name == "given");
  CHECK(given.data.tag("mlflow.runName") == std::optional<std::string>("given"));

  // MLflow's INSERT of the run's tags fails on two tags with one key (BAD_REQUEST).
  CreateRunOptions dup;
  dup.tags = {{"team", "ml"}, {"team", "infra"}};
  std::string message;
  CHECK(error_code_of([&] { l.client.create_run(exp, dup); }, &message) == "BAD_REQUEST");
  CHECK(message.find("'team'") != std::string::npos);
  CHECK(l.client.search_all_runs({exp}).size() == 2);
}

TEST_CASE("local: logged models without a name are named as runs are", "[local]") {
  Local l;
  const std::string exp = l.client.create_experiment("lm-names");
  const std::regex shape("^([a-z]+)-([a-z]+)-([0-9]{1,4})$");
  std::set<std::string> predicates;
  for (int i = 0; i < 50; ++i) {
    const std::string name = l.client.create_logged_model(exp).info.name;
    std::smatch m;
    REQUIRE(std::regex_match(name, m, shape));
    CHECK(name.size() <= 20);
    CHECK(std::stoi(m[3].str()) <= 1000);
    predicates.insert(m[1].str());
  }
  // MLflow's word list (as for run names), not a short one of its own: 50 draws from its
  // ~150 predicates give far more than 16 distinct ones.
  CHECK(predicates.size() > 16);
  const std::string run_name = l.client.create_run(exp).info.run_name;
  CHECK(std::regex_match(run_name, shape));
}

TEST_CASE("local: a percent-escaped sqlite path opens the file SQLAlchemy opens", "[local]") {
  const support::TempDir dir("local-escaped");
  const auto t = mlflowpp::detail::parse_local_target("sqlite:///" + dir.str() + "/a%20b.db");
  CHECK(t.db_path == dir.str() + "/a b.db");
  const auto kept = mlflowpp::detail::parse_local_target("sqlite:///" + dir.str() + "/a%zzb.db");
  CHECK(kept.db_path == dir.str() + "/a%zzb.db");  // not an escape: kept, as SQLAlchemy does
}

TEST_CASE("local: a forked child gets a clear error from the parent's Client, never a hang", "[local]") {
  Local l;
  const std::string exp = l.client.create_experiment("forked");
  const std::string run_id = l.client.create_run(exp).info.run_id;
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(20);  // a hang fails the test instead of blocking it
    int code = 3;
    try {
      l.client.get_run(run_id);
      code = 1;  // used the parent's connection
    } catch (const Error& e) {
      code = std::string(e.what()).find("fork") != std::string::npos ? 0 : 2;
    }
    _exit(code);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(l.client.get_run(run_id).info.run_id == run_id);  // the parent carries on
}
