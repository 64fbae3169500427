#pragma once
// Small scoped helpers shared by the unit and integration tests: an environment variable
// or the working folder changed for a scope, and a loopback port where nothing listens.
// No Catch2 here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace support {

/// Sets (or unsets, with nullptr) an environment variable for a scope; restores it after.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~EnvVar() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// Changes the working folder for a scope.
class Cwd {
 public:
  explicit Cwd(const std::string& dir) : old_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~Cwd() {
    std::error_code ec;
    std::filesystem::current_path(old_, ec);
  }
  Cwd(const Cwd&) = delete;
  Cwd& operator=(const Cwd&) = delete;

 private:
  std::filesystem::path old_;
};

/// Redirects file descriptor 2 into a temporary file until finish() (or destruction).
class StderrCapture {
 public:
  StderrCapture() {
    char path[] = "/tmp/mlflowpp-test-stderr-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp for the stderr capture failed");
    path_ = path;
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { finish(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  /// Restores stderr and returns what was written to it meanwhile.
  std::string finish() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
      std::ifstream in(path_, std::ios::binary);
      text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      std::remove(path_.c_str());
    }
    return text_;
  }

 private:
  std::string path_;
  std::string text_;
  int saved_ = -1;
};

/// A loopback port where nothing listens now (bound to port 0, then closed); 0 on failure.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

}  // namespace support
