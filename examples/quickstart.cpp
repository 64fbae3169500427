// The README's quickstart as a program: start a run, log in a loop, end.
#include <cmath>
#include <cstdio>
#include <exception>
#include <mlflowpp/mlflowpp.hpp>

int main() try {
  mlflowpp::install_signal_handlers();         // SIGTERM/SIGINT: drain, end the run KILLED
  auto client = mlflowpp::Client::from_env();  // MLFLOW_TRACKING_URI, credentials, TLS, retries
  auto run = client.start_run("quickstart", "hello-mlflowpp");
  run.log_params({{"lr", 0.1}, {"hidden", 64}});  // stored as Python's str(): "0.1", "64"
  for (int64_t step = 0; step < 100; ++step)
    run.log_metric("loss", std::exp(-0.05 * static_cast<double>(step)), step);  // enqueue only
  auto result = run.end();  // drains the queue, then marks the run FINISHED
  std::printf("run_id=%s: %s\n", run.run_id().c_str(), result.summary().c_str());
  return result.flush.ok() && result.status_set ? 0 : 1;
} catch (const std::exception& e) {
  // Catch everything in main: an exception that escapes main terminates the program without
  // unwinding the stack, so the run would neither end FAILED nor deliver its queued data.
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
