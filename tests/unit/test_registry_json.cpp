// Parsers of the model registry's and the logged models' answers (detail/registry_json.hpp),
// on bodies captured from MLflow 3.18 and on edge cases: unknown fields, int64 as strings,
// enums by number, missing fields, bodies that are not JSON.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "detail/codec/registry_json.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/registry.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;

namespace {

// `GET /registered-models/get` from mlflow 3.18.0 (a model with two versions, a tag and an alias).
const char* kRegisteredModel = R"({"registered_model":{"name":"rm1","creation_timestamp":1796025753808,
"last_updated_timestamp":1796025759744,"description":"newd","latest_versions":[{"name":"rm1","version":"1",
"creation_timestamp":1796025754162,"last_updated_timestamp":1796025754162,"current_stage":"None","description":"",
"source":"s3://bucket/path","run_id":"","status":"READY","run_link":""},{"name":"rm1","version":"2",
"creation_timestamp":1796025759051,"last_updated_timestamp":1796025759666,"current_stage":"Production",
"description":"new","source":"s3://bucket/p2","run_id":"","status":"READY","tags":[{"key":"t","value":"1"}],
"run_link":"http://x"}],"tags":[{"key":"k","value":"v"}],"aliases":[{"alias":"champion","version":"1"}]}})";

// `GET /logged-models/{id}` from mlflow 3.18.0.
const char* kLoggedModel =
    R"({"model":{"info":{"model_id":"m-24973506b36146c5b0fa8fe8851826fa","experiment_id":"1",
"name":"mymodel","creation_timestamp_ms":1796025766783,"last_updated_timestamp_ms":1796025767523,
"artifact_uri":"mlflow-artifacts:/1/models/m-24973506b36146c5b0fa8fe8851826fa/artifacts",
"status":"LOGGED_MODEL_READY","model_type":"sklearn","source_run_id":"b189f5a527084f7e82788bfec31215d9",
"tags":[{"key":"a/b","value":"x"},{"key":"mlflow.modelVersions","value":"[{\"name\":\"rm2\",\"version\":1}]"},
{"key":"t1","value":"v1"}]},"data":{"params":[{"key":"alpha","value":"0.1"},{"key":"beta","value":"2"}],
"metrics":[{"key":"acc","value":0.9,"timestamp":1000,"step":3,"model_id":"m-24973506b36146c5b0fa8fe8851826fa",
"run_id":"b189f5a527084f7e82788bfec31215d9"}]}}})";

}  // namespace

TEST_CASE("registry JSON: a registered model with versions, tags and aliases", "[registry][json]") {
  const RegisteredModel m = parse_registered_model_response(kRegisteredModel);
  CHECK(m.name == "rm1");
  CHECK(m.creation_timestamp == 1796025753808);
  CHECK(m.last_updated_timestamp == 1796025759744);
  CHECK(m.description == "newd");
  CHECK(m.user_id.empty());
  REQUIRE(m.tags.size() == 1);
  CHECK(m.tag("k") == std::optional<std::string>("v"));
  CHECK_FALSE(m.tag("absent").has_value());
  REQUIRE(m.aliases.size() == 1);
  CHECK(m.aliases[0].alias == "champion");
  CHECK(m.aliases[0].version == "1");
  CHECK(m.alias_version("champion") == std::optional<std::string>("1"));
  CHECK_FALSE(m.alias_version("challenger").has_value());
  REQUIRE(m.latest_versions.size() == 2);
  const ModelVersion& v2 = m.latest_versions[1];
  CHECK(v2.name == "rm1");
  CHECK(v2.version == "2");
  CHECK(v2.current_stage == "Production");
  CHECK(v2.description == "new");
  CHECK(v2.source == "s3://bucket/p2");
  CHECK(v2.status == ModelVersionStatus::kReady);
  CHECK(v2.run_link == "http://x");
  CHECK(v2.tag("t") == std::optional<std::string>("1"));
  CHECK(m.latest_versions[0].tags.empty());
}

TEST_CASE("registry JSON: a model version with every field, unknown fields ignored", "[registry][json]") {
  const std::string body =
      R"({"model_version":{"name":"m","version":"12","creation_timestamp":"1700000000001",
    "last_updated_timestamp":1700000000002,"user_id":"alice","current_stage":"Staging","description":"d é",
    "source":"models:/m-1","run_id":"r1","status":"FAILED_REGISTRATION","status_message":"copy failed",
    "tags":[{"key":"a","value":"1"},{"key":"b","value":""}],"run_link":"l","aliases":["champion","x-2"],
    "model_id":"m-1","model_params":[{"name":"lr","value":"0.1"}],
    "model_metrics":[{"key":"acc","value":"NaN","timestamp":5,"step":"7","run_id":"r1"}],
    "deployment_job_state":{"job_id":"j"},"future_field":[1,2,{"x":null}]},"sqlstate":"ignored"})";
  const ModelVersion v = parse_model_version_response(body);
  CHECK(v.name == "m");
  CHECK(v.version == "12");
  CHECK(v.creation_timestamp == 1700000000001);  // int64 as a string
  CHECK(v.last_updated_timestamp == 1700000000002);
  CHECK(v.user_id == "alice");
  CHECK(v.current_stage == "Staging");
  CHECK(v.description == "d é");
  CHECK(v.source == "models:/m-1");
  CHECK(v.run_id == "r1");
  CHECK(v.status == ModelVersionStatus::kFailedRegistration);
  CHECK(v.status_message == "copy failed");
  REQUIRE(v.tags.size() == 2);
  CHECK(v.tag("b") == std::optional<std::string>(""));
  CHECK(v.run_link == "l");
  CHECK(v.aliases == std::vector<std::string>{"champion", "x-2"});
  CHECK(v.has_alias("x-2"));
  CHECK_FALSE(v.has_alias("x"));
  CHECK(v.model_id == "m-1");
  REQUIRE(v.model_params.size() == 1);
  CHECK(v.model_params[0].name == "lr");
  CHECK(v.model_params[0].value == "0.1");
  REQUIRE(v.model_metrics.size() == 1);
  CHECK(std::isnan(v.model_metrics[0].value));
  CHECK(v.model_metrics[0].step == 7);
  CHECK(v.model_metrics[0].run_id == "r1");
}

TEST_CASE("registry JSON: enums by name or number, missing and unknown values", "[registry][json]") {
  auto status_of = [](const std::string& field) {
    return parse_model_version_response("{\"model_version\":{\"name\":\"m\",\"version\":\"1\"" + field + "}}")
        .status;
  };
  CHECK(status_of(",\"status\":\"PENDING_REGISTRATION\"") == ModelVersionStatus::kPendingRegistration);
  CHECK(status_of(",\"status\":1") == ModelVersionStatus::kPendingRegistration);
  CHECK(status_of(",\"status\":2") == ModelVersionStatus::kFailedRegistration);
  CHECK(status_of(",\"status\":\"READY\"") == ModelVersionStatus::kReady);
  CHECK(status_of("") == ModelVersionStatus::kReady);
  CHECK(status_of(",\"status\":\"SOMETHING_NEW\"") == ModelVersionStatus::kReady);
  CHECK(status_of(",\"status\":99") == ModelVersionStatus::kReady);

  auto lm_status = [](const std::string& value) {
    return parse_logged_model_response("{\"model\":{\"info\":{\"status\":" + value + "}}}").info.status;
  };
  CHECK(lm_status("\"LOGGED_MODEL_PENDING\"") == LoggedModelStatus::kPending);
  CHECK(lm_status("\"LOGGED_MODEL_READY\"") == LoggedModelStatus::kReady);
  CHECK(lm_status("\"LOGGED_MODEL_UPLOAD_FAILED\"") == LoggedModelStatus::kUploadFailed);
  CHECK(lm_status("\"LOGGED_MODEL_STATUS_UNSPECIFIED\"") == LoggedModelStatus::kUnspecified);
  CHECK(lm_status("2") == LoggedModelStatus::kReady);
  CHECK(lm_status("\"LOGGED_MODEL_NEW\"") == LoggedModelStatus::kUnspecified);

  CHECK(std::string(to_string(ModelVersionStatus::kPendingRegistration)) == "PENDING_REGISTRATION");
  CHECK(model_version_status_from_string("FAILED_REGISTRATION") == ModelVersionStatus::kFailedRegistration);
  CHECK_FALSE(model_version_status_from_string("ready").has_value());
  CHECK(std::string(to_string(LoggedModelStatus::kUploadFailed)) == "LOGGED_MODEL_UPLOAD_FAILED");
  CHECK(logged_model_status_from_string("READY") == LoggedModelStatus::kReady);
  CHECK(logged_model_status_from_string("LOGGED_MODEL_READY") == LoggedModelStatus::kReady);
  CHECK_FALSE(logged_model_status_from_string("LOGGED_MODEL_").has_value());
}

TEST_CASE("registry JSON: search pages and lists", "[registry][json]") {
  const auto page = parse_search_registered_models(
      R"({"registered_models":[{"name":"a"},{"name":"b","tags":[{"key":"k","value":"v"}]}],
          "next_page_token":"eyJvZmZzZXQiOiAyfQ=="})");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].name == "a");
  CHECK(page.items[1].tag("k") == std::optional<std::string>("v"));
  CHECK(page.next_page_token == "eyJvZmZzZXQiOiAyfQ==");

  const auto empty = parse_search_registered_models("{}");
  CHECK(empty.items.empty());
  CHECK(empty.next_page_token.empty());

  const auto versions = parse_model_versions(R"({"model_versions":[{"name":"a","version":"3"},
      {"name":"a","version":"1","aliases":[]}, 7, "junk"]})");
  REQUIRE(versions.items.size() == 2);  // non-objects are skipped
  CHECK(versions.items[0].version == "3");
  CHECK(versions.items[1].aliases.empty());

  CHECK(parse_download_uri_response(R"({"artifact_uri":"s3://b/p"})") == "s3://b/p");
  CHECK_THROWS_AS(parse_download_uri_response("{}"), ParseError);

  const auto paths = parse_artifact_list_paths(
      R"({"root_uri":"x","files":[{"path":"model/MLmodel","is_dir":false,"file_size":12},{"path":"model/data","is_dir":true}]})");
  CHECK(paths == std::vector<std::string>{"model/MLmodel", "model/data"});
  CHECK(parse_artifact_list_paths(R"({"root_uri":"x"})").empty());
}

TEST_CASE("registry JSON: a logged model, info and data", "[registry][json][logged-models]") {
  const LoggedModel m = parse_logged_model_response(kLoggedModel);
  const LoggedModelInfo& i = m.info;
  CHECK(i.model_id == "m-24973506b36146c5b0fa8fe8851826fa");
  CHECK(i.experiment_id == "1");
  CHECK(i.name == "mymodel");
  CHECK(i.creation_timestamp_ms == 1796025766783);
  CHECK(i.last_updated_timestamp_ms == 1796025767523);
  CHECK(i.artifact_uri == "mlflow-artifacts:/1/models/m-24973506b36146c5b0fa8fe8851826fa/artifacts");
  CHECK(i.status == LoggedModelStatus::kReady);
  CHECK(i.model_type == "sklearn");
  CHECK(i.source_run_id == "b189f5a527084f7e82788bfec31215d9");
  CHECK(i.creator_id == 0);
  REQUIRE(i.tags.size() == 3);
  CHECK(i.tag("a/b") == std::optional<std::string>("x"));
  CHECK(i.tag("mlflow.modelVersions") == std::optional<std::string>(R"([{"name":"rm2","version":1}])"));
  CHECK(i.registrations.empty());
  REQUIRE(m.data.params.size() == 2);
  CHECK(m.data.param("beta") == std::optional<std::string>("2"));
  CHECK_FALSE(m.data.param("gamma").has_value());
  REQUIRE(m.data.metrics.size() == 1);
  const Metric& acc = m.data.metrics[0];
  CHECK(acc.key == "acc");
  CHECK(acc.value == 0.9);
  CHECK(acc.timestamp == 1000);
  CHECK(acc.step == 3);
  CHECK(acc.model_id == i.model_id);
  CHECK(acc.run_id == i.source_run_id);

  const auto with_reg = parse_logged_model_response(
      R"({"model":{"info":{"model_id":"m-1","creator_id":"42","registrations":[{"name":"rm","version":"4"}]}}})");
  CHECK(with_reg.info.creator_id == 42);
  REQUIRE(with_reg.info.registrations.size() == 1);
  CHECK(with_reg.info.registrations[0].name == "rm");
  CHECK(with_reg.info.registrations[0].version == "4");
  CHECK(with_reg.data.params.empty());

  const auto page =
      parse_search_logged_models(R"({"models":[{"info":{"model_id":"m-a"}},{"info":{"model_id":"m-b"}}],
      "next_page_token":"tok"})");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[1].info.model_id == "m-b");
  CHECK(page.next_page_token == "tok");
}

TEST_CASE("registry JSON: answers that are not the expected object throw ParseError", "[registry][json]") {
  CHECK_THROWS_AS(parse_registered_model_response("not json"), ParseError);
  CHECK_THROWS_AS(parse_registered_model_response("[]"), ParseError);
  CHECK_THROWS_AS(parse_registered_model_response("{}"), ParseError);
  CHECK_THROWS_AS(parse_model_version_response(R"({"model_version":"x"})"), ParseError);
  CHECK_THROWS_AS(parse_logged_model_response(R"({"models":[]})"), ParseError);
  CHECK_THROWS_AS(parse_search_logged_models("{\"models\":"), ParseError);
  try {
    (void)parse_model_version_response("{}");
    FAIL("no exception");
  } catch (const ParseError& e) {
    CHECK(std::string(e.what()).find("model_version") != std::string::npos);
  }
}
