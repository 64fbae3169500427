// LoggerCore (logger_core.hpp): construction, the producers' side, the run events, flush,
// shutdown and the counters. The assembler and the sender are in assembler.cpp and sender.cpp.
#include "detail/logger/logger_core.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "detail/codec/json.hpp"
#include "detail/core/clock.hpp"
#include "detail/http/http.hpp"
#include "detail/spool/known_servers.hpp"
#include "detail/spool/spool.hpp"

namespace mlflowpp::detail {

namespace {

LoggerDeps normalized(LoggerDeps deps) {
  auto& o = deps.options;
  if (o.queue_capacity < 16) o.queue_capacity = 16;
  if (o.max_batch_delay < std::chrono::milliseconds(1)) o.max_batch_delay = std::chrono::milliseconds(1);
  o.max_buffered_bytes = std::max(o.max_buffered_bytes, o.max_request_bytes);
  if (!o.spool.enabled) deps.spool_dir.clear();
  if (!deps.now_ms) deps.now_ms = [] { return now_ms(); };
  return deps;
}

Ring::Options ring_options(const LoggerOptions& o) {
  Ring::Options r;
  r.capacity = o.queue_capacity;
  r.policy = o.overflow_policy;
  r.block_timeout = o.block_timeout;
  r.wake_threshold = o.wake_threshold;  // the ring clamps it to half its capacity
  r.max_wait = o.max_batch_delay;
  return r;
}

}  // namespace

std::string spool_dir_for(const std::string& spool_root, const std::string& tracking_uri,
                          const std::string& workspace) {
  // A readable folder name (scheme dropped; anything but [A-Za-z0-9._-] becomes '_')
  // plus a hash of the exact target, so that distinct servers never share a folder.
  std::string readable;
  std::string_view rest = tracking_uri;
  if (auto p = rest.find("://"); p != std::string_view::npos) rest.remove_prefix(p + 3);
  for (char c : rest) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    readable.push_back(ok ? c : '_');
    if (readable.size() >= 80) break;
  }
  while (!readable.empty() && readable.back() == '_') readable.pop_back();
  uint64_t h = 1469598103934665603ull;  // FNV-1a over "uri\nworkspace"
  for (char c : tracking_uri + "\n" + workspace) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return fmt::format("{}/{}-{:08x}", spool_root, readable.empty() ? "server" : readable,
                     static_cast<uint32_t>(h ^ (h >> 32)));
}

LoggerCore::LoggerCore(LoggerDeps deps)
    : deps_(normalized(std::move(deps))),
      fork_generation_(fork_generation()),
      reporter_(deps_.options.report_errors_to_stderr),
      ring_(ring_options(deps_.options)) {
  warm_up_json();
  assembler_ = std::thread([this] { run_assembler(); });
  sender_ = std::thread([this] { run_sender(); });
}

LoggerCore::~LoggerCore() { (void)shutdown(deps_.options.end_run_flush_timeout); }

FsyncPolicy LoggerCore::fsync_policy() const {
  const SpoolOptions& o = deps_.options.spool;
  FsyncPolicy p;
  p.mode = o.fsync == SpoolFsync::kNever    ? FsyncMode::kNever
           : o.fsync == SpoolFsync::kAlways ? FsyncMode::kEveryRecord
                                            : FsyncMode::kEveryNRecordsOrSeconds;
  p.every = o.fsync_interval;
  return p;
}

bool LoggerCore::forked() const noexcept { return fork_generation() != fork_generation_; }

// ---- runs ----------------------------------------------------------------------------------
// In a forked child no lock may be taken (a parent's thread may have held it at the fork):
// every entry point checks forked() first.

uint32_t LoggerCore::handle_for(std::string_view run_id) { return forked() ? 0 : runs_.handle_for(run_id); }

std::string LoggerCore::run_id_of(uint32_t run) const { return forked() ? std::string() : runs_.id_of(run); }

RunLogStats LoggerCore::run_stats(uint32_t run) const noexcept {
  return forked() ? RunLogStats{} : runs_.stats(run);
}

RunEndState LoggerCore::run_end_state(uint32_t run) const noexcept {
  return forked() ? RunEndState{} : runs_.end_state(run);
}

bool LoggerCore::run_started(uint32_t run) noexcept {
  if (forked()) return false;
  runs_.started(run);
  return ring_.push_event(ItemKind::kRunStarted, run, 0, 0, {});
}

bool LoggerCore::end_run(uint32_t run, RunStatus status, int64_t end_time_ms) noexcept {
  if (forked()) return false;
  runs_.set_end_state(run, {RunEndState::Kind::kPending, {}});
  return ring_.push_event(ItemKind::kEndRun, run, static_cast<int64_t>(status), end_time_ms, {});
}

bool LoggerCore::create_run_offline(uint32_t run, std::string payload) noexcept {
  if (forked()) return false;
  try {
    runs_.keep_offline_payload(run, payload);
  } catch (...) {
    return false;
  }
  offline_announced_ = true;
  return ring_.push_event(ItemKind::kCreateRun, run, 0, 0, std::move(payload));
}

// ---- producers -----------------------------------------------------------------------------

void LoggerCore::enqueue(ItemKind kind, uint32_t run, std::string_view key, double value,
                         std::string_view text, int64_t step, int64_t timestamp_ms) noexcept {
  if (forked()) {
    accounting_.record(run, Fate::kDroppedAfterFork, 1);
    return;
  }
  if (timestamp_ms == kTimestampNow) timestamp_ms = kind == ItemKind::kMetric ? deps_.now_ms() : 0;
  switch (ring_.push(kind, run, key, value, text, step, timestamp_ms)) {
    case Ring::Push::kAccepted:
      return;
    case Ring::Push::kDroppedFull:
      accounting_.record(run, Fate::kDroppedQueueFull, 1);
      return;
    case Ring::Push::kDroppedStopped:
      accounting_.record(run, Fate::kDroppedAfterStop, 1);
      return;
  }
}

bool LoggerCore::all_pending_on_disk() const noexcept {
  if (!spool_enabled() || forked()) return false;
  if (!ring_.idle()) return false;
  std::lock_guard<std::mutex> lk(pipe_mu_);
  return !spool_broken_ && unjournaled_ == 0;
}

// ---- flush, shutdown, stats ----------------------------------------------------------------

FlushResult LoggerCore::forked_result() const noexcept {
  // In a forked child nothing is ever delivered and no mutex may be taken.
  FlushResult r;
  r.complete = false;
  r.dropped = accounting_.count(Fate::kDroppedAfterFork);
  return r;
}

FlushResult LoggerCore::result(bool complete, uint64_t pending) const noexcept {
  FlushResult r;
  r.complete = complete;
  r.pending = pending;
  r.rejected = accounting_.rejected();
  r.dropped = accounting_.dropped();
  r.held_in_spool = accounting_.count(Fate::kLeftInSpool);
  if (!complete) {
    std::lock_guard<std::mutex> lk(pipe_mu_);
    for (const Entry& e : outbox_)
      if (e.offset >= 0) r.held_in_spool += e.items;
  }
  return r;
}

FlushResult LoggerCore::flush(std::chrono::milliseconds timeout) noexcept {
  if (forked()) return forked_result();
  const Ring::Progress p = ring_.wait_flushed(timeout);
  FlushResult r = result(p.done >= p.target, p.target - p.done);
  r.pending_on_disk = !r.complete && all_pending_on_disk();
  return r;
}

bool LoggerCore::wait_for_delivery(std::chrono::steady_clock::time_point until) {
  // Until the deadline; but when the server is unreachable and everything left is in the
  // journal, there is nothing to wait for: the next process (or mlflowpp-sync) delivers it.
  for (;;) {
    {
      std::lock_guard<std::mutex> lk(pipe_mu_);
      if (sender_done_) return true;
      const bool down = outage_.load() || (deps_.refused_everything && deps_.refused_everything());
      if (down && assembler_done_ && unjournaled_ == 0 && !spool_broken_) return false;
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    ring_.wait_done_for(std::chrono::milliseconds(50));
  }
}

void LoggerCore::abort_threads() {
  abort_.store(true);  // abandon transfers and retry waits (no-op when done)
  ring_.wake_all();
  { std::lock_guard<std::mutex> lk(pipe_mu_); }  // a waiter is now either waiting or sees abort_
  cv_sender_.notify_all();
  cv_sleep_.notify_all();
  cv_pipe_space_.notify_all();
  if (assembler_.joinable()) assembler_.join();
  if (sender_.joinable()) sender_.join();
}

FlushResult LoggerCore::shutdown(std::chrono::milliseconds deadline) noexcept {
  if (forked()) return forked_result();
  std::call_once(shutdown_once_, [&] {
    ring_.stop();
    (void)wait_for_delivery(std::chrono::steady_clock::now() + deadline);
    abort_threads();

    // What was never delivered: in the journal (delivered by a later process), or lost.
    uint64_t left_on_disk = 0, lost = 0, completes = 0;
    bool keep_journal = false;
    std::vector<std::pair<uint32_t, uint64_t>> lost_runs;
    {
      std::lock_guard<std::mutex> lk(pipe_mu_);
      for (Entry& e : outbox_) {
        completes = std::max(completes, e.completes_through);
        if (e.kind == EntryKind::kUpdateRun)
          runs_.set_end_state(e.run,
                              {e.offset >= 0 ? RunEndState::Kind::kSpooled : RunEndState::Kind::kFailed,
                               e.offset >= 0 ? std::string() : "not sent by the shutdown deadline"});
        if (e.offset >= 0 && e.kind != EntryKind::kMarker && e.kind != EntryKind::kRunStarted)
          keep_journal = true;  // data, a run's end or an offline run's creation still to deliver
        if (e.kind != EntryKind::kLogBatch) continue;
        if (e.offset >= 0) {
          left_on_disk += e.items;
        } else {
          lost += e.items;
          lost_runs.emplace_back(e.run, e.items);
        }
      }
      outbox_.clear();
      buffered_bytes_ = 0;
      unjournaled_ = 0;
      if (journal_) {
        try {
          if (!keep_journal) {
            journal_->append_ack(journal_->size());
            remove_journal(std::move(*journal_));
          } else {
            journal_->close();
          }
        } catch (...) {
        }
        journal_.reset();
      }
      // A clean run leaves no empty folder behind for its server (journals adopted from
      // dead processes were removed as they were delivered).
      if (!keep_journal && spool_enabled()) remove_dir_if_empty(deps_.spool_dir);
    }
    for (auto [run, n] : lost_runs) accounting_.record(run, Fate::kDroppedShutdown, n);
    accounting_.record(0, Fate::kLeftInSpool, left_on_disk);  // no run's count: not final
    // Anything still in the ring (the assembler was aborted mid-way) is dropped too.
    for (uint32_t run : ring_.close(completes)) accounting_.record(run, Fate::kDroppedShutdown, 1);
    const uint64_t dropped_shutdown = accounting_.count(Fate::kDroppedShutdown);
    shutdown_result_ = result(lost == 0 && !keep_journal && dropped_shutdown == 0, 0);
    shutdown_result_.pending_on_disk = keep_journal && lost == 0 && dropped_shutdown == 0;
    if (dropped_shutdown > 0) {
      reporter_.report(
          LogError::Kind::kShutdown, dropped_shutdown,
          fmt::format("{} item(s) dropped: not delivered by the shutdown deadline", dropped_shutdown));
    }
    if (keep_journal && deps_.options.report_errors_to_stderr) {
      std::fprintf(stderr,
                   "mlflowpp: %llu item(s) (and run events) not yet delivered to %s are kept in the spool "
                   "(%s); the next "
                   "mlflowpp process logging to this server delivers them, or run: mlflowpp-sync %s\n",
                   static_cast<unsigned long long>(left_on_disk), deps_.target.c_str(),
                   deps_.spool_dir.c_str(), deps_.spool_dir.c_str());
    }
    // Release the callback: it may own (capture) the Client that owns this logger.
    reporter_.release_callback();
  });
  return shutdown_result_;
}

LoggerStats LoggerCore::stats() const noexcept {
  LoggerStats s;
  if (forked()) {
    s.dropped_after_fork = accounting_.count(Fate::kDroppedAfterFork);
    return s;
  }
  s.enqueued = ring_.accepted_items();
  s.queue_high_water = ring_.high_water();
  accounting_.fill(s);
  s.enqueued += accounting_.count(Fate::kDroppedAfterStop);  // post-shutdown calls: enqueued and dropped
  return s;
}

void LoggerCore::set_error_callback(ErrorCallback callback) { reporter_.set_callback(std::move(callback)); }

}  // namespace mlflowpp::detail
