#pragma once
// The engine behind mlflowpp::AsyncLogger (docs/adr/0002-async-logger.md and
// 0006-durable-logging.md). Private: not installed; unit tests build it over a RestStore
// with a fake Transport and an injected clock.
//
// Two threads per logger:
//  * the assembler drains the in-memory ring, validates, batches each run's items into
//    log-batch bodies within every limit, and appends each request (and each run event:
//    started, ended, created offline) to the spool journal before queueing it for sending;
//    it never touches the network, so the ring keeps draining during an outage;
//  * the sender delivers the queued requests in order (replaying them from the journal
//    when their bodies were released from memory), acknowledges them in the journal, and
//    at start replays the journals of dead processes that logged to the same server.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/logging.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

class TrackingStore;
class JournalWriter;
class Deliverer;

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
};

/// `<spool_root>/<host>_<port><path>-<hash>`: one folder per tracking server (credentials
/// never part of it), so that a process only adopts journals meant for its own server.
std::string spool_dir_for(const std::string& spool_root, const std::string& tracking_uri_without_credentials,
                          const std::string& workspace);

enum class ItemKind : unsigned char {
  kMetric,
  kParam,
  kTag,
  kRunStarted,  // control: an ActiveRun began (journal only)
  kEndRun,      // control: runs/update after the run's data (step = RunStatus, timestamp = end)
  kCreateRun,   // control: an offline start (text = CREATE_RUN payload)
};

struct Item {
  ItemKind kind = ItemKind::kMetric;
  uint32_t run = 0;
  int64_t timestamp = 0;
  int64_t step = 0;
  double value = 0.0;
  std::string key;
  std::string text;  // param or tag value; control payload
};

/// How a run's end (queued by end_run) turned out.
struct RunEndState {
  enum class Kind { kNone, kPending, kDelivered, kSpooled, kFailed } kind = Kind::kNone;
  std::string error;
};

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
  enum class EntryKind : unsigned char { kLogBatch, kUpdateRun, kCreateRun, kRunStarted, kMarker };
  struct Entry {
    EntryKind kind = EntryKind::kMarker;
    uint32_t run = 0;
    uint64_t items = 0;              // logged items it carries (log-batch)
    uint64_t entities = 0;           // entities in the body (folded params count once)
    uint64_t completes_through = 0;  // sequence number accounted once it is done (0: none)
    int64_t offset = -1;             // in the journal; -1 when not written there
    std::string body;                // empty once released from memory (then read back)
  };

  bool enqueue_control(ItemKind kind, uint32_t run, int64_t step, int64_t timestamp,
                       std::string text) noexcept;
  void run_assembler() noexcept;
  void run_sender() noexcept;
  std::vector<Entry> assemble(std::vector<Item>& items, std::size_t n, uint64_t seq_end);
  void submit(std::vector<Entry>& entries);
  bool ensure_journal_locked();
  void spool_failed_locked(const std::string& why);
  /// Delivers `e`; false when it could not be finished (aborted at shutdown).
  bool deliver(Entry& e, Deliverer& deliverer);
  bool load_body(Entry& e);
  void finish_front_locked();
  void adopt_orphans(Deliverer& deliverer);
  void count_run(uint32_t run, uint64_t delivered, uint64_t rejected, uint64_t dropped) noexcept;
  void set_end_state(uint32_t run, RunEndState state);
  void report(LogError error);
  void report_deferred();
  FlushResult result(bool complete, uint64_t pending) const noexcept;
  FlushResult forked_result() const noexcept;
  bool interruptible_sleep(std::chrono::milliseconds d);
  void set_outage(bool unreachable);

  LoggerDeps deps_;
  const uint64_t fork_generation_;

  // Ring state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_worker_;  // assembler waits for items / flush / stop
  std::condition_variable cv_space_;   // producers wait for room
  std::condition_variable cv_done_;    // flushers wait for completed_
  std::vector<Item> ring_;
  std::size_t head_ = 0, count_ = 0;
  uint64_t seq_ = 0;        // ring entries accepted (items and run events)
  uint64_t enqueued_ = 0;   // items accepted
  uint64_t completed_ = 0;  // ring entries fully accounted for (in order)
  uint64_t dropped_queue_full_ = 0;
  uint64_t reported_queue_full_ = 0;
  uint64_t high_water_ = 0;
  uint64_t dropped_after_stop_ = 0;
  bool flush_requested_ = false;
  bool stalled_ = false;     // a kBlock wait timed out; cleared when the assembler drains
  bool assembling_ = false;  // items taken from the ring and not yet submitted
  bool stop_ = false;
  bool threads_done_ = false;

  // Between the assembler and the sender, guarded by pmu_.
  mutable std::mutex pmu_;
  std::condition_variable cv_sender_;      // sender waits for entries
  std::condition_variable cv_pipe_space_;  // assembler waits for memory (no spool)
  std::condition_variable cv_sleep_;       // sender's retry waits (interrupted by abort)
  std::deque<Entry> outbox_;
  std::size_t buffered_bytes_ = 0;
  uint64_t unjournaled_ = 0;  // entries in outbox_ not in the journal (markers excluded)
  std::unique_ptr<JournalWriter> journal_;
  bool spool_broken_ = false;
  std::vector<LogError> deferred_;  // reports raised under pmu_, delivered after
  bool cap_reported_ = false;
  bool assembler_done_ = false;
  bool sender_done_ = false;

  // Runs, guarded by runs_mu_.
  mutable std::mutex runs_mu_;
  std::vector<std::string> run_ids_;  // by handle (an offline run's real id once known)
  std::unordered_map<std::string, uint32_t> run_index_;
  std::vector<RunLogStats> run_counts_;             // by handle
  std::vector<RunEndState> run_end_;                // by handle
  std::unordered_set<uint32_t> live_runs_;          // started, not ended (journal rotation, crash rule)
  std::unordered_set<uint32_t> unresolvable_runs_;  // offline runs the server refused to create
  std::unordered_map<uint32_t, std::string> offline_payloads_;  // CREATE_RUN payloads (journal rotation)

  // Counters.
  std::atomic<uint64_t> delivered_{0}, rejected_invalid_{0}, rejected_by_server_{0}, dropped_transient_{0},
      dropped_shutdown_{0}, dropped_spool_full_{0}, spooled_{0}, left_in_spool_{0}, replayed_{0},
      requests_{0}, retries_{0};
  std::atomic<uint64_t> dropped_after_fork_{0};
  std::atomic<bool> abort_{false};
  std::atomic<bool> outage_{false};
  std::atomic<int64_t> outage_since_ms_{0};  // steady clock

  std::mutex callback_mu_;
  ErrorCallback callback_;
  std::atomic<uint64_t> stderr_reports_{0};

  std::thread assembler_, sender_;
  std::once_flag shutdown_once_;
  FlushResult shutdown_result_;
};

}  // namespace mlflowpp::detail
