#pragma once
// The engine behind mlflowpp::AsyncLogger. Private: not installed; unit tests build it
// over a RestStore with a fake Transport and an injected clock.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

class TrackingStore;
struct Chunk;

struct LoggerDeps {
  std::shared_ptr<TrackingStore> store;
  LoggerOptions options;
  /// Wall clock in ms since the epoch, for timestamps taken at enqueue. Default: system_clock.
  std::function<int64_t()> now_ms;
  /// Replaces the wait between retries (tests): return false to give up. Default: a wait
  /// that shutdown can interrupt.
  std::function<bool(std::chrono::milliseconds)> retry_sleep;
};

enum class ItemKind : unsigned char { kMetric, kParam, kTag };

struct Item {
  ItemKind kind = ItemKind::kMetric;
  uint32_t run = 0;
  int64_t timestamp = 0;
  int64_t step = 0;
  double value = 0.0;
  std::string key;
  std::string text;  // param or tag value
};

class LoggerCore {
 public:
  explicit LoggerCore(LoggerDeps deps);
  ~LoggerCore();
  LoggerCore(const LoggerCore&) = delete;
  LoggerCore& operator=(const LoggerCore&) = delete;

  uint32_t handle_for(std::string_view run_id);
  void enqueue(ItemKind kind, uint32_t run, std::string_view key, double value, std::string_view text,
               int64_t step, int64_t timestamp_ms) noexcept;
  FlushResult flush(std::chrono::milliseconds timeout) noexcept;
  FlushResult shutdown(std::chrono::milliseconds deadline) noexcept;
  LoggerStats stats() const noexcept;
  RunLogStats run_stats(uint32_t run) const noexcept;
  void set_error_callback(ErrorCallback callback);
  /// True in a forked child of the process that created this logger.
  bool forked() const noexcept;

 private:
  void run_worker() noexcept;
  void process(std::vector<Item>& items, std::size_t n);
  void send_chunk(uint32_t run, const std::string& run_id, Chunk& chunk);
  void count_run(uint32_t run, uint64_t delivered, uint64_t rejected, uint64_t dropped) noexcept;
  void report(LogError error);
  FlushResult result(bool complete, uint64_t pending) const noexcept;
  FlushResult forked_result() const noexcept;
  bool interruptible_sleep(std::chrono::milliseconds d);

  LoggerDeps deps_;
  const uint64_t fork_generation_;

  // Queue state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_worker_;  // worker waits for items / flush / stop
  std::condition_variable cv_space_;   // producers wait for room (kBlock)
  std::condition_variable cv_done_;    // flushers wait for completed_
  std::vector<Item> ring_;
  std::size_t head_ = 0, count_ = 0;
  uint64_t enqueued_ = 0;   // sequence number of the last accepted item
  uint64_t completed_ = 0;  // items taken by the worker and fully accounted for
  uint64_t dropped_queue_full_ = 0;
  uint64_t reported_queue_full_ = 0;
  uint64_t high_water_ = 0;
  uint64_t dropped_after_stop_ = 0;
  bool flush_requested_ = false;
  bool stop_ = false;
  bool worker_done_ = false;

  // Run ids, guarded by runs_mu_.
  mutable std::mutex runs_mu_;
  std::vector<std::string> run_ids_;
  std::unordered_map<std::string, uint32_t> run_index_;
  std::vector<RunLogStats> run_counts_;  // by handle

  // Counters written by the worker.
  std::atomic<uint64_t> delivered_{0}, rejected_invalid_{0}, rejected_by_server_{0}, dropped_transient_{0},
      dropped_shutdown_{0}, requests_{0}, retries_{0};
  std::atomic<uint64_t> dropped_after_fork_{0};
  std::atomic<bool> abort_{false};

  std::mutex callback_mu_;
  ErrorCallback callback_;
  uint64_t stderr_reports_ = 0;

  std::thread worker_;
  std::once_flag shutdown_once_;
  FlushResult shutdown_result_;
};

}  // namespace mlflowpp::detail
