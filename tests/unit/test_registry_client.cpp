// The model registry and logged-model calls of Client over a fake transport: the exact
// requests (method, URL, query, JSON body), client-side validation (nothing sent),
// paging, register_model's URI resolution, and wait_for_model_version_ready's READY,
// FAILED_REGISTRATION and timeout paths. No sockets.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/client_access.hpp"
#include "unit/fake_transport.hpp"

using mlflowpp::Client;
using mlflowpp::InvalidArgumentError;
using mlflowpp::LoggedModelParam;
using mlflowpp::LoggedModelStatus;
using mlflowpp::LoggedModelTag;
using mlflowpp::ModelVersionNotReadyError;
using mlflowpp::ModelVersionStatus;
using mlflowpp::ServerError;
using testing::HttpRequest;
using testing::HttpResponse;

namespace {

const std::string kApi = "http://mlflow.test:5000/prefix/api/2.0/mlflow";

// Answers by "METHOD /path" (path after /api/2.0/mlflow, query removed); records requests.
struct Rig {
  std::map<std::string, std::function<HttpResponse(const HttpRequest&)>> routes;
  std::shared_ptr<testing::FakeTransport> transport;
  Client client;

  Rig()
      : transport(std::make_shared<testing::FakeTransport>()),
        client(mlflowpp::detail::ClientAccess::make(testing::fake_options(), transport)) {
    transport->set_handler([this](const HttpRequest& r) {
      std::string path = r.url.substr(kApi.size());
      path = path.substr(0, path.find('?'));
      auto it = routes.find(r.method + " " + path);
      if (it == routes.end()) return testing::mlflow_error(404, "ENDPOINT_NOT_FOUND", "no route " + path);
      return it->second(r);
    });
  }
  void on(const std::string& route, std::string body) {
    routes[route] = [body](const HttpRequest&) { return testing::ok(body); };
  }
  std::vector<HttpRequest> requests() const { return transport->requests(); }
};

std::string query_of(const HttpRequest& r) {
  auto q = r.url.find('?');
  return q == std::string::npos ? std::string() : r.url.substr(q + 1);
}

bool has_header(const HttpRequest& r, const std::string& h) {
  for (const auto& x : r.headers)
    if (x == h) return true;
  return false;
}

std::string mv_json(const std::string& name, const std::string& version, const std::string& status,
                    const std::string& extra = "") {
  return R"({"model_version":{"name":")" + name + R"(","version":")" + version + R"(","status":")" + status +
         "\"" + extra + "}}";
}

}  // namespace

TEST_CASE("registry client: registered model calls send the documented requests", "[registry][unit]") {
  Rig rig;
  const std::string rm = R"({"registered_model":{"name":"digits","description":"d"}})";
  rig.on("POST /registered-models/create", rm);
  rig.on("GET /registered-models/get", rm);
  rig.on("POST /registered-models/rename", R"({"registered_model":{"name":"digits2"}})");
  rig.on("PATCH /registered-models/update", rm);
  rig.on("DELETE /registered-models/delete", "{}");
  rig.on("POST /registered-models/set-tag", "{}");
  rig.on("DELETE /registered-models/delete-tag", "{}");
  rig.on("POST /registered-models/alias", "{}");
  rig.on("DELETE /registered-models/alias", "{}");
  rig.on("GET /registered-models/alias", mv_json("digits", "2", "READY", R"(,"aliases":["champion"])"));
  rig.on("POST /registered-models/get-latest-versions",
         R"({"model_versions":[{"name":"digits","version":"2"}]})");

  auto& c = rig.client;
  CHECK(c.create_registered_model("digits", {{"team", "ml"}}, "d").name == "digits");
  CHECK(c.get_registered_model("digits w/ space").description == "d");
  CHECK(c.rename_registered_model("digits", "digits2").name == "digits2");
  c.update_registered_model("digits", "");
  c.delete_registered_model("digits");
  c.set_registered_model_tag("digits", "team", "ml");
  c.delete_registered_model_tag("digits", "team");
  c.set_registered_model_alias("digits", "champion", "2");
  c.delete_registered_model_alias("digits", "champion");
  auto by_alias = c.get_model_version_by_alias("digits", "champion");
  CHECK(by_alias.version == "2");
  CHECK(by_alias.has_alias("champion"));
  auto latest = c.get_latest_versions("digits", {"Production", "None"});
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].version == "2");

  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 11);
  auto check = [&](std::size_t i, const std::string& method, const std::string& path,
                   const std::string& body) {
    INFO("request " << i);
    CHECK(reqs[i].method == method);
    CHECK(reqs[i].url.substr(0, reqs[i].url.find('?')) == kApi + path);
    if (method != "GET") {
      CHECK(reqs[i].body == body);
      CHECK(has_header(reqs[i], "Content-Type: application/json"));
    } else {
      CHECK(query_of(reqs[i]) == body);
    }
  };
  check(0, "POST", "/registered-models/create",
        R"({"name":"digits","tags":[{"key":"team","value":"ml"}],"description":"d"})");
  check(1, "GET", "/registered-models/get", "name=digits%20w%2F%20space");
  check(2, "POST", "/registered-models/rename", R"({"name":"digits","new_name":"digits2"})");
  check(3, "PATCH", "/registered-models/update", R"({"name":"digits","description":""})");
  check(4, "DELETE", "/registered-models/delete", R"({"name":"digits"})");
  check(5, "POST", "/registered-models/set-tag", R"({"name":"digits","key":"team","value":"ml"})");
  check(6, "DELETE", "/registered-models/delete-tag", R"({"name":"digits","key":"team"})");
  check(7, "POST", "/registered-models/alias", R"({"name":"digits","alias":"champion","version":"2"})");
  check(8, "DELETE", "/registered-models/alias", R"({"name":"digits","alias":"champion"})");
  check(9, "GET", "/registered-models/alias", "name=digits&alias=champion");
  check(10, "POST", "/registered-models/get-latest-versions",
        R"({"name":"digits","stages":["Production","None"]})");
}

TEST_CASE("registry client: model version calls send the documented requests", "[registry][unit]") {
  Rig rig;
  rig.on("POST /model-versions/create", mv_json("digits", "3", "READY"));
  rig.on("GET /model-versions/get", mv_json("digits", "3", "READY"));
  rig.on("PATCH /model-versions/update", mv_json("digits", "3", "READY", R"(,"description":"x")"));
  rig.on("DELETE /model-versions/delete", "{}");
  rig.on("POST /model-versions/set-tag", "{}");
  rig.on("DELETE /model-versions/delete-tag", "{}");
  rig.on("POST /model-versions/transition-stage",
         mv_json("digits", "3", "READY", R"(,"current_stage":"Staging")"));
  rig.on("GET /model-versions/get-download-uri", R"({"artifact_uri":"s3://b/p"})");

  auto& c = rig.client;
  mlflowpp::CreateModelVersionOptions mo;
  mo.run_id = "abc";
  mo.tags = {{"k", "v"}};
  mo.run_link = "http://l";
  mo.description = "desc";
  mo.model_id = "m-1";
  auto mv = c.create_model_version("digits", "runs:/abc/model", mo);
  CHECK(mv.version == "3");
  CHECK(c.create_model_version("digits", "s3://b/p").status == ModelVersionStatus::kReady);
  CHECK(c.get_model_version("digits", "3").name == "digits");
  CHECK(c.update_model_version("digits", "3", "x").description == "x");
  c.delete_model_version("digits", "3");
  c.set_model_version_tag("digits", "3", "k", "v");
  c.delete_model_version_tag("digits", "3", "k");
  CHECK(c.transition_model_version_stage("digits", "3", "Staging", true).current_stage == "Staging");
  CHECK(c.transition_model_version_stage("digits", "3", "None").current_stage == "Staging");
  CHECK(c.get_model_version_download_uri("digits", "3") == "s3://b/p");

  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 10);
  CHECK(reqs[0].body ==
        R"({"name":"digits","source":"runs:/abc/model","run_id":"abc","tags":[{"key":"k","value":"v"}],)"
        R"("run_link":"http://l","description":"desc","model_id":"m-1"})");
  CHECK(reqs[1].body == R"({"name":"digits","source":"s3://b/p"})");
  CHECK(reqs[2].method == "GET");
  CHECK(query_of(reqs[2]) == "name=digits&version=3");
  CHECK(reqs[3].method == "PATCH");
  CHECK(reqs[3].body == R"({"name":"digits","version":"3","description":"x"})");
  CHECK(reqs[4].method == "DELETE");
  CHECK(reqs[4].url == kApi + "/model-versions/delete");
  CHECK(reqs[4].body == R"({"name":"digits","version":"3"})");
  CHECK(reqs[5].body == R"({"name":"digits","version":"3","key":"k","value":"v"})");
  CHECK(reqs[6].method == "DELETE");
  CHECK(reqs[6].body == R"({"name":"digits","version":"3","key":"k"})");
  CHECK(reqs[7].body ==
        R"({"name":"digits","version":"3","stage":"Staging","archive_existing_versions":true})");
  CHECK(reqs[8].body ==
        R"({"name":"digits","version":"3","stage":"None","archive_existing_versions":false})");
  CHECK(query_of(reqs[9]) == "name=digits&version=3");
}

TEST_CASE("registry client: searches send max_results, repeated order_by, and page to the end",
          "[registry][unit]") {
  Rig rig;
  rig.routes["GET /registered-models/search"] = [](const HttpRequest& r) {
    const std::string q = query_of(r);
    if (q.find("page_token=") == std::string::npos)
      return testing::ok(R"({"registered_models":[{"name":"a"},{"name":"b"}],"next_page_token":"t1"})");
    if (q.find("page_token=t1") != std::string::npos)
      return testing::ok(R"({"registered_models":[{"name":"c"},{"name":"d"}],"next_page_token":"t2"})");
    return testing::ok(R"({"registered_models":[{"name":"e"}]})");
  };
  rig.routes["GET /model-versions/search"] = [](const HttpRequest& r) {
    if (query_of(r).find("page_token=") == std::string::npos)
      return testing::ok(R"({"model_versions":[{"name":"a","version":"2"}],"next_page_token":"x=y"})");
    return testing::ok(R"({"model_versions":[{"name":"a","version":"1"}]})");
  };

  mlflowpp::SearchRegisteredModelsOptions o;
  o.filter_string = "name LIKE 'a%'";
  o.max_results = 2;
  o.order_by = {"name ASC", "creation_timestamp DESC"};
  auto page = rig.client.search_registered_models(o);
  REQUIRE(page.items.size() == 2);
  CHECK(page.next_page_token == "t1");
  auto all = rig.client.search_all_registered_models(o);
  REQUIRE(all.size() == 5);
  CHECK(all[4].name == "e");

  mlflowpp::SearchModelVersionsOptions v;
  v.filter_string = "name = 'a'";
  auto versions = rig.client.search_all_model_versions(v);
  REQUIRE(versions.size() == 2);
  CHECK(versions[1].version == "1");

  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 6);
  CHECK(
      query_of(reqs[0]) ==
      "max_results=2&filter=name%20LIKE%20%27a%25%27&order_by=name%20ASC&order_by=creation_timestamp%20DESC");
  CHECK(query_of(reqs[2]).find("page_token=t1") != std::string::npos);
  CHECK(query_of(reqs[3]).find("page_token=t2") != std::string::npos);
  CHECK(query_of(reqs[4]) == "max_results=10000&filter=name%20%3D%20%27a%27");
  CHECK(query_of(reqs[5]) == "max_results=10000&filter=name%20%3D%20%27a%27&page_token=x%3Dy");
}

TEST_CASE("registry client: invalid arguments are refused before anything is sent", "[registry][unit]") {
  Rig rig;
  auto& c = rig.client;
  auto refused = [&](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      FAIL("no InvalidArgumentError; expected one mentioning: " << needle);
    } catch (const InvalidArgumentError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  // Names.
  refused([&] { c.create_registered_model(""); }, "must not be empty");
  refused([&] { c.create_registered_model("  "); }, "must not be empty");
  refused([&] { c.create_registered_model("team/model"); }, "cannot contain '/' or ':'");
  refused([&] { c.create_registered_model("a:b"); }, "cannot contain '/' or ':'");
  refused([&] { c.create_registered_model(".."); }, "must not resolve to another name");
  refused([&] { c.create_registered_model("..x"); }, "must not resolve to another name");
  refused([&] { c.create_registered_model(std::string(257, 'n')); }, "257 characters, the limit is 256");
  refused([&] { c.rename_registered_model("a", "b/c"); }, "new registered model name 'b/c'");
  refused([&] { c.register_model("s3://b/p", "x:y"); }, "cannot contain '/' or ':'");
  refused([&] { c.get_registered_model(""); }, "must not be empty");
  // Versions.
  refused([&] { c.get_model_version("m", "abc"); }, "invalid model version 'abc'");
  refused([&] { c.get_model_version("m", ""); }, "invalid model version ''");
  refused([&] { c.get_model_version("m", "-1"); }, "non-negative decimal integer");
  refused([&] { c.delete_model_version("m", "1.0"); }, "invalid model version '1.0'");
  refused([&] { c.set_registered_model_alias("m", "champion", "v1"); }, "invalid model version 'v1'");
  // Aliases.
  refused([&] { c.set_registered_model_alias("m", "latest", "1"); }, "'latest' (any case)");
  refused([&] { c.set_registered_model_alias("m", "LaTeSt", "1"); }, "is reserved");
  refused([&] { c.set_registered_model_alias("m", "v3", "1"); }, "'v<digits>'");
  refused([&] { c.set_registered_model_alias("m", "V12", "1"); }, "is reserved");
  refused([&] { c.set_registered_model_alias("m", "a b", "1"); }, "character ' ' is not allowed");
  refused([&] { c.set_registered_model_alias("m", "a.b", "1"); }, "character '.' is not allowed");
  refused([&] { c.set_registered_model_alias("m", "", "1"); }, "must not be empty");
  refused([&] { c.set_registered_model_alias("m", std::string(256, 'a'), "1"); },
          "256 characters, the limit is 255");
  refused([&] { c.get_model_version_by_alias("m", "a/b"); }, "not allowed");
  // Tags.
  refused([&] { c.set_registered_model_tag("m", "", "v"); }, "key is empty");
  refused([&] { c.set_registered_model_tag("m", std::string(251, 'k'), "v"); },
          "251 characters, the limit is 250");
  refused([&] { c.set_model_version_tag("m", "1", "k", std::string(100001, 'v')); },
          "100001 characters, the limit is 100000");
  refused([&] { c.create_registered_model("m", {{"bad key!", "v"}}); }, "character '!' is not allowed");
  mlflowpp::CreateModelVersionOptions long_tag;
  long_tag.tags = {{"k", std::string(100001, 'v')}};
  refused([&] { c.create_model_version("m", "s3://b/p", long_tag); }, "the limit is 100000");
  refused([&] { c.create_model_version("m", ""); }, "source must not be empty");
  // Searches.
  mlflowpp::SearchRegisteredModelsOptions so;
  so.max_results = 1001;
  refused([&] { c.search_registered_models(so); }, "max_results must be 1..1000, got 1001");
  mlflowpp::SearchModelVersionsOptions vo;
  vo.max_results = 0;
  refused([&] { c.search_model_versions(vo); }, "max_results must be 1..200000, got 0");
  // Waiting.
  refused(
      [&] {
        c.wait_for_model_version_ready("m", "1", std::chrono::seconds(1), std::chrono::milliseconds(0));
      },
      "poll_interval must be positive");
  // Logged models.
  refused([&] { c.create_logged_model(""); }, "experiment_id must not be empty");
  mlflowpp::CreateLoggedModelOptions dotted;
  dotted.name = "my.model";
  refused([&] { c.create_logged_model("1", dotted); }, "invalid logged model name 'my.model'");
  mlflowpp::CreateLoggedModelOptions twice;
  twice.name = "m";
  twice.params = {{"a", "1"}, {"a", "2"}};
  refused([&] { c.create_logged_model("1", twice); }, "param 'a' is given twice");
  mlflowpp::CreateLoggedModelOptions empty_tag;
  empty_tag.tags = {{"", "v"}};
  refused([&] { c.create_logged_model("1", empty_tag); }, "tag key must not be empty");
  refused([&] { c.log_model_params("m-1", {{"", "1"}}); }, "key must not be empty");
  refused([&] { c.finalize_logged_model("m-1", LoggedModelStatus::kPending); }, "got LOGGED_MODEL_PENDING");
  refused([&] { c.finalize_logged_model("m-1", LoggedModelStatus::kUnspecified); }, "LOGGED_MODEL_READY or");
  refused([&] { c.delete_logged_model_tag("m-1", "a/b"); }, "contains '/'");
  refused([&] { c.search_logged_models({}); }, "at least one experiment id");
  refused([&] { c.get_logged_model(""); }, "must not be empty");
  refused([&] { c.log_outputs("r", {{"", 1}}); }, "needs a model_id");

  CHECK(rig.requests().empty());
}

TEST_CASE("registry client: server errors keep their code and status", "[registry][unit]") {
  Rig rig;
  rig.routes["POST /registered-models/create"] = [](const HttpRequest&) {
    return testing::mlflow_error(400, "RESOURCE_ALREADY_EXISTS", "Registered Model (name=m) already exists.");
  };
  rig.routes["GET /registered-models/get"] = [](const HttpRequest&) {
    return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=m not found");
  };
  try {
    rig.client.create_registered_model("m");
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK(e.http_status() == 400);
    CHECK(e.is_already_exists());
    CHECK(std::string(e.what()).find("/mlflow/registered-models/create") != std::string::npos);
  }
  try {
    rig.client.get_registered_model("m");
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK(e.http_status() == 404);
    CHECK(e.is_not_found());
  }
}

TEST_CASE("registry client: wait_for_model_version_ready polls until READY", "[registry][unit][wait]") {
  Rig rig;
  int calls = 0;
  rig.routes["GET /model-versions/get"] = [&calls](const HttpRequest&) {
    ++calls;
    return testing::ok(mv_json("m", "4", calls < 4 ? "PENDING_REGISTRATION" : "READY"));
  };
  auto mv = rig.client.wait_for_model_version_ready("m", "4", std::chrono::seconds(10),
                                                    std::chrono::milliseconds(1));
  CHECK(mv.status == ModelVersionStatus::kReady);
  CHECK(mv.version == "4");
  CHECK(calls == 4);
  CHECK(rig.requests().size() == 4);
}

TEST_CASE("registry client: wait_for_model_version_ready reports FAILED_REGISTRATION with its message",
          "[registry][unit][wait]") {
  Rig rig;
  int calls = 0;
  rig.routes["GET /model-versions/get"] = [&calls](const HttpRequest&) {
    ++calls;
    if (calls == 1) return testing::ok(mv_json("m", "2", "PENDING_REGISTRATION"));
    return testing::ok(
        mv_json("m", "2", "FAILED_REGISTRATION", R"(,"status_message":"copy to s3 failed: 403")"));
  };
  try {
    rig.client.wait_for_model_version_ready("m", "2", std::chrono::seconds(10), std::chrono::milliseconds(1));
    FAIL("no exception");
  } catch (const ModelVersionNotReadyError& e) {
    CHECK(e.reason() == ModelVersionNotReadyError::Reason::kFailedRegistration);
    CHECK_FALSE(e.timed_out());
    CHECK(e.model_version().status == ModelVersionStatus::kFailedRegistration);
    CHECK(e.model_version().status_message == "copy to s3 failed: 403");
    const std::string what = e.what();
    CHECK(what.find("FAILED_REGISTRATION") != std::string::npos);
    CHECK(what.find("copy to s3 failed: 403") != std::string::npos);
    CHECK(what.find("'m'") != std::string::npos);
  }
  CHECK(calls == 2);
}

TEST_CASE("registry client: wait_for_model_version_ready times out on a version that stays pending",
          "[registry][unit][wait]") {
  Rig rig;
  rig.on("GET /model-versions/get", mv_json("m", "7", "PENDING_REGISTRATION"));
  const auto start = std::chrono::steady_clock::now();
  try {
    rig.client.wait_for_model_version_ready("m", "7", std::chrono::milliseconds(60),
                                            std::chrono::milliseconds(5));
    FAIL("no exception");
  } catch (const ModelVersionNotReadyError& e) {
    CHECK(e.timed_out());
    CHECK(e.reason() == ModelVersionNotReadyError::Reason::kTimeout);
    CHECK(e.model_version().status == ModelVersionStatus::kPendingRegistration);
    const std::string what = e.what();
    CHECK(what.find("timed out after 60 ms") != std::string::npos);
    CHECK(what.find("PENDING_REGISTRATION") != std::string::npos);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(60));
  CHECK(rig.requests().size() >= 2);  // polled more than once, and stopped
  // A zero timeout reads once and gives up at once.
  const auto before = rig.requests().size();
  CHECK_THROWS_AS(rig.client.wait_for_model_version_ready("m", "7", std::chrono::milliseconds(0)),
                  ModelVersionNotReadyError);
  CHECK(rig.requests().size() == before + 1);
}

TEST_CASE("registry client: register_model with runs:/ resolves to the run's artifacts",
          "[registry][unit][register]") {
  Rig rig;
  rig.on(
      "GET /runs/get",
      R"({"run":{"info":{"run_id":"r1","experiment_id":"5","artifact_uri":"mlflow-artifacts:/5/r1/artifacts/"}}})");
  rig.on("GET /artifacts/list",
         R"({"files":[{"path":"model/MLmodel","is_dir":false},{"path":"model/w.pt"}]})");
  rig.routes["POST /registered-models/create"] = [](const HttpRequest&) {
    return testing::mlflow_error(400, "RESOURCE_ALREADY_EXISTS", "exists");
  };
  rig.on("POST /model-versions/create", mv_json("digits", "1", "READY"));

  {
    mlflowpp::RegisterModelOptions o;
    o.tags = {{"k", "v"}};
    o.description = "first";
    auto mv = rig.client.register_model("runs:/r1/model/", "digits", o);
    CHECK(mv.version == "1");
  }
  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[0].url == kApi + "/runs/get?run_id=r1");
  CHECK(reqs[1].url == kApi + "/artifacts/list?run_id=r1&path=model");
  CHECK(reqs[2].body == R"({"name":"digits"})");
  CHECK(reqs[3].body == R"({"name":"digits","source":"mlflow-artifacts:/5/r1/artifacts/model","run_id":"r1",)"
                        R"("tags":[{"key":"k","value":"v"}],"description":"first"})");
}

TEST_CASE("registry client: register_model with runs:/ prefers the run's logged model without an MLmodel",
          "[registry][unit][register]") {
  Rig rig;
  rig.on("GET /runs/get", R"({"run":{"info":{"run_id":"r1","experiment_id":"5","artifact_uri":"s3://b/5/r1"},
      "outputs":{"model_outputs":[{"model_id":"m-old","step":1},{"model_id":"m-new","step":9}]}}})");
  rig.on("GET /artifacts/list", R"({"root_uri":"s3://b/5/r1"})");
  rig.on("POST /logged-models/search", R"({"models":[
      {"info":{"model_id":"m-old","name":"net","source_run_id":"r1"}},
      {"info":{"model_id":"m-other-run","name":"net","source_run_id":"r2"}},
      {"info":{"model_id":"m-new","name":"net","source_run_id":"r1"}}]})");
  rig.on("POST /registered-models/create", R"({"registered_model":{"name":"digits"}})");
  rig.on("POST /model-versions/create", mv_json("digits", "1", "READY"));

  rig.client.register_model("runs:/r1/net", "digits");
  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 5);
  CHECK(reqs[2].url == kApi + "/logged-models/search");
  CHECK(reqs[2].body == R"({"experiment_ids":["5"],"filter":"name = 'net'","max_results":100})");
  CHECK(reqs[4].body == R"({"name":"digits","source":"models:/m-new","run_id":"r1","model_id":"m-new"})");

  // Neither an MLmodel file nor a logged model: the artifact location, unlike Python (which raises).
  rig.on("POST /logged-models/search", R"({"models":[]})");
  rig.client.register_model("runs:/r1/net", "digits");
  const auto more = rig.requests();
  REQUIRE(more.size() == 10);
  CHECK(more[9].body == R"({"name":"digits","source":"s3://b/5/r1/net","run_id":"r1"})");
}

TEST_CASE("registry client: register_model with models:/<id> and waiting for READY",
          "[registry][unit][register]") {
  Rig rig;
  rig.on("POST /registered-models/create", R"({"registered_model":{"name":"digits"}})");
  rig.on("POST /model-versions/create", mv_json("digits", "2", "PENDING_REGISTRATION"));
  int polls = 0;
  rig.routes["GET /model-versions/get"] = [&polls](const HttpRequest&) {
    ++polls;
    return testing::ok(mv_json("digits", "2", polls < 2 ? "PENDING_REGISTRATION" : "READY"));
  };
  mlflowpp::RegisterModelOptions o;
  o.poll_interval = std::chrono::milliseconds(1);
  auto mv = rig.client.register_model("models:/m-abc", "digits", o);
  CHECK(mv.status == ModelVersionStatus::kReady);
  CHECK(polls == 2);
  auto reqs = rig.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[1].body == R"({"name":"digits","source":"models:/m-abc","model_id":"m-abc"})");

  // A registry URI is passed through without a model_id; await 0 does not wait.
  o.await_registration_for = std::chrono::milliseconds(0);
  auto pending = rig.client.register_model("models:/other/3", "digits", o);
  CHECK(pending.status == ModelVersionStatus::kPendingRegistration);
  reqs = rig.requests();
  REQUIRE(reqs.size() == 6);
  CHECK(reqs[5].body == R"({"name":"digits","source":"models:/other/3"})");

  // A create error other than "already exists" propagates.
  rig.routes["POST /registered-models/create"] = [](const HttpRequest&) {
    return testing::mlflow_error(403, "PERMISSION_DENIED", "no");
  };
  CHECK_THROWS_AS(rig.client.register_model("s3://b/p", "digits", o), ServerError);
  CHECK_THROWS_AS(rig.client.register_model("runs:/", "digits", o), InvalidArgumentError);
}

TEST_CASE("logged models client: requests, params in chunks of 100, tags and outputs",
          "[logged-models][unit]") {
  Rig rig;
  const std::string model =
      R"({"model":{"info":{"model_id":"m-1","experiment_id":"3","status":"LOGGED_MODEL_PENDING"}}})";
  rig.on("POST /logged-models", model);
  rig.on("POST /logged-models/m-1/params", "{}");
  rig.on("GET /logged-models/m-1", model);
  rig.on("PATCH /logged-models/m-1",
         R"({"model":{"info":{"model_id":"m-1","status":"LOGGED_MODEL_READY"}}})");
  rig.on("DELETE /logged-models/m-1", "{}");
  rig.on("PATCH /logged-models/m-1/tags", "{}");
  rig.on("DELETE /logged-models/m-1/tags/a%20b%3Ac", "{}");
  rig.on("POST /logged-models/search", R"({"models":[{"info":{"model_id":"m-1"}}]})");
  rig.on("POST /runs/outputs", "{}");

  std::vector<LoggedModelParam> params;
  for (int i = 0; i < 250; ++i) params.push_back({"p" + std::to_string(i), std::to_string(i)});
  mlflowpp::CreateLoggedModelOptions co;
  co.name = "net";
  co.source_run_id = "r1";
  co.tags = {{"t", "1"}};
  co.params = params;
  co.model_type = "torchscript";
  auto m = rig.client.create_logged_model("3", co);
  CHECK(m.info.model_id == "m-1");
  CHECK(m.info.status == LoggedModelStatus::kPending);
  CHECK(rig.client.finalize_logged_model("m-1", LoggedModelStatus::kReady).info.status ==
        LoggedModelStatus::kReady);
  rig.client.get_logged_model("m-1", true);
  rig.client.delete_logged_model("m-1");
  rig.client.set_logged_model_tags("m-1", {{"a b:c", "x"}, {"t", "2"}});
  rig.client.set_logged_model_tags("m-1", {});  // nothing to send
  rig.client.delete_logged_model_tag("m-1", "a b:c");
  mlflowpp::SearchLoggedModelsOptions so;
  so.filter_string = "params.alpha < 0.3";
  so.datasets = {{"train", ""}, {"eval", "abc"}};
  so.max_results = 7;
  so.order_by = {{"metrics.acc", false, "eval", ""}, {"creation_timestamp", true, "", ""}};
  so.page_token = "tok";
  CHECK(rig.client.search_logged_models({"3", "4"}, so).items.size() == 1);
  rig.client.log_outputs("r1", {{"m-1", 5}, {"m-2", 0}});
  rig.client.log_outputs("r1", {});  // nothing to send

  const auto reqs = rig.requests();
  REQUIRE(reqs.size() == 11);
  // create: the first 100 params, then 100 + 50 through /params, then the model is read again.
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].url == kApi + "/logged-models");
  CHECK(reqs[0].body.find(
            R"({"experiment_id":"3","name":"net","model_type":"torchscript","source_run_id":"r1",)"
            R"("params":[{"key":"p0","value":"0"})") == 0);
  // The tags: the system ones (as Python's initialize_logged_model), then the given one.
  CHECK(reqs[0].body.find(R"({"key":"p99","value":"99"}],"tags":[{"key":"mlflow.user","value":")") !=
        std::string::npos);
  CHECK(reqs[0].body.find(R"({"key":"mlflow.source.type","value":"LOCAL"})") != std::string::npos);
  CHECK(reqs[0].body.size() >= 25);
  CHECK(reqs[0].body.compare(reqs[0].body.size() - 25, 25, R"({"key":"t","value":"1"}]})") == 0);
  CHECK(reqs[0].body.find("\"p100\"") == std::string::npos);
  CHECK(reqs[1].url == kApi + "/logged-models/m-1/params");
  CHECK(reqs[1].body.find(R"({"model_id":"m-1","params":[{"key":"p100","value":"100"})") == 0);
  CHECK(reqs[1].body.find("\"p199\"") != std::string::npos);
  CHECK(reqs[1].body.find("\"p200\"") == std::string::npos);
  CHECK(reqs[2].body.find(R"({"key":"p200","value":"200"})") != std::string::npos);
  CHECK(reqs[2].body.find(R"({"key":"p249","value":"249"}]})") != std::string::npos);
  CHECK(reqs[3].method == "GET");
  CHECK(reqs[3].url == kApi + "/logged-models/m-1");
  // finalize, get with allow_deleted, delete.
  CHECK(reqs[4].method == "PATCH");
  CHECK(reqs[4].body == R"({"model_id":"m-1","status":"LOGGED_MODEL_READY"})");
  CHECK(reqs[5].url == kApi + "/logged-models/m-1?allow_deleted=true");
  CHECK(reqs[6].method == "DELETE");
  CHECK(reqs[6].body == R"({"model_id":"m-1"})");
  // tags.
  CHECK(reqs[7].method == "PATCH");
  CHECK(reqs[7].url == kApi + "/logged-models/m-1/tags");
  CHECK(reqs[7].body == R"({"tags":[{"key":"a b:c","value":"x"},{"key":"t","value":"2"}]})");
  CHECK(reqs[8].method == "DELETE");
  CHECK(reqs[8].url == kApi + "/logged-models/m-1/tags/a%20b%3Ac");
  // search.
  CHECK(
      reqs[9].body ==
      R"({"experiment_ids":["3","4"],"filter":"params.alpha < 0.3","datasets":[{"dataset_name":"train"},)"
      R"({"dataset_name":"eval","dataset_digest":"abc"}],"max_results":7,"order_by":[{"field_name":"metrics.acc",)"
      R"("ascending":false,"dataset_name":"eval"},{"field_name":"creation_timestamp","ascending":true}],)"
      R"("page_token":"tok"})");
  // outputs.
  CHECK(reqs[10].url == kApi + "/runs/outputs");
  CHECK(reqs[10].body ==
        R"({"run_id":"r1","models":[{"model_id":"m-1","step":5},{"model_id":"m-2","step":0}]})");
}

namespace {

// The positional forms of old, where a run id could land in `tags`' place or a model type in
// `source_run_id`'s: they must no longer compile (the optional arguments are option structs).
template <typename C, typename = void>
struct mv_takes_positional_run_id : std::false_type {};
template <typename C>
struct mv_takes_positional_run_id<C, std::void_t<decltype(std::declval<C&>().create_model_version(
                                         std::string(), std::string(), std::string()))>> : std::true_type {};
template <typename C, typename = void>
struct lm_takes_positional_name : std::false_type {};
template <typename C>
struct lm_takes_positional_name<
    C, std::void_t<decltype(std::declval<C&>().create_logged_model(std::string(), std::string()))>>
    : std::true_type {};

}  // namespace

TEST_CASE("registry client: create_model_version and create_logged_model take option structs",
          "[registry][logged-models][unit][api]") {
  STATIC_REQUIRE_FALSE(mv_takes_positional_run_id<Client>::value);
  STATIC_REQUIRE_FALSE(lm_takes_positional_name<Client>::value);
  STATIC_REQUIRE(std::is_aggregate_v<mlflowpp::CreateModelVersionOptions>);
  STATIC_REQUIRE(std::is_aggregate_v<mlflowpp::CreateLoggedModelOptions>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<std::string, mlflowpp::CreateModelVersionOptions>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<std::string, mlflowpp::CreateLoggedModelOptions>);
}
