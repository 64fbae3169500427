#include "detail/logger/report.hpp"

#include <cstdio>
#include <utility>

namespace mlflowpp::detail {

namespace {

const char* kind_name(LogError::Kind k) {
  switch (k) {
    case LogError::Kind::kInvalid:
      return "invalid";
    case LogError::Kind::kRejectedByServer:
      return "rejected by server";
    case LogError::Kind::kTransient:
      return "dropped after retries";
    case LogError::Kind::kQueueFull:
      return "dropped, queue full";
    case LogError::Kind::kShutdown:
      return "dropped at shutdown";
    case LogError::Kind::kSpoolFull:
      return "spool full";
    case LogError::Kind::kSpoolError:
      return "spool error";
    case LogError::Kind::kHeld:
      return "held in the spool";
  }
  return "error";
}

}  // namespace

void Reporter::set_callback(ErrorCallback callback) {
  std::lock_guard<std::mutex> lk(mu_);
  callback_ = std::move(callback);
}

void Reporter::release_callback() {
  ErrorCallback released;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lk(mu_);
  released.swap(callback_);
}

LogError Reporter::make(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about) {
  LogError e;
  e.kind = kind;
  e.items = items;
  e.message = std::move(message);
  e.run_id = std::move(about.run_id);
  e.key = std::move(about.key);
  e.http_status = about.http_status;
  e.error_code = std::move(about.error_code);
  return e;
}

void Reporter::report(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about) {
  deliver(make(kind, items, std::move(message), std::move(about)));
}

void Reporter::report_later(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about) {
  LogError e = make(kind, items, std::move(message), std::move(about));
  std::lock_guard<std::mutex> lk(mu_);
  later_.push_back(std::move(e));
}

void Reporter::deliver_later_ones() {
  std::vector<LogError> pending;
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending.swap(later_);
  }
  for (auto& e : pending) deliver(std::move(e));
}

void Reporter::deliver(LogError error) {
  ErrorCallback cb;
  {
    std::lock_guard<std::mutex> lk(mu_);
    cb = callback_;
  }
  if (cb) {
    try {
      cb(error);
    } catch (...) {
    }
    return;
  }
  if (!to_stderr_) return;
  const uint64_t n = ++stderr_reports_;
  if (n <= 20 || n % 1000 == 0) {
    std::fprintf(stderr, "mlflowpp: %s: %s%s\n", kind_name(error.kind), error.message.c_str(),
                 n == 20 ? " (further errors: every 1000th is printed; see AsyncLogger::stats())" : "");
  }
}

}  // namespace mlflowpp::detail
