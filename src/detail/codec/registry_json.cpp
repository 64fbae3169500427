#include "detail/codec/registry_json.hpp"

#include "detail/codec/json_read.hpp"

namespace mlflowpp::detail {

using namespace jsonread;

namespace {

// An enum field given by name or by number; `fallback` when absent or unknown.
template <typename Enum, typename FromName>
Enum read_enum(dom::object o, std::string_view key, Enum fallback, int64_t lo, int64_t hi,
               FromName&& from_name) {
  dom::element e;
  if (!field(o, key, e)) return fallback;
  std::string_view name;
  if (!e.get(name)) return from_name(std::string(name)).value_or(fallback);
  int64_t n = to_int64(e, -1);
  if (n >= lo && n <= hi) return static_cast<Enum>(n);
  return fallback;
}

std::vector<std::string> get_string_list(dom::object o, std::string_view key) {
  std::vector<std::string> out;
  dom::array arr;
  if (!get_array(o, key, arr)) return out;
  for (dom::element e : arr) {
    std::string_view s;
    if (!e.get(s)) out.emplace_back(s);
  }
  return out;
}

ModelVersion read_model_version(dom::object o) {
  ModelVersion v;
  v.name = get_string(o, "name");
  v.version = get_string(o, "version");
  v.creation_timestamp = get_int64(o, "creation_timestamp");
  v.last_updated_timestamp = get_int64(o, "last_updated_timestamp");
  v.user_id = get_string(o, "user_id");
  v.current_stage = get_string(o, "current_stage");
  v.description = get_string(o, "description");
  v.source = get_string(o, "source");
  v.run_id = get_string(o, "run_id");
  // MLflow always sends the status; a registry that leaves it out has nothing to wait for,
  // so an absent status reads as READY.
  v.status = read_enum(o, "status", ModelVersionStatus::kReady, 1, 3, model_version_status_from_string);
  v.status_message = get_string(o, "status_message");
  v.tags = get_kv_list<ModelVersionTag>(o, "tags");
  v.run_link = get_string(o, "run_link");
  v.aliases = get_string_list(o, "aliases");
  v.model_id = get_string(o, "model_id");
  v.model_params = get_list<ModelParam>(o, "model_params", [](dom::object p) {
    return ModelParam{get_string(p, "name"), get_string(p, "value")};
  });
  v.model_metrics = get_list<Metric>(o, "model_metrics", read_metric);
  return v;
}

RegisteredModel read_registered_model(dom::object o) {
  RegisteredModel m;
  m.name = get_string(o, "name");
  m.creation_timestamp = get_int64(o, "creation_timestamp");
  m.last_updated_timestamp = get_int64(o, "last_updated_timestamp");
  m.user_id = get_string(o, "user_id");
  m.description = get_string(o, "description");
  m.latest_versions = get_list<ModelVersion>(o, "latest_versions", read_model_version);
  m.tags = get_kv_list<RegisteredModelTag>(o, "tags");
  m.aliases = get_list<RegisteredModelAlias>(o, "aliases", [](dom::object a) {
    return RegisteredModelAlias{get_string(a, "alias"), get_string(a, "version")};
  });
  m.deployment_job_id = get_string(o, "deployment_job_id");
  return m;
}

LoggedModel read_logged_model(dom::object o) {
  LoggedModel m;
  dom::object sub;
  if (get_object(o, "info", sub)) {
    LoggedModelInfo& i = m.info;
    i.model_id = get_string(sub, "model_id");
    i.experiment_id = get_string(sub, "experiment_id");
    i.name = get_string(sub, "name");
    i.creation_timestamp_ms = get_int64(sub, "creation_timestamp_ms");
    i.last_updated_timestamp_ms = get_int64(sub, "last_updated_timestamp_ms");
    i.artifact_uri = get_string(sub, "artifact_uri");
    i.status =
        read_enum(sub, "status", LoggedModelStatus::kUnspecified, 0, 3, logged_model_status_from_string);
    i.creator_id = get_int64(sub, "creator_id");
    i.model_type = get_string(sub, "model_type");
    i.source_run_id = get_string(sub, "source_run_id");
    i.status_message = get_string(sub, "status_message");
    i.tags = get_kv_list<LoggedModelTag>(sub, "tags");
    i.registrations = get_list<LoggedModelRegistration>(sub, "registrations", [](dom::object r) {
      return LoggedModelRegistration{get_string(r, "name"), get_string(r, "version")};
    });
  }
  if (get_object(o, "data", sub)) {
    m.data.params = get_kv_list<LoggedModelParam>(sub, "params");
    m.data.metrics = get_list<Metric>(sub, "metrics", read_metric);
  }
  return m;
}

}  // namespace

RegisteredModel parse_registered_model_response(const std::string& body) {
  auto obj = parse_object(body, "registered model");
  return read_registered_model(require_object(obj, "registered_model", "registered model"));
}

PagedList<RegisteredModel> parse_search_registered_models(const std::string& body) {
  auto obj = parse_object(body, "registered-models/search");
  return {get_list<RegisteredModel>(obj, "registered_models", read_registered_model),
          get_string(obj, "next_page_token")};
}

ModelVersion parse_model_version_response(const std::string& body) {
  auto obj = parse_object(body, "model version");
  return read_model_version(require_object(obj, "model_version", "model version"));
}

PagedList<ModelVersion> parse_model_versions(const std::string& body) {
  auto obj = parse_object(body, "model versions");
  return {get_list<ModelVersion>(obj, "model_versions", read_model_version),
          get_string(obj, "next_page_token")};
}

std::string parse_download_uri_response(const std::string& body) {
  auto obj = parse_object(body, "model-versions/get-download-uri");
  dom::element e;
  if (!field(obj, "artifact_uri", e)) parse_fail("model-versions/get-download-uri", "no artifact_uri");
  return get_string(obj, "artifact_uri");
}

LoggedModel parse_logged_model_response(const std::string& body) {
  auto obj = parse_object(body, "logged model");
  return read_logged_model(require_object(obj, "model", "logged model"));
}

PagedList<LoggedModel> parse_search_logged_models(const std::string& body) {
  auto obj = parse_object(body, "logged-models/search");
  return {get_list<LoggedModel>(obj, "models", read_logged_model), get_string(obj, "next_page_token")};
}

std::vector<std::string> parse_artifact_list_paths(const std::string& body) {
  auto obj = parse_object(body, "artifacts/list");
  return get_list<std::string>(obj, "files", [](dom::object f) { return get_string(f, "path"); });
}

}  // namespace mlflowpp::detail
