// Soak: log a steady rate of metric points while the tracking server goes away and comes
// back (scripts/soak.sh stops and restarts it), then end the run and report what the
// server holds and the process's peak memory. Run by hand, not in CI.
//
//   mlflowpp_soak_outage <points_per_second> <seconds> [experiment]
// Prints one status line every 10 s and, at the end, SOAK lines with the figures.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "mlflowpp/mlflowpp.hpp"
#include "proc_util.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mlflowpp_soak_outage <points_per_second> <seconds> [experiment]\n");
    return 2;
  }
  const long rate = std::atol(argv[1]);
  const long seconds = std::atol(argv[2]);
  const std::string experiment = argc > 3 ? argv[3] : "mlflowpp-soak";
  auto options = mlflowpp::ClientOptions::from_env();
  options.retry.warn_on_retry = false;
  mlflowpp::Client client(options);
  auto run = client.start_run(experiment, "soak");
  const std::string run_id = run.run_id();
  std::printf("SOAK run_id=%s rate=%ld/s seconds=%ld\n", run_id.c_str(), rate, seconds);
  std::fflush(stdout);
  auto& logger = client.async_logger();
  const auto start = std::chrono::steady_clock::now();
  long n = 0;
  // 100 ticks per second, rate/100 points per tick (keys loss, acc, lr, grad_norm, ...).
  const long per_tick = std::max(1L, rate / 100);
  for (long tick = 0; tick < seconds * 100; ++tick) {
    for (long k = 0; k < per_tick; ++k, ++n)
      run.log_metric("m" + std::to_string(k % 10), static_cast<double>(n) * 1e-3, n / 10);
    if (tick % 1000 == 0) {
      const auto s = logger.stats();
      std::printf(
          "t=%lds logged=%ld delivered=%llu written_ahead=%llu dropped=%llu pending=%llu rss=%ld KiB\n",
          tick / 100, n, static_cast<unsigned long long>(s.delivered),
          static_cast<unsigned long long>(s.written_ahead),
          static_cast<unsigned long long>(s.dropped_queue_full + s.dropped_spool_full),
          static_cast<unsigned long long>(s.pending()), bench::status_kib("VmRSS"));
      std::fflush(stdout);
    }
    std::this_thread::sleep_until(start + std::chrono::milliseconds(10 * (tick + 1)));
  }
  const auto end_t0 = std::chrono::steady_clock::now();
  auto res = run.end();
  const double end_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - end_t0).count();
  const auto s = logger.stats();
  // Before the read-back below, which holds every point in memory at once.
  const long peak_logging_kib = bench::status_kib("VmHWM");
  long on_server = 0;
  try {
    for (int k = 0; k < 10; ++k)
      on_server += static_cast<long>(client.get_metric_history(run_id, "m" + std::to_string(k)).size());
  } catch (const std::exception& e) {
    std::printf("SOAK could not read the metrics back: %s\n", e.what());
  }
  std::printf(
      "SOAK logged=%ld on_server=%ld delivered=%llu dropped=%llu status_set=%d end_s=%.1f requests=%llu\n", n,
      on_server, static_cast<unsigned long long>(s.delivered),
      static_cast<unsigned long long>(s.dropped_queue_full + s.dropped_spool_full + s.dropped_transient),
      res.status_set ? 1 : 0, end_s, static_cast<unsigned long long>(s.requests));
  std::printf("SOAK peak_rss_kib=%ld (VmHWM while logging, delivering and ending the run)\n",
              peak_logging_kib);
  return on_server == n && res.status_set ? 0 : 1;
}
