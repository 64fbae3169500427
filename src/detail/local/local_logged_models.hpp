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

namespace mlflowpp::detail::local_logged {

LoggedModel create(sql::Connection& c, const std::string& experiment_id, const CreateLoggedModelOptions& o);
LoggedModel finalize(sql::Connection& c, const std::string& model_id, LoggedModelStatus status);
LoggedModel get(sql::Connection& c, const std::string& model_id, bool allow_deleted);
void remove(sql::Connection& c, const std::string& model_id);
PagedList<LoggedModel> search(sql::Connection& c, const std::vector<std::string>& experiment_ids,
                              const SearchLoggedModelsOptions& o);
void set_tags(sql::Connection& c, const std::string& model_id, const std::vector<LoggedModelTag>& tags);
void delete_tag(sql::Connection& c, const std::string& model_id, const std::string& key);
/// Adds {name, version} to the logged model's `mlflow.modelVersions` tag (as MLflow's server
/// does when a version is created from the model).
void link_model_version(sql::Connection& c, const std::string& model_id, const std::string& name,
                        const std::string& version);
void log_params(sql::Connection& c, const std::string& model_id, const std::vector<LoggedModelParam>& params);
void log_outputs(sql::Connection& c, const std::string& run_id, const std::vector<ModelOutput>& models);

}  // namespace mlflowpp::detail::local_logged
