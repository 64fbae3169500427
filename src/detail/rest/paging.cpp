// The non-template parts of the "all pages" rule (see paging.hpp): base64, the offset
// token's decoding and re-encoding, and PageWalker's decisions.
#include "detail/rest/paging.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "detail/codec/json_read.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail::paging {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of each base64 character, -1 for the others.
std::array<int8_t, 256> decode_table() {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_json_space(s[i])) ++i;
  return i;
}

// Where the values of the top-level object's keys spelled exactly `"key"` start in `json`
// (valid JSON whose root is an object, as simdjson checked).
std::vector<std::size_t> top_level_values(std::string_view json, std::string_view key) {
  std::vector<std::size_t> found;
  int depth = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      const std::size_t begin = i + 1;
      std::size_t j = begin;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      if (j >= json.size()) return {};
      i = j;
      if (depth != 1) continue;
      // A string directly inside the root object followed by ':' is one of its keys.
      std::size_t k = skip_space(json, j + 1);
      if (k >= json.size() || json[k] != ':') continue;
      if (json.substr(begin, j - begin) == key) found.push_back(skip_space(json, k + 1));
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return found;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  static const std::array<int8_t, 256> table = decode_table();
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    const int8_t v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;  // outside the alphabet, or '=' before the end
    acc = acc << 6 | static_cast<uint32_t>(v);
    if (i % 4 == 3) {
      out += static_cast<char>(acc >> 16 & 0xff);
      out += static_cast<char>(acc >> 8 & 0xff);
      out += static_cast<char>(acc & 0xff);
      acc = 0;
    }
  }
  if (pad == 2) {
    out += static_cast<char>(acc >> 4 & 0xff);
  } else if (pad == 1) {
    out += static_cast<char>(acc >> 10 & 0xff);
    out += static_cast<char>(acc >> 2 & 0xff);
  }
  return out;
}

std::optional<OffsetToken> decode_offset_token(std::string_view token) {
  std::optional<std::string> json = base64_decode(token);
  if (!json) return std::nullopt;
  namespace dom = simdjson::dom;
  dom::element doc;
  if (jsonread::thread_parser().parse(*json).get(doc)) return std::nullopt;
  dom::object obj;
  if (doc.get(obj)) return std::nullopt;
  int count = 0;
  dom::element value;
  for (dom::key_value_pair kv : obj) {
    if (kv.key == "offset") {
      ++count;
      value = kv.value;
    }
  }
  // Python keeps the last of duplicated keys, simdjson's lookup the first: refuse both.
  if (count != 1 || value.type() != dom::element_type::INT64) return std::nullopt;  // UINT64: > 2^63-1
  int64_t offset = 0;
  if (value.get_int64().get(offset) || offset < 0) return std::nullopt;

  // simdjson saw exactly one top-level "offset": find its digits in the text, which must
  // spell it plainly (not "\u006ffset") and hold the integer simdjson read.
  const std::vector<std::size_t> at = top_level_values(*json, "offset");
  if (at.size() != 1) return std::nullopt;
  const std::string digits = std::to_string(offset);
  if (json->compare(at[0], digits.size(), digits) != 0) return std::nullopt;
  const std::size_t end = at[0] + digits.size();
  if (end < json->size() && std::isdigit(static_cast<unsigned char>((*json)[end]))) return std::nullopt;

  OffsetToken t;
  t.json = std::move(*json);
  t.digits_pos = at[0];
  t.digits_len = digits.size();
  t.offset = offset;
  return t;
}

std::string with_offset(const OffsetToken& token, int64_t offset) {
  std::string json = token.json;
  json.replace(token.digits_pos, token.digits_len, std::to_string(offset));
  return base64_encode(json);
}

int64_t overlap_for(int64_t page_size) {
  if (page_size < 2) return 0;
  return std::max<int64_t>(1, std::min<int64_t>(page_size / 4, 100));
}

PageWalker::PageWalker(std::string start_token, int64_t page_size, std::string what)
    : what_(std::move(what)), overlap_(overlap_for(page_size)), request_(std::move(start_token)) {
  if (request_.empty()) {
    start_ = 0;
  } else if (auto t = decode_offset_token(request_)) {
    start_ = t->offset;
  }
}

std::optional<std::string> PageWalker::next_request() const {
  if (done_) return std::nullopt;
  return request_;
}

void PageWalker::request_offset(int64_t offset) {
  start_ = offset;
  // Offset 0 is the first page; MLflow refuses a token {"offset": 0} (paging.hpp).
  request_ = offset == 0 ? std::string() : with_offset(base_, offset);
}

std::vector<std::size_t> PageWalker::take(const std::vector<std::string>& ids,
                                          const std::string& next_page_token) {
  if (done_) return {};
  ++requests_;
  if (checking_ && start_ > 0 && probes_left_ > 0) {
    const bool continuous = std::any_of(
        ids.begin(), ids.end(), [&](const std::string& id) { return !id.empty() && seen_.count(id) > 0; });
    if (!continuous) {
      // Entities were deleted before the window: rewind, doubling the gap (up to the cursor,
      // i.e. offset 0, which is accepted whatever it holds).
      --probes_left_;
      gap_ = gap_ >= cursor_ - gap_ ? cursor_ : gap_ * 2;
      request_offset(cursor_ - gap_);
      return {};
    }
  }
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i].empty() || seen_.insert(ids[i]).second) keep.push_back(i);
  plan_next(next_page_token);
  return keep;
}

void PageWalker::plan_next(const std::string& next_page_token) {
  checking_ = false;
  if (next_page_token.empty()) {
    done_ = true;
    return;
  }
  if (next_page_token == request_)
    throw ParseError(fmt::format(
        "unreadable answer for {}: the server answered page token '{}' with the same next_page_token "
        "(paging would never end)",
        what_, next_page_token));
  std::optional<OffsetToken> token = decode_offset_token(next_page_token);
  // Overlap only when it still moves past the start of the page just accepted (progress).
  if (token && overlap_ > 0 && start_ >= 0 && token->offset - overlap_ > start_) {
    base_ = std::move(*token);
    cursor_ = base_.offset;
    gap_ = overlap_;
    checking_ = true;
    request_offset(cursor_ - gap_);
    return;
  }
  request_ = next_page_token;
  start_ = token ? token->offset : -1;
}

}  // namespace mlflowpp::detail::paging
