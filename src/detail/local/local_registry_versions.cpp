// Model versions of the local registry store, as the pinned MLflow's model-registry
// SqlAlchemyStore writes and reads them (mlflow/store/model_registry/sqlalchemy_store.py):
// numbers are max+1 per model (deleted versions included), versions are READY at once,
// deletion redacts the row (stage Deleted_Internal) and keeps its tags.
#include "detail/local/local_registry_versions.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "detail/local/database.hpp"
#include "detail/local/local_common.hpp"
#include "detail/local/local_logged_models.hpp"
#include "detail/local/local_query.hpp"

namespace mlflowpp::detail::local {

namespace {

/// How a tag row `t` belongs to the searched row.
constexpr std::string_view kVersionTagJoin =
    "t.workspace = mv.workspace AND t.name = mv.name AND t.version = mv.version";

constexpr const char* kPromptTag = "mlflow.prompt.is_prompt";

// The columns read_version expects, in order.
#define MV_COLUMNS                                                                                 \
  "name, version, creation_time, last_updated_time, description, user_id, current_stage, source, " \
  "run_id, status, status_message, run_link"

ModelVersion read_version(const sql::Stmt& st) {
  ModelVersion v;
  v.name = st.text(0);
  v.version = std::to_string(st.int64(1));
  v.creation_timestamp = st.int64_or(2, 0);
  v.last_updated_timestamp = st.int64_or(3, 0);
  v.description = st.text(4);
  v.user_id = st.text(5);
  v.current_stage = st.text(6);
  v.source = st.text(7);
  v.run_id = st.text(8);
  v.status = model_version_status_from_string(st.text(9)).value_or(ModelVersionStatus::kReady);
  v.status_message = st.text(10);
  v.run_link = st.text(11);
  return v;
}

std::vector<ModelVersionTag> version_tags(sql::Connection& c, const std::string& name, int64_t version) {
  auto& st = c.cached(
      "SELECT \"key\", value FROM model_version_tags WHERE workspace = ?1 AND name = ?2 AND version = ?3 "
      "ORDER BY \"key\"");
  st.bind(1, kWorkspace).bind(2, name).bind(3, version);
  std::vector<ModelVersionTag> out;
  while (st.step()) out.push_back({st.text(0), st.text(1)});
  st.reset();
  return out;
}

std::vector<std::string> version_aliases(sql::Connection& c, const std::string& name, int64_t version) {
  auto& st = c.cached(
      "SELECT alias FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2 AND version = ?3 "
      "ORDER BY alias");
  st.bind(1, kWorkspace).bind(2, name).bind(3, version);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  st.reset();
  return out;
}

void fill(sql::Connection& c, ModelVersion& v, bool with_aliases) {
  const int64_t n = std::stoll(v.version);
  v.tags = version_tags(c, v.name, n);
  if (with_aliases) v.aliases = version_aliases(c, v.name, n);
}

void check_version_exists(sql::Connection& c, const std::string& name, int64_t version) {
  auto& st = c.cached(
      "SELECT 1 FROM model_versions WHERE workspace = ?1 AND name = ?2 AND version = ?3 AND current_stage != "
      "?4");
  st.bind(1, kWorkspace).bind(2, name).bind(3, version).bind(4, kStageDeleted);
  const bool found = st.step();
  st.reset();
  if (!found) throw_not_found(fmt::format("Model Version (name={}, version={}) not found", name, version));
}

}  // namespace

std::string canonical_stage(const std::string& stage) {
  for (const char* s : {"None", "Staging", "Production", "Archived"})
    if (lower(stage) == lower(s)) return s;
  throw_invalid(fmt::format(
      "Invalid Model Version stage: {}. Value must be one of None, Staging, Production, Archived.", stage));
}

int64_t parse_version(const std::string& version) {
  if (version.empty() || version.size() > 18 ||
      !std::all_of(version.begin(), version.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    throw_invalid(fmt::format("Parameter 'version' must be an integer, got '{}'.", version));
  return std::stoll(version);
}

void require_registered_model(sql::Connection& c, const std::string& name) {
  auto& st = c.cached("SELECT 1 FROM registered_models WHERE workspace = ?1 AND name = ?2");
  st.bind(1, kWorkspace).bind(2, name);
  const bool found = st.step();
  st.reset();
  if (!found) throw_not_found(fmt::format("Registered Model with name={} not found", name));
}

void touch_registered_model(sql::Connection& c, const std::string& name, int64_t now) {
  c.cached("UPDATE registered_models SET last_updated_time = ?1 WHERE workspace = ?2 AND name = ?3")
      .bind(1, now)
      .bind(2, kWorkspace)
      .bind(3, name)
      .run();
}

ModelVersion load_version(sql::Connection& c, const std::string& name, int64_t version, bool with_aliases) {
  auto& st = c.cached("SELECT " MV_COLUMNS
                      " FROM model_versions WHERE workspace = ?1 AND name = ?2 AND version = ?3 "
                      "AND current_stage != ?4");
  st.bind(1, kWorkspace).bind(2, name).bind(3, version).bind(4, kStageDeleted);
  if (!st.step()) {
    st.reset();
    throw_not_found(fmt::format("Model Version (name={}, version={}) not found", name, version));
  }
  ModelVersion v = read_version(st);
  st.reset();
  fill(c, v, with_aliases);
  return v;
}

std::vector<ModelVersion> latest_versions(sql::Connection& c, const std::string& name, bool with_aliases) {
  auto& st = c.cached("SELECT " MV_COLUMNS
                      " FROM model_versions WHERE workspace = ?1 AND name = ?2 AND current_stage != ?3 "
                      "ORDER BY version");
  st.bind(1, kWorkspace).bind(2, name).bind(3, kStageDeleted);
  // The newest version per stage, stages in the order they first appear (as MLflow's dict).
  std::vector<ModelVersion> out;
  std::map<std::string, std::size_t> at;
  while (st.step()) {
    ModelVersion v = read_version(st);
    auto it = at.find(v.current_stage);
    if (it == at.end()) {
      at.emplace(v.current_stage, out.size());
      out.push_back(std::move(v));
    } else {
      out[it->second] = std::move(v);
    }
  }
  st.reset();
  for (auto& v : out) fill(c, v, with_aliases);
  return out;
}

// ---- operations

ModelVersion create_version(sql::Connection& c, const std::string& name, const std::string& source,
                            const CreateModelVersionOptions& o) {
  std::string run_id = o.run_id;
  std::string storage_location = source;
  // A `models:/` source is resolved to where the files are, as MLflow's store does.
  if (source.rfind("models:/", 0) == 0) {
    const std::string rest = source.substr(8);
    const auto slash = rest.find('/');
    bool resolved = false;
    if (!rest.empty() && slash == std::string::npos && rest.find('@') == std::string::npos) {
      auto& st = c.cached(
          "SELECT artifact_location, source_run_id FROM logged_models WHERE model_id = ?1 "
          "AND lifecycle_stage != 'deleted'");
      st.bind(1, rest);
      if (st.step()) {
        storage_location = st.text(0);
        if (run_id.empty()) run_id = st.text(1);
        resolved = true;
      }
      st.reset();
    } else if (slash != std::string::npos && slash > 0 && slash + 1 < rest.size() &&
               rest.find('/', slash + 1) == std::string::npos) {
      const std::string suffix = rest.substr(slash + 1);
      if (std::all_of(suffix.begin(), suffix.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        storage_location = download_uri(c, rest.substr(0, slash), suffix);
        resolved = true;
      }
    }
    if (!resolved)
      throw_invalid(
          fmt::format("Unable to fetch model from model URI source artifact location '{}'.", source));
  }
  if (run_id.empty() && !o.model_id.empty()) {
    auto& st = c.cached(
        "SELECT source_run_id FROM logged_models WHERE model_id = ?1 AND lifecycle_stage != 'deleted'");
    st.bind(1, o.model_id);
    const bool found = st.step();
    if (found) run_id = st.text(0);
    st.reset();
    if (!found) throw_not_found(fmt::format("Logged model with ID '{}' not found.", o.model_id));
  }

  require_registered_model(c, name);
  const int64_t now = local_now_ms();
  touch_registered_model(c, name, now);
  auto& mx =
      c.cached("SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE workspace = ?1 AND name = ?2");
  mx.bind(1, kWorkspace).bind(2, name);
  mx.step();
  const int64_t version = mx.int64(0) + 1;
  mx.reset();

  auto& ins = c.cached(
      "INSERT INTO model_versions (workspace, name, version, creation_time, last_updated_time, description, "
      "user_id, current_stage, source, run_id, status, status_message, run_link, storage_location) "
      "VALUES (?1, ?2, ?3, ?4, ?4, ?5, NULL, 'None', ?6, ?7, 'READY', NULL, ?8, ?9)");
  ins.bind(1, kWorkspace).bind(2, name).bind(3, version).bind(4, now);
  if (o.description.empty())
    ins.bind_null(5);
  else
    ins.bind(5, o.description);
  ins.bind(6, source);
  if (run_id.empty())
    ins.bind_null(7);
  else
    ins.bind(7, run_id);
  if (o.run_link.empty())
    ins.bind_null(8);
  else
    ins.bind(8, o.run_link);
  ins.bind(9, storage_location);
  ins.run();
  for (const auto& t : o.tags) set_version_tag(c, name, std::to_string(version), t.key, t.value);
  if (!o.model_id.empty()) logged_model_link_version(c, o.model_id, name, std::to_string(version));
  return load_version(c, name, version, true);
}

ModelVersion update_version(sql::Connection& c, const std::string& name, const std::string& version,
                            const std::string& description) {
  const int64_t v = parse_version(version);
  check_version_exists(c, name, v);
  c.cached(
       "UPDATE model_versions SET description = ?1, last_updated_time = ?2 WHERE workspace = ?3 AND name = "
       "?4 "
       "AND version = ?5")
      .bind(1, description)
      .bind(2, local_now_ms())
      .bind(3, kWorkspace)
      .bind(4, name)
      .bind(5, v)
      .run();
  return load_version(c, name, v, true);
}

void delete_version(sql::Connection& c, const std::string& name, const std::string& version) {
  const int64_t v = parse_version(version);
  check_version_exists(c, name, v);
  const int64_t now = local_now_ms();
  touch_registered_model(c, name, now);
  c.cached("DELETE FROM registered_model_aliases WHERE workspace = ?1 AND name = ?2 AND version = ?3")
      .bind(1, kWorkspace)
      .bind(2, name)
      .bind(3, v)
      .run();
  // MLflow keeps the row (so the number is never reused) and its tags, redacted.
  c.cached(
       "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2, description = NULL, "
       "user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', "
       "run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE workspace = ?3 AND name = ?4 AND version "
       "= ?5")
      .bind(1, kStageDeleted)
      .bind(2, now)
      .bind(3, kWorkspace)
      .bind(4, name)
      .bind(5, v)
      .run();
}

PagedList<ModelVersion> search_versions(sql::Connection& c, const SearchModelVersionsOptions& o) {
  const auto clauses = parse_filter(o.filter_string);
  Query q;
  q.add("SELECT " MV_COLUMNS " FROM model_versions mv WHERE mv.workspace = ?").bind(std::string(kWorkspace));
  q.add(" AND mv.current_stage != ?").bind(std::string(kStageDeleted));
  bool querying_prompts = false;
  for (const auto& f : clauses)
    if (f.type == "tag" && f.key == kPromptTag)
      querying_prompts = (f.comparator == "=" && lower(f.value.text) == "true") ||
                         (f.comparator == "!=" && lower(f.value.text) == "false");
  for (const auto& f : clauses) {
    if (f.type == "attribute") {
      static const std::map<std::string, std::string> kColumns{{"name", "mv.name"},
                                                               {"run_id", "mv.run_id"},
                                                               {"source_path", "mv.source"},
                                                               {"version_number", "mv.version"}};
      auto it = kColumns.find(f.key);
      if (it == kColumns.end()) throw_invalid(fmt::format("Invalid attribute name: {}", f.key));
      const bool numeric = f.key == "version_number";
      if (numeric) {
        if (f.comparator == "LIKE" || f.comparator == "ILIKE")
          throw_invalid(fmt::format("Invalid comparator for attribute {}: {}", f.key, f.comparator));
      } else if (f.comparator == "<" || f.comparator == "<=" || f.comparator == ">" || f.comparator == ">=" ||
                 ((f.comparator == "IN" || f.comparator == "NOT IN") && f.key != "run_id" &&
                  f.key != "name")) {
        throw_invalid(fmt::format("Invalid comparator for attribute: {}", f.comparator));
      }
      q.add(" AND ");
      append_comparison(q, it->second, f, numeric);
    } else if (f.type == "tag") {
      if (!querying_prompts && f.key == kPromptTag) continue;
      append_tag_exists(q, "model_version_tags", kVersionTagJoin, f);
    } else {
      throw_invalid(
          fmt::format("Invalid token type: {} (model versions filter on attributes and tags)", f.type));
    }
  }
  if (!querying_prompts) append_not_prompt(q, "model_version_tags", kVersionTagJoin);

  std::vector<std::string> order = o.order_by;
  if (order.empty()) order = {"last_updated_timestamp DESC", "name ASC", "version_number DESC"};
  std::vector<std::string> seen;
  std::string order_sql;
  for (const auto& clause : order) {
    const OrderClause ob = parse_order_by(clause);
    if (ob.type != "attribute") throw_invalid(fmt::format("Invalid order by key '{}' specified.", clause));
    static const std::map<std::string, std::string> kOrder{
        {"name", "mv.name"},
        {"version_number", "mv.version"},
        {"creation_timestamp", "mv.creation_time"},
        {"last_updated_timestamp", "mv.last_updated_time"}};
    auto it = kOrder.find(ob.key);
    if (it == kOrder.end())
      throw_invalid(
          fmt::format("Invalid order by key '{}' specified. Valid keys are name, version_number, "
                      "creation_timestamp, last_updated_timestamp",
                      ob.key));
    if (std::find(seen.begin(), seen.end(), it->second) != seen.end())
      throw_invalid(fmt::format("`order_by` contains duplicate fields: {}", fmt::join(order, ", ")));
    seen.push_back(it->second);
    order_sql += (order_sql.empty() ? " ORDER BY " : ", ") + it->second + (ob.ascending ? " ASC" : " DESC");
  }
  if (std::find(seen.begin(), seen.end(), "mv.name") == seen.end())
    order_sql += (order_sql.empty() ? " ORDER BY " : ", ") + std::string("mv.name ASC");
  if (std::find(seen.begin(), seen.end(), "mv.version") == seen.end()) order_sql += ", mv.version DESC";
  q.add(order_sql);
  const int64_t offset = parse_page_token(o.page_token);
  q.add(" LIMIT ? OFFSET ?").bind(o.max_results + 1).bind(offset);

  PagedList<ModelVersion> page;
  auto st = q.prepare(c);
  while (st->step()) page.items.push_back(read_version(*st));
  st.reset();
  if (static_cast<int64_t>(page.items.size()) > o.max_results) {
    page.items.resize(static_cast<std::size_t>(o.max_results));
    page.next_page_token = make_page_token(offset + o.max_results);
  }
  for (auto& v : page.items) fill(c, v, false);
  return page;
}

void set_version_tag(sql::Connection& c, const std::string& name, const std::string& version,
                     const std::string& key, const std::string& value) {
  const int64_t v = parse_version(version);
  check_version_exists(c, name, v);
  c.cached(
       "INSERT INTO model_version_tags (workspace, \"key\", name, version, value) VALUES (?1, ?2, ?3, ?4, "
       "?5) "
       "ON CONFLICT (workspace, \"key\", name, version) DO UPDATE SET value = excluded.value")
      .bind(1, kWorkspace)
      .bind(2, key)
      .bind(3, name)
      .bind(4, v)
      .bind(5, value)
      .run();
}

void delete_version_tag(sql::Connection& c, const std::string& name, const std::string& version,
                        const std::string& key) {
  const int64_t v = parse_version(version);
  check_version_exists(c, name, v);
  c.cached(
       "DELETE FROM model_version_tags WHERE workspace = ?1 AND \"key\" = ?2 AND name = ?3 AND version = ?4")
      .bind(1, kWorkspace)
      .bind(2, key)
      .bind(3, name)
      .bind(4, v)
      .run();
}

ModelVersion transition_stage(sql::Connection& c, const std::string& name, const std::string& version,
                              const std::string& stage, bool archive_existing_versions) {
  const std::string canonical = canonical_stage(stage);
  if (archive_existing_versions && canonical != "Staging" && canonical != "Production")
    throw_invalid(
        fmt::format("Model version transition cannot archive existing model versions because '{}' is not "
                    "an Active stage. Valid stages are ['Staging', 'Production']",
                    stage));
  const int64_t v = parse_version(version);
  check_version_exists(c, name, v);
  const int64_t now = local_now_ms();
  if (archive_existing_versions)
    c.cached(
         "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ?1 WHERE workspace = ?2 "
         "AND name = ?3 AND version != ?4 AND current_stage = ?5")
        .bind(1, now)
        .bind(2, kWorkspace)
        .bind(3, name)
        .bind(4, v)
        .bind(5, canonical)
        .run();
  c.cached(
       "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 WHERE workspace = ?3 AND name = "
       "?4 "
       "AND version = ?5")
      .bind(1, canonical)
      .bind(2, now)
      .bind(3, kWorkspace)
      .bind(4, name)
      .bind(5, v)
      .run();
  touch_registered_model(c, name, now);
  return load_version(c, name, v, true);
}

std::string download_uri(sql::Connection& c, const std::string& name, const std::string& version) {
  const int64_t v = parse_version(version);
  auto& st = c.cached(
      "SELECT COALESCE(NULLIF(storage_location, ''), source) FROM model_versions WHERE workspace = ?1 AND "
      "name = ?2 "
      "AND version = ?3 AND current_stage != ?4");
  st.bind(1, kWorkspace).bind(2, name).bind(3, v).bind(4, kStageDeleted);
  if (!st.step()) {
    st.reset();
    throw_not_found(fmt::format("Model Version (name={}, version={}) not found", name, v));
  }
  std::string uri = st.text(0);
  st.reset();
  return uri;
}

}  // namespace mlflowpp::detail::local
