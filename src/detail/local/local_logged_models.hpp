#pragma once
// MLflow 3 logged models in the local store (local_logged_models.cpp), as the pinned
// MLflow's tracking SqlAlchemyStore writes them: tables logged_models, logged_model_params,
// logged_model_tags, logged_model_metrics (read), and `inputs` rows for run outputs. Each
// function runs inside the caller's transaction. Private: not installed.

#include <string>
#include <vector>

#include "detail/local/sqlite.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp::detail::local {

LoggedModel logged_model_create(sql::Connection& c, const std::string& experiment_id,
                                const CreateLoggedModelOptions& o);
LoggedModel logged_model_finalize(sql::Connection& c, const std::string& model_id, LoggedModelStatus status);
LoggedModel logged_model_get(sql::Connection& c, const std::string& model_id, bool allow_deleted);
void logged_model_delete(sql::Connection& c, const std::string& model_id);
PagedList<LoggedModel> logged_model_search(sql::Connection& c, const std::vector<std::string>& experiment_ids,
                                           const SearchLoggedModelsOptions& o);
void logged_model_set_tags(sql::Connection& c, const std::string& model_id,
                           const std::vector<LoggedModelTag>& tags);
void logged_model_delete_tag(sql::Connection& c, const std::string& model_id, const std::string& key);
/// Adds {name, version} to the logged model's `mlflow.modelVersions` tag (as MLflow's server
/// does when a version is created from the model).
void logged_model_link_version(sql::Connection& c, const std::string& model_id, const std::string& name,
                               const std::string& version);
void logged_model_log_params(sql::Connection& c, const std::string& model_id,
                             const std::vector<LoggedModelParam>& params);
void log_model_outputs(sql::Connection& c, const std::string& run_id, const std::vector<ModelOutput>& models);

}  // namespace mlflowpp::detail::local
