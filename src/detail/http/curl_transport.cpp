#include <curl/curl.h>
#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>
#include <vector>

#include "detail/http/http.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/version.hpp"

namespace mlflowpp::detail {

namespace {

std::atomic<uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Registered when the library is loaded, so that every logger, transport and run knows
// whether it is in a forked child, whichever of them exists first (this file defines
// fork_generation(), which they all use, so it is always linked in).
__attribute__((constructor)) void register_fork_handler() { pthread_atfork(nullptr, nullptr, on_fork_child); }

bool contains_icase(std::string_view text, std::string_view word) {
  return std::search(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HeaderSink {
  long status = 0;  ///< from the status line of the latest response
  std::string content_type;
  std::string retry_after;
  int64_t content_length = -1;
  std::string etag;
  std::string content_disposition;
};

/// Where the answer's body goes: `body`, or `sink` for a 2xx answer of a download.
/// Exceptions thrown by the sink (or the user's progress callback) cannot cross libcurl's
/// C frames: they are kept in `error` and rethrown once curl_easy_perform returns.
struct TransferCtx {
  std::string* body = nullptr;
  BodySink* sink = nullptr;
  BodySource* source = nullptr;
  const HeaderSink* headers = nullptr;
  const std::atomic<bool>* abort = nullptr;
  const TransferProgressFn* progress = nullptr;
  bool expect_attachment = false;  ///< HttpRequest::expect_attachment
  int64_t last_done = -1;
  int64_t last_total = -2;
  std::exception_ptr error;
};

// Error bodies are short JSON; a misrouted download must not fill memory with one.
constexpr std::size_t kMaxErrorBody = 1 << 20;

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && contains_icase(text.substr(0, prefix.size()), prefix);
}

size_t write_cb(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* ctx = static_cast<TransferCtx*>(userdata);
  const size_t n = size * nmemb;
  if (ctx->sink != nullptr && ctx->headers->status >= 200 && ctx->headers->status < 300 &&
      !(ctx->expect_attachment &&
        !is_file_download(ctx->headers->content_type, ctx->headers->content_disposition))) {
    try {
      ctx->sink->write(ptr, n);
    } catch (...) {
      ctx->error = std::current_exception();
      return 0;  // CURLE_WRITE_ERROR; the kept exception is what the caller sees
    }
    return n;
  }
  if (ctx->sink == nullptr || ctx->body->size() < kMaxErrorBody) ctx->body->append(ptr, n);
  return n;
}

size_t read_cb(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* ctx = static_cast<TransferCtx*>(userdata);
  try {
    return ctx->source->read(buffer, size * nitems);
  } catch (...) {
    ctx->error = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

// libcurl rewinds the upload on redirects (and some auth exchanges).
int seek_cb(void* userdata, curl_off_t offset, int origin) {
  auto* ctx = static_cast<TransferCtx*>(userdata);
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  try {
    ctx->source->rewind();
  } catch (...) {
    ctx->error = std::current_exception();
    return CURL_SEEKFUNC_FAIL;
  }
  return CURL_SEEKFUNC_OK;
}

bool header_is(const char* line, size_t len, std::string_view name) {
  if (len <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char a = line[i], b = name[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string header_value(const char* line, size_t len, size_t name_len) {
  size_t b = name_len + 1, e = len;
  while (b < e && (line[b] == ' ' || line[b] == '\t')) ++b;
  while (e > b && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ')) --e;
  return std::string(line + b, e - b);
}

size_t header_cb(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* sink = static_cast<HeaderSink*>(userdata);
  size_t len = size * nitems;
  if (len >= 5 && std::string_view(buffer, 5) == "HTTP/") {
    *sink = HeaderSink{};  // a new response (after a redirect or 100-continue)
    // "HTTP/1.1 200 OK", "HTTP/2 200": the status follows the first space.
    size_t i = 5;
    while (i < len && buffer[i] != ' ') ++i;
    while (i < len && buffer[i] == ' ') ++i;
    long status = 0;
    for (; i < len && buffer[i] >= '0' && buffer[i] <= '9'; ++i) status = status * 10 + (buffer[i] - '0');
    sink->status = status;
  } else if (header_is(buffer, len, "content-length")) {
    const std::string v = header_value(buffer, len, 14);
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    sink->content_length = (!v.empty() && end != nullptr && *end == '\0' && n >= 0) ? n : -1;
  } else if (header_is(buffer, len, "etag")) {
    sink->etag = header_value(buffer, len, 4);
  } else if (header_is(buffer, len, "content-type")) {
    sink->content_type = header_value(buffer, len, 12);
  } else if (header_is(buffer, len, "content-disposition")) {
    sink->content_disposition = header_value(buffer, len, 19);
  } else if (header_is(buffer, len, "retry-after")) {
    sink->retry_after = header_value(buffer, len, 11);
  }
  return len;
}

int progress_cb(void* clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t /*ultotal*/,
                curl_off_t ulnow) {
  auto* ctx = static_cast<TransferCtx*>(clientp);
  if (ctx->abort != nullptr && ctx->abort->load(std::memory_order_relaxed)) return 1;
  if (ctx->progress == nullptr || !*ctx->progress) return 0;
  int64_t done = 0, total = -1;
  if (ctx->source != nullptr) {
    done = static_cast<int64_t>(ulnow);
    total = ctx->source->size();
  } else {
    done = static_cast<int64_t>(dlnow);
    // Before the headers arrive the total is unknown; a non-2xx answer is not the file.
    const bool ok = ctx->headers->status >= 200 && ctx->headers->status < 300;
    total = ok ? ctx->headers->content_length : -1;
    if (!ok) done = 0;
    if (total < 0 && dltotal > 0 && ok) total = static_cast<int64_t>(dltotal);
  }
  if (done == ctx->last_done && total == ctx->last_total) return 0;  // nothing new to say
  ctx->last_done = done;
  ctx->last_total = total;
  try {
    (*ctx->progress)(done, total);
  } catch (...) {
    ctx->error = std::current_exception();
    return 1;
  }
  return 0;
}

// Larger than libcurl's defaults (64 KiB up, 16 KiB down): fewer system calls and
// callbacks per byte on multi-GiB artifacts; the memory is fixed, whatever the file size.
constexpr long kUploadBufferSize = 1L << 20;
constexpr long kDownloadBufferSize = 128L << 10;

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(const ClientOptions& o) : opts_(o) {
    global_init_once();
    user_agent_ = fmt::format("mlflowpp/{} {}", version(), curl_version());
  }

  ~CurlTransport() override {
    // In a forked child the handles belong to the parent's connections: leave them.
    if (fork_generation() != generation_) return;
    for (CURL* h : pool_) curl_easy_cleanup(h);
  }

  HttpResponse perform(const HttpRequest& req) override {
    CURL* h = acquire();
    struct Release {
      CurlTransport* self;
      CURL* h;
      ~Release() { self->release(h); }
    } release{this, h};

    HttpResponse resp;
    HeaderSink sink;
    TransferCtx ctx;
    ctx.body = &resp.body;
    ctx.sink = req.download;
    ctx.source = req.upload;
    ctx.headers = &sink;
    ctx.abort = req.abort;
    ctx.progress = req.progress ? &req.progress : nullptr;
    ctx.expect_attachment = req.expect_attachment;
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    for (const auto& line : req.headers) headers = curl_slist_append(headers, line.c_str());
    // curl adds "Expect: 100-continue" to large bodies; MLflow's server does not need it.
    headers = curl_slist_append(headers, "Expect:");
    struct FreeHeaders {
      curl_slist* l;
      ~FreeHeaders() { curl_slist_free_all(l); }
    } free_headers{headers};

    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (req.fresh_connection) curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent_.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
    // Downloads are taken as stored: no transfer compression, so that the Content-Length
    // checked against the file is the file's own size.
    if (req.download == nullptr) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (req.low_speed_time.count() > 0) {
      // Streamed transfers: no total deadline (it would have to scale with the size);
      // abandoned when they stall instead.
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT,
                       static_cast<long>(std::max<int64_t>(1, req.low_speed_limit)));
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.low_speed_time.count()));
    } else {
      auto timeout = req.timeout.count() > 0 ? req.timeout : opts_.request_timeout;
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
    if (opts_.allow_redirects) {
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(h, CURLOPT_MAXREDIRS, 30L);
      // Keep the method and body on 301/302/303, as a REST client expects.
      curl_easy_setopt(h, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
    }
    if (req.abort != nullptr || req.progress) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
    }
    // TLS
    if (opts_.insecure_tls) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!opts_.server_cert_path.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opts_.server_cert_path.c_str());
    if (!opts_.client_cert_path.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, opts_.client_cert_path.c_str());
    if (!opts_.client_key_path.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, opts_.client_key_path.c_str());
    // Auth: Basic wins when both username and password are set (as in the Python client).
    // Presigned URLs of cloud storage get none (send_credentials = false).
    if (!req.send_credentials) {
      // nothing: the URL and its headers carry the authorization
    } else if (!opts_.username.empty() && !opts_.password.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(h, CURLOPT_USERNAME, opts_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, opts_.password.c_str());
    } else if (!opts_.token.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
      curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, opts_.token.c_str());
    }
    // Method and body
    if (req.upload != nullptr) {
      // Streamed from the source with Content-Length (never chunked): libcurl's UPLOAD is
      // a PUT; another method keeps the streamed body through CUSTOMREQUEST.
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      if (req.method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
      curl_easy_setopt(h, CURLOPT_READDATA, &ctx);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &ctx);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.upload->size()));
      curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferSize);
    } else if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }

    if (req.download != nullptr) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kDownloadBufferSize);

    CURLcode rc = curl_easy_perform(h);
    if (ctx.error) std::rethrow_exception(ctx.error);  // from the sink, source or progress callback
    if (rc != CURLE_OK) {
      std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_ABORTED_BY_CALLBACK) detail = "transfer abandoned at the caller's deadline";
      long request_bytes = 0;  // bytes of the request (headers) that went out
      curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_bytes);
      if (is_permanent_tls_failure(static_cast<int>(rc), detail)) {
        throw TransportError(static_cast<int>(rc),
                             fmt::format("{} {}: TLS failure that a retry cannot fix: {} (check the URL's "
                                         "scheme and port, and the CA, client certificate and key settings)",
                                         req.method, redact_url(req.url), detail),
                             request_bytes > 0, /*retryable=*/false);
      }
      throw TransportError(static_cast<int>(rc),
                           fmt::format("{} {}: {}", req.method, redact_url(req.url), detail),
                           request_bytes > 0);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    resp.content_type = std::move(sink.content_type);
    resp.retry_after = std::move(sink.retry_after);
    resp.content_length = sink.content_length;
    resp.etag = std::move(sink.etag);
    resp.content_disposition = std::move(sink.content_disposition);
    return resp;
  }

 private:
  CURL* acquire() {
    // In a forked child the pool (and its mutex, which a parent thread may have held at
    // the fork) belong to the parent: use a fresh handle and never lock.
    if (fork_generation() == generation_) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!pool_.empty()) {
        CURL* h = pool_.back();
        pool_.pop_back();
        curl_easy_reset(h);  // options cleared; the connection cache is kept
        return h;
      }
    }
    CURL* h = curl_easy_init();
    if (h == nullptr) throw TransportError(0, "curl_easy_init failed");
    return h;
  }

  void release(CURL* h) {
    // Drop the pointers into perform()'s stack (error buffer, sinks) before pooling.
    curl_easy_reset(h);
    if (fork_generation() != generation_) {  // a forked child: never touch the pool's mutex
      curl_easy_cleanup(h);
      return;
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (pool_.size() < 16) {
      pool_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  ClientOptions opts_;
  std::string user_agent_;
  std::mutex mu_;
  std::vector<CURL*> pool_;
  const uint64_t generation_ = fork_generation();
};

}  // namespace

bool is_file_download(std::string_view content_type, std::string_view content_disposition) noexcept {
  std::size_t b = content_type.find_first_not_of(" \t");
  if (b != std::string_view::npos) content_type.remove_prefix(b);
  const bool html =
      starts_with_icase(content_type, "text/html") || starts_with_icase(content_type, "application/xhtml");
  return !html || contains_icase(content_disposition, "attachment");
}

bool is_permanent_tls_failure(int curl_code, std::string_view detail) noexcept {
  // CURLE_SSL_CONNECT_ERROR (35) is both "the handshake cannot work" and "the connection
  // broke during the handshake"; only OpenSSL's text tells them apart. A TLS alert after
  // the handshake (TLS 1.3 refuses a client certificate that way) arrives on a read (56).
  if (curl_code != 35 && curl_code != 56) return false;
  static constexpr std::string_view kPermanent[] = {
      "wrong version number",    // https:// to a plain-HTTP port
      "unsupported protocol",    // no TLS version in common
      "alert protocol version",  //
      "no protocols available",  //
      "handshake failure",       // no cipher in common, or a refused client certificate
      "certificate",             // "alert bad certificate", "certificate required", ...
      "unknown ca",              //
      "packet length too long",  // a non-TLS answer read as a record
      "record layer failure",    //
      "http request",            // "http request" alert: plain HTTP to a TLS port
  };
  for (std::string_view w : kPermanent)
    if (contains_icase(detail, w)) return true;
  return false;
}

uint64_t fork_generation() noexcept { return g_fork_generation.load(std::memory_order_relaxed); }

namespace {

class ObservedTransport final : public Transport {
 public:
  ObservedTransport(std::shared_ptr<Transport> inner, std::shared_ptr<Reachability> reach)
      : inner_(std::move(inner)), reach_(std::move(reach)) {}
  HttpResponse perform(const HttpRequest& request) override {
    try {
      HttpResponse r = inner_->perform(request);
      if (!reach_->answered.load(std::memory_order_relaxed)) reach_->answered.store(true);
      return r;
    } catch (const TransportError& e) {
      if (!e.request_sent()) reach_->unreached.fetch_add(1);
      throw;
    }
  }

 private:
  std::shared_ptr<Transport> inner_;
  std::shared_ptr<Reachability> reach_;
};

}  // namespace

std::shared_ptr<Transport> observe_reachability(std::shared_ptr<Transport> inner,
                                                std::shared_ptr<Reachability> reach) {
  return std::make_shared<ObservedTransport>(std::move(inner), std::move(reach));
}

std::shared_ptr<Transport> make_curl_transport(const ClientOptions& options) {
  return std::make_shared<CurlTransport>(options);
}

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto host_start = scheme + 3;
  // The last '@' before any query or fragment: mlflowpp percent-encodes '@' in the paths and
  // queries it builds, so an '@' there can only close a userinfo — even one whose password
  // holds an unencoded '/'.
  auto query = url.find_first_of("?#", host_start);
  auto at = url.rfind('@', query == std::string::npos ? std::string::npos : query);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + "***@" + url.substr(at + 1);
}

}  // namespace mlflowpp::detail
