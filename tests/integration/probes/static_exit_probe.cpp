// Holds a Client and an ActiveRun in objects with static storage duration (a unique_ptr
// and an optional, constructed before main) and returns from main without ending the run:
// at exit the run must end FINISHED with its queued metric delivered, without a crash.
// Prints run_id=<id>; test_exit_and_context.cpp checks the server.
#include <cstdio>
#include <memory>
#include <mlflowpp/mlflowpp.hpp>
#include <optional>

static std::unique_ptr<mlflowpp::Client> g_client;
static std::optional<mlflowpp::ActiveRun> g_run;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  g_client = std::make_unique<mlflowpp::Client>(mlflowpp::Client::from_env());
  g_run.emplace(g_client->start_run(argv[1], "static-exit"));
  for (int64_t step = 0; step < 50; ++step)
    g_run->log_metric("loss", 1.0 / static_cast<double>(step + 1), step);
  std::printf("run_id=%s\n", g_run->run_id().c_str());
  std::fflush(stdout);
  return 0;  // g_run, then g_client, are destroyed after main: drain, FINISHED
}
