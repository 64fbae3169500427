// MLflow 3 logged models in the local store, as the pinned MLflow's tracking SqlAlchemyStore
// writes them (mlflow/store/tracking/sqlalchemy_store.py: create_logged_model ...
// search_logged_models, log_outputs): ids "m-<uuid hex>", artifact location
// "<experiment artifact_location>/models/<model_id>/artifacts", status stored as its
// number (PENDING 1, READY 2, FAILED 3), deletion by lifecycle_stage, params write-once.
#include "detail/local/local_logged_models.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/local/database.hpp"
#include "detail/local/local_query.hpp"
#include "detail/local/local_tracking.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail::local {

namespace {

#define LM_COLUMNS                                                                           \
  "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, " \
  "lm.last_updated_timestamp_ms, lm.status, lm.model_type, lm.source_run_id, lm.status_message"

LoggedModel read_row(const sql::Stmt& st) {
  LoggedModel m;
  LoggedModelInfo& i = m.info;
  i.model_id = st.text(0);
  i.experiment_id = std::to_string(st.int64(1));
  i.name = st.text(2);
  i.artifact_uri = st.text(3);
  i.creation_timestamp_ms = st.int64_or(4, 0);
  i.last_updated_timestamp_ms = st.int64_or(5, 0);
  const int64_t status = st.int64_or(6, 0);
  i.status =
      status >= 0 && status <= 3 ? static_cast<LoggedModelStatus>(status) : LoggedModelStatus::kUnspecified;
  i.model_type = st.text(7);
  i.source_run_id = st.text(8);
  i.status_message = st.text(9);
  return m;
}

void fill(sql::Connection& c, LoggedModel& m) {
  const std::string& id = m.info.model_id;
  auto& tags =
      c.cached("SELECT tag_key, tag_value FROM logged_model_tags WHERE model_id = ?1 ORDER BY tag_key");
  tags.bind(1, id);
  while (tags.step()) m.info.tags.push_back({tags.text(0), tags.text(1)});
  tags.reset();
  auto& params = c.cached(
      "SELECT param_key, param_value FROM logged_model_params WHERE model_id = ?1 ORDER BY param_key");
  params.bind(1, id);
  while (params.step()) m.data.params.push_back({params.text(0), params.text(1)});
  params.reset();
  auto& metrics = c.cached(
      "SELECT metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, "
      "dataset_digest "
      "FROM logged_model_metrics WHERE model_id = ?1 ORDER BY metric_name, metric_step, metric_timestamp_ms");
  metrics.bind(1, id);
  while (metrics.step()) {
    Metric x;
    x.key = metrics.text(0);
    x.value = metrics.real(1);
    x.timestamp = metrics.int64(2);
    x.step = metrics.int64(3);
    x.run_id = metrics.text(4);
    x.dataset_name = metrics.text(5);
    x.dataset_digest = metrics.text(6);
    x.model_id = id;
    m.data.metrics.push_back(std::move(x));
  }
  metrics.reset();
}

/// The model's experiment id; RESOURCE_DOES_NOT_EXIST when there is no such model (deleted
/// ones included, as MLflow's `_get_logged_model_record`).
int64_t require_model(sql::Connection& c, const std::string& model_id) {
  auto& st = c.cached("SELECT experiment_id FROM logged_models WHERE model_id = ?1");
  st.bind(1, model_id);
  if (!st.step()) {
    st.reset();
    throw_not_found(fmt::format("Logged model with ID '{}' not found.", model_id));
  }
  const int64_t e = st.int64(0);
  st.reset();
  return e;
}

void insert_param(sql::Connection& c, const std::string& model_id, int64_t experiment_id,
                  const LoggedModelParam& p) {
  try {
    c.cached(
         "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?1, ?2, "
         "?3, ?4)")
        .bind(1, model_id)
        .bind(2, experiment_id)
        .bind(3, p.key)
        .bind(4, p.value)
        .run();
  } catch (const sql::SqliteError& e) {
    if (!e.is_unique_violation()) throw;
    throw_bad_request(fmt::format("Param '{}' of logged model '{}' is already logged (params are write-once)",
                                  p.key, model_id));
  }
}

void upsert_tag(sql::Connection& c, const std::string& model_id, int64_t experiment_id,
                const LoggedModelTag& t) {
  c.cached(
       "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value")
      .bind(1, model_id)
      .bind(2, experiment_id)
      .bind(3, t.key)
      .bind(4, t.value)
      .run();
}

/// `SELECT model_id, metric_value` of the latest row of metric `name` per model (highest
/// step, then timestamp, then value), within `datasets` when given.
void append_latest_metric(Query& q, const std::string& name,
                          const std::vector<LoggedModelSearchDataset>& datasets,
                          const std::vector<int64_t>& eids) {
  q.add(
       "SELECT model_id, metric_value FROM (SELECT model_id, metric_value, row_number() OVER (PARTITION BY "
       "model_id, metric_name ORDER BY metric_step DESC, metric_timestamp_ms DESC, metric_value DESC) AS rn "
       "FROM logged_model_metrics WHERE metric_name = ?")
      .bind(name);
  q.add(" AND model_id IN (SELECT model_id FROM logged_models WHERE experiment_id IN (");
  for (std::size_t i = 0; i < eids.size(); ++i) q.add(i ? ", ?" : "?").bind(eids[i]);
  q.add("))");
  if (!datasets.empty()) {
    q.add(" AND (");
    for (std::size_t i = 0; i < datasets.size(); ++i) {
      q.add(i ? " OR (dataset_name = ?" : "(dataset_name = ?").bind(datasets[i].dataset_name);
      if (!datasets[i].dataset_digest.empty())
        q.add(" AND dataset_digest = ?").bind(datasets[i].dataset_digest);
      q.add(")");
    }
    q.add(")");
  }
  q.add(") WHERE rn = 1");
}

}  // namespace

LoggedModel logged_model_create(sql::Connection& c, const std::string& experiment_id,
                                const CreateLoggedModelOptions& o) {
  const int64_t eid = parse_experiment_id(experiment_id);
  const Experiment experiment = require_experiment(c, eid);
  check_experiment_active(experiment);
  std::string location = experiment.artifact_location;
  const std::string model_id = "m-" + new_uuid_hex();
  while (!location.empty() && location.back() == '/') location.pop_back();
  const std::string artifact_location = location + "/models/" + model_id + "/artifacts";
  const int64_t now = local_now_ms();
  auto& ins = c.cached(
      "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
      "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, 'active', ?6, ?7, NULL)");
  ins.bind(1, model_id)
      .bind(2, eid)
      .bind(3, o.name.empty() ? random_run_name() : o.name)
      .bind(4, artifact_location);
  ins.bind(5, now);
  if (o.model_type.empty())
    ins.bind_null(6);
  else
    ins.bind(6, o.model_type);
  if (o.source_run_id.empty())
    ins.bind_null(7);
  else
    ins.bind(7, o.source_run_id);
  ins.run();
  for (const auto& p : o.params) insert_param(c, model_id, eid, p);
  for (const auto& t : o.tags) upsert_tag(c, model_id, eid, t);
  return logged_model_get(c, model_id, false);
}

LoggedModel logged_model_finalize(sql::Connection& c, const std::string& model_id, LoggedModelStatus status) {
  require_model(c, model_id);
  c.cached("UPDATE logged_models SET status = ?1, last_updated_timestamp_ms = ?2 WHERE model_id = ?3")
      .bind(1, static_cast<int64_t>(status))
      .bind(2, local_now_ms())
      .bind(3, model_id)
      .run();
  return logged_model_get(c, model_id, true);
}

LoggedModel logged_model_get(sql::Connection& c, const std::string& model_id, bool allow_deleted) {
  auto& st =
      c.cached("SELECT " LM_COLUMNS ", lm.lifecycle_stage FROM logged_models lm WHERE lm.model_id = ?1");
  st.bind(1, model_id);
  if (!st.step() || (!allow_deleted && st.text(10) == "deleted")) {
    st.reset();
    throw_not_found(fmt::format("Logged model with ID '{}' not found.", model_id));
  }
  LoggedModel m = read_row(st);
  st.reset();
  fill(c, m);
  return m;
}

void logged_model_delete(sql::Connection& c, const std::string& model_id) {
  require_model(c, model_id);
  c.cached(
       "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ?1 WHERE model_id "
       "= ?2")
      .bind(1, local_now_ms())
      .bind(2, model_id)
      .run();
}

void logged_model_set_tags(sql::Connection& c, const std::string& model_id,
                           const std::vector<LoggedModelTag>& tags) {
  const int64_t eid = require_model(c, model_id);
  for (const auto& t : tags) upsert_tag(c, model_id, eid, t);
}

void logged_model_link_version(sql::Connection& c, const std::string& model_id, const std::string& name,
                               const std::string& version) {
  // What MLflow's server does after create-model-version with a model_id
  // (AbstractStore.set_model_versions_tags): the `mlflow.modelVersions` tag of the logged
  // model lists every {name, version} registered from it, as a JSON array.
  const int64_t eid = require_model(c, model_id);
  std::vector<std::pair<std::string, std::string>> entries;
  {
    auto& st = c.cached("SELECT tag_value FROM logged_model_tags WHERE model_id = ?1 AND tag_key = ?2");
    st.bind(1, model_id).bind(2, "mlflow.modelVersions");
    const std::string existing = st.step() ? st.text(0) : std::string();
    st.reset();
    if (!existing.empty()) {
      simdjson::dom::array arr;
      if (jsonread::thread_parser().parse(existing).get_array().get(arr) == simdjson::SUCCESS)
        for (simdjson::dom::element e : arr) {
          simdjson::dom::object o;
          if (e.get_object().get(o) == simdjson::SUCCESS)
            entries.emplace_back(jsonread::get_string(o, "name"), jsonread::get_string(o, "version"));
        }
    }
  }
  if (std::find(entries.begin(), entries.end(), std::make_pair(name, version)) == entries.end())
    entries.emplace_back(name, version);
  JsonWriter w;
  w.begin_array();
  for (const auto& [n, v] : entries)
    w.begin_object().key("name").value(n).key("version").value(v).end_object();
  w.end_array();
  upsert_tag(c, model_id, eid, LoggedModelTag{"mlflow.modelVersions", w.take()});
}

void logged_model_delete_tag(sql::Connection& c, const std::string& model_id, const std::string& key) {
  require_model(c, model_id);
  const int64_t n = c.cached("DELETE FROM logged_model_tags WHERE model_id = ?1 AND tag_key = ?2")
                        .bind(1, model_id)
                        .bind(2, key)
                        .run();
  if (n == 0)
    throw_not_found(fmt::format("No tag with key '{}' found for model with ID '{}'.", key, model_id));
}

void logged_model_log_params(sql::Connection& c, const std::string& model_id,
                             const std::vector<LoggedModelParam>& params) {
  const int64_t eid = require_model(c, model_id);
  for (const auto& p : params) insert_param(c, model_id, eid, p);
}

void log_model_outputs(sql::Connection& c, const std::string& run_id,
                       const std::vector<ModelOutput>& models) {
  require_active_run(c, run_id);
  for (const auto& m : models) {
    try {
      c.cached(
           "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) "
           "VALUES (?1, 'RUN_OUTPUT', ?2, 'MODEL_OUTPUT', ?3, ?4)")
          .bind(1, new_uuid_hex())
          .bind(2, run_id)
          .bind(3, m.model_id)
          .bind(4, m.step)
          .run();
    } catch (const sql::SqliteError& e) {
      if (!e.is_unique_violation()) throw;
      throw_bad_request(fmt::format("Model '{}' is already an output of run '{}'", m.model_id, run_id));
    }
  }
}

PagedList<LoggedModel> logged_model_search(sql::Connection& c, const std::vector<std::string>& experiment_ids,
                                           const SearchLoggedModelsOptions& o) {
  std::string experiments_in;
  std::vector<int64_t> eids;
  for (const auto& e : experiment_ids) {
    eids.push_back(parse_experiment_id(e));
    experiments_in += experiments_in.empty() ? "?" : ", ?";
  }
  auto bind_experiments = [&](Query& q) {
    for (int64_t e : eids) q.bind(e);
  };
  const auto clauses = parse_filter(o.filter_string);
  Query joins, where;
  bool has_metric_filters = false;
  where.add(" WHERE lm.lifecycle_stage != 'deleted' AND lm.experiment_id IN (").add(experiments_in).add(")");
  bind_experiments(where);
  for (const auto& f : clauses) {
    if (f.type == "attribute") {
      static const std::array<const char*, 8> kColumns{"model_id",
                                                       "name",
                                                       "model_type",
                                                       "source_run_id",
                                                       "status_message",
                                                       "status",
                                                       "creation_timestamp_ms",
                                                       "last_updated_timestamp_ms"};
      std::string key = f.key;
      if (key == "creation_time" || key == "creation_timestamp") key = "creation_timestamp_ms";
      if (key == "last_updated_timestamp") key = "last_updated_timestamp_ms";
      if (std::find(kColumns.begin(), kColumns.end(), key) == kColumns.end())
        throw_invalid(fmt::format("Invalid attribute key '{}' in the logged model filter", f.key));
      where.add(" AND ");
      if (key == "status") {
        if (f.comparator != "=" && f.comparator != "!=" && f.comparator != "IN" && f.comparator != "NOT IN")
          throw_invalid(fmt::format("Invalid comparison operator for status: {}", f.comparator));
        FilterClause numbers = f;
        auto to_number = [](std::string& v) {
          const char* names[] = {"UNSPECIFIED", "PENDING", "READY", "FAILED"};
          auto it = std::find(std::begin(names), std::end(names), v);
          if (it == std::end(names)) throw_invalid(fmt::format("Unknown model status in filter: '{}'", v));
          v = std::to_string(it - std::begin(names));
        };
        if (numbers.value.kind == FilterValue::Kind::kList)
          for (auto& v : numbers.value.list) to_number(v);
        else
          to_number(numbers.value.text);
        append_comparison(where, "lm.status", numbers, true);
      } else {
        append_comparison(where, "lm." + key, f, key.find("timestamp") != std::string::npos);
      }
    } else if (f.type == "metric") {
      has_metric_filters = true;
      where.add(" AND lm.model_id IN (SELECT model_id FROM (");
      append_latest_metric(where, f.key, o.datasets, eids);
      where.add(") WHERE ");
      append_comparison(where, "metric_value", f, true);
      where.add(")");
    } else {
      const bool param = f.type == "param";
      where
          .add(param
                   ? " AND lm.model_id IN (SELECT model_id FROM logged_model_params WHERE param_key = ? AND "
                   : " AND lm.model_id IN (SELECT model_id FROM logged_model_tags WHERE tag_key = ? AND ")
          .bind(f.key);
      append_comparison(where, param ? "param_value" : "tag_value", f, false);
      where.add(")");
    }
  }
  if (!o.datasets.empty() && !has_metric_filters) {
    where.add(" AND lm.model_id IN (SELECT model_id FROM logged_model_metrics WHERE ");
    for (std::size_t i = 0; i < o.datasets.size(); ++i) {
      where.add(i ? " OR (dataset_name = ?" : "(dataset_name = ?").bind(o.datasets[i].dataset_name);
      if (!o.datasets[i].dataset_digest.empty())
        where.add(" AND dataset_digest = ?").bind(o.datasets[i].dataset_digest);
      where.add(")");
    }
    where.add(")");
  }

  std::string order_sql;
  bool has_creation = false, has_model_id = false;
  int n_metric = 0;
  for (const auto& ob : o.order_by) {
    std::string name = ob.field_name;
    if (name.find('.') == std::string::npos) {
      if (name == "creation_time" || name == "creation_timestamp") name = "creation_timestamp_ms";
      if (name == "last_updated_timestamp") name = "last_updated_timestamp_ms";
      static const std::array<const char*, 10> kColumns{"model_id",
                                                        "experiment_id",
                                                        "name",
                                                        "artifact_location",
                                                        "creation_timestamp_ms",
                                                        "last_updated_timestamp_ms",
                                                        "status",
                                                        "lifecycle_stage",
                                                        "model_type",
                                                        "source_run_id"};
      if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end())
        throw_invalid(fmt::format("Invalid order by field name: {}", ob.field_name));
      has_creation = has_creation || name == "creation_timestamp_ms";
      has_model_id = has_model_id || name == "model_id";
      order_sql += fmt::format("{}(lm.{} IS NULL) ASC, lm.{} {}", order_sql.empty() ? " ORDER BY " : ", ",
                               name, name, ob.ascending ? "ASC" : "DESC");
      continue;
    }
    const auto dot = name.find('.');
    if (name.substr(0, dot) != "metrics")
      throw_invalid(
          fmt::format("Invalid order by field name: {}. Only metrics are supported.", ob.field_name));
    const std::string alias = fmt::format("om{}", n_metric++);
    std::vector<LoggedModelSearchDataset> ds = o.datasets;
    joins.add(" LEFT JOIN (");
    if (!ob.dataset_name.empty()) ds = {{ob.dataset_name, ob.dataset_digest}};
    append_latest_metric(joins, name.substr(dot + 1), ds, eids);
    joins.add(") AS ").add(alias).add(" ON ").add(alias).add(".model_id = lm.model_id");
    order_sql +=
        fmt::format("{}({}.metric_value IS NULL) ASC, {}.metric_value {}",
                    order_sql.empty() ? " ORDER BY " : ", ", alias, alias, ob.ascending ? "ASC" : "DESC");
  }
  if (!has_creation)
    order_sql += (order_sql.empty() ? " ORDER BY " : ", ") + std::string("lm.creation_timestamp_ms DESC");
  if (!has_model_id) order_sql += ", lm.model_id ASC";

  const int64_t offset = parse_page_token(o.page_token);
  const int64_t max_results = o.max_results > 0 ? o.max_results : 100;
  Query q;
  q.add("SELECT " LM_COLUMNS " FROM logged_models lm").add(joins.sql);
  q.binds = joins.binds;
  q.add(where.sql);
  q.binds.insert(q.binds.end(), where.binds.begin(), where.binds.end());
  q.add(order_sql).add(" LIMIT ? OFFSET ?").bind(max_results + 1).bind(offset);

  PagedList<LoggedModel> page;
  {
    auto st = q.prepare(c);
    while (st->step()) page.items.push_back(read_row(*st));
  }
  if (static_cast<int64_t>(page.items.size()) > max_results) {
    page.items.resize(static_cast<std::size_t>(max_results));
    page.next_page_token = make_page_token(offset + max_results);
  }
  for (auto& m : page.items) fill(c, m);
  return page;
}

}  // namespace mlflowpp::detail::local
