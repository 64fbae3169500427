#pragma once
// A Transport for unit tests: records every request, answers through a scripted handler,
// and can hang (like a stalled server) until released or until the request's abort flag
// is raised. No sockets.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/logging.hpp"

namespace testing {

using mlflowpp::detail::HttpRequest;
using mlflowpp::detail::HttpResponse;

inline HttpResponse ok(std::string body = "{}") {
  return HttpResponse{200, std::move(body), "application/json", ""};
}
inline HttpResponse status(long code, std::string body = "", std::string retry_after = "") {
  return HttpResponse{code, std::move(body), "application/json", std::move(retry_after)};
}
inline HttpResponse mlflow_error(long code, const std::string& error_code, const std::string& message) {
  return status(code, "{\"error_code\":\"" + error_code + "\",\"message\":\"" + message + "\"}");
}

class FakeTransport final : public mlflowpp::detail::Transport {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit FakeTransport(Handler handler = [](const HttpRequest&) { return ok(); })
      : handler_(std::move(handler)) {}

  void set_handler(Handler h) {
    std::lock_guard<std::mutex> lk(mu_);
    handler_ = std::move(h);
  }
  /// While hanging, perform() blocks until release() or the request's abort flag.
  void hang() {
    std::lock_guard<std::mutex> lk(mu_);
    hanging_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      hanging_ = false;
    }
    cv_.notify_all();
  }
  /// Blocks until at least `n` requests have arrived (or 10 s pass); returns the count.
  std::size_t wait_for_requests(std::size_t n) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(10), [&] { return requests_.size() >= n; });
    return requests_.size();
  }

  HttpResponse perform(const HttpRequest& r) override {
    Handler h;
    {
      std::unique_lock<std::mutex> lk(mu_);
      requests_.push_back(r);
      cv_.notify_all();
      while (hanging_) {
        if (r.abort != nullptr && r.abort->load()) {
          throw mlflowpp::TransportError(42, "aborted by the caller (fake transport)");
        }
        cv_.wait_for(lk, std::chrono::milliseconds(2));
      }
      h = handler_;
    }
    return h(r);
  }

  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Handler handler_;
  bool hanging_ = false;
  std::vector<HttpRequest> requests_;
};

/// A spool root of this test process's own (removed at exit): Clients of unit tests must
/// not share the user's default spool, where a concurrently running test process's left
/// journals for the same fake server would be adopted and replayed into this one's fake.
inline const std::string& unit_spool_root() {
  struct Dir {
    std::string path;
    Dir() {
      char t[] = "/tmp/mlflowpp-unit-spool-XXXXXX";
      if (::mkdtemp(t) != nullptr) path = t;
    }
    ~Dir() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

inline mlflowpp::ClientOptions fake_options() {
  mlflowpp::ClientOptions o;
  o.logger.spool.dir = unit_spool_root();
  o.tracking_uri = "http://mlflow.test:5000/prefix";
  o.retry.max_retries = 3;
  o.retry.warn_on_retry = false;
  o.logger.report_errors_to_stderr = false;
  return o;
}

/// A LoggerCore over a RestStore over `transport`, with an injected wall clock and a retry
/// sleep that returns at once (recording the waits).
struct LoggerRig {
  std::shared_ptr<FakeTransport> transport;
  std::unique_ptr<mlflowpp::detail::LoggerCore> core;
  std::shared_ptr<std::vector<std::chrono::milliseconds>> sleeps =
      std::make_shared<std::vector<std::chrono::milliseconds>>();
  std::shared_ptr<std::mutex> sleeps_mu = std::make_shared<std::mutex>();

  explicit LoggerRig(
      mlflowpp::LoggerOptions lo = {}, mlflowpp::ClientOptions co = fake_options(),
      std::function<int64_t()> clock = [] { return int64_t{1700000000000}; }, std::string spool_dir = {},
      FakeTransport::Handler handler = {})
      : transport(handler ? std::make_shared<FakeTransport>(std::move(handler))
                          : std::make_shared<FakeTransport>()) {
    lo.report_errors_to_stderr = false;
    auto rest = std::make_shared<mlflowpp::detail::RestClient>(co, transport);
    mlflowpp::detail::LoggerDeps deps;
    deps.store = mlflowpp::detail::make_rest_store(rest);
    deps.options = lo;
    deps.now_ms = std::move(clock);
    deps.spool_dir = std::move(spool_dir);  // empty: no spool (the pre-spool behaviour)
    deps.target = "http://fake";
    auto sl = sleeps;
    auto smu = sleeps_mu;
    deps.retry_sleep = [sl, smu](std::chrono::milliseconds d) {
      std::lock_guard<std::mutex> lk(*smu);
      sl->push_back(d);
      return true;
    };
    core = std::make_unique<mlflowpp::detail::LoggerCore>(std::move(deps));
  }
};

/// Collects what a logger's error callback receives (thread-safe).
struct Errors {
  std::mutex mu;
  std::vector<mlflowpp::LogError> list;
  mlflowpp::ErrorCallback callback() {
    return [this](const mlflowpp::LogError& e) {
      std::lock_guard<std::mutex> lk(mu);
      list.push_back(e);
    };
  }
  std::size_t count(mlflowpp::LogError::Kind k) {
    std::lock_guard<std::mutex> lk(mu);
    std::size_t n = 0;
    for (const auto& e : list) n += e.kind == k ? 1 : 0;
    return n;
  }
};

/// Polls `f` every 5 ms until it is true (true) or `timeout` passes (false).
template <typename F>
bool eventually(F&& f, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!f()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace testing
