#pragma once
// Shared fixture of the integration tests: the real MLflow server started by
// scripts/test.sh, or (MLFLOWPP_TEST_BACKEND=local) the embedded local store's database.
// One set of test cases runs against both: tests tagged [rest] need a server (faults,
// TLS, prefixes, the spool), tests tagged [local] the local store. Every test names its own experiment
// (unique per process and test), so tests can run in parallel against one server.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <mlflowpp/mlflowpp.hpp>
#include <random>
#include <string>

namespace testing {

/// True when this process runs the suite against the embedded local store
/// (MLFLOWPP_TEST_BACKEND=local: the ctest entries named "local: ...").
inline bool local_backend() {
  const char* b = std::getenv("MLFLOWPP_TEST_BACKEND");
  return b != nullptr && std::string(b) == "local";
}

/// The local backend's database: MLFLOWPP_TEST_LOCAL_URI, else
/// `sqlite:///<build>/tests/local-store/mlflow.db` (made fresh by a ctest fixture).
inline std::string local_tracking_uri() {
  const char* v = std::getenv("MLFLOWPP_TEST_LOCAL_URI");
  if (v != nullptr && *v != '\0') return v;
#ifdef MLFLOWPP_BINARY_DIR
  return std::string("sqlite:///") + MLFLOWPP_BINARY_DIR + "/tests/local-store/mlflow.db";
#else
  return "sqlite:///mlflow.db";
#endif
}

/// The backend under test: the local database (local_backend()), else
/// MLFLOWPP_TEST_TRACKING_URI, else MLFLOW_TRACKING_URI; "" when none is set.
inline std::string tracking_uri() {
  if (local_backend()) return local_tracking_uri();
  for (const char* name : {"MLFLOWPP_TEST_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return {};
}

/// The tracking server (never the local database), for tests that need one beside it.
inline std::string server_uri() {
  for (const char* name : {"MLFLOWPP_TEST_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0' && std::string(v).rfind("sqlite:", 0) != 0) return v;
  }
  return {};
}

/// True when a missing server must fail the test rather than skip it.
inline bool server_required() {
  const char* req = std::getenv("MLFLOWPP_REQUIRE_SERVER");
  const char* ci = std::getenv("CI");
  return (req != nullptr && std::string(req) == "1") || (ci != nullptr && *ci != '\0');
}

/// Call at the top of every integration test: returns false (and warns) when the test
/// should be skipped; fails the test when the server is required but not configured.
inline bool have_server() {
  if (!tracking_uri().empty()) return true;
  if (server_required()) FAIL("no MLflow server: set MLFLOWPP_TEST_TRACKING_URI (scripts/test.sh does)");
  WARN("skipped: no MLflow server (run scripts/test.sh)");
  return false;
}

/// Client options for the test server, with fast retries so fault tests stay short.
inline mlflowpp::ClientOptions options(const std::string& uri = tracking_uri()) {
  mlflowpp::ClientOptions o;
  o.tracking_uri = uri;
  o.retry.max_retries = 3;
  o.retry.backoff_factor = 0.05;
  o.retry.backoff_jitter = 0.01;
  o.retry.warn_on_retry = false;
  o.request_timeout = std::chrono::seconds(60);
  o.logger.report_errors_to_stderr = false;
  return o;
}

inline mlflowpp::Client client() { return mlflowpp::Client(options()); }

/// A name no other test (or earlier run against the same server) uses.
inline std::string unique_name(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return prefix + "-" + std::to_string(now) + "-" + std::to_string(rng() % 1000000);
}

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace testing
