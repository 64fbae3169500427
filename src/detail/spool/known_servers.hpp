#pragma once
// The spool's memory of the tracking servers that have answered from this machine: the
// file `<spool root>/servers-reached`, one spool folder name (spool_dir_for) per line.
// Client::start_run consults it: a server this spool has reached before may be down for a
// while (an outage: the run starts offline), one never reached is most likely a wrong
// address (the run fails fast). ADR 0009. Private: not installed.

#include <string>

namespace mlflowpp::detail {

/// True when the server of `spool_dir` (a folder made by spool_dir_for) is listed in its
/// root's `servers-reached`. Journals waiting in the folder do not count: a run started
/// offline on purpose (or by an older mlflowpp) for a wrong address leaves them too.
/// Never throws: an unreadable file means "not known".
bool server_known(const std::string& spool_dir) noexcept;

/// Lists the server of `spool_dir` in `servers-reached` (creating the root, mode 0700, and
/// the file, mode 0600) unless it is there already. Appends one line with O_APPEND, so
/// processes racing to add it at most repeat the line. Never throws: failing to remember
/// only costs a later offline start.
void remember_server(const std::string& spool_dir) noexcept;

/// Removes `dir` when it is an empty folder (rmdir); nothing otherwise. Never throws.
void remove_dir_if_empty(const std::string& dir) noexcept;

}  // namespace mlflowpp::detail
