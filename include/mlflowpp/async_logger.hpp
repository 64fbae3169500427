#pragma once
/// @file async_logger.hpp
/// The background batching logger behind ActiveRun and Client::async_logger().
///
/// Logging calls copy the item into a preallocated, bounded in-memory queue and return:
/// they are `noexcept`, take the timestamp at enqueue time, do no I/O and never wait on
/// the network. A background thread per logger drains the queue, validates each item,
/// coalesces each run's items (in order) into `POST /api/2.0/mlflow/runs/log-batch`
/// requests within every server limit (≤ 1000 metrics, ≤ 100 params, ≤ 100 tags,
/// ≤ 1000 entities, ≤ LoggerOptions::max_request_bytes of JSON, never two params with
/// the same key), retries transient failures with the client's RetryPolicy, and isolates
/// any item the server refuses so that the rest of its batch still lands.
///
/// Every request is written ahead to the spool journal (LoggerOptions::spool) and sent by a
/// second thread, in order; a server outage of any length only delays delivery.
///
/// Every item ends in exactly one of: delivered, rejected (invalid on the client, or
/// refused by the server; reported by key through the error callback), left in the spool
/// at exit (delivered by a later process), or dropped (queue full; spool full; without a
/// spool: retries exhausted, shutdown deadline; counted by reason).
///
/// Thread safety: every member function may be called from any number of threads at
/// once. The error callback runs on one of the logger's threads, never under an internal lock.
/// After fork(), the child's logger is inert: its calls drop (counted) and its
/// destructor leaves the parent's thread and connections alone.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "mlflowpp/logging.hpp"

namespace mlflowpp {

namespace detail {
class LoggerCore;
struct LoggerAccess;
}  // namespace detail

/// Asynchronous, batching logger. Obtain it from Client::async_logger(); ActiveRun uses
/// it for its log_* calls. Non-copyable; shared by every copy of its Client.
class AsyncLogger {
 public:
  /// Interned handle of a run id, so that the hot path copies an integer, not the id.
  using RunHandle = uint32_t;
  /// `timestamp_ms` value meaning "now, taken at enqueue".
  static constexpr int64_t kNow = kTimestampNow;

  ~AsyncLogger();  ///< shutdown(LoggerOptions::end_run_flush_timeout); noexcept
  AsyncLogger(const AsyncLogger&) = delete;
  AsyncLogger& operator=(const AsyncLogger&) = delete;

  /// Interns `run_id` (takes a lock; not for the hot path). Same id → same handle.
  RunHandle handle_for(std::string_view run_id);

  /// Enqueues a metric point. `timestamp_ms` is ms since the epoch (≥ 0; a negative one
  /// is rejected and reported); kNow means "now", taken here at enqueue.
  /// Never throws, never blocks (except with OverflowPolicy::kBlock on a full queue).
  void log_metric(RunHandle run, std::string_view key, double value, int64_t step = 0,
                  int64_t timestamp_ms = kNow) noexcept;
  /// Enqueues a param (value ≤ 6000 characters; write-once per run on the server).
  void log_param(RunHandle run, std::string_view key, std::string_view value) noexcept;
  /// Enqueues a tag (value ≤ 8000 characters; last write wins).
  void set_tag(RunHandle run, std::string_view key, std::string_view value) noexcept;

  /// Conveniences that intern `run_id` first (a hash lookup under a lock).
  void log_metric(std::string_view run_id, std::string_view key, double value, int64_t step = 0,
                  int64_t timestamp_ms = kNow) noexcept;
  void log_param(std::string_view run_id, std::string_view key, std::string_view value) noexcept;
  void set_tag(std::string_view run_id, std::string_view key, std::string_view value) noexcept;

  /// Waits until everything enqueued before this call is delivered or accounted for, or
  /// until `timeout`. Sends queued items at once (does not wait for max_batch_delay).
  FlushResult flush(std::chrono::milliseconds timeout = std::chrono::minutes(5)) noexcept;

  /// Flushes what it can, stops the worker and returns within `deadline`, even when the
  /// server hangs — plus up to about one second: libcurl checks the abort flag of a
  /// stalled transfer about once a second. When the server is unreachable and everything
  /// left is in the spool, it returns at once. What is left is counted in left_in_spool
  /// (kept on disk for the next process) or, without a spool, in dropped_shutdown.
  /// Idempotent; later log calls drop (counted as enqueued and dropped_shutdown). Releases
  /// the error callback.
  FlushResult shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(30)) noexcept;

  /// A snapshot of the counters (all runs).
  LoggerStats stats() const noexcept;

  /// What became of the items of one run so far (pending items are in none of the counts).
  RunLogStats run_stats(RunHandle run) const noexcept;

  /// Sets the callback for refused, held and dropped items. It runs on one of the logger's
  /// two threads (never the caller's, never under a lock of the logger) and
  /// must not call this logger's flush or shutdown, nor own (capture by value) the Client
  /// that owns this logger: that is a reference cycle, and destroying the last copy of the
  /// Client from the logger's thread is not supported. Pass nullptr to remove it.
  void set_error_callback(ErrorCallback callback);

 private:
  // The library's own code (ActiveRun, Client, the signal helper) reaches the engine
  // through detail::logger_core(), implemented with this friend in async_logger.cpp.
  friend struct detail::LoggerAccess;
  explicit AsyncLogger(std::unique_ptr<detail::LoggerCore> core);  // detail::make_async_logger
  std::unique_ptr<detail::LoggerCore> core_;
};

}  // namespace mlflowpp
