// The libcurl transport's streaming against a tiny scripted HTTP server on loopback (no
// MLflow needed): what goes on the wire for a streamed PUT (Content-Length, never chunked),
// downloads cut short (retried; never a partial file), and stalls abandoned by the
// low-speed rule instead of a total timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kRunId = "00112233445566778899aabbccddeeff";

/// One HTTP/1.1 request as the tiny server saw it.
struct SeenRequest {
  std::string method;
  std::string target;
  std::vector<std::string> headers;  ///< "name: value", names in lower case
  std::string body;                  ///< read by the handler (read_body), if it did
  std::string header(const std::string& name) const {
    for (const auto& h : headers)
      if (h.compare(0, name.size() + 1, name + ":") == 0) {
        auto v = h.substr(name.size() + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
      }
    return {};
  }
  bool has_header(const std::string& name) const {
    for (const auto& h : headers)
      if (h.compare(0, name.size() + 1, name + ":") == 0) return true;
    return false;
  }
};

/// A loopback HTTP server whose handler writes raw answers: enough HTTP/1.1 to script what
/// a real server would not do on demand (cut a body short, stall).
class TinyServer {
 public:
  /// Answers one request by writing to `fd`; `pending` holds the bytes already read past
  /// the request's head (the start of its body, see read_body). Returns false to close the
  /// connection after the answer.
  using Handler = std::function<bool(int fd, SeenRequest& req, std::string& pending)>;

  explicit TinyServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
    for (auto& t : connections_) t.join();
  }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The requests answered so far, once there are at least `n` (a server thread records a
  /// request after answering it, so the client may see the answer first), or after 10 s.
  std::vector<SeenRequest> requests(std::size_t n) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(10), [&] { return seen_.size() >= n; });
    return seen_;
  }

  static void write_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return;
      off += static_cast<std::size_t>(w);
    }
  }
  /// Reads the request body announced by Content-Length into req.body.
  static void read_body(int fd, SeenRequest& req, std::string& pending) {
    const std::size_t n = static_cast<std::size_t>(
        std::stoull(req.header("content-length").empty() ? std::string("0") : req.header("content-length")));
    req.body = pending.substr(0, n);
    pending.erase(0, std::min(n, pending.size()));
    char buf[65536];
    while (req.body.size() < n) {
      const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - req.body.size()), 0);
      if (r <= 0) return;
      req.body.append(buf, static_cast<std::size_t>(r));
    }
  }
  static void answer(int fd, int status, const std::string& body, const std::string& extra_headers = "") {
    write_all(fd, "HTTP/1.1 " + std::to_string(status) +
                      " X\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nContent-Type: application/json\r\n" + extra_headers + "\r\n" + body);
  }

 private:
  void serve() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      connections_.emplace_back([this, fd] { connection(fd); });
    }
  }
  void connection(int fd) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
        if (r <= 0) {
          ::close(fd);
          return;
        }
        buf.append(chunk, static_cast<std::size_t>(r));
      }
      SeenRequest req;
      std::istringstream head(buf.substr(0, end));
      std::string line;
      std::getline(head, line);
      std::istringstream first(line);
      first >> req.method >> req.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.push_back(name + line.substr(colon));
      }
      std::string pending = buf.substr(end + 4);
      // The handler reads the body itself (or not: a stalled server).
      const bool keep = handler_(fd, req, pending);
      {
        std::lock_guard<std::mutex> lk(mu_);
        seen_.push_back(req);
      }
      cv_.notify_all();
      if (!keep) {
        ::close(fd);
        return;
      }
      buf = pending;
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> connections_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SeenRequest> seen_;
};

std::string run_json(const std::string& artifact_uri) {
  return std::string(R"({"run":{"info":{"run_id":")") + kRunId + R"(","artifact_uri":")" + artifact_uri +
         R"(","status":"RUNNING"}}})";
}

bool is_get_run(const SeenRequest& r) { return r.target.rfind("/api/2.0/mlflow/runs/get?", 0) == 0; }

std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

mlflowpp::ClientOptions tiny_options(const std::string& uri, int retries) {
  mlflowpp::ClientOptions o;
  o.tracking_uri = uri;
  o.retry.max_retries = retries;
  o.retry.backoff_factor = 0.01;
  o.retry.backoff_jitter = 0;
  o.logger.report_errors_to_stderr = false;
  return o;
}

}  // namespace

TEST_CASE("transport: a streamed PUT carries Content-Length, never chunked encoding",
          "[integration][artifacts][transport][rest]") {
  support::TempDir tmp("itest-transport");
  const std::string data = random_bytes((1 << 20) + 3, 11);
  { std::ofstream(tmp.path() / "f.bin", std::ios::binary) << data; }
  TinyServer server([&](int fd, SeenRequest& req, std::string& pending) {
    if (is_get_run(req)) {
      TinyServer::answer(fd, 200, run_json("mlflow-artifacts:/1/r/artifacts"));
      return true;
    }
    TinyServer::read_body(fd, req, pending);
    TinyServer::answer(fd, 200, "");
    return true;
  });
  mlflowpp::Client client(tiny_options(server.uri(), 0));
  client.log_artifact(kRunId, (tmp.path() / "f.bin").string(), "d", mlflowpp::ArtifactOptions{});

  const auto reqs = server.requests(2);
  REQUIRE(reqs.size() == 2);
  const auto& put = reqs[1];
  CHECK(put.method == "PUT");
  CHECK(put.target == "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/d/f.bin");
  CHECK(put.header("content-length") == std::to_string(data.size()));
  CHECK_FALSE(put.has_header("transfer-encoding"));
  CHECK_FALSE(put.has_header("expect"));
  CHECK(put.body == data);
}

TEST_CASE("transport: a download cut short is retried, and when it keeps failing no file is left",
          "[integration][artifacts][transport][rest]") {
  support::TempDir tmp("itest-transport");
  const std::string data = random_bytes(200000, 12);
  std::atomic<int> gets{0};
  int short_answers = 2;
  TinyServer server([&](int fd, SeenRequest& req, std::string&) {
    if (is_get_run(req)) {
      TinyServer::answer(fd, 200, run_json("mlflow-artifacts:/1/r/artifacts"));
      return true;
    }
    if (req.target.find("?path=") != std::string::npos) {  // listing: a file lists nothing
      TinyServer::answer(fd, 200, "{}");
      return true;
    }
    const int n = ++gets;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                             std::to_string(data.size()) + "\r\n\r\n";
    if (n <= short_answers) {
      TinyServer::write_all(fd, head + data.substr(0, data.size() / 3));
      return false;  // the connection drops mid-body
    }
    TinyServer::write_all(fd, head + data);
    return true;
  });

  SECTION("recovers") {
    mlflowpp::Client client(tiny_options(server.uri(), 3));
    const auto local =
        client.download_artifacts(kRunId, "f.bin", tmp.path().string(), mlflowpp::ArtifactOptions{});
    CHECK(gets == 3);
    std::ifstream in(local, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK(ss.str() == data);
  }
  SECTION("gives up") {
    short_answers = 1000;
    mlflowpp::Client client(tiny_options(server.uri(), 1));
    try {
      client.download_artifacts(kRunId, "f.bin", tmp.path().string(), mlflowpp::ArtifactOptions{});
      FAIL("no exception");
    } catch (const mlflowpp::TransportError& e) {
      CHECK(e.curl_code() == 18);  // CURLE_PARTIAL_FILE
    }
    CHECK(gets == 2);
  }
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename() != "f.bin") left.push_back(e.path().filename().string());
  CHECK(left.empty());  // no temporary file
}

TEST_CASE("transport: a stalled transfer is abandoned by the low-speed rule, not a total timeout",
          "[integration][artifacts][transport][rest]") {
  support::TempDir tmp("itest-transport");
  std::atomic<bool> done{false};
  TinyServer server([&](int fd, SeenRequest& req, std::string&) {
    if (is_get_run(req)) {
      TinyServer::answer(fd, 200, run_json("mlflow-artifacts:/1/r/artifacts"));
      return true;
    }
    if (req.target.find("?path=") != std::string::npos) {
      TinyServer::answer(fd, 200, "{}");
      return true;
    }
    if (req.method == "GET") {
      // Headers and a few bytes, then silence.
      TinyServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc");
    }
    // PUT: never read the body and never answer.
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return false;
  });
  // Releases the stalled handlers before the server joins them, whatever happens below.
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag = true; }
  } release{done};
  auto o = tiny_options(server.uri(), 0);
  o.request_timeout = std::chrono::seconds(1);  // not used for transfers: they may take longer
  mlflowpp::Client client(o);
  mlflowpp::ArtifactOptions ao;
  ao.low_speed_limit = 1 << 20;
  ao.low_speed_time = std::chrono::seconds(2);

  const auto t0 = std::chrono::steady_clock::now();
  try {
    client.download_artifacts(kRunId, "f.bin", tmp.path().string(), ao);
    FAIL("no exception");
  } catch (const mlflowpp::TransportError& e) {
    CHECK(e.curl_code() == 28);  // CURLE_OPERATION_TIMEDOUT
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(elapsed >= std::chrono::milliseconds(1500));
  CHECK(elapsed < std::chrono::seconds(20));
  CHECK_FALSE(fs::exists(tmp.path() / "f.bin"));

  // An upload the server stops reading: the socket buffers fill, then the rule applies.
  const std::string big = random_bytes(48 << 20, 13);
  { std::ofstream(tmp.path() / "big.bin", std::ios::binary) << big; }
  try {
    client.log_artifact(kRunId, (tmp.path() / "big.bin").string(), "", ao);
    FAIL("no exception");
  } catch (const mlflowpp::TransportError& e) {
    CHECK(e.curl_code() == 28);
  }
}
