#pragma once
// Sending what the logger or a spool journal holds: log-batch bodies (isolating refused
// items by bisection), run status updates, and runs created offline. Shared by the
// logger's sender thread and by the replay of adopted journals (at start, and in the
// `mlflowpp-sync` tool). Private: not installed. See docs/adr/0006-durable-logging.md.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "detail/delivery/batch.hpp"
#include "detail/spool/spool.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/logging.hpp"

namespace mlflowpp::detail {

class TrackingStore;

/// Tag set on runs created from an offline start, so that a replay finds the run a lost
/// answer already created instead of creating a second one.
inline constexpr std::string_view kOfflineRunIdTag = "mlflowpp.offlineRunId";
/// Prefix of the placeholder id of a run started while the server was unreachable.
inline constexpr std::string_view kOfflineRunIdPrefix = "offline-";

inline bool is_offline_run_id(std::string_view id) noexcept {
  return id.substr(0, kOfflineRunIdPrefix.size()) == kOfflineRunIdPrefix;
}

struct DeliveryHooks {
  const std::atomic<bool>* abort = nullptr;
  std::atomic<uint64_t>* requests = nullptr;
  std::atomic<uint64_t>* retries = nullptr;
  /// Interruptible wait (returns false when interrupted). Required.
  std::function<bool(std::chrono::milliseconds)> sleep;
  /// Receives one LogError per refused item (or group). Required.
  std::function<void(LogError)> report;
  /// Keep trying after the retry policy gives up on a transient failure (the data is held
  /// by the spool, so giving up would lose it). Without it a transient failure is returned.
  bool persist = false;
  /// Told when the server becomes unreachable (true) and reachable again (false).
  std::function<void(bool)> on_outage;
  /// True when retry lines would repeat what the user was told already (the server has
  /// refused every connection, and start_run said so when it started a run offline).
  std::function<bool()> quiet_retries;
  /// Longest wait between two persistent rounds (each round is a full retry schedule).
  std::chrono::milliseconds max_round_wait{30000};
};

/// What became of one log-batch body, counted in entities (metrics, params, tags).
struct BatchOutcome {
  uint64_t delivered = 0;
  uint64_t rejected = 0;  ///< refused by the server (reported per key)
  uint64_t failed = 0;    ///< not delivered: transient failure (not persisting) or aborted
  bool aborted = false;
  int http_status = 0;  ///< of the failure, when `failed`
  std::string error_code, message;
};

/// The outcome of a status update or an offline run's creation.
struct CallOutcome {
  enum class Kind { kDone, kRejected, kFailed } kind = Kind::kDone;
  bool aborted = false;
  std::string message;  ///< why (kRejected, kFailed)
  std::string run_id;   ///< create: the server's run id; fail_if_running: set when marked
  int http_status = 0;
  std::string error_code;
  bool bisectable = false;  ///< kRejected: a 400 about one of the items, not about the run
};

/// A log-batch body's run id and entities (for bisection and the crash rule). nullopt
/// when the body is not a log-batch object.
struct ParsedBatch {
  std::string run_id;
  std::vector<Entity> entities;
  int64_t max_metric_timestamp = -1;
};
/// With `with_entities` false only `run_id` and `max_metric_timestamp` are filled (a scan).
std::optional<ParsedBatch> parse_log_batch_body(const std::string& body, bool with_entities = true);

/// The run id a request body (log-batch, runs/update) is for: read from its leading
/// `{"run_id":"…"` as this library writes it, else from a full parse ("" when none).
std::string body_run_id(const std::string& body);

/// `body` with its leading `{"run_id":"<from>"` replaced by `to` (bodies this library
/// builds always start with the run id).
std::string replace_body_run_id(std::string body, std::string_view from, std::string_view to);

/// `{"run_id":…,"status":…,"end_time":…}` (runs/update).
std::string update_run_body(std::string_view run_id, RunStatus status, int64_t end_time_ms);

/// What an offline start records (CREATE_RUN payload).
struct OfflineRun {
  std::string local_run_id;
  std::string experiment_id;  ///< empty: resolve experiment_name (created if missing), else "0"
  std::string experiment_name;
  std::string run_name;
  int64_t start_time = 0;
  std::string user_id;
  std::vector<RunTag> tags;
};
std::string offline_run_payload(const OfflineRun& run);
std::optional<OfflineRun> parse_offline_run_payload(const std::string& payload);

class Deliverer {
 public:
  Deliverer(TrackingStore& store, DeliveryHooks hooks) : store_(store), hooks_(std::move(hooks)) {}

  /// Changes DeliveryHooks::persist (per request: only what the journal holds persists).
  void set_persist(bool persist) noexcept { hooks_.persist = persist; }

  /// Sends one log-batch body; on a refused request (400 INVALID_PARAMETER_VALUE that is
  /// not about the run) bisects until each refused entity is isolated and reported.
  /// `entities`: how many the body holds when the caller knows (else it is parsed).
  BatchOutcome log_batch(const std::string& body, int64_t entities = -1);
  /// runs/update from an update_run_body().
  CallOutcome update_run(const std::string& body);
  /// Creates (or finds, by the kOfflineRunIdTag) the server run of an offline start.
  CallOutcome create_offline_run(const OfflineRun& run);
  /// The crash rule (docs/adr/0006): marks `run_id` FAILED with `end_time_ms` when the
  /// server still has it RUNNING.
  CallOutcome fail_if_running(const std::string& run_id, int64_t end_time_ms);

 private:
  /// Runs one store call with the hooks, in persistent rounds when persisting; `run_id`
  /// names the run in the once-per-run report of a failure that needs a fix.
  template <typename F>
  CallOutcome call(const std::string& run_id, F&& f);
  BatchOutcome bisect(const std::string& run_id, std::vector<Entity> entities, const CallOutcome& refusal);

  TrackingStore& store_;
  DeliveryHooks hooks_;
  bool in_outage_ = false;
  /// Runs already told (LogError::Kind::kHeld) that their delivery waits for a fix;
  /// cleared when a call succeeds.
  std::unordered_set<std::string> held_reported_;
};

/// What replaying one adopted journal did.
struct ReplayStats {
  std::string path;
  uint64_t records = 0;  ///< LOG_BATCH / UPDATE_RUN / CREATE_RUN records replayed
  uint64_t entities_delivered = 0;
  uint64_t entities_rejected = 0;
  uint64_t runs_created = 0;        ///< offline runs created (or found) on the server
  uint64_t runs_marked_failed = 0;  ///< the crash rule
  uint64_t ignored_tail_bytes = 0;  ///< torn tail of a crash mid-append (not replayable)
  bool complete = false;            ///< everything replayed; the journal was removed
  std::string error;                ///< why not complete
};

/// Replays an adopted journal (see try_adopt) from its last ACK, in order, writing ACKs as
/// records are delivered, then applies the crash rule to runs that were started and never
/// ended (RUN_STARTED without a terminal UPDATE_RUN), then removes the journal. On abort or
/// an unrecoverable transient failure, the journal is closed with its ACK and left for later.
/// `is_live(run_id)` says whether a run is live in this process (asked when the crash rule
/// applies; such a run is never marked FAILED).
ReplayStats replay_journal(JournalWriter journal, Deliverer& deliverer,
                           const std::function<bool(const std::string&)>& is_live = {});

}  // namespace mlflowpp::detail
