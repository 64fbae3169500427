#include "api/context.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

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

std::string git_commit() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return {};
  exe[n] = '\0';
  std::string dir(exe);
  auto slash = dir.rfind('/');
  if (slash == std::string::npos) return {};
  dir.resize(slash == 0 ? 1 : slash);
  // Quote the directory for the shell: single quotes, with embedded ones escaped.
  std::string quoted = "'";
  for (char c : dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  std::string cmd = "git -C " + quoted + " rev-parse HEAD 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  char buf[128] = {0};
  std::string out;
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int rc = pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (rc != 0 || out.size() < 40) return {};
  return out;
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
  if (auto commit = git_commit(); !commit.empty()) tags.push_back({"mlflow.source.git.commit", commit});
  if (const char* ctx = std::getenv("MLFLOW_RUN_CONTEXT"); ctx != nullptr && *ctx != '\0') {
    for (auto& t : parse_string_map(ctx, "MLFLOW_RUN_CONTEXT")) merge_tag(tags, std::move(t));
  }
  return tags;
}

}  // namespace mlflowpp::detail
