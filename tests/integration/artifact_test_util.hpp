#pragma once
// Helpers of the artifact integration tests: scratch directories, generated files, tree
// comparison, a transport wrapper that records every request, and running the Python
// cross-check script.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "api/client_access.hpp"
#include "detail/http/http.hpp"
#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/python.hpp"
#include "support/temp_dir.hpp"

namespace atest {

namespace fs = std::filesystem;

/// A fresh directory, removed with everything in it at the end (tests/support/temp_dir.hpp).
using support::TempDir;

inline std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng() & 0xff);
  return s;
}

inline void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << data;
  REQUIRE(out.good());
}

inline std::string read_file(const fs::path& p) { return itest::read_file(p.string()); }

/// {relative '/'-separated path: content} of every file under `root`, and "path/" for
/// every empty directory.
inline std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const std::string rel = fs::relative(it->path(), root).generic_u8string();
    if (it->is_directory()) {
      if (fs::is_empty(it->path())) out[rel + "/"] = "";
    } else {
      out[rel] = read_file(it->path());
    }
  }
  return out;
}

/// A transport that records the method and URL of every request and passes it on to
/// libcurl.
class RecordingTransport final : public mlflowpp::detail::Transport {
 public:
  explicit RecordingTransport(const mlflowpp::ClientOptions& o)
      : inner_(mlflowpp::detail::make_curl_transport(o)) {}
  mlflowpp::detail::HttpResponse perform(const mlflowpp::detail::HttpRequest& r) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      seen_.push_back(r.method + " " + r.url);
    }
    return inner_->perform(r);
  }
  std::vector<std::string> seen() const {
    std::lock_guard<std::mutex> lk(mu_);
    return seen_;
  }
  void clear() {
    std::lock_guard<std::mutex> lk(mu_);
    seen_.clear();
  }

 private:
  std::shared_ptr<mlflowpp::detail::Transport> inner_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

/// A client over a RecordingTransport (returned through `out`).
inline mlflowpp::Client recording_client(std::shared_ptr<RecordingTransport>& out,
                                         const std::string& uri = testing::tracking_uri()) {
  auto o = testing::options(uri);
  out = std::make_shared<RecordingTransport>(o);
  return mlflowpp::detail::ClientAccess::make(o, out);
}

/// A new run in a new experiment (optionally with an artifact location); returns its id.
inline std::string new_run(mlflowpp::Client& client, const std::string& tag,
                           const std::string& artifact_location = {}) {
  const std::string exp =
      client.create_experiment(testing::unique_name("itest-artifacts-" + tag), artifact_location);
  return client.create_run(exp).info.run_id;
}

using itest::shell_quote;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs a shell command, capturing stdout and stderr together.
inline CommandResult run_command(const std::string& cmd) {
  TempDir tmp("cmd");
  const fs::path log = tmp / "output.log";
  const int rc = std::system((cmd + " > " + shell_quote(log.string()) + " 2>&1").c_str());
  CommandResult r;
  r.exit_code = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  r.output = read_file(log);
  return r;
}

using support::python_or_skip;

/// Runs tests/integration/artifacts_crosscheck.py with `args`.
inline CommandResult crosscheck(const std::string& python, const std::string& args) {
  return run_command(
      shell_quote(python) + " " +
      shell_quote(std::string(MLFLOWPP_SOURCE_DIR) + "/tests/integration/artifacts_crosscheck.py") + " " +
      args);
}

}  // namespace atest
