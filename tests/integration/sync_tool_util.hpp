#pragma once
// Running the mlflowpp-sync tool from an integration test (test_sync_tool.cpp replays
// spool journals with it, test_sync_local.cpp copies local databases).
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "integration/itest_util.hpp"

namespace itest {

struct ToolResult {
  int exit_code = -1;  ///< -1: killed by a signal
  std::string output;  ///< stdout and stderr
};

/// Runs mlflowpp-sync with `args` (already shell-quoted), `env` (e.g. "env -u VAR")
/// prefixed to the command. FAILs when the tool is not built.
inline ToolResult run_sync_tool(const std::string& args, const std::string& env = "") {
#ifdef MLFLOWPP_SYNC_TOOL
  const std::string cmd = env + " " + shell_quote(MLFLOWPP_SYNC_TOOL) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  ToolResult r;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) r.output += buf;
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
#else
  (void)args;
  (void)env;
  FAIL("built without the mlflowpp-sync tool (MLFLOWPP_BUILD_TOOLS=OFF)");
  return {};
#endif
}

/// False (after a WARN) when the tool is not built: the test is to be skipped.
inline bool have_sync_tool() {
#ifdef MLFLOWPP_SYNC_TOOL
  return true;
#else
  WARN("skipped: mlflowpp-sync is not built (MLFLOWPP_BUILD_TOOLS=OFF)");
  return false;
#endif
}

}  // namespace itest
