// The local tracking store: runs, params, tags and dataset inputs (SqlAlchemyStore's
// create_run, get_run, update_run_info, delete/restore_run, log_param, set_tag, delete_tag,
// log_inputs).
#include <fmt/format.h>

#include <limits>
#include <map>

#include "detail/local/local_tracking.hpp"
#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local {

RunInfo run_info_from(const sql::Stmt& st, int first) {
  RunInfo r;
  r.run_id = st.text(first);
  r.run_name = st.text(first + 1);
  r.experiment_id = std::to_string(st.int64(first + 2));
  r.user_id = st.text(first + 3);
  r.status = run_status_from_string(st.text(first + 4)).value_or(RunStatus::kRunning);
  r.start_time = st.int64_or(first + 5, 0);
  if (!st.is_null(first + 6)) r.end_time = st.int64(first + 6);
  r.artifact_uri = st.text(first + 7);
  r.lifecycle_stage = st.text(first + 8);
  return r;
}

RunInfo require_run_info(sql::Connection& c, const std::string& run_id) {
  auto& st = c.cached(
      "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, "
      "lifecycle_stage FROM runs WHERE run_uuid = ?1");
  st.bind(1, run_id);
  if (!st.step()) {
    st.reset();
    throw_run_not_found(run_id);
  }
  RunInfo r = run_info_from(st);
  st.reset();
  return r;
}

void check_run_active(const RunInfo& info) { check_run_stage_active(info.run_id, info.lifecycle_stage); }

void load_run_data(sql::Connection& c, Run& run) {
  const std::string& id = run.info.run_id;
  auto& m = c.cached(
      "SELECT key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid = ?1 ORDER BY key");
  m.bind(1, id);
  while (m.step()) {
    Metric x;
    x.key = m.text(0);
    x.value = m.int64(4) ? std::numeric_limits<double>::quiet_NaN() : m.real(1);
    x.timestamp = m.int64_or(2, 0);
    x.step = m.int64(3);
    run.data.metrics.push_back(std::move(x));
  }
  m.reset();
  auto& p = c.cached("SELECT key, value FROM params WHERE run_uuid = ?1 ORDER BY key");
  p.bind(1, id);
  while (p.step()) run.data.params.push_back({p.text(0), p.text(1)});
  p.reset();
  auto& t = c.cached("SELECT key, value FROM tags WHERE run_uuid = ?1 ORDER BY key");
  t.bind(1, id);
  while (t.step()) run.data.tags.push_back({t.text(0), t.text(1)});
  t.reset();
  // Dataset inputs (_get_run_inputs): one entry per dataset, with its input's tags.
  auto& in = c.cached(
      "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, "
      "d.dataset_profile, t.name, t.value FROM inputs i JOIN datasets d ON i.source_id = d.dataset_uuid "
      "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
      "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ?1 "
      "ORDER BY i.rowid, t.rowid");
  in.bind(1, id);
  std::map<std::string, std::size_t> index;
  while (in.step()) {
    const std::string input_uuid = in.text(0);
    auto it = index.find(input_uuid);
    if (it == index.end()) {
      DatasetInput d;
      d.dataset = {in.text(1), in.text(2), in.text(3), in.text(4), in.text(5), in.text(6)};
      it = index.emplace(input_uuid, run.inputs.dataset_inputs.size()).first;
      run.inputs.dataset_inputs.push_back(std::move(d));
    }
    if (!in.is_null(7)) run.inputs.dataset_inputs[it->second].tags.push_back({in.text(7), in.text(8)});
  }
  in.reset();
  // Model inputs and outputs (MLflow 3): rows of `inputs` linking the run and logged models.
  auto& mi = c.cached(
      "SELECT destination_id FROM inputs WHERE source_type = 'RUN_INPUT' AND source_id = ?1 "
      "AND destination_type = 'MODEL_INPUT' ORDER BY rowid");
  mi.bind(1, id);
  while (mi.step()) run.inputs.model_ids.push_back(mi.text(0));
  mi.reset();
  auto& mo = c.cached(
      "SELECT destination_id, step FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = ?1 "
      "AND destination_type = 'MODEL_OUTPUT' ORDER BY rowid");
  mo.bind(1, id);
  while (mo.step()) run.outputs.model_outputs.push_back({mo.text(0), mo.int64(1)});
  mo.reset();
}

Run load_run(sql::Connection& c, const std::string& run_id) {
  Run r;
  r.info = require_run_info(c, run_id);
  load_run_data(c, r);
  return r;
}

void upsert_run_tag(sql::Connection& c, const std::string& run_id, std::string_view key,
                    std::string_view value) {
  auto& t = c.cached(
      "INSERT INTO tags (key, value, run_uuid) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value");
  t.bind(1, key).bind(2, value).bind(3, run_id).run();
  if (key == kRunNameTag) {
    auto& n = c.cached("UPDATE runs SET name = ?1 WHERE run_uuid = ?2");
    n.bind(1, value).bind(2, run_id).run();
  }
}

Run LocalTrackingStore::create_run(const std::string& experiment_id, const std::string& run_name,
                                   int64_t start_time, const std::vector<RunTag>& tags,
                                   const std::string& user_id) {
  const int64_t exp_id = parse_experiment_id(experiment_id.empty() ? "0" : experiment_id);
  // As SqlAlchemyStore.create_run: the first mlflow.runName tag names the run; an empty one
  // counts as absent (`run_name or run_name_tag or _generate_random_name()`), and the tag is
  // then written with the run's name (`if not run_name_tag: tags.append(...)`). Two tags
  // with one key are refused, as MLflow's INSERT of the run's tags fails on them.
  std::string tag_name;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j)
      if (tags[j].key == tags[i].key)
        throw_bad_request(fmt::format(
            "Duplicate tag key '{}' in create_run (UNIQUE constraint failed: tags.key, tags.run_uuid)",
            tags[i].key));
    if (tags[i].key == kRunNameTag) tag_name = tags[i].value;
  }
  if (!run_name.empty() && !tag_name.empty() && run_name != tag_name)
    throw_invalid(fmt::format(
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
        "(run_name='{}', mlflow.runName='{}').",
        run_name, tag_name));
  const std::string name = !run_name.empty() ? run_name : !tag_name.empty() ? tag_name : random_run_name();
  return db_->write([&](sql::Connection& c) {
    const Experiment x = require_experiment(c, exp_id);
    check_experiment_active(x);
    const std::string run_id = new_uuid_hex();
    std::string location = x.artifact_location;
    std::string query;
    if (auto q = location.find('?'); q != std::string::npos && location.find("://") != std::string::npos) {
      query = location.substr(q);
      location.resize(q);
    }
    while (!location.empty() && location.back() == '/') location.pop_back();
    const std::string artifact_uri = location + "/" + run_id + "/artifacts" + query;
    auto& ins = c.cached(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
        "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
        "VALUES (?1, ?2, 'UNKNOWN', '', '', ?3, 'RUNNING', ?4, NULL, '', 'active', ?5, ?6, NULL)");
    ins.bind(1, run_id)
        .bind(2, name)
        .bind(3, user_id)
        .bind(4, start_time)
        .bind(5, artifact_uri)
        .bind(6, exp_id);
    ins.run();
    for (const auto& t : tags)
      if (t.key != kRunNameTag) upsert_run_tag(c, run_id, t.key, t.value);
    upsert_run_tag(c, run_id, kRunNameTag, name);
    return load_run(c, run_id);
  });
}

Run LocalTrackingStore::get_run(const std::string& run_id) {
  return db_->read([&](sql::Connection& c) { return load_run(c, run_id); });
}

RunInfo LocalTrackingStore::update_run(const std::string& run_id, std::optional<RunStatus> status,
                                       std::optional<int64_t> end_time, const std::string& run_name) {
  return db_->write([&](sql::Connection& c) {
    check_run_active(require_run_info(c, run_id));
    if (status) {
      auto& s = c.cached("UPDATE runs SET status = ?1 WHERE run_uuid = ?2");
      s.bind(1, to_string(*status)).bind(2, run_id).run();
    }
    if (end_time) {
      auto& e = c.cached("UPDATE runs SET end_time = ?1 WHERE run_uuid = ?2");
      e.bind(1, *end_time).bind(2, run_id).run();
    }
    if (!run_name.empty()) upsert_run_tag(c, run_id, kRunNameTag, run_name);
    return require_run_info(c, run_id);
  });
}

void LocalTrackingStore::delete_run(const std::string& run_id) {
  db_->write([&](sql::Connection& c) {
    require_run_info(c, run_id);
    auto& d = c.cached("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1 WHERE run_uuid = ?2");
    d.bind(1, local_now_ms()).bind(2, run_id).run();
  });
}

void LocalTrackingStore::restore_run(const std::string& run_id) {
  db_->write([&](sql::Connection& c) {
    require_run_info(c, run_id);
    auto& d = c.cached("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = ?1");
    d.bind(1, run_id).run();
  });
}

void LocalTrackingStore::log_param(const std::string& run_id, const std::string& key,
                                   const std::string& value) {
  db_->write([&](sql::Connection& c) {
    require_active_run(c, run_id);
    auto& sel = c.cached("SELECT value FROM params WHERE run_uuid = ?1 AND key = ?2");
    sel.bind(1, run_id).bind(2, key);
    if (sel.step()) {
      const std::string old = sel.text(0);
      sel.reset();
      if (old != value)
        throw_invalid(fmt::format(
            "Changing param values is not allowed. Param with key='{}' was already logged with value='{}' "
            "for run ID='{}'. Attempted logging new value '{}'.",
            key, old, run_id, value));
      return;
    }
    sel.reset();
    auto& ins = c.cached("INSERT INTO params (key, value, run_uuid) VALUES (?1, ?2, ?3)");
    ins.bind(1, key).bind(2, value).bind(3, run_id).run();
  });
}

void LocalTrackingStore::set_tag(const std::string& run_id, const std::string& key,
                                 const std::string& value) {
  db_->write([&](sql::Connection& c) {
    require_active_run(c, run_id);
    upsert_run_tag(c, run_id, key, value);
  });
}

void LocalTrackingStore::delete_tag(const std::string& run_id, const std::string& key) {
  db_->write([&](sql::Connection& c) {
    require_active_run(c, run_id);
    auto& d = c.cached("DELETE FROM tags WHERE run_uuid = ?1 AND key = ?2");
    if (d.bind(1, run_id).bind(2, key).run() == 0)
      throw_not_found(fmt::format("No tag with name: {} in run with id {}", key, run_id));
  });
}

void LocalTrackingStore::log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets) {
  // Dedupe by (name, digest), keeping the first occurrence (_log_inputs_impl).
  std::vector<const DatasetInput*> unique;
  for (const auto& d : datasets) {
    bool seen = false;
    for (const auto* u : unique)
      seen = seen || (u->dataset.name == d.dataset.name && u->dataset.digest == d.dataset.digest);
    if (!seen) unique.push_back(&d);
  }
  db_->write([&](sql::Connection& c) {
    const RunInfo info = require_run_info(c, run_id);
    check_run_active(info);
    const int64_t exp_id = parse_experiment_id(info.experiment_id);
    for (const auto* in : unique) {
      const Dataset& d = in->dataset;
      std::string dataset_uuid;
      auto& find = c.cached(
          "SELECT dataset_uuid FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3");
      find.bind(1, exp_id).bind(2, d.name).bind(3, d.digest);
      if (find.step()) dataset_uuid = find.text(0);
      find.reset();
      if (dataset_uuid.empty()) {
        dataset_uuid = new_uuid_hex();
        auto& ins = c.cached(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, "
            "dataset_source, dataset_schema, dataset_profile) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        ins.bind(1, dataset_uuid).bind(2, exp_id).bind(3, d.name).bind(4, d.digest).bind(5, d.source_type);
        ins.bind(6, d.source);
        if (d.schema.empty())
          ins.bind_null(7);
        else
          ins.bind(7, d.schema);
        if (d.profile.empty())
          ins.bind_null(8);
        else
          ins.bind(8, d.profile);
        ins.run();
      }
      auto& has = c.cached(
          "SELECT 1 FROM inputs WHERE source_type = 'DATASET' AND source_id = ?1 AND destination_type = "
          "'RUN' "
          "AND destination_id = ?2");
      has.bind(1, dataset_uuid).bind(2, run_id);
      const bool linked = has.step();
      has.reset();
      if (linked) continue;
      const std::string input_uuid = new_uuid_hex();
      auto& link = c.cached(
          "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) "
          "VALUES (?1, 'DATASET', ?2, 'RUN', ?3, 0)");
      link.bind(1, input_uuid).bind(2, dataset_uuid).bind(3, run_id).run();
      auto& tag = c.cached(
          "INSERT INTO input_tags (input_uuid, name, value) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value");
      for (const auto& t : in->tags) tag.bind(1, input_uuid).bind(2, t.key).bind(3, t.value).run();
    }
  });
}

}  // namespace mlflowpp::detail::local
