#pragma once
// Helpers every part of the embedded local store shares (tracking, registry, logged
// models): MLflow's experiment-id parsing, its random names, the run checks with MLflow's
// messages, and small string helpers. Each run check runs inside the caller's transaction.
// Private: not installed.

#include <cstdint>
#include <string>
#include <string_view>

#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local {

/// Python's int(experiment_id); INVALID_PARAMETER_VALUE as _parse_experiment_id otherwise.
int64_t parse_experiment_id(const std::string& experiment_id);

/// Python's _generate_random_name(): "<predicate>-<noun>-<0..1000>", at most 20 characters
/// (mlflow/utils/name_utils.py). Names runs and logged models.
std::string random_run_name();

/// RESOURCE_DOES_NOT_EXIST "Run with id=<id> not found".
[[noreturn]] void throw_run_not_found(const std::string& run_id);
/// INVALID_PARAMETER_VALUE unless `lifecycle_stage` is "active" (_check_run_is_active).
void check_run_stage_active(const std::string& run_id, const std::string& lifecycle_stage);
/// The run's lifecycle stage; throw_run_not_found when there is no such run.
std::string run_lifecycle_stage(sql::Connection& c, const std::string& run_id);
/// run_lifecycle_stage + check_run_stage_active (the hot path of every run write).
void require_active_run(sql::Connection& c, const std::string& run_id);

/// 400 BAD_REQUEST, as MLflow's SQL stores report an integrity error.
[[noreturn]] void throw_bad_request(const std::string& message);

/// Upper-cases ASCII letters.
std::string upper(std::string_view s);
/// Lower-cases ASCII letters.
std::string lower(std::string_view s);

}  // namespace mlflowpp::detail::local
