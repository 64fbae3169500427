// Fault injection against the real server: mlflowpp logs through tests/integration/fault_proxy.py
// (a reverse proxy that answers 503/429, resets connections, stalls or dribbles answers,
// before or after forwarding to the server), and a direct client reads the server back:
// every point exactly once, params and tags exact, the last write of a tag last, the run
// FINISHED, the retries counted and nothing dropped. Non-idempotent calls (create_run)
// must not be resent once the server may have committed them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "integration/fault_proxy.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"

namespace {

using itest::FaultProxy;
using itest::json_count;
using itest::python_or_skip;

constexpr const char* kLogBatch = "/api/2.0/mlflow/runs/log-batch";
constexpr const char* kCreateRun = "/api/2.0/mlflow/runs/create";

struct Scenario {
  std::string mode;      ///< fault_proxy.py mode
  std::string plan;      ///< the JSON fault plan
  uint64_t faults = 0;   ///< matching requests the plan applies to
  uint64_t min_retries;  ///< LoggerStats::retries at least
  uint64_t max_retries;  ///< and at most
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  /// A faulted request may still reach the server after the client gave up on it (stall):
  /// wait for the proxy's forwards before reading back, and do not require the last write
  /// of a tag to win (a late duplicate of an earlier request can overwrite it).
  bool late_duplicates = false;
  /// The faults outlast the retry policy: the spool's persistent rounds resend (a round's
  /// first request is not counted as a retry).
  bool beyond_retry_budget = false;
};

mlflowpp::ClientOptions proxied_options(const std::string& uri, std::chrono::milliseconds request_timeout) {
  auto o = testing::options(uri);
  o.retry.max_retries = 5;
  o.retry.backoff_factor = 0.02;  // waits 0, 0.04, 0.08, 0.16, 0.32 s (+ ≤ 10 ms)
  o.retry.backoff_jitter = 0.01;
  o.retry.max_retry_after = std::chrono::seconds(2);
  o.request_timeout = request_timeout;
  o.logger.end_run_flush_timeout = std::chrono::seconds(30);
  return o;
}

using Point = std::tuple<int64_t, int64_t, double>;  // (step, timestamp, value)

/// Logs 3000 points over 2 keys, 20 params and 20 tags (+ a tag rewritten per burst) in 3
/// bursts with flushes between through the proxy, then checks the server directly.
void run_scenario(const Scenario& sc) {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();

  FaultProxy proxy(python, testing::tracking_uri());
  auto direct = itest::fresh_client();
  const std::string exp = direct.create_experiment(testing::unique_name("itest-faults-" + sc.mode));
  mlflowpp::Client client(proxied_options(proxy.uri(), sc.request_timeout));

  mlflowpp::StartRunOptions so;
  so.experiment_id = exp;
  so.run_name = "faults-" + sc.mode;
  so.system_tags = false;
  auto run = client.start_run(so);
  const std::string run_id = run.run_id();
  proxy.set_plan(sc.plan);  // armed after the run exists: only the logging is faulted

  constexpr int kBursts = 3, kStepsPerBurst = 500, kParams = 20, kTags = 20;
  const std::vector<std::string> keys = {"loss", "accuracy"};
  const int64_t base_ts = testing::now_ms() - 10'000'000;
  std::map<std::string, std::set<Point>> sent;
  std::map<std::string, std::string> params, tags;
  for (int b = 0; b < kBursts; ++b) {
    for (int i = 0; i < kStepsPerBurst; ++i) {
      const int64_t step = static_cast<int64_t>(b) * kStepsPerBurst + i;
      for (std::size_t k = 0; k < keys.size(); ++k) {
        const double value = std::sin(0.37 * static_cast<double>(step) + static_cast<double>(k)) * 100.0;
        const int64_t ts = base_ts + step * 3 + static_cast<int64_t>(k);
        run.log_metric(keys[k], value, step, ts);
        sent[keys[k]].insert({step, ts, value});
      }
    }
    for (int p = b; p < kParams; p += kBursts) {
      params["param_" + std::to_string(p)] = "value " + std::to_string(p * 7);
      run.log_param("param_" + std::to_string(p), params["param_" + std::to_string(p)]);
    }
    for (int t = b; t < kTags; t += kBursts) {
      tags["tag_" + std::to_string(t)] = "tag value " + std::to_string(t);
      run.set_tag("tag_" + std::to_string(t), tags["tag_" + std::to_string(t)]);
    }
    tags["phase"] = "burst-" + std::to_string(b);
    run.set_tag("phase", tags["phase"]);
    auto f = run.flush(std::chrono::seconds(30));
    INFO("burst " << b);
    REQUIRE(f.complete);
    CHECK(f.ok());
  }
  auto ended = run.end();
  CHECK(ended.flush.ok());
  CHECK(ended.status_set);
  CHECK(ended.error.empty());
  const auto ls = client.async_logger().stats();
  // Late duplicates (stall) land before the server is read.
  const std::string pstats = proxy.stats(sc.late_duplicates ? 10 : 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The server, read directly.
  const auto got = direct.get_run(run_id);
  CHECK(got.info.status == mlflowpp::RunStatus::kFinished);
  std::size_t total_points = 0, extra_or_missing = 0;
  for (const auto& key : keys) {
    auto h = itest::sorted_history(direct, run_id, key);
    total_points += h.size();
    std::set<Point> on_server;
    for (const auto& m : h) on_server.insert({m.step, m.timestamp, m.value});
    INFO("metric " << key);
    CHECK(h.size() == sent[key].size());          // no duplicate rows
    CHECK(on_server.size() == sent[key].size());  // ... of distinct points
    if (on_server != sent[key]) {
      for (const auto& p : sent[key]) extra_or_missing += on_server.count(p) == 0;
      for (const auto& p : on_server) extra_or_missing += sent[key].count(p) == 0;
    }
    auto latest = got.data.metric(key);
    REQUIRE(latest.has_value());
    CHECK(latest->step == kBursts * kStepsPerBurst - 1);
  }
  CHECK(extra_or_missing == 0);
  CHECK(got.data.params.size() == params.size());
  for (const auto& [k, v] : params) CHECK(got.data.param(k) == std::optional<std::string>(v));
  std::size_t user_tags = 0;
  for (const auto& t : got.data.tags) user_tags += t.key.rfind("mlflow.", 0) != 0;
  CHECK(user_tags == tags.size());
  for (const auto& [k, v] : tags) {
    if (k == "phase" && sc.late_duplicates) {
      auto phase = got.data.tag(k);
      CHECK((phase.has_value() && phase->rfind("burst-", 0) == 0));
      continue;
    }
    INFO("tag " << k);
    CHECK(got.data.tag(k) == std::optional<std::string>(v));
  }

  // What the client and the proxy counted.
  const uint64_t items = 2ull * kBursts * kStepsPerBurst + params.size() + kTags + kBursts;
  const uint64_t proxied = json_count(pstats, "requests", kLogBatch);
  const uint64_t faulted = json_count(pstats, "faults", sc.mode);
  CHECK(ls.enqueued == items);
  CHECK(ls.delivered == items);
  CHECK(ls.rejected_invalid == 0);
  CHECK(ls.rejected_by_server == 0);
  CHECK(ls.dropped_queue_full == 0);
  CHECK(ls.dropped_transient == 0);
  CHECK(ls.dropped_shutdown == 0);
  CHECK(ls.pending() == 0);
  CHECK(ls.retries >= sc.min_retries);
  CHECK(ls.retries <= sc.max_retries);
  CHECK(faulted == sc.faults);  // the whole plan was used
  // libcurl may resend on a reused connection by itself (not counted as a retry), so the
  // proxy can see more requests than the logger sent; each fault that is not answered
  // normally costs one more request.
  // The logger's requests include the end of the run (runs/update, not faulted).
  const uint64_t batches_sent = ls.requests - 1;
  CHECK(proxied >= batches_sent);
  if (sc.max_retries > 0 && !sc.beyond_retry_budget) CHECK(proxied >= batches_sent - ls.retries + sc.faults);
  if (sc.max_retries == 0) CHECK(proxied == batches_sent);
  WARN("fault " << sc.mode << ": points logged " << 2 * kBursts * kStepsPerBurst << ", on the server "
                << total_points << ", log-batch requests " << batches_sent << " (retries " << ls.retries
                << "), seen by the proxy " << proxied << " (faulted " << faulted << "), " << seconds << " s");
}

std::string plan(const std::string& mode, int count, const std::string& extra = {},
                 const std::string& prefix = kLogBatch) {
  return "{\"mode\": \"" + mode + "\", \"count\": " + std::to_string(count) + ", \"path_prefix\": \"" +
         prefix + "\"" + (extra.empty() ? "" : ", " + extra) + "}";
}

}  // namespace

TEST_CASE("faults: 503 three times, then delivered exactly once", "[integration][faults][rest]") {
  run_scenario({"status", plan("status", 3, "\"status\": 503"), 3, 3, 3});
}

TEST_CASE("faults: a 503 storm outlasting the retry budget is ridden out by the spool, nothing dropped",
          "[integration][faults][rest]") {
  // 20 answers of 503: the retry policy (5 retries) gives up three times; the journal holds
  // the requests and the sender tries again after 1, 2, 4 s (without a spool: dropped).
  Scenario sc{"status", plan("status", 20, "\"status\": 503"), 20, 10, 20};
  sc.beyond_retry_budget = true;
  run_scenario(sc);
}

TEST_CASE("faults: 429 three times with Retry-After 1 s", "[integration][faults][rest]") {
  run_scenario({"status", plan("status", 3, "\"status\": 429, \"retry_after\": \"1\""), 3, 3, 3});
}

TEST_CASE("faults: 503 after the server committed, resent without duplicates",
          "[integration][faults][rest]") {
  run_scenario({"status_after_forward", plan("status_after_forward", 2, "\"status\": 503"), 2, 2, 2});
}

TEST_CASE("faults: connection reset before forwarding, three times", "[integration][faults][rest]") {
  run_scenario({"reset_before", plan("reset_before", 3), 3, 1, 3});
}

TEST_CASE("faults: connection reset after the server committed, twice", "[integration][faults][rest]") {
  run_scenario({"reset_after_forward", plan("reset_after_forward", 2), 2, 1, 2});
}

TEST_CASE("faults: stalled 3 s with a 1 s request timeout, late duplicates", "[integration][faults][rest]") {
  Scenario sc{"stall", plan("stall", 2, "\"seconds\": 3"), 2, 2, 2, std::chrono::seconds(1)};
  sc.late_duplicates = true;
  run_scenario(sc);
}

TEST_CASE("faults: slow answers dribbled at 300 bytes per second", "[integration][faults][rest]") {
  run_scenario({"slow", plan("slow", 3, "\"bytes_per_second\": 300"), 3, 0, 0});
}

TEST_CASE("faults: create_run is not resent after a 503, is resent after a 429",
          "[integration][faults][rest]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  FaultProxy proxy(python, testing::tracking_uri());
  auto direct = itest::fresh_client();
  const std::string exp = direct.create_experiment(testing::unique_name("itest-faults-create-run"));
  mlflowpp::Client client(proxied_options(proxy.uri(), std::chrono::seconds(60)));
  auto runs_named = [&](const std::string& name) {
    mlflowpp::SearchRunsOptions o;
    o.filter_string = "attributes.run_name = '" + name + "'";
    return direct.search_all_runs({exp}, o).size();
  };

  // The server commits, then the proxy answers 503: not safe to resend.
  proxy.set_plan(plan("status_after_forward", 1, "\"status\": 503", kCreateRun));
  mlflowpp::CreateRunOptions once;
  once.run_name = "created-once";
  auto err = itest::thrown<mlflowpp::ServerError>([&] { client.create_run(exp, once); });
  REQUIRE(err.has_value());
  CHECK(err->http_status() == 503);
  CHECK(runs_named("created-once") == 1);
  CHECK(json_count(proxy.stats(), "requests", kCreateRun) == 1);

  // 429: the server did not process it, so it is resent, and succeeds.
  proxy.set_plan(plan("status", 1, "\"status\": 429", kCreateRun));
  mlflowpp::CreateRunOptions retried;
  retried.run_name = "created-after-429";
  auto created = client.create_run(exp, retried);
  CHECK(created.info.run_name == "created-after-429");
  CHECK(runs_named("created-after-429") == 1);
  CHECK(json_count(proxy.stats(), "requests", kCreateRun) == 3);
}

// libcurl silently resends a request when a *reused* connection dies before any answer
// byte arrives, whatever the method: a create_run reset after the server committed it
// was sent twice and created two runs, with no error for the caller. Requests that are
// not safe to repeat now always use a fresh connection (HttpRequest::fresh_connection).
TEST_CASE("faults: create_run is not resent after a reset once the server committed",
          "[integration][faults][rest]") {
  if (!testing::have_server()) return;
  const std::string python = python_or_skip();
  if (python.empty()) return;
  FaultProxy proxy(python, testing::tracking_uri());
  auto direct = itest::fresh_client();
  const std::string exp = direct.create_experiment(testing::unique_name("itest-faults-create-reset"));
  mlflowpp::Client client(proxied_options(proxy.uri(), std::chrono::seconds(60)));
  // A first call through the proxy, so that create_run goes out on a reused connection.
  REQUIRE(client.get_experiment(exp).experiment_id == exp);

  proxy.set_plan(plan("reset_after_forward", 1, {}, kCreateRun));
  mlflowpp::CreateRunOptions o;
  o.run_name = "reset-after-commit";
  auto err = itest::thrown<mlflowpp::TransportError>([&] { client.create_run(exp, o); });
  CHECK(err.has_value());
  mlflowpp::SearchRunsOptions so;
  so.filter_string = "attributes.run_name = 'reset-after-commit'";
  CHECK(direct.search_all_runs({exp}, so).size() == 1);
  CHECK(json_count(proxy.stats(), "requests", kCreateRun) == 1);
}
