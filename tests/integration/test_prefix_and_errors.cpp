// A tracking server behind a path prefix (--static-prefix), and transport/HTTP errors.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::RunStatus;
using mlflowpp::ServerError;
using mlflowpp::TransportError;

TEST_CASE("prefix: a server under --static-prefix /mlflow", "[integration][prefix][rest]") {
  if (!testing::have_server()) return;
  const char* env = std::getenv("MLFLOWPP_TEST_PREFIX_TRACKING_URI");
  if (env == nullptr || *env == '\0') {
    if (testing::server_required())
      FAIL(
          "MLFLOWPP_TEST_PREFIX_TRACKING_URI is not set (scripts/test.sh starts a server with "
          "--static-prefix)");
    WARN("skipped: MLFLOWPP_TEST_PREFIX_TRACKING_URI is not set");
    return;
  }
  const std::string uri = env;
  // A trailing slash is accepted and removed.
  mlflowpp::Client client(testing::options(uri + "/"));
  CHECK(client.tracking_uri() == uri);

  const std::string name = testing::unique_name("itest-prefix");
  const std::string exp = client.create_experiment(name);
  CHECK(client.get_experiment_by_name(name).value().experiment_id == exp);
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();
  client.log_metric(id, "prefixed", 0.125, mlflowpp::TimestampMs(ts), 3);
  client.log_param(id, "p", "v");

  auto h = client.get_metric_history(id, "prefixed");
  REQUIRE(h.size() == 1);
  CHECK(h[0].value == 0.125);
  CHECK(h[0].step == 3);
  CHECK(h[0].timestamp == ts);
  CHECK(client.get_run(id).data.param("p") == std::optional<std::string>("v"));

  // The async logger and the run lifecycle go through the prefix too.
  {
    auto run = client.start_run(name, "prefixed-async");
    for (int i = 0; i < 100; ++i) run.log_metric("async", i, i);
    const auto res = run.end();
    CHECK(res.flush.ok());
    CHECK(res.status_set);
    const auto got = client.get_run(run.run_id());
    CHECK(got.info.status == RunStatus::kFinished);
    CHECK(got.info.experiment_id == exp);
    CHECK(client.get_metric_history(run.run_id(), "async").size() == 100);
  }

  // Without the prefix, the same server has no API: the prefix was really used.
  const std::string suffix = "/mlflow";
  if (uri.size() > suffix.size() && uri.compare(uri.size() - suffix.size(), suffix.size(), suffix) == 0) {
    mlflowpp::Client bare(testing::options(uri.substr(0, uri.size() - suffix.size())));
    auto err = itest::thrown<ServerError>([&] { bare.get_experiment(exp); });
    REQUIRE(err.has_value());
    CHECK(err->http_status() == 404);
  }
}

TEST_CASE("errors: an unreachable server is a TransportError", "[integration][errors][rest]") {
  if (!testing::have_server()) return;
  auto o = testing::options("http://127.0.0.1:1");
  o.retry.max_retries = 1;
  o.retry.backoff_factor = 0.001;
  o.retry.backoff_jitter = 0.0;
  o.connect_timeout = std::chrono::seconds(5);
  o.logger.spool.enabled = false;  // without a spool: no offline start, drops after retries
  mlflowpp::Client client(o);

  const auto t0 = std::chrono::steady_clock::now();
  auto err = itest::thrown<TransportError>([&] { client.get_experiment("0"); });
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(err.has_value());
  CHECK(err->curl_code() != 0);
  CHECK((itest::contains(err->what(), "127.0.0.1:1") || itest::contains(err->what(), "experiments/get")));
  CHECK(elapsed < std::chrono::seconds(10));
  CHECK_THROWS_AS(client.log_metric(std::string(32, 'a'), "m", 1.0), TransportError);
  CHECK_THROWS_AS(client.start_run("itest-unreachable"), TransportError);

  // Asynchronously: the items are dropped (counted, reported), never thrown.
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  mlflowpp::RunInfo info;  // a run the (unreachable) server would have created
  info.run_id = std::string(32, 'b');
  info.experiment_id = "0";
  mlflowpp::ActiveRun run(client, info);
  run.log_metric("m", 1.0, 0);
  run.log_param("p", "v");
  const auto res = run.end();
  CHECK(res.flush.complete);
  CHECK(res.flush.dropped == 2);
  CHECK_FALSE(res.status_set);
  CHECK_FALSE(res.error.empty());
  const auto stats = client.async_logger().stats();
  CHECK(stats.dropped_transient == 2);
  CHECK(stats.delivered == 0);
  const auto errs = errors.errors();
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].kind == mlflowpp::LogError::Kind::kTransient);
  CHECK(errs[0].items == 2);
}

TEST_CASE("errors: a non-MLflow 404 is a ServerError with status 404", "[integration][errors][rest]") {
  if (!testing::have_server()) return;
  mlflowpp::Client client(testing::options(testing::tracking_uri() + "/nope"));
  auto err = itest::thrown<ServerError>([&] { client.get_experiment("0"); });
  REQUIRE(err.has_value());
  CHECK(err->http_status() == 404);
  CHECK(err->error_code() == "ENDPOINT_NOT_FOUND");  // derived from the status (no MLflow JSON body)
  auto post =
      itest::thrown<ServerError>([&] { client.create_experiment(testing::unique_name("itest-nope")); });
  REQUIRE(post.has_value());
  CHECK(post->http_status() == 404);
}
