#pragma once
// The logger's counters (LoggerStats, FlushResult, RunLogStats). Private.
//
// Every logged item ends in exactly one fate, recorded once, by record(): for the logger
// (LoggerStats) and for its run (RunLogStats, kept by the RunTable). Nothing else changes
// these counters. The other counters (written ahead, replayed, requests, retries) say what
// the logger did, not what became of an item.
//
// Thread safety: the counters are atomics; record() also takes the RunTable's lock (a leaf:
// see the lock order in logger_core.hpp), so it may be called holding the pipe's lock.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mlflowpp/logging.hpp"

namespace mlflowpp::detail {

class RunTable;

/// What became of an item. The run's counter it also goes to is in brackets.
enum class Fate : unsigned char {
  kDelivered,         ///< the server has it [delivered]
  kRejectedInvalid,   ///< refused on the client: never sent [rejected]
  kRejectedByServer,  ///< refused by the server [rejected]
  kDroppedQueueFull,  ///< never enqueued: the ring was full [dropped]
  kDroppedAfterStop,  ///< logged after shutdown [dropped]; in LoggerStats::dropped_shutdown
  kDroppedTransient,  ///< in memory only, the retries were spent (or out of memory) [dropped]
  kDroppedShutdown,   ///< in memory only, not delivered by the shutdown deadline [dropped]
  kDroppedSpoolFull,  ///< the spool was full and so was the memory buffer, or unreadable [dropped]
  kDroppedAfterFork,  ///< logged in a forked child [none: the child never touches the runs]
  kLeftInSpool,       ///< in the journal at shutdown, for a later process [none: not final here]
};
inline constexpr std::size_t kFates = static_cast<std::size_t>(Fate::kLeftInSpool) + 1;

class Accounting {
 public:
  explicit Accounting(RunTable& runs) : runs_(runs) {}
  Accounting(const Accounting&) = delete;
  Accounting& operator=(const Accounting&) = delete;

  /// `n` items of `run` met `fate`. Never throws.
  void record(uint32_t run, Fate fate, uint64_t n) noexcept;
  uint64_t count(Fate fate) const noexcept { return counts_[static_cast<std::size_t>(fate)].load(); }
  /// Rejected on the client or by the server.
  uint64_t rejected() const noexcept;
  /// Dropped for any reason.
  uint64_t dropped() const noexcept;

  /// Fills the fate counters and the activity counters of `s` (enqueued and the high-water
  /// mark come from the ring).
  void fill(LoggerStats& s) const noexcept;

  // What the logger did (not fates). The sender's Deliverer counts requests and retries.
  void written_ahead(uint64_t n) noexcept { written_ahead_.fetch_add(n, std::memory_order_relaxed); }
  void replayed(uint64_t n) noexcept { replayed_.fetch_add(n, std::memory_order_relaxed); }
  std::atomic<uint64_t>* requests() noexcept { return &requests_; }
  std::atomic<uint64_t>* retries() noexcept { return &retries_; }

 private:
  RunTable& runs_;
  std::array<std::atomic<uint64_t>, kFates> counts_{};
  std::atomic<uint64_t> written_ahead_{0}, replayed_{0}, requests_{0}, retries_{0};
};

}  // namespace mlflowpp::detail
