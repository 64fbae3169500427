#pragma once
// Which tracking URIs select the embedded local store, and where they point: as the
// Python client (3.7 and later) reads them. Private: not installed.

#include <string>
#include <string_view>

#include "detail/local/database.hpp"

namespace mlflowpp::detail {

/// True for a tracking URI the local store serves: "" (no tracking URI set) and `sqlite:`.
bool is_local_tracking_uri(std::string_view tracking_uri);

/// Where a local tracking URI points, relative paths resolved against the working folder:
/// - "" → `./mlflow.db` (unless `./mlruns` holds data of MLflow's old file store, where the
///   Python client would keep using that store: InvalidArgumentError saying so, as this
///   library does not write the file store);
/// - `sqlite:///relative/path` and `sqlite:////absolute/path` (SQLAlchemy's spelling);
/// the artifact root is always `<working folder>/mlruns`, as in Python.
/// Throws InvalidArgumentError for other forms (`sqlite://` with a host, an in-memory
/// database, query parameters).
LocalTarget parse_local_target(std::string_view tracking_uri);

}  // namespace mlflowpp::detail
