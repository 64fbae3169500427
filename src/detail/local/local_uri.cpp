#include "detail/local/local_uri.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "detail/core/text.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace fs = std::filesystem;

namespace {

/// Python's _has_existing_mlruns_data: a numbered folder under ./mlruns with a meta.yaml.
bool has_file_store_data(const fs::path& mlruns) {
  std::error_code ec;
  for (fs::directory_iterator it(mlruns, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    if (it->is_directory(ec2) &&
        fs::symlink_status(it->path() / "meta.yaml", ec2).type() != fs::file_type::not_found)
      return true;
  }
  return false;
}

}  // namespace

bool is_local_tracking_uri(std::string_view uri) {
  return uri.empty() || ascii_lower(std::string(uri.substr(0, 7))) == "sqlite:";
}

LocalTarget parse_local_target(std::string_view uri) {
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (ec) throw InvalidArgumentError("cannot read the working folder for the local store: " + ec.message());
  LocalTarget t;
  t.artifact_root = (cwd / "mlruns").lexically_normal().string();
  fs::path db;
  if (uri.empty()) {
    if (has_file_store_data(cwd / "mlruns"))
      throw InvalidArgumentError(fmt::format(
          "no tracking URI is set and '{}' holds data of MLflow's old file store, which the Python "
          "client would keep using; mlflowpp does not write the file store. Set MLFLOW_TRACKING_URI "
          "to sqlite:///mlflow.db (after 'mlflow migrate-filestore', or to start afresh) or to a "
          "tracking server",
          (cwd / "mlruns").string()));
    db = cwd / "mlflow.db";
  } else {
    const std::string_view rest = uri.substr(7);  // after "sqlite:"
    if (rest.substr(0, 3) != "///")
      throw InvalidArgumentError(
          fmt::format("tracking URI '{}': a local database is written sqlite:///relative/path or "
                      "sqlite:////absolute/path (no host, no in-memory database)",
                      std::string(uri)));
    const std::string_view path = rest.substr(3);
    if (path.empty() || path == ":memory:" || path.find('?') != std::string_view::npos)
      throw InvalidArgumentError(
          fmt::format("tracking URI '{}': give the database file's path (no in-memory database, no query "
                      "parameters)",
                      std::string(uri)));
    const fs::path p{percent_decode(path)};  // as SQLAlchemy reads the URI
    db = p.is_absolute() ? p : cwd / p;
  }
  t.db_path = db.lexically_normal().string();
  t.uri = "sqlite:///" + t.db_path;
  return t;
}

}  // namespace mlflowpp::detail
