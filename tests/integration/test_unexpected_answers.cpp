// Only MLflow's answer counts, against the real server: fault_proxy.py, in front of it,
// answers chosen requests itself like a stub server (200 with a gateway's HTML login page,
// an empty body, a truncated JSON object, a JSON array). Every write path (synchronous
// calls, the async logger with its spool, mlflowpp-sync, artifact uploads and downloads,
// registry writes) must refuse to count such an answer as delivered; once the proxy stops
// interfering, the data held in the spool lands exactly once. Also: https:// to the
// plain-HTTP server fails at once, and the memory-only path delivers with an unwritable
// spool folder.
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "detail/codec/json.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/spool/spool.hpp"
#include "integration/fault_proxy.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
namespace d = mlflowpp::detail;
using itest::FaultProxy;
using itest::python_or_skip;

const char* const kLoginPage =
    "<!DOCTYPE html><html><head><title>Sign in to Example SSO</title></head><body>"
    "<form method=\"post\" action=\"/oauth2/start\"><input type=\"hidden\" name=\"csrf_token\" "
    "value=\"csrf-S3CRET-4242\"><button>Sign in</button></form></body></html>";

/// A stub answer: status 200 with `content_type` and `body`.
struct Stub {
  const char* name;
  const char* content_type;
  std::string body;
  /// fault_proxy.py plan for `path_prefix`, applying to the next `count` requests.
  std::string plan(const std::string& path_prefix, int count = 100000) const {
    std::string p =
        R"({"mode": "status", "status": 200, "count": )" + std::to_string(count) + R"(, "path_prefix": )";
    itest::append_json_string(p, path_prefix);
    p += R"(, "content_type": )";
    itest::append_json_string(p, content_type);
    p += R"(, "body": )";
    itest::append_json_string(p, body);
    return p + "}";
  }
};

std::vector<Stub> stubs() {
  return {
      {"an HTML login page", "text/html; charset=utf-8", kLoginPage},
      {"an empty body", "", ""},
      {"a truncated JSON object", "application/json", R"({"run": {"info": {"run_id": "0f3)"},
      {"a JSON array", "application/json", "[]"},
  };
}

constexpr const char* kLogBatch = "/api/2.0/mlflow/runs/log-batch";

/// A fresh folder, removed at the end.
mlflowpp::ClientOptions proxied(const std::string& uri, const std::string& spool_root) {
  auto o = testing::options(uri);
  o.logger.max_batch_delay = std::chrono::milliseconds(20);
  o.logger.spool.dir = spool_root;
  o.logger.spool.max_retry_wait = std::chrono::milliseconds(200);
  o.logger.end_run_flush_timeout = std::chrono::seconds(3);
  return o;
}

void check_message(const std::string& what, const Stub& stub) {
  CHECK(what.find("HTTP 200") != std::string::npos);
  CHECK(what.find(*stub.content_type != '\0' ? stub.content_type : "no Content-Type") != std::string::npos);
  if (!stub.body.empty()) CHECK(what.find(stub.body.substr(0, 12)) != std::string::npos);
  CHECK(what.find("csrf-S3CRET-4242") == std::string::npos);
}

struct Reports {
  std::mutex mu;
  std::vector<mlflowpp::LogError> list;
  std::size_t count(mlflowpp::LogError::Kind kind) {
    std::lock_guard<std::mutex> lk(mu);
    std::size_t n = 0;
    for (const auto& e : list) n += e.kind == kind ? 1 : 0;
    return n;
  }
};

}  // namespace

TEST_CASE(
    "unexpected answers: synchronous writes, registry writes and artifact transfers throw, nothing counted",
    "[integration][answers][rest]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  FaultProxy proxy(python, testing::tracking_uri());
  auto direct = itest::fresh_client();
  mlflowpp::Client client(testing::options(proxy.uri()));
  const std::string exp = direct.create_experiment(testing::unique_name("itest-answers-sync"));
  const std::string run_id = direct.create_run(exp).info.run_id;
  const std::string model = testing::unique_name("itest-answers-model");
  direct.create_registered_model(model);
  support::TempDir scratch("itest-answers");
  const std::string file = (scratch.path() / "weights.bin").string();
  std::ofstream(file) << "0123456789";
  direct.log_artifact(run_id, file, "kept");  // for the download case

  for (const Stub& stub : stubs()) {
    INFO(stub.name);
    // log-batch (tracking write)
    proxy.set_plan(stub.plan(kLogBatch));
    auto e1 = itest::thrown<mlflowpp::UnexpectedResponseError>(
        [&] { client.log_batch(run_id, {itest::metric("loss", 1.0, testing::now_ms(), 1)}, {}, {}); });
    REQUIRE(e1.has_value());
    check_message(e1->what(), stub);
    // registry write
    proxy.set_plan(stub.plan("/api/2.0/mlflow/registered-models/set-tag"));
    auto e2 = itest::thrown<mlflowpp::UnexpectedResponseError>(
        [&] { client.set_registered_model_tag(model, "stage", "x"); });
    REQUIRE(e2.has_value());
    check_message(e2->what(), stub);
    // artifact upload: MLflow's own answer to a PUT is an empty 200, which cannot be told
    // from a stub's empty 200; every other shape is refused.
    proxy.set_plan(stub.plan("/api/2.0/mlflow-artifacts/artifacts/"));
    auto e3 =
        itest::thrown<mlflowpp::UnexpectedResponseError>([&] { client.log_artifact(run_id, file, "up"); });
    if (stub.body.empty()) {
      CHECK_FALSE(e3.has_value());
    } else {
      REQUIRE(e3.has_value());
      check_message(e3->what(), stub);
    }
    proxy.set_plan(R"({"mode": "none"})");
  }
  // Nothing of it reached the server.
  CHECK(direct.get_metric_history(run_id, "loss").empty());
  for (const auto& tag : direct.get_registered_model(model).tags) CHECK(tag.key != "stage");

  // A download answered by a login page writes no file and throws.
  const Stub login = stubs().front();
  proxy.set_plan(login.plan("/api/2.0/mlflow-artifacts/artifacts/"));
  const std::string dst = (scratch.path() / "dl").string();
  auto e4 = itest::thrown<mlflowpp::UnexpectedResponseError>(
      [&] { client.download_artifacts(run_id, "kept/weights.bin", dst); });
  REQUIRE(e4.has_value());
  check_message(e4->what(), login);
  CHECK_FALSE(fs::exists(fs::path(dst) / "kept" / "weights.bin"));
  proxy.set_plan(R"({"mode": "none"})");
  // The real file, through the same proxy, still downloads.
  const std::string got = client.download_artifacts(run_id, "kept/weights.bin", dst);
  CHECK(itest::read_file(got) == "0123456789");
}

TEST_CASE(
    "unexpected answers: the async logger holds the data in the spool, reports once per run, "
    "delivers exactly once when the gateway is fixed",
    "[integration][answers][rest]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  for (const Stub& stub : stubs()) {
    INFO(stub.name);
    FaultProxy proxy(python, testing::tracking_uri());
    support::TempDir scratch("itest-answers");
    auto direct = itest::fresh_client();
    mlflowpp::Client client(proxied(proxy.uri(), scratch.path().string()));
    Reports reports;
    client.async_logger().set_error_callback([&](const mlflowpp::LogError& e) {
      std::lock_guard<std::mutex> lk(reports.mu);
      reports.list.push_back(e);
    });
    mlflowpp::StartRunOptions so;
    so.experiment_id = direct.create_experiment(testing::unique_name("itest-answers-async"));
    so.system_tags = false;
    auto run = client.start_run(so);
    const std::string run_id = run.run_id();
    proxy.set_plan(stub.plan(kLogBatch));
    constexpr int kPoints = 2000;
    for (int i = 0; i < kPoints; ++i) run.log_metric("loss", 1.0 / (i + 1), i);
    run.log_param("lr", "0.01");
    auto pending = client.async_logger().flush(std::chrono::seconds(3));
    CHECK_FALSE(pending.complete);
    CHECK(pending.held_in_spool == kPoints + 1);  // on disk, not delivered
    const auto st = client.async_logger().stats();
    CHECK(st.delivered == 0);
    CHECK(st.dropped_transient + st.rejected_by_server == 0);
    CHECK(reports.count(mlflowpp::LogError::Kind::kHeld) == 1);  // once for the run
    {
      std::lock_guard<std::mutex> lk(reports.mu);
      REQUIRE_FALSE(reports.list.empty());
      check_message(reports.list.front().message, stub);
      CHECK(reports.list.front().run_id == run_id);
    }
    CHECK(direct.get_metric_history(run_id, "loss").empty());
    // The gateway is fixed: everything lands, once.
    proxy.set_plan(R"({"mode": "none"})");
    auto done = client.async_logger().flush(std::chrono::seconds(60));
    CHECK(done.complete);
    auto end = run.end();
    CHECK(end.status_set);
    CHECK(client.async_logger().stats().delivered == kPoints + 1);
    const auto history = itest::sorted_history(direct, run_id, "loss");
    REQUIRE(history.size() == kPoints);
    for (int i = 0; i < kPoints; ++i) CHECK(history[static_cast<std::size_t>(i)].step == i);
    const auto params = direct.get_run(run_id).data.params;
    REQUIRE(params.size() == 1);
    CHECK(params.front().value == "0.01");
    CHECK(reports.count(mlflowpp::LogError::Kind::kHeld) == 1);
  }
}

#ifdef MLFLOWPP_SYNC_TOOL
TEST_CASE("unexpected answers: mlflowpp-sync acknowledges no record answered by a login page",
          "[integration][answers][rest]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  FaultProxy proxy(python, testing::tracking_uri());
  support::TempDir scratch("itest-answers");
  auto direct = itest::fresh_client();
  const std::string exp = direct.create_experiment(testing::unique_name("itest-answers-sync-tool"));
  const std::string run_id = direct.create_run(exp).info.run_id;
  // A journal as a process that could not deliver leaves it: one log-batch, the run's end.
  std::vector<d::Entity> entities;
  for (int s = 0; s < 50; ++s) {
    d::Entity e;
    e.kind = d::EntityKind::kMetric;
    e.key = "loss";
    e.json = d::metric_json(itest::metric("loss", s * 0.5, testing::now_ms(), s));
    entities.push_back(std::move(e));
  }
  const std::string folder = (scratch.path() / "journals").string();
  fs::create_directories(folder);
  {
    d::FsyncPolicy never;
    never.mode = d::FsyncMode::kNever;
    auto w = d::JournalWriter::create(folder, never);
    w.append(d::RecordType::kLogBatch, d::chunk_body(run_id, d::make_chunk(std::move(entities))));
    w.append(d::RecordType::kUpdateRun,
             d::update_run_body(run_id, mlflowpp::RunStatus::kFinished, testing::now_ms()));
  }
  auto run_tool = [&](const std::string& uri) {
    const std::string cmd =
        std::string("MLFLOW_HTTP_REQUEST_MAX_RETRIES=1 MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0 ") +
        itest::shell_quote(MLFLOWPP_SYNC_TOOL) + " --tracking-uri " + itest::shell_quote(uri) + " " +
        itest::shell_quote(folder) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = pclose(p);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  proxy.set_plan(stubs().front().plan(kLogBatch));
  auto [code, out] = run_tool(proxy.uri());
  INFO(out);
  CHECK(code == 1);                                   // something was left
  CHECK(d::list_journals(folder).size() == 1);        // kept
  CHECK(out.find("text/html") != std::string::npos);  // and said why
  CHECK(out.find("csrf-S3CRET-4242") == std::string::npos);
  CHECK(direct.get_metric_history(run_id, "loss").empty());
  proxy.set_plan(R"({"mode": "none"})");
  auto [code2, out2] = run_tool(proxy.uri());
  INFO(out2);
  CHECK(code2 == 0);
  CHECK(d::list_journals(folder).empty());
  CHECK(direct.get_metric_history(run_id, "loss").size() == 50);
  CHECK(direct.get_run(run_id).info.status == mlflowpp::RunStatus::kFinished);
}
#endif

TEST_CASE("unexpected answers: https:// to the plain-HTTP server fails at once with a TLS error",
          "[integration][answers][rest]") {
  if (!testing::have_server()) return;
  std::string uri = testing::tracking_uri();
  REQUIRE(uri.rfind("http://", 0) == 0);
  uri = "https://" + uri.substr(7);
  mlflowpp::ClientOptions o;  // the default retry policy (7 retries, minutes of backoff)
  o.tracking_uri = uri;
  o.logger.report_errors_to_stderr = false;
  mlflowpp::Client client(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto e = itest::thrown<mlflowpp::TransportError>([&] { client.search_experiments(); });
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(e.has_value());
  CHECK_FALSE(e->retryable());
  CHECK(took < std::chrono::seconds(1));
  const std::string what = e->what();
  CHECK(what.find("TLS") != std::string::npos);
  WARN("https:// to a plain-HTTP port: failed after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms: " << what);
}

TEST_CASE("unexpected answers: with an unwritable spool folder the memory-only path delivers everything",
          "[integration][answers][rest]") {
  if (!testing::have_server()) return;
  support::TempDir scratch("itest-answers");
  const fs::path blocker = scratch.path() / "a-file";
  std::ofstream(blocker) << "x";
  auto o = testing::options();
  o.logger.spool.dir = (blocker / "spool").string();  // under a regular file: cannot be created
  o.logger.max_buffered_bytes = 256 * 1024;           // small: the assembler waits for the sender often
  mlflowpp::Client client(o);
  Reports reports;
  client.async_logger().set_error_callback([&](const mlflowpp::LogError& e) {
    std::lock_guard<std::mutex> lk(reports.mu);
    reports.list.push_back(e);
  });
  auto direct = itest::fresh_client();
  mlflowpp::StartRunOptions so;
  so.experiment_id = direct.create_experiment(testing::unique_name("itest-answers-memory-only"));
  so.system_tags = false;
  auto run = client.start_run(so);
  constexpr int kPoints = 50000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kPoints; ++i) run.log_metric("loss", i * 0.25, i);
  auto r = client.async_logger().flush(std::chrono::seconds(120));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(r.complete);
  const auto st = client.async_logger().stats();
  CHECK(st.delivered + st.dropped_queue_full == kPoints);
  CHECK(reports.count(mlflowpp::LogError::Kind::kSpoolError) == 1);
  CHECK(run.end().status_set);
  CHECK(direct.get_metric_history(run.run_id(), "loss").size() == st.delivered);
  WARN("memory-only (unwritable spool) against the real server: "
       << st.delivered << " of " << kPoints << " points in " << s << " s, " << st.requests << " requests");
}
