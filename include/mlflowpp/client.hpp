#pragma once
/// @file client.hpp
/// The tracking client: typed, synchronous wrappers over MLflow's REST API
/// (`/api/2.0/mlflow/...`), named after the Python `MlflowClient`, plus start_run() for
/// the run lifecycle and async_logger() for non-blocking logging.
///
/// Errors: synchronous calls throw InvalidArgumentError (refused before sending),
/// ServerError (the server's HTTP status and MLflow error code), TransportError (no
/// usable answer after the retry policy) or ParseError (unreadable answer).
/// Thread safety: a Client may be used from many threads at once; copies share one
/// connection pool and one AsyncLogger. Constructors do no network I/O.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp {

class ActiveRun;
class AsyncLogger;

namespace detail {
class TrackingStore;
class Transport;
}  // namespace detail

/// Arguments of Client::search_experiments (`POST /mlflow/experiments/search`).
struct SearchExperimentsOptions {
  ViewType view_type = ViewType::kActiveOnly;
  int64_t max_results = 1000;         ///< 1..50000
  std::string filter_string;          ///< e.g. "name LIKE 'digits%' AND tags.team = 'ml'"
  std::vector<std::string> order_by;  ///< e.g. {"name ASC", "creation_time DESC"}
  std::string page_token;             ///< from a previous page; empty for the first
};

/// Arguments of Client::search_runs (`POST /mlflow/runs/search`).
struct SearchRunsOptions {
  std::string filter_string;  ///< e.g. "metrics.loss < 0.5 AND params.lr = '0.1'"
  ViewType run_view_type = ViewType::kActiveOnly;
  int64_t max_results = 1000;         ///< 1..50000
  std::vector<std::string> order_by;  ///< e.g. {"metrics.loss ASC", "attributes.start_time DESC"}
  std::string page_token;
};

/// Arguments of Client::create_run (`POST /mlflow/runs/create`).
struct CreateRunOptions {
  std::string run_name;               ///< empty: the server picks a random name
  std::optional<int64_t> start_time;  ///< ms since the epoch; default: now
  std::vector<RunTag> tags;
};

/// Arguments of Client::start_run. The experiment is resolved as the Python fluent API
/// does: `experiment_id`, else `experiment_name` (created if missing), else
/// MLFLOW_EXPERIMENT_NAME (created if missing; must agree with MLFLOW_EXPERIMENT_ID when
/// both are set), else MLFLOW_EXPERIMENT_ID (must exist), else "0" (Default).
struct StartRunOptions {
  std::string experiment_id;
  std::string experiment_name;
  std::string run_name;
  /// Resume this run instead of creating one (also taken from MLFLOW_RUN_ID, which is
  /// then unset, as in Python). The run is set back to RUNNING.
  std::string run_id;
  /// Makes this a nested (child) run: adds the `mlflow.parentRunId` tag.
  std::string parent_run_id;
  std::string description;   ///< stored as the `mlflow.note.content` tag
  std::vector<RunTag> tags;  ///< override the system tags of the same key
  /// Add the system tags the Python client sets (mlflow.user, mlflow.source.name,
  /// mlflow.source.type=LOCAL, mlflow.source.git.commit inside a git checkout).
  bool system_tags = true;
};

/// Thread-safe MLflow tracking client (copyable handle; copies share state).
class Client {
 public:
  /// Uses `options` as given (call ClientOptions::from_env() to read the environment).
  /// Throws InvalidArgumentError for invalid options. No network I/O.
  explicit Client(ClientOptions options);
  /// `Client(ClientOptions::from_env())`.
  static Client from_env();
  /// For tests and custom stacks: a client over another transport (see src/detail).
  Client(ClientOptions options, std::shared_ptr<detail::Transport> transport);
  ~Client();
  Client(const Client&);
  Client& operator=(const Client&);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const ClientOptions& options() const noexcept;
  /// The tracking URI with any trailing '/' removed.
  const std::string& tracking_uri() const noexcept;

  // ---- experiments -------------------------------------------------------------------

  /// `POST /mlflow/experiments/create`. Returns the new experiment_id. A name used by an
  /// active or deleted experiment gives ServerError RESOURCE_ALREADY_EXISTS (HTTP 400).
  /// Names longer than 256 characters are refused (MLflow's SQL column width).
  std::string create_experiment(const std::string& name, const std::string& artifact_location = {},
                                const std::vector<ExperimentTag>& tags = {});
  /// `GET /mlflow/experiments/get`. Deleted experiments are returned too.
  Experiment get_experiment(const std::string& experiment_id);
  /// `GET /mlflow/experiments/get-by-name`; std::nullopt when no experiment has that name.
  std::optional<Experiment> get_experiment_by_name(const std::string& name);
  /// Returns the experiment's id, creating it when missing (safe against a concurrent
  /// creator: RESOURCE_ALREADY_EXISTS is answered by a second lookup). Throws
  /// InvalidArgumentError when the experiment of that name is deleted (restore it first),
  /// as the Python client's set_experiment does.
  std::string get_or_create_experiment(const std::string& name);
  /// `POST /mlflow/experiments/search`, one page.
  PagedList<Experiment> search_experiments(const SearchExperimentsOptions& options = {});
  /// Every page of search_experiments (options.page_token is the starting point).
  std::vector<Experiment> search_all_experiments(SearchExperimentsOptions options = {});
  /// `POST /mlflow/experiments/update` (rename).
  void rename_experiment(const std::string& experiment_id, const std::string& new_name);
  /// `POST /mlflow/experiments/delete` (soft delete; its runs are marked deleted too).
  void delete_experiment(const std::string& experiment_id);
  /// `POST /mlflow/experiments/restore`.
  void restore_experiment(const std::string& experiment_id);
  /// `POST /mlflow/experiments/set-experiment-tag` (key ≤ 250, value ≤ 5000 characters).
  void set_experiment_tag(const std::string& experiment_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/experiments/delete-experiment-tag`.
  void delete_experiment_tag(const std::string& experiment_id, const std::string& key);

  // ---- runs --------------------------------------------------------------------------

  /// `POST /mlflow/runs/create`. Creates a RUNNING run; adds no system tags (see start_run).
  Run create_run(const std::string& experiment_id, const CreateRunOptions& options = {});
  /// `GET /mlflow/runs/get`. Deleted runs are returned too; metrics hold the latest point
  /// per key only.
  Run get_run(const std::string& run_id);
  /// `POST /mlflow/runs/update`. Fields left empty are not changed.
  RunInfo update_run(const std::string& run_id, std::optional<RunStatus> status = std::nullopt,
                     std::optional<int64_t> end_time = std::nullopt, const std::string& run_name = {});
  /// Marks a run terminated: update_run(status, end_time or now). Does not flush the async
  /// logger (ActiveRun::end does).
  void set_terminated(const std::string& run_id, RunStatus status = RunStatus::kFinished,
                      std::optional<int64_t> end_time = std::nullopt);
  /// `POST /mlflow/runs/delete` (soft delete).
  void delete_run(const std::string& run_id);
  /// `POST /mlflow/runs/restore`.
  void restore_run(const std::string& run_id);
  /// `POST /mlflow/runs/search`, one page.
  PagedList<Run> search_runs(const std::vector<std::string>& experiment_ids,
                             const SearchRunsOptions& options = {});
  /// Every page of search_runs.
  std::vector<Run> search_all_runs(const std::vector<std::string>& experiment_ids,
                                   SearchRunsOptions options = {});

  /// `POST /mlflow/runs/log-metric`. `timestamp` in ms since the epoch (default: now).
  void log_metric(const std::string& run_id, const std::string& key, double value,
                  std::optional<int64_t> timestamp = std::nullopt, int64_t step = 0);
  /// `POST /mlflow/runs/log-parameter` (value ≤ 6000 characters; a different value for
  /// an existing key gives ServerError INVALID_PARAMETER_VALUE).
  void log_param(const std::string& run_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/runs/set-tag` (value ≤ 8000 characters).
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value);
  /// `POST /mlflow/runs/delete-tag`.
  void delete_tag(const std::string& run_id, const std::string& key);
  /// `POST /mlflow/runs/log-batch`, any number of items: split into as many requests as
  /// MLflow's limits need (≤ 1000 metrics, 100 params, 100 tags, 1000 entities, the
  /// request byte budget; never a param key twice in one request), sent in order.
  /// Every item is validated first; nothing is sent when one is invalid.
  void log_batch(const std::string& run_id, const std::vector<Metric>& metrics = {},
                 const std::vector<Param>& params = {}, const std::vector<RunTag>& tags = {});
  /// `POST /mlflow/runs/log-inputs`: records datasets used by the run.
  void log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets);
  /// `GET /mlflow/metrics/get-history`, every page (25000 points per request), in the
  /// server's order.
  std::vector<Metric> get_metric_history(const std::string& run_id, const std::string& key);

  // ---- lifecycle and asynchronous logging --------------------------------------------

  /// Starts (or resumes) a run as `mlflow.start_run` does and returns its handle; see
  /// StartRunOptions for how the experiment is chosen. Adds the system tags and
  /// `mlflow.runName`. Throws like the calls it makes (get-by-name, create, runs/create).
  ActiveRun start_run(StartRunOptions options = {});
  /// `start_run` with an experiment name (created if missing) and a run name.
  ActiveRun start_run(const std::string& experiment_name, const std::string& run_name = {});

  /// The client's background batching logger (started on first use).
  AsyncLogger& async_logger();

  /// The tracking store behind this client (internal seam; not part of the stable API).
  detail::TrackingStore& store();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  friend class ActiveRun;
};

}  // namespace mlflowpp
