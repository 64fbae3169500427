// Logs a file or a directory as artifacts of a new run, with a terminal progress bar, lists
// what the server holds, and downloads it back.
//
//   MLFLOW_TRACKING_URI=http://127.0.0.1:5000 artifacts_demo PATH [ARTIFACT_PATH] [DOWNLOAD_DIR]
//
// PATH is a file or a directory; ARTIFACT_PATH (default "") is where it goes under the run's
// artifact root; DOWNLOAD_DIR (default ./artifacts_demo_download) is where it comes back.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mlflowpp/mlflowpp.hpp>
#include <string>

namespace {

/// A one-line progress bar on stderr for mlflowpp::ArtifactOptions::progress: redrawn at
/// most ten times a second, and once more when a file completes. Copy it into your program.
class ProgressBar {
 public:
  void operator()(const mlflowpp::TransferProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.artifact_path != path_ || p.bytes_done < last_done_) {  // a new file, or a retry
      path_ = p.artifact_path;
      start_ = now;
    }
    last_done_ = p.bytes_done;
    const bool done = p.bytes_total >= 0 && p.bytes_done == p.bytes_total;
    if (!done && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    constexpr int kWidth = 30;
    const double fraction =
        p.bytes_total > 0 ? static_cast<double>(p.bytes_done) / p.bytes_total : (done ? 1 : 0);
    const int filled = static_cast<int>(fraction * kWidth);
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double mib = static_cast<double>(p.bytes_done) / 1048576.0;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '-');
    std::fprintf(stderr, "\r%s [%s] %3.0f%% %9.1f MiB %7.1f MiB/s  %-40.40s",
                 p.direction == mlflowpp::TransferDirection::kUpload ? "up  " : "down", bar.c_str(),
                 100.0 * fraction, mib, seconds > 0 ? mib / seconds : 0.0, p.artifact_path.c_str());
    if (done) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::string path_;
  int64_t last_done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_{};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s PATH [ARTIFACT_PATH] [DOWNLOAD_DIR]\n", argv[0]);
    return 2;
  }
  const std::string local = argv[1];
  const std::string artifact_path = argc > 2 ? argv[2] : "";
  const std::string download_dir = argc > 3 ? argv[3] : "artifacts_demo_download";
  try {
    auto client = mlflowpp::Client::from_env();
    auto run = client.start_run("artifacts-demo");
    ProgressBar bar;
    auto options = mlflowpp::ArtifactOptions::from_env();
    options.progress = [&bar](const mlflowpp::TransferProgress& p) { bar(p); };

    if (std::filesystem::is_directory(local)) {
      const auto result = client.log_artifacts(run.run_id(), local, artifact_path, options);
      std::cout << "uploaded " << result.files << " files, " << result.bytes << " bytes\n";
      for (const auto& dir : result.empty_dirs_skipped)
        std::cout << "  (empty folder not stored by the artifact proxy: " << dir << ")\n";
    } else {
      client.log_artifact(run.run_id(), local, artifact_path, options);
    }

    std::cout << "artifacts of run " << run.run_id() << ":\n";
    for (const auto& f : client.list_artifacts_recursive(run.run_id()))
      std::cout << "  " << f.path
                << (f.is_dir ? "/" : "  " + std::to_string(f.file_size.value_or(0)) + " bytes") << "\n";

    const std::string where = client.download_artifacts(run.run_id(), "", download_dir, options);
    std::cout << "downloaded into " << where << "\n";
    const mlflowpp::EndRunResult ended = run.end();
    if (!ended.status_set && !ended.status_spooled) {
      std::fprintf(stderr, "could not end run %s: %s\n", run.run_id().c_str(), ended.error.c_str());
      return 1;
    }
    return 0;
  } catch (const mlflowpp::Error& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  }
}
