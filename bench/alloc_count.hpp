#pragma once
// Heap allocations counted by replacing the global operator new/delete (alloc_count.cpp, linked
// into the benchmark programs that use it). A thread counts its own allocations while its
// window is open (thread-local, no synchronisation); every thread's allocations are also
// counted process-wide while the global window is open (one relaxed atomic per allocation).
#include <cstdint>

namespace bench {

/// Opens (true) or closes (false) the calling thread's counting window.
void count_thread_allocations(bool on) noexcept;
/// Allocations (and bytes asked for) made by the calling thread inside its windows so far.
uint64_t thread_allocations() noexcept;
uint64_t thread_allocated_bytes() noexcept;

/// Opens or closes the process-wide window (every thread's allocations).
void count_all_allocations(bool on) noexcept;
uint64_t all_allocations() noexcept;

}  // namespace bench
