#include "detail/local/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "detail/local/database.hpp"
#include "detail/local/sqlite.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

extern const char* const kMlflowSchemaSql;  // mlflow_schema.cpp (generated)

namespace {

struct Header {
  std::string head;
  std::vector<std::string> older;
};

const Header& header() {
  static const Header h = [] {
    Header out;
    std::istringstream in(kMlflowSchemaSql);
    std::string line;
    while (std::getline(in, line) && line.rfind("--", 0) == 0) {
      std::istringstream words(line.substr(2));
      std::string label, w;
      words >> label;
      if (label == "revision:") words >> out.head;
      if (label == "older:")
        while (words >> w) out.older.push_back(w);
    }
    return out;
  }();
  return h;
}

/// The tables the local stores write.
const char* const kWrittenTables[] = {"experiments",
                                      "experiment_tags",
                                      "runs",
                                      "metrics",
                                      "latest_metrics",
                                      "params",
                                      "tags",
                                      "datasets",
                                      "inputs",
                                      "input_tags",
                                      "registered_models",
                                      "registered_model_tags",
                                      "model_versions",
                                      "model_version_tags",
                                      "registered_model_aliases",
                                      "logged_models",
                                      "logged_model_params",
                                      "logged_model_tags",
                                      "logged_model_metrics"};

std::set<std::string> columns(sql::Connection& conn, const std::string& table) {
  std::set<std::string> out;
  auto st = conn.prepare("SELECT name FROM pragma_table_info(?1)");
  st->bind(1, table);
  while (st->step()) out.insert(st->text(0));
  return out;
}

/// Every column of every written table, as the pinned schema has them (from an in-memory
/// database built from the embedded schema, once).
const std::map<std::string, std::set<std::string>>& expected_columns() {
  static const std::map<std::string, std::set<std::string>> m = [] {
    std::map<std::string, std::set<std::string>> out;
    sql::Connection mem(":memory:", true, std::chrono::milliseconds(0));
    mem.exec(kMlflowSchemaSql);
    for (const char* t : kWrittenTables) out[t] = columns(mem, t);
    return out;
  }();
  return m;
}

}  // namespace

const std::string& schema_head_revision() { return header().head; }
const std::vector<std::string>& schema_older_revisions() { return header().older; }

bool schema_is_empty(sql::Connection& conn) {
  auto& st = conn.cached("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  st.step();
  const bool empty = st.int64(0) == 0;
  st.reset();
  return empty;
}

void create_schema(sql::Connection& conn, const std::string& artifact_root) {
  conn.exec(kMlflowSchemaSql);
  const int64_t now = local_now_ms();
  auto st = conn.prepare(
      "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
      "last_update_time, workspace) VALUES (0, 'Default', ?1, 'active', ?2, ?2, 'default')");
  st->bind(1, artifact_root + "/0").bind(2, now).run();
}

std::string read_revision(sql::Connection& conn) {
  auto has =
      conn.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'");
  has->step();
  if (has->int64(0) == 0) return {};
  auto st = conn.prepare("SELECT version_num FROM alembic_version");
  return st->step() ? st->text(0) : std::string();
}

bool is_older_revision(const std::string& revision) {
  const auto& older = schema_older_revisions();
  return std::find(older.begin(), older.end(), revision) != older.end();
}

std::string check_schema(sql::Connection& conn, const std::string& path) {
  std::string rev;
  {
    auto st =
        conn.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'");
    st->step();
    if (st->int64(0) == 0)
      throw InvalidArgumentError(
          fmt::format("'{}' is a SQLite database but not an MLflow one (it has no alembic_version table); "
                      "point the tracking URI at another file",
                      path));
  }
  {
    auto st = conn.prepare("SELECT version_num FROM alembic_version");
    if (st->step()) rev = st->text(0);
  }
  if (rev == schema_head_revision()) return rev;
  const auto& older = schema_older_revisions();
  if (rev.empty() || std::find(older.begin(), older.end(), rev) != older.end())
    throw InvalidArgumentError(
        fmt::format("'{}' is an MLflow database at an older schema revision ('{}'; this library writes '{}', "
                    "MLflow's alembic head of the version it was built against). Take a backup, then run "
                    "'mlflow db upgrade sqlite:///{}' to migrate it",
                    path, rev, schema_head_revision(), path));
  // A revision this library does not know: a newer MLflow's. Fine when everything written is there.
  std::vector<std::string> missing;
  for (const auto& [table, cols] : expected_columns()) {
    const auto have = columns(conn, table);
    if (have.empty()) {
      missing.push_back(table);
      continue;
    }
    for (const auto& c : cols)
      if (!have.count(c)) missing.push_back(table + "." + c);
  }
  if (!missing.empty())
    throw InvalidArgumentError(
        fmt::format("'{}' is an MLflow database at revision '{}', newer than this library's '{}', and lacks "
                    "what the local store writes: {}",
                    path, rev, schema_head_revision(), fmt::join(missing, ", ")));
  return rev;
}

}  // namespace mlflowpp::detail
