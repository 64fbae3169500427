#pragma once
// The registry-store seam: the public Client's model-registry and logged-model calls
// (src/api/client_registry.cpp, src/api/client_logged_models.cpp) talk to a RegistryStore,
// as its tracking calls talk to a TrackingStore (ADR 0001). RestRegistryStore (MLflow's
// REST API, rest_registry_store.cpp) is the one implementation today; a store over MLflow's
// own SQLite schema can be added without changing the public API.
//
// The split of work: the Client validates arguments (client-side limits, throwing
// InvalidArgumentError before anything is sent), runs the wait/poll loops (register_model,
// wait_for_model_version_ready) and the all-pages helper (detail::paging::collect_all), and
// calls one method here per store operation. A store takes and returns the public value
// types (mlflowpp/registry.hpp, mlflowpp/entities.hpp), never JSON; it assumes valid
// arguments and throws what its backend gives: ServerError for a refusal (with MLflow's
// error code, e.g. RESOURCE_DOES_NOT_EXIST), TransportError, ParseError. Every method may
// be called from many threads at once. Private: not installed.

#include <memory>
#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp::detail {

class RestClient;

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // ---- registered models

  virtual RegisteredModel create_registered_model(const std::string& name,
                                                  const std::vector<RegisteredModelTag>& tags,
                                                  const std::string& description) = 0;
  virtual RegisteredModel get_registered_model(const std::string& name) = 0;
  virtual RegisteredModel rename_registered_model(const std::string& name, const std::string& new_name) = 0;
  /// Sets the description ("" clears it).
  virtual RegisteredModel update_registered_model(const std::string& name,
                                                  const std::string& description) = 0;
  virtual void delete_registered_model(const std::string& name) = 0;
  /// One page (options.page_token; "" for the first).
  virtual PagedList<RegisteredModel> search_registered_models(
      const SearchRegisteredModelsOptions& options) = 0;
  virtual void set_registered_model_tag(const std::string& name, const std::string& key,
                                        const std::string& value) = 0;
  virtual void delete_registered_model_tag(const std::string& name, const std::string& key) = 0;
  virtual void set_registered_model_alias(const std::string& name, const std::string& alias,
                                          const std::string& version) = 0;
  virtual void delete_registered_model_alias(const std::string& name, const std::string& alias) = 0;
  virtual ModelVersion get_model_version_by_alias(const std::string& name, const std::string& alias) = 0;
  /// The latest version per stage in `stages` (every stage when empty).
  virtual std::vector<ModelVersion> get_latest_versions(const std::string& name,
                                                        const std::vector<std::string>& stages) = 0;

  // ---- model versions

  virtual ModelVersion create_model_version(const std::string& name, const std::string& source,
                                            const CreateModelVersionOptions& options) = 0;
  virtual ModelVersion get_model_version(const std::string& name, const std::string& version) = 0;
  /// Sets the description ("" clears it).
  virtual ModelVersion update_model_version(const std::string& name, const std::string& version,
                                            const std::string& description) = 0;
  virtual void delete_model_version(const std::string& name, const std::string& version) = 0;
  /// One page (options.page_token; "" for the first).
  virtual PagedList<ModelVersion> search_model_versions(const SearchModelVersionsOptions& options) = 0;
  virtual void set_model_version_tag(const std::string& name, const std::string& version,
                                     const std::string& key, const std::string& value) = 0;
  virtual void delete_model_version_tag(const std::string& name, const std::string& version,
                                        const std::string& key) = 0;
  virtual ModelVersion transition_model_version_stage(const std::string& name, const std::string& version,
                                                      const std::string& stage,
                                                      bool archive_existing_versions) = 0;
  /// Where the version's files are (the resolved storage location).
  virtual std::string get_model_version_download_uri(const std::string& name, const std::string& version) = 0;

  /// The relative paths of the entries directly under `path` ("" = the root) of run
  /// `run_id`'s artifacts, as the tracking service lists them: how register_model tells a
  /// run's own model folder (one holding an `MLmodel` file) from an MLflow 3 logged model
  /// of that name. (A tracking-service call, here because only the registry needs it.)
  virtual std::vector<std::string> list_run_artifact_paths(const std::string& run_id,
                                                           const std::string& path) = 0;

  // ---- MLflow 3 logged models

  /// Creates the model (status PENDING) with every param in options.params, however many.
  virtual LoggedModel create_logged_model(const std::string& experiment_id,
                                          const CreateLoggedModelOptions& options) = 0;
  /// Sets the final status (kReady or kUploadFailed).
  virtual LoggedModel finalize_logged_model(const std::string& model_id, LoggedModelStatus status) = 0;
  virtual LoggedModel get_logged_model(const std::string& model_id, bool allow_deleted) = 0;
  virtual void delete_logged_model(const std::string& model_id) = 0;
  /// One page (options.page_token; "" for the first) over `experiment_ids` (at least one).
  virtual PagedList<LoggedModel> search_logged_models(const std::vector<std::string>& experiment_ids,
                                                      const SearchLoggedModelsOptions& options) = 0;
  virtual void set_logged_model_tags(const std::string& model_id,
                                     const std::vector<LoggedModelTag>& tags) = 0;
  virtual void delete_logged_model_tag(const std::string& model_id, const std::string& key) = 0;
  /// Logs every param in `params`, however many (write-once per key).
  virtual void log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params) = 0;
  /// Records that run `run_id` produced `models` (each at its step).
  virtual void log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) = 0;
};

/// The REST implementation over `rest` (`/api/2.0/mlflow/registered-models/...`,
/// `/model-versions/...`, `/logged-models...`, `/runs/outputs`, `/artifacts/list`).
std::shared_ptr<RegistryStore> make_rest_registry_store(std::shared_ptr<RestClient> rest);

}  // namespace mlflowpp::detail
