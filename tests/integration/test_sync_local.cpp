// mlflowpp-sync --from (tools/sync_local.cpp) against the real server: a database written by
// the embedded local store in a scratch folder is copied into the test server, read back with
// the C++ client and compared field by field, synced again (nothing is created twice), then
// grown and ended locally and synced a third time.
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "integration/sync_tool_util.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using mlflowpp::Client;
using mlflowpp::Metric;
using mlflowpp::Run;
using mlflowpp::RunStatus;

constexpr const char* kSourceTag = "mlflowpp.sync.sourceRunId";

using itest::ToolResult;

ToolResult run_tool(const std::string& args, const std::string& env = "") {
  return itest::run_sync_tool(args, env);
}

bool have_tool() { return itest::have_sync_tool(); }

/// Works in `dir` for the scope: the local store puts artifacts under ./mlruns.
class CwdGuard {
 public:
  explicit CwdGuard(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~CwdGuard() {
    std::error_code ec;
    fs::current_path(old_, ec);
  }
  CwdGuard(const CwdGuard&) = delete;
  CwdGuard& operator=(const CwdGuard&) = delete;

 private:
  fs::path old_;
};

void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::vector<Metric> points(const std::string& key, int64_t from_step, int64_t to_step, int64_t t0) {
  std::vector<Metric> out;
  for (int64_t s = from_step; s < to_step; ++s)
    out.push_back(
        itest::metric(key, 1.0 / static_cast<double>(s + 1) + (key == "acc" ? 0.5 : 0.0), t0 + 10 * s, s));
  return out;
}

/// Writes one run into the local database: params, tags, 2,500 "loss" points, 3 "acc"
/// points, a dataset input, a file at the root and a nested folder of artifacts.
std::string make_local_run(Client& local, const std::string& exp_id, const fs::path& scratch,
                           const std::string& name, int64_t t0) {
  mlflowpp::CreateRunOptions co;
  co.run_name = name;
  co.start_time = t0;
  co.tags = {{"phase", "train"}};
  const std::string id = local.create_run(exp_id, co).info.run_id;
  local.log_batch(id, points("loss", 0, 2500, t0), {{"lr", "0.01"}, {"layers", "3"}, {"name", name}},
                  {{"note", "local " + name}, {"mlflow.user", "alice"}});
  local.log_batch(id, points("acc", 0, 3, t0));
  mlflowpp::DatasetInput in;
  in.dataset.name = "digits";
  in.dataset.digest = "abc123";
  in.dataset.source_type = "local";
  in.dataset.source = "{\"uri\": \"/data/digits.csv\"}";
  in.tags = {{"mlflow.data.context", "train"}};
  local.log_inputs(id, {in});
  const fs::path dir = scratch / name;
  write_file(dir / "model.txt", "weights of " + name + "\n");
  write_file(dir / "plots" / "loss.csv", itest::repeat("0.5,", 1000));
  write_file(dir / "plots" / "deep" / "empty.bin", "");
  write_file(dir / "plots" / "deep" / "note.txt", "nested " + name);
  local.log_artifact(id, (dir / "model.txt").string());
  local.log_artifacts(id, (dir / "plots").string(), "plots");
  return id;
}

std::map<std::string, std::string> tag_map(const Run& r) {
  std::map<std::string, std::string> m;
  for (const auto& t : r.data.tags)
    if (t.key != kSourceTag) m[t.key] = t.value;
  return m;
}

std::map<std::string, std::string> param_map(const Run& r) {
  std::map<std::string, std::string> m;
  for (const auto& p : r.data.params) m[p.key] = p.value;
  return m;
}

/// The server's copies of the experiment's runs, by local run id (each must be unique).
std::map<std::string, Run> copies(Client& server, const std::string& exp_name) {
  auto exp = server.get_experiment_by_name(exp_name);
  REQUIRE(exp.has_value());
  mlflowpp::SearchRunsOptions so;
  so.run_view_type = mlflowpp::ViewType::kAll;
  std::map<std::string, Run> out;
  for (auto& r : server.search_all_runs({exp->experiment_id}, so)) {
    auto src = r.data.tag(kSourceTag);
    REQUIRE(src.has_value());
    REQUIRE(out.count(*src) == 0);
    out.emplace(*src, std::move(r));
  }
  return out;
}

/// Checks that `copy` (on the server) holds exactly what local run `id` holds.
void check_copy(Client& local, Client& server, const std::string& id, const std::string& copy_id) {
  const Run a = local.get_run(id);
  const Run b = server.get_run(copy_id);
  INFO("local run " << id << " copy " << copy_id);
  CHECK(b.info.run_name == a.info.run_name);
  CHECK(b.info.status == a.info.status);
  CHECK(b.info.start_time == a.info.start_time);
  CHECK(b.info.end_time == a.info.end_time);
  CHECK(b.data.tag(kSourceTag) == std::optional<std::string>(id));
  CHECK(param_map(b) == param_map(a));
  CHECK(tag_map(b) == tag_map(a));
  REQUIRE(b.data.metrics.size() == a.data.metrics.size());
  for (const auto& latest : a.data.metrics) {
    const auto ha = itest::sorted_history(local, id, latest.key);
    const auto hb = itest::sorted_history(server, copy_id, latest.key);
    INFO("metric " << latest.key);
    REQUIRE(hb.size() == ha.size());
    bool same = true;
    for (std::size_t i = 0; i < ha.size(); ++i)
      same = same && ha[i].step == hb[i].step && ha[i].timestamp == hb[i].timestamp &&
             itest::same_double(ha[i].value, hb[i].value);
    CHECK(same);
  }
  CHECK(a.inputs.dataset_inputs.size() == 1);
  CHECK(a.data.metrics.size() == 2);
  REQUIRE(b.inputs.dataset_inputs.size() == a.inputs.dataset_inputs.size());
  for (std::size_t i = 0; i < a.inputs.dataset_inputs.size(); ++i) {
    CHECK(b.inputs.dataset_inputs[i].dataset.name == a.inputs.dataset_inputs[i].dataset.name);
    CHECK(b.inputs.dataset_inputs[i].dataset.digest == a.inputs.dataset_inputs[i].dataset.digest);
    CHECK(b.inputs.dataset_inputs[i].dataset.source == a.inputs.dataset_inputs[i].dataset.source);
  }
  const auto fa = local.list_artifacts_recursive(id);
  const auto fb = server.list_artifacts_recursive(copy_id);
  std::vector<std::pair<std::string, int64_t>> la, lb;
  for (const auto& f : fa)
    if (!f.is_dir) la.emplace_back(f.path, f.file_size.value_or(-1));
  for (const auto& f : fb)
    if (!f.is_dir) lb.emplace_back(f.path, f.file_size.value_or(-1));
  CHECK(la.size() == 4);
  CHECK(lb == la);
  support::TempDir got("synclocal-get");
  server.download_artifacts(copy_id, "", got.str());
  CHECK(itest::read_file((got / "model.txt").string()) == "weights of " + a.info.run_name + "\n");
  CHECK(itest::read_file((got / "plots/deep/note.txt").string()) == "nested " + a.info.run_name);
  CHECK(fs::file_size(got / "plots/loss.csv") == 4000);
}

}  // namespace

TEST_CASE("sync from a local database copies everything once and completes running runs",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir tmp("synclocal");
  const std::string local_uri = "sqlite:///" + (tmp / "mlflow.db").string();
  const std::string exp_name = testing::unique_name("sync-local");
  const int64_t t0 = testing::now_ms() - 3600000;
  std::string finished_id, running_id, deleted_id;
  Client local(testing::options(local_uri));
  {
    CwdGuard cwd(tmp.path());
    const std::string exp_id =
        local.create_experiment(exp_name, {}, {{"team", "vision"}, {"purpose", "sync"}});
    finished_id = make_local_run(local, exp_id, tmp / "src", "finished-run", t0);
    local.set_terminated(finished_id, RunStatus::kFinished, t0 + 60000);
    running_id = make_local_run(local, exp_id, tmp / "src", "running-run", t0 + 1000);
    deleted_id = local.create_run(exp_id).info.run_id;
    local.delete_run(deleted_id);
  }
  const std::string args = "--from " + itest::shell_quote(local_uri) + " --tracking-uri " +
                           itest::shell_quote(testing::tracking_uri());
  Client server = testing::client();

  // A dry run writes nothing.
  ToolResult dry = run_tool(args + " --dry-run --experiment " + itest::shell_quote(exp_name));
  REQUIRE(dry.exit_code == 0);
  CHECK(itest::contains(dry.output, "would be created"));
  CHECK_FALSE(server.get_experiment_by_name(exp_name).has_value());

  // First sync: everything arrives.
  ToolResult first = run_tool(args + " --experiment " + itest::shell_quote(exp_name));
  REQUIRE(first.exit_code == 0);
  CHECK(itest::contains(first.output, "2 created"));
  auto exp = server.get_experiment_by_name(exp_name);
  REQUIRE(exp.has_value());
  CHECK(exp->tag("team") == std::optional<std::string>("vision"));
  CHECK(exp->tag("purpose") == std::optional<std::string>("sync"));
  auto runs = copies(server, exp_name);
  REQUIRE(runs.size() == 2);  // the deleted run is not copied
  REQUIRE(runs.count(finished_id) == 1);
  REQUIRE(runs.count(running_id) == 1);
  check_copy(local, server, finished_id, runs.at(finished_id).info.run_id);
  check_copy(local, server, running_id, runs.at(running_id).info.run_id);
  CHECK(runs.at(running_id).info.status == RunStatus::kRunning);

  // Second sync: nothing is created or sent twice.
  ToolResult second = run_tool(args + " --experiment " + itest::shell_quote(exp_name));
  REQUIRE(second.exit_code == 0);
  CHECK(itest::contains(second.output, "2 already there"));
  CHECK(itest::contains(second.output, "copied 0 params, 0 tags, 0 metric points, 0 inputs, 0 artifacts"));
  auto again = copies(server, exp_name);
  REQUIRE(again.size() == 2);
  CHECK(again.at(finished_id).info.run_id == runs.at(finished_id).info.run_id);
  CHECK(again.at(running_id).info.run_id == runs.at(running_id).info.run_id);
  CHECK(server.get_metric_history(runs.at(finished_id).info.run_id, "loss").size() == 2500);
  CHECK(server.get_metric_history(runs.at(running_id).info.run_id, "loss").size() == 2500);
  CHECK(server.list_artifacts_recursive(runs.at(running_id).info.run_id).size() ==
        local.list_artifacts_recursive(running_id).size());

  // The running run goes on locally and ends: the third sync brings the rest.
  local.log_batch(running_id, points("loss", 2500, 3000, t0 + 1000));
  local.set_terminated(running_id, RunStatus::kFinished, t0 + 90000);
  ToolResult third = run_tool(args + " --experiment " + itest::shell_quote(exp_name));
  REQUIRE(third.exit_code == 0);
  CHECK(itest::contains(third.output, "copied 0 params, 0 tags, 500 metric points, 0 inputs, 0 artifacts"));
  CHECK(itest::contains(third.output, "status RUNNING -> FINISHED"));
  auto last = copies(server, exp_name);
  REQUIRE(last.size() == 2);
  CHECK(server.get_metric_history(last.at(running_id).info.run_id, "loss").size() == 3000);
  check_copy(local, server, running_id, last.at(running_id).info.run_id);
  check_copy(local, server, finished_id, last.at(finished_id).info.run_id);
}

TEST_CASE("sync from a local database refuses a missing database and a missing destination",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir tmp("synclocal-bad");
  const std::string missing = "sqlite:///" + (tmp / "nothing.db").string();
  ToolResult r = run_tool("--from " + itest::shell_quote(missing) + " --tracking-uri " +
                          itest::shell_quote(testing::tracking_uri()));
  CHECK(r.exit_code == 1);
  CHECK(itest::contains(r.output, "no database at"));
  CHECK_FALSE(fs::exists(tmp / "nothing.db"));
  ToolResult u = run_tool("--from " + itest::shell_quote(missing) + " --bogus");
  CHECK(u.exit_code == 2);
  ToolResult n = run_tool("--from " + itest::shell_quote(missing), "env -u MLFLOW_TRACKING_URI");
  CHECK(n.exit_code == 2);
  CHECK(itest::contains(n.output, "no destination"));
  ToolResult e = run_tool("--from " + itest::shell_quote(missing) + " --experiment");
  CHECK(e.exit_code == 2);
}
