#pragma once
/// @file signals.hpp
/// Ending runs cleanly when the process is told to stop (SIGTERM from a scheduler or
/// `kill`, SIGINT from Ctrl-C).

#include <chrono>
#include <csignal>
#include <vector>

namespace mlflowpp {

struct SignalHandlerOptions {
  std::vector<int> signals{SIGTERM, SIGINT};
  /// How long to drain the loggers before the process goes on dying. Kubernetes sends
  /// SIGKILL 30 s after SIGTERM by default; keep this below your scheduler's grace period.
  std::chrono::milliseconds drain_deadline{std::chrono::seconds(10)};
  /// After draining, restore the default action and raise the signal again, so that the
  /// process ends as the signal would have ended it (exit status 128 + N in a shell).
  bool reraise = true;
};

/// Installs handlers for `options.signals` (once per process; later calls return false
/// and change nothing). On the first signal a helper thread — never the handler itself,
/// which only writes one byte to a pipe — queues the end of every live ActiveRun with
/// status KILLED behind its data, drains each logger for at most `drain_deadline` (what
/// is not delivered by then stays in the spool journal and is delivered by the next
/// process or `mlflowpp-sync`), shuts the loggers down and re-raises the signal. A second
/// signal while draining ends the process at once. ActiveRuns ended this way report it
/// from end() (EndRunResult::error). Replaces any handler previously installed for those
/// signals. Throws mlflowpp::Error when the pipe or a handler cannot be set up.
bool install_signal_handlers(SignalHandlerOptions options = {});

}  // namespace mlflowpp
