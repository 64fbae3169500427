#include "detail/core/text.hpp"

#include <fmt/format.h>

#include <cstddef>

namespace mlflowpp::detail {

namespace {

/// The largest n <= max such that s[0, n) does not end inside a UTF-8 character.
std::size_t utf8_cut(std::string_view s, std::size_t max) noexcept {
  if (max >= s.size()) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

std::string shown(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  return fmt::format("{}...", s.substr(0, utf8_cut(s, 77)));
}

std::string shown_path(std::string_view path) {
  std::string out;
  for (char c : path.substr(0, utf8_cut(path, 200))) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out.push_back(c);
    }
  }
  if (path.size() > 200) out += "...";
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace mlflowpp::detail
