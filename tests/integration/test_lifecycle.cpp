// The run lifecycle and asynchronous logging: Client::start_run, ActiveRun, AsyncLogger,
// read back through the synchronous API.
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::LogError;
using mlflowpp::RunStatus;
using mlflowpp::StartRunOptions;

namespace {

// argv[0] of this process (what mlflow.source.name must hold, as sys.argv[0] in Python).
std::string own_argv0() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string arg0;
  std::getline(f, arg0, '\0');
  return arg0;
}

// Python's getpass.getuser(): LOGNAME, USER, LNAME, USERNAME, then the password database.
std::string expected_user() {
  for (const char* name : {"LOGNAME", "USER", "LNAME", "USERNAME"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "unknown";
}

}  // namespace

TEST_CASE("async: 5000 points through an ActiveRun, then end() FINISHED", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp_name = testing::unique_name("itest-async-5000");
  constexpr int kPoints = 5000;

  auto run = client.start_run(exp_name, "async-5000");
  const std::string id = run.run_id();
  CHECK(run.info().status == RunStatus::kRunning);
  CHECK(run.run_name() == "async-5000");
  const int64_t t_start = testing::now_ms();
  for (int i = 1; i <= kPoints; ++i) run.log_metric("loss", 1.0 / i, i);
  const auto res = run.end();
  const int64_t t_end = testing::now_ms();
  CHECK(res.flush.complete);
  CHECK(res.flush.ok());
  CHECK(res.flush.pending == 0);
  CHECK(res.status_set);
  CHECK(res.error.empty());
  CHECK(run.ended());
  // end() is idempotent.
  CHECK(run.end().status_set);

  const auto stats = client.async_logger().stats();
  CHECK(stats.enqueued == kPoints);
  CHECK(stats.delivered == kPoints);
  CHECK(stats.pending() == 0);
  CHECK(stats.rejected_invalid == 0);
  CHECK(stats.rejected_by_server == 0);
  CHECK(stats.retries == 0);
  CHECK(stats.requests >= kPoints / 1000);  // ≤ 1000 metrics per request
  CHECK(stats.requests <= 50);              // batched: far fewer requests than items

  const auto got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFinished);
  REQUIRE(got.info.end_time.has_value());
  CHECK(*got.info.end_time >= t_start);
  CHECK(*got.info.end_time <= t_end);
  CHECK(got.info.experiment_id == client.get_experiment_by_name(exp_name).value().experiment_id);

  auto h = itest::sorted_history(client, id, "loss");
  REQUIRE(h.size() == kPoints);
  std::size_t bad = 0;
  for (int i = 0; i < kPoints; ++i) {
    const bool ok = h[i].step == i + 1 && h[i].value == 1.0 / (i + 1) && h[i].timestamp >= t_start - 1000 &&
                    h[i].timestamp <= t_end && (i == 0 || h[i].timestamp >= h[i - 1].timestamp);
    if (!ok && ++bad <= 5)
      FAIL_CHECK("point " << i << ": step " << h[i].step << " value " << h[i].value << " ts "
                          << h[i].timestamp);
  }
  CHECK(bad == 0);
}

TEST_CASE("async: an invalid key is reported through the error callback, the rest lands",
          "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());

  auto run = client.start_run(testing::unique_name("itest-async-invalid"), "invalid-key");
  const std::string id = run.run_id();
  run.log_metric("good", 1.0, 0);
  run.log_metric("bad//key", 2.0, 0);
  run.log_param("p", "v");
  run.log_param("bad param", std::string(6001, 'v'));  // value too long
  run.set_tag("t", "tv");
  run.log_metric("good", 3.0, 1);
  const auto flushed = run.flush();
  CHECK(flushed.complete);
  CHECK(flushed.rejected == 2);
  CHECK_FALSE(flushed.ok());
  const auto res = run.end();
  CHECK(res.status_set);
  CHECK_FALSE(res.flush.ok());

  const auto errs = errors.errors();
  REQUIRE(errs.size() == 2);
  CHECK(errs[0].kind == LogError::Kind::kInvalid);
  CHECK(errs[0].key == "bad//key");
  CHECK(errs[0].run_id == id);
  CHECK(errs[0].items == 1);
  CHECK(itest::contains(errs[0].message, "bad//key"));
  CHECK(errs[1].kind == LogError::Kind::kInvalid);
  CHECK(errs[1].key == "bad param");
  CHECK(itest::contains(errs[1].message, "bad param"));
  CHECK(itest::contains(errs[1].message, "6001"));
  CHECK(itest::contains(errs[1].message, "6000"));

  const auto stats = client.async_logger().stats();
  CHECK(stats.rejected_invalid == 2);
  CHECK(stats.delivered == 4);

  const auto got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFinished);
  CHECK(got.data.param("p") == std::optional<std::string>("v"));
  CHECK_FALSE(got.data.param("bad param").has_value());
  CHECK(got.data.tag("t") == std::optional<std::string>("tv"));
  auto h = itest::sorted_history(client, id, "good");
  REQUIRE(h.size() == 2);
  CHECK(h[0].value == 1.0);
  CHECK(h[1].value == 3.0);
}

TEST_CASE("async: a param logged twice with different values is rejected alone", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());

  auto run = client.start_run(testing::unique_name("itest-async-conflict"), "conflict");
  const std::string id = run.run_id();
  // One burst, so that everything goes through the worker together.
  run.log_param("lr", "0.1");
  for (int i = 0; i < 10; ++i) run.log_metric("m", i, i);
  run.set_tag("before", "1");
  run.log_param("lr", "0.2");  // conflicts with the first value
  run.log_param("other", "x");
  for (int i = 10; i < 20; ++i) run.log_metric("m", i, i);
  run.set_tag("after", "2");
  run.log_param("lr", "0.1");  // the original value again: fine
  run.log_param("last", "y");
  const auto res = run.end();
  CHECK(res.status_set);
  CHECK(res.flush.complete);
  CHECK(res.flush.rejected == 1);

  const auto errs = errors.errors();
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].kind == LogError::Kind::kRejectedByServer);
  CHECK(errs[0].key == "lr");
  CHECK(errs[0].run_id == id);
  CHECK(errs[0].items == 1);
  CHECK(errs[0].http_status == 400);
  CHECK(errs[0].error_code == "INVALID_PARAMETER_VALUE");
  CHECK(itest::contains(errs[0].message, "lr"));

  const auto stats = client.async_logger().stats();
  CHECK(stats.rejected_by_server == 1);
  CHECK(stats.delivered == stats.enqueued - 1);

  const auto got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFinished);
  CHECK(got.data.params.size() == 3);
  CHECK(got.data.param("lr") == std::optional<std::string>("0.1"));
  CHECK(got.data.param("other") == std::optional<std::string>("x"));
  CHECK(got.data.param("last") == std::optional<std::string>("y"));
  CHECK(got.data.tag("before") == std::optional<std::string>("1"));
  CHECK(got.data.tag("after") == std::optional<std::string>("2"));
  auto h = itest::sorted_history(client, id, "m");
  REQUIRE(h.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(h[i].step == i);
    CHECK(h[i].value == i);
  }

  // Across flushes: the param is already stored, a later different value is refused.
  auto errs_before = errors.errors().size();
  StartRunOptions o2;
  o2.experiment_id = run.experiment_id();
  o2.run_name = "conflict-2";
  auto run2 = client.start_run(o2);
  run2.log_param("seed", "1");
  REQUIRE(run2.flush().complete);
  run2.log_param("seed", "2");
  run2.log_metric("after_conflict", 1.0, 0);
  const auto res2 = run2.end();
  CHECK(res2.status_set);
  const auto errs2 = errors.errors();
  REQUIRE(errs2.size() == errs_before + 1);
  CHECK(errs2.back().kind == LogError::Kind::kRejectedByServer);
  CHECK(errs2.back().key == "seed");
  const auto got2 = client.get_run(run2.run_id());
  CHECK(got2.data.param("seed") == std::optional<std::string>("1"));
  CHECK(got2.data.metric("after_conflict").has_value());
}

TEST_CASE("async: the same param twice with the same value is no error", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());

  auto run = client.start_run(testing::unique_name("itest-async-same-param"), "same-param");
  run.log_param("seed", "42");
  run.log_param("seed", "42");  // same batch
  REQUIRE(run.flush().ok());
  run.log_param("seed", "42");  // later batch: already stored with this value
  run.log_metric("x", 1.0, 0);
  const auto res = run.end();
  CHECK(res.flush.ok());
  CHECK(res.status_set);
  CHECK(errors.errors().empty());
  const auto stats = client.async_logger().stats();
  CHECK(stats.rejected_by_server == 0);
  CHECK(stats.delivered == 4);
  const auto got = client.get_run(run.run_id());
  CHECK(got.data.param("seed") == std::optional<std::string>("42"));
  CHECK(got.data.params.size() == 1);
}

TEST_CASE("async: 16 threads x 1000 points on one run", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  constexpr int kThreads = 16, kPerThread = 1000;

  auto run = client.start_run(testing::unique_name("itest-async-threads"), "threads");
  const std::string id = run.run_id();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&run, t] {
      const std::string key = "thread_" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) run.log_metric(key, t * kPerThread + i, i);
    });
  }
  for (auto& th : threads) th.join();
  const auto res = run.end();
  CHECK(res.flush.ok());
  CHECK(res.status_set);
  CHECK(errors.errors().empty());
  const auto stats = client.async_logger().stats();
  CHECK(stats.enqueued == kThreads * kPerThread);
  CHECK(stats.delivered == kThreads * kPerThread);
  CHECK(stats.dropped_queue_full == 0);
  CHECK(stats.requests < kThreads * kPerThread / 100);

  const auto got = client.get_run(id);
  CHECK(got.data.metrics.size() == kThreads);
  std::set<std::pair<int, int64_t>> seen;  // (thread, i)
  std::size_t total = 0, wrong_value = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& m : client.get_metric_history(id, "thread_" + std::to_string(t))) {
      ++total;
      seen.insert({t, m.step});
      if (m.value != t * kPerThread + m.step) ++wrong_value;
    }
  }
  CHECK(total == kThreads * kPerThread);
  CHECK(seen.size() == kThreads * kPerThread);
  CHECK(wrong_value == 0);
  CHECK(seen.begin()->second == 0);
  CHECK(seen.rbegin()->second == kPerThread - 1);
}

TEST_CASE("async: start_child_run makes a nested run", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  auto parent = client.start_run(testing::unique_name("itest-async-nested"), "parent");
  std::string child_id;
  {
    auto child = parent.start_child_run("child");
    child_id = child.run_id();
    CHECK(child.experiment_id() == parent.experiment_id());
    child.log_metric("child_metric", 7.0, 3);
  }  // ends FINISHED
  parent.log_metric("parent_metric", 1.0, 0);
  REQUIRE(parent.end().status_set);

  const auto child = client.get_run(child_id);
  CHECK(child.data.tag("mlflow.parentRunId") == std::optional<std::string>(parent.run_id()));
  CHECK(child.data.tag("mlflow.runName") == std::optional<std::string>("child"));
  CHECK(child.info.experiment_id == parent.experiment_id());
  CHECK(child.info.status == RunStatus::kFinished);
  REQUIRE(child.data.metric("child_metric").has_value());
  CHECK(child.data.metric("child_metric")->step == 3);
  const auto par = client.get_run(parent.run_id());
  CHECK_FALSE(par.data.tag("mlflow.parentRunId").has_value());
  CHECK(par.data.metric("parent_metric").has_value());
  CHECK_FALSE(par.data.metric("child_metric").has_value());

  mlflowpp::SearchRunsOptions so;
  so.filter_string = "tags.mlflow.parentRunId = '" + parent.run_id() + "'";
  CHECK(itest::run_ids(client.search_all_runs({parent.experiment_id()}, so)) ==
        std::vector<std::string>{child_id});
}

TEST_CASE("async: an exception through an ActiveRun's scope ends the run FAILED", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp_name = testing::unique_name("itest-async-failed");
  std::string failed_id, ok_id;
  try {
    auto run = client.start_run(exp_name, "boom");
    failed_id = run.run_id();
    run.log_metric("before_throw", 42.0, 0);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "boom");
  }
  {
    auto run = client.start_run(exp_name, "fine");
    ok_id = run.run_id();
  }
  // A run created and ended inside a catch handler (an exception in flight, but not
  // unwinding through the run's scope) ends FINISHED.
  std::string in_handler_id;
  try {
    throw std::runtime_error("outer");
  } catch (...) {
    auto run = client.start_run(exp_name, "in-handler");
    in_handler_id = run.run_id();
  }

  const auto failed = client.get_run(failed_id);
  CHECK(failed.info.status == RunStatus::kFailed);
  CHECK(failed.info.end_time.has_value());
  auto m = failed.data.metric("before_throw");
  REQUIRE(m.has_value());  // flushed before the status was set
  CHECK(m->value == 42.0);
  const auto ok = client.get_run(ok_id);
  CHECK(ok.info.status == RunStatus::kFinished);
  CHECK(ok.info.end_time.has_value());
  CHECK(client.get_run(in_handler_id).info.status == RunStatus::kFinished);
}

TEST_CASE("async: start_run sets the system tags", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  StartRunOptions o;
  o.experiment_name = testing::unique_name("itest-async-systags");
  o.run_name = "system-tags";
  o.description = "a *markdown* note";
  o.tags = {{"custom", "1"}, {"mlflow.source.type", "JOB"}};  // user tags override system tags
  auto run = client.start_run(o);
  REQUIRE(run.end().status_set);

  const auto got = client.get_run(run.run_id());
  CHECK(got.data.tag("mlflow.user") == std::optional<std::string>(expected_user()));
  CHECK(got.data.tag("mlflow.source.name") == std::optional<std::string>(own_argv0()));
  CHECK(got.data.tag("mlflow.source.type") == std::optional<std::string>("JOB"));
  CHECK(got.data.tag("mlflow.runName") == std::optional<std::string>("system-tags"));
  CHECK(got.data.tag("mlflow.note.content") == std::optional<std::string>("a *markdown* note"));
  CHECK(got.data.tag("custom") == std::optional<std::string>("1"));
  CHECK(got.info.run_name == "system-tags");
  CHECK(got.info.user_id == expected_user());

  // Without overrides: mlflow.source.type is LOCAL.
  auto plain = client.start_run(o.experiment_name, "plain");
  REQUIRE(plain.end().status_set);
  const auto p = client.get_run(plain.run_id());
  CHECK(p.data.tag("mlflow.source.type") == std::optional<std::string>("LOCAL"));
  CHECK(p.data.tag("mlflow.user") == std::optional<std::string>(expected_user()));
  CHECK(p.data.tag("mlflow.runName") == std::optional<std::string>("plain"));

  // system_tags = false: none of them.
  StartRunOptions bare;
  bare.experiment_id = run.experiment_id();
  bare.system_tags = false;
  auto b = client.start_run(bare);
  REQUIRE(b.end().status_set);
  const auto bg = client.get_run(b.run_id());
  CHECK_FALSE(bg.data.tag("mlflow.source.name").has_value());
  CHECK_FALSE(bg.data.tag("mlflow.source.type").has_value());
  CHECK_FALSE(bg.info.run_name.empty());  // the server picked a name
}

TEST_CASE("async: MLFLOW_EXPERIMENT_NAME chooses the experiment", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string name = testing::unique_name("itest-async-env-exp");
  std::string run_id, exp_id;
  {
    itest::EnvGuard id_guard("MLFLOW_EXPERIMENT_ID", nullptr);
    itest::EnvGuard run_guard("MLFLOW_RUN_ID", nullptr);
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", name.c_str());
    auto run = client.start_run(StartRunOptions{});
    run_id = run.run_id();
    exp_id = run.experiment_id();
    REQUIRE(run.end().status_set);
  }
  CHECK((std::getenv("MLFLOW_EXPERIMENT_NAME") == nullptr ||
         std::string(std::getenv("MLFLOW_EXPERIMENT_NAME")) != name));
  auto e = client.get_experiment_by_name(name);
  REQUIRE(e.has_value());  // created by start_run
  CHECK(e->experiment_id == exp_id);
  CHECK(exp_id != "0");
  CHECK(client.get_run(run_id).info.experiment_id == e->experiment_id);

  // An explicit experiment_name wins over the environment.
  const std::string other = name + "-explicit";
  {
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", name.c_str());
    StartRunOptions o;
    o.experiment_name = other;
    auto run = client.start_run(o);
    CHECK(run.experiment_id() == client.get_experiment_by_name(other).value().experiment_id);
    CHECK(run.experiment_id() != exp_id);
  }
}

TEST_CASE("async: MLFLOW_RUN_ID resumes an existing run", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  std::string id;
  {
    auto run = client.start_run(testing::unique_name("itest-async-resume"), "resumable");
    id = run.run_id();
    run.log_metric("m", 1.0, 1);
    REQUIRE(run.end().status_set);
  }
  REQUIRE(client.get_run(id).info.status == RunStatus::kFinished);

  itest::EnvGuard run_guard("MLFLOW_RUN_ID", id.c_str());
  auto resumed = client.start_run(StartRunOptions{});
  CHECK(std::getenv("MLFLOW_RUN_ID") == nullptr);  // read once, then unset (as Python)
  CHECK(resumed.run_id() == id);
  CHECK(resumed.info().status == RunStatus::kRunning);
  CHECK(client.get_run(id).info.status == RunStatus::kRunning);
  resumed.log_metric("m", 2.0, 2);
  REQUIRE(resumed.end().status_set);

  const auto got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kFinished);
  CHECK(got.info.run_name == "resumable");
  auto h = itest::sorted_history(client, id, "m");
  REQUIRE(h.size() == 2);
  CHECK(h[0].value == 1.0);
  CHECK(h[1].value == 2.0);
}

TEST_CASE("async: MLFLOW_EXPERIMENT_ID chooses an existing experiment", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string name = testing::unique_name("itest-async-env-id");
  const std::string exp = client.create_experiment(name);
  itest::EnvGuard run_guard("MLFLOW_RUN_ID", nullptr);
  {
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", nullptr);
    itest::EnvGuard id_guard("MLFLOW_EXPERIMENT_ID", exp.c_str());
    auto run = client.start_run(StartRunOptions{});
    CHECK(run.experiment_id() == exp);
    REQUIRE(run.end().status_set);
    CHECK(client.get_run(run.run_id()).info.experiment_id == exp);
  }
  {
    // Both set and agreeing: fine.
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", name.c_str());
    itest::EnvGuard id_guard("MLFLOW_EXPERIMENT_ID", exp.c_str());
    auto run = client.start_run(StartRunOptions{});
    CHECK(run.experiment_id() == exp);
  }
  {
    // Both set and disagreeing: refused.
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", name.c_str());
    itest::EnvGuard id_guard("MLFLOW_EXPERIMENT_ID", "0");
    CHECK_THROWS_AS(client.start_run(StartRunOptions{}), mlflowpp::InvalidArgumentError);
  }
  {
    // An id that does not exist: the server's 404.
    itest::EnvGuard name_guard("MLFLOW_EXPERIMENT_NAME", nullptr);
    itest::EnvGuard id_guard("MLFLOW_EXPERIMENT_ID", "987654321098");
    auto err = itest::thrown<mlflowpp::ServerError>([&] { client.start_run(StartRunOptions{}); });
    REQUIRE(err.has_value());
    CHECK(err->is_not_found());
  }
  mlflowpp::SearchRunsOptions so;
  CHECK(client.search_all_runs({exp}, so).size() == 2);
}

TEST_CASE("async: a moved ActiveRun ends once, through its new owner", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp_name = testing::unique_name("itest-async-move");
  std::string id;
  std::optional<mlflowpp::ActiveRun> holder;
  {
    auto run = client.start_run(exp_name, "moved");
    id = run.run_id();
    run.log_metric("before_move", 1.0, 0);
    holder.emplace(std::move(run));
  }  // the moved-from handle is destroyed here: the run must stay RUNNING
  CHECK(holder->run_id() == id);
  CHECK(client.get_run(id).info.status == RunStatus::kRunning);
  holder->log_metric("after_move", 2.0, 0);
  const auto res = holder->end(RunStatus::kKilled);
  CHECK(res.status_set);
  CHECK(res.flush.ok());
  const auto got = client.get_run(id);
  CHECK(got.info.status == RunStatus::kKilled);
  CHECK(got.data.metric("before_move").has_value());
  CHECK(got.data.metric("after_move").has_value());

  // Move-assigning over a live run ends the overwritten one (FINISHED).
  auto a = client.start_run(exp_name, "overwritten");
  auto b = client.start_run(exp_name, "kept");
  const std::string a_id = a.run_id(), b_id = b.run_id();
  a = std::move(b);
  CHECK(a.run_id() == b_id);
  CHECK(client.get_run(a_id).info.status == RunStatus::kFinished);
  CHECK(client.get_run(b_id).info.status == RunStatus::kRunning);
  REQUIRE(a.end().status_set);
  CHECK(client.get_run(b_id).info.status == RunStatus::kFinished);
}

TEST_CASE("async: resuming a deleted run is refused", "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  std::string id;
  {
    auto run = client.start_run(testing::unique_name("itest-async-resume-deleted"), "deleted");
    id = run.run_id();
  }
  client.delete_run(id);
  StartRunOptions o;
  o.run_id = id;
  CHECK_THROWS_AS(client.start_run(o), mlflowpp::InvalidArgumentError);
  CHECK(client.get_run(id).info.status == RunStatus::kFinished);
  // Resuming by explicit run_id (not the environment) with a new name.
  client.restore_run(id);
  o.run_name = "renamed-on-resume";
  auto resumed = client.start_run(o);
  CHECK(resumed.run_id() == id);
  REQUIRE(resumed.end().status_set);
  const auto got = client.get_run(id);
  CHECK(got.info.run_name == "renamed-on-resume");
  CHECK(got.info.status == RunStatus::kFinished);
}

TEST_CASE("async: items for a deleted run are refused as a whole, without bisecting",
          "[integration][async]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-async-deleted-run"));
  const std::string id = client.create_run(exp).info.run_id;
  client.delete_run(id);

  auto& logger = client.async_logger();
  for (int i = 0; i < 200; ++i) logger.log_metric(id, "m", i, i);
  logger.log_param(id, "p", "v");
  const auto res = logger.flush();
  CHECK(res.complete);
  CHECK(res.rejected == 201);
  const auto stats = logger.stats();
  CHECK(stats.rejected_by_server == 201);
  CHECK(stats.delivered == 0);
  CHECK(stats.requests <= 2);  // a run-level refusal is not split item by item
  const auto errs = errors.errors();
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].kind == LogError::Kind::kRejectedByServer);
  CHECK(errs[0].items == 201);
  CHECK(errs[0].run_id == id);
  CHECK(errs[0].http_status == 400);
  const auto got = client.get_run(id);
  CHECK(got.data.metrics.empty());
  CHECK(got.data.params.empty());
}
