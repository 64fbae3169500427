#pragma once
// The logger's in-memory queue: a bounded ring of preallocated items between the threads
// that log and the assembler, and the flush sequence that tells a flush when the items
// enqueued before it are accounted for (docs/adr/0002-async-logger.md). Private.
//
// The ring owns the overflow policy, the one place where a logging call may wait:
//  * OverflowPolicy::kBlock: a call that finds the ring full waits for room at most
//    `block_timeout`, once per stall: after a wait that timed out, calls drop at once until
//    the assembler takes the ring over again;
//  * OverflowPolicy::kDropNewest: a call that finds the ring full drops its item;
//  * run events (started, ended, created offline) are never dropped for a full ring: they
//    wait for room, up to `event_wait` (10 s), and fail only when the ring stays full or stops.
// A dropped item is not in the ring: the caller accounts for it (push() says why).
//
// Thread safety: every member function may be called from any thread. One mutex (mu_)
// guards all the state; it is taken and released inside each call, and nothing outside the
// ring is called while it is held (see the lock order in logger_core.hpp). Its condition
// variables: cv_worker_ (the consumer waits in take()), cv_space_ (producers wait for room),
// cv_done_ (flushers wait for the sequence to be completed).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

enum class ItemKind : unsigned char {
  kMetric,
  kParam,
  kTag,
  kRunStarted,  // run event: an ActiveRun began (journal only)
  kEndRun,      // run event: runs/update after the run's data (step = RunStatus, timestamp = end)
  kCreateRun,   // run event: an offline start (text = CREATE_RUN payload)
};

/// True for a metric, param or tag (a logged item, counted), false for a run event.
inline bool is_data(ItemKind k) noexcept {
  return k == ItemKind::kMetric || k == ItemKind::kParam || k == ItemKind::kTag;
}

struct Item {
  ItemKind kind = ItemKind::kMetric;
  uint32_t run = 0;
  int64_t timestamp = 0;
  int64_t step = 0;
  double value = 0.0;
  std::string key;
  std::string text;  // param or tag value; run event payload
};

class Ring {
 public:
  struct Options {
    std::size_t capacity = 16;  ///< slots (at least 1)
    OverflowPolicy policy = OverflowPolicy::kBlock;
    std::chrono::milliseconds block_timeout{1000};  ///< kBlock: the one wait per stall
    /// take() returns early once this many slots are used; clamped to [1, capacity / 2] so
    /// that it is reachable before the ring fills. Woken so (no flush, no stop), it takes
    /// whole multiples of it and leaves the tail for the next round (full batches).
    std::size_t wake_threshold = 1;
    /// take() returns after this long even when the threshold is not reached (≥ 1 ms).
    std::chrono::milliseconds max_wait{200};
    /// How long a run event waits for room in a full ring.
    std::chrono::milliseconds event_wait{10000};
  };

  /// What push() did with the item.
  enum class Push {
    kAccepted,
    kDroppedFull,     ///< the ring was full (or the slot could not be filled: out of memory)
    kDroppedStopped,  ///< the ring is stopped (after shutdown)
  };

  /// One take(): `n` items moved out, and where the flush sequence stands.
  struct Round {
    std::size_t n = 0;
    uint64_t seq_end = 0;       ///< the sequence number of the last entry taken
    uint64_t dropped_full = 0;  ///< kDroppedFull drops since the previous take()
    bool stopping = false;      ///< stop() was called before this take
  };

  /// What a flush waited for.
  struct Progress {
    uint64_t target = 0;  ///< entries accepted before the flush
    uint64_t done = 0;    ///< of which completed
  };

  explicit Ring(Options options);
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // ---- producers
  /// Copies a logged item into the next slot (reusing its strings' capacity), applying the
  /// overflow policy when the ring is full. Never throws.
  Push push(ItemKind kind, uint32_t run, std::string_view key, double value, std::string_view text,
            int64_t step, int64_t timestamp) noexcept;
  /// Queues a run event, waiting for room up to Options::event_wait. False when the ring is
  /// stopped or stayed full.
  bool push_event(ItemKind kind, uint32_t run, int64_t step, int64_t timestamp, std::string text) noexcept;

  // ---- the consumer (one thread)
  /// Waits until the wake threshold is reached, a flush is requested, the ring is stopped or
  /// max_wait passed, then moves every queued item into `into[0, n)` (swapping strings, so
  /// that slots keep their capacity) and wakes the producers waiting for room.
  Round take(std::vector<Item>& into);
  /// The items of the last take() are handed on (see idle()).
  void round_done();

  // ---- the flush sequence
  /// Every accepted entry gets a sequence number; the consumer's side reports, in order,
  /// that all entries up to `seq` are accounted for.
  void complete_through(uint64_t seq);
  /// Waits (at most `timeout`) until every entry accepted before the call is completed,
  /// asking the consumer to take at once.
  Progress wait_flushed(std::chrono::milliseconds timeout);
  /// Wakes the flushers (and a shutdown polling with wait_done_for()).
  void notify_done();
  /// Sleeps until notify_done()/complete_through() or `d` (a poll: may return early).
  void wait_done_for(std::chrono::milliseconds d);

  // ---- stopping
  /// From now on push() drops (kDroppedStopped) and push_event() fails; the consumer takes
  /// what is left at once and sees Round::stopping.
  void stop();
  /// Wakes every waiter (the consumer and producers) so that they see an abort flag.
  void wake_all();
  /// After the consumer is gone: empties the ring, marks the whole sequence completed (so no
  /// flush waits any longer) and returns the runs of the logged items that were still in it.
  std::vector<uint32_t> close(uint64_t completes_through);

  // ---- queries
  std::size_t capacity() const noexcept { return slots_.size(); }
  std::size_t wake_threshold() const noexcept { return options_.wake_threshold; }
  uint64_t accepted_items() const;  ///< logged items accepted (run events excluded)
  uint64_t high_water() const;      ///< most slots ever used at once
  std::size_t size() const;         ///< slots used now
  /// Nothing queued and the last round handed on.
  bool idle() const;

 private:
  void fill_event(Item& it, ItemKind kind, uint32_t run, int64_t step, int64_t timestamp, std::string text);
  void accept_locked();

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_worker_;  // the consumer waits for items / flush / stop
  std::condition_variable cv_space_;   // producers wait for room
  std::condition_variable cv_done_;    // flushers wait for completed_
  std::vector<Item> slots_;
  std::size_t head_ = 0, count_ = 0;
  std::size_t events_ = 0;  // run events among the count_ items (take() batches data only)
  uint64_t seq_ = 0;        // entries accepted (items and run events)
  uint64_t accepted_ = 0;   // items accepted
  uint64_t completed_ = 0;  // entries fully accounted for (in order)
  uint64_t high_water_ = 0;
  uint64_t unreported_full_ = 0;  // kDroppedFull since the last take()
  bool flush_requested_ = false;
  bool stalled_ = false;  // a kBlock wait timed out; cleared when the consumer takes
  bool taking_ = false;   // items taken and not yet handed on (round_done)
  bool stopped_ = false;
  bool closed_ = false;
};

}  // namespace mlflowpp::detail
