#pragma once
// The engine behind mlflowpp::AsyncLogger (docs/adr/0002-async-logger.md and
// 0006-durable-logging.md). Private: not installed; unit tests build it over a RestStore
// with a fake Transport and an injected clock.
//
// Two threads per logger:
//  * the assembler (assembler.cpp) takes the in-memory ring (ring.hpp), validates, batches
//    each run's items into log-batch bodies within every limit, and appends each request
//    (and each run event: started, ended, created offline) to the spool journal before
//    queueing it in the pipe for the sender; it never touches the network, so the ring
//    keeps draining during an outage;
//  * the sender (sender.cpp) delivers the pipe's entries in order (reading them back from
//    the journal when their bodies were released from memory), acknowledges them in the
//    journal, rotates it, and at start replays the journals of dead processes that logged to
//    the same server.
// Every item's fate is recorded by Accounting (accounting.hpp), every error reported by the
// Reporter (report.hpp); what the logger knows about runs is in the RunTable (run_table.hpp).
// logger_core.cpp: construction, the run events, flush, shutdown, stats.
//
// ---- Lock order ----------------------------------------------------------------------------
// Four mutexes. A thread holds at most one of the first two, and takes a leaf only last:
//
//     pipe_mu_  ──may then take──>  RunTable::mu_  (leaf)
//               ──may then take──>  Reporter::mu_  (leaf)
//     Ring::mu_   alone: never held together with any other lock of the logger
//
//  * pipe_mu_ (below) guards the pipe between the assembler and the sender: outbox_,
//    buffered_bytes_, unjournaled_, journal_, spool_broken_, cap_reported_,
//    assembler_done_, sender_done_. Holding it, a thread may read or update runs (ids, end
//    states, counts through Accounting::record) and Reporter::report_later(); it never takes
//    Ring::mu_, never calls the network, the error callback or Reporter::report().
//  * Ring::mu_ (ring.hpp) guards the ring and the flush sequence; it lives inside Ring's
//    member functions, which call nothing outside the ring while holding it. So a thread
//    that holds pipe_mu_ first lets it go before it tells the ring that entries completed.
//  * RunTable::mu_ and Reporter::mu_ are leaves: nothing else is locked under them, and the
//    error callback runs with no lock of the logger held.
//  Atomics, read and written without a lock: abort_, outage_, outage_since_ms_, and
//  Accounting's counters.
//
// ---- Condition variables (each is used with one mutex only) -------------------------------
//  Ring::mu_:
//   * Ring::cv_worker_: the assembler waits in Ring::take() for the wake threshold, a flush,
//     stop, or max_batch_delay. Notified by producers (threshold reached, ring full, a run
//     event), Ring::wait_flushed() and Ring::stop().
//   * Ring::cv_space_: producers wait for room (kBlock: once per stall, up to block_timeout;
//     run events: up to 10 s). Notified by Ring::take() after it empties the ring, by stop()
//     and by wake_all() at abort.
//   * Ring::cv_done_: flushers wait in Ring::wait_flushed() for the sequence to complete;
//     shutdown polls it (wait_done_for, 50 ms). Notified by complete_through() (the sender,
//     after an entry that completes a round), notify_done() (the sender when it ends) and
//     close() (shutdown).
//  pipe_mu_:
//   * cv_sender_: the sender waits for an entry, the assembler's end, or abort. Notified by
//     the assembler after each submit() — and, in submit(), before it waits on
//     cv_pipe_space_, so that the sender hears of the entries of this round already queued
//     (else each waits for the other: a lost wake-up) — when the assembler ends, and by
//     shutdown at abort.
//   * cv_pipe_space_: the assembler waits for memory (no working spool: the in-memory
//     buffer is full). Notified by the sender after each entry it finishes, and at abort.
//   * cv_sleep_: the sender's waits between retries. Notified at abort.
//  At abort, shutdown sets abort_, then locks and unlocks pipe_mu_ before notifying the
//  pipe's condition variables, so that no waiter can miss it between its check and its wait.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "detail/logger/accounting.hpp"
#include "detail/logger/report.hpp"
#include "detail/logger/ring.hpp"
#include "detail/logger/run_table.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/logging.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

class TrackingStore;
class JournalWriter;
class Deliverer;
struct FsyncPolicy;

struct LoggerDeps {
  std::shared_ptr<TrackingStore> store;
  LoggerOptions options;
  /// Folder of this logger's journals (one per tracking server: see spool_dir_for).
  /// Empty: no spool, whatever options.spool says.
  std::string spool_dir;
  /// The tracking URI without credentials, for messages.
  std::string target;
  /// Wall clock in ms since the epoch, for timestamps taken at enqueue. Default: system_clock.
  std::function<int64_t()> now_ms;
  /// Replaces the wait between retries (tests): return false to give up. Default: a wait
  /// that shutdown can interrupt.
  std::function<bool(std::chrono::milliseconds)> retry_sleep;
  /// True when every request to the server so far failed before it saw it (ADR 0009):
  /// shutdown then waits for nothing once the journal holds everything. Default: never.
  std::function<bool()> refused_everything;
};

/// `<spool_root>/<host>_<port><path>-<hash>`: one folder per tracking server (credentials
/// never part of it), so that a process only adopts journals meant for its own server.
std::string spool_dir_for(const std::string& spool_root, const std::string& tracking_uri_without_credentials,
                          const std::string& workspace);

class LoggerCore {
 public:
  explicit LoggerCore(LoggerDeps deps);
  ~LoggerCore();
  LoggerCore(const LoggerCore&) = delete;
  LoggerCore& operator=(const LoggerCore&) = delete;

  uint32_t handle_for(std::string_view run_id);
  void enqueue(ItemKind kind, uint32_t run, std::string_view key, double value, std::string_view text,
               int64_t step, int64_t timestamp_ms) noexcept;
  FlushResult flush(std::chrono::milliseconds timeout) noexcept;
  FlushResult shutdown(std::chrono::milliseconds deadline) noexcept;
  LoggerStats stats() const noexcept;
  RunLogStats run_stats(uint32_t run) const noexcept;
  void set_error_callback(ErrorCallback callback);
  /// True in a forked child of the process that created this logger.
  bool forked() const noexcept;

  /// Run events, ordered with the run's data. They wait for room in the ring (never
  /// dropped); false when the logger is stopped (or in a forked child).
  bool run_started(uint32_t run) noexcept;
  bool end_run(uint32_t run, RunStatus status, int64_t end_time_ms) noexcept;
  bool create_run_offline(uint32_t run, std::string payload) noexcept;
  RunEndState run_end_state(uint32_t run) const noexcept;
  /// The server's id of `run` (an offline run's real id once created; else its own id).
  std::string run_id_of(uint32_t run) const;
  /// True when the spool is on (journals can be written).
  bool spool_enabled() const noexcept { return !deps_.spool_dir.empty(); }
  const std::string& spool_dir() const noexcept { return deps_.spool_dir; }
  /// True while the sender cannot reach the server.
  bool server_unreachable() const noexcept { return outage_.load(); }
  /// True when nothing is waiting in the ring and every request not yet delivered is in
  /// the journal (so a process exit now loses nothing).
  bool all_pending_on_disk() const noexcept;
  /// How long the server has been unreachable (0 when it answers).
  std::chrono::milliseconds unreachable_for() const noexcept {
    if (!outage_.load()) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch()) -
           std::chrono::milliseconds(outage_since_ms_.load());
  }

 private:
  /// One request (or run event) in the pipe, in the order it is to be delivered.
  enum class EntryKind : unsigned char { kLogBatch, kUpdateRun, kCreateRun, kRunStarted, kMarker };
  struct Entry {
    EntryKind kind = EntryKind::kMarker;
    uint32_t run = 0;
    uint64_t items = 0;              // logged items it carries (log-batch)
    uint64_t entities = 0;           // entities in the body (folded params count once)
    uint64_t completes_through = 0;  // sequence number accounted once it is done (0: none)
    int64_t offset = -1;             // in the journal; -1 when not written there
    std::string body;                // empty once released from memory (then read back)
    /// Counts in unjournaled_: a request to send that only memory holds.
    bool memory_only() const noexcept {
      return offset < 0 && kind != EntryKind::kMarker && kind != EntryKind::kRunStarted;
    }
  };

  // assembler.cpp
  void run_assembler() noexcept;
  std::vector<Entry> assemble(std::vector<Item>& items, std::size_t n, uint64_t seq_end);
  /// A round whose items could not be assembled (out of memory): they are dropped, counted.
  std::vector<Entry> lose_round(const std::vector<Item>& items, std::size_t n, uint64_t seq_end,
                                const char* why);
  void submit(std::vector<Entry>& entries);
  void write_ahead_locked(Entry& e);
  bool ensure_journal_locked();
  void spool_failed_locked(const std::string& why);
  void sync_journal_if_due();

  // sender.cpp
  void run_sender() noexcept;
  /// Delivers `e`; false when it could not be finished (aborted at shutdown).
  bool deliver(Entry& e, Deliverer& deliverer);
  bool deliver_create_run(const Entry& e, Deliverer& deliverer);
  bool load_body(Entry& e);
  /// Pops the delivered front entry, acknowledges it in the journal (rotating a large
  /// journal once everything is delivered); returns the sequence number it completes.
  uint64_t finish_front_locked();
  void rotate_journal_locked();
  void adopt_orphans(Deliverer& deliverer);
  bool interruptible_sleep(std::chrono::milliseconds d);
  void set_outage(bool unreachable);

  // logger_core.cpp
  /// The journals' fsync policy (LoggerOptions::spool).
  FsyncPolicy fsync_policy() const;
  bool wait_for_delivery(std::chrono::steady_clock::time_point until);
  void abort_threads();
  FlushResult result(bool complete, uint64_t pending) const noexcept;
  FlushResult forked_result() const noexcept;

  LoggerDeps deps_;  // options normalized by the constructor
  const uint64_t fork_generation_;
  RunTable runs_;
  Accounting accounting_{runs_};
  Reporter reporter_;
  Ring ring_;

  // The pipe between the assembler and the sender, guarded by pipe_mu_.
  mutable std::mutex pipe_mu_;
  std::condition_variable cv_sender_;      // the sender waits for entries
  std::condition_variable cv_pipe_space_;  // the assembler waits for memory (no spool)
  std::condition_variable cv_sleep_;       // the sender's retry waits (interrupted by abort)
  std::deque<Entry> outbox_;
  std::size_t buffered_bytes_ = 0;
  uint64_t unjournaled_ = 0;  // entries in outbox_ that are memory_only()
  std::unique_ptr<JournalWriter> journal_;
  bool spool_broken_ = false;
  bool cap_reported_ = false;
  bool assembler_done_ = false;
  bool sender_done_ = false;

  std::atomic<bool> abort_{false};
  std::atomic<bool> outage_{false};
  /// A run started offline: the user was told the server is unreachable (start_run's line).
  std::atomic<bool> offline_announced_{false};
  std::atomic<int64_t> outage_since_ms_{0};  // steady clock

  std::thread assembler_, sender_;
  std::once_flag shutdown_once_;
  FlushResult shutdown_result_;
};

}  // namespace mlflowpp::detail
