// A small program that uploads or downloads one artifact with mlflowpp and reports the
// transfer's time and the process's peak memory (VmHWM) before and after it. Run as a
// child process by the large-artifact integration test (so that the measurement is not
// disturbed by the test runner's own allocations). scripts/bench.sh (scenario e) measures the
// same with bench/bench_artifacts.cpp.
//
//   artifact_probe upload   TRACKING_URI RUN_ID LOCAL_FILE ARTIFACT_DIR
//   artifact_probe download TRACKING_URI RUN_ID ARTIFACT_PATH LOCAL_DIR
//
// Prints one line: "probe: op=... bytes=N seconds=S mib_per_s=X hwm_before_kib=A
// hwm_after_kib=B progress_calls=C progress_last=D/T" and exits 0, or prints the error
// and exits 1.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

namespace {

/// A field of /proc/self/status in KiB (VmHWM: peak resident set size), -1 if unreadable.
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s upload|download TRACKING_URI RUN_ID SOURCE DESTINATION\n", argv[0]);
    return 2;
  }
  const std::string op = argv[1];
  try {
    mlflowpp::ClientOptions options;
    options.tracking_uri = argv[2];
    options.logger.report_errors_to_stderr = false;
    mlflowpp::Client client(options);
    const std::string run_id = argv[3];
    // One request first: libcurl, its connection and the JSON parser are set up before
    // the measurement starts.
    (void)client.get_run(run_id);

    int64_t calls = 0, last_done = -1, last_total = -1;
    auto artifact_options = mlflowpp::ArtifactOptions::from_env();
    artifact_options.progress = [&](const mlflowpp::TransferProgress& p) {
      ++calls;
      last_done = p.bytes_done;
      last_total = p.bytes_total;
    };

    const long before = status_kib("VmHWM");
    const auto t0 = std::chrono::steady_clock::now();
    int64_t bytes = 0;
    if (op == "upload") {
      client.log_artifact(run_id, argv[4], argv[5], artifact_options);
      bytes = static_cast<int64_t>(std::filesystem::file_size(argv[4]));
    } else if (op == "download") {
      const std::string local = client.download_artifacts(run_id, argv[4], argv[5], artifact_options);
      bytes = static_cast<int64_t>(std::filesystem::file_size(local));
    } else {
      std::fprintf(stderr, "unknown operation '%s'\n", op.c_str());
      return 2;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long after = status_kib("VmHWM");
    std::printf(
        "probe: op=%s bytes=%lld seconds=%.3f mib_per_s=%.1f hwm_before_kib=%ld hwm_after_kib=%ld "
        "progress_calls=%lld progress_last=%lld/%lld\n",
        op.c_str(), static_cast<long long>(bytes), seconds,
        seconds > 0 ? static_cast<double>(bytes) / 1048576.0 / seconds : 0.0, before, after,
        static_cast<long long>(calls), static_cast<long long>(last_done), static_cast<long long>(last_total));
    return 0;
  } catch (const std::exception& e) {
    std::printf("probe: error: %s\n", e.what());
    return 1;
  }
}
