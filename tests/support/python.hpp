#pragma once
// For the integration tests: the Python interpreter that has MLflow's official client
// (MLFLOWPP_PYTHON, set by scripts/test.sh), which the read-back and fault-proxy scripts
// run with, or a skip.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "integration/server.hpp"

namespace support {

/// MLFLOWPP_PYTHON; else "" after a WARN (the test is to be skipped), or a FAIL when the
/// server is required (testing::server_required). `what_for` is said in the message.
inline std::string python_or_skip(const std::string& what_for = {}) {
  const char* p = std::getenv("MLFLOWPP_PYTHON");
  if (p != nullptr && *p != '\0') return p;
  if (testing::server_required()) FAIL("MLFLOWPP_PYTHON is not set (scripts/test.sh sets it)");
  WARN("skipped: MLFLOWPP_PYTHON is not set" + (what_for.empty() ? std::string() : " (" + what_for + ")"));
  return {};
}

}  // namespace support
