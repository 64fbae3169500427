#pragma once
// Shared by the hot-path and training-loop programs: a cheap cycle clock (the TSC read between
// two lfences on x86-64, calibrated against steady_clock; steady_clock elsewhere), its own cost,
// a fixed amount of busy work calibrated once (the training step's "compute": a fixed number of
// dependent floating-point operations, not a clock spin, so that CPU taken from the thread by
// other threads lengthens the step), and percentiles.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#endif

namespace bench {

/// A timestamp in clock ticks (TSC cycles, or steady_clock ns without a TSC).
inline uint64_t ticks() noexcept {
#ifdef BENCH_HAVE_TSC
  _mm_lfence();  // the reads stay in program order around the timed code
  const uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline const char* clock_name() noexcept {
#ifdef BENCH_HAVE_TSC
  return "rdtsc (lfence-fenced), calibrated against steady_clock";
#else
  return "steady_clock";
#endif
}

/// Nanoseconds per tick, measured over `window` against steady_clock.
inline double ns_per_tick(std::chrono::milliseconds window = std::chrono::milliseconds(200)) {
#ifdef BENCH_HAVE_TSC
  using clock = std::chrono::steady_clock;
  const auto c0 = clock::now();
  const uint64_t t0 = ticks();
  while (clock::now() - c0 < window) {
  }
  const auto c1 = clock::now();
  const uint64_t t1 = ticks();
  return std::chrono::duration<double, std::nano>(c1 - c0).count() / static_cast<double>(t1 - t0);
#else
  (void)window;
  return 1.0;
#endif
}

/// The cost of one timed region with nothing in it (the median of `n` back-to-back pairs), in
/// ticks: subtracted from every per-call sample.
inline uint64_t timer_overhead_ticks(int n = 200000) {
  std::vector<uint64_t> d(static_cast<std::size_t>(n));
  for (auto& x : d) {
    const uint64_t a = ticks();
    const uint64_t b = ticks();
    x = b - a;
  }
  std::nth_element(d.begin(), d.begin() + n / 2, d.end());
  return d[static_cast<std::size_t>(n / 2)];
}

/// `iterations` of a dependent multiply-add chain (the compiler can neither vectorise nor
/// drop it): a fixed amount of CPU work.
inline double busy_work(uint64_t iterations, double seed = 1.0) noexcept {
  double x = seed;
  for (uint64_t i = 0; i < iterations; ++i) {
    x = x * 1.0000001 + 1e-9;
#ifdef BENCH_HAVE_TSC
    asm volatile("" : "+x"(x));  // keep every step (an opaque register value for the compiler)
#endif
  }
  return x;
}

/// Iterations of busy_work that take `target` of CPU on this core (median of several trials).
inline uint64_t calibrate_busy_work(std::chrono::microseconds target, int trials = 31) {
  using clock = std::chrono::steady_clock;
  const uint64_t probe = 200000;
  std::vector<double> ns;
  for (int i = 0; i < trials; ++i) {
    const auto t0 = clock::now();
    volatile double sink = busy_work(probe);
    (void)sink;
    ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  const double per_iter = ns[ns.size() / 2] / static_cast<double>(probe);
  return static_cast<uint64_t>(
      std::llround(std::chrono::duration<double, std::nano>(target).count() / per_iter));
}

/// The q-quantile (0 ≤ q ≤ 1, nearest rank) of sorted values.
template <typename T>
double quantile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  i = i == 0 ? 0 : i - 1;
  if (i >= sorted.size()) i = sorted.size() - 1;
  return static_cast<double>(sorted[i]);
}

template <typename T>
double mean(const std::vector<T>& v) {
  double s = 0;
  for (const auto& x : v) s += static_cast<double>(x);
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace bench
