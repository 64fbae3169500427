#pragma once
/// @file logging.hpp
/// Value types of the asynchronous logger (AsyncLogger, ActiveRun): its counters, the
/// outcome of a flush or shutdown, and what the error callback receives. Plain values,
/// copyable, no behaviour; included by async_logger.hpp.

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace mlflowpp {

/// A metric timestamp meaning "now": taken by the logger when the item is enqueued.
inline constexpr int64_t kTimestampNow = std::numeric_limits<int64_t>::min();

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
  /// Items written ahead to the spool journal before being sent (all of them, normally:
  /// not the ones logged while the spool was full or could not be written). Activity, not a
  /// fate: a written-ahead item also ends delivered, rejected, dropped or left in the spool.
  uint64_t written_ahead = 0;
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

/// The outcome of AsyncLogger::flush / shutdown and of ending a run. [[nodiscard]]: ignore
/// it (cast to void) only where nothing could be done about an incomplete flush.
struct [[nodiscard]] FlushResult {
  /// True when every item enqueued before the call was delivered or definitively
  /// accounted for (rejected or dropped) before the timeout; false on timeout.
  bool complete = false;
  uint64_t pending = 0;   ///< items still not accounted for when the call returned
  uint64_t rejected = 0;  ///< items rejected (client or server) since the logger started
  uint64_t dropped = 0;   ///< items dropped (any reason) since the logger started
  /// Of the items not yet delivered, how many are held safe in the spool journal on disk
  /// (delivered later by this logger, the next process or `mlflowpp-sync`); after shutdown,
  /// LoggerStats::left_in_spool.
  uint64_t held_in_spool = 0;
  /// True when everything not yet delivered (the items and the runs' events: created
  /// offline, started, ended) is in the spool journal on disk, so an exit now loses nothing.
  bool pending_on_disk = false;
  /// True when complete and nothing was ever rejected or dropped.
  bool ok() const noexcept { return complete && rejected == 0 && dropped == 0; }
  /// One sentence for people, e.g. "all delivered", or "102 logged item(s) not delivered
  /// yet, all held safe in the spool on disk with the runs' events (delivered later); 0
  /// rejected, 0 dropped".
  /// Says which counts cover the whole logger and which one run, so that they cannot read
  /// as a contradiction (e.g. nothing pending after shutdown yet items held in the spool).
  std::string summary() const;
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

}  // namespace mlflowpp
