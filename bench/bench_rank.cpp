// Scenario g (bench/scenarios/g_scale_out.py): one rank of a job logging N metric points into
// a run created beforehand (by the module, as rank 0 of a real job would), as fast as the
// training thread can, then flushing. Eight of these run at once.
//
//   mlflowpp_bench_rank <run id> <metric key> <points>
//
// Prints one JSON line: the time to log (the training thread), to deliver everything, the
// requests sent and the counters.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 4) {
    std::fprintf(stderr, "usage: mlflowpp_bench_rank <run id> <metric key> <points>\n");
    return 2;
  }
  const std::string run_id = argv[1];
  const std::string key = argv[2];
  const long long points = std::atoll(argv[3]);
  using Clock = std::chrono::steady_clock;
  auto client = mlflowpp::Client::from_env();
  auto& logger = client.async_logger();
  const auto run = logger.handle_for(run_id);
  const auto t0 = Clock::now();
  for (long long step = 0; step < points; ++step)
    logger.log_metric(run, key, 1.0 / static_cast<double>(step + 1), static_cast<int64_t>(step));
  const auto t1 = Clock::now();
  const auto flushed = logger.flush(std::chrono::minutes(10));
  const auto t2 = Clock::now();
  const auto s = logger.stats();
  const unsigned long long dropped =
      s.dropped_queue_full + s.dropped_transient + s.dropped_shutdown + s.dropped_spool_full;
  std::printf(
      "{\"client\": \"mlflowpp\", \"points\": %lld, \"log_s\": %.4f, \"total_s\": %.4f, \"delivered\": %llu, "
      "\"dropped\": %llu, \"rejected\": %llu, \"requests\": %llu, \"retries\": %llu, \"complete\": %d}\n",
      points, std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t0).count(),
      static_cast<unsigned long long>(s.delivered), dropped,
      static_cast<unsigned long long>(s.rejected_invalid + s.rejected_by_server),
      static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.retries),
      flushed.complete ? 1 : 0);
  return flushed.complete && s.delivered == static_cast<uint64_t>(points) ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
