// MLflow 3 logged models against the real server: create → params → tags → a metric
// with model_id → finalize → search → outputs → register as a model version; paging and
// the server's errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::Client;
using mlflowpp::InvalidArgumentError;
using mlflowpp::LoggedModel;
using mlflowpp::LoggedModelParam;
using mlflowpp::LoggedModelStatus;
using mlflowpp::ServerError;

namespace {

std::map<std::string, std::string> tag_map(const LoggedModel& m) {
  std::map<std::string, std::string> out;
  for (const auto& t : m.info.tags) out[t.key] = t.value;
  return out;
}

std::map<std::string, std::string> param_map(const LoggedModel& m) {
  std::map<std::string, std::string> out;
  for (const auto& p : m.data.params) out[p.key] = p.value;
  return out;
}

std::vector<std::string> ids_of(const std::vector<LoggedModel>& models) {
  std::vector<std::string> ids;
  for (const auto& m : models) ids.push_back(m.info.model_id);
  return ids;
}

template <typename F>
ServerError server_error(F&& f) {
  auto e = itest::thrown<ServerError>(std::forward<F>(f));
  REQUIRE(e.has_value());
  return *e;
}

}  // namespace

TEST_CASE("logged models: create, params, tags, model metric, finalize, search, outputs, register",
          "[integration][logged-models]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-lm"));
  const auto run = client.create_run(exp);
  const std::string run_id = run.info.run_id;
  const int64_t before = testing::now_ms();

  // create: PENDING, with params and tags.
  mlflowpp::CreateLoggedModelOptions co;
  co.name = "digits-mlp";
  co.source_run_id = run_id;
  co.tags = {{"framework", "libtorch"}, {"note", "grün ✓"}};
  co.params = {{"alpha", "0.1"}, {"layers", "2"}};
  co.model_type = "torchscript";
  co.system_tags = false;  // the tags below exactly (test_provenance.cpp has the system ones)
  LoggedModel m = client.create_logged_model(exp, co);
  const std::string id = m.info.model_id;
  CHECK(id.rfind("m-", 0) == 0);
  CHECK(id.size() == 34);
  CHECK(m.info.experiment_id == exp);
  CHECK(m.info.name == "digits-mlp");
  CHECK(m.info.model_type == "torchscript");
  CHECK(m.info.source_run_id == run_id);
  CHECK(m.info.status == LoggedModelStatus::kPending);
  CHECK(m.info.creation_timestamp_ms >= before - 5000);
  CHECK(m.info.creation_timestamp_ms <= testing::now_ms() + 5000);
  CHECK(itest::contains(m.info.artifact_uri, "/models/" + id + "/artifacts"));
  CHECK(param_map(m) == std::map<std::string, std::string>{{"alpha", "0.1"}, {"layers", "2"}});
  CHECK(tag_map(m) == std::map<std::string, std::string>{{"framework", "libtorch"}, {"note", "grün ✓"}});

  // log_model_params: 150 more, sent as 100 + 50.
  std::vector<LoggedModelParam> more;
  for (int i = 0; i < 150; ++i) more.push_back({"p" + std::to_string(i), std::to_string(i * i)});
  client.log_model_params(id, more);
  // Params are write-once, even with the same value.
  auto again = server_error([&] { client.log_model_params(id, {{"alpha", "0.1"}}); });
  CHECK(again.http_status() == 400);

  // tags: set (overwrite and new, including a key with a space and a colon), delete.
  client.set_logged_model_tags(id, {{"framework", "libtorch-2"}, {"a b:c", "x"}, {"stage", "candidate"}});
  client.delete_logged_model_tag(id, "note");
  client.delete_logged_model_tag(id, "a b:c");
  auto absent = server_error([&] { client.delete_logged_model_tag(id, "never-set"); });
  CHECK(absent.http_status() == 404);
  CHECK(absent.is_not_found());

  // A metric logged to the run with model_id is attached to the model.
  mlflowpp::Metric acc = itest::metric("accuracy", 0.875, before, 7);
  acc.model_id = id;
  mlflowpp::Metric plain = itest::metric("loss", 0.25, before, 7);  // no model_id: run only
  client.log_batch(run_id, {acc, plain});

  LoggedModel got = client.get_logged_model(id);
  CHECK(got.info.status == LoggedModelStatus::kPending);
  auto params = param_map(got);
  CHECK(params.size() == 152);
  CHECK(params.at("alpha") == "0.1");
  CHECK(params.at("p0") == "0");
  CHECK(params.at("p99") == "9801");
  CHECK(params.at("p149") == "22201");
  CHECK(tag_map(got) ==
        std::map<std::string, std::string>{{"framework", "libtorch-2"}, {"stage", "candidate"}});
  REQUIRE(got.data.metrics.size() == 1);
  const mlflowpp::Metric& linked = got.data.metrics[0];
  CHECK(linked.key == "accuracy");
  CHECK(linked.value == 0.875);
  CHECK(linked.step == 7);
  CHECK(linked.timestamp == before);
  CHECK(linked.model_id == id);
  CHECK(linked.run_id == run_id);
  // ... and the run has both metrics.
  auto run_data = client.get_run(run_id).data;
  CHECK(run_data.metric("accuracy").has_value());
  CHECK(run_data.metric("loss").has_value());

  // finalize READY
  LoggedModel ready = client.finalize_logged_model(id, LoggedModelStatus::kReady);
  CHECK(ready.info.status == LoggedModelStatus::kReady);
  CHECK(client.get_logged_model(id).info.status == LoggedModelStatus::kReady);
  CHECK(ready.info.last_updated_timestamp_ms >= m.info.last_updated_timestamp_ms);

  // A second model in the experiment, left PENDING, that the filters must exclude.
  mlflowpp::CreateLoggedModelOptions oo;
  oo.name = "other";
  oo.source_run_id = run_id;
  oo.params = {{"alpha", "0.5"}};
  LoggedModel other = client.create_logged_model(exp, oo);

  // search by filter
  mlflowpp::SearchLoggedModelsOptions so;
  so.filter_string = "params.alpha = '0.1' AND metrics.accuracy > 0.5";
  auto found = client.search_logged_models({exp}, so);
  CHECK(ids_of(found.items) == std::vector<std::string>{id});
  CHECK(found.next_page_token.empty());
  REQUIRE(found.items.size() == 1);
  CHECK(found.items[0].data.metrics.size() == 1);
  so.filter_string = "name = 'other'";
  CHECK(ids_of(client.search_logged_models({exp}, so).items) ==
        std::vector<std::string>{other.info.model_id});
  so.filter_string = "tags.stage = 'candidate'";
  CHECK(ids_of(client.search_logged_models({exp}, so).items) == std::vector<std::string>{id});
  so.filter_string.clear();
  so.order_by = {{"name", true, "", ""}};
  CHECK(ids_of(client.search_all_logged_models({exp}, so)) ==
        std::vector<std::string>{id, other.info.model_id});
  so.order_by = {{"name", false, "", ""}};
  CHECK(ids_of(client.search_all_logged_models({exp}, so)) ==
        std::vector<std::string>{other.info.model_id, id});

  // outputs: the run records that it produced the model at a step.
  client.log_outputs(run_id, {{id, 7}});
  auto outputs = client.get_run(run_id).outputs.model_outputs;
  REQUIRE(outputs.size() == 1);
  CHECK(outputs[0].model_id == id);
  CHECK(outputs[0].step == 7);

  // register a version from the logged model.
  const std::string rm = testing::unique_name("itest-lm-rm");
  client.create_registered_model(rm);
  mlflowpp::CreateModelVersionOptions from_model;
  from_model.model_id = id;
  mlflowpp::ModelVersion v = client.create_model_version(rm, "models:/" + id, from_model);
  CHECK(v.version == "1");
  CHECK(v.source == "models:/" + id);
  CHECK(v.run_id == run_id);  // the server takes the logged model's source run
  // MLflow 3.18's OSS registry does not store model_id on versions (it is not in its
  // answers); when a registry does send it, it must be the logged model's.
  CHECK((v.model_id.empty() || v.model_id == id));
  // Where the version's files are: the logged model's artifact location.
  CHECK(client.get_model_version_download_uri(rm, "1") == got.info.artifact_uri);
  // The server links the version to the logged model through the mlflow.modelVersions tag.
  auto link = client.get_logged_model(id).info.tag("mlflow.modelVersions");
  REQUIRE(link.has_value());
  const bool linked_to_rm =
      itest::contains(*link, "\"name\": \"" + rm + "\"") || itest::contains(*link, "\"name\":\"" + rm + "\"");
  CHECK(linked_to_rm);

  // register_model("models:/<id>") does the same and creates the registered model itself.
  const std::string rm2 = testing::unique_name("itest-lm-register");
  mlflowpp::ModelVersion r = client.register_model("models:/" + id, rm2);
  CHECK(r.name == rm2);
  CHECK(r.version == "1");
  CHECK(r.source == "models:/" + id);
  CHECK(r.run_id == run_id);
  CHECK(client.get_model_version_download_uri(rm2, "1") == got.info.artifact_uri);
  CHECK(itest::contains(*client.get_logged_model(id).info.tag("mlflow.modelVersions"), rm2));

  // register_model("runs:/<run>/<name>") finds the run's logged model of that name (no
  // MLmodel file in the run's artifacts), as mlflow.register_model does in MLflow 3.
  mlflowpp::ModelVersion by_run = client.register_model("runs:/" + run_id + "/digits-mlp", rm2);
  CHECK(by_run.version == "2");
  CHECK(by_run.source == "models:/" + id);
  CHECK(by_run.run_id == run_id);

  // A source that claims a logged model without naming it is refused by the server (its
  // request handler checks; the SQL store under the Python client, and the local one, do not).
  if (!testing::local_backend()) {
    auto no_id = server_error([&] { client.create_model_version(rm, "models:/" + id); });
    CHECK(no_id.http_status() == 400);
  } else {
    // The local store accepts it, as MLflow's SQL store does: the source stays as given,
    // the storage location (the download URI) and the run id come from the logged model.
    mlflowpp::ModelVersion no_id = client.create_model_version(rm, "models:/" + id);
    CHECK(no_id.source == "models:/" + id);
    CHECK(no_id.run_id == run_id);
    const mlflowpp::ModelVersion stored = client.get_model_version(rm, no_id.version);
    CHECK(stored.source == "models:/" + id);
    CHECK(stored.run_id == run_id);
    CHECK(client.get_model_version_download_uri(rm, no_id.version) == got.info.artifact_uri);
  }

  client.delete_registered_model(rm);
  client.delete_registered_model(rm2);
}

TEST_CASE("logged models: errors, finalize UPLOAD_FAILED, delete, many params at creation",
          "[integration][logged-models]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-lm-err"));

  // Missing model, missing experiment.
  auto nf = server_error([&] { client.get_logged_model("m-00000000000000000000000000000000"); });
  CHECK(nf.http_status() == 404);
  CHECK(nf.is_not_found());
  CHECK(server_error([&] { client.create_logged_model("987654321"); }).is_not_found());
  // Invalid names are refused up front (the server refuses them too).
  mlflowpp::CreateLoggedModelOptions dotted;
  dotted.name = "v1.2";
  CHECK(itest::thrown<InvalidArgumentError>([&] { client.create_logged_model(exp, dotted); }).has_value());

  // No name: the server picks one.
  LoggedModel unnamed = client.create_logged_model(exp);
  CHECK_FALSE(unnamed.info.name.empty());
  CHECK(unnamed.data.params.empty());

  // More than 100 params at creation: the rest go through log_model_params.
  std::vector<LoggedModelParam> params;
  for (int i = 0; i < 230; ++i) params.push_back({"k" + std::to_string(i), "v" + std::to_string(i)});
  mlflowpp::CreateLoggedModelOptions bo;
  bo.name = "big";
  bo.params = params;
  LoggedModel big = client.create_logged_model(exp, bo);
  CHECK(big.data.params.size() == 230);
  auto stored = client.get_logged_model(big.info.model_id).data.params;
  CHECK(stored.size() == 230);
  std::map<std::string, std::string> by_key;
  for (const auto& p : stored) by_key[p.key] = p.value;
  for (const auto& p : params) CHECK(by_key[p.key] == p.value);

  // finalize UPLOAD_FAILED
  CHECK(client.finalize_logged_model(unnamed.info.model_id, LoggedModelStatus::kUploadFailed).info.status ==
        LoggedModelStatus::kUploadFailed);
  CHECK(client.get_logged_model(unnamed.info.model_id).info.status == LoggedModelStatus::kUploadFailed);
  // finalize of a missing model
  CHECK(server_error([&] {
          client.finalize_logged_model("m-00000000000000000000000000000000", LoggedModelStatus::kReady);
        }).is_not_found());

  // delete: gone for get, visible with allow_deleted, deleting twice is fine.
  client.delete_logged_model(unnamed.info.model_id);
  CHECK(server_error([&] { client.get_logged_model(unnamed.info.model_id); }).is_not_found());
  auto deleted = client.get_logged_model(unnamed.info.model_id, true);
  CHECK(deleted.info.model_id == unnamed.info.model_id);
  client.delete_logged_model(unnamed.info.model_id);
  mlflowpp::SearchLoggedModelsOptions all;
  CHECK(ids_of(client.search_all_logged_models({exp}, all)) == std::vector<std::string>{big.info.model_id});

  // A bad filter is the server's INVALID_PARAMETER_VALUE.
  mlflowpp::SearchLoggedModelsOptions bad;
  bad.filter_string = "this is not a filter ^^";
  auto e = server_error([&] { client.search_logged_models({exp}, bad); });
  CHECK(e.http_status() == 400);
  CHECK(e.error_code() == "INVALID_PARAMETER_VALUE");
}

TEST_CASE("logged models: search paging with max_results 2 over 5 models", "[integration][logged-models]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-lm-page"));
  std::vector<std::string> ids;
  for (const char* n : {"c", "a", "e", "b", "d"}) {
    mlflowpp::CreateLoggedModelOptions named;
    named.name = n;
    ids.push_back(client.create_logged_model(exp, named).info.model_id);
  }
  const std::vector<std::string> by_name = {ids[1], ids[3], ids[0], ids[4], ids[2]};  // a b c d e

  mlflowpp::SearchLoggedModelsOptions o;
  o.max_results = 2;
  o.order_by = {{"name", true, "", ""}};
  auto p1 = client.search_logged_models({exp}, o);
  CHECK(ids_of(p1.items) == std::vector<std::string>{by_name[0], by_name[1]});
  REQUIRE_FALSE(p1.next_page_token.empty());
  o.page_token = p1.next_page_token;
  auto p2 = client.search_logged_models({exp}, o);
  CHECK(ids_of(p2.items) == std::vector<std::string>{by_name[2], by_name[3]});
  REQUIRE_FALSE(p2.next_page_token.empty());
  o.page_token = p2.next_page_token;
  auto p3 = client.search_logged_models({exp}, o);
  CHECK(ids_of(p3.items) == std::vector<std::string>{by_name[4]});
  CHECK(p3.next_page_token.empty());
  o.page_token.clear();
  CHECK(ids_of(client.search_all_logged_models({exp}, o)) == by_name);
}
