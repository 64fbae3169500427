// libFuzzer target: every parser of server answers must either return a value or throw
// mlflowpp::Error (ParseError) on any input — never crash, hang or read out of bounds.
// Built with clang (-DMLFLOWPP_BUILD_FUZZERS=ON); run by scripts/test.sh for a bounded time.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "detail/codec/json.hpp"
#include "detail/codec/registry_json.hpp"
#include "detail/rest/rest.hpp"
#include "mlflowpp/error.hpp"

namespace {
template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const mlflowpp::Error&) {
    // refusing an unreadable answer is the expected outcome
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mlflowpp::detail;
  const std::string body(reinterpret_cast<const char*>(data), size);
  guarded([&] { (void)parse_run_response(body); });
  guarded([&] { (void)parse_search_runs(body); });
  guarded([&] { (void)parse_run_info_response(body); });
  guarded([&] { (void)parse_experiment_response(body); });
  guarded([&] { (void)parse_experiment_id_response(body); });
  guarded([&] { (void)parse_search_experiments(body); });
  guarded([&] { (void)parse_metric_history(body); });
  guarded([&] { parse_empty_response(body, "fuzz"); });
  guarded([&] { (void)parse_string_map(body, "fuzz"); });
  guarded([&] { (void)parse_registered_model_response(body); });
  guarded([&] { (void)parse_search_registered_models(body); });
  guarded([&] { (void)parse_model_version_response(body); });
  guarded([&] { (void)parse_model_versions(body); });
  guarded([&] { (void)parse_download_uri_response(body); });
  guarded([&] { (void)parse_logged_model_response(body); });
  guarded([&] { (void)parse_search_logged_models(body); });
  (void)parse_error_body(body);
  (void)parse_retry_after(body, std::chrono::system_clock::now());
  return 0;
}
