#pragma once
// Small helpers shared by the integration tests (see server.hpp for the fixture).
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "integration/server.hpp"

namespace itest {

/// Runs `f` and returns the exception of type E it threw, or std::nullopt when it threw
/// nothing. Exceptions of other types propagate (and fail the test with their message).
template <typename E, typename F>
std::optional<E> thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  return std::nullopt;
}

/// Appends `s` as a JSON string. The tests' own writer, independent of mlflowpp's, for
/// expectations handed to the Python read-back scripts.
inline void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;  // UTF-8 passes through
    }
  }
  out += '"';
}

/// Appends a JSON object of string values.
inline void append_json_map(std::string& out, const std::map<std::string, std::string>& m) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += '}';
}

/// `s` quoted for a POSIX shell command line.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// `s` repeated `n` times.
inline std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

/// The whole content of a file ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Bitwise-exact equality of doubles, except that every NaN equals every NaN.
inline bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

/// The full history of a metric sorted by (step, timestamp, value).
inline std::vector<mlflowpp::Metric> sorted_history(mlflowpp::Client& client, const std::string& run_id,
                                                    const std::string& key) {
  auto h = client.get_metric_history(run_id, key);
  std::sort(h.begin(), h.end(), [](const mlflowpp::Metric& a, const mlflowpp::Metric& b) {
    if (a.step != b.step) return a.step < b.step;
    if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
    return a.value < b.value;
  });
  return h;
}

/// Sets (or unsets, with nullptr) an environment variable for a scope and restores the
/// previous value afterwards.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// Collects the async logger's error reports (the callback runs on the worker thread).
class ErrorCollector {
 public:
  mlflowpp::ErrorCallback callback() {
    return [this](const mlflowpp::LogError& e) {
      std::lock_guard<std::mutex> lk(mu_);
      errors_.push_back(e);
    };
  }
  std::vector<mlflowpp::LogError> errors() const {
    std::lock_guard<std::mutex> lk(mu_);
    return errors_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<mlflowpp::LogError> errors_;
};

/// A fresh client (own connection pool and own AsyncLogger, so its LoggerStats count only
/// what the calling test logs).
inline mlflowpp::Client fresh_client() { return mlflowpp::Client(testing::options()); }

/// A metric point (without the optional dataset/model fields).
inline mlflowpp::Metric metric(const std::string& key, double value, int64_t timestamp, int64_t step) {
  mlflowpp::Metric m;
  m.key = key;
  m.value = value;
  m.timestamp = timestamp;
  m.step = step;
  return m;
}

inline std::vector<std::string> run_ids(const std::vector<mlflowpp::Run>& runs) {
  std::vector<std::string> ids;
  for (const auto& r : runs) ids.push_back(r.info.run_id);
  return ids;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace itest
