// A run logged from C++ (ActiveRun, async) and read back by MLflow's official Python
// client (tests/integration/readback.py), which compares it to the expected state exactly.
#include <fmt/format.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/python.hpp"

namespace {

using itest::append_json_map;
using itest::append_json_string;

struct Point {
  int64_t step;
  int64_t timestamp;
  double value;
};

struct Expected {
  std::string status = "FINISHED";
  std::string experiment_id;
  std::string run_name;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::vector<Point>> metrics;
};

// The expected state as JSON, written by the tests' own writer (itest_util.hpp) rather than
// with mlflowpp's, so that a bug in the library's serialization cannot cancel out.
void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    out += fmt::format("{:.17g}", v);  // 17 significant digits: exact for every double
  }
}

std::string to_json(const Expected& e) {
  std::string out = "{\"status\":";
  append_json_string(out, e.status);
  out += ",\"experiment_id\":";
  append_json_string(out, e.experiment_id);
  out += ",\"run_name\":";
  append_json_string(out, e.run_name);
  out += ",\"params\":";
  append_json_map(out, e.params);
  out += ",\"tags\":";
  append_json_map(out, e.tags);
  out += ",\"metrics\":{";
  bool first_key = true;
  for (const auto& [k, points] : e.metrics) {
    if (!first_key) out += ',';
    first_key = false;
    append_json_string(out, k);
    out += ":[";
    for (std::size_t i = 0; i < points.size(); ++i) {
      if (i > 0) out += ',';
      out += fmt::format("[{},{},", points[i].step, points[i].timestamp);
      append_double(out, points[i].value);
      out += ']';
    }
    out += ']';
  }
  out += "}}\n";
  return out;
}

using itest::read_file;
using itest::shell_quote;

struct ReadbackResult {
  int exit_code = -1;
  std::string output;
};

ReadbackResult run_readback(const std::string& python, const std::string& run_id, const Expected& expected,
                            const std::string& tag) {
  const std::string base =
      std::string(MLFLOWPP_BINARY_DIR) + "/" + testing::unique_name("itest-readback-" + tag);
  const std::string json_path = base + ".json";
  const std::string log_path = base + ".log";
  {
    std::ofstream f(json_path, std::ios::binary);
    f << to_json(expected);
  }
  const std::string cmd = shell_quote(python) + " " +
                          shell_quote(std::string(MLFLOWPP_SOURCE_DIR) + "/tests/integration/readback.py") +
                          " --tracking-uri " + shell_quote(testing::tracking_uri()) + " --run-id " +
                          shell_quote(run_id) + " --expected " + shell_quote(json_path) + " > " +
                          shell_quote(log_path) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  ReadbackResult r;
  r.exit_code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  r.output = read_file(log_path);
  if (r.exit_code == 0 || tag == "tampered") {
    std::remove(json_path.c_str());
    std::remove(log_path.c_str());
  }
  return r;
}

}  // namespace

TEST_CASE("readback: a run logged from C++ matches what the Python client reads", "[integration][readback]") {
  if (!testing::have_server()) return;
  const std::string python = support::python_or_skip();
  if (python.empty()) return;

  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp_name = testing::unique_name("itest-readback");
  auto run = client.start_run(exp_name, "readback-run");

  Expected want;
  want.run_name = "readback-run";
  want.experiment_id = run.experiment_id();
  want.params = {{"lr", "0.01"},
                 {"optimizer", "adam"},
                 {"note", "grün ✓ \"quoted\" back\\slash\nnew line\ttab"},
                 {"long_é", std::string(3000, 'a') + "éé"},
                 {"empty", ""}};
  want.tags = {{"team", "ml"},
               {"unicode", "损失 ✓ émoji 😀"},
               {"mlflow.runName", "readback-run"},
               {"mlflow.source.type", "LOCAL"}};
  for (const auto& [k, v] : want.params) run.log_param(k, v);
  run.set_tags({{"team", "ml"}, {"unicode", "损失 ✓ émoji 😀"}});

  const int64_t base_ts = testing::now_ms() - 1000000;
  auto& loss = want.metrics["grün/loss"];
  for (int i = 0; i < 400; ++i) {
    double v = std::exp(-0.01 * i) + 0.001 * std::sin(i);  // not "nice" doubles
    if (i == 150) v = std::numeric_limits<double>::quiet_NaN();
    loss.push_back({i, base_ts + 3 * i, v});
  }
  auto& big = want.metrics["big_step"];
  big = {{(int64_t{1} << 31) + 1, base_ts, 1.5},
         {(int64_t{1} << 33), base_ts + 1, -2.25},
         {(int64_t{1} << 53) + 1, base_ts + 2, 1e-300},
         {-7, base_ts + 3, 123456.789}};
  auto& acc = want.metrics["accuracy"];
  for (int epoch = 1; epoch <= 5; ++epoch) acc.push_back({epoch, base_ts + 1000 * epoch, 0.8 + 0.03 * epoch});
  for (const auto& [k, points] : want.metrics)
    for (const auto& p : points) run.log_metric(k, p.value, p.step, p.timestamp);

  const auto res = run.end();
  REQUIRE(res.flush.ok());
  REQUIRE(res.status_set);
  CHECK(errors.errors().empty());

  const auto ok = run_readback(python, run.run_id(), want, "expected");
  INFO("readback.py output:\n" << ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(itest::contains(ok.output, "readback: OK"));

  // The comparison itself must be able to fail: a changed value is a mismatch.
  Expected tampered = want;
  tampered.params["lr"] = "0.02";
  tampered.metrics["grün/loss"][10].value += 1e-12;
  const auto bad = run_readback(python, run.run_id(), tampered, "tampered");
  INFO("readback.py output (tampered):\n" << bad.output);
  CHECK(bad.exit_code == 1);
  CHECK(itest::contains(bad.output, "MISMATCH param \"lr\""));
  CHECK(itest::contains(bad.output, "MISMATCH metric \"grün/loss\" point 10"));
}
