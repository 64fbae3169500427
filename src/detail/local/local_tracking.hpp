#pragma once
// The local tracking store (local_stores.hpp): MLflow's SqlAlchemyStore semantics over one
// LocalDatabase. Split by concern: experiments (local_tracking_store.cpp), runs, params,
// tags and inputs (local_runs.cpp), metrics and log-batch (local_metrics.cpp), searches
// (local_search.cpp, with the filter grammar in local_filter.cpp). Private: not installed.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/local/database.hpp"
#include "detail/local/local_common.hpp"
#include "detail/store/tracking_store.hpp"

namespace mlflowpp::detail::local {

class LocalTrackingStore final : public TrackingStore {
 public:
  explicit LocalTrackingStore(std::shared_ptr<LocalDatabase> db) : db_(std::move(db)) {}

  std::string create_experiment(const std::string& name, const std::string& artifact_location,
                                const std::vector<ExperimentTag>& tags) override;
  Experiment get_experiment(const std::string& experiment_id) override;
  std::optional<Experiment> get_experiment_by_name(const std::string& name) override;
  PagedList<Experiment> search_experiments(const SearchExperimentsOptions& options) override;
  void rename_experiment(const std::string& experiment_id, const std::string& new_name) override;
  void delete_experiment(const std::string& experiment_id) override;
  void restore_experiment(const std::string& experiment_id) override;
  void set_experiment_tag(const std::string& experiment_id, const std::string& key,
                          const std::string& value) override;
  void delete_experiment_tag(const std::string& experiment_id, const std::string& key) override;

  Run create_run(const std::string& experiment_id, const std::string& run_name, int64_t start_time,
                 const std::vector<RunTag>& tags, const std::string& user_id) override;
  Run get_run(const std::string& run_id) override;
  RunInfo update_run(const std::string& run_id, std::optional<RunStatus> status,
                     std::optional<int64_t> end_time, const std::string& run_name) override;
  void delete_run(const std::string& run_id) override;
  void restore_run(const std::string& run_id) override;
  PagedList<Run> search_runs(const std::vector<std::string>& experiment_ids,
                             const SearchRunsOptions& options) override;

  void log_metric(const std::string& run_id, const Metric& metric) override;
  void log_param(const std::string& run_id, const std::string& key, const std::string& value) override;
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value) override;
  void delete_tag(const std::string& run_id, const std::string& key) override;
  void log_batch_body(std::string body, const CallHooks* hooks) override;
  void log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets) override;
  PagedList<Metric> get_metric_history_page(const std::string& run_id, const std::string& key,
                                            int64_t max_results, const std::string& page_token) override;

 private:
  std::shared_ptr<LocalDatabase> db_;
};

// ---- helpers shared by the files of the local tracking store (all run inside a transaction)

inline constexpr const char* kRunNameTag = "mlflow.runName";

/// The experiment row `id` with its tags; std::nullopt when there is none.
std::optional<Experiment> load_experiment(sql::Connection& c, int64_t id);
/// load_experiment or RESOURCE_DOES_NOT_EXIST "No Experiment with id=<id> exists".
Experiment require_experiment(sql::Connection& c, int64_t id);
/// INVALID_PARAMETER_VALUE unless the experiment is active (_check_experiment_is_active).
void check_experiment_active(const Experiment& e);

/// The columns run_info_from() reads, in order (prefix them with a table alias when joining).
inline constexpr const char* kRunColumns =
    "run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage";
/// A RunInfo from the row `st` is on, its columns starting at `first` (kRunColumns' order).
RunInfo run_info_from(const sql::Stmt& st, int first = 0);
/// The run's info; RESOURCE_DOES_NOT_EXIST "Run with id=<id> not found" when there is none.
RunInfo require_run_info(sql::Connection& c, const std::string& run_id);
/// INVALID_PARAMETER_VALUE unless the run is active (_check_run_is_active).
void check_run_active(const RunInfo& info);
/// The run with its data (latest metrics, params, tags) and dataset inputs.
Run load_run(sql::Connection& c, const std::string& run_id);
/// Fills data and inputs of `run` (info already read).
void load_run_data(sql::Connection& c, Run& run);

/// Sets tag `key` of the run (upsert); for mlflow.runName also the run's name, as
/// SqlAlchemyStore.set_tag → update_run_info does.
void upsert_run_tag(sql::Connection& c, const std::string& run_id, std::string_view key,
                    std::string_view value);

/// MLflow's sanitize_metric_value: NaN → (true, 0), ±Inf → ±DBL_MAX.
struct SanitizedValue {
  bool is_nan;
  double value;
};
SanitizedValue sanitize_metric_value(double v) noexcept;

}  // namespace mlflowpp::detail::local
