#pragma once
/// @file entities.hpp
/// Value types for MLflow's tracking entities, named and shaped as in MLflow's
/// `service.proto` and the Python client's `mlflow.entities`.
///
/// Units: every timestamp is an `int64_t` count of **milliseconds since the Unix epoch**;
/// every step is an `int64_t`. Value types are safe to read from many threads at once.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlflowpp {

/// Status of a run (`RunStatus` in service.proto; numbered 1..5 on the wire).
enum class RunStatus { kRunning = 1, kScheduled = 2, kFinished = 3, kFailed = 4, kKilled = 5 };

/// Which lifecycle stages a search returns (`ViewType` in service.proto).
enum class ViewType { kActiveOnly = 1, kDeletedOnly = 2, kAll = 3 };

/// "RUNNING", "SCHEDULED", "FINISHED", "FAILED" or "KILLED".
const char* to_string(RunStatus status) noexcept;
/// Parses a status name; std::nullopt for an unknown name.
std::optional<RunStatus> run_status_from_string(const std::string& name) noexcept;
/// "ACTIVE_ONLY", "DELETED_ONLY" or "ALL".
const char* to_string(ViewType view_type) noexcept;

/// A metric timestamp: milliseconds since the Unix epoch, as MLflow stores it. Built
/// explicitly from a number (`TimestampMs(1700000000000)`) or implicitly from a
/// `std::chrono::system_clock::time_point`, so that a step can never be passed where a
/// timestamp is expected (`client.log_metric(id, "loss", v, 5)` does not compile).
struct TimestampMs {
  int64_t ms = 0;
  constexpr explicit TimestampMs(int64_t milliseconds) noexcept : ms(milliseconds) {}
  TimestampMs(std::chrono::system_clock::time_point t) noexcept  // NOLINT: implicit on purpose
      : ms(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()) {}
  /// The current time.
  static TimestampMs now() noexcept { return TimestampMs(std::chrono::system_clock::now()); }
};

/// One point of a metric's history.
struct Metric {
  std::string key;             ///< metric key, ≤ 250 characters
  double value = 0.0;          ///< any double; NaN kept; ±Inf stored by SQL servers as ±DBL_MAX
  int64_t timestamp = 0;       ///< ms since the Unix epoch, ≥ 0
  int64_t step = 0;            ///< training step (any int64)
  std::string dataset_name;    ///< optional: dataset the metric was computed on
  std::string dataset_digest;  ///< optional
  std::string model_id;        ///< optional: MLflow 3 logged model the metric belongs to
  std::string run_id;          ///< filled in by some endpoints (bulk history); may be empty
};

/// A run parameter: key ≤ 250 characters, value ≤ 6000 characters; write-once per run.
struct Param {
  std::string key;
  std::string value;
};

/// A run tag: key ≤ 250 characters, value ≤ 8000 characters; last write wins.
struct RunTag {
  std::string key;
  std::string value;
};

/// An experiment tag: key ≤ 250 characters, value ≤ 5000 characters.
struct ExperimentTag {
  std::string key;
  std::string value;
};

/// An experiment (`Experiment` in service.proto).
struct Experiment {
  std::string experiment_id;  ///< decimal string; "0" is the Default experiment
  std::string name;
  std::string artifact_location;  ///< e.g. "mlflow-artifacts:/1"
  std::string lifecycle_stage;    ///< "active" or "deleted"
  int64_t creation_time = 0;      ///< ms since the epoch
  int64_t last_update_time = 0;   ///< ms since the epoch
  std::vector<ExperimentTag> tags;

  /// The value of tag `key`, if present.
  std::optional<std::string> tag(const std::string& key) const;
};

/// Metadata of a run (`RunInfo` in service.proto).
struct RunInfo {
  std::string run_id;  ///< 32 lowercase hex characters on MLflow's own stores
  std::string run_name;
  std::string experiment_id;
  std::string user_id;  ///< deprecated by MLflow; the `mlflow.user` tag is authoritative
  RunStatus status = RunStatus::kRunning;
  int64_t start_time = 0;           ///< ms since the epoch
  std::optional<int64_t> end_time;  ///< ms since the epoch; absent while running
  std::string artifact_uri;         ///< e.g. "mlflow-artifacts:/1/<run_id>/artifacts"
  std::string lifecycle_stage;      ///< "active" or "deleted"
};

/// The data of a run (`RunData`). `metrics` holds only the latest point of each key (the
/// maximum over (step, timestamp, value)); use Client::get_metric_history for all points.
struct RunData {
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<RunTag> tags;

  std::optional<std::string> param(const std::string& key) const;
  std::optional<std::string> tag(const std::string& key) const;
  std::optional<Metric> metric(const std::string& key) const;
};

/// A dataset as MLflow records it (`Dataset`). Limits: name ≤ 500, digest ≤ 36,
/// source ≤ 65535, schema < 1 MiB, profile < 16 MiB characters.
struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;  ///< e.g. "local", "http", "code"
  std::string source;       ///< JSON text describing where the data came from
  std::string schema;       ///< optional JSON text
  std::string profile;      ///< optional JSON text
};

/// A tag on a dataset input: key ≤ 255, value ≤ 500 characters (e.g. `mlflow.data.context=train`).
struct InputTag {
  std::string key;
  std::string value;
};

/// A dataset used by a run (`DatasetInput`).
struct DatasetInput {
  std::vector<InputTag> tags;
  Dataset dataset;
};

/// An MLflow 3 logged model produced by a run at a step (`ModelOutput`).
struct ModelOutput {
  std::string model_id;
  int64_t step = 0;
};

/// Inputs of a run (`RunInputs`).
struct RunInputs {
  std::vector<DatasetInput> dataset_inputs;
  std::vector<std::string> model_ids;  ///< `model_inputs[].model_id`
};

/// Outputs of a run (`RunOutputs`).
struct RunOutputs {
  std::vector<ModelOutput> model_outputs;
};

/// A run (`Run`): info, data, inputs and outputs.
struct Run {
  RunInfo info;
  RunData data;
  RunInputs inputs;
  RunOutputs outputs;
};

/// One page of a paged search; `next_page_token` is empty on the last page.
template <typename T>
struct PagedList {
  std::vector<T> items;
  std::string next_page_token;
};

}  // namespace mlflowpp
