#include <fmt/format.h>

#include "detail/codec/json.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace {

template <typename List>
void write_kv_array(JsonWriter& w, std::string_view name, const List& items) {
  w.key(name).begin_array();
  for (const auto& kv : items)
    w.begin_object().key("key").value(kv.key).key("value").value(kv.value).end_object();
  w.end_array();
}

/// The `order_by` array and `page_token` of a search request (each only when given).
void write_order_and_page(JsonWriter& w, const std::vector<std::string>& order_by,
                          const std::string& page_token) {
  if (!order_by.empty()) {
    w.key("order_by").begin_array();
    for (const auto& s : order_by) w.value(s);
    w.end_array();
  }
  if (!page_token.empty()) w.key("page_token").value(page_token);
}

class RestStore final : public TrackingStore {
 public:
  explicit RestStore(std::shared_ptr<RestClient> rest) : rest_(std::move(rest)) {}

  std::string create_experiment(const std::string& name, const std::string& artifact_location,
                                const std::vector<ExperimentTag>& tags) override {
    JsonWriter w;
    w.begin_object().key("name").value(name);
    if (!artifact_location.empty()) w.key("artifact_location").value(artifact_location);
    if (!tags.empty()) write_kv_array(w, "tags", tags);
    w.end_object();
    return parse_experiment_id_response(rest_->call("POST", "/mlflow/experiments/create", w.take()));
  }

  Experiment get_experiment(const std::string& experiment_id) override {
    return parse_experiment_response(
        rest_->get("/mlflow/experiments/get", {{"experiment_id", experiment_id}}));
  }

  std::optional<Experiment> get_experiment_by_name(const std::string& name) override {
    try {
      return parse_experiment_response(
          rest_->get("/mlflow/experiments/get-by-name", {{"experiment_name", name}}));
    } catch (const ServerError& e) {
      if (e.error_code() == "RESOURCE_DOES_NOT_EXIST") return std::nullopt;
      throw;
    }
  }

  PagedList<Experiment> search_experiments(const SearchExperimentsOptions& o) override {
    JsonWriter w;
    w.begin_object().key("max_results").value(o.max_results);
    w.key("view_type").value(to_string(o.view_type));
    if (!o.filter_string.empty()) w.key("filter").value(o.filter_string);
    write_order_and_page(w, o.order_by, o.page_token);
    w.end_object();
    return parse_search_experiments(rest_->call("POST", "/mlflow/experiments/search", w.take()));
  }

  void rename_experiment(const std::string& id, const std::string& new_name) override {
    post_empty("/mlflow/experiments/update", JsonWriter()
                                                 .begin_object()
                                                 .key("experiment_id")
                                                 .value(id)
                                                 .key("new_name")
                                                 .value(new_name)
                                                 .end_object()
                                                 .take());
  }
  void delete_experiment(const std::string& id) override {
    post_empty("/mlflow/experiments/delete", id_body("experiment_id", id));
  }
  void restore_experiment(const std::string& id) override {
    post_empty("/mlflow/experiments/restore", id_body("experiment_id", id));
  }
  void set_experiment_tag(const std::string& id, const std::string& key, const std::string& value) override {
    post_empty("/mlflow/experiments/set-experiment-tag", JsonWriter()
                                                             .begin_object()
                                                             .key("experiment_id")
                                                             .value(id)
                                                             .key("key")
                                                             .value(key)
                                                             .key("value")
                                                             .value(value)
                                                             .end_object()
                                                             .take());
  }
  void delete_experiment_tag(const std::string& id, const std::string& key) override {
    post_empty(
        "/mlflow/experiments/delete-experiment-tag",
        JsonWriter().begin_object().key("experiment_id").value(id).key("key").value(key).end_object().take());
  }

  Run create_run(const std::string& experiment_id, const std::string& run_name, int64_t start_time,
                 const std::vector<RunTag>& tags, const std::string& user_id) override {
    JsonWriter w;
    w.begin_object().key("experiment_id").value(experiment_id);
    if (!run_name.empty()) w.key("run_name").value(run_name);
    w.key("start_time").value(start_time);
    if (!user_id.empty()) w.key("user_id").value(user_id);
    if (!tags.empty()) write_kv_array(w, "tags", tags);
    w.end_object();
    return parse_run_response(rest_->call("POST", "/mlflow/runs/create", w.take()));
  }

  Run get_run(const std::string& run_id) override {
    return parse_run_response(rest_->get("/mlflow/runs/get", {{"run_id", run_id}}));
  }

  RunInfo update_run(const std::string& run_id, std::optional<RunStatus> status,
                     std::optional<int64_t> end_time, const std::string& run_name) override {
    JsonWriter w;
    w.begin_object().key("run_id").value(run_id).key("run_uuid").value(run_id);
    if (status) w.key("status").value(to_string(*status));
    if (end_time) w.key("end_time").value(*end_time);
    if (!run_name.empty()) w.key("run_name").value(run_name);
    w.end_object();
    return parse_run_info_response(rest_->call("POST", "/mlflow/runs/update", w.take()));
  }

  void delete_run(const std::string& run_id) override {
    post_empty("/mlflow/runs/delete", id_body("run_id", run_id));
  }
  void restore_run(const std::string& run_id) override {
    post_empty("/mlflow/runs/restore", id_body("run_id", run_id));
  }

  PagedList<Run> search_runs(const std::vector<std::string>& experiment_ids,
                             const SearchRunsOptions& o) override {
    JsonWriter w;
    w.begin_object().key("experiment_ids").begin_array();
    for (const auto& id : experiment_ids) w.value(id);
    w.end_array();
    if (!o.filter_string.empty()) w.key("filter").value(o.filter_string);
    w.key("run_view_type").value(to_string(o.run_view_type));
    w.key("max_results").value(o.max_results);
    write_order_and_page(w, o.order_by, o.page_token);
    w.end_object();
    return parse_search_runs(rest_->call("POST", "/mlflow/runs/search", w.take()));
  }

  void log_metric(const std::string& run_id, const Metric& m) override {
    JsonWriter w;
    w.begin_object().key("run_id").value(run_id).key("key").value(m.key).key("value").value(m.value);
    w.key("timestamp").value(m.timestamp).key("step").value(m.step);
    if (!m.dataset_name.empty()) w.key("dataset_name").value(m.dataset_name);
    if (!m.dataset_digest.empty()) w.key("dataset_digest").value(m.dataset_digest);
    if (!m.model_id.empty()) w.key("model_id").value(m.model_id);
    w.end_object();
    post_empty("/mlflow/runs/log-metric", w.take());
  }
  void log_param(const std::string& run_id, const std::string& key, const std::string& value) override {
    post_empty("/mlflow/runs/log-parameter", run_kv(run_id, key, value));
  }
  void set_tag(const std::string& run_id, const std::string& key, const std::string& value) override {
    post_empty("/mlflow/runs/set-tag", run_kv(run_id, key, value));
  }
  void delete_tag(const std::string& run_id, const std::string& key) override {
    post_empty(
        "/mlflow/runs/delete-tag",
        JsonWriter().begin_object().key("run_id").value(run_id).key("key").value(key).end_object().take());
  }
  void log_batch_body(std::string body, const CallHooks* hooks) override {
    parse_empty_response(rest_->call("POST", "/mlflow/runs/log-batch", std::move(body), hooks),
                         "runs/log-batch");
  }

  void log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets) override {
    JsonWriter w;
    w.begin_object().key("run_id").value(run_id).key("datasets").begin_array();
    for (const auto& in : datasets) {
      w.begin_object();
      if (!in.tags.empty()) write_kv_array(w, "tags", in.tags);
      const Dataset& d = in.dataset;
      w.key("dataset").begin_object().key("name").value(d.name).key("digest").value(d.digest);
      w.key("source_type").value(d.source_type).key("source").value(d.source);
      if (!d.schema.empty()) w.key("schema").value(d.schema);
      if (!d.profile.empty()) w.key("profile").value(d.profile);
      w.end_object().end_object();
    }
    w.end_array().end_object();
    post_empty("/mlflow/runs/log-inputs", w.take());
  }

  PagedList<Metric> get_metric_history_page(const std::string& run_id, const std::string& key,
                                            int64_t max_results, const std::string& page_token) override {
    std::vector<std::pair<std::string, std::string>> q{
        {"run_id", run_id}, {"metric_key", key}, {"max_results", std::to_string(max_results)}};
    if (!page_token.empty()) q.emplace_back("page_token", page_token);
    return parse_metric_history(rest_->get("/mlflow/metrics/get-history", q));
  }

 private:
  static std::string id_body(std::string_view name, const std::string& id) {
    return JsonWriter().begin_object().key(name).value(id).end_object().take();
  }
  static std::string run_kv(const std::string& run_id, const std::string& key, const std::string& value) {
    return JsonWriter()
        .begin_object()
        .key("run_id")
        .value(run_id)
        .key("run_uuid")
        .value(run_id)
        .key("key")
        .value(key)
        .key("value")
        .value(value)
        .end_object()
        .take();
  }
  void post_empty(std::string_view endpoint, std::string body) {
    parse_empty_response(rest_->call("POST", endpoint, std::move(body)), endpoint);
  }

  std::shared_ptr<RestClient> rest_;
};

}  // namespace

std::shared_ptr<TrackingStore> make_rest_store(std::shared_ptr<RestClient> rest) {
  return std::make_shared<RestStore>(std::move(rest));
}

}  // namespace mlflowpp::detail
