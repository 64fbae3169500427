// The fail-fast rule (ADR 0009) over a fake transport: a server never reached fails
// start_run within offline_after, naming the URI and how to train offline on purpose; a
// server this spool reached before starts the run offline; OfflineStart::kAlways trains
// offline on purpose and end() returns once the data is on disk; a clean run leaves no
// spool folder behind, only the list of servers reached.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "api/client_access.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/spool/known_servers.hpp"
#include "detail/spool/spool.hpp"
#include "fake_transport.hpp"
#include "mlflowpp/active_run.hpp"
#include "mlflowpp/client.hpp"
#include "support/scoped.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
namespace fs = std::filesystem;

namespace {

/// A transport behind which nothing listens: every request fails before it is sent.
std::shared_ptr<testing::FakeTransport> refusing() {
  return std::make_shared<testing::FakeTransport>([](const HttpRequest& r) -> HttpResponse {
    throw TransportError(7, r.method + " " + r.url + ": Couldn't connect to server", false);
  });
}

/// A transport that answers like MLflow (experiment "1", run "r1").
std::shared_ptr<testing::FakeTransport> answering() {
  return std::make_shared<testing::FakeTransport>([](const HttpRequest& r) {
    if (r.url.find("/experiments/get-by-name") != std::string::npos)
      return testing::ok(R"({"experiment":{"experiment_id":"1","name":"e","lifecycle_stage":"active"}})");
    if (r.url.find("/runs/create") != std::string::npos)
      return testing::ok(
          R"({"run":{"info":{"run_id":"r1","experiment_id":"1","status":"RUNNING"},"data":{}}})");
    if (r.url.find("/runs/update") != std::string::npos)
      return testing::ok(R"({"run_info":{"run_id":"r1","status":"FINISHED"}})");
    return testing::ok();
  });
}

ClientOptions options_with_spool(const std::string& root) {
  ClientOptions o = testing::fake_options();
  o.logger.spool.dir = root;
  return o;
}

StartRunOptions quick_start(std::optional<OfflineStart> mode = std::nullopt) {
  StartRunOptions so;
  so.experiment_name = "e";
  so.offline_after = std::chrono::milliseconds(500);
  so.offline_start = mode;
  so.system_tags = false;
  return so;
}

std::string spool_dir_of(const std::string& root) {
  return spool_dir_for(root, "http://mlflow.test:5000/prefix", "");
}

}  // namespace

TEST_CASE("fail fast: a server never reached fails start_run within seconds, naming the URI", "[failfast]") {
  support::EnvVar env("MLFLOWPP_OFFLINE_START", nullptr);
  support::TempDir root("failfast");
  Client client = ClientAccess::make(options_with_spool(root.str()), refusing());
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    (void)client.start_run(quick_start());
    FAIL("start_run did not throw");
  } catch (const TransportError& e) {
    message = e.what();
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::seconds(5));
  CHECK_THAT(message, Catch::Contains("cannot reach the tracking server http://mlflow.test:5000/prefix"));
  CHECK_THAT(message, Catch::Contains("most likely a wrong address"));
  CHECK_THAT(message, Catch::Contains("MLFLOWPP_OFFLINE_START=always"));
  CHECK_THAT(message, Catch::Contains("leave MLFLOW_TRACKING_URI unset"));
  // Nothing was left behind: no spool folder for the wrong address, no journal.
  CHECK_FALSE(fs::exists(spool_dir_of(root.str())));
  CHECK_FALSE(server_known(spool_dir_of(root.str())));
}

TEST_CASE("fail fast: a server this spool reached before starts the run offline", "[failfast]") {
  support::EnvVar env("MLFLOWPP_OFFLINE_START", nullptr);
  support::TempDir root("failfast");
  {  // a first process reaches the server and ends cleanly
    Client client = ClientAccess::make(options_with_spool(root.str()), answering());
    ActiveRun run = client.start_run(quick_start());
    run.log_metric("m", 1.0, 0);
    const EndRunResult r = run.end();
    CHECK(r.status_set);
    CHECK(r.summary() == "status set on the server; all delivered");
  }
  // A clean run leaves no spool folder, only the list of servers reached.
  CHECK_FALSE(fs::exists(spool_dir_of(root.str())));
  CHECK(server_known(spool_dir_of(root.str())));
  std::ifstream list(root / "servers-reached");
  std::string line;
  std::getline(list, line);
  CHECK(line == fs::path(spool_dir_of(root.str())).filename().string());

  // Now the server is down (an outage): the run starts offline; end() keeps it in the spool.
  Client client = ClientAccess::make(options_with_spool(root.str()), refusing());
  ActiveRun run = client.start_run(quick_start());
  CHECK(run.offline());
  run.log_metric("m", 2.0, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const EndRunResult r = run.end();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(r.status_spooled);
  CHECK_FALSE(r.flush.complete);
  CHECK_THAT(r.summary(), Catch::StartsWith("status waits in the spool behind the data"));
  CHECK(r.flush.pending_on_disk);
  CHECK_THAT(r.summary(),
             Catch::Contains("1 logged item(s) not delivered yet, all held safe in the spool on disk"));

  // kNever: the same known server throws instead.
  CHECK_THROWS_AS(client.start_run(quick_start(OfflineStart::kNever)), TransportError);
}

TEST_CASE("fail fast: OfflineStart kAlways trains offline on purpose, end returns once on disk",
          "[failfast]") {
  support::TempDir root("failfast");
  for (bool from_env : {false, true}) {
    support::EnvVar env("MLFLOWPP_OFFLINE_START", from_env ? "always" : nullptr);
    Client client = ClientAccess::make(options_with_spool(root.str()), refusing());
    ActiveRun run = client.start_run(from_env ? quick_start() : quick_start(OfflineStart::kAlways));
    CHECK(run.offline());
    for (int i = 0; i < 100; ++i) run.log_metric("loss", 1.0 / (i + 1), i);
    const auto t0 = std::chrono::steady_clock::now();
    const EndRunResult r = run.end();
    // The sender's retry policy would take minutes; the journal holds it all at once.
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(r.status_spooled);
    CHECK_FALSE(list_journals(spool_dir_of(root.str())).empty());
  }
  // The server was never reached: it is not remembered as known, and the journals waiting
  // for it do not make it known either (a wrong address gets them too).
  CHECK_FALSE(fs::exists(root / "servers-reached"));
  support::EnvVar env("MLFLOWPP_OFFLINE_START", "Known");  // any case
  Client client = ClientAccess::make(options_with_spool(root.str()), refusing());
  CHECK_THROWS_AS(client.start_run(quick_start()), TransportError);
}

TEST_CASE("fail fast: a server that answers and then stalls starts the run offline", "[failfast]") {
  support::EnvVar env("MLFLOWPP_OFFLINE_START", nullptr);
  support::TempDir root("failfast");
  auto transport = std::make_shared<testing::FakeTransport>([](const HttpRequest& r) {
    if (r.url.find("/experiments/get-by-name") != std::string::npos)
      return testing::ok(R"({"experiment":{"experiment_id":"1","name":"e","lifecycle_stage":"active"}})");
    return testing::mlflow_error(503, "TEMPORARILY_UNAVAILABLE", "busy");  // runs/create, runs/update...
  });
  Client client = ClientAccess::make(options_with_spool(root.str()), transport);
  ActiveRun run = client.start_run(quick_start());
  CHECK(run.offline());  // MLflow answered this call: an outage, not a wrong address
  (void)run.end(RunStatus::kFinished, std::chrono::milliseconds(200));
}

TEST_CASE("fail fast: MLFLOWPP_OFFLINE_START accepts never, known and always only", "[failfast]") {
  support::TempDir root("failfast");
  support::EnvVar env("MLFLOWPP_OFFLINE_START", "sometimes");
  Client client = ClientAccess::make(options_with_spool(root.str()), answering());
  try {
    (void)client.start_run(quick_start());
    FAIL("start_run did not throw");
  } catch (const InvalidArgumentError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("MLFLOWPP_OFFLINE_START='sometimes'"));
  }
}

TEST_CASE("fail fast: FlushResult summary words whole-logger and held counts without contradiction",
          "[failfast]") {
  FlushResult f;
  f.complete = true;
  CHECK(f.summary() == "all delivered");
  f.rejected = 2;
  CHECK(f.summary() == "all accounted for; 2 rejected, 0 dropped");
  f = FlushResult{};
  f.pending = 102;
  f.held_in_spool = 102;
  CHECK(f.summary() ==
        "102 item(s) not delivered yet, 102 of them held safe in the spool on disk (delivered later); 0 "
        "rejected, "
        "0 dropped");
  f.pending_on_disk = true;  // the runs' events are pending too, all in the journal
  f.pending = 105;
  CHECK(f.summary() ==
        "102 logged item(s) not delivered yet, all held safe in the spool on disk with the runs' events "
        "(delivered "
        "later); 0 rejected, 0 dropped");
  f.pending_on_disk = false;
  f.pending = 0;  // after shutdown: accounted as left in the spool, nothing pending
  CHECK(f.summary() == "102 item(s) held safe in the spool on disk, delivered later; 0 rejected, 0 dropped");
  EndRunResult e;
  e.error = "HTTP 500";
  CHECK_THAT(e.summary(), Catch::StartsWith("status not set: HTTP 500; "));
}

TEST_CASE("fail fast: retry lines are printed once, by start_run, not again by the logger", "[failfast]") {
  support::TempDir root("failfast");
  ClientOptions o = options_with_spool(root.str());
  o.retry.warn_on_retry = true;
  Client client = ClientAccess::make(o, refusing());
  support::StderrCapture cap;
  {
    ActiveRun run = client.start_run(quick_start(OfflineStart::kAlways));
    for (int i = 0; i < 10; ++i) run.log_metric("loss", 1.0, i);
    const EndRunResult r = run.end();
    CHECK(r.status_spooled);
  }
  const std::string err = cap.finish();
  INFO(err);
  std::size_t lines = 0;
  for (std::size_t at = err.find("; retry "); at != std::string::npos; at = err.find("; retry ", at + 1))
    ++lines;
  CHECK(lines == 1);  // start_run's one retry before its deadline; the sender's rounds are quiet
  CHECK_THAT(err,
             Catch::Contains("GET http://mlflow.test:5000/prefix/api/2.0/mlflow/experiments/get-by-name"));
  CHECK_THAT(err, Catch::Contains("run starts offline as offline-"));
}
