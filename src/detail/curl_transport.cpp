#include <curl/curl.h>
#include <fmt/format.h>
#include <pthread.h>

#include <mutex>
#include <vector>

#include "detail/http.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/version.hpp"

namespace mlflowpp::detail {

namespace {

std::atomic<uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_atfork(nullptr, nullptr, on_fork_child);
  });
}

size_t write_cb(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* out = static_cast<std::string*>(userdata);
  out->append(ptr, size * nmemb);
  return size * nmemb;
}

struct HeaderSink {
  std::string content_type;
  std::string retry_after;
};

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
  } else if (header_is(buffer, len, "content-type")) {
    sink->content_type = header_value(buffer, len, 12);
  } else if (header_is(buffer, len, "retry-after")) {
    sink->retry_after = header_value(buffer, len, 11);
  }
  return len;
}

int progress_cb(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* abort = static_cast<const std::atomic<bool>*>(clientp);
  return (abort != nullptr && abort->load(std::memory_order_relaxed)) ? 1 : 0;
}

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
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent_.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    auto timeout = req.timeout.count() > 0 ? req.timeout : opts_.request_timeout;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
    if (opts_.allow_redirects) {
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(h, CURLOPT_MAXREDIRS, 30L);
      // Keep the method and body on 301/302/303, as a REST client expects.
      curl_easy_setopt(h, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
    }
    if (req.abort != nullptr) {
      curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
      curl_easy_setopt(h, CURLOPT_XFERINFODATA, req.abort);
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
    if (!opts_.username.empty() && !opts_.password.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(h, CURLOPT_USERNAME, opts_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, opts_.password.c_str());
    } else if (!opts_.token.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
      curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, opts_.token.c_str());
    }
    // Method and body
    if (req.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }

    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_ABORTED_BY_CALLBACK) detail = "transfer abandoned at the caller's deadline";
      throw TransportError(static_cast<int>(rc),
                           fmt::format("{} {}: {}", req.method, redact_url(req.url), detail));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    resp.content_type = std::move(sink.content_type);
    resp.retry_after = std::move(sink.retry_after);
    return resp;
  }

 private:
  CURL* acquire() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (fork_generation() != generation_) {
        pool_.clear();  // the parent's handles: abandon, never clean up or reuse
        generation_ = fork_generation();
      }
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
  uint64_t generation_ = fork_generation();
};

}  // namespace

uint64_t fork_generation() noexcept { return g_fork_generation.load(std::memory_order_relaxed); }

std::shared_ptr<Transport> make_curl_transport(const ClientOptions& options) {
  return std::make_shared<CurlTransport>(options);
}

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto host_start = scheme + 3;
  auto path = url.find('/', host_start);
  auto at = url.rfind('@', path == std::string::npos ? url.size() : path);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + "***@" + url.substr(at + 1);
}

}  // namespace mlflowpp::detail
