#include "detail/logger/accounting.hpp"

#include "detail/logger/run_table.hpp"

namespace mlflowpp::detail {

void Accounting::record(uint32_t run, Fate fate, uint64_t n) noexcept {
  if (n == 0) return;
  counts_[static_cast<std::size_t>(fate)].fetch_add(n, std::memory_order_relaxed);
  switch (fate) {
    case Fate::kDelivered:
      runs_.count(run, n, 0, 0);
      break;
    case Fate::kRejectedInvalid:
    case Fate::kRejectedByServer:
      runs_.count(run, 0, n, 0);
      break;
    case Fate::kDroppedQueueFull:
    case Fate::kDroppedAfterStop:
    case Fate::kDroppedTransient:
    case Fate::kDroppedShutdown:
    case Fate::kDroppedSpoolFull:
      runs_.count(run, 0, 0, n);
      break;
    case Fate::kDroppedAfterFork:  // a forked child must not take the runs' lock
    case Fate::kLeftInSpool:       // not final: a later process delivers them
      break;
  }
}

uint64_t Accounting::rejected() const noexcept {
  return count(Fate::kRejectedInvalid) + count(Fate::kRejectedByServer);
}

uint64_t Accounting::dropped() const noexcept {
  return count(Fate::kDroppedQueueFull) + count(Fate::kDroppedAfterStop) + count(Fate::kDroppedTransient) +
         count(Fate::kDroppedShutdown) + count(Fate::kDroppedSpoolFull) + count(Fate::kDroppedAfterFork);
}

void Accounting::fill(LoggerStats& s) const noexcept {
  s.delivered = count(Fate::kDelivered);
  s.rejected_invalid = count(Fate::kRejectedInvalid);
  s.rejected_by_server = count(Fate::kRejectedByServer);
  s.dropped_queue_full = count(Fate::kDroppedQueueFull);
  s.dropped_transient = count(Fate::kDroppedTransient);
  s.dropped_shutdown = count(Fate::kDroppedAfterStop) + count(Fate::kDroppedShutdown);
  s.dropped_spool_full = count(Fate::kDroppedSpoolFull);
  s.dropped_after_fork = count(Fate::kDroppedAfterFork);
  s.left_in_spool = count(Fate::kLeftInSpool);
  s.written_ahead = written_ahead_.load();
  s.replayed = replayed_.load();
  s.requests = requests_.load();
  s.retries = retries_.load();
}

}  // namespace mlflowpp::detail
