#pragma once
// The HTTP seam: the REST layer talks to a Transport; production uses libcurl, unit tests
// a fake that records requests and plays scripted answers. Private: not installed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlflowpp/options.hpp"

namespace mlflowpp::detail {

/// A request body streamed from somewhere else than memory (artifact uploads: a file or a
/// region of one). The transport reads it from the first byte to exactly size() bytes and
/// sends `Content-Length: size()` (never chunked encoding). Errors reading it (the file
/// shrank, an I/O error) are thrown by read() as mlflowpp::Error and are not retried.
class BodySource {
 public:
  virtual ~BodySource() = default;
  /// Exact number of bytes the body has (the Content-Length).
  virtual int64_t size() const = 0;
  /// Back to the first byte. Called before every attempt (and by libcurl on a redirect).
  virtual void rewind() = 0;
  /// Copies up to `n` next bytes into `buf`; returns how many (0 only at the end).
  virtual std::size_t read(char* buf, std::size_t n) = 0;
};

/// Where the body of a 2xx answer goes instead of HttpResponse::body (artifact downloads,
/// streamed to a file). Bodies of other answers (MLflow's JSON errors) still go to
/// HttpResponse::body. Errors writing (disk full) are thrown by write() as mlflowpp::Error
/// and are not retried.
class BodySink {
 public:
  virtual ~BodySink() = default;
  /// Forgets what an earlier attempt wrote. Called before every attempt.
  virtual void reset() = 0;
  virtual void write(const char* data, std::size_t n) = 0;
  /// Bytes written since the last reset().
  virtual int64_t bytes_written() const = 0;
};

/// Progress of one attempt of a streamed transfer: bytes moved so far and the total
/// (-1 when unknown: a download without Content-Length). Restarts from 0 on a retry. Runs
/// on the thread that performs the request; an exception it throws abandons the transfer
/// and propagates to the caller (not retried).
using TransferProgressFn = std::function<void(int64_t done, int64_t total)>;

struct HttpRequest {
  std::string method;                ///< "GET", "POST", "PATCH", "DELETE", "PUT"
  std::string url;                   ///< absolute, already percent-encoded
  std::vector<std::string> headers;  ///< "Name: value"; never credentials (the transport adds them)
  std::string body;
  std::chrono::milliseconds timeout{0};  ///< whole transfer; 0 = transport default
  /// When set and it becomes true, the transfer is abandoned (TransportError).
  const std::atomic<bool>* abort = nullptr;

  // ---- streaming (artifacts). The pointers are borrowed for the duration of the call
  // only: a recorded copy of the request must not dereference them later.

  /// Streams the body from here (method PUT, or another method with an upload body);
  /// `body` is then ignored.
  BodySource* upload = nullptr;
  /// Streams the body of a 2xx answer into here instead of HttpResponse::body.
  BodySink* download = nullptr;
  /// Called as bytes move (upload: bytes sent of upload->size(); download: bytes received
  /// of the Content-Length, or -1).
  TransferProgressFn progress;
  /// Stall detection instead of a total timeout: when low_speed_time > 0, the transfer has
  /// no overall deadline (`timeout` is ignored) and is abandoned (TransportError
  /// CURLE_OPERATION_TIMEDOUT, retried by the policy) when fewer than low_speed_limit
  /// bytes/s move, on average, for low_speed_time.
  int64_t low_speed_limit = 0;  ///< bytes per second
  std::chrono::seconds low_speed_time{0};
  /// false: send no credentials (presigned URLs of cloud storage, which carry their own
  /// authorization in the URL and the headers given with it).
  bool send_credentials = true;
  /// true: use a new connection. libcurl silently resends a request whose reused
  /// connection dies before any byte of the answer arrives; for a request that is not safe
  /// to repeat (a POST the server does not apply idempotently) that resend could repeat a
  /// write the server had committed, so such requests never go out on a reused connection.
  bool fresh_connection = false;
  /// A download from MLflow's artifact proxy, which sends every file as an attachment
  /// (`Content-Disposition: attachment`): a 2xx HTML answer without that header is a
  /// gateway's page, not the file. Its body then goes to HttpResponse::body, never to
  /// `download` (see is_file_download).
  bool expect_attachment = false;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;          ///< raw Retry-After header value, if any
  int64_t content_length = -1;      ///< Content-Length of the answer; -1 when absent
  std::string etag;                 ///< raw ETag header value, if any (multipart upload parts)
  std::string content_disposition;  ///< raw Content-Disposition header value, if any
};

/// Sends one request and returns the answer (any status). Throws TransportError when no
/// HTTP answer was had (connection, TLS, timeout, abort). Thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse perform(const HttpRequest& request) = 0;
};

/// What this process has seen of one tracking server through a Client's transport: any
/// HTTP answer at all (whatever its status), and attempts that never reached it (no byte
/// of the request sent: connection refused, DNS, TLS handshake). Shared by a Client's
/// copies; read by Client::start_run and ActiveRun::end (the fail-fast rule, ADR 0009).
struct Reachability {
  std::atomic<bool> answered{false};
  std::atomic<uint64_t> unreached{0};
  /// Every attempt so far failed before the server saw it (and there was at least one).
  bool refused_everything() const noexcept { return !answered.load() && unreached.load() > 0; }
};

/// `inner` observed into `reach` (every perform() that returns marks it answered; a
/// TransportError with request_sent() false counts as unreached, and is rethrown).
std::shared_ptr<Transport> observe_reachability(std::shared_ptr<Transport> inner,
                                                std::shared_ptr<Reachability> reach);

/// libcurl transport: a pool of easy handles (connections kept alive), NOSIGNAL, TCP
/// keepalive, TLS and auth from `options` (Basic when username and password are both
/// set, else Bearer when a token is set), redirects per options. Credentials are handed
/// to libcurl only, never to a header list or a message.
std::shared_ptr<Transport> make_curl_transport(const ClientOptions& options);

/// False for an answer that cannot be a file sent by MLflow's artifact proxy: an HTML page
/// (`text/html`, `application/xhtml+xml`) that is not sent as an attachment (MLflow sends
/// every file, HTML ones too, with `Content-Disposition: attachment`).
bool is_file_download(std::string_view content_type, std::string_view content_disposition) noexcept;

/// True when a libcurl failure is a TLS handshake that cannot succeed however often it is
/// tried (`detail`: libcurl's error text): `https://` to a plain-HTTP port, no protocol or
/// cipher in common, a certificate refused by either side. Not: a connection reset during
/// the handshake.
bool is_permanent_tls_failure(int curl_code, std::string_view detail) noexcept;

/// `url` with any userinfo (user:password@) removed, for messages.
std::string redact_url(const std::string& url);

/// Process-wide fork generation: incremented in every forked child (pthread_atfork).
/// Objects that own threads or sockets compare it with the value at their creation.
uint64_t fork_generation() noexcept;

}  // namespace mlflowpp::detail
