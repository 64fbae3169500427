// The public facade of the asynchronous logger: AsyncLogger forwards to its engine,
// detail::LoggerCore (src/detail/logger/, see logger_core.hpp).
#include "mlflowpp/async_logger.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api/logger_access.hpp"
#include "detail/logger/logger_core.hpp"

namespace mlflowpp {

namespace detail {

/// The one friend of AsyncLogger (async_logger.hpp): it gives the library's own code the
/// engine, through logger_core() (api/logger_access.hpp), and nothing else.
struct LoggerAccess {
  static LoggerCore& core(AsyncLogger& logger) noexcept { return *logger.core_; }
  static std::unique_ptr<AsyncLogger> make(std::unique_ptr<LoggerCore> core) {
    return std::unique_ptr<AsyncLogger>(new AsyncLogger(std::move(core)));
  }
};

LoggerCore& logger_core(AsyncLogger& logger) noexcept { return LoggerAccess::core(logger); }

std::unique_ptr<AsyncLogger> make_async_logger(std::unique_ptr<LoggerCore> core) {
  return LoggerAccess::make(std::move(core));
}

}  // namespace detail

AsyncLogger::AsyncLogger(std::unique_ptr<detail::LoggerCore> core) : core_(std::move(core)) {}

AsyncLogger::~AsyncLogger() {
  if (core_ && core_->forked()) {
    (void)core_.release();  // the parent's thread and connections: leave them alone
  }
}

AsyncLogger::RunHandle AsyncLogger::handle_for(std::string_view run_id) { return core_->handle_for(run_id); }

void AsyncLogger::log_metric(RunHandle run, std::string_view key, double value, int64_t step,
                             int64_t timestamp_ms) noexcept {
  core_->enqueue(detail::ItemKind::kMetric, run, key, value, {}, step, timestamp_ms);
}
void AsyncLogger::log_param(RunHandle run, std::string_view key, std::string_view value) noexcept {
  core_->enqueue(detail::ItemKind::kParam, run, key, 0.0, value, 0, 0);
}
void AsyncLogger::set_tag(RunHandle run, std::string_view key, std::string_view value) noexcept {
  core_->enqueue(detail::ItemKind::kTag, run, key, 0.0, value, 0, 0);
}

namespace {
template <typename F>
void with_handle(detail::LoggerCore& core, std::string_view run_id, F&& f) noexcept {
  uint32_t h = 0;
  try {
    h = core.handle_for(run_id);
  } catch (...) {
    return;
  }
  f(h);
}
}  // namespace

void AsyncLogger::log_metric(std::string_view run_id, std::string_view key, double value, int64_t step,
                             int64_t timestamp_ms) noexcept {
  with_handle(*core_, run_id, [&](uint32_t h) { log_metric(h, key, value, step, timestamp_ms); });
}
void AsyncLogger::log_param(std::string_view run_id, std::string_view key, std::string_view value) noexcept {
  with_handle(*core_, run_id, [&](uint32_t h) { log_param(h, key, value); });
}
void AsyncLogger::set_tag(std::string_view run_id, std::string_view key, std::string_view value) noexcept {
  with_handle(*core_, run_id, [&](uint32_t h) { set_tag(h, key, value); });
}

FlushResult AsyncLogger::flush(std::chrono::milliseconds timeout) noexcept { return core_->flush(timeout); }
FlushResult AsyncLogger::shutdown(std::chrono::milliseconds deadline) noexcept {
  return core_->shutdown(deadline);
}
LoggerStats AsyncLogger::stats() const noexcept { return core_->stats(); }
RunLogStats AsyncLogger::run_stats(RunHandle run) const noexcept { return core_->run_stats(run); }
void AsyncLogger::set_error_callback(ErrorCallback callback) {
  core_->set_error_callback(std::move(callback));
}

std::string FlushResult::summary() const {
  // complete/pending: every item enqueued before the call (the whole logger);
  // rejected/dropped: since the logger started (a run's own in EndRunResult::flush).
  std::string out;
  if (complete) {
    out = rejected == 0 && dropped == 0 ? "all delivered" : "all accounted for";
  } else if (pending_on_disk) {
    // `pending` counts the runs' events too; held_in_spool the logged items only.
    out = fmt::format(
        "{} logged item(s) not delivered yet, all held safe in the spool on disk with the runs' "
        "events (delivered later)",
        held_in_spool);
  } else if (pending > 0) {
    out = fmt::format("{} item(s) not delivered yet", pending);
    if (held_in_spool > 0)
      out += fmt::format(", {} of them held safe in the spool on disk (delivered later)",
                         std::min(held_in_spool, pending));
  } else if (held_in_spool > 0) {
    out = fmt::format("{} item(s) held safe in the spool on disk, delivered later", held_in_spool);
  } else {
    out = "not all delivered";
  }
  if (!complete || rejected > 0 || dropped > 0)
    out += fmt::format("; {} rejected, {} dropped", rejected, dropped);
  return out;
}

}  // namespace mlflowpp
