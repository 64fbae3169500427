#include "mlflowpp/async_logger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "detail/batch.hpp"
#include "detail/http.hpp"
#include "detail/json.hpp"
#include "detail/logger_core.hpp"
#include "detail/rest.hpp"
#include "detail/tracking_store.hpp"
#include "detail/validation.hpp"
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
  }
  return "error";
}

}  // namespace

LoggerCore::LoggerCore(LoggerDeps deps) : deps_(std::move(deps)), fork_generation_(fork_generation()) {
  auto& o = deps_.options;
  if (o.queue_capacity < 16) o.queue_capacity = 16;
  // The early wake must be reachable: at most half the queue (else a small queue would
  // fill and drop while the worker sleeps). A zero delay would make the idle worker spin.
  o.wake_threshold = std::max<std::size_t>(1, std::min(o.wake_threshold, o.queue_capacity / 2));
  if (o.max_batch_delay < std::chrono::milliseconds(1)) o.max_batch_delay = std::chrono::milliseconds(1);
  if (!deps_.now_ms) deps_.now_ms = system_now_ms;
  warm_up_json();
  ring_.resize(o.queue_capacity);
  worker_ = std::thread([this] { run_worker(); });
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
  run_index_.emplace(std::string(run_id), h);
  return h;
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

void LoggerCore::enqueue(ItemKind kind, uint32_t run, std::string_view key, double value,
                         std::string_view text, int64_t step, int64_t timestamp_ms) noexcept {
  if (forked()) {
    dropped_after_fork_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (timestamp_ms == AsyncLogger::kNow) timestamp_ms = kind == ItemKind::kMetric ? deps_.now_ms() : 0;
  bool wake = false;
  {
    std::unique_lock<std::mutex> lk(mu_);
    const std::size_t cap = ring_.size();
    bool drop = false;
    if (stop_) {
      ++dropped_after_stop_;  // outside the flush sequence; reported as enqueued + dropped
      drop = true;
    } else if (count_ == cap) {
      if (deps_.options.overflow_policy == OverflowPolicy::kBlock) {
        cv_worker_.notify_one();
        cv_space_.wait_for(lk, deps_.options.block_timeout, [&] { return count_ < cap || stop_; });
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

void LoggerCore::run_worker() noexcept {
  std::vector<Item> batch;
  for (;;) {
    std::size_t n = 0;
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
      flush_requested_ = false;
      stopping = stop_;
    }
    if (n > 0) cv_space_.notify_all();
    if (n > 0) {
      try {
        process(batch, n);
      } catch (...) {
        // process() accounts for every item itself; nothing may escape the worker.
      }
    }
    // Report queue-full drops before completing, so that a flush that returns has seen
    // every callback for the items it covers.
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
    {
      std::lock_guard<std::mutex> lk(mu_);
      completed_ += n;
    }
    cv_done_.notify_all();
    if (stopping && n == 0) break;
  }
  std::lock_guard<std::mutex> lk(mu_);
  worker_done_ = true;
  cv_done_.notify_all();
}

void LoggerCore::process(std::vector<Item>& items, std::size_t n) {
  // Resolve run ids once.
  std::vector<std::string> run_ids;
  {
    std::lock_guard<std::mutex> lk(runs_mu_);
    run_ids = run_ids_;
  }
  std::vector<uint32_t> run_order;
  std::unordered_map<uint32_t, std::vector<Entity>> per_run;
  for (std::size_t i = 0; i < n; ++i) {
    Item& it = items[i];
    const std::string& run_id = it.run < run_ids.size() ? run_ids[it.run] : std::string();
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
      case ItemKind::kTag:
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
    auto [slot, inserted] = per_run.try_emplace(it.run);
    if (inserted) run_order.push_back(it.run);
    slot->second.push_back(std::move(e));
  }

  BatchLimits limits;
  limits.max_bytes = deps_.options.max_request_bytes;
  for (uint32_t run : run_order) {
    const std::string& run_id = run < run_ids.size() ? run_ids[run] : std::string();
    Batcher batcher(limits, run_id.size());
    for (Entity& e : per_run[run]) batcher.add(std::move(e));
    for (Chunk& chunk : batcher.finish()) {
      if (abort_.load()) {
        dropped_shutdown_.fetch_add(origin_count(chunk), std::memory_order_relaxed);
        count_run(run, 0, 0, origin_count(chunk));
        continue;
      }
      send_chunk(run, run_id, chunk);
    }
  }
}

void LoggerCore::send_chunk(uint32_t run, const std::string& run_id, Chunk& chunk) {
  const std::size_t count = origin_count(chunk);
  CallHooks hooks;
  hooks.abort = &abort_;
  hooks.requests = &requests_;
  hooks.retries = &retries_;
  hooks.sleep = deps_.retry_sleep ? deps_.retry_sleep
                                  : [this](std::chrono::milliseconds d) { return interruptible_sleep(d); };
  auto drop = [&](const std::string& message, int status, const std::string& code) {
    bool at_shutdown = abort_.load();
    (at_shutdown ? dropped_shutdown_ : dropped_transient_).fetch_add(count, std::memory_order_relaxed);
    count_run(run, 0, 0, count);
    LogError le;
    le.kind = at_shutdown ? LogError::Kind::kShutdown : LogError::Kind::kTransient;
    le.run_id = run_id;
    le.items = count;
    le.http_status = status;
    le.error_code = code;
    le.message = fmt::format("{} item(s) for run {} not delivered: {}", count, run_id, message);
    report(std::move(le));
  };
  try {
    deps_.store->log_batch_body(chunk_body(run_id, chunk), &hooks);
    delivered_.fetch_add(count, std::memory_order_relaxed);
    count_run(run, count, 0, 0);
    return;
  } catch (const ServerError& e) {
    if (is_retryable_status(e.http_status())) {
      drop(e.what(), e.http_status(), e.error_code());
      return;
    }
    const bool run_level = e.http_status() != 400 || e.error_code() != "INVALID_PARAMETER_VALUE" ||
                           e.server_message().find("must be in the 'active' state") != std::string::npos;
    if (!run_level && chunk.size() > 1) {
      // One entity is bad: bisect so that everything else still lands (in order).
      std::size_t half = chunk.size() / 2;
      std::vector<Entity> left(std::make_move_iterator(chunk.entities.begin()),
                               std::make_move_iterator(chunk.entities.begin() + static_cast<long>(half)));
      std::vector<Entity> right(std::make_move_iterator(chunk.entities.begin() + static_cast<long>(half)),
                                std::make_move_iterator(chunk.entities.end()));
      Chunk a = make_chunk(std::move(left));
      Chunk b = make_chunk(std::move(right));
      for (Chunk* part : {&a, &b}) {
        if (abort_.load()) {
          dropped_shutdown_.fetch_add(origin_count(*part), std::memory_order_relaxed);
          count_run(run, 0, 0, origin_count(*part));
        } else {
          send_chunk(run, run_id, *part);
        }
      }
      return;
    }
    rejected_by_server_.fetch_add(count, std::memory_order_relaxed);
    count_run(run, 0, count, 0);
    LogError le;
    le.kind = LogError::Kind::kRejectedByServer;
    le.run_id = run_id;
    le.items = count;
    le.http_status = e.http_status();
    le.error_code = e.error_code();
    if (chunk.size() == 1) {
      const Entity& ent = chunk.entities.front();
      const char* what = ent.kind == EntityKind::kMetric  ? "metric"
                         : ent.kind == EntityKind::kParam ? "param"
                                                          : "tag";
      le.key = ent.key;
      le.message = fmt::format("{} '{}' refused by the server (HTTP {} {}): {}", what, ent.key,
                               e.http_status(), e.error_code(), e.server_message());
    } else {
      le.message = fmt::format("{} item(s) for run {} refused by the server (HTTP {} {}): {}", count, run_id,
                               e.http_status(), e.error_code(), e.server_message());
    }
    report(std::move(le));
  } catch (const ParseError&) {
    // The server answered 2xx: the batch is stored even if its (empty) answer is odd.
    delivered_.fetch_add(count, std::memory_order_relaxed);
    count_run(run, count, 0, 0);
  } catch (const TransportError& e) {
    drop(e.what(), 0, {});
  } catch (const std::exception& e) {
    drop(e.what(), 0, {});
  }
}

bool LoggerCore::interruptible_sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_worker_.wait_for(lk, d, [&] { return abort_.load(); });
  return !abort_.load();
}

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
              dropped_after_fork_.load();
  return r;
}

FlushResult LoggerCore::flush(std::chrono::milliseconds timeout) noexcept {
  if (forked()) return forked_result();
  uint64_t target = 0, done = 0;
  {
    std::unique_lock<std::mutex> lk(mu_);
    target = enqueued_;
    if (completed_ < target && !worker_done_) {
      flush_requested_ = true;
      cv_worker_.notify_one();
      cv_done_.wait_for(lk, timeout, [&] { return completed_ >= target || worker_done_; });
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
    bool done = false;
    {
      std::unique_lock<std::mutex> lk(mu_);
      done = cv_done_.wait_until(lk, until, [&] { return worker_done_; });
      if (!done) abort_.store(true);  // abandon transfers and retry waits
    }
    cv_worker_.notify_all();
    if (worker_.joinable()) worker_.join();
    // Anything the aborted worker left in the queue is dropped, counted.
    uint64_t left = 0;
    std::vector<uint32_t> left_runs;
    {
      std::lock_guard<std::mutex> lk(mu_);
      left = count_;
      for (std::size_t i = 0; i < count_; ++i) left_runs.push_back(ring_[(head_ + i) % ring_.size()].run);
      count_ = 0;
      completed_ += left;
    }
    for (uint32_t run : left_runs) count_run(run, 0, 0, 1);
    if (left > 0) dropped_shutdown_.fetch_add(left);
    uint64_t pending;
    {
      std::lock_guard<std::mutex> lk(mu_);
      pending = enqueued_ - completed_;
    }
    shutdown_result_ = result(done && left == 0, pending);
    if (dropped_shutdown_.load() > 0) {
      LogError le;
      le.kind = LogError::Kind::kShutdown;
      le.items = dropped_shutdown_.load();
      le.message = fmt::format("{} item(s) dropped: not delivered by the shutdown deadline", le.items);
      report(std::move(le));
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
  s.dropped_after_fork = dropped_after_fork_.load();
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
