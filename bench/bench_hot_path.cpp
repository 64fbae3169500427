// Scenario a (bench/scenarios/a_hot_path.py): the cost of one log_metric call on the training
// thread — its latency distribution and its heap allocations — with 1 or N training threads,
// in steady state (after a warm-up, while the logger delivers concurrently).
//
//   mlflowpp_bench_hot_path [--mode server|instant] [--threads N] [--warmup CALLS]
//       [--calls CALLS] [--burst B] [--gap-us US] [--key PREFIX] [--experiment NAME]
//       [--timestamp now|explicit]
//
// --mode server (default): ActiveRun::log_metric — the public path — of a Client::from_env()
//   run against a real tracking server (MLFLOW_TRACKING_URI), with the whole pipeline behind
//   it (write-ahead spool, HTTP). --mode instant: AsyncLogger::log_metric of a logger whose
//   transport answers every request at once, in-process, so that runs long enough for the
//   queue to wrap several times cost no server time (the calls are the same code from
//   AsyncLogger::log_metric on; ActiveRun adds one call).
// --timestamp explicit passes a timestamp taken once per burst (the 4-argument log_metric, as
// log_metrics shares one per call) instead of letting each call read the clock.
// Each thread logs in bursts of B calls (its own key: PREFIX, or PREFIX_t<i> with several
// threads), each burst followed by US microseconds of CPU work (a fixed amount, calibrated
// once), like a training step logging B metrics: the logging rate stays below what the
// pipeline absorbs, so no call waits for room in a full queue. CALLS are totals over the
// threads. In the measured window, half the bursts (chosen at random) time each call (TSC, the
// timer's own cost subtracted), the others time the whole burst (no timer inside: the cost per
// call without a timer's fences around it).
// Allocations: the global operator new is replaced (alloc_count.cpp); each training thread
// counts its own in the measured window; all threads' (the logger's too) are counted apart.
// Prints one JSON object on stdout.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alloc_count.hpp"
#include "api/logger_access.hpp"
#include "bench_clock.hpp"
#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"
#include "json_line.hpp"

namespace {

struct Args {
  std::string mode = "server";
  int threads = 1;
  int64_t warmup = 10000;  // calls, all threads together
  int64_t calls = 40000;   // measured calls, all threads together
  int burst = 100;
  int64_t gap_us = 1000;
  std::string key = "train_loss";
  std::string experiment = "bench-hot-path";
  bool explicit_timestamp = false;  // pass a timestamp taken once per burst (no clock read per call)
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + k);
    const std::string v = argv[++i];
    if (k == "--mode") {
      a.mode = v;
    } else if (k == "--threads") {
      a.threads = std::atoi(v.c_str());
    } else if (k == "--warmup") {
      a.warmup = std::atoll(v.c_str());
    } else if (k == "--calls") {
      a.calls = std::atoll(v.c_str());
    } else if (k == "--burst") {
      a.burst = std::atoi(v.c_str());
    } else if (k == "--gap-us") {
      a.gap_us = std::atoll(v.c_str());
    } else if (k == "--key") {
      a.key = v;
    } else if (k == "--experiment") {
      a.experiment = v;
    } else if (k == "--timestamp") {
      if (v != "now" && v != "explicit") throw std::runtime_error("--timestamp is now or explicit");
      a.explicit_timestamp = v == "explicit";
    } else {
      throw std::runtime_error("unknown option " + k);
    }
  }
  if (a.mode != "server" && a.mode != "instant") throw std::runtime_error("--mode is server or instant");
  if (a.threads < 1 || a.burst < 1 || a.calls < 2 * a.threads * a.burst)
    throw std::runtime_error("need threads ≥ 1, burst ≥ 1 and calls ≥ 2 bursts per thread");
  return a;
}

// A barrier whose last arrival runs `on_release` before anyone goes on (C++17 has none).
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait(const std::function<void()>& on_release = {}) {
    std::unique_lock<std::mutex> lk(mu_);
    const uint64_t gen = gen_;
    if (++arrived_ == n_) {
      if (on_release) on_release();
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lk, [&] { return gen_ != gen; });
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_, arrived_ = 0;
  uint64_t gen_ = 0;
};

struct ThreadResult {
  std::vector<uint64_t> per_call;      // ticks, timer included
  std::vector<double> burst_per_call;  // ticks per call of each untimed burst
  uint64_t burst_ticks = 0, burst_calls = 0;
  uint64_t allocs = 0, alloc_bytes = 0, calls = 0;
};

class InstantTransport final : public mlflowpp::detail::Transport {
 public:
  mlflowpp::detail::HttpResponse perform(const mlflowpp::detail::HttpRequest&) override {
    mlflowpp::detail::HttpResponse r;
    r.status = 200;
    r.body = "{}";
    r.content_type = "application/json";
    return r;
  }
};

std::unique_ptr<mlflowpp::AsyncLogger> make_instant_logger() {
  mlflowpp::ClientOptions co;
  co.tracking_uri = "http://bench.invalid";
  auto rest = std::make_shared<mlflowpp::detail::RestClient>(co, std::make_shared<InstantTransport>());
  mlflowpp::detail::LoggerDeps deps;
  deps.store = mlflowpp::detail::make_rest_store(rest);
  deps.options.report_errors_to_stderr = false;
  // The default options (queue of 100,000, spool on) as a Client would have them; the journal
  // goes to a folder of this process under MLFLOWPP_SPOOL_DIR, when set.
  if (const char* root = std::getenv("MLFLOWPP_SPOOL_DIR"); root && *root)
    deps.spool_dir = std::string(root) + "/bench-hot-path-instant-" + std::to_string(::getpid());
  deps.target = co.tracking_uri;
  return mlflowpp::detail::make_async_logger(std::make_unique<mlflowpp::detail::LoggerCore>(std::move(deps)));
}

// The median cost (ns, timer subtracted) of `f` alone: what parts of one call cost here.
template <typename F>
double part_ns(F f, uint64_t overhead, double ns_tick, int n = 100000) {
  std::vector<uint64_t> d(static_cast<std::size_t>(n));
  for (auto& x : d) {
    const uint64_t t0 = bench::ticks();
    f();
    const uint64_t t1 = bench::ticks();
    x = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
  }
  std::sort(d.begin(), d.end());
  return bench::quantile(d, 0.5) * ns_tick;
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string key_of(const Args& a, int t) { return a.threads == 1 ? a.key : a.key + "_t" + std::to_string(t); }

// Runs the threads; `log(key, value, step)` is the call measured.
template <typename Log>
std::vector<ThreadResult> measure(const Args& a, Log log, uint64_t gap_iters, Barrier& barrier,
                                  const std::function<void()>& on_start,
                                  const std::function<void()>& on_end) {
  std::vector<ThreadResult> out(static_cast<std::size_t>(a.threads));
  std::vector<std::thread> threads;
  const int64_t warm_per = a.warmup / a.threads, calls_per = a.calls / a.threads;
  for (int t = 0; t < a.threads; ++t) {
    threads.emplace_back([&, t] {
      ThreadResult& r = out[static_cast<std::size_t>(t)];
      const std::string key = key_of(a, t);
      r.per_call.resize(static_cast<std::size_t>(calls_per));
      r.burst_per_call.reserve(static_cast<std::size_t>(calls_per / a.burst + 2));
      std::size_t n_timed = 0;
      int64_t step = 0;
      double sink = 0;
      for (int64_t i = 0; i < warm_per;) {
        const int64_t ts = wall_ms();
        for (int j = 0; j < a.burst && i < warm_per; ++j, ++i, ++step)
          log(key, 0.001 * static_cast<double>(step), step, ts);
        sink += bench::busy_work(gap_iters);
      }
      barrier.wait(on_start);
      bench::count_thread_allocations(true);
      int64_t done = 0;
      uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(t + 1);
      while (done < calls_per) {
        const int n = static_cast<int>(std::min<int64_t>(a.burst, calls_per - done));
        const int64_t ts = wall_ms();
        // Timed per call or as a whole: a pseudo-random half each, so that neither half lines
        // up with a period of the logger (it is woken every wake_threshold = 1000 items).
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        if ((rng >> 63) == 0) {
          for (int j = 0; j < n; ++j, ++step) {
            const uint64_t t0 = bench::ticks();
            log(key, 0.001 * static_cast<double>(step), step, ts);
            const uint64_t t1 = bench::ticks();
            r.per_call[n_timed++] = t1 - t0;
          }
        } else {
          const uint64_t t0 = bench::ticks();
          for (int j = 0; j < n; ++j, ++step) log(key, 0.001 * static_cast<double>(step), step, ts);
          const uint64_t d = bench::ticks() - t0;
          r.burst_ticks += d;
          r.burst_per_call.push_back(static_cast<double>(d) / n);
          r.burst_calls += static_cast<uint64_t>(n);
        }
        done += n;
        sink += bench::busy_work(gap_iters);
      }
      bench::count_thread_allocations(false);
      r.per_call.resize(n_timed);
      r.allocs = bench::thread_allocations();
      r.alloc_bytes = bench::thread_allocated_bytes();
      r.calls = static_cast<uint64_t>(done);
      barrier.wait(on_end);
      if (sink == 42.0) std::fprintf(stderr, "(unlikely)\n");
    });
  }
  for (auto& th : threads) th.join();
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  const double ns_tick = bench::ns_per_tick();
  const uint64_t overhead = bench::timer_overhead_ticks();
  const uint64_t gap_iters = bench::calibrate_busy_work(std::chrono::microseconds(a.gap_us));
  // Two parts of every call, alone: the wall clock read for the timestamp, and an uncontended
  // lock and unlock of a std::mutex (the queue's).
  std::mutex part_mu;
  const double clock_ns = part_ns(
      [] {
        auto t = std::chrono::system_clock::now();
        asm volatile("" : : "r"(&t) : "memory");
      },
      overhead, ns_tick);
  const double mutex_ns = part_ns(
      [&] {
        part_mu.lock();
        part_mu.unlock();
      },
      overhead, ns_tick);

  std::atomic<uint64_t> all_allocs{0};
  mlflowpp::AsyncLogger* logger_seen = nullptr;  // for the queue's depth peak at the warm-up's end
  uint64_t high_water_warm = 0;
  std::chrono::steady_clock::time_point w0, w1;
  Barrier barrier(a.threads);
  auto on_start = [&] {
    if (logger_seen) high_water_warm = logger_seen->stats().queue_high_water;
    bench::count_all_allocations(true);
    w0 = std::chrono::steady_clock::now();
  };
  auto on_end = [&] {
    w1 = std::chrono::steady_clock::now();
    bench::count_all_allocations(false);
    all_allocs = bench::all_allocations();
  };

  std::vector<ThreadResult> res;
  bench::JsonLine out;
  mlflowpp::LoggerStats stats;
  if (a.mode == "server") {
    auto client = mlflowpp::Client::from_env();
    auto run = client.start_run(a.experiment, "cpp-" + std::to_string(a.threads) + "t");
    logger_seen = &client.async_logger();
    res = measure(
        a,
        [&](const std::string& k, double v, int64_t s, int64_t ts) {
          if (a.explicit_timestamp) {
            run.log_metric(k, v, s, ts);
          } else {
            run.log_metric(k, v, s);
          }
        },
        gap_iters, barrier, on_start, on_end);
    auto end = run.end();
    stats = client.async_logger().stats();
    out.add("run_id", run.run_id())
        .add("status_set", end.status_set)
        .add("flush_complete", end.flush.complete);
  } else {
    auto logger = make_instant_logger();
    const auto h = logger->handle_for("0123456789abcdef0123456789abcdef");
    logger_seen = logger.get();
    res = measure(
        a,
        [&](const std::string& k, double v, int64_t s, int64_t ts) {
          logger->log_metric(h, k, v, s, a.explicit_timestamp ? ts : mlflowpp::AsyncLogger::kNow);
        },
        gap_iters, barrier, on_start, on_end);
    auto f = logger->shutdown(std::chrono::minutes(2));
    stats = logger->stats();
    out.add("flush_complete", f.complete);
  }

  std::vector<double> net, bursts;
  uint64_t burst_ticks = 0, burst_calls = 0, allocs = 0, bytes = 0, calls = 0;
  for (auto& r : res) {
    for (uint64_t t : r.per_call)
      net.push_back(static_cast<double>(t > overhead ? t - overhead : 0) * ns_tick);
    burst_ticks += r.burst_ticks;
    burst_calls += r.burst_calls;
    for (double b : r.burst_per_call) bursts.push_back(b * ns_tick);
    allocs += r.allocs;
    bytes += r.alloc_bytes;
    calls += r.calls;
  }
  std::sort(net.begin(), net.end());
  std::sort(bursts.begin(), bursts.end());
  const auto slow = static_cast<std::size_t>(net.end() - std::upper_bound(net.begin(), net.end(), 10000.0));
  std::vector<std::string> keys;
  for (int t = 0; t < a.threads; ++t) keys.push_back(key_of(a, t));
  const auto per_call = [&](double v) { return calls ? v / static_cast<double>(calls) : 0.0; };
  out.add("client", "mlflowpp")
      .add("mode", a.mode)
      .add("timestamp", a.explicit_timestamp ? "explicit" : "now")
      .add("threads", a.threads)
      .add("calls", calls)
      .add("timed_calls", net.size())
      .add("p50_ns", bench::quantile(net, 0.5))
      .add("p90_ns", bench::quantile(net, 0.9))
      .add("p99_ns", bench::quantile(net, 0.99))
      .add("p999_ns", bench::quantile(net, 0.999))
      .add("max_ns", net.empty() ? 0.0 : net.back())
      .add("mean_ns", bench::mean(net))
      .add("mean_ns_in_bursts",
           burst_calls ? static_cast<double>(burst_ticks) * ns_tick / static_cast<double>(burst_calls) : 0.0)
      .add("burst_p50_ns_per_call", bench::quantile(bursts, 0.5))
      .add("burst_p99_ns_per_call", bench::quantile(bursts, 0.99))
      .add("over_10us_per_1000",
           net.empty() ? 0.0 : 1000.0 * static_cast<double>(slow) / static_cast<double>(net.size()))
      .add("timer_overhead_ns", static_cast<double>(overhead) * ns_tick)
      .add("clock", bench::clock_name())
      .add("part_clock_ns", clock_ns)
      .add("part_mutex_ns", mutex_ns)
      .add("allocs_per_call", per_call(static_cast<double>(allocs)))
      .add("alloc_bytes_per_call", per_call(static_cast<double>(bytes)))
      .add("allocs", allocs)
      .add("all_threads_allocs_per_call", per_call(static_cast<double>(all_allocs.load())))
      .add("burst", a.burst)
      .add("gap_us", a.gap_us)
      .add("window_s", std::chrono::duration<double>(w1 - w0).count())
      .add("keys", keys)
      .add("points_per_key", a.warmup / a.threads + a.calls / a.threads)
      .add("enqueued", stats.enqueued)
      .add("delivered", stats.delivered)
      .add("dropped", stats.dropped_queue_full + stats.dropped_transient + stats.dropped_shutdown +
                          stats.dropped_spool_full)
      .add("requests", stats.requests)
      .add("queue_high_water", stats.queue_high_water)
      .add("queue_high_water_warmup", high_water_warm)
      .print();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
