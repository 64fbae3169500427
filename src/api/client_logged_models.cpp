// Client: MLflow 3 logged models and run outputs. Validates the arguments (nothing is
// sent when one is refused), runs the all-pages loop, and calls the registry store
// (detail/store/registry_store.hpp) for everything else. See client.hpp for the contract
// of every call.
#include <fmt/format.h>

#include <limits>
#include <set>
#include <string_view>

#include "api/client_impl.hpp"
#include "api/context.hpp"
#include "detail/core/text.hpp"
#include "detail/rest/paging.hpp"
#include "detail/store/registry_store.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/registry.hpp"

namespace mlflowpp {

// ---- value types

const char* to_string(LoggedModelStatus status) noexcept {
  switch (status) {
    case LoggedModelStatus::kUnspecified:
      return "LOGGED_MODEL_STATUS_UNSPECIFIED";
    case LoggedModelStatus::kPending:
      return "LOGGED_MODEL_PENDING";
    case LoggedModelStatus::kReady:
      return "LOGGED_MODEL_READY";
    case LoggedModelStatus::kUploadFailed:
      return "LOGGED_MODEL_UPLOAD_FAILED";
  }
  return "LOGGED_MODEL_STATUS_UNSPECIFIED";
}

std::optional<LoggedModelStatus> logged_model_status_from_string(const std::string& name) noexcept {
  std::string_view n = name;
  if (n.substr(0, 13) == "LOGGED_MODEL_") n.remove_prefix(13);
  if (n == "STATUS_UNSPECIFIED") return LoggedModelStatus::kUnspecified;
  if (n == "PENDING") return LoggedModelStatus::kPending;
  if (n == "READY") return LoggedModelStatus::kReady;
  if (n == "UPLOAD_FAILED") return LoggedModelStatus::kUploadFailed;
  return std::nullopt;
}

std::optional<std::string> LoggedModelInfo::tag(const std::string& key) const {
  for (const auto& t : tags)
    if (t.key == key) return t.value;
  return std::nullopt;
}

std::optional<std::string> LoggedModelData::param(const std::string& key) const {
  for (const auto& p : params)
    if (p.key == key) return p.value;
  return std::nullopt;
}

using detail::shown;
using detail::starts_with;

namespace {

void check_model_id(std::string_view model_id) {
  if (model_id.empty()) throw InvalidArgumentError("logged model id must not be empty");
}

void check_params(const std::vector<LoggedModelParam>& params) {
  std::set<std::string_view> seen;
  for (const auto& p : params) {
    if (p.key.empty()) throw InvalidArgumentError("logged model param key must not be empty");
    if (!seen.insert(p.key).second)
      throw InvalidArgumentError(fmt::format(
          "logged model param '{}' is given twice: params are write-once, one value per key", shown(p.key)));
  }
}

void check_tags(const std::vector<LoggedModelTag>& tags) {
  for (const auto& t : tags)
    if (t.key.empty()) throw InvalidArgumentError("logged model tag key must not be empty");
}

}  // namespace

LoggedModel Client::create_logged_model(const std::string& experiment_id,
                                        const CreateLoggedModelOptions& options) {
  if (experiment_id.empty())
    throw InvalidArgumentError("create_logged_model: experiment_id must not be empty");
  const std::string& name = options.name;
  if (!name.empty() && name.find_first_of("/:.%\"'") != std::string::npos)
    throw InvalidArgumentError(fmt::format(
        "invalid logged model name '{}': names cannot contain '/', ':', '.', '%', '\"' or '''", shown(name)));
  check_params(options.params);
  check_tags(options.tags);
  if (!options.system_tags) return impl_->registry->create_logged_model(experiment_id, options);
  // The tags Python's fluent create_logged_model (mlflow.initialize_logged_model,
  // create_external_model, log_model) resolves: the run's system tags, the given ones over them.
  std::vector<RunTag> merged = detail::system_tags(impl_->options.username);
  for (const auto& t : options.tags) detail::merge_tag(merged, {t.key, t.value});
  CreateLoggedModelOptions with = options;
  with.tags.clear();
  for (auto& t : merged) with.tags.push_back({std::move(t.key), std::move(t.value)});
  return impl_->registry->create_logged_model(experiment_id, with);
}

LoggedModel Client::finalize_logged_model(const std::string& model_id, LoggedModelStatus status) {
  check_model_id(model_id);
  if (status != LoggedModelStatus::kReady && status != LoggedModelStatus::kUploadFailed)
    throw InvalidArgumentError(
        fmt::format("finalize_logged_model: the final status must be LOGGED_MODEL_READY or "
                    "LOGGED_MODEL_UPLOAD_FAILED, got {}",
                    to_string(status)));
  return impl_->registry->finalize_logged_model(model_id, status);
}

LoggedModel Client::get_logged_model(const std::string& model_id, bool allow_deleted) {
  check_model_id(model_id);
  return impl_->registry->get_logged_model(model_id, allow_deleted);
}

void Client::delete_logged_model(const std::string& model_id) {
  check_model_id(model_id);
  impl_->registry->delete_logged_model(model_id);
}

PagedList<LoggedModel> Client::search_logged_models(const std::vector<std::string>& experiment_ids,
                                                    const SearchLoggedModelsOptions& options) {
  if (experiment_ids.empty())
    throw InvalidArgumentError("search_logged_models: give at least one experiment id");
  if (options.max_results < 1 || options.max_results > std::numeric_limits<int32_t>::max())
    throw InvalidArgumentError(
        fmt::format("search_logged_models: max_results must be 1..2147483647, got {}", options.max_results));
  for (const auto& d : options.datasets)
    if (d.dataset_name.empty())
      throw InvalidArgumentError("search_logged_models: every dataset needs a dataset_name");
  return impl_->registry->search_logged_models(experiment_ids, options);
}

std::vector<LoggedModel> Client::search_all_logged_models(const std::vector<std::string>& experiment_ids,
                                                          SearchLoggedModelsOptions options) {
  std::string start = std::move(options.page_token);
  return detail::paging::collect_all<LoggedModel>(
      std::move(start), options.max_results, "logged-models/search",
      [&](const std::string& token) {
        options.page_token = token;
        return search_logged_models(experiment_ids, options);
      },
      [](const LoggedModel& m) { return m.info.model_id; });
}

void Client::set_logged_model_tags(const std::string& model_id, const std::vector<LoggedModelTag>& tags) {
  check_model_id(model_id);
  check_tags(tags);
  if (tags.empty()) return;
  impl_->registry->set_logged_model_tags(model_id, tags);
}

void Client::delete_logged_model_tag(const std::string& model_id, const std::string& key) {
  check_model_id(model_id);
  if (key.empty()) throw InvalidArgumentError("delete_logged_model_tag: the key must not be empty");
  if (key.find('/') != std::string::npos)
    throw InvalidArgumentError(
        fmt::format("delete_logged_model_tag: tag key '{}' contains '/', which MLflow's REST route "
                    "(/logged-models/{{model_id}}/tags/{{tag_key}}) cannot address",
                    shown(key)));
  impl_->registry->delete_logged_model_tag(model_id, key);
}

void Client::log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params) {
  check_model_id(model_id);
  check_params(params);
  impl_->registry->log_model_params(model_id, params);
}

void Client::log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) {
  if (run_id.empty()) throw InvalidArgumentError("log_outputs: run_id must not be empty");
  for (const auto& m : models)
    if (m.model_id.empty()) throw InvalidArgumentError("log_outputs: every model output needs a model_id");
  if (models.empty()) return;
  impl_->registry->log_outputs(run_id, models);
}

}  // namespace mlflowpp
