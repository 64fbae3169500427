// A downstream program that uses mlflowpp the way a user would: through the umbrella
// header only, against the server named by MLFLOW_TRACKING_URI. Shared by the
// FetchContent and the find_package consumer projects (tests/consumer/*/CMakeLists.txt);
// run by tests/consumer/run_consumers.cmake. Prints "consumer OK run_id=..." and exits 0
// when everything logged was read back; otherwise prints what is wrong and exits 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <mlflowpp/mlflowpp.hpp>
#include <random>
#include <string>
#include <vector>

#ifndef MLFLOWPP_CONSUMER_KIND
#define MLFLOWPP_CONSUMER_KIND "unknown"
#endif

namespace {

constexpr int kPoints = 10;

double loss_at(int step) { return 1.0 / (1.0 + step); }

// Unique per process: wall clock in ns plus a random number (two consumers may run in
// the same nanosecond tick on a coarse clock; the random part tells them apart).
std::string unique_suffix() {
  const auto ns = std::chrono::system_clock::now().time_since_epoch().count();
  std::random_device rd;
  return std::to_string(ns) + "-" + std::to_string(rd() % 1000000u);
}

}  // namespace

int main() {
  const std::string kind = MLFLOWPP_CONSUMER_KIND;
  std::vector<std::string> problems;
  std::string run_id;
  try {
    if (std::string(mlflowpp::version()) != MLFLOWPP_VERSION_STRING) {
      problems.push_back(std::string("library version ") + mlflowpp::version() +
                         " does not match header version " MLFLOWPP_VERSION_STRING);
    }
#ifdef MLFLOWPP_CONSUMER_EXPECT_VERSION
    if (std::string(mlflowpp::version()) != MLFLOWPP_CONSUMER_EXPECT_VERSION) {
      problems.push_back(std::string("library version ") + mlflowpp::version() +
                         " does not match the CMake package version " MLFLOWPP_CONSUMER_EXPECT_VERSION);
    }
#endif

    auto client = mlflowpp::Client::from_env();
    const std::string experiment = "consumer-" + kind + "-" + unique_suffix();
    auto run = client.start_run(experiment, "consumer");
    run_id = run.run_id();

    run.log_param("consumer_kind", kind);
    for (int step = 0; step < kPoints; ++step) run.log_metric("loss", loss_at(step), step);
    run.set_tag("consumer.tag", "tagged-" + kind);
    auto r = run.end();
    if (!r.flush.ok()) {
      problems.push_back("flush not ok: complete=" + std::to_string(r.flush.complete) + " pending=" +
                         std::to_string(r.flush.pending) + " rejected=" + std::to_string(r.flush.rejected) +
                         " dropped=" + std::to_string(r.flush.dropped));
    }
    if (!r.status_set) problems.push_back("end(): status not set: " + r.error);

    const mlflowpp::Run got = client.get_run(run_id);
    if (got.info.status != mlflowpp::RunStatus::kFinished) {
      problems.push_back(std::string("status is ") + mlflowpp::to_string(got.info.status) +
                         ", expected FINISHED");
    }
    if (!got.info.end_time) problems.push_back("end_time not set");
    if (got.info.run_name != "consumer") problems.push_back("run_name is '" + got.info.run_name + "'");
    const auto param = got.data.param("consumer_kind");
    if (!param || *param != kind) {
      problems.push_back("param consumer_kind is " + (param ? "'" + *param + "'" : std::string("missing")) +
                         ", expected '" + kind + "'");
    }
    const auto tag = got.data.tag("consumer.tag");
    if (!tag || *tag != "tagged-" + kind) {
      problems.push_back("tag consumer.tag is " + (tag ? "'" + *tag + "'" : std::string("missing")));
    }

    auto history = client.get_metric_history(run_id, "loss");
    if (history.size() != static_cast<size_t>(kPoints)) {
      problems.push_back("metric history has " + std::to_string(history.size()) + " points, expected " +
                         std::to_string(kPoints));
    } else {
      std::sort(history.begin(), history.end(),
                [](const mlflowpp::Metric& a, const mlflowpp::Metric& b) { return a.step < b.step; });
      for (int step = 0; step < kPoints; ++step) {
        const auto& m = history[static_cast<size_t>(step)];
        if (m.step != step || std::fabs(m.value - loss_at(step)) > 1e-12) {
          problems.push_back("point " + std::to_string(step) + " is (step " + std::to_string(m.step) +
                             ", value " + std::to_string(m.value) + ")");
        }
      }
    }
  } catch (const std::exception& e) {
    problems.push_back(std::string("exception: ") + e.what());
  }

  if (!problems.empty()) {
    std::cout << "consumer FAILED (" << kind << ", run_id=" << (run_id.empty() ? "-" : run_id) << "):\n";
    for (const auto& p : problems) std::cout << "  - " << p << "\n";
    return 1;
  }
  std::cout << "consumer OK run_id=" << run_id << " (" << kind << ", mlflowpp " << mlflowpp::version() << ")"
            << std::endl;
  return 0;
}
