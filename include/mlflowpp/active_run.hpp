#pragma once
/// @file active_run.hpp
/// A handle on one running run: logs through the client's AsyncLogger and ends the run
/// when it goes out of scope.
///
/// Ending (explicitly with end(), or in the destructor) first flushes the logger (at most
/// LoggerOptions::end_run_flush_timeout), then sends `POST /mlflow/runs/update` with the
/// status and `end_time` = now. The destructor uses FINISHED, or FAILED when it runs
/// while an exception is unwinding the stack. Not thread-safe to move or end
/// concurrently; the log_* calls may be made from many threads at once.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/entities.hpp"

namespace mlflowpp {

/// The result of ending a run.
struct EndRunResult {
  /// What happened to the logged data: `complete` and `pending` cover the whole logger
  /// (shared by every run of the Client); `rejected` and `dropped` count this run's items.
  FlushResult flush;
  bool status_set = false;  ///< true when the server accepted the final status
  std::string error;        ///< why the status could not be set (empty when it was)
};

class ActiveRun {
 public:
  /// Adopts `info` (a run already created or resumed on the server). Use
  /// Client::start_run rather than calling this directly.
  ActiveRun(Client client, RunInfo info);
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
  AsyncLogger::RunHandle handle_ = 0;
  int uncaught_at_start_ = 0;
  uint64_t fork_generation_ = 0;
  bool ended_ = false;
  EndRunResult end_result_;
};

}  // namespace mlflowpp
