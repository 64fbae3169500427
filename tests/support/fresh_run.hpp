#pragma once
// For the integration tests: a client of the test server (tests/integration/server.hpp), a
// new experiment of the test's own and a run in it, the start most tests share.
//
//   if (!testing::have_server()) return;
//   auto [client, experiment_id, run_id] = support::fresh_run("itest-something");
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <utility>

#include "integration/server.hpp"

namespace support {

struct FreshRun {
  mlflowpp::Client client;
  std::string experiment_id;
  std::string run_id;  ///< RUNNING, created with the client's create_run (not an ActiveRun)
};

/// A client over `options`, a new experiment named testing::unique_name(prefix) and a run
/// in it. Call after testing::have_server().
inline FreshRun fresh_run(const std::string& prefix, mlflowpp::ClientOptions options = testing::options()) {
  mlflowpp::Client client(std::move(options));
  std::string experiment_id = client.create_experiment(testing::unique_name(prefix));
  std::string run_id = client.create_run(experiment_id).info.run_id;
  return FreshRun{std::move(client), std::move(experiment_id), std::move(run_id)};
}

}  // namespace support
