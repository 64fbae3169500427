// The fail-fast rule (ADR 0009) over real sockets: a wrong port (nothing listens) fails
// start_run within seconds with the default retry policy, naming the URI and how to train
// offline on purpose, and leaves nothing in the spool; a clean run against the real server
// leaves no spool folder, only the server in the list of servers reached.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

#include "detail/logger/logger_core.hpp"
#include "detail/spool/known_servers.hpp"
#include "integration/server.hpp"
#include "support/scoped.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {}  // namespace

TEST_CASE("fail fast: a wrong port fails start_run within seconds with the message",
          "[integration][failfast]") {
  support::TempDir spool("failfast-spool");
  const std::string uri = "http://127.0.0.1:" + std::to_string(support::free_port());
  mlflowpp::ClientOptions o;  // the defaults a user gets: 7 retries, minutes of backoff
  o.tracking_uri = uri;
  o.logger.spool.dir = spool.str();
  o.retry.warn_on_retry = false;
  mlflowpp::Client client(o);
  mlflowpp::StartRunOptions so;
  so.experiment_name = "failfast";
  so.offline_start = mlflowpp::OfflineStart::kKnownServer;  // the default, whatever the environment says
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    (void)client.start_run(so);
    FAIL("start_run did not throw");
  } catch (const mlflowpp::TransportError& e) {
    message = e.what();
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  INFO(message);
  CHECK(took < so.offline_after + std::chrono::seconds(2));
  CHECK_THAT(message, Catch::Contains("cannot reach the tracking server " + uri));
  CHECK_THAT(message, Catch::Contains("MLFLOWPP_OFFLINE_START=always"));
  CHECK(fs::is_empty(spool.path()));  // no folder for the wrong address, no journal
}

TEST_CASE("fail fast: a clean run leaves no spool folder, only the server in the list reached",
          "[integration][failfast][rest]") {
  if (!testing::have_server() || testing::local_backend()) return;
  support::TempDir spool("failfast-spool");
  mlflowpp::ClientOptions o = testing::options();
  o.logger.spool.dir = spool.str();
  const std::string target = o.tracking_uri;
  {
    mlflowpp::Client client(o);
    auto run = client.start_run(testing::unique_name("itest-failfast"), "clean");
    for (int i = 0; i < 50; ++i) run.log_metric("m", i, i);
    const mlflowpp::EndRunResult r = run.end();
    CHECK(r.status_set);
    CHECK(r.summary() == "status set on the server; all delivered");
  }
  int folders = 0;
  for (const auto& e : fs::directory_iterator(spool.path())) folders += e.is_directory();
  CHECK(folders == 0);
  CHECK(fs::exists(spool / "servers-reached"));
}
