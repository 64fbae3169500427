#pragma once
/// @file async_logger.hpp
/// The background batching logger behind ActiveRun and Client::async_logger().
///
/// Logging calls copy the item into a preallocated, bounded in-memory queue and return:
/// they are `noexcept`, take the timestamp at enqueue time, do no I/O and never wait on
/// the network. One worker thread per logger drains the queue, validates each item,
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
/// once. The error callback runs on the worker thread, never under an internal lock.
/// After fork(), the child's logger is inert: its calls drop (counted) and its
/// destructor leaves the parent's thread and connections alone.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace mlflowpp {

namespace detail {
class LoggerCore;
}
class ActiveRun;
class Client;
struct RunGuard;

/// Counters of an AsyncLogger since it was created. Every enqueued item ends in exactly
/// one of delivered, rejected_* or dropped_* (or is still pending).
struct LoggerStats {
  uint64_t enqueued = 0;            ///< items accepted into the queue
  uint64_t delivered = 0;           ///< items the server acknowledged
  uint64_t rejected_invalid = 0;    ///< refused on the client (bad key, too long, ts < 0)
  uint64_t rejected_by_server = 0;  ///< refused by the server (an error status not retried)
  uint64_t dropped_queue_full = 0;  ///< not enqueued: the queue was full
  uint64_t dropped_transient = 0;   ///< transient failures outlasted the retry budget
  uint64_t dropped_shutdown = 0;    ///< still queued or in flight at the shutdown deadline
  uint64_t dropped_after_fork = 0;  ///< logged in a forked child
  uint64_t dropped_spool_full = 0;  ///< the spool reached its cap and the memory buffer was full
  /// Items not delivered when the logger shut down but kept in the spool journal: the next
  /// process logging to the same server (or `mlflowpp-sync`) delivers them.
  uint64_t left_in_spool = 0;
  uint64_t spooled = 0;           ///< items written to the spool journal (write-ahead; all of them normally)
  uint64_t replayed = 0;          ///< items of dead processes' journals delivered by this logger
  uint64_t requests = 0;          ///< HTTP requests sent (including retries)
  uint64_t retries = 0;           ///< of which retries
  uint64_t queue_high_water = 0;  ///< most items ever queued at once

  /// Items neither delivered nor definitively accounted for yet.
  uint64_t pending() const noexcept {
    return enqueued - delivered - rejected_invalid - rejected_by_server - dropped_transient -
           dropped_shutdown - dropped_spool_full - left_in_spool;
  }
};

/// The outcome of AsyncLogger::flush / shutdown and of ending a run.
struct FlushResult {
  /// True when every item enqueued before the call was delivered or definitively
  /// accounted for (rejected or dropped) before the timeout; false on timeout.
  bool complete = false;
  uint64_t pending = 0;   ///< items still not accounted for when the call returned
  uint64_t rejected = 0;  ///< items rejected (client or server) since the logger started
  uint64_t dropped = 0;   ///< items dropped (any reason) since the logger started
  /// Of the items not yet delivered, how many are safe in the spool journal (delivered
  /// later by this logger, the next process or `mlflowpp-sync`).
  uint64_t spooled = 0;
  /// True when complete and nothing was ever rejected or dropped.
  bool ok() const noexcept { return complete && rejected == 0 && dropped == 0; }
};

/// What the error callback receives: one per refused item (or per failed request when a
/// whole request could not be delivered).
struct LogError {
  enum class Kind {
    kInvalid,           ///< refused on the client before sending
    kRejectedByServer,  ///< the server answered 4xx for this item
    kTransient,         ///< retries exhausted: items dropped
    kQueueFull,         ///< first drop of a burst while the queue was full
    kShutdown,          ///< dropped at the shutdown deadline
    kSpoolFull,         ///< the spool reached its cap (first time), or items dropped because of it
    kSpoolError,        ///< the spool cannot be written: logging continues in memory only
    /// Held in the spool, not delivered: the server, or a gateway or proxy in front of it,
    /// answers in a way only a change of setup fixes (401/403/407, an answer that is not
    /// MLflow's such as a single sign-on login page, a TLS handshake that cannot work, an
    /// unknown endpoint). Reported once per run while it lasts; the items stay in the spool
    /// journal and are delivered, in order, once the setup is fixed (by this process, the
    /// next one logging to the same server, or `mlflowpp-sync`). Not a drop.
    kHeld,
  };
  Kind kind = Kind::kInvalid;
  std::string run_id;
  std::string key;         ///< the item's key, empty when the error concerns many items
  std::string message;     ///< names the key, the limit and the size where they apply
  int http_status = 0;     ///< 0 when no HTTP answer
  std::string error_code;  ///< MLflow's error code when the server answered
  uint64_t items = 1;      ///< how many items this error accounts for
};

using ErrorCallback = std::function<void(const LogError&)>;

/// What became of one run's items (see AsyncLogger::run_stats).
struct RunLogStats {
  uint64_t delivered = 0;
  uint64_t rejected = 0;  ///< invalid on the client, or refused by the server
  uint64_t dropped = 0;   ///< queue full, retries exhausted, shutdown (not: after fork)
};

/// Asynchronous, batching logger. Obtain it from Client::async_logger(); ActiveRun uses
/// it for its log_* calls. Non-copyable; shared by every copy of its Client.
class AsyncLogger {
 public:
  /// Interned handle of a run id, so that the hot path copies an integer, not the id.
  using RunHandle = uint32_t;
  /// `timestamp_ms` value meaning "now, taken at enqueue".
  static constexpr int64_t kNow = std::numeric_limits<int64_t>::min();

  explicit AsyncLogger(std::unique_ptr<detail::LoggerCore> core);
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

  /// Sets the callback for refused and dropped items. It runs on the worker thread and
  /// must not call this logger's flush or shutdown, nor own (capture by value) the Client
  /// that owns this logger: that is a reference cycle, and destroying the last copy of the
  /// Client from the worker thread is not supported. Pass nullptr to remove it.
  void set_error_callback(ErrorCallback callback);

 private:
  friend class ActiveRun;
  friend class Client;
  friend struct RunGuard;
  std::unique_ptr<detail::LoggerCore> core_;
};

}  // namespace mlflowpp
