#include "detail/core/clock.hpp"

#include <chrono>

namespace mlflowpp::detail {

int64_t now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace mlflowpp::detail
