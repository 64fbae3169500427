// The local registry store (local_registry.hpp): MLflow's model registry over the embedded
// SQLite database (ADR 0008), with the semantics of the pinned MLflow's model-registry
// SqlAlchemyStore (mlflow/store/model_registry/sqlalchemy_store.py). Registered models and
// aliases live here; model versions in local_registry_versions.cpp; logged models in
// local_logged_model_store.cpp; the filter grammar in local_filter.cpp, the SQL builder and
// page tokens in local_query.cpp.
// The Client has validated the arguments (registry_store.hpp); each method is one
// transaction.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>

#include "detail/local/database.hpp"
#include "detail/local/local_common.hpp"
#include "detail/local/local_query.hpp"
#include "detail/local/local_registry.hpp"
#include "detail/local/local_registry_versions.hpp"
#include "detail/local/local_stores.hpp"

namespace mlflowpp::detail {

std::shared_ptr<RegistryStore> make_local_registry_store(std::shared_ptr<LocalDatabase> db) {
  return std::make_shared<local::LocalRegistryStore>(std::move(db));
}

namespace local {

namespace {

/// How a tag row `t` belongs to the searched row.
constexpr std::string_view kModelTagJoin = "t.workspace = rm.workspace AND t.name = rm.name";

constexpr const char* kPromptTag = "mlflow.prompt.is_prompt";

RegisteredModel read_model_row(const sql::Stmt& st) {
  RegisteredModel m;
  m.name = st.text(0);
  m.creation_timestamp = st.int64_or(1, 0);
  m.last_updated_timestamp = st.int64_or(2, 0);
  m.description = st.text(3);
  return m;
}

/// Tags, aliases and the latest version per stage of `m` (whose name and row are read).
void fill_model(sql::Connection& c, RegisteredModel& m) {
  auto& tags = c.cached(
      "SELECT \"key\", value FROM registered_model_tags WHERE workspace = ?1 AND name = ?2 "
      "ORDER BY \"key\"");
  tags.bind(1, kWorkspace).bind(2, m.name);
  while (tags.step()) m.tags.push_back({tags.text(0), tags.text(1)});
  tags.reset();
  auto& aliases = c.cached(
      "SELECT alias, version FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2 "
      "ORDER BY alias");
  aliases.bind(1, kWorkspace).bind(2, m.name);
  while (aliases.step()) m.aliases.push_back({aliases.text(0), std::to_string(aliases.int64(1))});
  aliases.reset();
  m.latest_versions = latest_versions(c, m.name, false);
}

RegisteredModel load_model(sql::Connection& c, const std::string& name) {
  auto& st = c.cached(
      "SELECT name, creation_time, last_updated_time, description FROM registered_models "
      "WHERE workspace = ?1 AND name = ?2");
  st.bind(1, kWorkspace).bind(2, name);
  if (!st.step()) {
    st.reset();
    throw_not_found(fmt::format("Registered Model with name={} not found", name));
  }
  RegisteredModel m = read_model_row(st);
  st.reset();
  fill_model(c, m);
  return m;
}

bool model_exists(sql::Connection& c, const std::string& name) {
  auto& st = c.cached("SELECT 1 FROM registered_models WHERE workspace = ?1 AND name = ?2");
  st.bind(1, kWorkspace).bind(2, name);
  const bool found = st.step();
  st.reset();
  return found;
}

void upsert_model_tag(sql::Connection& c, const std::string& name, const std::string& key,
                      const std::string& value) {
  c.cached(
       "INSERT INTO registered_model_tags (workspace, \"key\", name, value) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT (workspace, \"key\", name) DO UPDATE SET value = excluded.value")
      .bind(1, kWorkspace)
      .bind(2, key)
      .bind(3, name)
      .bind(4, value)
      .run();
}

/// A local folder from a run's artifact_uri (a path or a file: URI); "" for other schemes.
std::string local_folder(const std::string& uri) {
  if (uri.rfind("file://", 0) == 0) return uri.substr(7);
  if (uri.rfind("file:", 0) == 0) return uri.substr(5);
  if (uri.find("://") != std::string::npos || uri.rfind("mlflow-artifacts:", 0) == 0) return {};
  return uri;
}

}  // namespace

RegisteredModel LocalRegistryStore::create_registered_model(const std::string& name,
                                                            const std::vector<RegisteredModelTag>& tags,
                                                            const std::string& description) {
  return db_->write([&](sql::Connection& c) {
    if (model_exists(c, name)) throw_exists(fmt::format("Registered Model (name={}) already exists.", name));
    const int64_t now = local_now_ms();
    auto& st = c.cached(
        "INSERT INTO registered_models (workspace, name, creation_time, last_updated_time, "
        "description) VALUES (?1, ?2, ?3, ?3, ?4)");
    st.bind(1, kWorkspace).bind(2, name).bind(3, now);
    if (description.empty())
      st.bind_null(4);
    else
      st.bind(4, description);
    st.run();
    for (const auto& t : tags) upsert_model_tag(c, name, t.key, t.value);
    return load_model(c, name);
  });
}

RegisteredModel LocalRegistryStore::get_registered_model(const std::string& name) {
  return db_->read([&](sql::Connection& c) { return load_model(c, name); });
}

RegisteredModel LocalRegistryStore::rename_registered_model(const std::string& name,
                                                            const std::string& new_name) {
  return db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    if (new_name != name && model_exists(c, new_name))
      throw_exists(fmt::format("Registered Model (name={}) already exists.", new_name));
    const int64_t now = local_now_ms();
    // The foreign keys (ON UPDATE CASCADE) carry versions, version tags, model tags and
    // aliases over to the new name.
    c.cached(
         "UPDATE registered_models SET name = ?1, last_updated_time = ?2 WHERE workspace = ?3 AND name = "
         "?4")
        .bind(1, new_name)
        .bind(2, now)
        .bind(3, kWorkspace)
        .bind(4, name)
        .run();
    c.cached("UPDATE model_versions SET last_updated_time = ?1 WHERE workspace = ?2 AND name = ?3")
        .bind(1, now)
        .bind(2, kWorkspace)
        .bind(3, new_name)
        .run();
    return load_model(c, new_name);
  });
}

RegisteredModel LocalRegistryStore::update_registered_model(const std::string& name,
                                                            const std::string& description) {
  return db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    c.cached(
         "UPDATE registered_models SET description = ?1, last_updated_time = ?2 WHERE workspace = ?3 "
         "AND name = ?4")
        .bind(1, description)
        .bind(2, local_now_ms())
        .bind(3, kWorkspace)
        .bind(4, name)
        .run();
    return load_model(c, name);
  });
}

void LocalRegistryStore::delete_registered_model(const std::string& name) {
  db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    // MLflow's ORM cascade: versions (with their tags), tags, aliases, then the model.
    for (const char* sql : {"DELETE FROM model_version_tags WHERE workspace = ?1 AND name = ?2",
                            "DELETE FROM model_versions WHERE workspace = ?1 AND name = ?2",
                            "DELETE FROM registered_model_tags WHERE workspace = ?1 AND name = ?2",
                            "DELETE FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2",
                            "DELETE FROM registered_models WHERE workspace = ?1 AND name = ?2"})
      c.cached(sql).bind(1, kWorkspace).bind(2, name).run();
  });
}

PagedList<RegisteredModel> LocalRegistryStore::search_registered_models(
    const SearchRegisteredModelsOptions& o) {
  const auto clauses = parse_filter(o.filter_string);
  Query q;
  q.add(
       "SELECT name, creation_time, last_updated_time, description FROM registered_models rm "
       "WHERE rm.workspace = ?")
      .bind(std::string(kWorkspace));
  bool querying_prompts = false;
  for (const auto& f : clauses)
    if (f.type == "tag" && f.key == kPromptTag)
      querying_prompts = (f.comparator == "=" && lower(f.value.text) == "true") ||
                         (f.comparator == "!=" && lower(f.value.text) == "false");
  for (const auto& f : clauses) {
    if (f.type == "attribute") {
      if (f.key != "name") throw_invalid(fmt::format("Invalid attribute name: {}", f.key));
      if (f.comparator == "<" || f.comparator == "<=" || f.comparator == ">" || f.comparator == ">=")
        throw_invalid(fmt::format("Invalid comparator for attribute: {}", f.comparator));
      q.add(" AND ");
      append_comparison(q, "rm.name", f, false);
    } else if (f.type == "tag") {
      if (!querying_prompts && f.key == kPromptTag) continue;
      append_tag_exists(q, "registered_model_tags", kModelTagJoin, f);
    } else {
      throw_invalid(
          fmt::format("Invalid token type: {} (registered models filter on name and tags)", f.type));
    }
  }
  if (!querying_prompts) append_not_prompt(q, "registered_model_tags", kModelTagJoin);

  std::string order_sql;
  bool by_name = false, by_time = false;
  for (const auto& clause : o.order_by) {
    const OrderClause ob = parse_order_by(clause);
    if (ob.type != "attribute") throw_invalid(fmt::format("Invalid order by key '{}' specified.", clause));
    std::string column;
    if (ob.key == "name") {
      if (by_name) throw_invalid(fmt::format("`order_by` contains duplicate fields: {}", clause));
      by_name = true;
      column = "rm.name";
    } else if (ob.key == "timestamp" || ob.key == "last_updated_timestamp") {
      if (by_time) throw_invalid(fmt::format("`order_by` contains duplicate fields: {}", clause));
      by_time = true;
      column = "rm.last_updated_time";
    } else {
      throw_invalid(fmt::format(
          "Invalid order by key '{}' specified.Valid keys are '{{'name', 'timestamp'}}'", ob.key));
    }
    order_sql += (order_sql.empty() ? " ORDER BY " : ", ") + column + (ob.ascending ? " ASC" : " DESC");
  }
  if (!by_name) order_sql += (order_sql.empty() ? " ORDER BY " : ", ") + std::string("rm.name ASC");
  q.add(order_sql);
  const int64_t offset = parse_page_token(o.page_token);
  q.add(" LIMIT ? OFFSET ?").bind(o.max_results + 1).bind(offset);

  return db_->read([&](sql::Connection& c) {
    PagedList<RegisteredModel> page;
    {
      auto st = q.prepare(c);
      while (st->step()) page.items.push_back(read_model_row(*st));
    }
    if (static_cast<int64_t>(page.items.size()) > o.max_results) {
      page.items.resize(static_cast<std::size_t>(o.max_results));
      page.next_page_token = make_page_token(offset + o.max_results);
    }
    for (auto& m : page.items) fill_model(c, m);
    return page;
  });
}

void LocalRegistryStore::set_registered_model_tag(const std::string& name, const std::string& key,
                                                  const std::string& value) {
  db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    upsert_model_tag(c, name, key, value);
  });
}

void LocalRegistryStore::delete_registered_model_tag(const std::string& name, const std::string& key) {
  db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    c.cached("DELETE FROM registered_model_tags WHERE workspace = ?1 AND \"key\" = ?2 AND name = ?3")
        .bind(1, kWorkspace)
        .bind(2, key)
        .bind(3, name)
        .run();
  });
}

void LocalRegistryStore::set_registered_model_alias(const std::string& name, const std::string& alias,
                                                    const std::string& version) {
  db_->write([&](sql::Connection& c) {
    const int64_t v = parse_version(version);
    load_version(c, name, v, false);  // the version must exist (and not be deleted)
    c.cached(
         "INSERT INTO registered_model_aliases (workspace, name, alias, version) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version")
        .bind(1, kWorkspace)
        .bind(2, name)
        .bind(3, alias)
        .bind(4, v)
        .run();
  });
}

void LocalRegistryStore::delete_registered_model_alias(const std::string& name, const std::string& alias) {
  db_->write([&](sql::Connection& c) {
    require_registered_model(c, name);
    c.cached("DELETE FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2 AND alias = ?3")
        .bind(1, kWorkspace)
        .bind(2, name)
        .bind(3, alias)
        .run();
  });
}

ModelVersion LocalRegistryStore::get_model_version_by_alias(const std::string& name,
                                                            const std::string& alias) {
  return db_->read([&](sql::Connection& c) {
    require_registered_model(c, name);
    if (lower(alias) == "latest") {
      auto latest = latest_versions(c, name, true);
      if (latest.empty()) throw_not_found(fmt::format("Latest version not found for model {}.", name));
      return *std::max_element(latest.begin(), latest.end(),
                               [](const ModelVersion& a, const ModelVersion& b) {
                                 return std::stoll(a.version) < std::stoll(b.version);
                               });
    }
    auto& st = c.cached(
        "SELECT version FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2 "
        "AND alias = ?3");
    st.bind(1, kWorkspace).bind(2, name).bind(3, alias);
    if (!st.step()) {
      st.reset();
      throw_invalid(fmt::format("Registered model alias {} not found.", alias));
    }
    const int64_t v = st.int64(0);
    st.reset();
    return load_version(c, name, v, true);
  });
}

std::vector<ModelVersion> LocalRegistryStore::get_latest_versions(const std::string& name,
                                                                  const std::vector<std::string>& stages) {
  std::vector<std::string> wanted;
  for (const auto& s : stages) wanted.push_back(canonical_stage(s));
  return db_->read([&](sql::Connection& c) {
    require_registered_model(c, name);
    std::vector<ModelVersion> out;
    for (auto& v : latest_versions(c, name, true))
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), v.current_stage) != wanted.end())
        out.push_back(std::move(v));
    return out;
  });
}

ModelVersion LocalRegistryStore::create_model_version(const std::string& name, const std::string& source,
                                                      const CreateModelVersionOptions& o) {
  return db_->write([&](sql::Connection& c) { return create_version(c, name, source, o); });
}

ModelVersion LocalRegistryStore::get_model_version(const std::string& name, const std::string& version) {
  const int64_t v = parse_version(version);
  return db_->read([&](sql::Connection& c) { return load_version(c, name, v, true); });
}

ModelVersion LocalRegistryStore::update_model_version(const std::string& name, const std::string& version,
                                                      const std::string& description) {
  return db_->write([&](sql::Connection& c) { return update_version(c, name, version, description); });
}

void LocalRegistryStore::delete_model_version(const std::string& name, const std::string& version) {
  db_->write([&](sql::Connection& c) { delete_version(c, name, version); });
}

PagedList<ModelVersion> LocalRegistryStore::search_model_versions(const SearchModelVersionsOptions& o) {
  return db_->read([&](sql::Connection& c) { return search_versions(c, o); });
}

void LocalRegistryStore::set_model_version_tag(const std::string& name, const std::string& version,
                                               const std::string& key, const std::string& value) {
  db_->write([&](sql::Connection& c) { set_version_tag(c, name, version, key, value); });
}

void LocalRegistryStore::delete_model_version_tag(const std::string& name, const std::string& version,
                                                  const std::string& key) {
  db_->write([&](sql::Connection& c) { delete_version_tag(c, name, version, key); });
}

ModelVersion LocalRegistryStore::transition_model_version_stage(const std::string& name,
                                                                const std::string& version,
                                                                const std::string& stage,
                                                                bool archive_existing_versions) {
  return db_->write([&](sql::Connection& c) {
    return transition_stage(c, name, version, stage, archive_existing_versions);
  });
}

std::string LocalRegistryStore::get_model_version_download_uri(const std::string& name,
                                                               const std::string& version) {
  return db_->read([&](sql::Connection& c) { return download_uri(c, name, version); });
}

std::vector<std::string> LocalRegistryStore::list_run_artifact_paths(const std::string& run_id,
                                                                     const std::string& path) {
  const std::string artifact_uri = db_->read([&](sql::Connection& c) {
    auto& st = c.cached("SELECT artifact_uri FROM runs WHERE run_uuid = ?1");
    st.bind(1, run_id);
    if (!st.step()) {
      st.reset();
      throw_not_found(fmt::format("Run with id={} not found", run_id));
    }
    std::string uri = st.text(0);
    st.reset();
    return uri;
  });
  const std::string root = local_folder(artifact_uri);
  if (root.empty())
    throw_invalid(
        fmt::format("the artifacts of run {} are not in a local folder ('{}')", run_id, artifact_uri));
  if (path.find("..") != std::string::npos) throw_invalid(fmt::format("Invalid artifact path: '{}'", path));
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = path.empty() ? fs::path(root) : fs::path(root) / fs::u8path(path);
  std::vector<std::string> out;
  if (!fs::is_directory(dir, ec)) return out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().u8string();
    out.push_back(path.empty() ? entry : path + "/" + entry);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace local
}  // namespace mlflowpp::detail
