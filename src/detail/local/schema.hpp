#pragma once
// MLflow's SQL schema for the embedded local store: the pinned MLflow's tables, indexes
// and triggers at its alembic head (mlflow_schema.sql, generated from the pinned MLflow by
// scripts/gen_local_schema.py and compiled in), creating it, and checking a file's.
// Private: not installed.

#include <string>
#include <vector>

namespace mlflowpp::detail {

namespace sql {
class Connection;
}

/// The alembic revision this library writes (the pinned MLflow's head).
const std::string& schema_head_revision();
/// The pinned MLflow's older revisions (a file at one of them needs `mlflow db upgrade`).
const std::vector<std::string>& schema_older_revisions();

/// Creates the schema, the rows MLflow seeds and the Default experiment (id 0, artifact
/// location `<artifact_root>/0`) in an empty database, inside the caller's transaction.
void create_schema(sql::Connection& conn, const std::string& artifact_root);

/// Checks an existing database and returns its revision. Throws InvalidArgumentError
/// (naming `path`) when it is not an MLflow database, when its revision is an older one
/// (with the `mlflow db upgrade` hint), or when a newer revision lacks a table or column
/// the local store writes (naming them).
std::string check_schema(sql::Connection& conn, const std::string& path);

/// The revision in the file's alembic_version ("" when it has none).
std::string read_revision(sql::Connection& conn);
/// True for one of the pinned MLflow's older revisions.
bool is_older_revision(const std::string& revision);

/// True when the database has no tables yet (a new or empty file).
bool schema_is_empty(sql::Connection& conn);

}  // namespace mlflowpp::detail
