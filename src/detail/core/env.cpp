#include "detail/core/env.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "detail/core/text.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::optional<bool> env_bool(const char* name) {
  auto v = env(name);
  if (!v) return std::nullopt;
  const std::string s = ascii_lower(*v);
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  throw InvalidArgumentError(
      fmt::format("{} must be one of 'true', 'false', '1', '0' (case-insensitive), got '{}'", name, *v));
}

std::optional<double> env_number(const char* name, double min, double max) {
  auto v = env(name);
  if (!v) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (errno != 0 || end == v->c_str() || *end != '\0' || d < min || d > max)
    throw InvalidArgumentError(
        fmt::format("{} must be a number from {} to {}, got '{}'", name, min, max, *v));
  return d;
}

std::optional<long long> env_int(const char* name, long long min, long long max) {
  auto v = env(name);
  if (!v) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0' || n < min || n > max)
    throw InvalidArgumentError(
        max == std::numeric_limits<long long>::max()
            ? fmt::format("{} must be an integer ≥ {}, got '{}'", name, min, *v)
            : fmt::format("{} must be an integer from {} to {}, got '{}'", name, min, max, *v));
  return n;
}

}  // namespace mlflowpp::detail
