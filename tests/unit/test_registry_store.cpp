// The REST registry store (detail/store/rest_registry_store.cpp) over a fake transport, below
// the Client: for every RegistryStore call, the request it sends (method, URL with query,
// JSON body) and the value it reads from the answer; an MLflow error answer becomes a
// ServerError with its status and code; an answer without the expected object is a
// ParseError. The store does no validation (the Client does): these calls go straight out.
// No sockets.
#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "detail/rest/rest.hpp"
#include "detail/store/registry_store.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/registry.hpp"
#include "unit/fake_transport.hpp"

using mlflowpp::LoggedModelParam;
using mlflowpp::LoggedModelStatus;
using mlflowpp::ModelVersionStatus;
using mlflowpp::ParseError;
using mlflowpp::ServerError;
using testing::HttpRequest;
using testing::HttpResponse;

namespace {

const std::string kApi = "http://mlflow.test:5000/prefix/api/2.0/mlflow";

// A RestRegistryStore over a FakeTransport that plays queued answers ("{}" once they run
// out) and records every request.
struct StoreRig {
  std::shared_ptr<testing::FakeTransport> transport = std::make_shared<testing::FakeTransport>();
  std::shared_ptr<mlflowpp::detail::RegistryStore> store;
  std::deque<HttpResponse> answers;
  std::size_t seen = 0;  // requests already checked by sent()

  StoreRig() {
    transport->set_handler([this](const HttpRequest&) {
      if (answers.empty()) return testing::ok("{}");
      HttpResponse r = answers.front();
      answers.pop_front();
      return r;
    });
    auto rest = std::make_shared<mlflowpp::detail::RestClient>(testing::fake_options(), transport);
    store = mlflowpp::detail::make_rest_registry_store(rest);
  }

  /// The next call is answered with `body` (HTTP 200).
  StoreRig& answer(std::string body) {
    answers.push_back(testing::ok(std::move(body)));
    return *this;
  }

  /// The requests sent since the last sent() call.
  std::vector<HttpRequest> sent() {
    auto all = transport->requests();
    std::vector<HttpRequest> out(all.begin() + static_cast<std::ptrdiff_t>(seen), all.end());
    seen = all.size();
    return out;
  }

  /// Checks that exactly one request was sent since the last check: `method`, the URL
  /// `kApi + path_and_query`, and `body` (ignored for GET, which has none).
  void one(const std::string& method, const std::string& path_and_query, const std::string& body = "") {
    const auto reqs = sent();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == method);
    CHECK(reqs[0].url == kApi + path_and_query);
    if (method != "GET") CHECK(reqs[0].body == body);
  }
};

std::string mv_json(const std::string& name, const std::string& version, const std::string& extra = "") {
  return R"({"model_version":{"name":")" + name + R"(","version":")" + version + R"(","status":"READY")" +
         extra + "}}";
}

}  // namespace

TEST_CASE("registry store: registered model calls", "[registry][unit][store]") {
  StoreRig rig;
  auto& s = *rig.store;
  const std::string rm =
      R"({"registered_model":{"name":"digits","description":"d","creation_timestamp":"1700000000000",)"
      R"("tags":[{"key":"team","value":"ml"}],"aliases":[{"alias":"champion","version":"2"}],)"
      R"("latest_versions":[{"name":"digits","version":"2","current_stage":"None"}]}})";

  rig.answer(rm);
  auto m = s.create_registered_model("digits", {{"team", "ml"}}, "d");
  rig.one("POST", "/registered-models/create",
          R"({"name":"digits","tags":[{"key":"team","value":"ml"}],"description":"d"})");
  CHECK(m.name == "digits");
  CHECK(m.description == "d");
  CHECK(m.creation_timestamp == 1700000000000);
  CHECK(m.tag("team") == std::optional<std::string>("ml"));
  CHECK(m.alias_version("champion") == std::optional<std::string>("2"));
  REQUIRE(m.latest_versions.size() == 1);
  CHECK(m.latest_versions[0].version == "2");

  rig.answer(rm);
  s.create_registered_model("bare", {}, "");  // no tags, no description: neither is sent
  rig.one("POST", "/registered-models/create", R"({"name":"bare"})");

  rig.answer(rm);
  CHECK(s.get_registered_model("digits w/ space").name == "digits");
  rig.one("GET", "/registered-models/get?name=digits%20w%2F%20space");

  rig.answer(R"({"registered_model":{"name":"digits2"}})");
  CHECK(s.rename_registered_model("digits", "digits2").name == "digits2");
  rig.one("POST", "/registered-models/rename", R"({"name":"digits","new_name":"digits2"})");

  rig.answer(R"({"registered_model":{"name":"digits","description":""}})");
  CHECK(s.update_registered_model("digits", "").description.empty());
  rig.one("PATCH", "/registered-models/update", R"({"name":"digits","description":""})");

  s.delete_registered_model("digits");
  rig.one("DELETE", "/registered-models/delete", R"({"name":"digits"})");

  s.set_registered_model_tag("digits", "team", "ml");
  rig.one("POST", "/registered-models/set-tag", R"({"name":"digits","key":"team","value":"ml"})");

  s.delete_registered_model_tag("digits", "team");
  rig.one("DELETE", "/registered-models/delete-tag", R"({"name":"digits","key":"team"})");

  s.set_registered_model_alias("digits", "champion", "2");
  rig.one("POST", "/registered-models/alias", R"({"name":"digits","alias":"champion","version":"2"})");

  s.delete_registered_model_alias("digits", "champion");
  rig.one("DELETE", "/registered-models/alias", R"({"name":"digits","alias":"champion"})");

  rig.answer(mv_json("digits", "2", R"(,"aliases":["champion"])"));
  auto by_alias = s.get_model_version_by_alias("digits", "champion");
  rig.one("GET", "/registered-models/alias?name=digits&alias=champion");
  CHECK(by_alias.version == "2");
  CHECK(by_alias.has_alias("champion"));

  rig.answer(R"({"model_versions":[{"name":"digits","version":"2"},{"name":"digits","version":"1"}]})");
  auto latest = s.get_latest_versions("digits", {"Production", "None"});
  rig.one("POST", "/registered-models/get-latest-versions",
          R"({"name":"digits","stages":["Production","None"]})");
  REQUIRE(latest.size() == 2);
  CHECK(latest[1].version == "1");

  rig.answer(R"({"model_versions":[]})");
  CHECK(s.get_latest_versions("digits", {}).empty());
  rig.one("POST", "/registered-models/get-latest-versions", R"({"name":"digits"})");

  mlflowpp::SearchRegisteredModelsOptions so;
  so.filter_string = "name LIKE 'a%'";
  so.max_results = 2;
  so.order_by = {"name ASC", "creation_timestamp DESC"};
  so.page_token = "t1";
  rig.answer(R"({"registered_models":[{"name":"a"},{"name":"ab"}],"next_page_token":"t2"})");
  auto page = s.search_registered_models(so);
  rig.one("GET",
          "/registered-models/search?max_results=2&filter=name%20LIKE%20%27a%25%27&order_by=name%20ASC&"
          "order_by=creation_timestamp%20DESC&page_token=t1");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[1].name == "ab");
  CHECK(page.next_page_token == "t2");

  rig.answer(R"({})");
  auto empty = s.search_registered_models({});
  rig.one("GET", "/registered-models/search?max_results=100");
  CHECK(empty.items.empty());
  CHECK(empty.next_page_token.empty());
}

TEST_CASE("registry store: model version calls", "[registry][unit][store]") {
  StoreRig rig;
  auto& s = *rig.store;

  mlflowpp::CreateModelVersionOptions o;
  o.run_id = "abc";
  o.tags = {{"k", "v"}};
  o.run_link = "http://l";
  o.description = "desc";
  o.model_id = "m-1";
  rig.answer(mv_json("digits", "3", R"(,"source":"runs:/abc/model","run_id":"abc","description":"desc")"));
  auto mv = s.create_model_version("digits", "runs:/abc/model", o);
  rig.one("POST", "/model-versions/create",
          R"({"name":"digits","source":"runs:/abc/model","run_id":"abc","tags":[{"key":"k","value":"v"}],)"
          R"("run_link":"http://l","description":"desc","model_id":"m-1"})");
  CHECK(mv.version == "3");
  CHECK(mv.status == ModelVersionStatus::kReady);
  CHECK(mv.source == "runs:/abc/model");
  CHECK(mv.run_id == "abc");

  rig.answer(mv_json("digits", "4"));
  s.create_model_version("digits", "s3://b/p", {});  // only what is given is sent
  rig.one("POST", "/model-versions/create", R"({"name":"digits","source":"s3://b/p"})");

  rig.answer(R"({"model_version":{"name":"digits","version":"3","status":"PENDING_REGISTRATION"}})");
  CHECK(s.get_model_version("digits", "3").status == ModelVersionStatus::kPendingRegistration);
  rig.one("GET", "/model-versions/get?name=digits&version=3");

  rig.answer(mv_json("digits", "3", R"(,"description":"x")"));
  CHECK(s.update_model_version("digits", "3", "x").description == "x");
  rig.one("PATCH", "/model-versions/update", R"({"name":"digits","version":"3","description":"x"})");

  s.delete_model_version("digits", "3");
  rig.one("DELETE", "/model-versions/delete", R"({"name":"digits","version":"3"})");

  s.set_model_version_tag("digits", "3", "k", "v");
  rig.one("POST", "/model-versions/set-tag", R"({"name":"digits","version":"3","key":"k","value":"v"})");

  s.delete_model_version_tag("digits", "3", "k");
  rig.one("DELETE", "/model-versions/delete-tag", R"({"name":"digits","version":"3","key":"k"})");

  rig.answer(mv_json("digits", "3", R"(,"current_stage":"Staging")"));
  CHECK(s.transition_model_version_stage("digits", "3", "Staging", true).current_stage == "Staging");
  rig.one("POST", "/model-versions/transition-stage",
          R"({"name":"digits","version":"3","stage":"Staging","archive_existing_versions":true})");

  rig.answer(mv_json("digits", "3", R"(,"current_stage":"None")"));
  s.transition_model_version_stage("digits", "3", "None", false);
  rig.one("POST", "/model-versions/transition-stage",
          R"({"name":"digits","version":"3","stage":"None","archive_existing_versions":false})");

  rig.answer(R"({"artifact_uri":"s3://b/p"})");
  CHECK(s.get_model_version_download_uri("digits", "3") == "s3://b/p");
  rig.one("GET", "/model-versions/get-download-uri?name=digits&version=3");

  mlflowpp::SearchModelVersionsOptions so;
  so.filter_string = "name = 'a'";
  so.order_by = {"version_number DESC"};
  rig.answer(R"({"model_versions":[{"name":"a","version":"2"}],"next_page_token":"x=y"})");
  auto page = s.search_model_versions(so);
  rig.one(
      "GET",
      "/model-versions/search?max_results=10000&filter=name%20%3D%20%27a%27&order_by=version_number%20DESC");
  REQUIRE(page.items.size() == 1);
  CHECK(page.items[0].name == "a");
  CHECK(page.next_page_token == "x=y");

  rig.answer(R"({"files":[{"path":"model/MLmodel","is_dir":false},{"path":"model/w.pt"}]})");
  CHECK(s.list_run_artifact_paths("r1", "model") == std::vector<std::string>{"model/MLmodel", "model/w.pt"});
  rig.one("GET", "/artifacts/list?run_id=r1&path=model");
}

TEST_CASE("registry store: logged model calls, params in requests of 100", "[logged-models][unit][store]") {
  StoreRig rig;
  auto& s = *rig.store;
  const std::string pending =
      R"({"model":{"info":{"model_id":"m-1","experiment_id":"3","name":"net","status":"LOGGED_MODEL_PENDING",)"
      R"("artifact_uri":"mlflow-artifacts:/3/models/m-1/artifacts","tags":[{"key":"t","value":"1"}]},)"
      R"("data":{"params":[{"key":"p0","value":"0"}]}}})";

  // Up to 100 params: one request.
  mlflowpp::CreateLoggedModelOptions co;
  co.name = "net";
  co.source_run_id = "r1";
  co.tags = {{"t", "1"}};
  co.params = {{"p0", "0"}};
  co.model_type = "torchscript";
  rig.answer(pending);
  auto m = s.create_logged_model("3", co);
  rig.one("POST", "/logged-models",
          R"({"experiment_id":"3","name":"net","model_type":"torchscript","source_run_id":"r1",)"
          R"("params":[{"key":"p0","value":"0"}],"tags":[{"key":"t","value":"1"}]})");
  CHECK(m.info.model_id == "m-1");
  CHECK(m.info.status == LoggedModelStatus::kPending);
  CHECK(m.info.artifact_uri == "mlflow-artifacts:/3/models/m-1/artifacts");
  CHECK(m.info.tag("t") == std::optional<std::string>("1"));
  CHECK(m.data.param("p0") == std::optional<std::string>("0"));

  rig.answer(pending);
  s.create_logged_model("3", {});
  rig.one("POST", "/logged-models", R"({"experiment_id":"3"})");

  // 250 params: 100 with the creation, 100 + 50 through /params, then the model is read again.
  co.params.clear();
  for (int i = 0; i < 250; ++i) co.params.push_back({"p" + std::to_string(i), std::to_string(i)});
  rig.answer(pending).answer("{}").answer("{}").answer(
      R"({"model":{"info":{"model_id":"m-1"},"data":{"params":[{"key":"p249","value":"249"}]}}})");
  auto big = s.create_logged_model("3", co);
  CHECK(big.data.param("p249") == std::optional<std::string>("249"));  // the model as read again
  {
    const auto reqs = rig.sent();
    REQUIRE(reqs.size() == 4);
    CHECK(reqs[0].url == kApi + "/logged-models");
    CHECK(reqs[0].body.find(R"({"key":"p99","value":"99"}],"tags":)") != std::string::npos);
    CHECK(reqs[0].body.find("\"p100\"") == std::string::npos);
    CHECK(reqs[1].method == "POST");
    CHECK(reqs[1].url == kApi + "/logged-models/m-1/params");
    CHECK(reqs[1].body.find(R"({"model_id":"m-1","params":[{"key":"p100","value":"100"},)") == 0);
    CHECK(reqs[1].body.find(R"({"key":"p199","value":"199"}]})") != std::string::npos);
    CHECK(reqs[2].body.find(R"({"model_id":"m-1","params":[{"key":"p200","value":"200"},)") == 0);
    CHECK(reqs[2].body.find(R"({"key":"p249","value":"249"}]})") != std::string::npos);
    CHECK(reqs[3].method == "GET");
    CHECK(reqs[3].url == kApi + "/logged-models/m-1");
  }

  // log_model_params: exactly 100 is one request; none is no request.
  std::vector<LoggedModelParam> hundred;
  for (int i = 0; i < 100; ++i) hundred.push_back({"q" + std::to_string(i), "v"});
  s.log_model_params("m 1", hundred);
  {
    const auto reqs = rig.sent();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].url == kApi + "/logged-models/m%201/params");
    CHECK(reqs[0].body.find(R"({"model_id":"m 1","params":[{"key":"q0","value":"v"},)") == 0);
  }
  s.log_model_params("m-1", {});
  CHECK(rig.sent().empty());

  rig.answer(R"({"model":{"info":{"model_id":"m-1","status":"LOGGED_MODEL_READY"}}})");
  CHECK(s.finalize_logged_model("m-1", LoggedModelStatus::kReady).info.status == LoggedModelStatus::kReady);
  rig.one("PATCH", "/logged-models/m-1", R"({"model_id":"m-1","status":"LOGGED_MODEL_READY"})");

  rig.answer(R"({"model":{"info":{"model_id":"m-1","status":"LOGGED_MODEL_UPLOAD_FAILED"}}})");
  CHECK(s.finalize_logged_model("m-1", LoggedModelStatus::kUploadFailed).info.status ==
        LoggedModelStatus::kUploadFailed);
  rig.one("PATCH", "/logged-models/m-1", R"({"model_id":"m-1","status":"LOGGED_MODEL_UPLOAD_FAILED"})");

  rig.answer(pending);
  CHECK(s.get_logged_model("m-1", false).info.name == "net");
  rig.one("GET", "/logged-models/m-1");
  rig.answer(pending);
  s.get_logged_model("m-1", true);
  rig.one("GET", "/logged-models/m-1?allow_deleted=true");

  s.delete_logged_model("m-1");
  rig.one("DELETE", "/logged-models/m-1", R"({"model_id":"m-1"})");

  s.set_logged_model_tags("m-1", {{"a b:c", "x"}, {"t", "2"}});
  rig.one("PATCH", "/logged-models/m-1/tags",
          R"({"tags":[{"key":"a b:c","value":"x"},{"key":"t","value":"2"}]})");

  s.delete_logged_model_tag("m-1", "a b:c");
  rig.one("DELETE", "/logged-models/m-1/tags/a%20b%3Ac", "{}");

  mlflowpp::SearchLoggedModelsOptions so;
  so.filter_string = "params.alpha < 0.3";
  so.datasets = {{"train", ""}, {"eval", "abc"}};
  so.max_results = 7;
  so.order_by = {{"metrics.acc", false, "eval", ""}, {"creation_timestamp", true, "", ""}};
  so.page_token = "tok";
  rig.answer(R"({"models":[{"info":{"model_id":"m-1"}},{"info":{"model_id":"m-2"}}],"next_page_token":"n"})");
  auto page = s.search_logged_models({"3", "4"}, so);
  rig.one(
      "POST", "/logged-models/search",
      R"({"experiment_ids":["3","4"],"filter":"params.alpha < 0.3","datasets":[{"dataset_name":"train"},)"
      R"({"dataset_name":"eval","dataset_digest":"abc"}],"max_results":7,"order_by":[{"field_name":"metrics.acc",)"
      R"("ascending":false,"dataset_name":"eval"},{"field_name":"creation_timestamp","ascending":true}],)"
      R"("page_token":"tok"})");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[1].info.model_id == "m-2");
  CHECK(page.next_page_token == "n");

  rig.answer(R"({"models":[]})");
  CHECK(s.search_logged_models({"3"}, {}).items.empty());
  rig.one("POST", "/logged-models/search", R"({"experiment_ids":["3"],"max_results":50})");

  s.log_outputs("r1", {{"m-1", 5}, {"m-2", 0}});
  rig.one("POST", "/runs/outputs",
          R"({"run_id":"r1","models":[{"model_id":"m-1","step":5},{"model_id":"m-2","step":0}]})");
}

TEST_CASE("registry store: an MLflow error answer is a ServerError with its status and code",
          "[registry][logged-models][unit][store]") {
  StoreRig rig;
  auto& s = *rig.store;
  auto server_error = [&](const std::function<void()>& call) -> ServerError {
    try {
      call();
    } catch (const ServerError& e) {
      return e;
    }
    FAIL("no ServerError");
    throw std::logic_error("unreachable");
  };

  rig.answers.push_back(testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "Registered Model not found"));
  auto nf = server_error([&] { s.get_registered_model("m"); });
  CHECK(nf.http_status() == 404);
  CHECK(nf.error_code() == "RESOURCE_DOES_NOT_EXIST");
  CHECK(nf.is_not_found());
  CHECK(std::string(nf.what()).find("Registered Model not found") != std::string::npos);

  rig.answers.push_back(testing::mlflow_error(400, "RESOURCE_ALREADY_EXISTS", "exists"));
  auto dup = server_error([&] { s.create_registered_model("m", {}, ""); });
  CHECK(dup.http_status() == 400);
  CHECK(dup.is_already_exists());
  CHECK(std::string(dup.what()).find("/mlflow/registered-models/create") != std::string::npos);

  // A call whose answer is empty ("{}") reports the error just the same.
  rig.answers.push_back(testing::mlflow_error(400, "INVALID_PARAMETER_VALUE", "bad alias"));
  auto bad = server_error([&] { s.set_registered_model_alias("m", "a", "1"); });
  CHECK(bad.error_code() == "INVALID_PARAMETER_VALUE");

  rig.answers.push_back(testing::mlflow_error(400, "BAD_REQUEST", "param already logged"));
  CHECK(server_error([&] { s.log_model_params("m-1", {{"a", "1"}}); }).error_code() == "BAD_REQUEST");

  // The creation fails: nothing more is sent (no /params, no read-back).
  std::vector<LoggedModelParam> many;
  for (int i = 0; i < 150; ++i) many.push_back({"p" + std::to_string(i), "v"});
  mlflowpp::CreateLoggedModelOptions co;
  co.params = many;
  rig.answers.push_back(testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "no experiment"));
  rig.sent();
  CHECK(server_error([&] { s.create_logged_model("987", co); }).is_not_found());
  CHECK(rig.sent().size() == 1);

  // A 2xx answer without the object the call is about is a ParseError.
  rig.answer("{}");
  CHECK_THROWS_AS(s.get_model_version("m", "1"), ParseError);
  rig.answer(R"({"model":{"info":{"model_id":"m-1"}}})");
  CHECK_THROWS_AS(s.get_registered_model("m"), ParseError);
}
