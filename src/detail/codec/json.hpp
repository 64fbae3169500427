#pragma once
// JSON for MLflow's REST API: a small exact writer for request bodies and tolerant
// readers (simdjson DOM) for answers. Private: not installed.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlflowpp/entities.hpp"

namespace mlflowpp::detail {

/// Streaming JSON writer. Writes int64 as numbers without loss, doubles in the shortest
/// form that round-trips, NaN/±Inf as the protobuf JSON strings "NaN", "Infinity",
/// "-Infinity", and strings with every character JSON requires escaped (UTF-8 passes
/// through unchanged). The caller keeps the structure balanced.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  /// Inserts already-serialized JSON as one value.
  JsonWriter& raw(std::string_view json);

  const std::string& str() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }
  void reserve(std::size_t n) { out_.reserve(n); }

 private:
  void sep();
  std::string out_;
  bool comma_ = false;
};

/// Appends `s` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);
/// Appends a double as MLflow expects it (number, or "NaN"/"Infinity"/"-Infinity").
void append_json_double(std::string& out, double v);

// Serialized fragments of log-batch entities (objects, without surrounding commas).
std::string metric_json(const Metric& m);
std::string param_json(std::string_view key, std::string_view value);
std::string tag_json(std::string_view key, std::string_view value);

// ---- readers: every field optional; int64 as number or string; doubles as number or
// the strings "NaN", "Infinity", "-Infinity" (or a numeric string). Throw ParseError
// (naming `what`) when the body is not JSON or not an object.
Experiment parse_experiment_response(const std::string& body);      // {experiment}
std::string parse_experiment_id_response(const std::string& body);  // {experiment_id}
PagedList<Experiment> parse_search_experiments(const std::string& body);
Run parse_run_response(const std::string& body);           // {run}
RunInfo parse_run_info_response(const std::string& body);  // {run_info}
PagedList<Run> parse_search_runs(const std::string& body);
PagedList<Metric> parse_metric_history(const std::string& body);
/// Checks that a body is a JSON object ("{}" for most mutations); throws ParseError.
void parse_empty_response(const std::string& body, std::string_view what);
/// True when `body` is one complete JSON object (what MLflow answers every REST call with).
bool is_json_object(const std::string& body) noexcept;

/// The `{"error_code", "message"}` of an error body, if the body is such an object.
struct ErrorBody {
  std::string error_code;
  std::string message;
  bool parsed = false;
};
ErrorBody parse_error_body(std::string_view body) noexcept;

/// Constructs simdjson's function-local singletons (its CPU-dispatched implementations)
/// now. Called by the Client and logger constructors so that, for a Client with static
/// storage duration, those singletons are destroyed after it (reverse order of
/// construction) and its worker can still use them while draining at exit.
void warm_up_json() noexcept;

/// Tags from a JSON object of string values (MLFLOW_RUN_CONTEXT). Throws ParseError.
std::vector<RunTag> parse_string_map(const std::string& json, std::string_view what);

}  // namespace mlflowpp::detail
