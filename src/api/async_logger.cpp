#include "mlflowpp/async_logger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "detail/codec/json.hpp"
#include "detail/core/validation.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/rest/rest.hpp"
#include "detail/spool/spool.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {
namespace detail {

namespace {

int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::size_t origin_count(const Chunk& chunk) {
  std::size_t n = 0;
  for (const Entity& e : chunk.entities) n += e.origins.size();
  return n;
}

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

FsyncPolicy fsync_policy(const SpoolOptions& o) {
  FsyncPolicy p;
  p.mode = o.fsync == SpoolFsync::kNever    ? FsyncMode::kNever
           : o.fsync == SpoolFsync::kAlways ? FsyncMode::kEveryRecord
                                            : FsyncMode::kEveryNRecordsOrSeconds;
  p.every = o.fsync_interval;
  return p;
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

LoggerCore::LoggerCore(LoggerDeps deps) : deps_(std::move(deps)), fork_generation_(fork_generation()) {
  auto& o = deps_.options;
  if (o.queue_capacity < 16) o.queue_capacity = 16;
  // The early wake must be reachable: at most half the queue (else a small queue would
  // fill and drop while the worker sleeps). A zero delay would make the idle worker spin.
  o.wake_threshold = std::max<std::size_t>(1, std::min(o.wake_threshold, o.queue_capacity / 2));
  if (o.max_batch_delay < std::chrono::milliseconds(1)) o.max_batch_delay = std::chrono::milliseconds(1);
  o.max_buffered_bytes = std::max(o.max_buffered_bytes, o.max_request_bytes);
  if (!o.spool.enabled) deps_.spool_dir.clear();
  if (!deps_.now_ms) deps_.now_ms = system_now_ms;
  warm_up_json();
  ring_.resize(o.queue_capacity);
  assembler_ = std::thread([this] { run_assembler(); });
  sender_ = std::thread([this] { run_sender(); });
}

LoggerCore::~LoggerCore() { shutdown(deps_.options.end_run_flush_timeout); }

bool LoggerCore::forked() const noexcept { return fork_generation() != fork_generation_; }

uint32_t LoggerCore::handle_for(std::string_view run_id) {
  if (forked()) return 0;  // a parent thread may have held the mutex at the fork
  std::lock_guard<std::mutex> lk(runs_mu_);
  auto it = run_index_.find(std::string(run_id));
  if (it != run_index_.end()) return it->second;
  auto h = static_cast<uint32_t>(run_ids_.size());
  run_ids_.emplace_back(run_id);
  run_counts_.emplace_back();
  run_end_.emplace_back();
  run_index_.emplace(std::string(run_id), h);
  return h;
}

std::string LoggerCore::run_id_of(uint32_t run) const {
  if (forked()) return {};
  std::lock_guard<std::mutex> lk(runs_mu_);
  return run < run_ids_.size() ? run_ids_[run] : std::string();
}

void LoggerCore::count_run(uint32_t run, uint64_t delivered, uint64_t rejected, uint64_t dropped) noexcept {
  if (forked()) return;
  std::lock_guard<std::mutex> lk(runs_mu_);
  if (run >= run_counts_.size()) return;
  run_counts_[run].delivered += delivered;
  run_counts_[run].rejected += rejected;
  run_counts_[run].dropped += dropped;
}

RunLogStats LoggerCore::run_stats(uint32_t run) const noexcept {
  if (forked()) return {};
  std::lock_guard<std::mutex> lk(runs_mu_);
  return run < run_counts_.size() ? run_counts_[run] : RunLogStats{};
}

void LoggerCore::set_end_state(uint32_t run, RunEndState state) {
  if (forked()) return;
  std::lock_guard<std::mutex> lk(runs_mu_);
  if (run < run_end_.size()) run_end_[run] = std::move(state);
}

RunEndState LoggerCore::run_end_state(uint32_t run) const noexcept {
  if (forked()) return {};
  std::lock_guard<std::mutex> lk(runs_mu_);
  return run < run_end_.size() ? run_end_[run] : RunEndState{};
}

void LoggerCore::enqueue(ItemKind kind, uint32_t run, std::string_view key, double value,
                         std::string_view text, int64_t step, int64_t timestamp_ms) noexcept {
  if (forked()) {
    dropped_after_fork_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (timestamp_ms == kTimestampNow) timestamp_ms = kind == ItemKind::kMetric ? deps_.now_ms() : 0;
  bool wake = false;
  {
    std::unique_lock<std::mutex> lk(mu_);
    const std::size_t cap = ring_.size();
    bool drop = false;
    if (stop_) {
      ++dropped_after_stop_;  // outside the flush sequence; reported as enqueued + dropped
      drop = true;
    } else if (count_ == cap) {
      if (deps_.options.overflow_policy == OverflowPolicy::kBlock && !stalled_) {
        cv_worker_.notify_one();
        if (!cv_space_.wait_for(lk, deps_.options.block_timeout, [&] { return count_ < cap || stop_; }))
          stalled_ = true;  // the assembler is stuck: drop until it drains again, never wait twice
      }
      if (count_ == cap || stop_) {
        ++dropped_queue_full_;
        drop = true;
      }
    }
    if (drop && !stop_) cv_worker_.notify_one();  // full: make sure the worker is draining
    if (!drop) {
      Item& it = ring_[(head_ + count_) % cap];
      try {
        it.key.assign(key.data(), key.size());  // reuses the slot's capacity once warm
        if (kind == ItemKind::kMetric) {
          it.text.clear();
        } else {
          it.text.assign(text.data(), text.size());
        }
      } catch (...) {  // out of memory: count it, never throw into the training loop
        ++dropped_queue_full_;
        drop = true;
      }
      if (!drop) {
        it.kind = kind;
        it.run = run;
        it.value = value;
        it.step = step;
        it.timestamp = timestamp_ms;
        ++count_;
        ++seq_;
        ++enqueued_;
        if (count_ > high_water_) high_water_ = count_;
        wake = count_ >= deps_.options.wake_threshold;
      }
    }
    if (drop) {
      lk.unlock();
      count_run(run, 0, 0, 1);
      return;
    }
  }
  if (wake) cv_worker_.notify_one();
}

bool LoggerCore::enqueue_control(ItemKind kind, uint32_t run, int64_t step, int64_t timestamp,
                                 std::string text) noexcept {
  if (forked()) return false;
  {
    std::unique_lock<std::mutex> lk(mu_);
    const std::size_t cap = ring_.size();
    // Run events are not dropped for a full queue: wait for the assembler (which never
    // waits on the network with a working spool), at most 10 s.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (count_ == cap && !stop_ && std::chrono::steady_clock::now() < until) {
      cv_worker_.notify_one();
      cv_space_.wait_for(lk, std::chrono::milliseconds(100));
    }
    if (stop_ || count_ == cap) return false;
    Item& it = ring_[(head_ + count_) % cap];
    it.kind = kind;
    it.run = run;
    it.step = step;
    it.timestamp = timestamp;
    it.value = 0;
    it.key.clear();
    it.text = std::move(text);
    ++count_;
    ++seq_;
    if (count_ > high_water_) high_water_ = count_;
  }
  cv_worker_.notify_one();
  return true;
}

bool LoggerCore::run_started(uint32_t run) noexcept {
  if (forked()) return false;
  {
    std::lock_guard<std::mutex> lk(runs_mu_);
    live_runs_.insert(run);
  }
  return enqueue_control(ItemKind::kRunStarted, run, 0, 0, {});
}

bool LoggerCore::end_run(uint32_t run, RunStatus status, int64_t end_time_ms) noexcept {
  if (forked()) return false;
  set_end_state(run, {RunEndState::Kind::kPending, {}});
  return enqueue_control(ItemKind::kEndRun, run, static_cast<int64_t>(status), end_time_ms, {});
}

bool LoggerCore::create_run_offline(uint32_t run, std::string payload) noexcept {
  if (forked()) return false;
  try {
    std::lock_guard<std::mutex> lk(runs_mu_);
    offline_payloads_[run] = payload;
  } catch (...) {
    return false;
  }
  return enqueue_control(ItemKind::kCreateRun, run, 0, 0, std::move(payload));
}

// ---- assembler -------------------------------------------------------------------------

void LoggerCore::run_assembler() noexcept {
  std::vector<Item> batch;
  for (;;) {
    std::size_t n = 0;
    uint64_t seq_end = 0;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_worker_.wait_for(lk, deps_.options.max_batch_delay, [&] {
        return stop_ || flush_requested_ || count_ >= deps_.options.wake_threshold;
      });
      n = count_;
      if (batch.size() < n) batch.resize(n);
      const std::size_t cap = ring_.size();
      for (std::size_t i = 0; i < n; ++i) std::swap(batch[i], ring_[(head_ + i) % cap]);
      head_ = (head_ + n) % cap;
      count_ = 0;
      assembling_ = n > 0;
      if (n > 0) stalled_ = false;
      flush_requested_ = false;
      stopping = stop_;
      seq_end = seq_;
    }
    if (n > 0) cv_space_.notify_all();
    // Report queue-full drops before the entries that complete this round, so that a
    // flush that returns has seen every callback for the items it covers.
    uint64_t queue_full = 0;
    {
      std::lock_guard<std::mutex> lk(mu_);
      queue_full = dropped_queue_full_ - reported_queue_full_;
      reported_queue_full_ = dropped_queue_full_;
    }
    if (queue_full > 0) {
      LogError e;
      e.kind = LogError::Kind::kQueueFull;
      e.items = queue_full;
      e.message = fmt::format("{} item(s) dropped: the in-memory queue was full ({} items)", queue_full,
                              ring_.size());
      report(std::move(e));
    }
    if (n > 0) {
      std::vector<Entry> entries;
      try {
        entries = assemble(batch, n, seq_end);
      } catch (const std::exception& ex) {  // out of memory: count the round's items, go on
        uint64_t items = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const ItemKind k = batch[i].kind;
          if (k == ItemKind::kMetric || k == ItemKind::kParam || k == ItemKind::kTag) {
            ++items;
            count_run(batch[i].run, 0, 0, 1);
          }
        }
        dropped_transient_.fetch_add(items);
        LogError le;
        le.kind = LogError::Kind::kTransient;
        le.items = items;
        le.message = fmt::format("{} item(s) dropped: {}", items, ex.what());
        report(std::move(le));
        entries.clear();
        Entry marker;
        marker.completes_through = seq_end;
        entries.push_back(std::move(marker));
      }
      submit(entries);
      {
        std::lock_guard<std::mutex> lk(mu_);
        assembling_ = false;
      }
    } else {
      {
        std::lock_guard<std::mutex> lk(pmu_);
        if (journal_) {
          try {
            journal_->sync_if_due();
          } catch (const std::exception& e) {
            spool_failed_locked(e.what());
          }
        }
      }
      report_deferred();
    }
    if (stopping && n == 0) break;
  }
  {
    std::lock_guard<std::mutex> lk(pmu_);
    assembler_done_ = true;
  }
  cv_sender_.notify_all();
}

std::vector<LoggerCore::Entry> LoggerCore::assemble(std::vector<Item>& items, std::size_t n,
                                                    uint64_t seq_end) {
  std::vector<std::string> run_ids;
  {
    std::lock_guard<std::mutex> lk(runs_mu_);
    run_ids = run_ids_;
  }
  auto id_of = [&](uint32_t run) -> const std::string& {
    static const std::string none;
    return run < run_ids.size() ? run_ids[run] : none;
  };
  BatchLimits limits;
  limits.max_bytes = deps_.options.max_request_bytes;
  std::vector<Entry> out;
  std::vector<uint32_t> order;
  std::unordered_map<uint32_t, std::unique_ptr<Batcher>> batchers;

  auto flush_run = [&](uint32_t run) {
    auto it = batchers.find(run);
    if (it == batchers.end()) return;
    for (Chunk& chunk : it->second->finish()) {
      Entry e;
      e.kind = EntryKind::kLogBatch;
      e.run = run;
      e.items = origin_count(chunk);
      e.entities = chunk.size();
      e.body = chunk_body(id_of(run), chunk);
      out.push_back(std::move(e));
    }
  };

  for (std::size_t i = 0; i < n; ++i) {
    Item& it = items[i];
    if (it.kind == ItemKind::kRunStarted || it.kind == ItemKind::kEndRun || it.kind == ItemKind::kCreateRun) {
      flush_run(it.run);  // the event follows the run's data logged before it
      Entry e;
      e.run = it.run;
      if (it.kind == ItemKind::kRunStarted) {
        e.kind = EntryKind::kRunStarted;
        e.body = "{\"run_id\":";
        append_json_string(e.body, id_of(it.run));
        e.body += "}";
      } else if (it.kind == ItemKind::kEndRun) {
        e.kind = EntryKind::kUpdateRun;
        e.body = update_run_body(id_of(it.run), static_cast<RunStatus>(it.step), it.timestamp);
        std::lock_guard<std::mutex> lk(runs_mu_);
        live_runs_.erase(it.run);
      } else {
        e.kind = EntryKind::kCreateRun;
        e.body = std::move(it.text);
        it.text = std::string();
      }
      out.push_back(std::move(e));
      continue;
    }
    const std::string& run_id = id_of(it.run);
    std::optional<std::string> error;
    Entity e;
    e.key = it.key;
    e.origins.push_back(i);
    switch (it.kind) {
      case ItemKind::kMetric: {
        error = check_key("metric", it.key);
        if (!error) error = check_timestamp(it.key, it.timestamp);
        if (!error) warn_once_if_seconds(it.key, it.timestamp);
        e.kind = EntityKind::kMetric;
        if (!error) {
          Metric m;
          m.key = it.key;
          m.value = it.value;
          m.timestamp = it.timestamp;
          m.step = it.step;
          e.json = metric_json(m);
        }
        break;
      }
      case ItemKind::kParam:
        error = check_key("param", it.key);
        if (!error) error = check_value("param", it.key, it.text, kMaxParamValueLength);
        e.kind = EntityKind::kParam;
        e.value = it.text;
        if (!error) e.json = param_json(it.key, it.text);
        break;
      default:
        error = check_key("tag", it.key);
        if (!error) error = check_value("tag", it.key, it.text, kMaxTagValueLength);
        e.kind = EntityKind::kTag;
        if (!error) e.json = tag_json(it.key, it.text);
        break;
    }
    if (error) {
      rejected_invalid_.fetch_add(1, std::memory_order_relaxed);
      count_run(it.run, 0, 1, 0);
      LogError le;
      le.kind = LogError::Kind::kInvalid;
      le.run_id = run_id;
      le.key = it.key;
      le.message = std::move(*error);
      report(std::move(le));
      continue;
    }
    auto [slot, inserted] = batchers.try_emplace(it.run);
    if (inserted) {
      slot->second = std::make_unique<Batcher>(limits, run_id.size());
      order.push_back(it.run);
    }
    slot->second->add(std::move(e));
  }
  for (uint32_t run : order) flush_run(run);
  if (out.empty()) out.emplace_back();  // a marker, so that the sender completes this round in order
  out.back().completes_through = seq_end;
  return out;
}

bool LoggerCore::ensure_journal_locked() {
  if (journal_) return true;
  if (deps_.spool_dir.empty() || spool_broken_) return false;
  try {
    journal_ = std::make_unique<JournalWriter>(
        JournalWriter::create(deps_.spool_dir, fsync_policy(deps_.options.spool)));
    return true;
  } catch (const std::exception& e) {
    spool_failed_locked(e.what());
    return false;
  }
}

void LoggerCore::spool_failed_locked(const std::string& why) {
  if (spool_broken_) return;
  spool_broken_ = true;  // from now on: memory only (bounded), as without a spool
  LogError le;
  le.kind = LogError::Kind::kSpoolError;
  le.items = 0;
  le.message = fmt::format("the spool journal in {} cannot be written ({}); logging continues in memory only",
                           deps_.spool_dir, why);
  deferred_.push_back(std::move(le));  // reported once pmu_ is released
}

void LoggerCore::submit(std::vector<Entry>& entries) {
  std::unique_lock<std::mutex> lk(pmu_);
  const auto& o = deps_.options;
  for (Entry& e : entries) {
    if (e.kind != EntryKind::kMarker && ensure_journal_locked()) {
      // Run events always go in; data only below the cap.
      const bool over_cap = e.kind == EntryKind::kLogBatch && journal_->size() >= o.spool.max_bytes;
      if (over_cap && !cap_reported_) {
        cap_reported_ = true;
        LogError le;
        le.kind = LogError::Kind::kSpoolFull;
        le.items = 0;
        le.message = fmt::format(
            "the spool journal {} reached its cap of {} bytes (LoggerOptions::spool.max_bytes); "
            "new data is held in memory only, then dropped",
            journal_->path(), o.spool.max_bytes);
        deferred_.push_back(std::move(le));
      }
      if (!over_cap) {
        static constexpr RecordType kTypes[] = {RecordType::kLogBatch, RecordType::kUpdateRun,
                                                RecordType::kCreateRun, RecordType::kRunStarted};
        try {
          const uint64_t at = journal_->size();
          journal_->append(kTypes[static_cast<int>(e.kind)], e.body);
          e.offset = static_cast<int64_t>(at);
          spooled_.fetch_add(e.items, std::memory_order_relaxed);
          if (e.kind == EntryKind::kUpdateRun) set_end_state(e.run, {RunEndState::Kind::kSpooled, {}});
        } catch (const std::exception& ex) {
          spool_failed_locked(ex.what());
        }
      }
    }
    if (e.kind == EntryKind::kRunStarted) {
      // Journal only: nothing to send.
      e.body.clear();
    }
    if (e.kind == EntryKind::kLogBatch && buffered_bytes_ + e.body.size() > o.max_buffered_bytes) {
      if (e.offset >= 0) {
        std::string().swap(e.body);  // on disk: read it back when its turn comes
      } else if (!spool_enabled() || spool_broken_) {
        // No spool: wait for the sender (the ring absorbs the wait; it drops when full).
        // The sender must hear of the entries this round already queued before we wait for
        // it, or both wait for each other (it for work, we for room).
        cv_sender_.notify_one();
        cv_pipe_space_.wait(lk, [&] {
          return buffered_bytes_ == 0 || buffered_bytes_ + e.body.size() <= o.max_buffered_bytes ||
                 abort_.load();
        });
      }
      if (e.offset < 0 && buffered_bytes_ + e.body.size() > o.max_buffered_bytes) {
        // Memory and disk are full (or the logger is being aborted): drop, counted.
        const bool at_shutdown = abort_.load();
        (at_shutdown ? dropped_shutdown_ : dropped_spool_full_).fetch_add(e.items, std::memory_order_relaxed);
        count_run(e.run, 0, 0, e.items);
        LogError le;
        le.kind = at_shutdown ? LogError::Kind::kShutdown : LogError::Kind::kSpoolFull;
        le.items = e.items;
        le.run_id = run_id_of(e.run);
        le.message = fmt::format("{} item(s) for run {} dropped: {}", e.items, le.run_id,
                                 at_shutdown ? "not delivered by the shutdown deadline"
                                             : "the spool is full and so is the in-memory buffer");
        lk.unlock();
        report(std::move(le));
        lk.lock();
        e.kind = EntryKind::kMarker;
        std::string().swap(e.body);
        e.items = 0;
      }
    }
    if (e.offset < 0 && e.kind != EntryKind::kMarker && e.kind != EntryKind::kRunStarted) ++unjournaled_;
    buffered_bytes_ += e.body.size();
    outbox_.push_back(std::move(e));
  }
  lk.unlock();
  cv_sender_.notify_one();
  report_deferred();
}

bool LoggerCore::all_pending_on_disk() const noexcept {
  if (!spool_enabled() || forked()) return false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (count_ > 0 || assembling_) return false;
  }
  std::lock_guard<std::mutex> lk(pmu_);
  return !spool_broken_ && unjournaled_ == 0;
}

void LoggerCore::report_deferred() {
  std::vector<LogError> pending;
  {
    std::lock_guard<std::mutex> lk(pmu_);
    pending.swap(deferred_);
  }
  for (auto& e : pending) report(std::move(e));
}

// ---- sender ----------------------------------------------------------------------------

bool LoggerCore::interruptible_sleep(std::chrono::milliseconds d) {
  if (deps_.retry_sleep) return deps_.retry_sleep(d) && !abort_.load();
  std::unique_lock<std::mutex> lk(pmu_);
  cv_sleep_.wait_for(lk, d, [&] { return abort_.load(); });
  return !abort_.load();
}

void LoggerCore::set_outage(bool unreachable) {
  if (unreachable && !outage_.load())
    outage_since_ms_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count());
  if (outage_.exchange(unreachable) == unreachable) return;
  if (!deps_.options.report_errors_to_stderr) return;
  if (unreachable) {
    std::fprintf(stderr,
                 "mlflowpp: the tracking server %s is not answering; logging continues %s and "
                 "is delivered when it answers again\n",
                 deps_.target.c_str(), spool_enabled() ? "into the spool" : "in memory");
  } else {
    std::fprintf(stderr, "mlflowpp: the tracking server %s answers again; delivering what was held\n",
                 deps_.target.c_str());
  }
}

void LoggerCore::run_sender() noexcept {
  DeliveryHooks hooks;
  hooks.abort = &abort_;
  hooks.requests = &requests_;
  hooks.retries = &retries_;
  hooks.sleep = [this](std::chrono::milliseconds d) { return interruptible_sleep(d); };
  hooks.report = [this](LogError e) { report(std::move(e)); };
  hooks.persist = spool_enabled();  // per request: see deliver()
  hooks.on_outage = [this](bool down) { set_outage(down); };
  hooks.max_round_wait = deps_.options.spool.max_retry_wait;
  Deliverer deliverer(*deps_.store, hooks);
  try {
    if (spool_enabled() && deps_.options.spool.replay_orphans) adopt_orphans(deliverer);
  } catch (...) {
  }
  for (;;) {
    Entry* e = nullptr;
    {
      std::unique_lock<std::mutex> lk(pmu_);
      cv_sender_.wait(lk, [&] { return !outbox_.empty() || assembler_done_ || abort_.load(); });
      if (abort_.load() || outbox_.empty()) break;  // empty here means the assembler is done
      e = &outbox_.front();  // stable: only this thread pops, and push_back keeps references
    }
    bool finished = false;
    try {
      finished = deliver(*e, deliverer);
    } catch (const std::exception& ex) {
      // Not the network (that is handled inside): e.g. out of memory. Count it, go on.
      finished = true;
      if (e->kind == EntryKind::kLogBatch) {
        dropped_transient_.fetch_add(e->items);
        count_run(e->run, 0, 0, e->items);
      }
      LogError le;
      le.kind = LogError::Kind::kTransient;
      le.items = e->items;
      le.message = fmt::format("{} item(s) not delivered: {}", e->items, ex.what());
      report(std::move(le));
    }
    if (!finished) break;  // aborted: what is left is accounted by shutdown()
    {
      std::lock_guard<std::mutex> lk(pmu_);
      finish_front_locked();
    }
    report_deferred();
  }
  {
    std::lock_guard<std::mutex> lk(pmu_);
    sender_done_ = true;
  }
  cv_done_.notify_all();
}

bool LoggerCore::load_body(Entry& e) {
  if (!e.body.empty() || e.offset < 0) return true;
  try {
    std::string path;
    {
      std::lock_guard<std::mutex> lk(pmu_);
      if (!journal_) return false;
      path = journal_->path();
    }
    JournalReader reader = JournalReader::open(path);
    reader.seek(static_cast<uint64_t>(e.offset));
    Record rec;
    if (!reader.next(rec)) return false;
    e.body = std::move(rec.payload);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool LoggerCore::deliver(Entry& e, Deliverer& deliverer) {
  // Only what the journal holds is retried until the server answers; a request held in
  // memory only (no spool, spool broken or full) is dropped once the retries are spent.
  deliverer.set_persist(e.offset >= 0);
  switch (e.kind) {
    case EntryKind::kMarker:
    case EntryKind::kRunStarted:
      return true;
    case EntryKind::kCreateRun: {
      auto run = parse_offline_run_payload(e.body);
      if (!run) return true;
      CallOutcome o = deliverer.create_offline_run(*run);
      // The data of this run cannot go anywhere before it exists: keep trying (a failure
      // that is not transient, e.g. an unreadable 2xx answer, is retried more slowly).
      for (auto wait = std::chrono::milliseconds(1000); o.kind == CallOutcome::Kind::kFailed && !o.aborted;
           wait = std::min(wait * 2, deps_.options.spool.max_retry_wait)) {
        if (!interruptible_sleep(wait)) return false;
        o = deliverer.create_offline_run(*run);
      }
      if (o.aborted) return false;
      if (o.kind == CallOutcome::Kind::kDone) {
        std::lock_guard<std::mutex> lk(runs_mu_);
        if (e.run < run_ids_.size()) {
          run_ids_[e.run] = o.run_id;
          run_index_.emplace(o.run_id, e.run);
        }
      } else {
        {
          std::lock_guard<std::mutex> lk(runs_mu_);
          unresolvable_runs_.insert(e.run);
        }
        LogError le;
        le.kind = LogError::Kind::kRejectedByServer;
        le.run_id = run->local_run_id;
        le.items = 0;
        le.message = fmt::format("the run started offline as {} could not be created on the server: {}",
                                 run->local_run_id, o.message);
        report(std::move(le));
      }
      return true;
    }
    case EntryKind::kLogBatch:
    case EntryKind::kUpdateRun:
      break;
  }
  if (!load_body(e)) {
    // The record cannot be read back (the journal was damaged under us): count it lost.
    if (e.kind == EntryKind::kLogBatch) {
      dropped_spool_full_.fetch_add(e.items);
      count_run(e.run, 0, 0, e.items);
    }
    LogError le;
    le.kind = LogError::Kind::kSpoolError;
    le.items = e.items;
    le.message = fmt::format("{} item(s) could not be read back from the spool journal", e.items);
    report(std::move(le));
    return true;
  }
  std::string current;
  bool unresolvable = false;
  {
    std::lock_guard<std::mutex> lk(runs_mu_);
    current = e.run < run_ids_.size() ? run_ids_[e.run] : std::string();
    unresolvable = unresolvable_runs_.count(e.run) > 0;
  }
  // Bodies built before an offline run was created carry its placeholder id.
  if (const std::string p = body_run_id(e.body); is_offline_run_id(p) && p != current)
    e.body = replace_body_run_id(std::move(e.body), p, current);
  if (e.kind == EntryKind::kUpdateRun) {
    CallOutcome o;
    if (unresolvable) {
      o.kind = CallOutcome::Kind::kRejected;
      o.message = "the run was never created on the server";
    } else {
      o = deliverer.update_run(e.body);
    }
    if (o.kind == CallOutcome::Kind::kFailed && o.aborted) return false;
    if (o.kind == CallOutcome::Kind::kDone) {
      set_end_state(e.run, {RunEndState::Kind::kDelivered, {}});
    } else {
      set_end_state(e.run, {RunEndState::Kind::kFailed, o.message});
    }
    return true;
  }
  if (unresolvable) {
    rejected_by_server_.fetch_add(e.items);
    count_run(e.run, 0, e.items, 0);
    LogError le;
    le.kind = LogError::Kind::kRejectedByServer;
    le.run_id = current;
    le.items = e.items;
    le.message = fmt::format("{} item(s) for run {} not delivered: the run was never created on the server",
                             e.items, current);
    report(std::move(le));
    return true;
  }
  BatchOutcome b = deliverer.log_batch(e.body, static_cast<int64_t>(e.entities));
  if (b.aborted) return false;
  if (b.failed > 0) {
    // Without a spool: the retry budget is spent, the data is dropped (counted).
    const uint64_t lost = e.items - std::min(e.items, b.delivered + b.rejected);
    delivered_.fetch_add(e.items - lost - std::min(e.items - lost, b.rejected));
    rejected_by_server_.fetch_add(std::min(e.items - lost, b.rejected));
    dropped_transient_.fetch_add(lost);
    count_run(e.run, e.items - lost - std::min(e.items - lost, b.rejected),
              std::min(e.items - lost, b.rejected), lost);
    LogError le;
    le.kind = LogError::Kind::kTransient;
    le.run_id = current;
    le.items = lost;
    le.http_status = b.http_status;
    le.error_code = b.error_code;
    le.message = fmt::format("{} item(s) for run {} not delivered: {}", lost, current, b.message);
    report(std::move(le));
    return true;
  }
  const uint64_t rejected = std::min(e.items, b.rejected);
  delivered_.fetch_add(e.items - rejected);
  rejected_by_server_.fetch_add(rejected);
  count_run(e.run, e.items - rejected, rejected, 0);
  return true;
}

void LoggerCore::finish_front_locked() {
  Entry& e = outbox_.front();
  buffered_bytes_ -= std::min(buffered_bytes_, e.body.size());
  if (e.offset < 0 && e.kind != EntryKind::kMarker && e.kind != EntryKind::kRunStarted) --unjournaled_;
  const bool journaled = e.offset >= 0;
  const uint64_t completes = e.completes_through;
  outbox_.pop_front();
  cv_pipe_space_.notify_all();
  if (journaled && journal_) {
    // Acknowledge: the first record not yet delivered, or the end when all are.
    uint64_t ack = journal_->size();
    for (const Entry& next : outbox_) {
      if (next.offset >= 0) {
        ack = static_cast<uint64_t>(next.offset);
        break;
      }
    }
    try {
      journal_->append_ack(ack);
      if (outbox_.empty() && journal_->size() >= deps_.options.spool.rotate_bytes) {
        // Everything delivered and the journal is large: start a new one (with the live
        // runs' RUN_STARTED records, for the crash rule) and remove the old one.
        auto next = std::make_unique<JournalWriter>(
            JournalWriter::create(deps_.spool_dir, fsync_policy(deps_.options.spool)));
        std::vector<std::string> live, creates;
        {
          std::lock_guard<std::mutex> rl(runs_mu_);
          for (uint32_t r : live_runs_) {
            if (r < run_ids_.size()) live.push_back(run_ids_[r]);
            // Bodies still carrying an offline run's placeholder need its CREATE_RUN in this
            // journal too (the replay finds the run by its tag: it is never created twice).
            if (auto it = offline_payloads_.find(r); it != offline_payloads_.end())
              creates.push_back(it->second);
          }
        }
        for (const std::string& payload : creates) next->append(RecordType::kCreateRun, payload);
        for (const std::string& id : live) {
          std::string body = "{\"run_id\":";
          append_json_string(body, id);
          body += "}";
          next->append(RecordType::kRunStarted, body);
        }
        next->append_ack(next->size());
        remove_journal(std::move(*journal_));
        journal_ = std::move(next);
      }
    } catch (const std::exception& ex) {
      spool_failed_locked(ex.what());
    }
  }
  if (completes > 0) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      completed_ = std::max(completed_, completes);
    }
    cv_done_.notify_all();
  }
}

void LoggerCore::adopt_orphans(Deliverer& deliverer) {
  for (const std::string& path : list_journals(deps_.spool_dir)) {
    if (abort_.load()) return;
    std::optional<JournalWriter> adopted;
    try {
      adopted = try_adopt(path, fsync_policy(deps_.options.spool));
    } catch (const std::exception&) {
      continue;
    }
    if (!adopted) continue;  // its owner is alive
    auto is_live = [this](const std::string& run_id) {
      std::lock_guard<std::mutex> lk(runs_mu_);
      auto it = run_index_.find(run_id);
      return it != run_index_.end() && live_runs_.count(it->second) > 0;
    };
    ReplayStats st = replay_journal(std::move(*adopted), deliverer, is_live);
    replayed_.fetch_add(st.entities_delivered);
    if (deps_.options.report_errors_to_stderr) {
      std::fprintf(
          stderr,
          "mlflowpp: replayed the spool journal %s of an earlier process: %llu record(s), %llu item(s) "
          "delivered, %llu refused, %llu run(s) created, %llu run(s) marked FAILED%s%s\n",
          st.path.c_str(), static_cast<unsigned long long>(st.records),
          static_cast<unsigned long long>(st.entities_delivered),
          static_cast<unsigned long long>(st.entities_rejected),
          static_cast<unsigned long long>(st.runs_created),
          static_cast<unsigned long long>(st.runs_marked_failed),
          st.complete ? "" : "; left for later: ", st.error.c_str());
    }
    if (!st.complete) return;  // aborted or unreachable: the rest waits for the next start
  }
}

// ---- reporting, flush, shutdown, stats ------------------------------------------------

void LoggerCore::report(LogError error) {
  ErrorCallback cb;
  {
    std::lock_guard<std::mutex> lk(callback_mu_);
    cb = callback_;
  }
  if (cb) {
    try {
      cb(error);
    } catch (...) {
    }
    return;
  }
  if (!deps_.options.report_errors_to_stderr) return;
  uint64_t n = ++stderr_reports_;
  if (n <= 20 || n % 1000 == 0) {
    std::fprintf(stderr, "mlflowpp: %s: %s%s\n", kind_name(error.kind), error.message.c_str(),
                 n == 20 ? " (further errors: every 1000th is printed; see AsyncLogger::stats())" : "");
  }
}

FlushResult LoggerCore::forked_result() const noexcept {
  // In a forked child nothing is ever delivered and no mutex may be taken.
  FlushResult r;
  r.complete = false;
  r.dropped = dropped_after_fork_.load();
  return r;
}

FlushResult LoggerCore::result(bool complete, uint64_t pending) const noexcept {
  FlushResult r;
  r.complete = complete;
  r.pending = pending;
  r.rejected = rejected_invalid_.load() + rejected_by_server_.load();
  uint64_t queue_full = 0, after_stop = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_full = dropped_queue_full_;
    after_stop = dropped_after_stop_;
  }
  r.dropped = queue_full + after_stop + dropped_transient_.load() + dropped_shutdown_.load() +
              dropped_spool_full_.load() + dropped_after_fork_.load();
  r.spooled = left_in_spool_.load();
  if (!complete) {
    std::lock_guard<std::mutex> lk(pmu_);
    for (const Entry& e : outbox_)
      if (e.offset >= 0) r.spooled += e.items;
  }
  return r;
}

FlushResult LoggerCore::flush(std::chrono::milliseconds timeout) noexcept {
  if (forked()) return forked_result();
  uint64_t target = 0, done = 0;
  {
    std::unique_lock<std::mutex> lk(mu_);
    target = seq_;
    if (completed_ < target && !threads_done_) {
      flush_requested_ = true;
      cv_worker_.notify_one();
      cv_done_.wait_for(lk, timeout, [&] { return completed_ >= target || threads_done_; });
    }
    done = std::min(completed_, target);
  }
  return result(done >= target, target - done);
}

FlushResult LoggerCore::shutdown(std::chrono::milliseconds deadline) noexcept {
  if (forked()) return forked_result();
  std::call_once(shutdown_once_, [&] {
    const auto until = std::chrono::steady_clock::now() + deadline;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      flush_requested_ = true;
    }
    cv_worker_.notify_all();
    cv_space_.notify_all();
    // Wait for delivery until the deadline; but when the server is unreachable and
    // everything left is in the journal, there is nothing to wait for: the next process
    // (or mlflowpp-sync) delivers it.
    bool done = false;
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(pmu_);
        done = sender_done_;
        if (!done && outage_.load() && assembler_done_ && unjournaled_ == 0 && !spool_broken_) break;
      }
      if (done || std::chrono::steady_clock::now() >= until) break;
      std::unique_lock<std::mutex> lk(mu_);
      cv_done_.wait_for(lk, std::chrono::milliseconds(50));
    }
    abort_.store(true);  // abandon transfers and retry waits (no-op when done)
    cv_worker_.notify_all();
    cv_space_.notify_all();
    { std::lock_guard<std::mutex> lk(pmu_); }
    cv_sender_.notify_all();
    cv_sleep_.notify_all();
    cv_pipe_space_.notify_all();
    if (assembler_.joinable()) assembler_.join();
    if (sender_.joinable()) sender_.join();

    // What was never delivered: in the journal (delivered by a later process), or lost.
    uint64_t left_on_disk = 0, lost = 0, completes = 0;
    bool keep_journal = false;
    std::vector<std::pair<uint32_t, uint64_t>> lost_runs;
    {
      std::lock_guard<std::mutex> lk(pmu_);
      for (Entry& e : outbox_) {
        completes = std::max(completes, e.completes_through);
        if (e.kind == EntryKind::kUpdateRun)
          set_end_state(e.run, {e.offset >= 0 ? RunEndState::Kind::kSpooled : RunEndState::Kind::kFailed,
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
    }
    for (auto [run, n] : lost_runs) count_run(run, 0, 0, n);
    left_in_spool_.fetch_add(left_on_disk);
    dropped_shutdown_.fetch_add(lost);
    uint64_t pending;
    {
      std::lock_guard<std::mutex> lk(mu_);
      // Anything still in the ring (the assembler was aborted mid-way) is dropped too.
      uint64_t ring_items = 0;
      for (std::size_t i = 0; i < count_; ++i) {
        const Item& it = ring_[(head_ + i) % ring_.size()];
        if (it.kind == ItemKind::kMetric || it.kind == ItemKind::kParam || it.kind == ItemKind::kTag)
          ++ring_items;
      }
      dropped_shutdown_.fetch_add(ring_items);
      count_ = 0;
      completed_ = std::max(completed_, std::max(completes, seq_));
      threads_done_ = true;
      pending = seq_ - completed_;
    }
    cv_done_.notify_all();
    shutdown_result_ = result(lost == 0 && !keep_journal && dropped_shutdown_.load() == 0, pending);
    if (dropped_shutdown_.load() > 0) {
      LogError le;
      le.kind = LogError::Kind::kShutdown;
      le.items = dropped_shutdown_.load();
      le.message = fmt::format("{} item(s) dropped: not delivered by the shutdown deadline", le.items);
      report(std::move(le));
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
    ErrorCallback released;
    {
      std::lock_guard<std::mutex> lk(callback_mu_);
      released.swap(callback_);
    }
  });
  return shutdown_result_;
}

LoggerStats LoggerCore::stats() const noexcept {
  LoggerStats s;
  if (forked()) {
    s.dropped_after_fork = dropped_after_fork_.load();
    return s;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.enqueued = enqueued_ + dropped_after_stop_;  // post-shutdown calls: enqueued and dropped
    s.dropped_queue_full = dropped_queue_full_;
    s.queue_high_water = high_water_;
    s.dropped_shutdown = dropped_after_stop_;
  }
  s.delivered = delivered_.load();
  s.rejected_invalid = rejected_invalid_.load();
  s.rejected_by_server = rejected_by_server_.load();
  s.dropped_transient = dropped_transient_.load();
  s.dropped_shutdown += dropped_shutdown_.load();
  s.dropped_spool_full = dropped_spool_full_.load();
  s.dropped_after_fork = dropped_after_fork_.load();
  s.spooled = spooled_.load();
  s.left_in_spool = left_in_spool_.load();
  s.replayed = replayed_.load();
  s.requests = requests_.load();
  s.retries = retries_.load();
  return s;
}

void LoggerCore::set_error_callback(ErrorCallback callback) {
  std::lock_guard<std::mutex> lk(callback_mu_);
  callback_ = std::move(callback);
}

}  // namespace detail

// ------------------------------------------------------------------ public facade

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

}  // namespace mlflowpp
