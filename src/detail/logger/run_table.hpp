#pragma once
// What the logger knows about runs (private): the handle of each run id, the server's id of
// a run started offline once it is created, each run's counts (RunLogStats) and end state,
// the live runs (started, end not yet assembled: the crash rule and journal rotation need
// them), the CREATE_RUN payloads of offline runs, and the offline runs the server refused
// to create.
//
// Thread safety: one mutex (mu_) guards everything; it is a leaf of the logger's lock order
// (logger_core.hpp): nothing else is locked or called while it is held.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mlflowpp/logging.hpp"

namespace mlflowpp::detail {

/// How a run's end (queued by LoggerCore::end_run) turned out.
struct RunEndState {
  enum class Kind {
    kNone,
    kPending,    ///< queued in the ring or the pipe
    kDelivered,  ///< the server set the status
    kSpooled,    ///< written to the journal behind the data, not yet sent
    kFailed,     ///< the server refused it, or it was lost (see error)
  } kind = Kind::kNone;
  std::string error;
};

class RunTable {
 public:
  /// Interns `run_id`: the same id always gets the same handle.
  uint32_t handle_for(std::string_view run_id);
  /// The server's id of `run` (an offline run's real id once created); empty if unknown.
  std::string id_of(uint32_t run) const;
  /// Every run's id, by handle (a snapshot for one assembler round).
  std::vector<std::string> ids() const;

  /// Adds to `run`'s counts (Accounting::record is the only caller).
  void count(uint32_t run, uint64_t delivered, uint64_t rejected, uint64_t dropped) noexcept;
  RunLogStats stats(uint32_t run) const noexcept;

  void set_end_state(uint32_t run, RunEndState state) noexcept;
  RunEndState end_state(uint32_t run) const noexcept;

  /// RUN_STARTED was queued / the run's end was assembled.
  void started(uint32_t run);
  void ended(uint32_t run);
  /// True when this logger has the run live (the replay of a dead process's journal must
  /// not mark it FAILED).
  bool is_live(const std::string& run_id) const;

  /// Keeps an offline run's CREATE_RUN payload (journal rotation writes it again).
  void keep_offline_payload(uint32_t run, const std::string& payload);
  /// The offline run `run` now exists on the server as `server_id`.
  void created(uint32_t run, const std::string& server_id);
  /// The server refused to create the offline run `run`: its data cannot be delivered.
  void unresolvable(uint32_t run);

  /// Where a request of `run` goes: the run's current id, and whether it can exist.
  struct Route {
    std::string run_id;
    bool unresolvable = false;
  };
  Route route(uint32_t run) const;

  /// What a new journal must repeat about the live runs (journal rotation).
  struct Live {
    std::vector<std::string> run_ids;          ///< for RUN_STARTED records
    std::vector<std::string> create_payloads;  ///< CREATE_RUN of those started offline
  };
  Live live() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> ids_;  // by handle (an offline run's real id once known)
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<RunLogStats> counts_;    // by handle
  std::vector<RunEndState> end_;       // by handle
  std::unordered_set<uint32_t> live_;  // started, end not yet assembled
  std::unordered_set<uint32_t> unresolvable_;
  std::unordered_map<uint32_t, std::string> offline_payloads_;
};

}  // namespace mlflowpp::detail
