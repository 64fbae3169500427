#pragma once
// fault_proxy.py in front of the test server, driven from C++ (RAII): a reverse proxy that
// answers 503/429, resets connections, stalls or dribbles answers, or answers like a stub
// server (any status, Content-Type and body: a gateway's login page), for the fault tests
// and the "only MLflow's answer counts" tests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/python.hpp"

namespace itest {

/// MLFLOWPP_PYTHON, or "" after a WARN (or a FAIL when the server is required).
inline std::string python_or_skip() { return support::python_or_skip("the fault proxy is a Python script"); }

/// One HTTP/1.1 exchange on a fresh connection to 127.0.0.1:port ("Connection: close").
/// Returns the answer's body; throws on a transport failure or a non-200 status.
inline std::string http_exchange(int port, const std::string& method, const std::string& target,
                                 const std::string& body = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{30, 0};  // the stats call may wait (wait_idle) up to its own bound
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot connect to the fault proxy");
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body;
  for (std::size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send to the fault proxy failed");
    off += static_cast<std::size_t>(n);
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) throw std::runtime_error("recv from the fault proxy failed");
    if (n == 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  auto eoh = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.1 200", 0) != 0 || eoh == std::string::npos)
    throw std::runtime_error("fault proxy answered: " + resp.substr(0, 300));
  return resp.substr(eoh + 4);
}

/// The number after `"key": ` inside the JSON object that follows `"object": {`.
inline uint64_t json_count(const std::string& json, const std::string& object, const std::string& key) {
  auto start = json.find("\"" + object + "\": {");
  if (start == std::string::npos) return 0;
  auto end = json.find('}', start);
  const std::string obj = json.substr(start, end - start);
  std::smatch m;
  if (std::regex_search(
          obj, m,
          std::regex("\"" + std::regex_replace(key, std::regex("[.^$|()\\[\\]*+?\\\\]"), "\\$&") +
                     "\": ([0-9]+)")))
    return std::stoull(m[1].str());
  return 0;
}

/// fault_proxy.py in front of the test server, for the lifetime of the object (RAII).
class FaultProxy {
 public:
  FaultProxy(const std::string& python, const std::string& upstream) {
    const std::string script = std::string(MLFLOWPP_SOURCE_DIR) + "/tests/integration/fault_proxy.py";
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const char* argv[] = {python.c_str(),  script.c_str(), "--upstream", upstream.c_str(),
                            "--max-seconds", "120",          nullptr};
      ::execv(python.c_str(), const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    // Wait (bounded) for "PORT <n>".
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char c;
      if (::read(out_, &c, 1) != 1) break;
      line.push_back(c);
    }
    if (line.rfind("PORT ", 0) != 0) {
      stop();
      throw std::runtime_error("fault_proxy.py did not print its port (got '" + line + "')");
    }
    port_ = std::stoi(line.substr(5));
  }
  ~FaultProxy() { stop(); }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }

  /// Replaces the fault plan (JSON, see fault_proxy.py).
  void set_plan(const std::string& json) { http_exchange(port_, "POST", "/__fault__", json); }

  /// The proxy's counters; with wait_idle_s > 0, once no forward is in flight (bounded).
  std::string stats(int wait_idle_s = 0) {
    return http_exchange(
        port_, "GET",
        "/__fault__/stats" + (wait_idle_s > 0 ? "?wait_idle=" + std::to_string(wait_idle_s) : ""));
  }

 private:
  void stop() noexcept {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      // The proxy exits within about half a second of SIGTERM; SIGKILL it after 5 s.
      int status = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      pid_ = -1;
    }
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
};

}  // namespace itest
