#include "api/context.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "api/git_info.hpp"
#include "detail/codec/json.hpp"

extern char* program_invocation_name;  // glibc: argv[0]

namespace mlflowpp::detail {

std::string current_user(const std::string& username) {
  if (!username.empty()) return username;
  for (const char* name : {"LOGNAME", "USER", "LNAME", "USERNAME"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  return "unknown";
}

std::string source_name() {
  if (program_invocation_name != nullptr && *program_invocation_name != '\0') return program_invocation_name;
  return "<unknown>";
}

void merge_tag(std::vector<RunTag>& tags, RunTag tag) {
  for (auto& t : tags) {
    if (t.key == tag.key) {
      t.value = std::move(tag.value);
      return;
    }
  }
  tags.push_back(std::move(tag));
}

std::vector<RunTag> system_tags(const std::string& username) {
  std::vector<RunTag> tags;
  tags.push_back({"mlflow.user", current_user(username)});
  tags.push_back({"mlflow.source.name", source_name()});
  tags.push_back({"mlflow.source.type", "LOCAL"});
  // As Python's GitRunContext: all three only with a commit; branch and URL when known.
  if (GitInfo git = source_git_info(); !git.commit.empty()) {
    tags.push_back({"mlflow.source.git.commit", std::move(git.commit)});
    if (!git.branch.empty()) tags.push_back({"mlflow.source.git.branch", std::move(git.branch)});
    if (!git.repo_url.empty()) tags.push_back({"mlflow.source.git.repoURL", std::move(git.repo_url)});
  }
  if (const char* ctx = std::getenv("MLFLOW_RUN_CONTEXT"); ctx != nullptr && *ctx != '\0') {
    for (auto& t : parse_string_map(ctx, "MLFLOW_RUN_CONTEXT")) merge_tag(tags, std::move(t));
  }
  return tags;
}

}  // namespace mlflowpp::detail
