#include "mlflowpp/active_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "api/client_access.hpp"
#include "api/logger_access.hpp"
#include "api/run_registry.hpp"
#include "detail/core/clock.hpp"
#include "detail/core/text.hpp"
#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"

namespace mlflowpp {

ActiveRun::ActiveRun(Client client, RunInfo info, bool offline)
    : client_(std::move(client)),
      info_(std::move(info)),
      logger_(&client_.async_logger()),
      uncaught_at_start_(std::uncaught_exceptions()),
      fork_generation_(detail::fork_generation()),
      offline_(offline) {
  handle_ = logger_->handle_for(info_.run_id);
  // RUN_STARTED in the spool journal: if this process dies without ending the run, the
  // process that replays the journal marks it FAILED (docs/adr/0006).
  detail::logger_core(*logger_).run_started(handle_);
  guard_ = std::make_shared<RunGuard>();
  guard_->client = client_;
  guard_->handle = handle_;
  detail::register_run(guard_);
}

std::string ActiveRun::server_run_id() const {
  if (!offline_) return info_.run_id;
  return detail::logger_core(*logger_).run_id_of(handle_);
}

ActiveRun::ActiveRun(ActiveRun&& other) noexcept
    : client_(other.client_),
      info_(std::move(other.info_)),
      logger_(other.logger_),
      handle_(other.handle_),
      uncaught_at_start_(other.uncaught_at_start_),
      fork_generation_(other.fork_generation_),
      ended_(other.ended_),
      offline_(other.offline_),
      end_result_(std::move(other.end_result_)),
      guard_(std::move(other.guard_)) {
  other.ended_ = true;  // the moved-from handle never ends the run
}

ActiveRun& ActiveRun::operator=(ActiveRun&& other) noexcept {
  if (this != &other) {
    if (!ended_)  // as the destructor would, but quietly
      (void)end(std::uncaught_exceptions() > uncaught_at_start_ ? RunStatus::kFailed : RunStatus::kFinished);
    client_ = other.client_;
    info_ = std::move(other.info_);
    logger_ = other.logger_;
    handle_ = other.handle_;
    uncaught_at_start_ = other.uncaught_at_start_;
    fork_generation_ = other.fork_generation_;
    ended_ = other.ended_;
    offline_ = other.offline_;
    end_result_ = std::move(other.end_result_);
    guard_ = std::move(other.guard_);
    other.ended_ = true;
  }
  return *this;
}

ActiveRun::~ActiveRun() {
  if (ended_ || info_.run_id.empty()) return;
  if (detail::fork_generation() != fork_generation_) return;  // a forked child: the parent's run
  const bool unwinding = std::uncaught_exceptions() > uncaught_at_start_;
  EndRunResult r = end(unwinding ? RunStatus::kFailed : RunStatus::kFinished);
  if (!r.status_set && !r.status_spooled && !r.error.empty()) {
    std::fprintf(stderr, "mlflowpp: could not mark run %s %s: %s\n", info_.run_id.c_str(),
                 unwinding ? "FAILED" : "FINISHED", r.error.c_str());
  }
}

void ActiveRun::log_metric(std::string_view key, double value, int64_t step) noexcept {
  client_.async_logger().log_metric(handle_, key, value, step, AsyncLogger::kNow);
}

void ActiveRun::log_metric(std::string_view key, double value, int64_t step, int64_t timestamp_ms) noexcept {
  client_.async_logger().log_metric(handle_, key, value, step, timestamp_ms);
}

void ActiveRun::log_metrics(std::initializer_list<std::pair<std::string_view, double>> metrics,
                            int64_t step) noexcept {
  const int64_t ts = detail::now_ms();
  auto& logger = client_.async_logger();
  for (const auto& [k, v] : metrics) logger.log_metric(handle_, k, v, step, ts);
}

int64_t ActiveRun::batch_timestamp() noexcept { return detail::now_ms(); }

void ActiveRun::log_param(std::string_view key, const ParamValue& value) noexcept {
  client_.async_logger().log_param(handle_, key, value.str());
}

void ActiveRun::log_params(std::initializer_list<std::pair<std::string_view, ParamValue>> params) noexcept {
  for (const auto& [k, v] : params) log_param(k, v);
}

void ActiveRun::set_tag(std::string_view key, std::string_view value) noexcept {
  client_.async_logger().set_tag(handle_, key, value);
}

void ActiveRun::set_tags(std::initializer_list<std::pair<std::string_view, std::string_view>> tags) noexcept {
  for (const auto& [k, v] : tags) set_tag(k, v);
}

std::string ActiveRun::artifact_run_id() const {
  std::string id = server_run_id();
  if (id.empty() || (offline_ && detail::starts_with(id, "offline-"))) {
    throw Error("run " + info_.run_id +
                " is offline: it does not exist on the tracking server yet, so nothing can be uploaded "
                "or recorded for it until the server answers and the logger has created it (retry later)");
  }
  return id;
}

void ActiveRun::log_artifact(const std::string& local_file, const std::string& artifact_path,
                             const std::optional<ArtifactOptions>& options) {
  client_.log_artifact(artifact_run_id(), local_file, artifact_path, options);
}

LogArtifactsResult ActiveRun::log_artifacts(const std::string& local_dir, const std::string& artifact_path,
                                            const std::optional<ArtifactOptions>& options) {
  return client_.log_artifacts(artifact_run_id(), local_dir, artifact_path, options);
}

void ActiveRun::log_text(const std::string& text, const std::string& artifact_file,
                         const std::optional<ArtifactOptions>& options) {
  client_.log_text(artifact_run_id(), text, artifact_file, options);
}

void ActiveRun::log_dict(const std::string& json_text, const std::string& artifact_file,
                         const std::optional<ArtifactOptions>& options) {
  client_.log_dict(artifact_run_id(), json_text, artifact_file, options);
}

void ActiveRun::log_dict(const std::map<std::string, std::string>& dictionary,
                         const std::string& artifact_file, const std::optional<ArtifactOptions>& options) {
  client_.log_dict(artifact_run_id(), dictionary, artifact_file, options);
}

void ActiveRun::log_input(const DatasetInput& dataset) { client_.log_inputs(artifact_run_id(), {dataset}); }

void ActiveRun::log_inputs(const std::vector<DatasetInput>& datasets) {
  client_.log_inputs(artifact_run_id(), datasets);
}

ActiveRun ActiveRun::start_child_run(const std::string& run_name) {
  StartRunOptions o;
  o.experiment_id = info_.experiment_id;
  o.run_name = run_name;
  o.parent_run_id = info_.run_id;
  return client_.start_run(std::move(o));
}

FlushResult ActiveRun::flush(std::chrono::milliseconds timeout) noexcept {
  return client_.async_logger().flush(timeout);
}

EndRunResult ActiveRun::end(RunStatus status) noexcept {
  return end(status, client_.options().logger.end_run_flush_timeout);
}

EndRunResult ActiveRun::end(RunStatus status, std::chrono::milliseconds flush_timeout) noexcept {
  if (ended_) return end_result_;
  ended_ = true;
  if (guard_ && !guard_->claim_end()) {
    // The signal helper ended it already (KILLED) and shut the logger down.
    end_result_.error = "already ended by the signal handler (KILLED)";
    return end_result_;
  }
  AsyncLogger& logger = *logger_;
  detail::LoggerCore& core = detail::logger_core(logger);
  const bool queued = core.end_run(handle_, status, detail::now_ms());
  if (core.forked()) {  // a forked child: the run belongs to the parent
    end_result_.error = "not ended: this is a forked child of the process that started the run";
    return end_result_;
  }
  // Wait for delivery, but not for a server that stays down: once everything is in the
  // spool and the server has been unreachable for kOutageWait (from the start, for a run
  // that started offline), or has refused every connection this process made (ADR 0009),
  // the status waits in the journal behind the data.
  constexpr std::chrono::seconds kOutageWait{30};
  const auto until = std::chrono::steady_clock::now() + flush_timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    end_result_.flush =
        logger.flush(std::max(std::chrono::milliseconds(0), std::min(left, std::chrono::milliseconds(500))));
    if (end_result_.flush.complete || left.count() <= 0) break;
    if (core.all_pending_on_disk() &&
        (detail::ClientAccess::refused_everything(client_) ||
         ((offline_ || core.unreachable_for() >= kOutageWait) && core.server_unreachable())))
      break;
  }
  const RunLogStats mine = logger.run_stats(handle_);  // this run's items only
  end_result_.flush.rejected = mine.rejected;
  end_result_.flush.dropped = mine.dropped;
  const detail::RunEndState st = core.run_end_state(handle_);
  if (queued && st.kind == detail::RunEndState::Kind::kDelivered) {
    end_result_.status_set = true;
    return end_result_;
  }
  if (queued && st.kind == detail::RunEndState::Kind::kFailed) {
    end_result_.error = st.error;
    return end_result_;
  }
  if (queued && st.kind == detail::RunEndState::Kind::kSpooled) {
    end_result_.status_spooled = true;  // behind the data, in the journal
    return end_result_;
  }
  // No spool (or the logger is shut down): mark it now, even if data is still pending.
  try {
    client_.set_terminated(info_.run_id, status);
    end_result_.status_set = true;
  } catch (const std::exception& e) {
    end_result_.error = e.what();
  } catch (...) {
    end_result_.error = "unknown error";
  }
  return end_result_;
}

std::string EndRunResult::summary() const {
  std::string status = status_set ? "status set on the server"
                       : status_spooled
                           ? "status waits in the spool behind the data (sent when the server answers)"
                       : error.empty() ? "status not set"
                                       : "status not set: " + error;
  return status + "; " + flush.summary();
}

}  // namespace mlflowpp
