#pragma once
/// @file active_run.hpp
/// A handle on one running run: logs through the client's AsyncLogger and ends the run
/// when it goes out of scope.
///
/// Ending (explicitly with end(), or in the destructor) queues `POST /mlflow/runs/update`
/// (the status and `end_time` = now, ms) behind the run's data, so the status never
/// overtakes it, then waits for delivery (at most LoggerOptions::end_run_flush_timeout).
/// When the server does not answer in time, the status stays queued in the spool with
/// the data and follows it when the server answers (EndRunResult::status_spooled). The
/// destructor uses FINISHED, or FAILED when it runs while an exception is unwinding the stack. Not
/// thread-safe to move or end concurrently; the log_* calls may be made from many threads at once.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/entities.hpp"

namespace mlflowpp {

/// The result of ending a run. [[nodiscard]]: check status_set / status_spooled / error, or
/// cast to void where nothing could be done about a run that could not be ended.
struct [[nodiscard]] EndRunResult {
  /// What happened to the logged data: `complete` and `pending` cover the whole logger
  /// (shared by every run of the Client); `rejected` and `dropped` count this run's items.
  FlushResult flush;
  bool status_set = false;  ///< true when the server accepted the final status
  /// True when the status is queued in the spool journal, not yet sent (behind any data not
  /// yet delivered, which flush.held_in_spool counts): it is delivered, after the data, by this
  /// logger, the next process or `mlflowpp-sync`.
  bool status_spooled = false;
  std::string error;  ///< why the status could not be set (empty when it was set or is spooled)
  /// One sentence for people: what became of the status, then FlushResult::summary(), e.g.
  /// "status set on the server; all delivered" or "status waits in the spool behind the
  /// data (sent when the server answers); 102 item(s) not delivered yet, ...".
  std::string summary() const;
};

struct RunGuard;

class ActiveRun {
 public:
  /// Adopts `info` (a run already created or resumed on the server). Use
  /// Client::start_run rather than calling this directly.
  ActiveRun(Client client, RunInfo info, bool offline = false);
  ActiveRun(ActiveRun&& other) noexcept;
  ActiveRun& operator=(ActiveRun&& other) noexcept;
  ActiveRun(const ActiveRun&) = delete;
  ActiveRun& operator=(const ActiveRun&) = delete;
  /// Ends the run unless end() was called: FINISHED, or FAILED during stack unwinding.
  /// Never throws; a failure to set the status is printed to stderr. In a forked child
  /// the destructor does nothing: the run belongs to the parent process.
  ~ActiveRun();

  const std::string& run_id() const noexcept { return info_.run_id; }
  const std::string& experiment_id() const noexcept { return info_.experiment_id; }
  const std::string& run_name() const noexcept { return info_.run_name; }
  /// The RunInfo as returned when the run was created or resumed.
  const RunInfo& info() const noexcept { return info_; }
  bool ended() const noexcept { return ended_; }
  /// True when the run started while the server was unreachable (StartRunOptions::
  /// allow_offline): run_id() is then a placeholder `offline-<32 hex>`.
  bool offline() const noexcept { return offline_; }
  /// The run's id on the server: run_id(), or for an offline run its real id once it has
  /// been created (the placeholder until then). Thread-safe.
  std::string server_run_id() const;

  /// Enqueues a metric point, timestamped now (ms). Never throws or blocks on the network.
  void log_metric(std::string_view key, double value, int64_t step = 0) noexcept;
  /// Enqueues a metric point with an explicit timestamp (ms since the epoch, ≥ 0; a negative
  /// one is rejected and reported; one that looks like seconds — 1e9 ≤ t < 1e11 — is logged as
  /// given with a one-time warning on stderr).
  void log_metric(std::string_view key, double value, int64_t step, int64_t timestamp_ms) noexcept;
  /// Enqueues several metrics at one step, sharing one timestamp.
  void log_metrics(std::initializer_list<std::pair<std::string_view, double>> metrics,
                   int64_t step = 0) noexcept;
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step = 0) noexcept;
  /// Enqueues a param (key ≤ 250, value ≤ 6000 characters; write-once).
  void log_param(std::string_view key, std::string_view value) noexcept;
  void log_params(std::initializer_list<std::pair<std::string_view, std::string_view>> params) noexcept;
  void log_params(const std::map<std::string, std::string>& params) noexcept;
  /// Enqueues a tag (key ≤ 250, value ≤ 8000 characters; last write wins).
  void set_tag(std::string_view key, std::string_view value) noexcept;
  void set_tags(std::initializer_list<std::pair<std::string_view, std::string_view>> tags) noexcept;

  /// Starts a nested run in the same experiment (tag `mlflow.parentRunId` = this run).
  ActiveRun start_child_run(const std::string& run_name = {});

  /// Waits for this logger's queued items (see AsyncLogger::flush).
  FlushResult flush(std::chrono::milliseconds timeout = std::chrono::minutes(5)) noexcept;

  /// Drains the logged data (at most `flush_timeout`), then sets `status` and
  /// `end_time` = now. Idempotent: later calls return the first result. Never throws.
  EndRunResult end(RunStatus status = RunStatus::kFinished) noexcept;
  EndRunResult end(RunStatus status, std::chrono::milliseconds flush_timeout) noexcept;

  /// The client this run logs through.
  Client& client() noexcept { return client_; }

 private:
  Client client_;
  RunInfo info_;
  /// client_.async_logger(), owned by client_ (shared by its copies); kept so that const
  /// members reach it too.
  AsyncLogger* logger_ = nullptr;
  AsyncLogger::RunHandle handle_ = 0;
  int uncaught_at_start_ = 0;
  uint64_t fork_generation_ = 0;
  bool ended_ = false;
  bool offline_ = false;
  EndRunResult end_result_;
  std::shared_ptr<RunGuard> guard_;  // shared with the signal handler's registry (weakly)
};

}  // namespace mlflowpp
