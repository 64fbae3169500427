#pragma once
// The live ActiveRuns of this process, for the signal helper (mlflowpp/signals.hpp).
// Private: not installed.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "mlflowpp/client.hpp"
#include "mlflowpp/entities.hpp"

namespace mlflowpp {

/// Shared by an ActiveRun and (weakly) the registry: whoever claims the end first ends
/// the run — the ActiveRun, or the signal helper with KILLED.
struct RunGuard {
  std::optional<Client> client;
  uint32_t handle = 0;

  /// True for the first caller only.
  bool claim_end() {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_) return false;
    ended_ = true;
    return true;
  }
  /// Queues the run's end (after its data) on its logger; false when the logger is stopped.
  bool queue_end(RunStatus status, int64_t end_time_ms) noexcept;

 private:
  std::mutex mu_;
  bool ended_ = false;
};

namespace detail {
void register_run(const std::shared_ptr<RunGuard>& guard);
/// The runs whose ActiveRun still exists.
std::vector<std::shared_ptr<RunGuard>> live_runs();
}  // namespace detail

}  // namespace mlflowpp
