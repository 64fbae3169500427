#pragma once
// The wall clock, read in one place. Private.

#include <cstdint>

namespace mlflowpp::detail {

/// Milliseconds since the Unix epoch (std::chrono::system_clock): the unit of MLflow's
/// timestamps (metric timestamps, run start and end times).
int64_t now_ms() noexcept;

}  // namespace mlflowpp::detail
