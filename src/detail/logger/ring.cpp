#include "detail/logger/ring.hpp"

#include <algorithm>
#include <utility>

namespace mlflowpp::detail {

Ring::Ring(Options options) : options_(options) {
  auto& o = options_;
  if (o.capacity < 1) o.capacity = 1;
  // The early wake must be reachable: at most half the ring (else a small ring would fill
  // and drop while the consumer sleeps). A zero wait would make the idle consumer spin.
  o.wake_threshold = std::max<std::size_t>(1, std::min(o.wake_threshold, o.capacity / 2));
  if (o.max_wait < std::chrono::milliseconds(1)) o.max_wait = std::chrono::milliseconds(1);
  slots_.resize(o.capacity);
}

void Ring::accept_locked() {
  ++count_;
  ++seq_;
  if (count_ > high_water_) high_water_ = count_;
}

Ring::Push Ring::push(ItemKind kind, uint32_t run, std::string_view key, double value, std::string_view text,
                      int64_t step, int64_t timestamp) noexcept {
  bool wake = false;
  {
    std::unique_lock<std::mutex> lk(mu_);
    const std::size_t cap = slots_.size();
    if (stopped_) return Push::kDroppedStopped;  // outside the flush sequence
    bool drop = false;
    if (count_ == cap) {
      if (options_.policy == OverflowPolicy::kBlock && !stalled_) {
        cv_worker_.notify_one();
        if (!cv_space_.wait_for(lk, options_.block_timeout, [&] { return count_ < cap || stopped_; }))
          stalled_ = true;  // the consumer is stuck: drop until it takes again, never wait twice
      }
      drop = count_ == cap || stopped_;
    }
    if (!drop) {
      Item& it = slots_[(head_ + count_) % cap];
      try {
        it.key.assign(key.data(), key.size());  // reuses the slot's capacity once warm
        if (kind == ItemKind::kMetric) {
          it.text.clear();
        } else {
          it.text.assign(text.data(), text.size());
        }
      } catch (...) {  // out of memory: a drop, never an exception into the training loop
        drop = true;
      }
      if (!drop) {
        it.kind = kind;
        it.run = run;
        it.value = value;
        it.step = step;
        it.timestamp = timestamp;
        accept_locked();
        ++accepted_;
        wake = count_ >= options_.wake_threshold;
      }
    }
    if (drop) {
      ++unreported_full_;
      if (!stopped_) cv_worker_.notify_one();  // full: make sure the consumer is taking
      return Push::kDroppedFull;
    }
  }
  if (wake) cv_worker_.notify_one();
  return Push::kAccepted;
}

void Ring::fill_event(Item& it, ItemKind kind, uint32_t run, int64_t step, int64_t timestamp,
                      std::string text) {
  it.kind = kind;
  it.run = run;
  it.step = step;
  it.timestamp = timestamp;
  it.value = 0;
  it.key.clear();
  it.text = std::move(text);
}

bool Ring::push_event(ItemKind kind, uint32_t run, int64_t step, int64_t timestamp,
                      std::string text) noexcept {
  {
    std::unique_lock<std::mutex> lk(mu_);
    const std::size_t cap = slots_.size();
    // Not dropped for a full ring: wait for the consumer (which never waits on the network
    // with a working spool), at most event_wait.
    const auto until = std::chrono::steady_clock::now() + options_.event_wait;
    while (count_ == cap && !stopped_ && std::chrono::steady_clock::now() < until) {
      cv_worker_.notify_one();
      cv_space_.wait_for(lk, std::chrono::milliseconds(100));
    }
    if (stopped_ || count_ == cap) return false;
    fill_event(slots_[(head_ + count_) % cap], kind, run, step, timestamp, std::move(text));
    accept_locked();
    ++events_;
  }
  cv_worker_.notify_one();
  return true;
}

Ring::Round Ring::take(std::vector<Item>& into) {
  Round r;
  {
    std::unique_lock<std::mutex> lk(mu_);
    const bool woken = cv_worker_.wait_for(lk, options_.max_wait, [&] {
      return stopped_ || flush_requested_ || count_ >= options_.wake_threshold;
    });
    r.n = count_;
    // Woken by the threshold alone (no flush, no stop, max_wait not over): take whole
    // multiples of it and leave the rest for the next round, so that a fast producer's
    // points travel in full batches (N points: ceil(N / 1000) log-batch requests, not one
    // more for every round's tail). The rest waits at most max_wait more.
    // Run events (a run's start, its end) are not batched: only data items count here.
    if (woken && !stopped_ && !flush_requested_) r.n = count_ - (count_ - events_) % options_.wake_threshold;
    if (into.size() < r.n) into.resize(r.n);
    const std::size_t cap = slots_.size();
    for (std::size_t i = 0; i < r.n; ++i) {
      std::swap(into[i], slots_[(head_ + i) % cap]);
      if (!is_data(into[i].kind)) --events_;
    }
    head_ = (head_ + r.n) % cap;
    count_ -= r.n;
    taking_ = r.n > 0;
    if (r.n > 0) stalled_ = false;
    flush_requested_ = false;
    r.stopping = stopped_;
    r.seq_end = seq_ - count_;
    r.dropped_full = unreported_full_;
    unreported_full_ = 0;
  }
  if (r.n > 0) cv_space_.notify_all();
  return r;
}

void Ring::round_done() {
  std::lock_guard<std::mutex> lk(mu_);
  taking_ = false;
}

void Ring::complete_through(uint64_t seq) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    completed_ = std::max(completed_, seq);
  }
  cv_done_.notify_all();
}

Ring::Progress Ring::wait_flushed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  Progress p;
  p.target = seq_;
  if (completed_ < p.target && !closed_) {
    flush_requested_ = true;
    cv_worker_.notify_one();
    cv_done_.wait_for(lk, timeout, [&] { return completed_ >= p.target || closed_; });
  }
  p.done = std::min(completed_, p.target);
  return p;
}

void Ring::notify_done() { cv_done_.notify_all(); }

void Ring::wait_done_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_done_.wait_for(lk, d);
}

void Ring::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopped_ = true;
    flush_requested_ = true;
  }
  wake_all();
}

void Ring::wake_all() {
  cv_worker_.notify_all();
  cv_space_.notify_all();
}

std::vector<uint32_t> Ring::close(uint64_t completes_through) {
  std::vector<uint32_t> runs;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t i = 0; i < count_; ++i) {
      const Item& it = slots_[(head_ + i) % slots_.size()];
      if (is_data(it.kind)) runs.push_back(it.run);
    }
    count_ = 0;
    events_ = 0;
    completed_ = std::max(completed_, std::max(completes_through, seq_));
    closed_ = true;
  }
  cv_done_.notify_all();
  return runs;
}

uint64_t Ring::accepted_items() const {
  std::lock_guard<std::mutex> lk(mu_);
  return accepted_;
}

uint64_t Ring::high_water() const {
  std::lock_guard<std::mutex> lk(mu_);
  return high_water_;
}

std::size_t Ring::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return count_;
}

bool Ring::idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return count_ == 0 && !taking_;
}

}  // namespace mlflowpp::detail
