// The model registry cross-checked with MLflow's official Python client
// (tests/integration/registry_readback.py): a registered model built from C++ is read back
// by MlflowClient exactly, and one built by MlflowClient is read back from C++ exactly.
#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/python.hpp"

namespace {

using itest::append_json_map;
using itest::append_json_string;

struct VersionSpec {
  std::string version;
  std::string source;
  std::string run_id;
  std::string description;
  std::map<std::string, std::string> tags;
  std::vector<std::string> aliases;
};

struct ModelSpec {
  std::string name;
  std::string description;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> aliases;  // alias -> version
  std::vector<VersionSpec> versions;
};

// JSON written by the tests' own writer (itest_util.hpp), not mlflowpp's, so that a bug in
// the library's serialization cannot cancel out in the comparison.
std::string to_json(const ModelSpec& s) {
  std::string out = "{\"name\":";
  append_json_string(out, s.name);
  out += ",\"description\":";
  append_json_string(out, s.description);
  out += ",\"tags\":";
  append_json_map(out, s.tags);
  out += ",\"aliases\":";
  append_json_map(out, s.aliases);
  out += ",\"versions\":[";
  for (std::size_t i = 0; i < s.versions.size(); ++i) {
    const auto& v = s.versions[i];
    if (i > 0) out += ',';
    out += "{\"version\":";
    append_json_string(out, v.version);
    out += ",\"source\":";
    append_json_string(out, v.source);
    out += ",\"run_id\":";
    append_json_string(out, v.run_id);
    out += ",\"description\":";
    append_json_string(out, v.description);
    out += ",\"tags\":";
    append_json_map(out, v.tags);
    out += ",\"aliases\":[";
    for (std::size_t j = 0; j < v.aliases.size(); ++j) {
      if (j > 0) out += ',';
      append_json_string(out, v.aliases[j]);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

using itest::read_file;
using itest::shell_quote;

struct PyResult {
  int exit_code = -1;
  std::string output;
};

// Runs registry_readback.py `command` with the spec written to a file.
PyResult run_script(const std::string& python, const std::string& command, const ModelSpec& spec,
                    bool keep_files_on_failure = true) {
  const std::string base = std::string(MLFLOWPP_BINARY_DIR) + "/" + testing::unique_name("itest-regreadback");
  const std::string json_path = base + ".json";
  const std::string log_path = base + ".log";
  {
    std::ofstream f(json_path, std::ios::binary);
    f << to_json(spec);
  }
  const std::string flag = command == "verify" ? " --expected " : " --spec ";
  const std::string cmd =
      shell_quote(python) + " " +
      shell_quote(std::string(MLFLOWPP_SOURCE_DIR) + "/tests/integration/registry_readback.py") +
      " --tracking-uri " + shell_quote(testing::tracking_uri()) + " " + command + flag +
      shell_quote(json_path) + " > " + shell_quote(log_path) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  PyResult r;
  r.exit_code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  r.output = read_file(log_path);
  if (r.exit_code == 0 || !keep_files_on_failure) {
    std::remove(json_path.c_str());
    std::remove(log_path.c_str());
  }
  return r;
}

using support::python_or_skip;

template <typename Tags>
std::map<std::string, std::string> tag_map(const Tags& tags) {
  std::map<std::string, std::string> m;
  for (const auto& t : tags) m[t.key] = t.value;
  return m;
}

}  // namespace

TEST_CASE("registry readback: a registered model built from C++ is what MlflowClient reads",
          "[integration][registry][readback]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;

  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-regreadback"));
  const auto run = client.create_run(exp);
  const std::string run_id = run.info.run_id;

  ModelSpec want;
  want.name = testing::unique_name("itest-regreadback-cpp");
  want.description = "digits classifier, \"quoted\" and grün ✓\nsecond line";
  client.create_registered_model(want.name, {{"team", "ml"}, {"unicode", "损失 ✓"}}, want.description);
  client.set_registered_model_tag(want.name, "added", "later");
  client.set_registered_model_tag(want.name, "removed", "soon");
  client.delete_registered_model_tag(want.name, "removed");
  want.tags = {{"team", "ml"}, {"unicode", "损失 ✓"}, {"added", "later"}};

  mlflowpp::CreateModelVersionOptions o1;
  o1.run_id = run_id;
  o1.tags = {{"stage", "candidate"}};
  o1.description = "first";
  auto v1 = client.create_model_version(want.name, "runs:/" + run_id + "/model", o1);
  mlflowpp::RegisterModelOptions ro;
  ro.tags = {{"k", "v"}, {"empty", ""}};
  ro.description = "second";
  auto v2 = client.register_model("runs:/" + run_id + "/model2", want.name, ro);
  auto v3 = client.create_model_version(want.name, "s3://mlflowpp-test-bucket/v3");
  REQUIRE(v1.version == "1");
  REQUIRE(v2.version == "2");
  REQUIRE(v3.version == "3");
  client.update_model_version(want.name, "3", "third, updated");
  client.set_model_version_tag(want.name, "3", "late", "tag");

  client.set_registered_model_alias(want.name, "champion", "1");
  client.set_registered_model_alias(want.name, "champion", "2");  // moved
  client.set_registered_model_alias(want.name, "challenger", "1");
  client.set_registered_model_alias(want.name, "old_best-1", "1");
  want.aliases = {{"champion", "2"}, {"challenger", "1"}, {"old_best-1", "1"}};
  want.versions = {
      {"1",
       "runs:/" + run_id + "/model",
       run_id,
       "first",
       {{"stage", "candidate"}},
       {"challenger", "old_best-1"}},
      {"2", run.info.artifact_uri + "/model2", run_id, "second", {{"k", "v"}, {"empty", ""}}, {"champion"}},
      {"3", "s3://mlflowpp-test-bucket/v3", "", "third, updated", {{"late", "tag"}}, {}},
  };

  const auto ok = run_script(python, "verify", want);
  INFO("registry_readback.py output:\n" << ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(itest::contains(ok.output, "registry_readback: OK (3 versions, 3 tags, 3 aliases)"));

  // The comparison itself must be able to fail.
  ModelSpec tampered = want;
  tampered.aliases["champion"] = "1";
  tampered.versions[1].description = "2nd";
  tampered.tags["team"] = "platform";
  const auto bad = run_script(python, "verify", tampered, false);
  INFO("registry_readback.py output (tampered):\n" << bad.output);
  CHECK(bad.exit_code == 1);
  CHECK(itest::contains(bad.output, "MISMATCH alias \"champion\": expected \"1\", got \"2\""));
  CHECK(itest::contains(bad.output,
                        "MISMATCH get_model_version_by_alias(\"champion\"): expected \"1\", got \"2\""));
  CHECK(itest::contains(bad.output, "MISMATCH version 2 description"));
  CHECK(itest::contains(bad.output, "MISMATCH registered model tag \"team\""));
  client.delete_registered_model(want.name);
}

TEST_CASE("registry readback: a registered model built by MlflowClient is what C++ reads",
          "[integration][registry][readback]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;

  ModelSpec spec;
  spec.name = testing::unique_name("itest-regreadback-py");
  spec.description = "made in Python ✓ \"q\"";
  spec.tags = {{"owner", "py"}, {"unicode", "grün 损失"}};
  spec.versions = {
      {"1", "s3://mlflowpp-test-bucket/py1", "", "py one", {{"x", "1"}, {"y", "two"}}, {"shadow"}},
      {"2", "s3://mlflowpp-test-bucket/py2", "", "", {}, {"champion"}},
  };
  spec.aliases = {{"champion", "2"}, {"shadow", "1"}};

  const auto created = run_script(python, "create", spec);
  INFO("registry_readback.py output:\n" << created.output);
  REQUIRE(created.exit_code == 0);
  CHECK(itest::contains(created.output, "registry_readback: CREATED " + spec.name));

  auto client = testing::client();
  const mlflowpp::RegisteredModel m = client.get_registered_model(spec.name);
  CHECK(m.name == spec.name);
  CHECK(m.description == spec.description);
  CHECK(tag_map(m.tags) == spec.tags);
  std::map<std::string, std::string> aliases;
  for (const auto& a : m.aliases) aliases[a.alias] = a.version;
  CHECK(aliases == spec.aliases);

  for (const auto& want : spec.versions) {
    INFO("version " << want.version);
    const mlflowpp::ModelVersion v = client.get_model_version(spec.name, want.version);
    CHECK(v.name == spec.name);
    CHECK(v.version == want.version);
    CHECK(v.source == want.source);
    CHECK(v.run_id.empty());
    CHECK(v.description == want.description);
    CHECK(v.status == mlflowpp::ModelVersionStatus::kReady);
    CHECK(tag_map(v.tags) == want.tags);
    auto got_aliases = v.aliases;
    std::sort(got_aliases.begin(), got_aliases.end());
    CHECK(got_aliases == want.aliases);
  }
  CHECK(client.get_model_version_by_alias(spec.name, "champion").version == "2");
  CHECK(client.get_model_version_by_alias(spec.name, "shadow").version == "1");
  mlflowpp::SearchModelVersionsOptions so;
  so.filter_string = "name = '" + spec.name + "'";
  std::vector<std::string> versions;
  for (const auto& v : client.search_all_model_versions(so)) versions.push_back(v.version);
  std::sort(versions.begin(), versions.end());
  CHECK(versions == std::vector<std::string>{"1", "2"});
  client.delete_registered_model(spec.name);
}
