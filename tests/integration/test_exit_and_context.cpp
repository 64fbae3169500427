// Process-level behaviour: a Client held in static objects drains and ends its run at
// exit; MLFLOW_RUN_CONTEXT overrides system tags instead of duplicating them.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

TEST_CASE("a Client and ActiveRun in static objects end the run at exit, data delivered", "[exit]") {
  if (!testing::have_server()) return;
  const std::string experiment = testing::unique_name("static-exit");
  const std::string cmd = std::string("MLFLOW_TRACKING_URI='") + testing::tracking_uri() + "' '" +
                          MLFLOWPP_BINARY_DIR + "/tests/static_exit_probe' '" + experiment + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int status = pclose(p);
  INFO(out);
  REQUIRE(status == 0);  // no crash at exit
  auto pos = out.rfind("run_id=");
  REQUIRE(pos != std::string::npos);
  std::string run_id = out.substr(pos + 7, 32);
  auto client = testing::client();
  auto run = client.get_run(run_id);
  CHECK(run.info.status == mlflowpp::RunStatus::kFinished);
  CHECK(run.info.end_time.has_value());
  CHECK(client.get_metric_history(run_id, "loss").size() == 50);
}

TEST_CASE("MLFLOW_RUN_CONTEXT overrides system tags of the same key", "[exit]") {
  if (!testing::have_server()) return;
  itest::EnvGuard ctx("MLFLOW_RUN_CONTEXT", R"({"mlflow.user":"ci-bot","team":"vision"})");
  auto client = testing::client();
  auto run = client.start_run(testing::unique_name("run-context"), "ctx");
  auto got = client.get_run(run.run_id());
  CHECK(got.data.tag("mlflow.user") == std::optional<std::string>("ci-bot"));
  CHECK(got.data.tag("team") == std::optional<std::string>("vision"));
  CHECK(got.data.tag("mlflow.runName") == std::optional<std::string>("ctx"));
  CHECK(run.end().status_set);
}

TEST_CASE("start_run: explicit arguments win over user tags, invalid tags refused before anything is sent",
          "[exit]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  mlflowpp::StartRunOptions o;
  o.experiment_name = testing::unique_name("precedence");
  o.run_name = "named";
  o.description = "the real note";
  o.tags = {{"mlflow.runName", "other"}, {"mlflow.note.content", "overridden"}, {"k", "v"}};
  auto run = client.start_run(o);
  auto got = client.get_run(run.run_id());
  CHECK(got.info.run_name == "named");
  CHECK(got.data.tag("mlflow.note.content") == std::optional<std::string>("the real note"));
  CHECK(got.data.tag("k") == std::optional<std::string>("v"));
  CHECK(run.end().status_set);

  mlflowpp::StartRunOptions bad;
  bad.run_id = run.run_id();  // resume: must not be set back to RUNNING when a tag is invalid
  bad.tags = {{"a//b", "x"}};
  CHECK_THROWS_AS(client.start_run(bad), mlflowpp::InvalidArgumentError);
  CHECK(client.get_run(run.run_id()).info.status == mlflowpp::RunStatus::kFinished);
}
