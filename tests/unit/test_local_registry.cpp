// The model registry and MLflow 3 logged models over the embedded local store (a
// `sqlite:///` tracking URI, no server): MLflow's SQL-store semantics through the public
// Client. No sockets.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using mlflowpp::Client;
using mlflowpp::ClientOptions;
using mlflowpp::CreateLoggedModelOptions;
using mlflowpp::CreateModelVersionOptions;
using mlflowpp::LoggedModelParam;
using mlflowpp::LoggedModelStatus;
using mlflowpp::ModelVersion;
using mlflowpp::ModelVersionStatus;
using mlflowpp::RegisteredModel;
using mlflowpp::SearchLoggedModelsOptions;
using mlflowpp::SearchModelVersionsOptions;
using mlflowpp::SearchRegisteredModelsOptions;
using mlflowpp::ServerError;

namespace {

struct LocalFixture {
  support::TempDir dir{"local-registry"};
  Client client{[this] {
    ClientOptions o;
    o.tracking_uri = "sqlite:///" + dir.str() + "/mlflow.db";
    return o;
  }()};
};

std::string error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ServerError& e) {
    return e.error_code();
  }
  return "no error";
}

std::vector<std::string> names_of(const std::vector<RegisteredModel>& models) {
  std::vector<std::string> out;
  for (const auto& m : models) out.push_back(m.name);
  return out;
}

}  // namespace

TEST_CASE("local registry: registered models are created, read, renamed, updated and deleted", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  RegisteredModel m = c.create_registered_model("digits", {{"team", "ml"}, {"team", "ml2"}}, "first");
  CHECK(m.name == "digits");
  CHECK(m.description == "first");
  CHECK(m.tag("team") == std::optional<std::string>("ml2"));
  CHECK(m.creation_timestamp > 0);
  CHECK(m.last_updated_timestamp == m.creation_timestamp);
  CHECK(error_code_of([&] { c.create_registered_model("digits"); }) == "RESOURCE_ALREADY_EXISTS");
  CHECK(error_code_of([&] { c.get_registered_model("nope"); }) == "RESOURCE_DOES_NOT_EXIST");

  c.create_model_version("digits", "/tmp/a", {});
  c.create_model_version("digits", "/tmp/b", {});
  c.set_model_version_tag("digits", "1", "k", "v");
  c.set_registered_model_alias("digits", "champion", "2");

  c.create_registered_model("other");
  CHECK(error_code_of([&] { c.rename_registered_model("digits", "other"); }) == "RESOURCE_ALREADY_EXISTS");
  RegisteredModel r = c.rename_registered_model("digits", "digits2");
  CHECK(r.name == "digits2");
  CHECK(r.alias_version("champion") == std::optional<std::string>("2"));
  CHECK(r.tag("team") == std::optional<std::string>("ml2"));
  CHECK(error_code_of([&] { c.get_registered_model("digits"); }) == "RESOURCE_DOES_NOT_EXIST");
  ModelVersion v1 = c.get_model_version("digits2", "1");
  CHECK(v1.name == "digits2");
  CHECK(v1.tag("k") == std::optional<std::string>("v"));
  CHECK(c.get_model_version_by_alias("digits2", "champion").version == "2");

  RegisteredModel u = c.update_registered_model("digits2", "second");
  CHECK(u.description == "second");
  REQUIRE(u.latest_versions.size() == 1);
  CHECK(u.latest_versions[0].version == "2");

  c.set_registered_model_tag("digits2", "x", "1");
  c.delete_registered_model_tag("digits2", "x");
  CHECK_FALSE(c.get_registered_model("digits2").tag("x").has_value());

  c.delete_registered_model("digits2");
  CHECK(error_code_of([&] { c.get_registered_model("digits2"); }) == "RESOURCE_DOES_NOT_EXIST");
  CHECK(error_code_of([&] { c.get_model_version("digits2", "1"); }) == "RESOURCE_DOES_NOT_EXIST");
  // The name is free again, and numbering starts over.
  c.create_registered_model("digits2");
  CHECK(c.create_model_version("digits2", "/tmp/c", {}).version == "1");
}

TEST_CASE("local registry: model versions number, stages, aliases and deletion", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  c.create_registered_model("m");
  CreateModelVersionOptions o;
  o.description = "d";
  o.tags = {{"a", "1"}};
  o.run_link = "http://x";
  ModelVersion v1 = c.create_model_version("m", "/abs/mlruns/0/r/artifacts/model", o);
  CHECK(v1.version == "1");
  CHECK(v1.status == ModelVersionStatus::kReady);
  CHECK(v1.current_stage == "None");
  CHECK(v1.description == "d");
  CHECK(v1.run_link == "http://x");
  CHECK(v1.source == "/abs/mlruns/0/r/artifacts/model");
  CHECK(v1.tag("a") == std::optional<std::string>("1"));
  CHECK(c.get_model_version_download_uri("m", "1") == "/abs/mlruns/0/r/artifacts/model");
  CHECK(c.create_model_version("m", "/s2", {}).version == "2");
  CHECK(c.create_model_version("m", "/s3", {}).version == "3");
  CHECK(error_code_of([&] { c.create_model_version("nope", "/s", {}); }) == "RESOURCE_DOES_NOT_EXIST");

  CHECK(c.update_model_version("m", "1", "new").description == "new");

  // Stages: archive_existing_versions moves the others out of the stage.
  c.transition_model_version_stage("m", "1", "production", false);
  ModelVersion p2 = c.transition_model_version_stage("m", "2", "Production", true);
  CHECK(p2.current_stage == "Production");
  CHECK(c.get_model_version("m", "1").current_stage == "Archived");
  CHECK(error_code_of([&] { c.transition_model_version_stage("m", "1", "bogus", false); }) ==
        "INVALID_PARAMETER_VALUE");
  auto latest = c.get_latest_versions("m", {"Production"});
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].version == "2");
  CHECK(c.get_latest_versions("m", {}).size() == 3);  // None (3), Archived (1), Production (2)

  // Aliases move; "latest" is the newest version.
  c.set_registered_model_alias("m", "champion", "1");
  c.set_registered_model_alias("m", "champion", "3");
  ModelVersion champ = c.get_model_version_by_alias("m", "champion");
  CHECK(champ.version == "3");
  CHECK(champ.has_alias("champion"));
  CHECK(c.get_model_version_by_alias("m", "latest").version == "3");
  CHECK(error_code_of([&] { c.get_model_version_by_alias("m", "nobody"); }) == "INVALID_PARAMETER_VALUE");
  CHECK(error_code_of([&] { c.set_registered_model_alias("m", "x", "9"); }) == "RESOURCE_DOES_NOT_EXIST");

  // Deleting a version redacts it (its number is never reused) and drops its aliases.
  c.delete_model_version("m", "3");
  CHECK(error_code_of([&] { c.get_model_version("m", "3"); }) == "RESOURCE_DOES_NOT_EXIST");
  CHECK_FALSE(c.get_registered_model("m").alias_version("champion").has_value());
  CHECK(c.create_model_version("m", "/s4", {}).version == "4");

  c.set_model_version_tag("m", "4", "t", "1");
  c.delete_model_version_tag("m", "4", "t");
  CHECK_FALSE(c.get_model_version("m", "4").tag("t").has_value());
}

TEST_CASE("local registry: searches filter, order and page", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  for (const char* n : {"alpha", "beta", "Gamma", "delta-x"}) c.create_registered_model(n);
  c.set_registered_model_tag("beta", "team", "ml");
  c.set_registered_model_tag("delta-x", "team", "ops");
  c.create_registered_model("prompt1", {{"mlflow.prompt.is_prompt", "true"}});

  SearchRegisteredModelsOptions s;
  CHECK(names_of(c.search_all_registered_models(s)) ==
        std::vector<std::string>{"Gamma", "alpha", "beta", "delta-x"});
  s.filter_string = "name = 'beta'";
  CHECK(names_of(c.search_registered_models(s).items) == std::vector<std::string>{"beta"});
  s.filter_string = "name LIKE '%a%'";
  CHECK(names_of(c.search_registered_models(s).items) ==
        std::vector<std::string>{"Gamma", "alpha", "beta", "delta-x"});
  s.filter_string = "name LIKE 'g%'";
  CHECK(c.search_registered_models(s).items.empty());
  s.filter_string = "name ILIKE 'g%'";
  CHECK(names_of(c.search_registered_models(s).items) == std::vector<std::string>{"Gamma"});
  s.filter_string = "tags.team = 'ml'";
  CHECK(names_of(c.search_registered_models(s).items) == std::vector<std::string>{"beta"});
  s.filter_string = "tags.`team` LIKE '%' AND name != 'beta'";
  CHECK(names_of(c.search_registered_models(s).items) == std::vector<std::string>{"delta-x"});
  s.filter_string = "tags.mlflow.prompt.is_prompt = 'true'";
  CHECK(names_of(c.search_registered_models(s).items) == std::vector<std::string>{"prompt1"});
  for (const char* bad :
       {"name = 'a' OR name = 'b'", "creation_timestamp > 5", "name IS NULL", "params.x = '1'"}) {
    s.filter_string = bad;
    CHECK(error_code_of([&] { c.search_registered_models(s); }) == "INVALID_PARAMETER_VALUE");
  }

  // Paging: max_results + a token.
  s = {};
  s.max_results = 3;
  s.order_by = {"name DESC"};
  auto p1 = c.search_registered_models(s);
  CHECK(names_of(p1.items) == std::vector<std::string>{"delta-x", "beta", "alpha"});
  REQUIRE_FALSE(p1.next_page_token.empty());
  s.page_token = p1.next_page_token;
  auto p2 = c.search_registered_models(s);
  CHECK(names_of(p2.items) == std::vector<std::string>{"Gamma"});
  CHECK(p2.next_page_token.empty());

  // Model versions.
  CreateModelVersionOptions o;
  o.tags = {{"stage", "candidate"}};
  c.create_model_version("alpha", "/a/1", o);
  c.create_model_version("alpha", "/a/2", {});
  c.create_model_version("beta", "/b/1", o);
  SearchModelVersionsOptions vs;
  vs.filter_string = "name = 'alpha'";
  vs.order_by = {"version_number ASC"};
  auto r = c.search_model_versions(vs).items;
  REQUIRE(r.size() == 2);
  CHECK(r[0].version == "1");
  CHECK(r[1].version == "2");
  vs.filter_string = "tags.stage = 'candidate'";
  vs.order_by = {"name ASC"};
  r = c.search_model_versions(vs).items;
  REQUIRE(r.size() == 2);
  CHECK(r[0].name == "alpha");
  CHECK(r[1].name == "beta");
  vs.filter_string = "source_path = '/a/2' AND version_number >= 2";
  CHECK(c.search_model_versions(vs).items.size() == 1);
  vs.filter_string = "name IN ('alpha', 'beta')";
  vs.max_results = 2;
  auto first = c.search_model_versions(vs);
  CHECK(first.items.size() == 2);
  CHECK_FALSE(first.next_page_token.empty());
  vs.max_results = 10;
  CHECK(c.search_all_model_versions(vs).size() == 3);
  c.delete_model_version("alpha", "2");
  vs.filter_string = "name = 'alpha'";
  CHECK(c.search_model_versions(vs).items.size() == 1);
}

TEST_CASE("local registry: logged models, params, tags, search and run outputs", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  const std::string exp = c.create_experiment("lm-exp");
  const auto run = c.create_run(exp);
  CreateLoggedModelOptions o;
  o.name = "mlp";
  o.source_run_id = run.info.run_id;
  o.model_type = "torch";
  o.tags = {{"t", "1"}};
  o.params = {{"alpha", "0.1"}, {"beta", "2"}};
  auto m = c.create_logged_model(exp, o);
  CHECK(m.info.model_id.rfind("m-", 0) == 0);
  CHECK(m.info.model_id.size() == 34);
  CHECK(m.info.status == LoggedModelStatus::kPending);
  CHECK(m.info.experiment_id == exp);
  const std::string exp_location = c.get_experiment(exp).artifact_location;
  CHECK(m.info.artifact_uri == exp_location + "/models/" + m.info.model_id + "/artifacts");
  CHECK(m.data.param("alpha") == std::optional<std::string>("0.1"));
  CHECK(m.info.tag("t") == std::optional<std::string>("1"));

  auto ready = c.finalize_logged_model(m.info.model_id, LoggedModelStatus::kReady);
  CHECK(ready.info.status == LoggedModelStatus::kReady);
  c.set_logged_model_tags(m.info.model_id, {{"t", "2"}, {"u", "3"}});
  c.delete_logged_model_tag(m.info.model_id, "u");
  CHECK(error_code_of([&] { c.delete_logged_model_tag(m.info.model_id, "u"); }) == "RESOURCE_DOES_NOT_EXIST");
  c.log_model_params(m.info.model_id, {{"gamma", "3"}});
  CHECK(error_code_of([&] { c.log_model_params(m.info.model_id, {{"gamma", "4"}}); }) == "BAD_REQUEST");
  auto got = c.get_logged_model(m.info.model_id);
  CHECK(got.info.tag("t") == std::optional<std::string>("2"));
  CHECK(got.data.params.size() == 3);

  CreateLoggedModelOptions o2;
  auto unnamed = c.create_logged_model(exp, o2);
  CHECK_FALSE(unnamed.info.name.empty());

  SearchLoggedModelsOptions s;
  s.filter_string = "name = 'mlp'";
  auto found = c.search_logged_models({exp}, s).items;
  REQUIRE(found.size() == 1);
  CHECK(found[0].info.model_id == m.info.model_id);
  s.filter_string = "params.alpha = '0.1' AND status = 'READY'";
  CHECK(c.search_logged_models({exp}, s).items.size() == 1);
  s.filter_string = "";
  s.max_results = 1;
  auto page = c.search_logged_models({exp}, s);
  CHECK(page.items.size() == 1);
  CHECK_FALSE(page.next_page_token.empty());
  CHECK(c.search_all_logged_models({exp}, s).size() == 2);

  c.log_outputs(run.info.run_id, {{m.info.model_id, 7}});
  auto r = c.get_run(run.info.run_id);
  REQUIRE(r.outputs.model_outputs.size() == 1);
  CHECK(r.outputs.model_outputs[0].model_id == m.info.model_id);
  CHECK(r.outputs.model_outputs[0].step == 7);

  c.delete_logged_model(unnamed.info.model_id);
  CHECK(error_code_of([&] { c.get_logged_model(unnamed.info.model_id); }) == "RESOURCE_DOES_NOT_EXIST");
  CHECK(c.get_logged_model(unnamed.info.model_id, true).info.model_id == unnamed.info.model_id);
  s = {};
  CHECK(c.search_all_logged_models({exp}, s).size() == 1);

  // A version registered from the logged model resolves to its artifact location.
  c.create_registered_model("reg");
  CreateModelVersionOptions vo;
  vo.model_id = m.info.model_id;
  auto v = c.create_model_version("reg", "models:/" + m.info.model_id, vo);
  CHECK(v.source == "models:/" + m.info.model_id);
  CHECK(v.run_id == run.info.run_id);
  CHECK(c.get_model_version_download_uri("reg", "1") == m.info.artifact_uri);
}

TEST_CASE("local registry: register_model from a run folder holding an MLmodel file", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  const auto run = c.create_run("0");
  std::string root = run.info.artifact_uri;
  if (root.rfind("file://", 0) == 0) root = root.substr(7);
  std::filesystem::create_directories(root + "/model");
  std::ofstream(root + "/model/MLmodel") << "flavors: {}\n";
  auto v = c.register_model("runs:/" + run.info.run_id + "/model", "from-run");
  CHECK(v.version == "1");
  CHECK(v.run_id == run.info.run_id);
  CHECK(v.source == run.info.artifact_uri + "/model");
  CHECK(c.get_model_version_download_uri("from-run", "1") == run.info.artifact_uri + "/model");
}

TEST_CASE("local registry: logged models filter and order by their latest metric", "[local]") {
  LocalFixture f;
  auto& c = f.client;
  const auto run = c.create_run("0");
  std::vector<std::string> ids;
  for (double acc : {0.5, 0.9, 0.7}) {
    CreateLoggedModelOptions o;
    o.source_run_id = run.info.run_id;
    const std::string id = c.create_logged_model("0", o).info.model_id;
    ids.push_back(id);
    mlflowpp::Metric old{"acc", 0.99, 1000, 0, "eval", "d1", id, ""};
    mlflowpp::Metric latest{"acc", acc, 2000, 1, "eval", "d1", id, ""};
    c.log_batch(run.info.run_id, {old, latest});
  }
  SearchLoggedModelsOptions s;
  s.filter_string = "metrics.acc > 0.6";
  s.order_by = {{"metrics.acc", false, "", ""}};
  auto found = c.search_logged_models({"0"}, s).items;
  REQUIRE(found.size() == 2);
  CHECK(found[0].info.model_id == ids[1]);
  CHECK(found[1].info.model_id == ids[2]);
  CHECK(found[0].data.metrics.size() == 2);
  s.filter_string = "";
  s.datasets = {{"eval", ""}};
  s.order_by = {{"metrics.acc", true, "", ""}};
  found = c.search_logged_models({"0"}, s).items;
  REQUIRE(found.size() == 3);
  CHECK(found[0].info.model_id == ids[0]);
  s.datasets = {{"other", ""}};
  CHECK(c.search_logged_models({"0"}, s).items.empty());
}
