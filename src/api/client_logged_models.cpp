// Client: MLflow 3 logged models (`/api/2.0/mlflow/logged-models...`) and run outputs
// (`/api/2.0/mlflow/runs/outputs`). See client.hpp for the contract of every call.
#include <fmt/format.h>

#include <limits>
#include <set>
#include <string_view>

#include "api/client_impl.hpp"
#include "detail/codec/json.hpp"
#include "detail/codec/registry_json.hpp"
#include "detail/core/paging.hpp"
#include "detail/rest/rest.hpp"
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

namespace {

constexpr std::size_t kParamsPerRequest = 100;  // as the Python client's batches

std::string shown(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  return fmt::format("{}...", s.substr(0, 77));
}

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

template <typename It>
void write_kvs(detail::JsonWriter& w, std::string_view name, It begin, It end) {
  w.key(name).begin_array();
  for (It it = begin; it != end; ++it)
    w.begin_object().key("key").value(it->key).key("value").value(it->value).end_object();
  w.end_array();
}

std::string model_path(std::string_view model_id) {
  return "/mlflow/logged-models/" + detail::url_encode(model_id);
}

}  // namespace

LoggedModel Client::create_logged_model(const std::string& experiment_id, const std::string& name,
                                        const std::string& model_type, const std::string& source_run_id,
                                        const std::vector<LoggedModelParam>& params,
                                        const std::vector<LoggedModelTag>& tags) {
  if (experiment_id.empty())
    throw InvalidArgumentError("create_logged_model: experiment_id must not be empty");
  if (!name.empty() && name.find_first_of("/:.%\"'") != std::string::npos)
    throw InvalidArgumentError(fmt::format(
        "invalid logged model name '{}': names cannot contain '/', ':', '.', '%', '\"' or '''", shown(name)));
  check_params(params);
  check_tags(tags);
  const std::size_t first = std::min(params.size(), kParamsPerRequest);
  detail::JsonWriter w;
  w.begin_object().key("experiment_id").value(experiment_id);
  if (!name.empty()) w.key("name").value(name);
  if (!model_type.empty()) w.key("model_type").value(model_type);
  if (!source_run_id.empty()) w.key("source_run_id").value(source_run_id);
  if (first > 0) write_kvs(w, "params", params.begin(), params.begin() + static_cast<long>(first));
  if (!tags.empty()) write_kvs(w, "tags", tags.begin(), tags.end());
  w.end_object();
  LoggedModel model =
      detail::parse_logged_model_response(impl_->rest->call("POST", "/mlflow/logged-models", w.take()));
  if (first == params.size()) return model;
  log_model_params(model.info.model_id,
                   std::vector<LoggedModelParam>(params.begin() + static_cast<long>(first), params.end()));
  return get_logged_model(model.info.model_id);
}

LoggedModel Client::finalize_logged_model(const std::string& model_id, LoggedModelStatus status) {
  check_model_id(model_id);
  if (status != LoggedModelStatus::kReady && status != LoggedModelStatus::kUploadFailed)
    throw InvalidArgumentError(
        fmt::format("finalize_logged_model: the final status must be LOGGED_MODEL_READY or "
                    "LOGGED_MODEL_UPLOAD_FAILED, got {}",
                    to_string(status)));
  detail::JsonWriter w;
  w.begin_object().key("model_id").value(model_id).key("status").value(to_string(status)).end_object();
  return detail::parse_logged_model_response(impl_->rest->call("PATCH", model_path(model_id), w.take()));
}

LoggedModel Client::get_logged_model(const std::string& model_id, bool allow_deleted) {
  check_model_id(model_id);
  std::vector<std::pair<std::string, std::string>> q;
  if (allow_deleted) q.emplace_back("allow_deleted", "true");
  return detail::parse_logged_model_response(impl_->rest->get(model_path(model_id), q));
}

void Client::delete_logged_model(const std::string& model_id) {
  check_model_id(model_id);
  detail::JsonWriter w;
  w.begin_object().key("model_id").value(model_id).end_object();
  detail::parse_empty_response(impl_->rest->call("DELETE", model_path(model_id), w.take()),
                               "logged-models/delete");
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
  detail::JsonWriter w;
  w.begin_object().key("experiment_ids").begin_array();
  for (const auto& id : experiment_ids) w.value(id);
  w.end_array();
  if (!options.filter_string.empty()) w.key("filter").value(options.filter_string);
  if (!options.datasets.empty()) {
    w.key("datasets").begin_array();
    for (const auto& d : options.datasets) {
      w.begin_object().key("dataset_name").value(d.dataset_name);
      if (!d.dataset_digest.empty()) w.key("dataset_digest").value(d.dataset_digest);
      w.end_object();
    }
    w.end_array();
  }
  w.key("max_results").value(options.max_results);
  if (!options.order_by.empty()) {
    w.key("order_by").begin_array();
    for (const auto& o : options.order_by) {
      w.begin_object().key("field_name").value(o.field_name).key("ascending").value(o.ascending);
      if (!o.dataset_name.empty()) w.key("dataset_name").value(o.dataset_name);
      if (!o.dataset_digest.empty()) w.key("dataset_digest").value(o.dataset_digest);
      w.end_object();
    }
    w.end_array();
  }
  if (!options.page_token.empty()) w.key("page_token").value(options.page_token);
  w.end_object();
  return detail::parse_search_logged_models(
      impl_->rest->call("POST", "/mlflow/logged-models/search", w.take()));
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
  detail::JsonWriter w;
  w.begin_object();
  write_kvs(w, "tags", tags.begin(), tags.end());
  w.end_object();
  detail::parse_empty_response(impl_->rest->call("PATCH", model_path(model_id) + "/tags", w.take()),
                               "logged-models/tags");
}

void Client::delete_logged_model_tag(const std::string& model_id, const std::string& key) {
  check_model_id(model_id);
  if (key.empty()) throw InvalidArgumentError("delete_logged_model_tag: the key must not be empty");
  if (key.find('/') != std::string::npos)
    throw InvalidArgumentError(
        fmt::format("delete_logged_model_tag: tag key '{}' contains '/', which MLflow's REST route "
                    "(/logged-models/{{model_id}}/tags/{{tag_key}}) cannot address",
                    shown(key)));
  detail::parse_empty_response(
      impl_->rest->call("DELETE", model_path(model_id) + "/tags/" + detail::url_encode(key), "{}"),
      "logged-models/tags/delete");
}

void Client::log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params) {
  check_model_id(model_id);
  check_params(params);
  for (std::size_t i = 0; i < params.size(); i += kParamsPerRequest) {
    const std::size_t end = std::min(params.size(), i + kParamsPerRequest);
    detail::JsonWriter w;
    w.begin_object().key("model_id").value(model_id);
    write_kvs(w, "params", params.begin() + static_cast<long>(i), params.begin() + static_cast<long>(end));
    w.end_object();
    detail::parse_empty_response(impl_->rest->call("POST", model_path(model_id) + "/params", w.take()),
                                 "logged-models/params");
  }
}

void Client::log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) {
  if (run_id.empty()) throw InvalidArgumentError("log_outputs: run_id must not be empty");
  for (const auto& m : models)
    if (m.model_id.empty()) throw InvalidArgumentError("log_outputs: every model output needs a model_id");
  if (models.empty()) return;
  detail::JsonWriter w;
  w.begin_object().key("run_id").value(run_id).key("models").begin_array();
  for (const auto& m : models)
    w.begin_object().key("model_id").value(m.model_id).key("step").value(m.step).end_object();
  w.end_array().end_object();
  detail::parse_empty_response(impl_->rest->call("POST", "/mlflow/runs/outputs", w.take()), "runs/outputs");
}

}  // namespace mlflowpp
