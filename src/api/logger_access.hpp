#pragma once
// The library's own way to an AsyncLogger's engine. Private: not installed.
//
// ActiveRun, Client and the signal helper need parts of the engine that are not public API:
// the run events (a run started, its end queued behind its data, an offline start), and
// what became of them (the run's server id, its end state, whether the spool is on or the
// server unreachable). Instead of being friends of AsyncLogger, they call logger_core();
// async_logger.cpp implements it (through detail::LoggerAccess, AsyncLogger's one friend),
// so the public header names no other detail type than the LoggerCore it owns.

#include <memory>

namespace mlflowpp {

class AsyncLogger;

namespace detail {

class LoggerCore;

/// The engine of `logger` (detail/logger/logger_core.hpp); lives as long as `logger`.
LoggerCore& logger_core(AsyncLogger& logger) noexcept;
/// A logger owning `core` (the Client creates its logger this way; the constructor is private).
std::unique_ptr<AsyncLogger> make_async_logger(std::unique_ptr<LoggerCore> core);

}  // namespace detail
}  // namespace mlflowpp
