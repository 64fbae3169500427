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

#include "detail/core/call_hooks.hpp"
#include "detail/http/http.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

/// While alive, retries made on this thread give up (TransportError 42 naming the reason)
/// instead of waiting past `deadline`. Used to decide quickly that a run starts offline.
class ScopedRetryDeadline {
 public:
  explicit ScopedRetryDeadline(std::chrono::steady_clock::time_point deadline) noexcept;
  ~ScopedRetryDeadline();
  ScopedRetryDeadline(const ScopedRetryDeadline&) = delete;
  ScopedRetryDeadline& operator=(const ScopedRetryDeadline&) = delete;

 private:
  std::optional<std::chrono::steady_clock::time_point> previous_;
};

/// While alive, calls made on this thread without hooks use `hooks` (abort flag, retry
/// waits, counters): how the logger's sender makes every TrackingStore call abortable.
class ScopedCallHooks {
 public:
  explicit ScopedCallHooks(const CallHooks* hooks) noexcept;
  ~ScopedCallHooks();
  ScopedCallHooks(const ScopedCallHooks&) = delete;
  ScopedCallHooks& operator=(const ScopedCallHooks&) = delete;

 private:
  const CallHooks* previous_;
};

/// True for the statuses the retry policy retries: 408, 429, 500, 502, 503, 504.
bool is_retryable_status(long status) noexcept;
/// False for transport failures that another attempt cannot fix: TLS verification and
/// certificate problems, malformed URLs, unsupported protocols, an abort by the caller.
bool is_retryable_transport_error(int curl_code) noexcept;
/// False for a TransportError that another attempt cannot fix: the transport said so
/// (TransportError::retryable(), e.g. a TLS handshake that cannot work) or its code is one
/// is_retryable_transport_error() refuses.
bool is_retryable(const TransportError& e) noexcept;
/// The error code the Python client derives from a status when the body is not JSON.
const char* error_code_for_status(long status) noexcept;
/// Seconds (or an HTTP date) → wait; std::nullopt when unparseable.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           std::chrono::system_clock::time_point now);

/// Moves credentials written into a tracking URI (`https://user:pass@host/...`) out of
/// it: returns the URI without them and sets `username`/`password` (percent-decoded) when
/// those are empty. URIs without userinfo are returned unchanged. Uses libcurl's URL parser.
std::string take_userinfo(const std::string& uri, std::string& username, std::string& password);

/// True for the POST endpoints that are safe to resend after the server processed them.
bool is_retry_safe_post(std::string_view endpoint) noexcept;

/// Percent-encodes one query-string or path component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view s);

/// Throws the ServerError for a non-2xx answer to `method url`: MLflow's error_code and
/// message when the body is MLflow's JSON error, else the code derived from the status and
/// describe_answer() of what came back.
[[noreturn]] void throw_server_error(const char* method, const std::string& url, const HttpResponse& resp);

/// `text` with anything that looks like a credential (Authorization schemes, secret-named
/// key/value pairs and form fields, JSON web tokens, URL userinfo) replaced by [REDACTED].
std::string redact_secrets(std::string_view text);
/// The first `max_bytes` of a body for a message: redacted, cut at a UTF-8 boundary, control
/// characters as spaces, "..." when cut.
std::string body_start(std::string_view body, std::size_t max_bytes = 200);
/// "HTTP 200, Content-Type text/html, body (1234 bytes): '<!DOCTYPE html>...'" for messages.
std::string describe_answer(const HttpResponse& resp);
/// Throws UnexpectedResponseError: a 2xx answer that is not the one MLflow sends (`expected`
/// says what was: "a JSON object", ...).
[[noreturn]] void throw_unexpected_response(const char* method, const std::string& url,
                                            const HttpResponse& resp, std::string_view expected);
/// Throws UnexpectedResponseError unless the answer's body is one JSON object (MLflow answers
/// every REST call, reads and writes, with one; `{}` for most writes).
void expect_json_object(const char* method, const std::string& url, const HttpResponse& resp);

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
  /// A streamed request (HttpRequest::upload / download) is rewound / reset before every
  /// attempt, and a 2xx download shorter or longer than its Content-Length counts as a
  /// transport failure (TransportError CURLE_PARTIAL_FILE, retried).
  /// `idempotent` = false (a POST that the server does not apply idempotently): only 408,
  /// 429 and failures before any byte was sent are retried, as MLflow 3.18's Python client.
  HttpResponse send_with_retries(HttpRequest request, const CallHooks* hooks, bool idempotent = true);

  /// Headers sent with every request (client version, workspace); no credentials.
  const std::vector<std::string>& common_headers() const noexcept { return common_headers_; }

 private:
  ClientOptions options_;
  std::shared_ptr<Transport> transport_;
  std::string base_;
  std::vector<std::string> common_headers_;
};

}  // namespace mlflowpp::detail
