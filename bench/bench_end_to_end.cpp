// Scenarios b and h (bench/scenarios/): N metric points through ActiveRun::log_metric, then
// run.end() (drain + FINISHED), against MLFLOW_TRACKING_URI: a server, or a local
// sqlite:/// store. Prints one JSON object with the figures; the harness adds the process's
// CPU and peak memory (wait4) and the server's request count, and reads the points back.
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 mlflowpp_bench_end_to_end POINTS [RUN_NAME]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

#include "proc_util.hpp"

int main(int argc, char** argv) try {
  const int64_t points = argc > 1 ? std::atoll(argv[1]) : 100000;
  const std::string run_name = argc > 2 ? argv[2] : "cpp-" + std::to_string(points);
  using clock = std::chrono::steady_clock;
  auto client = mlflowpp::Client::from_env();
  auto run = client.start_run("bench-end-to-end", run_name);
  const auto t0 = clock::now();
  for (int64_t step = 0; step < points; ++step)
    run.log_metric("loss", 1.0 / static_cast<double>(step + 1), step);
  const auto t1 = clock::now();
  auto result = run.end();
  const auto t2 = clock::now();
  auto stats = client.async_logger().stats();
  const bool ok = result.flush.ok() && result.status_set;
  std::printf(
      "{\"client\": \"mlflowpp\", \"run_id\": \"%s\", \"points\": %lld, \"training_thread_s\": %.6f, "
      "\"total_s\": %.6f, \"requests\": %llu, \"delivered\": %llu, \"peak_rss_kib\": %ld, \"ok\": %s}\n",
      run.server_run_id().c_str(), static_cast<long long>(points),
      std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t0).count(),
      static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.delivered),
      bench::status_kib("VmHWM"), ok ? "true" : "false");
  if (!ok) std::fprintf(stderr, "%s\n", result.summary().c_str());
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
