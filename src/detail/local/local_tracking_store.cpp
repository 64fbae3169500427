// The local tracking store: experiments, and the factory. Semantics of the pinned MLflow's
// SqlAlchemyStore (create_experiment, get_experiment, rename, delete/restore, tags).
#include <fmt/format.h>

#include <cctype>
#include <filesystem>

#include "detail/local/local_stores.hpp"
#include "detail/local/local_tracking.hpp"
#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail {

std::shared_ptr<TrackingStore> make_local_tracking_store(std::shared_ptr<LocalDatabase> db) {
  return std::make_shared<local::LocalTrackingStore>(std::move(db));
}

namespace local {

namespace {

/// RESOURCE_ALREADY_EXISTS, in the words of MLflow's IntegrityError, when an experiment other
/// than `except_id` (-1: none) has `name`, deleted ones included (names stay taken).
void require_name_free(sql::Connection& c, const std::string& name, int64_t except_id) {
  auto& dup =
      c.cached("SELECT 1 FROM experiments WHERE workspace = 'default' AND name = ?1 AND experiment_id != ?2");
  dup.bind(1, name).bind(2, except_id);
  const bool exists = dup.step();
  dup.reset();
  if (exists)
    throw_exists(fmt::format(
        "Experiment(name={}) already exists. Error: UNIQUE constraint failed: experiments.workspace, "
        "experiments.name",
        name));
}

/// resolve_uri_if_local: a relative local path (no scheme) becomes absolute.
std::string resolve_if_local(const std::string& location) {
  const auto colon = location.find(':');
  const bool has_scheme =
      colon != std::string::npos && colon > 1 && location.find_first_of("/\\") > colon;  // "s3:", "file:" ...
  if (has_scheme) return location;
  std::error_code ec;
  std::filesystem::path p(location);
  if (p.is_absolute()) return location;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? location : abs.lexically_normal().string();
}

}  // namespace

std::optional<Experiment> load_experiment(sql::Connection& c, int64_t id) {
  auto& st = c.cached(
      "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time "
      "FROM experiments WHERE experiment_id = ?1");
  st.bind(1, id);
  if (!st.step()) {
    st.reset();
    return std::nullopt;
  }
  Experiment x;
  x.experiment_id = std::to_string(st.int64(0));
  x.name = st.text(1);
  x.artifact_location = st.text(2);
  x.lifecycle_stage = st.text(3);
  x.creation_time = st.int64_or(4, 0);
  x.last_update_time = st.int64_or(5, 0);
  st.reset();
  auto& tags = c.cached("SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key");
  tags.bind(1, id);
  while (tags.step()) x.tags.push_back({tags.text(0), tags.text(1)});
  tags.reset();
  return x;
}

Experiment require_experiment(sql::Connection& c, int64_t id) {
  auto x = load_experiment(c, id);
  if (!x) throw_not_found(fmt::format("No Experiment with id={} exists", id));
  return std::move(*x);
}

void check_experiment_active(const Experiment& e) {
  if (e.lifecycle_stage != "active")
    throw_invalid(fmt::format("The experiment {} must be in the 'active' state. Current state is {}.",
                              e.experiment_id, e.lifecycle_stage));
}

std::string LocalTrackingStore::create_experiment(const std::string& name,
                                                  const std::string& artifact_location,
                                                  const std::vector<ExperimentTag>& tags) {
  if (name.find_first_not_of(" \t\n\r\f\v") == std::string::npos)
    throw_invalid(fmt::format("Invalid experiment name: '{}'", name));
  const std::string location =
      artifact_location.empty() ? std::string() : resolve_if_local(artifact_location);
  return db_->write([&](sql::Connection& c) {
    require_name_free(c, name, -1);
    const int64_t now = local_now_ms();
    auto& ins = c.cached(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time, "
        "workspace) VALUES (?1, ?2, 'active', ?3, ?3, 'default')");
    ins.bind(1, name);
    if (location.empty())
      ins.bind_null(2);
    else
      ins.bind(2, location);
    ins.bind(3, now).run();
    const int64_t id = c.last_insert_rowid();
    if (location.empty()) {
      auto& upd = c.cached("UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2");
      upd.bind(1, db_->target().artifact_root + "/" + std::to_string(id)).bind(2, id).run();
    }
    auto& tag = c.cached(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key, experiment_id) DO UPDATE SET value = excluded.value");
    for (const auto& t : tags) tag.bind(1, t.key).bind(2, t.value).bind(3, id).run();
    return std::to_string(id);
  });
}

Experiment LocalTrackingStore::get_experiment(const std::string& experiment_id) {
  const int64_t id = parse_experiment_id(experiment_id.empty() ? "0" : experiment_id);
  return db_->read([&](sql::Connection& c) { return require_experiment(c, id); });
}

std::optional<Experiment> LocalTrackingStore::get_experiment_by_name(const std::string& name) {
  return db_->read([&](sql::Connection& c) -> std::optional<Experiment> {
    auto& st = c.cached("SELECT experiment_id FROM experiments WHERE workspace = 'default' AND name = ?1");
    st.bind(1, name);
    if (!st.step()) {
      st.reset();
      return std::nullopt;
    }
    const int64_t id = st.int64(0);
    st.reset();
    return load_experiment(c, id);
  });
}

void LocalTrackingStore::rename_experiment(const std::string& experiment_id, const std::string& new_name) {
  if (new_name.find_first_not_of(" \t\n\r\f\v") == std::string::npos)
    throw_invalid(fmt::format("Invalid experiment name: '{}'", new_name));
  const int64_t id = parse_experiment_id(experiment_id);
  db_->write([&](sql::Connection& c) {
    const Experiment x = require_experiment(c, id);
    if (x.lifecycle_stage != "active") throw_invalid_state("Cannot rename a non-active experiment.");
    require_name_free(c, new_name, id);
    auto& upd = c.cached("UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3");
    upd.bind(1, new_name).bind(2, local_now_ms()).bind(3, id).run();
  });
}

void LocalTrackingStore::delete_experiment(const std::string& experiment_id) {
  const int64_t id = parse_experiment_id(experiment_id);
  db_->write([&](sql::Connection& c) {
    auto x = load_experiment(c, id);
    if (!x || x->lifecycle_stage != "active")
      throw_not_found(fmt::format("No Experiment with id={} exists", id));
    const int64_t now = local_now_ms();
    auto& upd = c.cached(
        "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ?1 WHERE experiment_id = ?2");
    upd.bind(1, now).bind(2, id).run();
    auto& runs =
        c.cached("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1 WHERE experiment_id = ?2");
    runs.bind(1, now).bind(2, id).run();
  });
}

void LocalTrackingStore::restore_experiment(const std::string& experiment_id) {
  const int64_t id = parse_experiment_id(experiment_id);
  db_->write([&](sql::Connection& c) {
    auto x = load_experiment(c, id);
    if (!x || x->lifecycle_stage != "deleted")
      throw_not_found(fmt::format("No Experiment with id={} exists", id));
    auto& upd = c.cached(
        "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ?1 WHERE experiment_id = ?2");
    upd.bind(1, local_now_ms()).bind(2, id).run();
    auto& runs =
        c.cached("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = ?1");
    runs.bind(1, id).run();
  });
}

void LocalTrackingStore::set_experiment_tag(const std::string& experiment_id, const std::string& key,
                                            const std::string& value) {
  const int64_t id = parse_experiment_id(experiment_id);
  db_->write([&](sql::Connection& c) {
    check_experiment_active(require_experiment(c, id));
    auto& tag = c.cached(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key, experiment_id) DO UPDATE SET value = excluded.value");
    tag.bind(1, key).bind(2, value).bind(3, id).run();
  });
}

void LocalTrackingStore::delete_experiment_tag(const std::string& experiment_id, const std::string& key) {
  const int64_t id = parse_experiment_id(experiment_id);
  db_->write([&](sql::Connection& c) {
    check_experiment_active(require_experiment(c, id));
    auto& del = c.cached("DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2");
    if (del.bind(1, id).bind(2, key).run() == 0)
      throw_not_found(fmt::format("No tag with name: {} in experiment with id {}", key, experiment_id));
  });
}

}  // namespace local
}  // namespace mlflowpp::detail
