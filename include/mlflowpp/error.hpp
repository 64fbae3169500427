#pragma once
/// @file error.hpp
/// Exceptions thrown by mlflowpp's synchronous calls.
///
/// Every exception derives from mlflowpp::Error (itself a std::runtime_error), so
/// `catch (const mlflowpp::Error&)` catches all of them. Messages never contain
/// credentials (passwords, tokens, Authorization headers).

#include <stdexcept>
#include <string>
#include <utility>

namespace mlflowpp {

/// Base of every exception mlflowpp throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// The arguments of a call were refused on the client before any request was sent:
/// an invalid key, a value over one of MLflow's limits, a negative timestamp, an
/// unsafe artifact path, a malformed tracking URI or configuration. The message names
/// the offending key or setting, the limit and the size.
class InvalidArgumentError : public Error {
 public:
  explicit InvalidArgumentError(const std::string& message) : Error(message) {}
};

/// The server answered with an HTTP error status (after any retries).
///
/// `error_code()` is MLflow's error code string (`RESOURCE_DOES_NOT_EXIST`,
/// `INVALID_PARAMETER_VALUE`, `RESOURCE_ALREADY_EXISTS`, ...). When the body is not an
/// MLflow JSON error (plain-text 401/403 from an auth proxy, an HTML 404, ...), the code
/// is derived from the status as the Python client does (400 → BAD_REQUEST,
/// 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 → ENDPOINT_NOT_FOUND,
/// 409 → ALREADY_EXISTS, 429 → RESOURCE_EXHAUSTED, 499 → CANCELLED,
/// 500 → INTERNAL_ERROR, 501 → NOT_IMPLEMENTED, 503 → TEMPORARILY_UNAVAILABLE,
/// 504 → DEADLINE_EXCEEDED, else INTERNAL_ERROR).
class ServerError : public Error {
 public:
  ServerError(int http_status, std::string error_code, std::string server_message, const std::string& what)
      : Error(what),
        http_status_(http_status),
        error_code_(std::move(error_code)),
        server_message_(std::move(server_message)) {}

  /// HTTP status of the answer, e.g. 400, 404, 503.
  int http_status() const noexcept { return http_status_; }
  /// MLflow's error code name, e.g. "RESOURCE_DOES_NOT_EXIST".
  const std::string& error_code() const noexcept { return error_code_; }
  /// The server's own message (the `message` field of the error body, or its text).
  const std::string& server_message() const noexcept { return server_message_; }
  /// True for `RESOURCE_DOES_NOT_EXIST` (and the 404 family `NOT_FOUND`).
  bool is_not_found() const noexcept {
    return error_code_ == "RESOURCE_DOES_NOT_EXIST" || error_code_ == "NOT_FOUND";
  }
  /// True for `RESOURCE_ALREADY_EXISTS` (which MLflow sends as HTTP 400) and `ALREADY_EXISTS`.
  bool is_already_exists() const noexcept {
    return error_code_ == "RESOURCE_ALREADY_EXISTS" || error_code_ == "ALREADY_EXISTS";
  }

 private:
  int http_status_;
  std::string error_code_;
  std::string server_message_;
};

/// No usable HTTP answer: connection refused, DNS or TLS failure, timeout, reset, or a
/// transfer aborted by a deadline, after any retries. `curl_code()` is libcurl's
/// CURLcode as an int (0 when the failure did not come from libcurl).
class TransportError : public Error {
 public:
  TransportError(int curl_code, const std::string& what, bool request_sent = true, bool retryable = true)
      : Error(what), curl_code_(curl_code), request_sent_(request_sent), retryable_(retryable) {}
  int curl_code() const noexcept { return curl_code_; }
  /// False when no byte of the request reached the server (e.g. connection refused, DNS or
  /// TLS handshake failure): the server certainly did not act on it.
  bool request_sent() const noexcept { return request_sent_; }
  /// False when another attempt cannot succeed without a change of configuration: a TLS
  /// handshake that cannot work (`https://` to a plain-HTTP port, no common protocol, a
  /// certificate refused either way), a malformed URL, an unsupported protocol. Such
  /// failures are never retried.
  bool retryable() const noexcept { return retryable_; }

 private:
  int curl_code_;
  bool request_sent_;
  bool retryable_;
};

/// The server answered 2xx but the body could not be read as the expected JSON.
class ParseError : public Error {
 public:
  explicit ParseError(const std::string& what) : Error(what) {}
};

/// A 2xx answer that is not the one MLflow sends for the call: an HTML login page from a
/// single sign-on gateway, plain text, an empty or truncated body, or JSON of the wrong
/// shape (MLflow answers every REST call with a JSON object, `{}` for most writes). The
/// request was NOT acted on as far as the client can tell: nothing counts as delivered.
/// Not retried by synchronous calls (a retry gets the same page); the asynchronous logger
/// keeps such data in its spool until a fixed setup delivers it.
///
/// what() names the method, the URL without credentials, the HTTP status, the content
/// type and the first ~200 bytes of the body with anything that looks like a credential
/// replaced by `[REDACTED]`.
class UnexpectedResponseError : public ParseError {
 public:
  UnexpectedResponseError(int http_status, std::string content_type, std::string body_start,
                          const std::string& what)
      : ParseError(what),
        http_status_(http_status),
        content_type_(std::move(content_type)),
        body_start_(std::move(body_start)) {}
  /// HTTP status of the answer (2xx).
  int http_status() const noexcept { return http_status_; }
  /// The answer's Content-Type header ("" when absent).
  const std::string& content_type() const noexcept { return content_type_; }
  /// The first ~200 bytes of the body, credentials redacted, control characters as spaces.
  const std::string& body_start() const noexcept { return body_start_; }

 private:
  int http_status_;
  std::string content_type_;
  std::string body_start_;
};

}  // namespace mlflowpp
