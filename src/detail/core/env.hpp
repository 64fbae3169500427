#pragma once
// Reading configuration from the environment, shared by ClientOptions::from_env and
// ArtifactOptions::from_env. Unset or empty variables give std::nullopt; malformed values
// throw InvalidArgumentError naming the variable, the accepted form and the value.
#include <optional>
#include <string>

namespace mlflowpp::detail {

std::optional<std::string> env(const char* name);
/// The variable's value, or "" when it is unset (set and empty is "" too).
std::string env_or_empty(const char* name);
/// "true", "false", "1", "0" in any case (as the Python client's boolean variables).
std::optional<bool> env_bool(const char* name);
std::optional<double> env_number(const char* name, double min, double max);
std::optional<long long> env_int(const char* name, long long min, long long max);

}  // namespace mlflowpp::detail
