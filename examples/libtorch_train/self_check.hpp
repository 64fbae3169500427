#pragma once
/// @file self_check.hpp
/// `libtorch_train --self-check`: proves, without a tracking server, that mlflowpp and
/// LibTorch live in one process without a C++ ABI or protobuf clash (see self_check.cpp).

#include <ostream>

namespace self_check {

/// Runs the checks, prints one line per check to `out`; returns 0 when all pass, 1 otherwise.
int run(std::ostream& out);

}  // namespace self_check
