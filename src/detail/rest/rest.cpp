#include "detail/rest/rest.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <regex>
#include <thread>

#include "detail/codec/json.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/version.hpp"

namespace mlflowpp {

std::chrono::milliseconds RetryPolicy::backoff(int retry_number, double u) const noexcept {
  if (retry_number <= 1) return std::chrono::milliseconds(0);
  double seconds = backoff_factor * std::pow(2.0, retry_number - 1) + u * backoff_jitter;
  auto ms = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
  return ms > max_backoff ? max_backoff : ms;
}

namespace detail {

bool is_retryable_status(long status) noexcept {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool is_retryable_transport_error(int curl_code) noexcept {
  switch (curl_code) {
    case 1:   // CURLE_UNSUPPORTED_PROTOCOL
    case 2:   // CURLE_FAILED_INIT
    case 3:   // CURLE_URL_MALFORMAT
    case 4:   // CURLE_NOT_BUILT_IN
    case 43:  // CURLE_BAD_FUNCTION_ARGUMENT
    case 47:  // CURLE_TOO_MANY_REDIRECTS (a redirect loop)
    case 48:  // CURLE_UNKNOWN_OPTION
    case 53:  // CURLE_SSL_ENGINE_NOTFOUND
    case 54:  // CURLE_SSL_ENGINE_SETFAILED
    case 64:  // CURLE_USE_SSL_FAILED
    case 42:  // CURLE_ABORTED_BY_CALLBACK (our own deadline)
    case 58:  // CURLE_SSL_CERTPROBLEM (client certificate)
    case 59:  // CURLE_SSL_CIPHER
    case 60:  // CURLE_PEER_FAILED_VERIFICATION
    case 66:  // CURLE_SSL_ENGINE_INITFAILED
    case 77:  // CURLE_SSL_CACERT_BADFILE
    case 80:  // CURLE_SSL_SHUTDOWN_FAILED
    case 82:  // CURLE_SSL_CRL_BADFILE
    case 83:  // CURLE_SSL_ISSUER_ERROR
    case 90:  // CURLE_SSL_PINNEDPUBKEYNOTMATCH
    case 91:  // CURLE_SSL_INVALIDCERTSTATUS
    case 98:  // CURLE_SSL_CLIENTCERT
      return false;
    default:
      return true;
  }
}

bool is_retryable(const TransportError& e) noexcept {
  return e.retryable() && is_retryable_transport_error(e.curl_code());
}

const char* error_code_for_status(long status) noexcept {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "ENDPOINT_NOT_FOUND";
    case 409:
      return "ALREADY_EXISTS";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 500:
      return "INTERNAL_ERROR";
    case 501:
      return "NOT_IMPLEMENTED";
    case 503:
      return "TEMPORARILY_UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "INTERNAL_ERROR";
  }
}

std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           std::chrono::system_clock::time_point now) {
  std::size_t b = value.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  std::size_t e = value.find_last_not_of(" \t");
  const std::string v = value.substr(b, e - b + 1);
  bool digits = true;
  for (char c : v) digits = digits && c >= '0' && c <= '9';
  std::chrono::milliseconds wait{0};
  if (digits) {
    wait = v.size() > 9 ? std::chrono::milliseconds(std::chrono::hours(24 * 365))
                        : std::chrono::milliseconds(std::stoll(v) * 1000);
  } else {
    // An HTTP date in any of the forms HTTP allows (RFC 1123, RFC 850, asctime), parsed
    // by libcurl without regard to the process locale.
    const time_t when = curl_getdate(v.c_str(), nullptr);
    if (when == -1) return std::nullopt;
    // In seconds and clamped: a date centuries away must not overflow a chrono conversion.
    const time_t now_s = std::chrono::system_clock::to_time_t(now);
    if (when <= now_s) return std::nullopt;
    const time_t kYear = 365 * 24 * 3600;
    wait = std::chrono::seconds(when - now_s > kYear ? kYear : when - now_s);
  }
  // As urllib3: a wait of zero (or a date in the past) means "no instruction": use the backoff.
  if (wait.count() <= 0) return std::nullopt;
  return wait;
}

std::string take_userinfo(const std::string& uri, std::string& username, std::string& password) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  auto host = scheme + 3;
  auto authority_end = uri.find_first_of("/?#", host);
  auto at = uri.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
  if (at == std::string::npos || at < host) return uri;
  CURLU* u = curl_url();
  if (u == nullptr) return uri;
  std::string out = uri;
  if (curl_url_set(u, CURLUPART_URL, uri.c_str(), 0) == CURLUE_OK) {
    char* part = nullptr;
    if (username.empty() && curl_url_get(u, CURLUPART_USER, &part, CURLU_URLDECODE) == CURLUE_OK)
      username = part;
    curl_free(part);
    part = nullptr;
    if (password.empty() && curl_url_get(u, CURLUPART_PASSWORD, &part, CURLU_URLDECODE) == CURLUE_OK)
      password = part;
    curl_free(part);
    part = nullptr;
    curl_url_set(u, CURLUPART_USER, nullptr, 0);
    curl_url_set(u, CURLUPART_PASSWORD, nullptr, 0);
    if (curl_url_get(u, CURLUPART_URL, &part, 0) == CURLUE_OK) out = part;
    curl_free(part);
  } else {
    out = uri.substr(0, host) + uri.substr(at + 1);  // unparseable: at least drop the userinfo
  }
  curl_url_cleanup(u);
  return out;
}

bool is_retry_safe_post(std::string_view endpoint) noexcept {
  // MLflow 3.18's Python client (rest_utils._RETRY_SAFE_POST_RESPONSES): reads, and writes
  // the server applies idempotently. Other POSTs (create run/experiment, delete or rename
  // an experiment, delete a tag, log inputs, registry creations...) are resent only when
  // the server certainly did not process them.
  static constexpr std::string_view kSafe[] = {
      "/mlflow/experiments/search",
      "/mlflow/runs/search",
      "/mlflow/logged-models/search",
      "/mlflow/registered-models/get-latest-versions",
      "/mlflow/runs/delete",
      "/mlflow/runs/log-batch",
      "/mlflow/runs/log-metric",
      "/mlflow/runs/log-parameter",
      "/mlflow/runs/restore",
      "/mlflow/experiments/set-experiment-tag",
      "/mlflow/model-versions/set-tag",
      "/mlflow/registered-models/alias",
      "/mlflow/registered-models/set-tag",
      "/mlflow/runs/set-tag",
      "/mlflow/runs/update",
  };
  for (std::string_view s : kSafe)
    if (endpoint == s) return true;
  return false;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

RestClient::RestClient(ClientOptions options, std::shared_ptr<Transport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {
  base_ = options_.tracking_uri;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  common_headers_.push_back(fmt::format("X-MLflow-Client-Version: mlflowpp/{}", version()));
  if (!options_.workspace.empty()) common_headers_.push_back("X-MLFLOW-WORKSPACE: " + options_.workspace);
}

std::string RestClient::api_url(std::string_view endpoint) const {
  return fmt::format("{}/api/2.0{}", base_, endpoint);
}

namespace {

double jitter_uniform() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

thread_local std::optional<std::chrono::steady_clock::time_point> t_retry_deadline;
thread_local const CallHooks* t_default_hooks = nullptr;

bool aborted(const CallHooks* hooks) {
  return hooks != nullptr && hooks->abort != nullptr && hooks->abort->load();
}

bool wait(const CallHooks* hooks, std::chrono::milliseconds d) {
  if (hooks != nullptr && hooks->sleep) return hooks->sleep(d);
  if (d.count() <= 0) return !aborted(hooks);
  // Default: sleep in slices so that an abort flag is noticed.
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (aborted(hooks)) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
  return !aborted(hooks);
}

}  // namespace

ScopedRetryDeadline::ScopedRetryDeadline(std::chrono::steady_clock::time_point deadline) noexcept
    : previous_(t_retry_deadline) {
  t_retry_deadline = deadline;
}
ScopedRetryDeadline::~ScopedRetryDeadline() { t_retry_deadline = previous_; }

ScopedCallHooks::ScopedCallHooks(const CallHooks* hooks) noexcept : previous_(t_default_hooks) {
  t_default_hooks = hooks;
}
ScopedCallHooks::~ScopedCallHooks() { t_default_hooks = previous_; }

std::string redact_secrets(std::string_view text) {
  // Patterns for what credentials look like in a gateway's page, a proxy's error or an
  // echoed request: authorization schemes, key=value and "key": "value" pairs whose key
  // names a secret, hidden form fields named like one, JSON web tokens, URL userinfo and
  // AWS signatures. Run on error paths only (std::regex is slow, but these are short).
  static const std::regex kPatterns[] = {
      std::regex(R"(((?:bearer|basic|token|negotiate|digest)\s+)[A-Za-z0-9._~+/=-]{6,})", std::regex::icase),
      std::regex(
          R"(((?:password|passwd|pwd|secret|token|api[_-]?key|apikey|auth|authorization|session[_-]?id|)"
          R"(sessionid|cookie|credential|signature|sig|security[_-]?token)[A-Za-z0-9_-]*["']?\s*[:=]\s*["']?))"
          R"([^"'&\s<>,;]+)",
          std::regex::icase),
      std::regex(
          R"((name=["'][^"']*(?:token|secret|password|csrf|nonce|state|session)[^"']*["'][^>]*?value=["']))"
          R"([^"']*)",
          std::regex::icase),
      std::regex(R"(()eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"),
      std::regex(R"((://)[^/\s:@]+:[^/\s@]+@)"),
  };
  std::string out(text);
  for (const std::regex& re : kPatterns) out = std::regex_replace(out, re, "$1[REDACTED]");
  return out;
}

std::string body_start(std::string_view body, std::size_t max_bytes) {
  // Redact first (a secret cut in half by the limit must not show its first half), then
  // cut at a character boundary, then make it one line.
  std::string text = redact_secrets(body.substr(0, std::max<std::size_t>(max_bytes * 8, 2048)));
  bool cut = body.size() > max_bytes || text.size() > max_bytes;
  if (text.size() > max_bytes) {
    std::size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // not mid-character
    text.resize(n);
  }
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (cut) text += "...";
  return text;
}

std::string describe_answer(const HttpResponse& resp) {
  const std::string type =
      resp.content_type.empty() ? "no Content-Type" : "Content-Type " + resp.content_type;
  if (resp.body.empty()) return fmt::format("HTTP {}, {}, empty body", resp.status, type);
  return fmt::format("HTTP {}, {}, body ({} bytes): '{}'", resp.status, type, resp.body.size(),
                     body_start(resp.body));
}

[[noreturn]] void throw_unexpected_response(const char* method, const std::string& url,
                                            const HttpResponse& resp, std::string_view expected) {
  throw UnexpectedResponseError(
      static_cast<int>(resp.status), resp.content_type, body_start(resp.body),
      fmt::format("MLflow {} {}: the answer is not MLflow's ({} expected; a gateway's login page or a "
                  "proxy's error?): {}; nothing was stored",
                  method, redact_url(url), expected, describe_answer(resp)));
}

void expect_json_object(const char* method, const std::string& url, const HttpResponse& resp) {
  if (!is_json_object(resp.body)) throw_unexpected_response(method, url, resp, "a JSON object");
}

[[noreturn]] void throw_server_error(const char* method, const std::string& url, const HttpResponse& resp) {
  auto parsed = parse_error_body(resp.body);
  std::string code =
      parsed.parsed && !parsed.error_code.empty() ? parsed.error_code : error_code_for_status(resp.status);
  if (parsed.parsed) {
    // MLflow's own error: its message says what is wrong.
    std::string summary = parsed.message;
    for (char& c : summary)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (summary.size() > 300) summary = summary.substr(0, 297) + "...";
    throw ServerError(static_cast<int>(resp.status), code, parsed.message,
                      fmt::format("MLflow {} {} failed: HTTP {} {}: {}", method, redact_url(url), resp.status,
                                  code, summary));
  }
  // Not MLflow's error body (a proxy's or a gateway's page): show what came back, without
  // anything that looks like a credential.
  throw ServerError(
      static_cast<int>(resp.status), code, body_start(resp.body, 500),
      fmt::format("MLflow {} {} failed: {} ({})", method, redact_url(url), describe_answer(resp), code));
}

HttpResponse RestClient::send_with_retries(HttpRequest req, const CallHooks* hooks, bool idempotent) {
  if (hooks == nullptr) hooks = t_default_hooks;  // set by ScopedCallHooks (or none)
  const RetryPolicy& policy = options_.retry;
  if (hooks != nullptr && hooks->abort != nullptr) req.abort = hooks->abort;
  if (!idempotent) req.fresh_connection = true;  // no silent resend by libcurl (see HttpRequest)
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0 && hooks != nullptr && hooks->retries != nullptr) ++*hooks->retries;
    if (hooks != nullptr && hooks->requests != nullptr) ++*hooks->requests;
    std::chrono::milliseconds delay{0};
    std::string reason;  // for the retry warning
    try {
      // A streamed body starts again from its first byte, and a download from an empty
      // file, at every attempt.
      if (req.upload != nullptr) req.upload->rewind();
      if (req.download != nullptr) req.download->reset();
      HttpResponse resp = transport_->perform(req);
      if (resp.status >= 200 && resp.status < 300) {
        // A gateway's page instead of the file: not retried (the same page would come back).
        if (req.download != nullptr && req.expect_attachment &&
            !is_file_download(resp.content_type, resp.content_disposition))
          throw_unexpected_response(req.method.c_str(), req.url, resp, "the file, sent as an attachment");
        // A download cut short is a transport failure (retried), never a success.
        if (req.download != nullptr && resp.content_length >= 0 &&
            req.download->bytes_written() != resp.content_length) {
          throw TransportError(
              18 /* CURLE_PARTIAL_FILE */,
              fmt::format("{} {}: received {} of the {} bytes announced (Content-Length)", req.method,
                          redact_url(req.url), req.download->bytes_written(), resp.content_length));
        }
        return resp;
      }
      // A request that is not safe to repeat is resent only on answers that show the
      // server did not process it (408, 429); MLflow can answer 503 after committing.
      const bool retry =
          idempotent ? is_retryable_status(resp.status) : resp.status == 408 || resp.status == 429;
      if (!retry || attempt >= policy.max_retries || aborted(hooks)) return resp;
      delay = policy.backoff(attempt + 1, jitter_uniform());
      if (policy.respect_retry_after) {
        if (auto ra = parse_retry_after(resp.retry_after, std::chrono::system_clock::now()))
          delay = std::min(*ra, policy.max_retry_after);
      }
      reason = fmt::format("{} {}: HTTP {}", req.method, redact_url(req.url), resp.status);
    } catch (const TransportError& e) {
      const bool retry = is_retryable(e) && (idempotent || !e.request_sent());
      if (!retry || attempt >= policy.max_retries || aborted(hooks)) {
        if (attempt == 0) throw;
        throw TransportError(e.curl_code(), fmt::format("{} (after {} attempts)", e.what(), attempt + 1),
                             e.request_sent());
      }
      delay = policy.backoff(attempt + 1, jitter_uniform());
      reason = e.what();
    }
    if (t_retry_deadline && std::chrono::steady_clock::now() + delay > *t_retry_deadline) {
      throw TransportError(
          42 /* CURLE_ABORTED_BY_CALLBACK */,
          fmt::format("{}; gave up at the caller's deadline after {} attempt(s)", reason, attempt + 1),
          false);
    }
    if (policy.warn_on_retry && (hooks == nullptr || !hooks->quiet_retries)) {
      std::fprintf(stderr, "mlflowpp: %s; retry %d of %d in %.1f s\n", reason.c_str(), attempt + 1,
                   policy.max_retries, static_cast<double>(delay.count()) / 1000.0);
    }
    if (!wait(hooks, delay)) {
      throw TransportError(
          42 /* CURLE_ABORTED_BY_CALLBACK */,
          fmt::format("{} {}: retries abandoned at the caller's deadline", req.method, redact_url(req.url)));
    }
  }
}

std::string RestClient::call(const char* method, std::string_view endpoint, std::string json_body,
                             const CallHooks* hooks) {
  HttpRequest req;
  req.method = method;
  req.url = api_url(endpoint);
  req.headers = common_headers_;
  req.headers.emplace_back("Content-Type: application/json");
  req.headers.emplace_back("Accept: application/json");
  req.body = std::move(json_body);
  std::string url = req.url;
  const bool idempotent = std::string_view(method) != "POST" || is_retry_safe_post(endpoint);
  HttpResponse resp = send_with_retries(std::move(req), hooks, idempotent);
  if (resp.status < 200 || resp.status >= 300) throw_server_error(method, url, resp);
  expect_json_object(method, url, resp);
  return std::move(resp.body);
}

std::string RestClient::get(std::string_view endpoint,
                            const std::vector<std::pair<std::string, std::string>>& query,
                            const CallHooks* hooks) {
  HttpRequest req;
  req.method = "GET";
  req.url = api_url(endpoint);
  char sep = '?';
  for (const auto& [k, v] : query) {
    req.url.push_back(sep);
    req.url += url_encode(k);
    req.url.push_back('=');
    req.url += url_encode(v);
    sep = '&';
  }
  req.headers = common_headers_;
  req.headers.emplace_back("Accept: application/json");
  std::string url = req.url;
  HttpResponse resp = send_with_retries(std::move(req), hooks, true);
  if (resp.status < 200 || resp.status >= 300) throw_server_error("GET", url, resp);
  expect_json_object("GET", url, resp);
  return std::move(resp.body);
}

}  // namespace detail
}  // namespace mlflowpp
