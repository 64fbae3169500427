#pragma once
// Per-call controls the asynchronous logger hands to a store call (TrackingStore's
// log_batch_body): an abort flag, the wait between retries, and counters. Here, in core,
// because both store implementations use them: REST (rest/rest.hpp: retries, transfers)
// and the local store (local/: one count per transaction). Private: not installed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace mlflowpp::detail {

struct CallHooks {
  /// Abandons transfers and retry waits when it becomes true.
  const std::atomic<bool>* abort = nullptr;
  /// Waits before a retry; returns false when interrupted (then the call gives up).
  /// Default: std::this_thread::sleep_for (interrupted only through `abort` polling).
  std::function<bool(std::chrono::milliseconds)> sleep;
  std::atomic<uint64_t>* requests = nullptr;  ///< incremented per HTTP attempt (local: per transaction)
  std::atomic<uint64_t>* retries = nullptr;   ///< incremented per retry
  /// No "retry N of M" line on stderr (the logger's later rounds during an outage, which
  /// it has reported once already).
  bool quiet_retries = false;
};

}  // namespace mlflowpp::detail
