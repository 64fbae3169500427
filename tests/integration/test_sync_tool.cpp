// The mlflowpp-sync tool (tools/mlflowpp_sync.cpp) against the real server: journals written
// by hand with JournalWriter (as a process that trained offline, or crashed, leaves them)
// are replayed into the test server, listed without being touched, and replayed twice
// without duplicating anything.
#include <stdlib.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "detail/codec/json.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/spool/spool.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "integration/sync_tool_util.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
namespace d = mlflowpp::detail;
using mlflowpp::Metric;
using mlflowpp::RunStatus;

using itest::ToolResult;

ToolResult run_tool(const std::string& args, const std::string& env = "") {
  return itest::run_sync_tool(args, env);
}

bool have_tool() { return itest::have_sync_tool(); }

std::string sync_args(const std::string& folder) {
  return "--tracking-uri " + itest::shell_quote(testing::tracking_uri()) + " " + itest::shell_quote(folder);
}

/// The placeholder id of a run started offline: "offline-" + 32 hex digits.
std::string offline_run_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::string(d::kOfflineRunIdPrefix) + fmt::format("{:016x}{:016x}", rng(), rng());
}

std::string run_started_body(const std::string& run_id) {
  std::string out = "{\"run_id\":";
  d::append_json_string(out, run_id);
  return out + "}";
}

/// A log-batch body as the logger journals it.
std::string log_batch_body(const std::string& run_id, const std::vector<Metric>& metrics,
                           const std::vector<std::pair<std::string, std::string>>& params,
                           const std::vector<std::pair<std::string, std::string>>& tags) {
  std::vector<d::Entity> entities;
  for (const auto& m : metrics) {
    d::Entity e;
    e.kind = d::EntityKind::kMetric;
    e.key = m.key;
    e.json = d::metric_json(m);
    entities.push_back(std::move(e));
  }
  for (const auto& [k, v] : params) {
    d::Entity e;
    e.kind = d::EntityKind::kParam;
    e.key = k;
    e.value = v;
    e.json = d::param_json(k, v);
    entities.push_back(std::move(e));
  }
  for (const auto& [k, v] : tags) {
    d::Entity e;
    e.kind = d::EntityKind::kTag;
    e.key = k;
    e.json = d::tag_json(k, v);
    entities.push_back(std::move(e));
  }
  return d::chunk_body(run_id, d::make_chunk(std::move(entities)));
}

d::FsyncPolicy no_sync() {
  d::FsyncPolicy p;
  p.mode = d::FsyncMode::kNever;
  return p;
}

/// What the offline journal of offline_journal() holds.
struct OfflineJournal {
  std::string path;
  std::string local_id;
  std::string experiment_name;
  int64_t start = 0, end = 0;
};

/// A whole offline run, as a process that never reached the server leaves it: started,
/// created offline, two log-batch requests, ended FINISHED.
OfflineJournal offline_journal(const std::string& dir, const std::string& experiment_name) {
  OfflineJournal j;
  j.local_id = offline_run_id();
  j.experiment_name = experiment_name;
  j.start = testing::now_ms() - 60000;
  j.end = j.start + 50000;
  auto w = d::JournalWriter::create(dir, no_sync());
  j.path = w.path();
  w.append(d::RecordType::kRunStarted, run_started_body(j.local_id));
  d::OfflineRun run;
  run.local_run_id = j.local_id;
  run.experiment_name = experiment_name;
  run.run_name = "trained-offline";
  run.start_time = j.start;
  run.user_id = "alice";
  run.tags = {{"team", "vision"}};
  w.append(d::RecordType::kCreateRun, d::offline_run_payload(run));
  std::vector<Metric> first, second;
  for (int s = 0; s < 5; ++s) {
    first.push_back(itest::metric("loss", 1.0 / (s + 1), j.start + 1000 * s, s));
    first.push_back(itest::metric("acc", 0.5 + 0.1 * s, j.start + 1000 * s, s));
  }
  for (int s = 5; s < 10; ++s) second.push_back(itest::metric("loss", 1.0 / (s + 1), j.start + 1000 * s, s));
  w.append(d::RecordType::kLogBatch,
           log_batch_body(j.local_id, first, {{"lr", "0.01"}}, {{"phase", "train"}}));
  w.append(d::RecordType::kLogBatch,
           log_batch_body(j.local_id, second, {{"layers", "3"}}, {{"note", "second batch"}}));
  w.append(d::RecordType::kUpdateRun, d::update_run_body(j.local_id, RunStatus::kFinished, j.end));
  return j;  // the writer's destructor closes the journal and releases its lock
}

/// The runs of `experiment_name` created from offline run `local_id` (deleted ones too).
std::vector<mlflowpp::Run> runs_from_offline(mlflowpp::Client& client, const std::string& experiment_name,
                                             const std::string& local_id) {
  auto exp = client.get_experiment_by_name(experiment_name);
  REQUIRE(exp.has_value());
  mlflowpp::SearchRunsOptions so;
  so.run_view_type = mlflowpp::ViewType::kAll;
  so.filter_string = fmt::format("tags.`{}` = '{}'", d::kOfflineRunIdTag, local_id);
  return client.search_all_runs({exp->experiment_id}, so);
}

/// Checks that the run made from offline_journal() holds everything, exactly once.
void check_offline_run(mlflowpp::Client& client, const OfflineJournal& j) {
  auto runs = runs_from_offline(client, j.experiment_name, j.local_id);
  REQUIRE(runs.size() == 1);
  const auto run = client.get_run(runs.front().info.run_id);
  CHECK(run.info.status == RunStatus::kFinished);
  CHECK(run.info.start_time == j.start);
  CHECK(run.info.end_time == std::optional<int64_t>(j.end));
  CHECK(run.info.run_name == "trained-offline");
  CHECK(run.data.tag(std::string(d::kOfflineRunIdTag)) == std::optional<std::string>(j.local_id));
  CHECK(run.data.tag("team") == std::optional<std::string>("vision"));
  CHECK(run.data.tag("phase") == std::optional<std::string>("train"));
  CHECK(run.data.tag("note") == std::optional<std::string>("second batch"));
  CHECK(run.data.params.size() == 2);
  CHECK(run.data.param("lr") == std::optional<std::string>("0.01"));
  CHECK(run.data.param("layers") == std::optional<std::string>("3"));
  const auto loss = itest::sorted_history(client, run.info.run_id, "loss");
  REQUIRE(loss.size() == 10);
  for (int s = 0; s < 10; ++s) {
    CHECK(loss[s].step == s);
    CHECK(loss[s].timestamp == j.start + 1000 * s);
    CHECK(loss[s].value == 1.0 / (s + 1));
  }
  const auto acc = itest::sorted_history(client, run.info.run_id, "acc");
  REQUIRE(acc.size() == 5);
  for (int s = 0; s < 5; ++s) CHECK(acc[s].value == 0.5 + 0.1 * s);
}

}  // namespace

TEST_CASE("sync tool: an offline run's journal becomes a finished run, and the journal is removed",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir dir("itest-sync");
  const OfflineJournal j = offline_journal(dir.str(), testing::unique_name("itest-sync-offline"));
  REQUIRE(fs::exists(j.path));

  const ToolResult r = run_tool(sync_args(dir.str()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(itest::contains(r.output, j.path));
  CHECK(itest::contains(r.output, "complete"));
  CHECK(itest::contains(r.output, "4 record(s) replayed, 19 item(s) delivered, 0 refused, 1 run(s) created"));
  CHECK_FALSE(fs::exists(j.path));

  auto client = testing::client();
  check_offline_run(client, j);
}

TEST_CASE("sync tool: a run started and never ended is marked FAILED at its last metric timestamp",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-sync-crash"));
  mlflowpp::CreateRunOptions co;
  co.start_time = testing::now_ms() - 120000;
  const std::string run_id = client.create_run(exp, co).info.run_id;

  support::TempDir dir("itest-sync");
  const int64_t t0 = *co.start_time;
  std::string path;
  {
    auto w = d::JournalWriter::create(dir.str(), no_sync());
    path = w.path();
    w.append(d::RecordType::kRunStarted, run_started_body(run_id));
    // The largest timestamp is not the last one written.
    w.append(d::RecordType::kLogBatch, log_batch_body(run_id,
                                                      {itest::metric("loss", 0.9, t0 + 3000, 0),
                                                       itest::metric("loss", 0.5, t0 + 9000, 1),
                                                       itest::metric("loss", 0.7, t0 + 5000, 2)},
                                                      {{"optimizer", "sgd"}}, {}));
  }  // the process "crashed": no UPDATE_RUN

  const ToolResult r = run_tool(sync_args(dir.str()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(itest::contains(r.output, "0 run(s) created, 1 run(s) marked FAILED"));
  CHECK_FALSE(fs::exists(path));

  const auto run = client.get_run(run_id);
  CHECK(run.info.status == RunStatus::kFailed);
  CHECK(run.info.end_time == std::optional<int64_t>(t0 + 9000));
  CHECK(client.get_metric_history(run_id, "loss").size() == 3);
  CHECK(run.data.param("optimizer") == std::optional<std::string>("sgd"));
}

TEST_CASE("sync tool: --list describes journals and changes nothing, a live owner's journal is skipped",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir root("itest-sync");
  // A spool root: the journal sits one level down, in a per-server folder.
  const std::string folder = root / "127.0.0.1_5000-0123abcd";
  const std::string local_id = offline_run_id();
  std::optional<d::JournalWriter> w = d::JournalWriter::create(folder, no_sync());
  const std::string path = w->path();
  w->append(d::RecordType::kRunStarted, run_started_body(local_id));
  d::OfflineRun run;
  run.local_run_id = local_id;
  run.experiment_name = testing::unique_name("itest-sync-list");
  run.start_time = testing::now_ms();
  w->append(d::RecordType::kCreateRun, d::offline_run_payload(run));
  const uint64_t first_batch = w->size();
  w->append(d::RecordType::kLogBatch,
            log_batch_body(local_id, {itest::metric("m", 1, run.start_time, 0)}, {}, {}));
  w->append(d::RecordType::kLogBatch,
            log_batch_body(local_id, {itest::metric("m", 2, run.start_time, 1)}, {}, {}));
  w->append_ack(first_batch);  // the run's creation was delivered, the batches were not
  const uint64_t size = w->size();

  SECTION("while its owner is alive") {
    ToolResult r = run_tool("--list " + itest::shell_quote(root.str()));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(itest::contains(r.output,
                          path + ": " + std::to_string(size) +
                              " bytes, 5 record(s), 2 left to deliver, 0 torn tail byte(s), owner alive"));
    // Replaying skips it: its owner delivers it.
    r = run_tool(sync_args(root.str()));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(itest::contains(r.output, "skipped: its owner process is alive"));
    CHECK(itest::contains(r.output, "written for spool folder 127.0.0.1_5000-0123abcd"));
    REQUIRE(fs::exists(path));
    CHECK(fs::file_size(path) == size);
    auto client = testing::client();
    CHECK_FALSE(client.get_experiment_by_name(run.experiment_name).has_value());
  }
  SECTION("after its owner died mid-append") {
    w.reset();
    {
      std::ofstream torn(path, std::ios::binary | std::ios::app);
      torn << "RPLMtor";  // 7 bytes of a record that never finished
    }
    const ToolResult r = run_tool("--list " + itest::shell_quote(folder));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(itest::contains(r.output,
                          path + ": " + std::to_string(size + 7) +
                              " bytes, 5 record(s), 2 left to deliver, 7 torn tail byte(s), owner dead"));
    REQUIRE(fs::exists(path));
    CHECK(fs::file_size(path) == size + 7);  // not adopted: the torn tail is still there
  }
}

TEST_CASE("sync tool: replaying the same journal twice duplicates nothing", "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir dir("itest-sync"), backup("itest-sync");
  const OfflineJournal j = offline_journal(dir.str(), testing::unique_name("itest-sync-twice"));
  const std::string copy = backup / "journal.copy";
  fs::copy_file(j.path, copy);

  ToolResult r = run_tool(sync_args(dir.str()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE_FALSE(fs::exists(j.path));

  // As if the first sync's ACKs had been lost: the very same journal again.
  fs::copy_file(copy, j.path);
  r = run_tool(sync_args(dir.str()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(itest::contains(r.output, "complete"));
  CHECK_FALSE(fs::exists(j.path));

  auto client = testing::client();
  check_offline_run(client, j);  // one run (found by its offline id), every metric once
}

TEST_CASE("sync tool: exit status 1 leaves the journal when the server cannot be reached, 2 on usage errors",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  support::TempDir dir("itest-sync");
  const OfflineJournal j = offline_journal(dir.str(), testing::unique_name("itest-sync-unreachable"));
  const auto size = fs::file_size(j.path);
  const std::string fast =
      "MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOWPP_CONNECT_TIMEOUT=2 MLFLOWPP_LOG_RETRIES=0";

  ToolResult r = run_tool("--tracking-uri http://127.0.0.1:1 " + itest::shell_quote(dir.str()), fast);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(itest::contains(r.output, "cannot be used"));
  REQUIRE(fs::exists(j.path));
  CHECK(fs::file_size(j.path) == size);

  const auto t0 = std::chrono::steady_clock::now();
  r = run_tool("--wait 1.5 --tracking-uri http://127.0.0.1:1 " + itest::shell_quote(dir.str()), fast);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
  REQUIRE(fs::exists(j.path));
  CHECK(fs::file_size(j.path) == size);

  // Credentials in the URI never show.
  r = run_tool("--tracking-uri http://bob:s3cret@127.0.0.1:1 " + itest::shell_quote(dir.str()), fast);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_FALSE(itest::contains(r.output, "s3cret"));

  CHECK(run_tool("--help").exit_code == 0);
  CHECK(itest::contains(run_tool("--help").output, "Usage: mlflowpp-sync"));
  CHECK(run_tool("--bogus").exit_code == 2);
  CHECK(run_tool("--wait -1 " + itest::shell_quote(dir.str())).exit_code == 2);
  CHECK(run_tool("--wait").exit_code == 2);
  CHECK(run_tool(sync_args(dir / "no-such-folder")).exit_code == 2);
  CHECK(run_tool(itest::shell_quote(dir.str()), "env -u MLFLOW_TRACKING_URI").exit_code == 2);
  REQUIRE(fs::exists(j.path));
  CHECK(fs::file_size(j.path) == size);
}

TEST_CASE("sync tool: a journal for runs the server does not have is left untouched",
          "[integration][sync][rest]") {
  if (!testing::have_server() || !have_tool()) return;
  // Written for another server: its run ids mean nothing here. Replaying would have every
  // request refused (404), acknowledged and the journal removed.
  support::TempDir dir("itest-sync");
  const std::string run_id = "0123456789abcdef0123456789abcdef";
  std::string path;
  {
    auto w = d::JournalWriter::create(dir.str(), no_sync());
    path = w.path();
    w.append(d::RecordType::kRunStarted, run_started_body(run_id));
    w.append(d::RecordType::kLogBatch, log_batch_body(run_id, {itest::metric("m", 1, 1000, 0)}, {}, {}));
  }
  const auto size = fs::file_size(path);
  const ToolResult r = run_tool(sync_args(dir.str()));
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(itest::contains(r.output, "run " + run_id + " does not exist on"));
  REQUIRE(fs::exists(path));
  CHECK(fs::file_size(path) == size);
}
