// A training process for the durability tests (test_durability.cpp): starts a run, logs
// `points` metric points with known timestamps, waits until every one is in the spool
// journal, prints READY and then waits to be killed.
//
//   spool_probe <tracking_uri> <experiment> <points> <mode>
//     mode "kill": wait for SIGKILL (the test recovers the journal in another process)
//     mode "term": install_signal_handlers() first; SIGTERM ends the run KILLED
// Prints "RUN <run_id> <offline 0|1>" after starting and "READY <last timestamp ms>".
// The spool folder comes from MLFLOWPP_SPOOL_DIR.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "mlflowpp/mlflowpp.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: spool_probe <tracking_uri> <experiment> <points> <kill|term>\n");
    return 2;
  }
  const std::string mode = argv[4];
  const long points = std::atol(argv[3]);
  mlflowpp::ClientOptions o;
  o.tracking_uri = argv[1];
  o.retry.max_retries = 2;
  o.retry.backoff_factor = 0.05;
  o.retry.backoff_jitter = 0.0;
  o.retry.warn_on_retry = false;
  o.connect_timeout = std::chrono::seconds(2);
  o.logger.spool.max_retry_wait = std::chrono::milliseconds(500);
  if (mode == "term") {
    mlflowpp::SignalHandlerOptions so;
    so.drain_deadline = std::chrono::seconds(20);
    mlflowpp::install_signal_handlers(so);
  }
  mlflowpp::Client client(o);
  mlflowpp::StartRunOptions so;
  so.experiment_name = argv[2];
  so.run_name = "probe-" + mode;
  so.offline_after = std::chrono::seconds(3);
  mlflowpp::ActiveRun run = client.start_run(so);
  std::printf("RUN %s %d\n", run.run_id().c_str(), run.offline() ? 1 : 0);
  std::fflush(stdout);
  run.log_param("mode", mode);
  run.set_tag("probe", "yes");
  const int64_t base = 1700000000000;
  for (long i = 0; i < points; ++i) run.log_metric("loss", 1.0 / static_cast<double>(i + 1), i, base + i);
  // Every item in the journal (written ahead of sending): a crash now loses nothing.
  auto& logger = client.async_logger();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (logger.stats().written_ahead < static_cast<uint64_t>(points) + 2 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::printf("READY %lld\n", static_cast<long long>(base + points - 1));
  std::fflush(stdout);
  for (;;) ::pause();
}
