#include "detail/core/validation.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iterator>

#include "detail/core/text.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_valid_utf8(std::string_view s) noexcept { return simdjson::validate_utf8(s.data(), s.size()); }

namespace {

bool allowed_ascii(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '/' ||
         c == '.' || c == '-' || c == ' ' || c == ':';
}

struct CodePointRange {
  char32_t first, last;
};
// Python's \w above ASCII (scripts/gen_word_chars.py): what MLflow's key regex
// ^[/\w.\- :]*$ accepts besides the ASCII set above.
constexpr CodePointRange kWordChars[] = {
#include "detail/core/word_chars.inc"
};

bool is_word_char(char32_t cp) {
  const auto* end = std::end(kWordChars);
  const auto* it = std::upper_bound(std::begin(kWordChars), end, cp,
                                    [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != std::begin(kWordChars) && cp <= (it - 1)->last;
}

/// The code point starting at `s[i]` (valid UTF-8) and its length in bytes.
char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t cp = b0 & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// posixpath.normpath(key) != key, or it is ".", or starts with ".." or "/".
bool path_not_unique(std::string_view key) {
  if (key.empty() || key.front() == '/' || key.back() == '/') return true;
  if (key.substr(0, 2) == "..") return true;
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::optional<std::string> check_key(std::string_view what, std::string_view key) {
  if (key.empty()) return fmt::format("invalid {} key: the key is empty", what);
  if (!is_valid_utf8(key)) return fmt::format("invalid {} key '{}': not valid UTF-8", what, shown(key));
  std::size_t len = utf8_length(key);
  if (len > kMaxEntityKeyLength)
    return fmt::format("invalid {} key '{}': {} characters, the limit is {}", what, shown(key), len,
                       kMaxEntityKeyLength);
  for (std::size_t i = 0, n = 0; i < key.size(); i += n) {
    const char32_t cp = decode_utf8(key, i, n);
    if (cp < 0x80 ? !allowed_ascii(static_cast<unsigned char>(cp)) : !is_word_char(cp))
      return fmt::format(
          "invalid {} key '{}': character '{}' is not allowed (U+{:04X}; keys may contain letters, "
          "digits, '_', '-', '.', ' ', ':' and '/', as MLflow's ^[/\\w.\\- :]*$)",
          what, shown(key), shown(key.substr(i, n)), static_cast<uint32_t>(cp));
  }
  if (path_not_unique(key))
    return fmt::format(
        "invalid {} key '{}': keys are treated as paths and must be normalized (no leading or "
        "trailing '/', no '//', no '.' or '..' segments)",
        what, shown(key));
  return std::nullopt;
}

std::optional<std::string> check_value(std::string_view what, std::string_view key, std::string_view value,
                                       std::size_t max_length) {
  if (!is_valid_utf8(value))
    return fmt::format("invalid {} value for key '{}': not valid UTF-8", what, shown(key));
  std::size_t len = utf8_length(value);
  if (len > max_length)
    return fmt::format("{} value for key '{}' is too long: {} characters, the limit is {}", what, shown(key),
                       len, max_length);
  return std::nullopt;
}

std::optional<std::string> check_timestamp(std::string_view key, int64_t timestamp_ms) {
  if (timestamp_ms < 0)
    return fmt::format(
        "invalid timestamp {} for metric '{}': timestamps are milliseconds since the Unix epoch "
        "and must be >= 0",
        timestamp_ms, shown(key));
  return std::nullopt;
}

bool looks_like_seconds(int64_t timestamp_ms) noexcept {
  return timestamp_ms >= 1000000000LL && timestamp_ms < 100000000000LL;
}

void warn_once_if_seconds(std::string_view key, int64_t timestamp_ms) noexcept {
  static std::atomic<bool> warned{false};
  if (!looks_like_seconds(timestamp_ms) || warned.exchange(true)) return;
  std::fprintf(stderr,
               "mlflowpp: warning: metric '%.*s' has timestamp %lld, which looks like seconds since the "
               "epoch; MLflow timestamps are milliseconds (logged as given; this warning is printed once)\n",
               static_cast<int>(std::min<std::size_t>(key.size(), 80)), key.data(),
               static_cast<long long>(timestamp_ms));
}

void throw_if(const std::optional<std::string>& error) {
  if (error) throw InvalidArgumentError(*error);
}

std::optional<std::string> check_dataset_input(const DatasetInput& input) {
  const Dataset& d = input.dataset;
  if (d.name.empty() || d.digest.empty())
    return std::string("log_inputs: every dataset needs a name and a digest");
  struct Field {
    const char* what;
    const std::string& text;
    std::size_t limit;
  };
  const Field fields[] = {{"name", d.name, kMaxDatasetNameLength},
                          {"digest", d.digest, kMaxDatasetDigestLength},
                          {"source", d.source, kMaxDatasetSourceLength},
                          {"schema", d.schema, kMaxDatasetSchemaLength},
                          {"profile", d.profile, kMaxDatasetProfileLength}};
  for (const Field& f : fields) {
    const std::size_t n = utf8_length(f.text);
    if (n > f.limit)
      return fmt::format("dataset '{}': {} is {} characters, the limit is {}", shown(d.name), f.what, n,
                         f.limit);
  }
  for (const InputTag& t : input.tags) {
    if (t.key.empty()) return fmt::format("dataset '{}': an input tag has an empty key", shown(d.name));
    if (const std::size_t n = utf8_length(t.key); n > kMaxInputTagKeyLength)
      return fmt::format("dataset '{}': input tag key '{}' is {} characters, the limit is {}", shown(d.name),
                         shown(t.key), n, kMaxInputTagKeyLength);
    if (const std::size_t n = utf8_length(t.value); n > kMaxInputTagValueLength)
      return fmt::format("dataset '{}': input tag '{}' has a value of {} characters, the limit is {}",
                         shown(d.name), shown(t.key), n, kMaxInputTagValueLength);
  }
  return std::nullopt;
}

}  // namespace mlflowpp::detail
