#pragma once
// The HTTP seam: the REST layer talks to a Transport; production uses libcurl, unit tests
// a fake that records requests and plays scripted answers. Private: not installed.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

struct HttpRequest {
  std::string method;                ///< "GET", "POST", "PATCH", "DELETE", "PUT"
  std::string url;                   ///< absolute, already percent-encoded
  std::vector<std::string> headers;  ///< "Name: value"; never credentials (the transport adds them)
  std::string body;
  std::chrono::milliseconds timeout{0};  ///< whole transfer; 0 = transport default
  /// When set and it becomes true, the transfer is abandoned (TransportError).
  const std::atomic<bool>* abort = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;  ///< raw Retry-After header value, if any
};

/// Sends one request and returns the answer (any status). Throws TransportError when no
/// HTTP answer was had (connection, TLS, timeout, abort). Thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse perform(const HttpRequest& request) = 0;
};

/// libcurl transport: a pool of easy handles (connections kept alive), NOSIGNAL, TCP
/// keepalive, TLS and auth from `options` (Basic when username and password are both
/// set, else Bearer when a token is set), redirects per options. Credentials are handed
/// to libcurl only, never to a header list or a message.
std::shared_ptr<Transport> make_curl_transport(const ClientOptions& options);

/// `url` with any userinfo (user:password@) removed, for messages.
std::string redact_url(const std::string& url);

/// Process-wide fork generation: incremented in every forked child (pthread_atfork).
/// Objects that own threads or sockets compare it with the value at their creation.
uint64_t fork_generation() noexcept;

}  // namespace mlflowpp::detail
