// Scenario d (bench/scenarios/d_outage.py): N metric points logged while the tracking server
// is stopped, then delivered when it returns. The scenario module and this program take
// turns through files in a control folder:
//
//   mlflowpp_bench_outage <control dir> <points>
//
//   1. start_run while the server is up; writes <dir>/started.json {"run_id": ...}
//   2. waits for <dir>/go (the module has stopped the server), logs the points in two
//      halves, waiting after each until every point is written ahead to the spool journal
//      (nothing left in the in-memory queue), and writes <dir>/logged.json: RSS before,
//      after the first half and after all, the peak, the counters
//   3. waits for <dir>/back (the module has restarted the server), waits for delivery,
//      ends the run, prints one JSON line: how long delivery took, requests, the counters.
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

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string counters(const mlflowpp::LoggerStats& s) {
  char text[512];
  std::snprintf(text, sizeof text,
                "\"enqueued\": %llu, \"written_ahead\": %llu, \"delivered\": %llu, \"dropped\": %llu, "
                "\"rejected\": %llu, \"requests\": %llu, \"retries\": %llu, \"queue_high_water\": %llu",
                static_cast<unsigned long long>(s.enqueued), static_cast<unsigned long long>(s.written_ahead),
                static_cast<unsigned long long>(s.delivered),
                static_cast<unsigned long long>(s.dropped_queue_full + s.dropped_transient +
                                                s.dropped_shutdown + s.dropped_spool_full),
                static_cast<unsigned long long>(s.rejected_invalid + s.rejected_by_server),
                static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.retries),
                static_cast<unsigned long long>(s.queue_high_water));
  return text;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mlflowpp_bench_outage <control dir> <points>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const long long points = std::atoll(argv[2]);
  auto options = mlflowpp::ClientOptions::from_env();
  options.retry.warn_on_retry = false;  // the outage is on purpose
  mlflowpp::Client client(options);
  auto run = client.start_run("bench-outage", "cpp-outage-" + std::to_string(points));
  auto& logger = client.async_logger();
  bench::write_file(dir / "started.json", "{\"run_id\": \"" + run.run_id() + "\"}");

  if (!bench::wait_for_file(dir / "go", std::chrono::seconds(120))) throw std::runtime_error("no go file");
  // Everything out of the queue and into the journal: what an outage of any length holds.
  auto wait_for_spool = [&](long long n) {
    const auto until = Clock::now() + std::chrono::minutes(5);
    while (logger.stats().written_ahead < static_cast<uint64_t>(n) && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  };
  auto log_steps = [&](long long from, long long to) {
    const auto t = Clock::now();
    for (long long step = from; step < to; ++step)
      run.log_metric("loss", 1.0 / static_cast<double>(step + 1), static_cast<int64_t>(step));
    return Clock::now() - t;
  };
  // Two halves: the growth over the second one is what more queued points cost once the
  // fixed costs (the queue's second buffer, a round's batching, the bodies buffer) are paid.
  const long long half = points / 2;
  const long rss_before = bench::status_kib("VmRSS");
  const auto t0 = Clock::now();
  auto logging = log_steps(0, half);
  wait_for_spool(half);
  const long rss_half = bench::status_kib("VmRSS");
  logging += log_steps(half, points);
  wait_for_spool(points);
  const auto t1 = Clock::now();
  char text[512];
  std::snprintf(text, sizeof text,
                "{\"log_s\": %.4f, \"to_spool_s\": %.4f, \"rss_before_kib\": %ld, \"rss_half_kib\": %ld, "
                "\"rss_after_kib\": %ld, \"hwm_kib\": %ld, ",
                seconds(logging), seconds(t1 - t0), rss_before, rss_half, bench::status_kib("VmRSS"),
                bench::status_kib("VmHWM"));
  bench::write_file(dir / "logged.json", std::string(text) + counters(logger.stats()) + "}");

  if (!bench::wait_for_file(dir / "back", std::chrono::seconds(300)))
    throw std::runtime_error("no back file");
  const auto t_back = Clock::now();
  auto t_first = t_back;
  bool first_seen = false;
  const auto deadline = t_back + std::chrono::minutes(10);
  for (;;) {
    const auto s = logger.stats();
    if (!first_seen && s.delivered > 0) {
      t_first = Clock::now();
      first_seen = true;
    }
    if (s.pending() == 0 || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto t_done = Clock::now();
  const auto result = run.end();
  const auto s = logger.stats();
  std::printf(
      "{\"client\": \"mlflowpp\", \"points\": %lld, \"first_delivery_after_back_s\": %.3f, \"drain_s\": "
      "%.3f, "
      "\"deliver_s\": %.3f, \"status_set\": %d, \"hwm_kib\": %ld, %s}\n",
      points, first_seen ? seconds(t_first - t_back) : -1.0, seconds(t_done - t_first),
      seconds(t_done - t_back), result.status_set ? 1 : 0, bench::status_kib("VmHWM"), counters(s).c_str());
  return s.delivered == static_cast<uint64_t>(points) && result.status_set ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
