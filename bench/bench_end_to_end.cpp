// End to end against a real server: N metric points through ActiveRun::log_metric, then
// run.end() (drain + FINISHED). Prints one line of key=value figures, for scripts/bench.sh
// to set beside the Python client's.
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 mlflowpp_bench_end_to_end [points]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

int main(int argc, char** argv) try {
  const int64_t points = argc > 1 ? std::atoll(argv[1]) : 100000;
  using clock = std::chrono::steady_clock;
  auto client = mlflowpp::Client::from_env();
  auto run = client.start_run("bench-end-to-end", "cpp-" + std::to_string(points));
  const auto t0 = clock::now();
  for (int64_t step = 0; step < points; ++step)
    run.log_metric("loss", 1.0 / static_cast<double>(step + 1), step);
  const auto t1 = clock::now();
  auto result = run.end();
  const auto t2 = clock::now();
  auto stats = client.async_logger().stats();
  const double enqueue_ns =
      std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(points);
  const double total_s = std::chrono::duration<double>(t2 - t0).count();
  std::printf(
      "client=mlflowpp points=%lld enqueue_ns_per_call=%.1f training_thread_s=%.4f total_s=%.3f "
      "points_per_s=%.0f requests=%llu delivered=%llu ok=%d\n",
      static_cast<long long>(points), enqueue_ns, std::chrono::duration<double>(t1 - t0).count(), total_s,
      static_cast<double>(points) / total_s, static_cast<unsigned long long>(stats.requests),
      static_cast<unsigned long long>(stats.delivered), result.flush.ok() && result.status_set ? 1 : 0);
  return result.flush.ok() && result.status_set ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
