#include "mlflowpp/options.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "detail/core/env.hpp"
#include "detail/core/text.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {

namespace {

using detail::env;
using detail::env_bool;
using detail::env_int;
using detail::env_number;

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// ~/.mlflow/credentials: INI section [mlflow], keys mlflow_tracking_username/_password.
void read_credentials_file(std::string& username, std::string& password) {
  const char* home = std::getenv("HOME");
  if (home == nullptr) return;
  std::ifstream in(std::string(home) + "/.mlflow/credentials");
  if (!in) return;
  std::string line, section;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != "mlflow") continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos) continue;
    auto k = trim(line.substr(0, eq));
    auto v = trim(line.substr(eq + 1));
    if (k == "mlflow_tracking_username" && username.empty()) username = v;
    if (k == "mlflow_tracking_password" && password.empty()) password = v;
  }
}

}  // namespace

ClientOptions ClientOptions::from_env() {
  ClientOptions o;
  if (auto v = env("MLFLOW_TRACKING_URI")) o.tracking_uri = *v;
  if (auto v = env("MLFLOW_TRACKING_USERNAME")) o.username = *v;
  if (auto v = env("MLFLOW_TRACKING_PASSWORD")) o.password = *v;
  read_credentials_file(o.username, o.password);  // the environment wins over the file
  if (auto v = env("MLFLOW_TRACKING_TOKEN")) o.token = *v;
  if (auto v = env_bool("MLFLOW_TRACKING_INSECURE_TLS")) o.insecure_tls = *v;
  if (auto v = env("MLFLOW_TRACKING_SERVER_CERT_PATH")) o.server_cert_path = *v;
  if (auto v = env("MLFLOW_TRACKING_CLIENT_CERT_PATH")) o.client_cert_path = *v;
  if (auto v = env("MLFLOWPP_TRACKING_CLIENT_KEY_PATH")) o.client_key_path = *v;
  if (o.insecure_tls && !o.server_cert_path.empty())
    throw InvalidArgumentError(
        "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH cannot both be set");
  if (auto v = env_int("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 0, 10)) o.retry.max_retries = static_cast<int>(*v);
  if (auto v = env_number("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 0, 120)) o.retry.backoff_factor = *v;
  if (auto v = env_number("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 0, 3600)) o.retry.backoff_jitter = *v;
  if (auto v = env_bool("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER")) o.retry.respect_retry_after = *v;
  if (auto v = env_bool("MLFLOWPP_LOG_RETRIES")) o.retry.warn_on_retry = *v;
  if (auto v = env_number("MLFLOW_HTTP_REQUEST_TIMEOUT", 0.001, 86400))
    o.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
  if (auto v = env_number("MLFLOWPP_CONNECT_TIMEOUT", 0.001, 86400))
    o.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(*v * 1000));
  if (auto v = env_bool("MLFLOW_ALLOW_HTTP_REDIRECTS")) o.allow_redirects = *v;
  if (auto v = env("MLFLOW_WORKSPACE")) o.workspace = *v;
  if (auto v = env_int("MLFLOWPP_ASYNC_QUEUE_CAPACITY", 16, 100000000))
    o.logger.queue_capacity = static_cast<std::size_t>(*v);
  if (auto v = env_int("MLFLOWPP_ASYNC_MAX_BATCH_DELAY_MS", 0, 3600000))
    o.logger.max_batch_delay = std::chrono::milliseconds(*v);
  if (auto v = env_int("MLFLOWPP_END_RUN_FLUSH_TIMEOUT_S", 0, 86400))
    o.logger.end_run_flush_timeout = std::chrono::seconds(*v);
  if (auto v = env_bool("MLFLOWPP_SPOOL")) o.logger.spool.enabled = *v;
  if (auto v = env("MLFLOWPP_SPOOL_DIR")) o.logger.spool.dir = *v;
  if (auto v = env_int("MLFLOWPP_SPOOL_MAX_BYTES", 1 << 20, 1ll << 50))
    o.logger.spool.max_bytes = static_cast<uint64_t>(*v);
  if (auto v = env_bool("MLFLOWPP_SPOOL_REPLAY")) o.logger.spool.replay_orphans = *v;
  if (auto v = env("MLFLOWPP_SPOOL_FSYNC")) {
    if (*v == "never") {
      o.logger.spool.fsync = SpoolFsync::kNever;
    } else if (*v == "interval") {
      o.logger.spool.fsync = SpoolFsync::kInterval;
    } else if (*v == "always") {
      o.logger.spool.fsync = SpoolFsync::kAlways;
    } else {
      throw InvalidArgumentError("MLFLOWPP_SPOOL_FSYNC='" + *v + "': expected never, interval or always");
    }
  }
  o.artifacts = ArtifactOptions::from_env();
  return o;
}

void ClientOptions::validate() const {
  auto scheme_end = tracking_uri.find("://");
  std::string scheme = scheme_end == std::string::npos
                           ? std::string()
                           : detail::ascii_lower(tracking_uri.substr(0, scheme_end));
  // No tracking URI, or sqlite:///path: the embedded local store (checked when it opens).
  const bool local = tracking_uri.empty() || scheme == "sqlite";
  if (!local && scheme != "http" && scheme != "https")
    throw InvalidArgumentError(fmt::format(
        "tracking URI scheme '{}' is not supported: mlflowpp talks to an MLflow server over http:// or "
        "https://, or writes a local MLflow database (sqlite:///path/to/mlflow.db, or no tracking URI "
        "for ./mlflow.db); file and databricks URIs are not supported",
        scheme.empty() ? std::string("(none)") : scheme));
  if (!local && tracking_uri.size() <= scheme_end + 3)
    throw InvalidArgumentError("tracking URI has no host: '" + tracking_uri + "'");
  if (retry.max_retries < 0 || retry.max_retries > 10)
    throw InvalidArgumentError(fmt::format("retry.max_retries must be 0..10, got {}", retry.max_retries));
  if (retry.backoff_factor < 0 || retry.backoff_factor > 120)
    throw InvalidArgumentError(
        fmt::format("retry.backoff_factor must be 0..120, got {}", retry.backoff_factor));
  if (insecure_tls && !server_cert_path.empty())
    throw InvalidArgumentError("insecure_tls and server_cert_path cannot both be set");
  if (logger.queue_capacity < 16)
    throw InvalidArgumentError(
        fmt::format("logger.queue_capacity must be >= 16, got {}", logger.queue_capacity));
  if (logger.max_request_bytes < 4096)
    throw InvalidArgumentError(
        fmt::format("logger.max_request_bytes must be >= 4096, got {}", logger.max_request_bytes));
}

}  // namespace mlflowpp
