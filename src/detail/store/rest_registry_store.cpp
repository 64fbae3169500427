// RestRegistryStore: the RegistryStore over MLflow's REST API. Builds each request body
// with JsonWriter and reads each answer with the registry codec (detail/codec/registry_json),
// exactly as the Client sent and read them before the seam existed. No validation here:
// the Client has checked the arguments (see registry_store.hpp).
#include <algorithm>
#include <string_view>
#include <utility>

#include "detail/codec/json.hpp"
#include "detail/codec/registry_json.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/registry_store.hpp"

namespace mlflowpp::detail {

namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kParamsPerRequest = 100;  // logged-model params per request, as the Python client

template <typename It>
void write_kvs(JsonWriter& w, std::string_view name, It begin, It end) {
  w.key(name).begin_array();
  for (It it = begin; it != end; ++it)
    w.begin_object().key("key").value(it->key).key("value").value(it->value).end_object();
  w.end_array();
}

template <typename Tags>
void write_tags(JsonWriter& w, const Tags& tags) {
  if (!tags.empty()) write_kvs(w, "tags", tags.begin(), tags.end());
}

void write_strings(JsonWriter& w, std::string_view name, const std::vector<std::string>& items) {
  w.key(name).begin_array();
  for (const auto& s : items) w.value(s);
  w.end_array();
}

std::string model_path(std::string_view model_id) { return "/mlflow/logged-models/" + url_encode(model_id); }

class RestRegistryStore final : public RegistryStore {
 public:
  explicit RestRegistryStore(std::shared_ptr<RestClient> rest) : rest_(std::move(rest)) {}

  // ---- registered models

  RegisteredModel create_registered_model(const std::string& name,
                                          const std::vector<RegisteredModelTag>& tags,
                                          const std::string& description) override {
    JsonWriter w;
    w.begin_object().key("name").value(name);
    write_tags(w, tags);
    if (!description.empty()) w.key("description").value(description);
    w.end_object();
    return parse_registered_model_response(rest_->call("POST", "/mlflow/registered-models/create", w.take()));
  }

  RegisteredModel get_registered_model(const std::string& name) override {
    return parse_registered_model_response(rest_->get("/mlflow/registered-models/get", {{"name", name}}));
  }

  RegisteredModel rename_registered_model(const std::string& name, const std::string& new_name) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("new_name").value(new_name).end_object();
    return parse_registered_model_response(rest_->call("POST", "/mlflow/registered-models/rename", w.take()));
  }

  RegisteredModel update_registered_model(const std::string& name, const std::string& description) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("description").value(description).end_object();
    return parse_registered_model_response(
        rest_->call("PATCH", "/mlflow/registered-models/update", w.take()));
  }

  void delete_registered_model(const std::string& name) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).end_object();
    send_empty("DELETE", "/mlflow/registered-models/delete", w.take(), "registered-models/delete");
  }

  PagedList<RegisteredModel> search_registered_models(const SearchRegisteredModelsOptions& o) override {
    return parse_search_registered_models(
        rest_->get("/mlflow/registered-models/search",
                   search_query(o.max_results, o.filter_string, o.order_by, o.page_token)));
  }

  void set_registered_model_tag(const std::string& name, const std::string& key,
                                const std::string& value) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("key").value(key).key("value").value(value).end_object();
    send_empty("POST", "/mlflow/registered-models/set-tag", w.take(), "registered-models/set-tag");
  }

  void delete_registered_model_tag(const std::string& name, const std::string& key) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("key").value(key).end_object();
    send_empty("DELETE", "/mlflow/registered-models/delete-tag", w.take(), "registered-models/delete-tag");
  }

  void set_registered_model_alias(const std::string& name, const std::string& alias,
                                  const std::string& version) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("alias").value(alias).key("version").value(version);
    w.end_object();
    send_empty("POST", "/mlflow/registered-models/alias", w.take(), "registered-models/alias");
  }

  void delete_registered_model_alias(const std::string& name, const std::string& alias) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("alias").value(alias).end_object();
    send_empty("DELETE", "/mlflow/registered-models/alias", w.take(), "registered-models/alias");
  }

  ModelVersion get_model_version_by_alias(const std::string& name, const std::string& alias) override {
    return parse_model_version_response(
        rest_->get("/mlflow/registered-models/alias", {{"name", name}, {"alias", alias}}));
  }

  std::vector<ModelVersion> get_latest_versions(const std::string& name,
                                                const std::vector<std::string>& stages) override {
    JsonWriter w;
    w.begin_object().key("name").value(name);
    if (!stages.empty()) write_strings(w, "stages", stages);
    w.end_object();
    return parse_model_versions(
               rest_->call("POST", "/mlflow/registered-models/get-latest-versions", w.take()))
        .items;
  }

  // ---- model versions

  ModelVersion create_model_version(const std::string& name, const std::string& source,
                                    const CreateModelVersionOptions& o) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("source").value(source);
    if (!o.run_id.empty()) w.key("run_id").value(o.run_id);
    write_tags(w, o.tags);
    if (!o.run_link.empty()) w.key("run_link").value(o.run_link);
    if (!o.description.empty()) w.key("description").value(o.description);
    if (!o.model_id.empty()) w.key("model_id").value(o.model_id);
    w.end_object();
    return parse_model_version_response(rest_->call("POST", "/mlflow/model-versions/create", w.take()));
  }

  ModelVersion get_model_version(const std::string& name, const std::string& version) override {
    return parse_model_version_response(
        rest_->get("/mlflow/model-versions/get", {{"name", name}, {"version", version}}));
  }

  ModelVersion update_model_version(const std::string& name, const std::string& version,
                                    const std::string& description) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("version").value(version);
    w.key("description").value(description).end_object();
    return parse_model_version_response(rest_->call("PATCH", "/mlflow/model-versions/update", w.take()));
  }

  void delete_model_version(const std::string& name, const std::string& version) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("version").value(version).end_object();
    send_empty("DELETE", "/mlflow/model-versions/delete", w.take(), "model-versions/delete");
  }

  PagedList<ModelVersion> search_model_versions(const SearchModelVersionsOptions& o) override {
    return parse_model_versions(
        rest_->get("/mlflow/model-versions/search",
                   search_query(o.max_results, o.filter_string, o.order_by, o.page_token)));
  }

  void set_model_version_tag(const std::string& name, const std::string& version, const std::string& key,
                             const std::string& value) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("version").value(version);
    w.key("key").value(key).key("value").value(value).end_object();
    send_empty("POST", "/mlflow/model-versions/set-tag", w.take(), "model-versions/set-tag");
  }

  void delete_model_version_tag(const std::string& name, const std::string& version,
                                const std::string& key) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("version").value(version).key("key").value(key).end_object();
    send_empty("DELETE", "/mlflow/model-versions/delete-tag", w.take(), "model-versions/delete-tag");
  }

  ModelVersion transition_model_version_stage(const std::string& name, const std::string& version,
                                              const std::string& stage,
                                              bool archive_existing_versions) override {
    JsonWriter w;
    w.begin_object().key("name").value(name).key("version").value(version).key("stage").value(stage);
    w.key("archive_existing_versions").value(archive_existing_versions).end_object();
    return parse_model_version_response(
        rest_->call("POST", "/mlflow/model-versions/transition-stage", w.take()));
  }

  std::string get_model_version_download_uri(const std::string& name, const std::string& version) override {
    return parse_download_uri_response(
        rest_->get("/mlflow/model-versions/get-download-uri", {{"name", name}, {"version", version}}));
  }

  std::vector<std::string> list_run_artifact_paths(const std::string& run_id,
                                                   const std::string& path) override {
    return parse_artifact_list_paths(
        rest_->get("/mlflow/artifacts/list", {{"run_id", run_id}, {"path", path}}));
  }

  // ---- logged models

  LoggedModel create_logged_model(const std::string& experiment_id,
                                  const CreateLoggedModelOptions& o) override {
    // The first 100 params go with the creation, the rest through /params; then the model
    // is read again so that it shows them all (as the Python client does).
    const auto first = static_cast<std::ptrdiff_t>(std::min(o.params.size(), kParamsPerRequest));
    JsonWriter w;
    w.begin_object().key("experiment_id").value(experiment_id);
    if (!o.name.empty()) w.key("name").value(o.name);
    if (!o.model_type.empty()) w.key("model_type").value(o.model_type);
    if (!o.source_run_id.empty()) w.key("source_run_id").value(o.source_run_id);
    if (first > 0) write_kvs(w, "params", o.params.begin(), o.params.begin() + first);
    write_tags(w, o.tags);
    w.end_object();
    LoggedModel model = parse_logged_model_response(rest_->call("POST", "/mlflow/logged-models", w.take()));
    if (static_cast<std::size_t>(first) == o.params.size()) return model;
    log_model_params(model.info.model_id,
                     std::vector<LoggedModelParam>(o.params.begin() + first, o.params.end()));
    return get_logged_model(model.info.model_id, false);
  }

  LoggedModel finalize_logged_model(const std::string& model_id, LoggedModelStatus status) override {
    JsonWriter w;
    w.begin_object().key("model_id").value(model_id).key("status").value(to_string(status)).end_object();
    return parse_logged_model_response(rest_->call("PATCH", model_path(model_id), w.take()));
  }

  LoggedModel get_logged_model(const std::string& model_id, bool allow_deleted) override {
    Query q;
    if (allow_deleted) q.emplace_back("allow_deleted", "true");
    return parse_logged_model_response(rest_->get(model_path(model_id), q));
  }

  void delete_logged_model(const std::string& model_id) override {
    JsonWriter w;
    w.begin_object().key("model_id").value(model_id).end_object();
    send_empty("DELETE", model_path(model_id), w.take(), "logged-models/delete");
  }

  PagedList<LoggedModel> search_logged_models(const std::vector<std::string>& experiment_ids,
                                              const SearchLoggedModelsOptions& o) override {
    JsonWriter w;
    w.begin_object();
    write_strings(w, "experiment_ids", experiment_ids);
    if (!o.filter_string.empty()) w.key("filter").value(o.filter_string);
    if (!o.datasets.empty()) {
      w.key("datasets").begin_array();
      for (const auto& d : o.datasets) {
        w.begin_object().key("dataset_name").value(d.dataset_name);
        if (!d.dataset_digest.empty()) w.key("dataset_digest").value(d.dataset_digest);
        w.end_object();
      }
      w.end_array();
    }
    w.key("max_results").value(o.max_results);
    if (!o.order_by.empty()) {
      w.key("order_by").begin_array();
      for (const auto& ob : o.order_by) {
        w.begin_object().key("field_name").value(ob.field_name).key("ascending").value(ob.ascending);
        if (!ob.dataset_name.empty()) w.key("dataset_name").value(ob.dataset_name);
        if (!ob.dataset_digest.empty()) w.key("dataset_digest").value(ob.dataset_digest);
        w.end_object();
      }
      w.end_array();
    }
    if (!o.page_token.empty()) w.key("page_token").value(o.page_token);
    w.end_object();
    return parse_search_logged_models(rest_->call("POST", "/mlflow/logged-models/search", w.take()));
  }

  void set_logged_model_tags(const std::string& model_id, const std::vector<LoggedModelTag>& tags) override {
    JsonWriter w;
    w.begin_object();
    write_kvs(w, "tags", tags.begin(), tags.end());
    w.end_object();
    send_empty("PATCH", model_path(model_id) + "/tags", w.take(), "logged-models/tags");
  }

  void delete_logged_model_tag(const std::string& model_id, const std::string& key) override {
    send_empty("DELETE", model_path(model_id) + "/tags/" + url_encode(key), "{}",
               "logged-models/tags/delete");
  }

  void log_model_params(const std::string& model_id, const std::vector<LoggedModelParam>& params) override {
    for (std::size_t i = 0; i < params.size(); i += kParamsPerRequest) {
      const std::size_t end = std::min(params.size(), i + kParamsPerRequest);
      JsonWriter w;
      w.begin_object().key("model_id").value(model_id);
      write_kvs(w, "params", params.begin() + static_cast<std::ptrdiff_t>(i),
                params.begin() + static_cast<std::ptrdiff_t>(end));
      w.end_object();
      send_empty("POST", model_path(model_id) + "/params", w.take(), "logged-models/params");
    }
  }

  void log_outputs(const std::string& run_id, const std::vector<ModelOutput>& models) override {
    JsonWriter w;
    w.begin_object().key("run_id").value(run_id).key("models").begin_array();
    for (const auto& m : models)
      w.begin_object().key("model_id").value(m.model_id).key("step").value(m.step).end_object();
    w.end_array().end_object();
    send_empty("POST", "/mlflow/runs/outputs", w.take(), "runs/outputs");
  }

 private:
  // The query of the registry's GET searches: max_results, filter, one order_by per clause,
  // page_token.
  static Query search_query(int64_t max_results, const std::string& filter,
                            const std::vector<std::string>& order_by, const std::string& page_token) {
    Query q{{"max_results", std::to_string(max_results)}};
    if (!filter.empty()) q.emplace_back("filter", filter);
    for (const auto& o : order_by) q.emplace_back("order_by", o);
    if (!page_token.empty()) q.emplace_back("page_token", page_token);
    return q;
  }

  // A call whose answer is an empty object; `what` names it in a ParseError.
  void send_empty(const char* method, std::string_view endpoint, std::string body, std::string_view what) {
    parse_empty_response(rest_->call(method, endpoint, std::move(body)), what);
  }

  std::shared_ptr<RestClient> rest_;
};

}  // namespace

std::shared_ptr<RegistryStore> make_rest_registry_store(std::shared_ptr<RestClient> rest) {
  return std::make_shared<RestRegistryStore>(std::move(rest));
}

}  // namespace mlflowpp::detail
