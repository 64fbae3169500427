#pragma once
// The tracking-store seam: the public Client and the AsyncLogger talk to a TrackingStore.
// RestStore (MLflow's REST API) is the one implementation today; a store that writes
// MLflow's own SQLite schema can be added later without changing the public API.
// Private: not installed.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/requests.hpp"

namespace mlflowpp::detail {

struct CallHooks;
class RestClient;

class TrackingStore {
 public:
  virtual ~TrackingStore() = default;

  virtual std::string create_experiment(const std::string& name, const std::string& artifact_location,
                                        const std::vector<ExperimentTag>& tags) = 0;
  virtual Experiment get_experiment(const std::string& experiment_id) = 0;
  virtual std::optional<Experiment> get_experiment_by_name(const std::string& name) = 0;
  virtual PagedList<Experiment> search_experiments(const SearchExperimentsOptions& options) = 0;
  virtual void rename_experiment(const std::string& experiment_id, const std::string& new_name) = 0;
  virtual void delete_experiment(const std::string& experiment_id) = 0;
  virtual void restore_experiment(const std::string& experiment_id) = 0;
  virtual void set_experiment_tag(const std::string& experiment_id, const std::string& key,
                                  const std::string& value) = 0;
  virtual void delete_experiment_tag(const std::string& experiment_id, const std::string& key) = 0;

  virtual Run create_run(const std::string& experiment_id, const std::string& run_name, int64_t start_time,
                         const std::vector<RunTag>& tags, const std::string& user_id) = 0;
  virtual Run get_run(const std::string& run_id) = 0;
  virtual RunInfo update_run(const std::string& run_id, std::optional<RunStatus> status,
                             std::optional<int64_t> end_time, const std::string& run_name) = 0;
  virtual void delete_run(const std::string& run_id) = 0;
  virtual void restore_run(const std::string& run_id) = 0;
  virtual PagedList<Run> search_runs(const std::vector<std::string>& experiment_ids,
                                     const SearchRunsOptions& options) = 0;

  virtual void log_metric(const std::string& run_id, const Metric& metric) = 0;
  virtual void log_param(const std::string& run_id, const std::string& key, const std::string& value) = 0;
  virtual void set_tag(const std::string& run_id, const std::string& key, const std::string& value) = 0;
  virtual void delete_tag(const std::string& run_id, const std::string& key) = 0;
  /// One log-batch request with an already serialized body (see detail/batch.hpp).
  virtual void log_batch_body(std::string body, const CallHooks* hooks) = 0;
  virtual void log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets) = 0;
  virtual PagedList<Metric> get_metric_history_page(const std::string& run_id, const std::string& key,
                                                    int64_t max_results, const std::string& page_token) = 0;
};

/// The REST implementation over `rest`.
std::shared_ptr<TrackingStore> make_rest_store(std::shared_ptr<RestClient> rest);

}  // namespace mlflowpp::detail
