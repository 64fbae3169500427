#pragma once
// The system tags the Python client sets on a new run (mlflow/tracking/context/*).
#include <string>
#include <vector>

#include "mlflowpp/entities.hpp"

namespace mlflowpp::detail {

/// `mlflow.user`: MLFLOW_TRACKING_USERNAME (or `username`), else LOGNAME, USER, LNAME,
/// USERNAME, else the password database entry (Python's getpass.getuser()).
std::string current_user(const std::string& username);
/// The program path as started (argv[0]), as Python uses sys.argv[0].
std::string source_name();
/// Sets `tag` in `tags`: replaces the value of an existing key, else appends.
void merge_tag(std::vector<RunTag>& tags, RunTag tag);
/// The tags Python's resolve_tags() gives a new run or logged model: mlflow.user,
/// mlflow.source.name, mlflow.source.type=LOCAL, then mlflow.source.git.commit, .branch and
/// .repoURL (source_git_info(): MLFLOWPP_GIT_SOURCE_DIR, else the executable's folder, else the
/// working folder), then the tags of MLFLOW_RUN_CONTEXT (a JSON object), which override.
std::vector<RunTag> system_tags(const std::string& username);

}  // namespace mlflowpp::detail
