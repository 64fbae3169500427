// Scenario g (bench/scenarios/g_scale_out.py): one rank of a job logging N metric points into
// runs created beforehand (by the module, as rank 0 of a real job would), as fast as the
// training thread can, then flushing. Eight of these run at once, in phases that the module
// starts together through files in a control folder:
//
//   mlflowpp_bench_rank <control dir> <rank> <points> <run id> <key> [<run id> <key> ...]
//
// Phase i (one per run id and key): writes <dir>/ready.<i>.<rank>, waits for <dir>/go.<i>,
// logs the points (key, 1/(step+1), step) for step 0..N-1, flushes, and writes
// <dir>/done.<i>.<rank>.json: the time to log (the training thread), to deliver, the CPU
// this process used meanwhile, the requests sent and the counters.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <thread>

#include "proc_util.hpp"

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 6 || (argc - 4) % 2 != 0) {
    std::fprintf(stderr, "usage: mlflowpp_bench_rank <control dir> <rank> <points> <run id> <key> [...]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string rank = argv[2];
  const long long points = std::atoll(argv[3]);
  auto client = mlflowpp::Client::from_env();
  auto& logger = client.async_logger();
  bool all_delivered = true;
  for (int phase = 0, a = 4; a + 1 < argc; ++phase, a += 2) {
    const auto run = logger.handle_for(argv[a]);
    const std::string key = argv[a + 1];
    const std::string id = std::to_string(phase) + "." + rank;
    bench::write_file(dir / ("ready." + id), "");
    if (!bench::wait_for_file(dir / ("go." + std::to_string(phase)), std::chrono::seconds(600)))
      throw std::runtime_error("no go file");
    const auto before = logger.stats();
    const double cpu0 = bench::process_cpu_s();
    const auto t0 = Clock::now();
    for (long long step = 0; step < points; ++step)
      logger.log_metric(run, key, 1.0 / static_cast<double>(step + 1), static_cast<int64_t>(step));
    const auto t1 = Clock::now();
    const auto flushed = logger.flush(std::chrono::minutes(10));
    const auto t2 = Clock::now();
    const auto s = logger.stats();
    const unsigned long long dropped = s.dropped_queue_full + s.dropped_transient + s.dropped_shutdown +
                                       s.dropped_spool_full - before.dropped_queue_full -
                                       before.dropped_transient - before.dropped_shutdown -
                                       before.dropped_spool_full;
    const unsigned long long delivered = s.delivered - before.delivered;
    char text[512];
    std::snprintf(
        text, sizeof text,
        "{\"client\": \"mlflowpp\", \"points\": %lld, \"log_s\": %.4f, \"total_s\": %.4f, \"cpu_s\": %.3f, "
        "\"delivered\": %llu, \"dropped\": %llu, \"requests\": %llu, \"retries\": %llu, \"complete\": %d}",
        points, std::chrono::duration<double>(t1 - t0).count(),
        std::chrono::duration<double>(t2 - t0).count(), bench::process_cpu_s() - cpu0, delivered, dropped,
        static_cast<unsigned long long>(s.requests - before.requests),
        static_cast<unsigned long long>(s.retries - before.retries), flushed.complete ? 1 : 0);
    bench::write_file(dir / ("done." + id + ".json"), text);
    all_delivered = all_delivered && flushed.complete && delivered == static_cast<unsigned long long>(points);
  }
  return all_delivered ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
