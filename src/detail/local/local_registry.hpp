#pragma once
// The local registry store (local_stores.hpp): MLflow's model registry and MLflow 3 logged
// models over the embedded SQLite database (ADR 0008), with the semantics of the pinned
// MLflow's SqlAlchemyStores. Split by concern: registered models, aliases and the version
// wrappers (local_registry_store.cpp) with the model-version operations in
// local_registry_versions.cpp; logged models (local_logged_model_store.cpp over
// local_logged_models.cpp). Each method is one transaction. Private: not installed.

#include <memory>
#include <string>
#include <vector>

#include "detail/local/database.hpp"
#include "detail/store/registry_store.hpp"

namespace mlflowpp::detail::local {

class LocalRegistryStore final : public RegistryStore {
 public:
  explicit LocalRegistryStore(std::shared_ptr<LocalDatabase> db) : db_(std::move(db)) {}

  // ---- registered models

  RegisteredModel create_registered_model(const std::string& name,
                                          const std::vector<RegisteredModelTag>& tags,
                                          const std::string& description) override;

  RegisteredModel get_registered_model(const std::string& name) override;

  RegisteredModel rename_registered_model(const std::string& name, const std::string& new_name) override;

  RegisteredModel update_registered_model(const std::string& name, const std::string& description) override;

  void delete_registered_model(const std::string& name) override;

  PagedList<RegisteredModel> search_registered_models(const SearchRegisteredModelsOptions& o) override;

  void set_registered_model_tag(const std::string& name, const std::string& key,
                                const std::string& value) override;

  void delete_registered_model_tag(const std::string& name, const std::string& key) override;

  void set_registered_model_alias(const std::string& name, const std::string& alias,
                                  const std::string& version) override;

  void delete_registered_model_alias(const std::string& name, const std::string& alias) override;

  ModelVersion get_model_version_by_alias(const std::string& name, const std::string& alias) override;

  std::vector<ModelVersion> get_latest_versions(const std::string& name,
                                                const std::vector<std::string>& stages) override;

  // ---- model versions

  ModelVersion create_model_version(const std::string& name, const std::string& source,
                                    const CreateModelVersionOptions& o) override;
  ModelVersion get_model_version(const std::string& name, const std::string& version) override;
  ModelVersion update_model_version(const std::string& name, const std::string& version,
                                    const std::string& description) override;
  void delete_model_version(const std::string& name, const std::string& version) override;
  PagedList<ModelVersion> search_model_versions(const SearchModelVersionsOptions& o) override;
  void set_model_version_tag(const std::string& name, const std::string& version, const std::string& key,
                             const std::string& value) override;
  void delete_model_version_tag(const std::string& name, const std::string& version,
                                const std::string& key) override;
  ModelVersion transition_model_version_stage(const std::string& name, const std::string& version,
                                              const std::string& stage,
                                              bool archive_existing_versions) override;
  std::string get_model_version_download_uri(const std::string& name, const std::string& version) override;

  std::vector<std::string> list_run_artifact_paths(const std::string& run_id,
                                                   const std::string& path) override;

  // ---- MLflow 3 logged models

  LoggedModel create_logged_model(const std::string& experiment_id,
                                  const CreateLoggedModelOptions& o) override;
  LoggedModel finalize_logged_model(const std::string& model_id, LoggedModelStatus status) override;
  LoggedModel get_logged_model(const std::string& model_id, bool allow_deleted) override;
  void delete_logged_model(const std::string& model_id) override;
  PagedList<LoggedModel> search_logged_models(const std::vector<std::string>& experiment_ids,
                                              const SearchLoggedModelsOptions& o) override;
  void set_logged_model_tags(const std::string& model_id, const std::vector<LoggedModelTag>& tags) override;
  void delete_logged_model_tag(const std::string& model_id, const std::string& key) override;
  void log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params) override;
  void log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) override;

 private:
  std::shared_ptr<LocalDatabase> db_;
};

}  // namespace mlflowpp::detail::local
