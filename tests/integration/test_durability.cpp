// Durable logging against real MLflow servers that this file starts, stops and restarts
// itself (issue #4): a server stopped mid-run for 30 s, a process that exits during an
// outage, a run started while the server is down, SIGKILL mid-run then recovery, and the
// SIGTERM helper. Every case reads back every point and asserts exactly once, plus the
// run's status.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "detail/logger/logger_core.hpp"
#include "detail/spool/known_servers.hpp"
#include "itest_util.hpp"
#include "mlflowpp/mlflowpp.hpp"
#include "server.hpp"
#include "support/scoped.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A child process whose stdout is read line by line; killed (SIGKILL) on destruction.
class Child {
 public:
  /// `stderr_path`: where the child's stderr goes (empty: inherited).
  explicit Child(std::vector<std::string> argv, bool new_session = false,
                 const std::string& stderr_path = {}) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (new_session) ::setsid();
      ::dup2(out[1], STDOUT_FILENO);
      if (!stderr_path.empty()) {
        const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (err >= 0) ::dup2(err, STDERR_FILENO);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~Child() {
    kill(SIGKILL);
    wait();
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The next line starting with `prefix` (without it), or "" after `timeout`.
  std::string line(const std::string& prefix, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      while (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
        nl = buf_.find('\n');
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char tmp[4096];
      const ssize_t n = ::read(out_, tmp, sizeof tmp);
      if (n <= 0) return {};
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  void kill(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void kill_group(int sig) {
    if (pid_ > 0) ::kill(-pid_, sig);
  }
  /// Waits for the exit; returns the wait status (-1 when already reaped).
  int wait(std::chrono::milliseconds timeout = 60s) {
    if (pid_ <= 0) return status_;
    const auto until = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) return -1;
      std::this_thread::sleep_for(20ms);
    }
    pid_ = -1;
    status_ = st;
    return st;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string buf_;
};

/// A real `mlflow server` on a fixed port and database, that can be stopped and started.
class Server {
 public:
  Server(int port, const fs::path& dir) : port_(port), dir_(dir) {}
  ~Server() { stop(); }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void start() {
    const std::string python = std::getenv("MLFLOWPP_PYTHON") ? std::getenv("MLFLOWPP_PYTHON") : "";
    const std::string mlflow = fs::path(python).parent_path() / "mlflow";
    ::setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false", 1);
    ::setenv("MLFLOW_DISABLE_TELEMETRY", "true", 1);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{mlflow, "server", "--host", "127.0.0.1", "--port", std::to_string(port_),
                                 "--workers", "1", "--backend-store-uri",
                                 "sqlite:///" + (dir_ / "db.sqlite").string(), "--artifacts-destination",
                                 (dir_ / "art").string()},
        true, (dir_ / "server.log").string());
    mlflowpp::ClientOptions o = testing::options(uri());
    o.retry.max_retries = 0;
    const auto until = std::chrono::steady_clock::now() + 90s;
    for (;;) {
      try {
        mlflowpp::Client(o).get_experiment("0");
        return;
      } catch (const std::exception&) {
      }
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(250ms);
    }
  }
  void stop() {
    if (!child_) return;
    child_->kill_group(SIGTERM);
    if (child_->wait(20s) == -1) child_->kill_group(SIGKILL);
    child_->wait();
    child_.reset();
  }

 private:
  int port_;
  fs::path dir_;
  std::unique_ptr<Child> child_;
};

mlflowpp::ClientOptions durable_options(const std::string& uri, const fs::path& spool) {
  mlflowpp::ClientOptions o = testing::options(uri);
  o.retry.max_retries = 2;
  o.connect_timeout = 2s;
  o.request_timeout = 10s;
  o.logger.spool.dir = spool.string();
  o.logger.spool.max_retry_wait = 500ms;
  return o;
}

/// Every step 0..n-1 exactly once, with the value the probe and the tests log.
void require_exactly_once(mlflowpp::Client& client, const std::string& run_id, long n) {
  auto h = itest::sorted_history(client, run_id, "loss");
  REQUIRE(h.size() == static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) {
    REQUIRE(h[static_cast<std::size_t>(i)].step == i);
    REQUIRE(h[static_cast<std::size_t>(i)].value == 1.0 / static_cast<double>(i + 1));
  }
}

std::size_t journals_in(const fs::path& root) {
  std::size_t n = 0;
  if (!fs::exists(root)) return 0;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.path().extension() == ".mlflowpp-journal") ++n;
  return n;
}

/// The run of `experiment` (one expected), polled until `done` says so or 90 s pass.
template <typename F>
mlflowpp::Run wait_for_run(mlflowpp::Client& client, const std::string& experiment, F&& done) {
  const auto until = std::chrono::steady_clock::now() + 90s;
  for (;;) {
    try {
      if (auto e = client.get_experiment_by_name(experiment)) {
        mlflowpp::SearchRunsOptions so;
        so.run_view_type = mlflowpp::ViewType::kAll;
        auto runs = client.search_runs({e->experiment_id}, so).items;
        if (runs.size() == 1 && done(runs.front())) return runs.front();
        REQUIRE(runs.size() <= 1);
      }
    } catch (const mlflowpp::TransportError&) {
    }
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(250ms);
  }
}

/// What a spool_probe run gave: its run id (placeholder when offline) and exit status.
struct ProbeResult {
  std::string run_id;
  bool offline = false;
  int status = -1;
};

/// Runs spool_probe (`mode` kill or term) until every point is in its journal, then sends
/// `sig` and waits for it to end.
ProbeResult run_probe(const std::string& uri, const std::string& experiment, long n, const std::string& mode,
                      int sig) {
  ProbeResult r;
  Child probe({MLFLOWPP_SPOOL_PROBE, uri, experiment, std::to_string(n), mode});
  const std::string run_line = probe.line("RUN ", 30s);
  REQUIRE_FALSE(run_line.empty());
  r.run_id = run_line.substr(0, run_line.find(' '));
  r.offline = run_line.substr(run_line.size() - 1) == "1";
  REQUIRE_FALSE(probe.line("READY ", 60s).empty());
  probe.kill(sig);
  r.status = probe.wait(60s);
  return r;
}

}  // namespace

TEST_CASE("durability: server stopped mid-run for 30 s then restarted, every point exactly once",
          "[integration][durability][rest]") {
  if (!testing::have_server()) return;
  support::TempDir tmp("itest-durability");
  Server server(support::free_port(), tmp.path() / "server");
  fs::create_directories(tmp.path() / "server");
  server.start();
  mlflowpp::Client client(durable_options(server.uri(), tmp.path() / "spool"));
  const std::string experiment = testing::unique_name("durability-outage");
  auto run = client.start_run(experiment, "outage");
  run.log_param("phase", "outage");
  const int64_t base = 1700000000000;
  long n = 0;
  auto log_for = [&](std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      for (int k = 0; k < 10; ++k, ++n) run.log_metric("loss", 1.0 / static_cast<double>(n + 1), n, base + n);
      std::this_thread::sleep_for(10ms);  // ~1000 points/s
    }
  };
  log_for(2s);
  server.stop();
  const auto down_at = std::chrono::steady_clock::now();
  log_for(30s);
  server.start();  // the same database; takes several seconds, logging goes on
  const double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - down_at).count();
  log_for(3s);
  auto res = run.end();
  const auto s = client.async_logger().stats();
  WARN("outage " << down_s << " s: " << n << " points logged, " << s.delivered << " delivered, "
                 << s.written_ahead << " written ahead, " << s.requests << " requests, " << s.retries
                 << " retries");
  CHECK(res.status_set);
  CHECK(res.flush.complete);
  CHECK(res.flush.dropped == 0);
  CHECK(res.flush.rejected == 0);
  CHECK(s.delivered == static_cast<uint64_t>(n) + 1);
  CHECK(s.dropped_queue_full + s.dropped_spool_full + s.dropped_transient + s.dropped_shutdown == 0);
  require_exactly_once(client, run.run_id(), n);
  CHECK(client.get_run(run.run_id()).info.status == mlflowpp::RunStatus::kFinished);
  CHECK(client.async_logger().shutdown().complete);
  CHECK(journals_in(tmp.path() / "spool") == 0);  // all delivered: the journal is removed
}

TEST_CASE("durability: a process that ends during an outage leaves its data to the next one",
          "[integration][durability][rest]") {
  if (!testing::have_server()) return;
  support::TempDir tmp("itest-durability");
  Server server(support::free_port(), tmp.path() / "server");
  fs::create_directories(tmp.path() / "server");
  server.start();
  const std::string experiment = testing::unique_name("durability-exit");
  std::string run_id;
  const long n = 5000;
  {
    auto o = durable_options(server.uri(), tmp.path() / "spool");
    o.logger.end_run_flush_timeout = 2s;
    mlflowpp::Client client(o);
    auto run = client.start_run(experiment, "exit-in-outage");
    run_id = run.run_id();
    server.stop();
    for (long i = 0; i < n; ++i)
      run.log_metric("loss", 1.0 / static_cast<double>(i + 1), i, 1700000000000 + i);
    auto res = run.end();
    CHECK_FALSE(res.status_set);
    CHECK(res.status_spooled);  // the status waits behind the data, in the journal
    const auto t0 = std::chrono::steady_clock::now();
    auto fr = client.async_logger().shutdown(std::chrono::seconds(60));
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);  // nothing to wait for: it is on disk
    CHECK(client.async_logger().stats().left_in_spool == static_cast<uint64_t>(n));
    CHECK(fr.dropped == 0);
  }
  CHECK(journals_in(tmp.path() / "spool") == 1);
  server.start();
  // The next process logging to this server replays the journal at start.
  mlflowpp::Client next(durable_options(server.uri(), tmp.path() / "spool"));
  next.async_logger();
  auto done = wait_for_run(next, experiment, [](const mlflowpp::Run& r) {
    return r.info.status == mlflowpp::RunStatus::kFinished;
  });
  CHECK(done.info.run_id == run_id);
  require_exactly_once(next, run_id, n);
  (void)next.async_logger().flush(10s);  // nothing of its own: the replay is checked below
  CHECK(next.async_logger().stats().replayed == static_cast<uint64_t>(n));
  CHECK(journals_in(tmp.path() / "spool") == 0);
}

TEST_CASE("durability: a run started while the server is down, then SIGKILL, is recovered",
          "[integration][durability][rest]") {
  if (!testing::have_server()) return;
  support::TempDir tmp("itest-durability");
  const int port = support::free_port();
  Server server(port, tmp.path() / "server");
  fs::create_directories(tmp.path() / "server");
  const std::string uri = "http://127.0.0.1:" + std::to_string(port);
  const std::string experiment = testing::unique_name("durability-offline-kill");
  const long n = 3000;
  itest::EnvGuard spool_env("MLFLOWPP_SPOOL_DIR", (tmp.path() / "spool").c_str());
  // The server is down, and this spool reached it before (ADR 0009: an outage, not a wrong
  // address): the probe starts its run offline.
  mlflowpp::detail::remember_server(
      mlflowpp::detail::spool_dir_for((tmp.path() / "spool").string(), uri, ""));
  const ProbeResult probe = run_probe(uri, experiment, n, "kill", SIGKILL);
  CHECK(probe.run_id.rfind("offline-", 0) == 0);
  CHECK(probe.offline);
  CHECK(WIFSIGNALED(probe.status));
  CHECK(journals_in(tmp.path() / "spool") == 1);
  server.start();
  mlflowpp::Client recover(durable_options(uri, tmp.path() / "spool"));
  recover.async_logger();  // replays the dead process's journal on its sender thread
  auto run = wait_for_run(recover, experiment, [](const mlflowpp::Run& r) {
    return r.info.status == mlflowpp::RunStatus::kFailed;
  });
  // The crash rule: FAILED, ending at the last logged timestamp.
  REQUIRE(run.info.end_time.has_value());
  CHECK(*run.info.end_time == 1700000000000 + n - 1);
  require_exactly_once(recover, run.info.run_id, n);
  bool tagged = false;
  for (const auto& t : run.data.tags)
    tagged = tagged || (t.key == "mlflowpp.offlineRunId" && t.value.rfind("offline-", 0) == 0);
  CHECK(tagged);
  CHECK(run.data.params.size() == 1);
  CHECK(journals_in(tmp.path() / "spool") == 0);
}

TEST_CASE("durability: SIGKILL while the server is up, then recovery, no duplicates",
          "[integration][durability][rest]") {
  if (!testing::have_server()) return;
  support::TempDir tmp("itest-durability");
  const std::string uri = testing::tracking_uri();
  const std::string experiment = testing::unique_name("durability-kill");
  const long n = 20000;
  itest::EnvGuard spool_env("MLFLOWPP_SPOOL_DIR", (tmp.path() / "spool").c_str());
  const std::string run_id = run_probe(uri, experiment, n, "kill", SIGKILL).run_id;
  mlflowpp::Client recover(durable_options(uri, tmp.path() / "spool"));
  recover.async_logger();
  auto run = wait_for_run(recover, experiment, [](const mlflowpp::Run& r) {
    return r.info.status == mlflowpp::RunStatus::kFailed;
  });
  CHECK(run.info.run_id == run_id);
  REQUIRE(run.info.end_time.has_value());
  CHECK(*run.info.end_time == 1700000000000 + n - 1);
  require_exactly_once(recover, run_id, n);
  CHECK(journals_in(tmp.path() / "spool") == 0);
}

TEST_CASE("durability: SIGTERM with install_signal_handlers drains and marks the run KILLED",
          "[integration][durability][rest]") {
  if (!testing::have_server()) return;
  support::TempDir tmp("itest-durability");
  const std::string uri = testing::tracking_uri();
  const std::string experiment = testing::unique_name("durability-term");
  const long n = 20000;
  itest::EnvGuard spool_env("MLFLOWPP_SPOOL_DIR", (tmp.path() / "spool").c_str());
  const ProbeResult probe = run_probe(uri, experiment, n, "term", SIGTERM);
  const std::string& run_id = probe.run_id;
  CHECK(WIFSIGNALED(probe.status));
  CHECK(WTERMSIG(probe.status) == SIGTERM);  // re-raised after draining
  mlflowpp::Client client(durable_options(uri, tmp.path() / "spool"));
  auto run = client.get_run(run_id);
  CHECK(run.info.status == mlflowpp::RunStatus::kKilled);
  require_exactly_once(client, run_id, n);
  CHECK(journals_in(tmp.path() / "spool") == 0);
}
