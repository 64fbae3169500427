#include "detail/local/local_query.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "detail/codec/json_read.hpp"
#include "detail/local/database.hpp"

namespace mlflowpp::detail::local {

void Query::bind_to(sql::Stmt& st) const {
  int i = 1;
  for (const auto& b : binds) {
    if (b.kind == Bind::Kind::kText)
      st.bind(i, b.text);
    else if (b.kind == Bind::Kind::kInt)
      st.bind(i, b.integer);
    else
      st.bind(i, b.real);
    ++i;
  }
}

std::unique_ptr<sql::Stmt> Query::prepare(sql::Connection& c) const {
  auto st = c.prepare(sql);
  bind_to(*st);
  return st;
}

void append_comparison(Query& q, std::string_view column, const FilterClause& clause, bool as_number) {
  auto bind_value = [&](const std::string& v) {
    if (!as_number) {
      q.bind(v);
      return;
    }
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size())
      throw_invalid(fmt::format("Invalid value for numeric key '{}': '{}'", clause.key, v));
    q.bind(d);
  };
  const std::string& op = clause.comparator;
  if (op == "IS NULL" || op == "IS NOT NULL")
    throw_invalid(fmt::format("Invalid comparator '{}' for '{}'", op, clause.key));
  if (op == "IN" || op == "NOT IN") {
    q.add(column).add(op == "IN" ? " IN (" : " NOT IN (");
    for (std::size_t i = 0; i < clause.value.list.size(); ++i) {
      q.add(i ? ", ?" : "?");
      bind_value(clause.value.list[i]);
    }
    q.add(")");
    return;
  }
  if (op == "ILIKE") {
    q.add("lower(").add(column).add(") LIKE lower(?)");
  } else {
    q.add(column).add(" ").add(op).add(" ?");
  }
  bind_value(clause.value.text);
}

// ---- page tokens

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out.push_back(kB64[(n >> 18) & 63]);
    out.push_back(kB64[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kB64[n & 63] : '=');
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::string make_page_token(int64_t offset) { return base64(fmt::format("{{\"offset\": {}}}", offset)); }

int64_t parse_page_token(std::string_view token) {
  if (token.empty()) return 0;
  const auto decoded = unbase64(token);
  if (!decoded) throw_invalid("Invalid page token, could not base64-decode");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser.parse(*decoded).get(doc) || doc.get(obj))
    throw_invalid(fmt::format("Invalid page token, decoded value={}", *decoded));
  const auto offset = jsonread::get_opt_int64(obj, "offset");
  if (!offset || *offset <= 0) throw_invalid(fmt::format("Invalid page token, parsed value={}", *decoded));
  return *offset;
}

void append_tag_exists(Query& q, std::string_view tag_table, std::string_view join, const FilterClause& f) {
  if (f.comparator != "=" && f.comparator != "!=" && f.comparator != "LIKE" && f.comparator != "ILIKE")
    throw_invalid(fmt::format("Invalid comparator for tag: {}", f.comparator));
  q.add(" AND EXISTS (SELECT 1 FROM ").add(tag_table).add(" t WHERE ").add(join).add(" AND t.\"key\" = ?");
  q.bind(f.key);
  q.add(" AND ");
  append_comparison(q, "t.value", f, false);
  q.add(")");
}

void append_not_prompt(Query& q, std::string_view tag_table, std::string_view join) {
  q.add(" AND NOT EXISTS (SELECT 1 FROM ")
      .add(tag_table)
      .add(" t WHERE ")
      .add(join)
      .add(" AND t.\"key\" = 'mlflow.prompt.is_prompt' AND t.value = 'true')");
}

}  // namespace mlflowpp::detail::local
