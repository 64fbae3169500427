#pragma once
// Small string helpers shared by several rooms: how keys, names and paths appear in
// messages, and ASCII-only prefix, suffix and case helpers. Private.

#include <string>
#include <string_view>

namespace mlflowpp::detail {

/// A key, name or URI as messages show it: itself when at most 80 bytes, else its first
/// 77 bytes (fewer, so as not to cut a multi-byte UTF-8 character in two) and "...". A
/// huge key does not flood a log, and the message stays UTF-8.
std::string shown(std::string_view s);

/// A path as messages show it: control characters (0x00-0x1f, 0x7f) as \xNN, at most its
/// first 200 bytes (not cutting a UTF-8 character) and then "...".
std::string shown_path(std::string_view path);

bool starts_with(std::string_view s, std::string_view prefix) noexcept;
bool ends_with(std::string_view s, std::string_view suffix) noexcept;

/// `s` with ASCII letters in lower case (other bytes, UTF-8 included, unchanged).
std::string ascii_lower(std::string_view s);

/// Percent-decodes `%XX` escapes (invalid escapes are kept as they are), as URL parsers
/// (and SQLAlchemy for a `sqlite:///` path) do.
std::string percent_decode(std::string_view s);

}  // namespace mlflowpp::detail
