// A training process for the local-store tests (test_local_store.cpp): logs into an
// existing run of a local database from several threads at once, through the async logger.
//
//   local_writer_probe <tracking_uri> <run_id> <key_prefix> <threads> <points>
//
// Thread t logs `points` points of metric "<key_prefix>_t<t>" at steps 0..points-1 (value
// step * 0.5). <run_id> "new": the probe creates a run in experiment 0 first (prints "RUN <id>"). Prints
// "DONE delivered=<n> dropped=<n> complete=<0|1>" and, for each error the logger reports, "ERROR <kind>
// <message>". SIGXFSZ is ignored, so a file-size limit
// (`ulimit -f`, the full-disk test) shows as write errors, not a killed process.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mlflowpp/mlflowpp.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: local_writer_probe <tracking_uri> <run_id> <key_prefix> <threads> <points>\n");
    return 2;
  }
  std::signal(SIGXFSZ, SIG_IGN);
  mlflowpp::ClientOptions o;
  o.tracking_uri = argv[1];
  o.retry.max_retries = 1;
  o.retry.backoff_factor = 0.05;
  o.retry.warn_on_retry = false;
  o.logger.report_errors_to_stderr = false;
  const std::string run_arg = argv[2];
  const std::string prefix = argv[3];
  const int threads = std::atoi(argv[4]);
  const long points = std::atol(argv[5]);
  try {
    mlflowpp::Client client(o);
    const std::string run_id = run_arg == "new" ? client.create_run("0").info.run_id : run_arg;
    if (run_arg == "new") std::printf("RUN %s\n", run_id.c_str());
    mlflowpp::AsyncLogger& logger = client.async_logger();
    std::mutex mu;
    logger.set_error_callback([&](const mlflowpp::LogError& e) {
      std::lock_guard<std::mutex> lk(mu);
      std::printf("ERROR %d %s\n", static_cast<int>(e.kind), e.message.c_str());
    });
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const std::string key = prefix + "_t" + std::to_string(t);
        const auto h = logger.handle_for(run_id);
        for (long i = 0; i < points; ++i) logger.log_metric(h, key, static_cast<double>(i) * 0.5, i);
      });
    for (auto& th : ts) th.join();
    const auto r = logger.flush(std::chrono::minutes(3));
    const auto st = logger.stats();
    std::printf(
        "DONE delivered=%llu dropped=%llu complete=%d\n", static_cast<unsigned long long>(st.delivered),
        static_cast<unsigned long long>(st.dropped_transient + st.dropped_queue_full), r.complete ? 1 : 0);
  } catch (const std::exception& e) {
    std::printf("FAILED %s\n", e.what());
    return 1;
  }
  return 0;
}
