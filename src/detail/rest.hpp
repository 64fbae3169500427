#pragma once
// REST layer: URL layout (/api/2.0 under the tracking URI's path prefix), JSON headers,
// the retry policy, and mapping of error answers to typed exceptions. Private.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/http.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

/// Per-call controls, used by the asynchronous logger.
struct CallHooks {
  /// Abandons transfers and retry waits when it becomes true.
  const std::atomic<bool>* abort = nullptr;
  /// Waits before a retry; returns false when interrupted (then the call gives up).
  /// Default: std::this_thread::sleep_for (interrupted only through `abort` polling).
  std::function<bool(std::chrono::milliseconds)> sleep;
  std::atomic<uint64_t>* requests = nullptr;  ///< incremented per HTTP attempt
  std::atomic<uint64_t>* retries = nullptr;   ///< incremented per retry
};

/// True for the statuses the retry policy retries: 408, 429, 500, 502, 503, 504.
bool is_retryable_status(long status) noexcept;
/// False for transport failures that another attempt cannot fix: TLS verification and
/// certificate problems, malformed URLs, unsupported protocols, an abort by the caller.
bool is_retryable_transport_error(int curl_code) noexcept;
/// The error code the Python client derives from a status when the body is not JSON.
const char* error_code_for_status(long status) noexcept;
/// Seconds (or an HTTP date) → wait; std::nullopt when unparseable.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           std::chrono::system_clock::time_point now);

/// Percent-encodes one query-string or path component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

class RestClient {
 public:
  RestClient(ClientOptions options, std::shared_ptr<Transport> transport);

  /// `base + /api/2.0 + endpoint` where base is the tracking URI without trailing '/'.
  std::string api_url(std::string_view endpoint) const;
  const std::string& base_url() const noexcept { return base_; }
  const ClientOptions& options() const noexcept { return options_; }

  /// JSON call: POST/PATCH/DELETE with `json_body`, GET with `query` pairs. Retries per
  /// the policy; returns the 2xx body; throws ServerError / TransportError.
  std::string call(const char* method, std::string_view endpoint, std::string json_body,
                   const CallHooks* hooks = nullptr);
  std::string get(std::string_view endpoint, const std::vector<std::pair<std::string, std::string>>& query,
                  const CallHooks* hooks = nullptr);

  /// Sends a fully formed request with the retry policy (used by call/get and artifacts).
  HttpResponse send_with_retries(HttpRequest request, const CallHooks* hooks);

 private:
  ClientOptions options_;
  std::shared_ptr<Transport> transport_;
  std::string base_;
  std::vector<std::string> common_headers_;
};

}  // namespace mlflowpp::detail
