#pragma once
/// @file requests.hpp
/// Option structs of the tracking calls (search, create and start a run). Plain values;
/// included by client.hpp.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"

namespace mlflowpp {

/// Arguments of Client::search_experiments (`POST /mlflow/experiments/search`).
struct SearchExperimentsOptions {
  ViewType view_type = ViewType::kActiveOnly;
  int64_t max_results = 1000;         ///< 1..50000
  std::string filter_string;          ///< e.g. "name LIKE 'digits%' AND tags.team = 'ml'"
  std::vector<std::string> order_by;  ///< e.g. {"name ASC", "creation_time DESC"}
  std::string page_token;             ///< from a previous page; empty for the first
};

/// Arguments of Client::search_runs (`POST /mlflow/runs/search`).
struct SearchRunsOptions {
  std::string filter_string;  ///< e.g. "metrics.loss < 0.5 AND params.lr = '0.1'"
  ViewType run_view_type = ViewType::kActiveOnly;
  int64_t max_results = 1000;         ///< 1..50000
  std::vector<std::string> order_by;  ///< e.g. {"metrics.loss ASC", "attributes.start_time DESC"}
  std::string page_token;
};

/// Arguments of Client::create_run (`POST /mlflow/runs/create`).
struct CreateRunOptions {
  std::string run_name;               ///< empty: the server picks a random name
  std::optional<int64_t> start_time;  ///< ms since the epoch; default: now
  std::vector<RunTag> tags;
};

/// Whether Client::start_run may start a run offline when the server cannot be reached.
enum class OfflineStart {
  /// Never: start_run throws.
  kNever,
  /// Only for a server this process or this spool has reached before (listed in
  /// `<spool root>/servers-reached`): an outage, which the spool is for. A server never
  /// reached is most likely a wrong address, so start_run fails within `offline_after`
  /// with a message that names the URI. The default.
  kKnownServer,
  /// Also a server never reached: training offline on purpose (no network, a server that
  /// is not up yet). The data waits in the spool until a process reaches the server or
  /// `mlflowpp-sync` delivers it; ActiveRun::end returns as soon as it is on disk.
  kAlways,
};

/// Arguments of Client::start_run. The experiment is resolved as the Python fluent API
/// does: `experiment_id`, else `experiment_name` (created if missing), else
/// MLFLOW_EXPERIMENT_NAME (created if missing; must agree with MLFLOW_EXPERIMENT_ID when
/// both are set), else MLFLOW_EXPERIMENT_ID (must exist), else "0" (Default).
struct StartRunOptions {
  std::string experiment_id;
  std::string experiment_name;
  std::string run_name;
  /// Resume this run instead of creating one (also taken from MLFLOW_RUN_ID, which is
  /// then unset, as in Python). The run is set back to RUNNING.
  std::string run_id;
  /// Makes this a nested (child) run: adds the `mlflow.parentRunId` tag.
  std::string parent_run_id;
  std::string description;  ///< stored as the `mlflow.note.content` tag
  /// Override the system tags of the same key; run_name, parent_run_id and description
  /// override these in turn (as in Python). Validated before anything is sent.
  std::vector<RunTag> tags;
  /// Add the system tags the Python client sets: mlflow.user, mlflow.source.name (argv[0]),
  /// mlflow.source.type=LOCAL and, in a git checkout, mlflow.source.git.commit, .branch (not
  /// when detached) and .repoURL (the first remote's, credentials stripped), then
  /// MLFLOW_RUN_CONTEXT's. The checkout: MLFLOWPP_GIT_SOURCE_DIR's, else the executable's folder's,
  /// else the working folder's (docs/env.md). To name the source or commit explicitly, give
  /// the tag in `tags` (or MLFLOW_RUN_CONTEXT): it replaces the found value.
  bool system_tags = true;
  /// What start_run does when the server cannot be reached within `offline_after`
  /// (connection failures, timeouts, 502/503/504): unset means MLFLOWPP_OFFLINE_START
  /// (`never`, `known`, `always`, any case), else OfflineStart::kKnownServer. Offline, the run gets a
  /// placeholder id (`offline-<32 hex>`, see ActiveRun::offline), its data goes to the
  /// spool, and the run is created on the server — tagged `mlflowpp.offlineRunId`, so
  /// never twice — when it answers again, by this process, a later one or `mlflowpp-sync`.
  /// Otherwise start_run throws TransportError (or the ServerError) within about
  /// `offline_after`, naming the URI. Needs the spool (LoggerOptions::spool); resuming a
  /// run (run_id, MLFLOW_RUN_ID) never goes offline.
  std::optional<OfflineStart> offline_start;
  std::chrono::milliseconds offline_after{std::chrono::seconds(10)};
};

}  // namespace mlflowpp
