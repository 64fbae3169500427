#pragma once
// Client-side checks of MLflow's limits and key rules (mlflow/utils/validation.py), so
// that bad input gets a clear error naming the key, the limit and the size before any
// request is sent. Private.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mlflowpp/entities.hpp"

namespace mlflowpp::detail {

inline constexpr std::size_t kMaxEntityKeyLength = 250;
inline constexpr std::size_t kMaxParamValueLength = 6000;
inline constexpr std::size_t kMaxTagValueLength = 8000;
// Checked against the pinned MLflow 3.18 (mlflow/utils/validation.py and the SQL schema).
inline constexpr std::size_t kMaxExperimentTagValueLength = 20000;  // since 3.16 (migration 17e22815139b)
// validation.py allows 500, but the experiments.name column is VARCHAR(256): PostgreSQL
// and MySQL servers refuse longer names, so the SDK does too.
inline constexpr std::size_t kMaxExperimentNameLength = 256;
inline constexpr std::size_t kMaxDatasetNameLength = 500;
inline constexpr std::size_t kMaxDatasetDigestLength = 36;
inline constexpr std::size_t kMaxDatasetSourceLength = 65535;      // TEXT column
inline constexpr std::size_t kMaxDatasetSchemaLength = 1048575;    // MEDIUMTEXT-ish column
inline constexpr std::size_t kMaxDatasetProfileLength = 16777215;  // MEDIUMTEXT column
inline constexpr std::size_t kMaxInputTagKeyLength = 255;
inline constexpr std::size_t kMaxInputTagValueLength = 500;
inline constexpr std::size_t kMaxMetricsPerBatch = 1000;
inline constexpr std::size_t kMaxParamsPerBatch = 100;
inline constexpr std::size_t kMaxTagsPerBatch = 100;
inline constexpr std::size_t kMaxEntitiesPerBatch = 1000;

/// Number of Unicode code points in valid UTF-8 (what Python's len() counts).
std::size_t utf8_length(std::string_view s) noexcept;
bool is_valid_utf8(std::string_view s) noexcept;

/// Each returns an error message (naming `what`, the key, the limit and the size), or
/// std::nullopt when the input is acceptable. `what` is e.g. "metric", "param", "tag".
std::optional<std::string> check_key(std::string_view what, std::string_view key);
std::optional<std::string> check_value(std::string_view what, std::string_view key, std::string_view value,
                                       std::size_t max_length);
std::optional<std::string> check_timestamp(std::string_view key, int64_t timestamp_ms);
/// A dataset input of log-inputs: name and digest present; name, digest, source, schema,
/// profile and the input tags' keys and values within MLflow's limits.
std::optional<std::string> check_dataset_input(const DatasetInput& input);

/// True for a timestamp that is far more likely seconds than milliseconds since the epoch
/// (1e9 ≤ t < 1e11: in seconds, 2001 to 5138; in milliseconds, January to March 1970...1973).
bool looks_like_seconds(int64_t timestamp_ms) noexcept;
/// Prints, once per process, a warning to stderr naming the metric and the timestamp when
/// looks_like_seconds(timestamp_ms); the point is still logged as given.
void warn_once_if_seconds(std::string_view key, int64_t timestamp_ms) noexcept;

/// Throws InvalidArgumentError with the message when a check fails.
void throw_if(const std::optional<std::string>& error);

}  // namespace mlflowpp::detail
