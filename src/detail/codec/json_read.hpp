#pragma once
// Tolerant readers over simdjson's DOM, shared by the answer parsers of every area
// (tracking in json.cpp, the registry, artifacts, logged models). Every field is
// optional; int64 may be a number or a string; doubles may be numbers or the strings
// "NaN", "Infinity", "-Infinity". Private: includes simdjson; never installed.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlflowpp/entities.hpp"

namespace mlflowpp::detail::jsonread {

namespace dom = simdjson::dom;

/// This thread's reusable parser (documents it returns are valid until its next parse).
dom::parser& thread_parser();
/// Throws ParseError "unreadable answer for <what>: <detail>".
[[noreturn]] void parse_fail(std::string_view what, std::string_view detail);
/// Parses `body` (must be a JSON object) with thread_parser(); throws ParseError.
dom::object parse_object(const std::string& body, std::string_view what);
bool field(dom::object obj, std::string_view key, dom::element& out);
/// String field ("" when missing; integers are converted to their decimal text).
std::string get_string(dom::object obj, std::string_view key);
int64_t to_int64(dom::element e, int64_t fallback);
int64_t get_int64(dom::object obj, std::string_view key, int64_t fallback = 0);
std::optional<int64_t> get_opt_int64(dom::object obj, std::string_view key);
double get_double(dom::object obj, std::string_view key);
bool get_array(dom::object obj, std::string_view key, dom::array& out);
bool get_object(dom::object obj, std::string_view key, dom::object& out);
/// The object `key` of `obj`, or ParseError naming `what`.
dom::object require_object(dom::object obj, std::string_view key, std::string_view what);
Metric read_metric(dom::object o);

template <typename T, typename F>
std::vector<T> get_list(dom::object obj, std::string_view key, F&& one) {
  std::vector<T> out;
  dom::array arr;
  if (!get_array(obj, key, arr)) return out;  // a default dom::array must not be iterated
  for (dom::element e : arr) {
    dom::object o;
    if (!e.get(o)) out.push_back(one(o));
  }
  return out;
}

template <typename KV>
std::vector<KV> get_kv_list(dom::object obj, std::string_view key) {
  return get_list<KV>(obj, key, [](dom::object o) {
    return KV{get_string(o, "key"), get_string(o, "value")};
  });
}

}  // namespace mlflowpp::detail::jsonread
