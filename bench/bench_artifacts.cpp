// Scenario e (bench/scenarios/e_artifacts.py): one large artifact up or down through the
// tracking server's artifact proxy with the public Client API, timed, with the process's
// peak memory (VmHWM of /proc/self/status) before and after the transfer. Prints one JSON
// object on stdout.
//
//   mlflowpp_bench_artifacts upload   RUN_ID LOCAL_FILE ARTIFACT_DIR
//   mlflowpp_bench_artifacts download RUN_ID ARTIFACT_PATH LOCAL_DIR
//
// The server is MLFLOW_TRACKING_URI. One untimed request (get_run) comes first, so that
// libcurl, its connection and the JSON parser are set up before the measurement starts.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

#include "proc_util.hpp"

namespace {

/// `s` as a JSON string (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string op = argc > 1 ? argv[1] : "";
  if (argc != 5 || (op != "upload" && op != "download")) {
    std::fprintf(stderr,
                 "usage: %s upload RUN_ID LOCAL_FILE ARTIFACT_DIR | download RUN_ID ARTIFACT_PATH LOCAL_DIR\n"
                 "(the server is MLFLOW_TRACKING_URI)\n",
                 argv[0]);
    return 2;
  }
  auto options = mlflowpp::ClientOptions::from_env();
  options.logger.report_errors_to_stderr = false;
  mlflowpp::Client client(options);
  const std::string run_id = argv[2];
  (void)client.get_run(run_id);

  int64_t calls = 0, last_done = -1;
  auto artifact_options = mlflowpp::ArtifactOptions::from_env();
  artifact_options.progress = [&](const mlflowpp::TransferProgress& p) {
    ++calls;
    last_done = p.bytes_done;
  };

  const long before = bench::status_kib("VmHWM");
  const auto t0 = std::chrono::steady_clock::now();
  std::string local;  // the downloaded file
  if (op == "upload")
    client.log_artifact(run_id, argv[3], argv[4], artifact_options);
  else
    local = client.download_artifacts(run_id, argv[3], argv[4], artifact_options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long after = bench::status_kib("VmHWM");
  const auto bytes = static_cast<long long>(std::filesystem::file_size(op == "upload" ? argv[3] : local));
  std::printf(
      "{\"client\": \"mlflowpp\", \"op\": \"%s\", \"bytes\": %lld, \"seconds\": %.6f, \"hwm_before_kib\": "
      "%ld, "
      "\"hwm_after_kib\": %ld, \"progress_calls\": %lld, \"progress_last\": %lld, \"path\": %s}\n",
      op.c_str(), bytes, seconds, before, after, static_cast<long long>(calls),
      static_cast<long long>(last_done), json_string(local).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
