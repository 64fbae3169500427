// The local registry store's MLflow 3 logged models (local_registry.hpp): one transaction
// per call over the operations of local_logged_models.cpp.
#include "detail/local/local_logged_models.hpp"
#include "detail/local/local_registry.hpp"

namespace mlflowpp::detail::local {

LoggedModel LocalRegistryStore::create_logged_model(const std::string& experiment_id,
                                                    const CreateLoggedModelOptions& o) {
  return db_->write([&](sql::Connection& c) { return logged_model_create(c, experiment_id, o); });
}

LoggedModel LocalRegistryStore::finalize_logged_model(const std::string& model_id, LoggedModelStatus status) {
  return db_->write([&](sql::Connection& c) { return logged_model_finalize(c, model_id, status); });
}

LoggedModel LocalRegistryStore::get_logged_model(const std::string& model_id, bool allow_deleted) {
  return db_->read([&](sql::Connection& c) { return logged_model_get(c, model_id, allow_deleted); });
}

void LocalRegistryStore::delete_logged_model(const std::string& model_id) {
  db_->write([&](sql::Connection& c) { logged_model_delete(c, model_id); });
}

PagedList<LoggedModel> LocalRegistryStore::search_logged_models(
    const std::vector<std::string>& experiment_ids, const SearchLoggedModelsOptions& o) {
  return db_->read([&](sql::Connection& c) { return logged_model_search(c, experiment_ids, o); });
}

void LocalRegistryStore::set_logged_model_tags(const std::string& model_id,
                                               const std::vector<LoggedModelTag>& tags) {
  db_->write([&](sql::Connection& c) { logged_model_set_tags(c, model_id, tags); });
}

void LocalRegistryStore::delete_logged_model_tag(const std::string& model_id, const std::string& key) {
  db_->write([&](sql::Connection& c) { logged_model_delete_tag(c, model_id, key); });
}

void LocalRegistryStore::log_model_params(const std::string& model_id,
                                          const std::vector<LoggedModelParam>& params) {
  db_->write([&](sql::Connection& c) { logged_model_log_params(c, model_id, params); });
}

void LocalRegistryStore::log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) {
  db_->write([&](sql::Connection& c) { log_model_outputs(c, run_id, models); });
}

}  // namespace mlflowpp::detail::local
