#pragma once
/// @file version.hpp
#define MLFLOWPP_VERSION_MAJOR 0
#define MLFLOWPP_VERSION_MINOR 1
#define MLFLOWPP_VERSION_PATCH 0
#define MLFLOWPP_VERSION_STRING "0.1.0"

namespace mlflowpp {
/// The library's version, e.g. "0.1.0" (sent as User-Agent: mlflowpp/<version>).
const char* version() noexcept;
}  // namespace mlflowpp
