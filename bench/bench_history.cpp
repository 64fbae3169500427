// Scenario f (bench/scenarios/f_history.py): reading a long metric history. Three modes, each
// printing one JSON object on stdout:
//
//   mlflowpp_bench_history log POINTS        log POINTS points of "loss" (steps 0..POINTS-1)
//                                            in a new run through the asynchronous logger
//   mlflowpp_bench_history read RUN_ID KEY POINTS
//                                            time Client::get_metric_history (after one
//                                            untimed request, so that libcurl and its
//                                            connection are set up) and check the points
//   mlflowpp_bench_history parse POINTS FILE...
//                                            the floor of "curl plus parsing": the bodies curl
//                                            fetched (read untimed), parsed with simdjson into
//                                            std::vector<mlflowpp::Metric> — the same result
//                                            as the client's — and checked
//
// The server is MLFLOW_TRACKING_URI. A check ("steps_ok") holds when there are exactly POINTS
// points whose steps are 0..POINTS-1, each once.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <mlflowpp/mlflowpp.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "proc_util.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool steps_ok(const std::vector<mlflowpp::Metric>& metrics, int64_t points) {
  if (static_cast<int64_t>(metrics.size()) != points) return false;
  std::vector<int64_t> steps;
  steps.reserve(metrics.size());
  for (const auto& m : metrics) steps.push_back(m.step);
  std::sort(steps.begin(), steps.end());
  for (int64_t i = 0; i < points; ++i)
    if (steps[static_cast<size_t>(i)] != i) return false;
  return true;
}

int log_points(int64_t points) {
  auto client = mlflowpp::Client::from_env();
  auto run = client.start_run("bench-history", "history-" + std::to_string(points));
  const auto t0 = Clock::now();
  for (int64_t step = 0; step < points; ++step)
    run.log_metric("loss", 1.0 / static_cast<double>(step + 1), step);
  const auto result = run.end();
  const bool ok = result.flush.ok() && result.status_set;
  std::printf("{\"run_id\": \"%s\", \"points\": %lld, \"seconds\": %.3f, \"ok\": %s}\n", run.run_id().c_str(),
              static_cast<long long>(points), since(t0), ok ? "true" : "false");
  return ok ? 0 : 1;
}

int read_history(const std::string& run_id, const std::string& key, int64_t points) {
  auto client = mlflowpp::Client::from_env();
  (void)client.get_run(run_id);  // untimed: libcurl, the connection and the parser set up
  const double c0 = bench::process_cpu_s();
  const auto t0 = Clock::now();
  const auto history = client.get_metric_history(run_id, key);
  const double seconds = since(t0);
  const double cpu = bench::process_cpu_s() - c0;
  std::printf(
      "{\"reader\": \"mlflowpp\", \"seconds\": %.6f, \"cpu_s\": %.6f, \"points\": %zu, \"steps_ok\": %s}\n",
      seconds, cpu, history.size(), steps_ok(history, points) ? "true" : "false");
  return 0;
}

// A string field of a metric ("" when absent), as the client reads it.
std::string field_string(simdjson::dom::object o, const char* name) {
  std::string_view v;
  if (o[name].get(v)) return {};
  return std::string(v);
}

int parse_bodies(int64_t points, const std::vector<std::string>& files) {
  std::vector<simdjson::padded_string> bodies;
  size_t bytes = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + f);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes += s.size();
    bodies.emplace_back(s);
  }
  simdjson::dom::parser parser;
  const auto t0 = Clock::now();
  std::vector<mlflowpp::Metric> all;
  for (const auto& body : bodies) {
    simdjson::dom::object doc = parser.parse(body).get_object().value();
    simdjson::dom::array metrics;
    if (doc["metrics"].get(metrics)) continue;  // an empty page has no "metrics"
    for (simdjson::dom::object o : metrics) {
      mlflowpp::Metric m;
      m.key = field_string(o, "key");
      // MLflow writes NaN and infinities as strings; a history of finite values has none.
      double value = 0;
      if (o["value"].get(value)) value = 0;
      m.value = value;
      int64_t i = 0;
      m.timestamp = o["timestamp"].get(i) ? 0 : i;
      m.step = o["step"].get(i) ? 0 : i;
      m.dataset_name = field_string(o, "dataset_name");
      m.dataset_digest = field_string(o, "dataset_digest");
      m.model_id = field_string(o, "model_id");
      m.run_id = field_string(o, "run_id");
      all.push_back(std::move(m));
    }
  }
  const double seconds = since(t0);
  std::printf(
      "{\"reader\": \"simdjson\", \"seconds\": %.6f, \"points\": %zu, \"steps_ok\": %s, \"bytes\": %zu, "
      "\"pages\": %zu}\n",
      seconds, all.size(), steps_ok(all, points) ? "true" : "false", bytes, files.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "log" && argc == 3) return log_points(std::atoll(argv[2]));
  if (mode == "read" && argc == 5) return read_history(argv[2], argv[3], std::atoll(argv[4]));
  if (mode == "parse" && argc >= 4) return parse_bodies(std::atoll(argv[2]), {argv + 3, argv + argc});
  std::fprintf(stderr,
               "usage: %s log POINTS | read RUN_ID KEY POINTS | parse POINTS FILE...\n"
               "(the server is MLFLOW_TRACKING_URI)\n",
               argv[0]);
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
