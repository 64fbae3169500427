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
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mlflowpp/artifacts.hpp"
#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/param_value.hpp"

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

namespace detail {
/// R can be iterated with a range-for (std::begin / std::end, or begin / end found by ADL).
template <typename R, typename = void>
struct is_range : std::false_type {};
template <typename R>
struct is_range<R, std::void_t<decltype(std::begin(std::declval<const R&>())),
                               decltype(std::end(std::declval<const R&>()))>> : std::true_type {};
/// The element type of a range R (a map's `std::pair<const K, V>`).
template <typename R>
using range_element_t =
    std::remove_cv_t<std::remove_reference_t<decltype(*std::begin(std::declval<const R&>()))>>;
/// E has `.first` and `.second` (std::pair, a map's value_type, a struct shaped like one).
template <typename E, typename = void>
struct is_pair_like : std::false_type {};
template <typename E>
struct is_pair_like<
    E, std::void_t<decltype(std::declval<const E&>().first), decltype(std::declval<const E&>().second)>>
    : std::true_type {};
template <typename E>
using pair_first_t = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<const E&>().first)>>;
template <typename E>
using pair_second_t = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<const E&>().second)>>;
/// A value log_metrics accepts: arithmetic, not a character type (bool logs 1 or 0).
template <typename T>
inline constexpr bool is_metric_value_v = std::is_arithmetic_v<T> && !is_char_type_v<T>;
}  // namespace detail

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
  /// offline_start): run_id() is then a placeholder `offline-<32 hex>`.
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
  /// Enqueues several metrics at one step, sharing one timestamp (now, ms), e.g.
  /// `run.log_metrics({{"loss", 0.25}, {"acc", 0.9}}, step)`. Never throws or blocks on the
  /// network; invalid items are reported like log_metric's.
  void log_metrics(std::initializer_list<std::pair<std::string_view, double>> metrics,
                   int64_t step = 0) noexcept;
  /// The same for any map or range of pairs (string-like key, arithmetic value):
  /// `std::map<std::string, float>`, `std::unordered_map<std::string, int>`,
  /// `std::vector<std::pair<const char*, double>>`, ... Each value is logged as a double
  /// (an integer beyond 2^53 is rounded to the nearest double; a bool logs 1 or 0).
  /// Character-typed values do not compile. Thread-safe.
  template <typename Range, std::enable_if_t<detail::is_range<Range>::value, int> = 0>
  void log_metrics(const Range& metrics, int64_t step = 0) noexcept {
    using E = detail::range_element_t<Range>;
    static_assert(
        detail::is_pair_like<E>::value,
        "log_metrics: the elements must be pairs (key, value), e.g. a std::map<std::string, double>");
    if constexpr (detail::is_pair_like<E>::value) {
      constexpr bool key_ok = std::is_convertible_v<const detail::pair_first_t<E>&, std::string_view>;
      constexpr bool value_ok = detail::is_metric_value_v<detail::pair_second_t<E>>;
      static_assert(key_ok, "log_metrics: a key must be string-like (convertible to std::string_view)");
      static_assert(value_ok, "log_metrics: a value must be arithmetic (not a character type)");
      if constexpr (key_ok && value_ok) {
        const int64_t ts = batch_timestamp();
        for (const auto& kv : metrics)
          log_metric(std::string_view(kv.first), static_cast<double>(kv.second), step, ts);
      }
    }
  }
  /// Enqueues a param (key ≤ 250, value ≤ 6000 characters; write-once: logging a key again
  /// with the same value is accepted, with another value the server refuses it and the
  /// logger reports it). `value` is a string, a bool or a number, stored as Python's str()
  /// writes it (see ParamValue): `run.log_param("lr", 0.1)` stores `0.1`,
  /// `run.log_param("epochs", 10)` stores `10`, `run.log_param("amp", true)` stores `True`.
  /// Never throws or blocks on the network (invalid keys and values are reported through the
  /// logger's error callback and LoggerStats). Thread-safe.
  void log_param(std::string_view key, const ParamValue& value) noexcept;
  /// Enqueues several params: `run.log_params({{"lr", 0.1}, {"epochs", 10}, {"name", "mlp"}})`.
  void log_params(std::initializer_list<std::pair<std::string_view, ParamValue>> params) noexcept;
  /// The same for any map or range of pairs (string-like key, value convertible to ParamValue):
  /// `std::map<std::string, int>`, `std::unordered_map<std::string, double>`,
  /// `std::vector<std::pair<std::string, std::string>>`, ...
  template <typename Range, std::enable_if_t<detail::is_range<Range>::value, int> = 0>
  void log_params(const Range& params) noexcept {
    using E = detail::range_element_t<Range>;
    static_assert(detail::is_pair_like<E>::value,
                  "log_params: the elements must be pairs (key, value), e.g. a std::map<std::string, int>");
    if constexpr (detail::is_pair_like<E>::value) {
      constexpr bool key_ok = std::is_convertible_v<const detail::pair_first_t<E>&, std::string_view>;
      constexpr bool value_ok = std::is_convertible_v<const detail::pair_second_t<E>&, ParamValue>;
      static_assert(key_ok, "log_params: a key must be string-like (convertible to std::string_view)");
      static_assert(value_ok,
                    "log_params: a value must be a string, a bool or a number (not a character type)");
      if constexpr (key_ok && value_ok) {
        for (const auto& kv : params) log_param(std::string_view(kv.first), ParamValue(kv.second));
      }
    }
  }
  /// Enqueues a tag (key ≤ 250, value ≤ 8000 characters; last write wins).
  void set_tag(std::string_view key, std::string_view value) noexcept;
  void set_tags(std::initializer_list<std::pair<std::string_view, std::string_view>> tags) noexcept;

  // ---- run-level artifacts and datasets (synchronous) ----------------------------------
  // Unlike the log_* calls above, these send their requests at once, on the calling thread,
  // and throw on failure: they are Client's calls of the same name with this run's id on the
  // server (server_run_id()), with the same arguments, limits, errors and REST endpoints (see
  // client.hpp). A run that started offline (offline()) has no id on the server until the
  // logger has created it: until then they throw mlflowpp::Error ("the run is offline ...")
  // without sending anything; retry once the server answers. Thread-safe (as Client's calls),
  // but not concurrently with moving or ending this ActiveRun.

  /// Uploads one file under `artifact_path` ("" = the run's artifact root), keeping its
  /// file name (`PUT /api/2.0/mlflow-artifacts/artifacts/...`; Client::log_artifact).
  void log_artifact(const std::string& local_file, const std::string& artifact_path = {},
                    const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Uploads every file under `local_dir`, recursively, under `artifact_path` (one PUT per
  /// file; Client::log_artifacts).
  LogArtifactsResult log_artifacts(const std::string& local_dir, const std::string& artifact_path = {},
                                   const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores `text` as the artifact `artifact_file`, e.g. "notes/summary.txt" (Client::log_text).
  void log_text(const std::string& text, const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores already-serialized JSON (which must parse: InvalidArgumentError otherwise) as the
  /// artifact `artifact_file`, e.g. "config.json" (Client::log_dict).
  void log_dict(const std::string& json_text, const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Stores a string-to-string dictionary as a JSON object (keys sorted, indented by 2) in
  /// `artifact_file` (Client::log_dict).
  void log_dict(const std::map<std::string, std::string>& dictionary, const std::string& artifact_file,
                const std::optional<ArtifactOptions>& options = std::nullopt);
  /// Records a dataset used by the run (`POST /mlflow/runs/log-inputs`; Client::log_inputs).
  void log_input(const DatasetInput& dataset);
  /// Records several datasets in one request (`POST /mlflow/runs/log-inputs`).
  void log_inputs(const std::vector<DatasetInput>& datasets);

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
  /// The timestamp one log_metrics call shares (now, ms).
  static int64_t batch_timestamp() noexcept;
  /// server_run_id(), or Error when the run is offline and not yet created on the server.
  std::string artifact_run_id() const;

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
