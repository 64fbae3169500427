#pragma once
// What the benchmark drivers read about their own process, and the files through which a
// driver and its scenario module take turns (bench/scenarios/d_outage.py, g_scale_out.py).
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace bench {

/// A field of /proc/self/status in KiB ("VmRSS", "VmHWM": the peak resident set since exec),
/// -1 if unreadable. The harness's wait4 figure would include its own RSS at fork time.
inline long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string want = field + ":";
  while (std::getline(in, line))
    if (line.rfind(want, 0) == 0) return std::atol(line.c_str() + want.size());
  return -1;
}

/// User plus system CPU this process has used, seconds.
inline double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/// Writes `text` and a newline to a temporary name, then renames it: a reader never sees half.
inline void write_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << text << "\n";
  }
  std::filesystem::rename(tmp, path);
}

/// Waits (polling every 2 ms) until `path` exists; false after `limit`.
inline bool wait_for_file(const std::filesystem::path& path, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace bench
