// Issue 15 point 4, "natural C++ calls", against the real backends: params logged from
// numbers and bools read back by MLflow's official Python client equal Python's str() of the
// same Python values (and the Python client can log them again without a conflict); metrics
// from standard maps; the run-level artifact and dataset calls of ActiveRun.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"

namespace {

// Reads the run back with the official client. Each expected param value is Python's str()
// of the Python value written beside it; then the Python client logs every one of them again
// with that same Python value, which MLflow refuses if the stored text differs.
const char* kCheck = R"py(
import json, logging, os, sys, tempfile
logging.disable(logging.CRITICAL)
from mlflow.tracking import MlflowClient
uri, run_id = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri)
run = client.get_run(run_id)
python_values = {
    "lr": 0.1, "epochs": 10, "amp": True, "eps": 1e-05, "big": 1e16, "f32": 2.5,
    "name": "mlp", "s": "std string", "p_lr": 0.1, "p_epochs": 10, "p_name": "mlp",
    "p_off": False, "p_neg": -0.0, "m_int": 3, "u_double": 10.0, "u_tiny": 0.00012345,
}
bad = []
for key, value in python_values.items():
    got = run.data.params.get(key)
    if got != str(value):
        bad.append(f"param {key}: stored {got!r}, Python's str() is {str(value)!r}")
if set(run.data.params) != set(python_values):
    bad.append(f"params: {sorted(run.data.params)}")
for key, value in python_values.items():
    try:
        client.log_param(run_id, key, value)  # the same value again: no conflict
    except Exception as e:
        bad.append(f"re-logging {key}={value!r} from Python: {e}")
want_metrics = {"map_float": 0.5, "map_float2": 2.25, "umap_int": 7.0, "umap_int2": -3.0}
if run.data.metrics != want_metrics:
    bad.append(f"metrics: {run.data.metrics}")
paths = sorted([f.path for f in client.list_artifacts(run_id)] +
               [f.path for f in client.list_artifacts(run_id, "dir")])
want_paths = ["config.json", "dir", "dir/a.txt", "dir/sub", "notes.txt", "params.json", "upload"]
if paths != want_paths:
    bad.append(f"artifacts: {paths}")
with tempfile.TemporaryDirectory() as d:
    p = client.download_artifacts(run_id, "notes.txt", d)
    if open(p).read() != "hello from C++":
        bad.append("notes.txt content")
    p = client.download_artifacts(run_id, "config.json", d)
    if json.load(open(p)) != {"layers": [64, 10]}:
        bad.append("config.json content")
    p = client.download_artifacts(run_id, "params.json", d)
    if json.load(open(p)) != {"a": "1", "b": "two"}:
        bad.append("params.json content")
    p = client.download_artifacts(run_id, "upload/file.txt", d)
    if open(p).read() != "file body":
        bad.append("upload/file.txt content")
names = sorted(i.dataset.name for i in run.inputs.dataset_inputs)
if names != ["digits", "digits-test"]:
    bad.append(f"datasets: {names}")
for b in bad:
    print("MISMATCH", b)
print("natural: OK" if not bad else "natural: FAILED")
sys.exit(1 if bad else 0)
)py";

struct Proc {
  int exit_code = -1;
  std::string output;
};

Proc run_check(const std::string& python, const std::string& run_id, const support::TempDir& dir) {
  const std::string script = (dir / "check.py").string();
  std::ofstream(script) << kCheck;
  const std::string cmd = "MLFLOW_DISABLE_TELEMETRY=true " + itest::shell_quote(python) + " " +
                          itest::shell_quote(script) + " " + itest::shell_quote(testing::tracking_uri()) +
                          " " + itest::shell_quote(run_id) + " 2>&1";
  Proc p;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return p;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) p.output.append(buf, n);
  const int rc = pclose(f);
  p.exit_code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  return p;
}

mlflowpp::DatasetInput dataset(const std::string& name) {
  mlflowpp::DatasetInput in;
  in.dataset.name = name;
  in.dataset.digest = "d-" + name;
  in.dataset.source_type = "local";
  in.dataset.source = R"({"uri": "/data/)" + name + R"("})";
  in.tags.push_back({"mlflow.data.context", "train"});
  return in;
}

}  // namespace

TEST_CASE("natural calls: numeric params read back as Python's str, maps of metrics, run artifacts",
          "[integration][natural]") {
  if (!testing::have_server()) return;
  const std::string python = support::python_or_skip("the Python client reads the run back");
  if (python.empty()) return;
  support::TempDir dir("natural");
  {
    std::ofstream(dir / "file.txt") << "file body";
    std::filesystem::create_directories(dir / "tree/sub");
    std::ofstream(dir / "tree/a.txt") << "a";
    std::ofstream(dir / "tree/sub/b.txt") << "b";
  }

  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  auto run = client.start_run(testing::unique_name("itest-natural"), "natural-run");

  run.log_param("lr", 0.1);
  run.log_param("epochs", 10);
  run.log_param("amp", true);
  run.log_param("eps", 1e-05);
  run.log_param("big", 1e16);
  run.log_param("f32", 2.5f);
  run.log_param("name", "mlp");
  run.log_param("s", std::string("std string"));
  run.log_params({{"p_lr", 0.1}, {"p_epochs", 10}, {"p_name", "mlp"}, {"p_off", false}, {"p_neg", -0.0}});
  run.log_params(std::map<std::string, int>{{"m_int", 3}});
  run.log_params(std::unordered_map<std::string, double>{{"u_double", 10.0}, {"u_tiny", 0.00012345}});
  // The same values again, some computed differently: the same text, so no conflict.
  run.log_param("lr", 1.0 / 10.0);
  run.log_param("epochs", int64_t{10});
  run.log_params({{"big", 1e16}, {"amp", true}});

  run.log_metrics(std::map<std::string, float>{{"map_float", 0.5f}, {"map_float2", 2.25f}}, 1);
  run.log_metrics(std::unordered_map<std::string, int>{{"umap_int", 7}, {"umap_int2", -3}}, 1);

  run.log_text("hello from C++", "notes.txt");
  run.log_dict(R"({"layers": [64, 10]})", "config.json");
  run.log_dict(std::map<std::string, std::string>{{"a", "1"}, {"b", "two"}}, "params.json");
  run.log_artifact((dir / "file.txt").string(), "upload");
  const mlflowpp::LogArtifactsResult tree = run.log_artifacts((dir / "tree").string(), "dir");
  CHECK(tree.files == 2);
  run.log_input(dataset("digits"));
  run.log_inputs({dataset("digits-test")});

  const auto res = run.end();
  REQUIRE(res.flush.ok());
  REQUIRE(res.status_set);
  for (const auto& e : errors.errors()) INFO(e.message);
  CHECK(errors.errors().empty());

  const Proc p = run_check(python, run.run_id(), dir);
  INFO("python output:\n" << p.output);
  CHECK(p.exit_code == 0);
  CHECK(itest::contains(p.output, "natural: OK"));
}
