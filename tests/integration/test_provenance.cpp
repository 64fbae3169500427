// Provenance tags next to the official Python client's: in one temporary git checkout (a
// branch, a remote whose URL carries credentials), a Python script there starts a run and
// initializes a logged model with the pinned mlflow, and mlflowpp, working in that folder,
// does the same; the mlflow.user and mlflow.source.* tags must agree (all but
// mlflow.source.name: Python's is its script, ours the executable). Both backends.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "api/context.hpp"
#include "api/git_info.hpp"
#include "detail/codec/json.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "mlflowpp/mlflowpp.hpp"
#include "support/python.hpp"
#include "support/scoped.hpp"
#include "support/temp_dir.hpp"

using itest::shell_quote;
using Tags = std::map<std::string, std::string>;

namespace {

/// Runs `cmd` through the shell; its stdout and stderr, and REQUIREs exit status 0.
std::string run_ok(const std::string& cmd) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(f != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int rc = pclose(f);
  INFO(cmd << "\n" << out);
  REQUIRE((rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0));
  return out;
}

std::string git(const std::string& dir, const std::string& args) {
  return run_ok("git -C " + shell_quote(dir) +
                " -c user.name=t -c user.email=t@example.com -c commit.gpgsign=false " + args);
}

/// The keys compared: who, and where from (mlflow.source.name apart).
bool provenance_key(const std::string& k) { return k == "mlflow.user" || k.rfind("mlflow.source.", 0) == 0; }

Tags provenance(const Tags& all) {
  Tags out;
  for (const auto& [k, v] : all)
    if (provenance_key(k) && k != "mlflow.source.name") out[k] = v;
  return out;
}

Tags to_map(const std::vector<mlflowpp::RunTag>& tags) {
  Tags out;
  for (const auto& t : tags) out[t.key] = t.value;
  return out;
}

Tags to_map(const std::vector<mlflowpp::LoggedModelTag>& tags) {
  Tags out;
  for (const auto& t : tags) out[t.key] = t.value;
  return out;
}

/// The JSON object printed after `prefix` on a line of `out`.
Tags printed_map(const std::string& out, const std::string& prefix) {
  const auto at = out.find(prefix);
  REQUIRE(at != std::string::npos);
  const auto begin = at + prefix.size();
  const auto end = out.find('\n', begin);
  return to_map(mlflowpp::detail::parse_string_map(
      out.substr(begin, end == std::string::npos ? end : end - begin), prefix));
}

std::string exe_dir() {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  REQUIRE(n > 0);
  return std::filesystem::path(std::string(exe, static_cast<std::size_t>(n))).parent_path().string();
}

const char* kScript = R"py(
import json, logging, sys
logging.disable(logging.CRITICAL)
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run(experiment_id=sys.argv[2]) as run:
    model = mlflow.initialize_logged_model(name="py-model", experiment_id=sys.argv[2])
c = mlflow.MlflowClient()
print("RUN_TAGS " + json.dumps(c.get_run(run.info.run_id).data.tags))
print("MODEL_TAGS " + json.dumps(c.get_logged_model(model.model_id).tags))
)py";

}  // namespace

TEST_CASE("provenance: run and logged model tags match the Python client's in one checkout",
          "[integration][provenance]") {
  if (!testing::have_server()) return;
  const std::string python = support::python_or_skip("the Python client's tags");
  if (python.empty()) return;

  const support::TempDir dir("itest-provenance");
  const std::string repo = dir.str();
  git(repo, "init -q");
  git(repo, "checkout -q -b feature/provenance");
  { std::ofstream(dir / "train.py") << kScript; }
  git(repo, "add train.py");
  git(repo, "commit -q -m first");
  git(repo, "remote add origin https://ci-bot:s3cret@example.com/team/models.git");
  git(repo, "remote add backup https://backup.example.com/team/models.git");

  auto client = itest::fresh_client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-provenance"));

  // Python: the script in the checkout, run from it.
  const std::string out =
      run_ok("cd " + shell_quote(repo) + " && MLFLOW_DISABLE_TELEMETRY=true " + shell_quote(python) +
             " train.py " + shell_quote(testing::tracking_uri()) + " " + shell_quote(exp));
  INFO(out);
  const Tags py_run = printed_map(out, "RUN_TAGS ");
  const Tags py_model = printed_map(out, "MODEL_TAGS ");

  // mlflowpp in the same working folder. The test binary lies in this project's checkout,
  // whose folder is looked at before the working folder: name the checkout explicitly then.
  const support::Cwd cwd(repo);
  std::optional<itest::EnvGuard> source;
  if (!mlflowpp::detail::read_git_info(exe_dir()).commit.empty())
    source.emplace("MLFLOWPP_GIT_SOURCE_DIR", repo.c_str());
  itest::EnvGuard no_ctx("MLFLOW_RUN_CONTEXT", nullptr);

  mlflowpp::StartRunOptions so;
  so.experiment_id = exp;
  auto run = client.start_run(so);
  REQUIRE(run.end().status_set);
  mlflowpp::CreateLoggedModelOptions co;
  co.name = "cpp-model";
  co.source_run_id = run.run_id();
  const auto model = client.create_logged_model(exp, co);
  const Tags cpp_run = to_map(client.get_run(run.run_id()).data.tags);
  const Tags cpp_model = to_map(client.get_logged_model(model.info.model_id).info.tags);

  // Python's set, exactly: user, type and the three git tags (the first remote, stripped).
  const std::string commit = git(repo, "rev-parse HEAD").substr(0, 40);
  const Tags expected = {{"mlflow.user", py_run.at("mlflow.user")},
                         {"mlflow.source.type", "LOCAL"},
                         {"mlflow.source.git.commit", commit},
                         {"mlflow.source.git.branch", "feature/provenance"},
                         {"mlflow.source.git.repoURL", "https://example.com/team/models.git"}};
  CHECK(provenance(py_run) == expected);
  CHECK(provenance(py_model) == expected);
  CHECK(provenance(cpp_run) == expected);
  CHECK(provenance(cpp_model) == expected);
  CHECK(py_run.at("mlflow.source.name") == "train.py");
  CHECK(cpp_run.at("mlflow.source.name") == mlflowpp::detail::source_name());
  CHECK(cpp_model.at("mlflow.source.name") == mlflowpp::detail::source_name());
  for (const auto* tags : {&cpp_run, &cpp_model, &py_run, &py_model})
    for (const auto& [k, v] : *tags) CHECK(v.find("s3cret") == std::string::npos);
}

TEST_CASE("provenance: a logged model's own tags override the system tags, which can be left out",
          "[integration][provenance]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-provenance-override"));
  itest::EnvGuard no_ctx("MLFLOW_RUN_CONTEXT", nullptr);

  mlflowpp::CreateLoggedModelOptions co;
  co.tags = {{"mlflow.source.git.commit", "0123abcd"}, {"mlflow.source.name", "trainer"}, {"k", "v"}};
  const Tags t = to_map(client.create_logged_model(exp, co).info.tags);
  CHECK(t.at("mlflow.source.git.commit") == "0123abcd");
  CHECK(t.at("mlflow.source.name") == "trainer");
  CHECK(t.at("mlflow.source.type") == "LOCAL");
  CHECK(t.at("mlflow.user") == mlflowpp::detail::current_user(client.options().username));
  CHECK(t.at("k") == "v");

  co.system_tags = false;
  const Tags bare = to_map(client.create_logged_model(exp, co).info.tags);
  CHECK(bare ==
        Tags{{"mlflow.source.git.commit", "0123abcd"}, {"mlflow.source.name", "trainer"}, {"k", "v"}});
}
