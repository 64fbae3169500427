#pragma once
// mlflowpp-sync --from sqlite:///path/mlflow.db: copies what the embedded local store wrote
// (experiments, runs, metric histories, dataset inputs, artifacts) into a tracking server,
// idempotently. Written against the public API only (mlflowpp/client.hpp): one Client on the
// local database, one on the destination.

namespace mlflowpp::sync_tool {

/// True when the command line asks for a local-to-server sync (`--from` is present).
bool wants_local_sync(int argc, char** argv);

/// Parses `argv` (`--from`, `--tracking-uri`, `--experiment`, `--dry-run`, `--help`), runs the
/// sync and returns the exit status: 0 everything is on the destination, 1 something failed
/// (every failure is printed; the other runs are still copied), 2 usage error.
int sync_local_main(int argc, char** argv);

}  // namespace mlflowpp::sync_tool
