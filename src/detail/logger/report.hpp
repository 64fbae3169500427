#pragma once
// The one way the logger tells about refused, dropped and held items (LogError): to the
// error callback, or else to stderr, rate-limited. Private.
//
// report() builds the LogError and delivers it at once; call it holding no lock of the
// logger (the callback may be slow or call back into the logger's queries). Code that
// holds the pipe's lock uses report_later(); the errors wait here until the thread that
// raised them, having released the lock, calls deliver_later_ones().
//
// Thread safety: one mutex (mu_) guards the callback and the waiting errors; it is a leaf of
// the logger's lock order (logger_core.hpp) and is never held while the callback runs.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mlflowpp/logging.hpp"

namespace mlflowpp::detail {

/// What an error is about, beyond its kind, item count and message.
struct ErrorSubject {
  ErrorSubject() = default;
  ErrorSubject(std::string run, std::string item_key = {}, int status = 0, std::string code = {})
      : run_id(std::move(run)), key(std::move(item_key)), http_status(status), error_code(std::move(code)) {}

  std::string run_id;
  std::string key;
  int http_status = 0;
  std::string error_code;
};

class Reporter {
 public:
  explicit Reporter(bool to_stderr) : to_stderr_(to_stderr) {}

  void set_callback(ErrorCallback callback);
  /// Drops the callback (at shutdown: it may own the Client that owns this logger).
  void release_callback();

  /// Builds a LogError and delivers it now.
  void report(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about = {});
  /// Builds a LogError now and delivers it at the next deliver_later_ones().
  void report_later(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about = {});
  void deliver_later_ones();
  /// Delivers an error built by the delivery layer (DeliveryHooks::report).
  void deliver(LogError error);

 private:
  static LogError make(LogError::Kind kind, uint64_t items, std::string message, ErrorSubject about);

  const bool to_stderr_;
  std::mutex mu_;
  ErrorCallback callback_;
  std::vector<LogError> later_;
  std::atomic<uint64_t> stderr_reports_{0};
};

}  // namespace mlflowpp::detail
