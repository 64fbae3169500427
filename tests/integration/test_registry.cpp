// The model registry against the real server: registered models, versions, tags,
// aliases, stages, search paging, register_model, and the server's errors; plus a check
// that every input the client refuses up front is refused by the server too.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "detail/http/http.hpp"
#include "detail/rest/rest.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::Client;
using mlflowpp::InvalidArgumentError;
using mlflowpp::ModelVersion;
using mlflowpp::ModelVersionStatus;
using mlflowpp::RegisteredModel;
using mlflowpp::ServerError;

namespace {

std::vector<std::string> names_of(const std::vector<RegisteredModel>& models) {
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.name);
  return names;
}

std::vector<std::string> versions_of(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> out;
  for (const auto& v : versions) out.push_back(v.version);
  return out;
}

std::map<std::string, std::string> tag_map(const std::vector<mlflowpp::RegisteredModelTag>& tags) {
  std::map<std::string, std::string> m;
  for (const auto& t : tags) m[t.key] = t.value;
  return m;
}

std::map<std::string, std::string> tag_map(const std::vector<mlflowpp::ModelVersionTag>& tags) {
  std::map<std::string, std::string> m;
  for (const auto& t : tags) m[t.key] = t.value;
  return m;
}

// A run to register versions from (the server checks that a source belongs to its run).
mlflowpp::Run make_run(Client& client, const std::string& prefix) {
  const std::string exp = client.create_experiment(testing::unique_name(prefix));
  return client.create_run(exp);
}

template <typename F>
ServerError server_error(F&& f) {
  auto e = itest::thrown<ServerError>(std::forward<F>(f));
  REQUIRE(e.has_value());
  return *e;
}

}  // namespace

TEST_CASE("registry: registered model create, get, update, rename, tags, delete", "[integration][registry]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-rm");
  const int64_t before = testing::now_ms();

  const std::string long_value(100000, 'x');  // the registry tag value limit, exactly
  RegisteredModel created = client.create_registered_model(
      name, {{"team", "ml"}, {"note", "grün \"q\""}, {"big", long_value}}, "first");
  CHECK(created.name == name);
  CHECK(created.description == "first");
  CHECK(created.creation_timestamp >= before - 5000);
  CHECK(created.creation_timestamp <= testing::now_ms() + 5000);
  CHECK(created.latest_versions.empty());

  RegisteredModel got = client.get_registered_model(name);
  CHECK(got.name == name);
  CHECK(got.description == "first");
  CHECK(got.creation_timestamp == created.creation_timestamp);
  CHECK(tag_map(got.tags) ==
        std::map<std::string, std::string>{{"team", "ml"}, {"note", "grün \"q\""}, {"big", long_value}});
  CHECK(got.aliases.empty());

  // Already exists: HTTP 400 RESOURCE_ALREADY_EXISTS.
  auto dup = server_error([&] { client.create_registered_model(name); });
  CHECK(dup.http_status() == 400);
  CHECK(dup.error_code() == "RESOURCE_ALREADY_EXISTS");
  CHECK(dup.is_already_exists());

  // Does not exist: HTTP 404 RESOURCE_DOES_NOT_EXIST.
  auto missing = server_error([&] { client.get_registered_model(name + "-missing"); });
  CHECK(missing.http_status() == 404);
  CHECK(missing.is_not_found());
  CHECK(itest::contains(missing.server_message(), name + "-missing"));

  // update (description; "" clears it).
  CHECK(client.update_registered_model(name, "second").description == "second");
  CHECK(client.get_registered_model(name).description == "second");
  CHECK(client.update_registered_model(name, "").description.empty());
  CHECK(client.get_registered_model(name).description.empty());
  CHECK(client.get_registered_model(name).last_updated_timestamp >= created.last_updated_timestamp);

  // tags: set (overwrite and new), delete, delete an absent key (no error on 3.18).
  client.set_registered_model_tag(name, "team", "platform");
  client.set_registered_model_tag(name, "stage", "");
  client.delete_registered_model_tag(name, "note");
  client.delete_registered_model_tag(name, "never-set");
  client.delete_registered_model_tag(name, "big");
  CHECK(tag_map(client.get_registered_model(name).tags) ==
        std::map<std::string, std::string>{{"team", "platform"}, {"stage", ""}});
  CHECK(server_error([&] { client.set_registered_model_tag(name + "-missing", "k", "v"); }).is_not_found());

  // rename: the old name is gone, the tags follow.
  const std::string renamed = name + "-renamed";
  CHECK(client.rename_registered_model(name, renamed).name == renamed);
  CHECK(server_error([&] { client.get_registered_model(name); }).is_not_found());
  CHECK(tag_map(client.get_registered_model(renamed).tags).at("team") == "platform");
  // renaming onto an existing name
  const std::string other = name + "-other";
  client.create_registered_model(other);
  CHECK(server_error([&] { client.rename_registered_model(renamed, other); }).is_already_exists());

  // delete
  client.delete_registered_model(renamed);
  CHECK(server_error([&] { client.get_registered_model(renamed); }).is_not_found());
  CHECK(server_error([&] { client.delete_registered_model(renamed); }).is_not_found());
  client.delete_registered_model(other);
}

TEST_CASE("registry: model versions, tags, stages, latest versions, download URI",
          "[integration][registry]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-mv");
  const auto run = make_run(client, "itest-mv-exp");
  const std::string run_id = run.info.run_id;
  client.create_registered_model(name);

  // The registered model must exist.
  mlflowpp::CreateModelVersionOptions of_run;
  of_run.run_id = run_id;
  auto no_model =
      server_error([&] { client.create_model_version(name + "-missing", "runs:/" + run_id + "/m", of_run); });
  CHECK(no_model.http_status() == 404);
  CHECK(no_model.is_not_found());

  const int64_t before = testing::now_ms();
  mlflowpp::CreateModelVersionOptions o1 = of_run;
  o1.tags = {{"k", "v"}, {"unicode", "✓ 损失"}};
  o1.run_link = "http://example.com/run";
  o1.description = "v one";
  ModelVersion v1 = client.create_model_version(name, "runs:/" + run_id + "/model", o1);
  CHECK(v1.name == name);
  CHECK(v1.version == "1");
  CHECK(v1.status == ModelVersionStatus::kReady);  // MLflow's SQL registry: READY at once
  CHECK(v1.source == "runs:/" + run_id + "/model");
  CHECK(v1.run_id == run_id);
  CHECK(v1.run_link == "http://example.com/run");
  CHECK(v1.description == "v one");
  CHECK(v1.current_stage == "None");
  CHECK(v1.creation_timestamp >= before - 5000);
  CHECK(tag_map(v1.tags) == std::map<std::string, std::string>{{"k", "v"}, {"unicode", "✓ 损失"}});

  const std::string art_source = run.info.artifact_uri + "/model2";
  ModelVersion v2 = client.create_model_version(name, art_source, of_run);
  CHECK(v2.version == "2");
  ModelVersion v3 = client.create_model_version(name, "s3://mlflowpp-test-bucket/model3");
  CHECK(v3.version == "3");
  CHECK(v3.run_id.empty());

  // A source outside the run is refused by the server (its request handler checks it; a
  // store, MLflow's SQL store under the Python client included, does not: not the local one).
  if (!testing::local_backend()) {
    auto foreign = server_error(
        [&] { client.create_model_version(name, "mlflow-artifacts:/0/elsewhere/model", of_run); });
    CHECK(foreign.http_status() == 400);
    CHECK(foreign.error_code() == "INVALID_PARAMETER_VALUE");
  } else {
    // The local store accepts it, as MLflow's SQL store does: the version stores the source
    // as given (also its storage location, which the download URI reads) and the run id.
    const std::string other = name + "-foreign";
    client.create_registered_model(other);
    const std::string foreign_source = "mlflow-artifacts:/0/elsewhere/model";
    ModelVersion f = client.create_model_version(other, foreign_source, of_run);
    CHECK(f.version == "1");
    CHECK(f.source == foreign_source);
    CHECK(f.run_id == run_id);
    const ModelVersion fg = client.get_model_version(other, "1");
    CHECK(fg.source == foreign_source);
    CHECK(fg.run_id == run_id);
    CHECK(client.get_model_version_download_uri(other, "1") == foreign_source);
    client.delete_registered_model(other);
  }

  // get reads back what was created.
  ModelVersion g1 = client.get_model_version(name, "1");
  CHECK(g1.version == "1");
  CHECK(g1.source == v1.source);
  CHECK(g1.run_id == run_id);
  CHECK(g1.description == "v one");
  CHECK(g1.creation_timestamp == v1.creation_timestamp);
  CHECK(tag_map(g1.tags) == tag_map(v1.tags));
  CHECK(client.get_model_version(name, "2").source == art_source);

  // Not found, and versions that are not integers (refused on the client; see the last test).
  auto nf = server_error([&] { client.get_model_version(name, "99"); });
  CHECK(nf.http_status() == 404);
  CHECK(nf.is_not_found());
  CHECK(itest::thrown<InvalidArgumentError>([&] { client.get_model_version(name, "one"); }).has_value());

  // update description
  CHECK(client.update_model_version(name, "2", "v two").description == "v two");
  CHECK(client.get_model_version(name, "2").description == "v two");

  // version tags
  client.set_model_version_tag(name, "1", "k", "v2");
  client.set_model_version_tag(name, "1", "added", "yes");
  client.delete_model_version_tag(name, "1", "unicode");
  client.delete_model_version_tag(name, "1", "never-set");
  CHECK(tag_map(client.get_model_version(name, "1").tags) ==
        std::map<std::string, std::string>{{"k", "v2"}, {"added", "yes"}});
  CHECK(server_error([&] { client.set_model_version_tag(name, "42", "k", "v"); }).is_not_found());

  // download URIs: the source for runs:/ and storage URIs.
  CHECK(client.get_model_version_download_uri(name, "1") == "runs:/" + run_id + "/model");
  CHECK(client.get_model_version_download_uri(name, "2") == art_source);
  CHECK(client.get_model_version_download_uri(name, "3") == "s3://mlflowpp-test-bucket/model3");

  // stages (deprecated, still served) and get_latest_versions
  CHECK(client.transition_model_version_stage(name, "1", "Production").current_stage == "Production");
  CHECK(client.transition_model_version_stage(name, "2", "staging").current_stage == "Staging");
  auto prod = client.get_latest_versions(name, {"Production"});
  REQUIRE(prod.size() == 1);
  CHECK(prod[0].version == "1");
  auto latest = client.get_latest_versions(name);
  std::map<std::string, std::string> stage_to_version;
  for (const auto& v : latest) stage_to_version[v.current_stage] = v.version;
  CHECK(stage_to_version ==
        std::map<std::string, std::string>{{"Production", "1"}, {"Staging", "2"}, {"None", "3"}});
  // archive_existing_versions moves the current Production version to Archived.
  CHECK(client.transition_model_version_stage(name, "3", "Production", true).current_stage == "Production");
  CHECK(client.get_model_version(name, "1").current_stage == "Archived");
  CHECK(versions_of(client.get_latest_versions(name, {"Production"})) == std::vector<std::string>{"3"});
  auto bad_stage = server_error([&] { client.transition_model_version_stage(name, "3", "Bogus"); });
  CHECK(bad_stage.http_status() == 400);
  CHECK(bad_stage.error_code() == "INVALID_PARAMETER_VALUE");

  // The registered model shows its latest versions.
  CHECK(client.get_registered_model(name).latest_versions.size() == 3);

  // wait_for_model_version_ready: READY at once against MLflow's own registry; errors
  // from the lookup propagate.
  CHECK(client.wait_for_model_version_ready(name, "2").version == "2");
  CHECK(server_error([&] { client.wait_for_model_version_ready(name, "77"); }).is_not_found());

  // delete a version
  client.delete_model_version(name, "2");
  CHECK(server_error([&] { client.get_model_version(name, "2"); }).is_not_found());
  mlflowpp::SearchModelVersionsOptions so;
  so.filter_string = "name = '" + name + "'";
  so.order_by = {"version_number ASC"};
  CHECK(versions_of(client.search_all_model_versions(so)) == std::vector<std::string>{"1", "3"});
  client.delete_registered_model(name);
}

TEST_CASE("registry: aliases point at versions, move, and are deleted", "[integration][registry]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-alias");
  client.create_registered_model(name);
  client.create_model_version(name, "s3://mlflowpp-test-bucket/a1");
  client.create_model_version(name, "s3://mlflowpp-test-bucket/a2");

  client.set_registered_model_alias(name, "champion", "1");
  client.set_registered_model_alias(name, "challenger_2-b", "2");
  ModelVersion champ = client.get_model_version_by_alias(name, "champion");
  CHECK(champ.version == "1");
  CHECK(champ.source == "s3://mlflowpp-test-bucket/a1");
  CHECK(champ.aliases == std::vector<std::string>{"champion"});
  CHECK(client.get_model_version(name, "2").aliases == std::vector<std::string>{"challenger_2-b"});
  RegisteredModel m = client.get_registered_model(name);
  CHECK(m.alias_version("champion") == std::optional<std::string>("1"));
  CHECK(m.alias_version("challenger_2-b") == std::optional<std::string>("2"));
  CHECK(m.aliases.size() == 2);

  // Moving an alias.
  client.set_registered_model_alias(name, "champion", "2");
  CHECK(client.get_model_version_by_alias(name, "champion").version == "2");
  auto v2 = client.get_model_version(name, "2");
  std::sort(v2.aliases.begin(), v2.aliases.end());
  CHECK(v2.aliases == std::vector<std::string>{"challenger_2-b", "champion"});
  CHECK(client.get_model_version(name, "1").aliases.empty());

  // An alias on a missing version: 404.
  CHECK(server_error([&] { client.set_registered_model_alias(name, "ghost", "9"); }).is_not_found());

  // Deleting; an unknown alias is answered 400 INVALID_PARAMETER_VALUE (not 404) by 3.18.
  client.delete_registered_model_alias(name, "champion");
  client.delete_registered_model_alias(name, "never-set");  // no error
  auto gone = server_error([&] { client.get_model_version_by_alias(name, "champion"); });
  CHECK(gone.http_status() == 400);
  CHECK(gone.error_code() == "INVALID_PARAMETER_VALUE");
  CHECK(itest::contains(gone.server_message(), "champion"));
  CHECK(client.get_registered_model(name).aliases.size() == 1);

  // Reserved names never reach the server.
  for (const char* reserved : {"latest", "LATEST", "Latest", "v1", "V22"}) {
    auto e =
        itest::thrown<InvalidArgumentError>([&] { client.set_registered_model_alias(name, reserved, "1"); });
    REQUIRE(e.has_value());
    CHECK(itest::contains(e->what(), "reserved"));
  }
  // Deleting the version removes its aliases.
  client.delete_model_version(name, "2");
  CHECK(client.get_registered_model(name).aliases.empty());
  client.delete_registered_model(name);
}

TEST_CASE("registry: search paging with max_results 2 over 5 models and 5 versions",
          "[integration][registry]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string prefix = testing::unique_name("itest-rmsearch");
  for (const char* suffix : {"c", "a", "e", "b", "d"})
    client.create_registered_model(prefix + "-" + suffix,
                                   {{"group", std::string(suffix) < "c" ? "low" : "high"}});
  const std::vector<std::string> asc = {prefix + "-a", prefix + "-b", prefix + "-c", prefix + "-d",
                                        prefix + "-e"};

  mlflowpp::SearchRegisteredModelsOptions o;
  o.filter_string = "name LIKE '" + prefix + "-%'";
  o.order_by = {"name ASC"};
  o.max_results = 2;
  auto p1 = client.search_registered_models(o);
  CHECK(names_of(p1.items) == std::vector<std::string>{asc[0], asc[1]});
  REQUIRE_FALSE(p1.next_page_token.empty());
  o.page_token = p1.next_page_token;
  auto p2 = client.search_registered_models(o);
  CHECK(names_of(p2.items) == std::vector<std::string>{asc[2], asc[3]});
  REQUIRE_FALSE(p2.next_page_token.empty());
  o.page_token = p2.next_page_token;
  auto p3 = client.search_registered_models(o);
  CHECK(names_of(p3.items) == std::vector<std::string>{asc[4]});
  CHECK(p3.next_page_token.empty());

  o.page_token.clear();
  CHECK(names_of(client.search_all_registered_models(o)) == asc);
  o.order_by = {"name DESC"};
  CHECK(names_of(client.search_all_registered_models(o)) ==
        std::vector<std::string>(asc.rbegin(), asc.rend()));
  o.filter_string += " AND tags.group = 'low'";
  o.order_by = {"name ASC"};
  CHECK(names_of(client.search_all_registered_models(o)) == std::vector<std::string>{asc[0], asc[1]});

  // Model versions of one model, paged the same way.
  const std::string name = asc[0];
  for (int i = 0; i < 5; ++i)
    client.create_model_version(name, "s3://mlflowpp-test-bucket/v" + std::to_string(i));
  mlflowpp::SearchModelVersionsOptions vo;
  vo.filter_string = "name = '" + name + "'";
  vo.order_by = {"version_number DESC"};
  vo.max_results = 2;
  auto v1 = client.search_model_versions(vo);
  CHECK(versions_of(v1.items) == std::vector<std::string>{"5", "4"});
  REQUIRE_FALSE(v1.next_page_token.empty());
  CHECK(versions_of(client.search_all_model_versions(vo)) ==
        std::vector<std::string>{"5", "4", "3", "2", "1"});

  // The server's limit on registered model pages is refused before sending.
  o.max_results = 1001;
  CHECK(itest::thrown<InvalidArgumentError>([&] { client.search_registered_models(o); }).has_value());
  for (const auto& n : asc) client.delete_registered_model(n);
}

TEST_CASE("registry: register_model creates the model once and resolves runs:/ URIs",
          "[integration][registry]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-register");
  const auto run = make_run(client, "itest-register-exp");
  const std::string run_id = run.info.run_id;

  mlflowpp::RegisterModelOptions o;
  o.tags = {{"source", "cpp"}};
  o.description = "registered from C++";
  ModelVersion v1 = client.register_model("runs:/" + run_id + "/model", name, o);
  CHECK(v1.name == name);
  CHECK(v1.version == "1");
  CHECK(v1.status == ModelVersionStatus::kReady);
  // As the Python client: the run's artifact location plus the path, with the run id.
  CHECK(v1.source == run.info.artifact_uri + "/model");
  CHECK(v1.run_id == run_id);
  CHECK(v1.description == "registered from C++");
  CHECK(v1.tag("source") == std::optional<std::string>("cpp"));

  // The registered model exists now; registering again adds a version.
  CHECK(client.get_registered_model(name).name == name);
  ModelVersion v2 = client.register_model("runs:/" + run_id + "/other/path", name);
  CHECK(v2.version == "2");
  CHECK(v2.source == run.info.artifact_uri + "/other/path");
  // A storage URI goes through unchanged.
  CHECK(client.register_model("s3://mlflowpp-test-bucket/x", name).source == "s3://mlflowpp-test-bucket/x");
  CHECK(client.get_registered_model(name).latest_versions.size() == 1);
  mlflowpp::SearchModelVersionsOptions so;
  so.filter_string = "name = '" + name + "'";
  CHECK(client.search_all_model_versions(so).size() == 3);

  // An unknown run: the run lookup's 404.
  CHECK(server_error([&] {
          client.register_model("runs:/0123456789abcdef0123456789abcdef/m", name);
        }).is_not_found());
  client.delete_registered_model(name);
}

TEST_CASE("registry: the server refuses what the client refuses up front", "[integration][registry][rest]") {
  // The client-side checks mirror the server; send the same inputs raw to prove it.
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string name = testing::unique_name("itest-rmvalid");
  client.create_registered_model(name);
  client.create_model_version(name, "s3://mlflowpp-test-bucket/valid");

  auto options = testing::options();
  mlflowpp::detail::RestClient raw(options, mlflowpp::detail::make_curl_transport(options));
  auto refused_by_server = [&](const char* method, const std::string& endpoint, const std::string& body) {
    INFO(method << " " << endpoint << " " << body);
    auto e = itest::thrown<ServerError>([&] { raw.call(method, endpoint, body); });
    REQUIRE(e.has_value());
    CHECK(e->http_status() == 400);
    CHECK(e->error_code() == "INVALID_PARAMETER_VALUE");
    return e->server_message();
  };
  auto refused_by_client = [&](auto&& f) {
    CHECK(itest::thrown<InvalidArgumentError>(std::forward<decltype(f)>(f)).has_value());
  };

  // Names with '/' or ':' (since 3.11), path-like names, blank names.
  for (const std::string bad :
       {name + "/x", name + ":x", std::string(".."), std::string("..x"), std::string("  ")}) {
    refused_by_server("POST", "/mlflow/registered-models/create", "{\"name\":\"" + bad + "\"}");
    refused_by_client([&] { client.create_registered_model(bad); });
  }
  // Reserved and malformed aliases.
  for (const std::string bad : {"latest", "LaTeSt", "v1", "V12", "a b", "a.b"}) {
    refused_by_server("POST", "/mlflow/registered-models/alias",
                      "{\"name\":\"" + name + "\",\"alias\":\"" + bad + "\",\"version\":\"1\"}");
    refused_by_client([&] { client.set_registered_model_alias(name, bad, "1"); });
  }
  // Versions that are not integers.
  for (const std::string bad : {"abc", "1.5"}) {
    refused_by_server(
        "POST", "/mlflow/model-versions/set-tag",
        "{\"name\":\"" + name + "\",\"version\":\"" + bad + "\",\"key\":\"k\",\"value\":\"v\"}");
    refused_by_client([&] { client.set_model_version_tag(name, bad, "k", "v"); });
  }
  // Tag keys and values over the registry limits.
  refused_by_server("POST", "/mlflow/registered-models/set-tag",
                    "{\"name\":\"" + name + "\",\"key\":\"" + std::string(251, 'k') + "\",\"value\":\"v\"}");
  refused_by_client([&] { client.set_registered_model_tag(name, std::string(251, 'k'), "v"); });
  refused_by_server("POST", "/mlflow/model-versions/set-tag",
                    "{\"name\":\"" + name + "\",\"version\":\"1\",\"key\":\"k\",\"value\":\"" +
                        std::string(100001, 'v') + "\"}");
  refused_by_client([&] { client.set_model_version_tag(name, "1", "k", std::string(100001, 'v')); });
  // What the client accepts at the limits, the server accepts too.
  client.set_registered_model_alias(name, std::string(255, 'a'), "1");
  client.set_registered_model_alias(name, "v1x", "1");
  client.set_registered_model_tag(name, std::string(250, 'k'), std::string(100000, 'v'));
  auto m = client.get_registered_model(name);
  CHECK(m.alias_version(std::string(255, 'a')) == std::optional<std::string>("1"));
  CHECK(m.alias_version("v1x") == std::optional<std::string>("1"));
  CHECK(m.tag(std::string(250, 'k')) == std::optional<std::string>(std::string(100000, 'v')));
  client.delete_registered_model(name);
}
