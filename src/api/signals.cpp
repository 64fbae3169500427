#include "mlflowpp/signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "api/logger_access.hpp"
#include "api/run_registry.hpp"
#include "detail/core/clock.hpp"
#include "detail/logger/logger_core.hpp"
#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {

namespace detail {

namespace {
std::mutex g_runs_mu;
std::vector<std::weak_ptr<RunGuard>> g_runs;
}  // namespace

void register_run(const std::shared_ptr<RunGuard>& guard) {
  std::lock_guard<std::mutex> lk(g_runs_mu);
  g_runs.erase(std::remove_if(g_runs.begin(), g_runs.end(), [](const auto& w) { return w.expired(); }),
               g_runs.end());
  g_runs.push_back(guard);
}

std::vector<std::shared_ptr<RunGuard>> live_runs() {
  std::lock_guard<std::mutex> lk(g_runs_mu);
  std::vector<std::shared_ptr<RunGuard>> out;
  for (const auto& w : g_runs)
    if (auto g = w.lock()) out.push_back(std::move(g));
  return out;
}

}  // namespace detail

bool RunGuard::queue_end(RunStatus status, int64_t end_time_ms) noexcept {
  if (!client) return false;
  try {
    return detail::logger_core(client->async_logger()).end_run(handle, status, end_time_ms);
  } catch (...) {
    return false;
  }
}

namespace {

int g_pipe[2] = {-1, -1};
pid_t g_pid = 0;  // the process that installed the handlers
std::atomic<bool> g_draining{false};
SignalHandlerOptions g_options;

extern "C" void on_signal(int sig) {
  const int saved = errno;
  if (::getpid() != g_pid) {
    // A forked child inherited the handler and the pipe, not the helper thread: die as
    // the signal would have killed it (never wake the parent's helper).
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    errno = saved;
    return;
  }
  if (g_draining.exchange(true)) {
    // A second signal while draining: die now, as the signal would have.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
  const unsigned char b = static_cast<unsigned char>(sig);
  (void)!::write(g_pipe[1], &b, 1);
  errno = saved;
}

void drain(int sig) {
  const auto until = std::chrono::steady_clock::now() + g_options.drain_deadline;
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      until - std::chrono::steady_clock::now()));
  };
  const auto live = detail::live_runs();
  std::size_t ended = 0;
  for (auto& g : live)
    if (g->claim_end() && g->queue_end(RunStatus::kKilled, detail::now_ms())) ++ended;
  std::fprintf(stderr, "mlflowpp: signal %d: ending %zu run(s) as KILLED, draining for up to %.1f s\n", sig,
               ended, static_cast<double>(g_options.drain_deadline.count()) / 1000.0);
  // Every live run's logger, also of runs being ended right now by their own thread.
  std::vector<AsyncLogger*> loggers;
  for (auto& g : live) {
    if (!g->client) continue;
    AsyncLogger* l = &g->client->async_logger();
    if (std::find(loggers.begin(), loggers.end(), l) == loggers.end()) loggers.push_back(l);
  }
  // What is not delivered by the deadline stays in the spool: nothing more to do here.
  for (AsyncLogger* l : loggers) (void)l->flush(remaining());
  for (AsyncLogger* l : loggers) (void)l->shutdown(remaining());
}

void watch() {
  unsigned char b = 0;
  for (;;) {
    const ssize_t r = ::read(g_pipe[0], &b, 1);
    if (r == 1) break;
    if (r < 0 && errno == EINTR) continue;
    return;
  }
  const int sig = b;
  try {
    drain(sig);
  } catch (...) {
  }
  if (g_options.reraise) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

bool install_signal_handlers(SignalHandlerOptions options) {
  static std::mutex mu;
  static bool installed = false;
  std::lock_guard<std::mutex> lk(mu);
  if (installed) return false;
  if (::pipe2(g_pipe, O_CLOEXEC) != 0) throw Error(std::string("mlflowpp: pipe2: ") + std::strerror(errno));
  g_options = std::move(options);
  g_pid = ::getpid();
  std::thread(watch).detach();
  for (int sig : g_options.signals) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (::sigaction(sig, &sa, nullptr) != 0)
      throw Error("mlflowpp: sigaction(" + std::to_string(sig) + "): " + std::strerror(errno));
  }
  installed = true;
  return true;
}

}  // namespace mlflowpp
