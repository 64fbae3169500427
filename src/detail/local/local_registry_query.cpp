#include "detail/local/local_registry_query.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

#include "detail/local/database.hpp"

namespace mlflowpp::detail::local_registry {

namespace {

bool is_ident_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '.' || ch == '-';
}

/// A tokenizer over a filter string; every token remembers where it started (for messages).
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])) != 0) ++pos_;
  }
  bool done() {
    skip_space();
    return pos_ >= s_.size();
  }
  std::size_t pos() const { return pos_; }
  char peek() {
    skip_space();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  /// The rest of the filter from `at`, shortened, for messages.
  std::string near(std::size_t at) const {
    std::string rest(s_.substr(at, 40));
    return at + 40 < s_.size() ? rest + "..." : rest;
  }
  [[noreturn]] void fail(std::size_t at, std::string_view what) const {
    throw_invalid(
        fmt::format("Invalid filter '{}': {} at '{}' (the local store supports clauses "
                    "`<key> <comparator> <value>` joined by AND)",
                    s_, what, near(at)));
  }

  /// A quoted string ('...' or "...", a doubled quote is a quote); `quote` is the delimiter.
  std::string quoted(char quote) {
    const std::size_t at = pos_;
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail(at, "unterminated quoted string");
      const char ch = s_[pos_++];
      if (ch == quote) {
        if (pos_ < s_.size() && s_[pos_] == quote) {
          out.push_back(quote);
          ++pos_;
          continue;
        }
        return out;
      }
      if (ch == '\\' && pos_ < s_.size() && s_[pos_] == quote) {
        out.push_back(quote);
        ++pos_;
        continue;
      }
      out.push_back(ch);
    }
  }
  /// A bare word (identifier, keyword or number).
  std::string word() {
    skip_space();
    const std::size_t at = pos_;
    while (pos_ < s_.size() && is_ident_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(at, pos_ - at));
  }
  /// A comparator made of symbols (= != <> < <= > >=), or "".
  std::string symbol_op() {
    skip_space();
    const std::size_t at = pos_;
    while (pos_ < s_.size() && (s_[pos_] == '=' || s_[pos_] == '!' || s_[pos_] == '<' || s_[pos_] == '>'))
      ++pos_;
    return std::string(s_.substr(at, pos_ - at));
  }
  void advance() { ++pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool is_number(std::string_view w) {
  if (w.empty()) return false;
  char* end = nullptr;
  const std::string s(w);
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

/// The identifier of a clause: entity prefix and key.
void read_identifier(Lexer& lx, FilterClause& c) {
  const std::size_t at = lx.pos();
  std::string head;
  if (lx.peek() == '`') {
    head = lx.quoted('`');
    c.entity = FilterClause::Entity::kAttribute;
    c.key = head;
    return;
  }
  head = lx.word();
  if (head.empty()) lx.fail(at, "expected a key");
  const auto dot = head.find('.');
  std::string prefix = dot == std::string::npos ? std::string() : lower(head.substr(0, dot));
  std::string key = dot == std::string::npos ? head : head.substr(dot + 1);
  if (dot == std::string::npos) {
    c.entity = FilterClause::Entity::kAttribute;
  } else if (prefix == "tags" || prefix == "tag") {
    c.entity = FilterClause::Entity::kTag;
  } else if (prefix == "params" || prefix == "param" || prefix == "parameters" || prefix == "parameter") {
    c.entity = FilterClause::Entity::kParam;
  } else if (prefix == "metrics" || prefix == "metric") {
    c.entity = FilterClause::Entity::kMetric;
  } else if (prefix == "attributes" || prefix == "attribute" || prefix == "attr") {
    c.entity = FilterClause::Entity::kAttribute;
  } else {
    lx.fail(at,
            fmt::format("unknown entity type '{}' (expected attributes, tags, params or metrics)", prefix));
  }
  // A quoted key right after the dot: tags.`my key` or tags."my key".
  if (key.empty()) {
    const char q = lx.peek();
    if (q != '`' && q != '"') lx.fail(at, "expected a key after the entity type");
    key = lx.quoted(q);
  }
  c.key = key;
}

std::string read_value(Lexer& lx, bool& numeric) {
  const std::size_t at = lx.pos();
  const char q = lx.peek();
  if (q == '\'' || q == '"') {
    numeric = false;
    return lx.quoted(q);
  }
  std::string w = lx.word();
  if (!is_number(w)) lx.fail(at, "expected a quoted string or a number");
  numeric = true;
  return w;
}

}  // namespace

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::vector<FilterClause> parse_filter(std::string_view filter) {
  std::vector<FilterClause> out;
  Lexer lx(filter);
  if (lx.done()) return out;
  for (;;) {
    FilterClause c;
    if (lx.peek() == '(') lx.fail(lx.pos(), "parenthesized clauses are not supported");
    read_identifier(lx, c);
    const std::size_t op_at = lx.pos();
    std::string op = lx.symbol_op();
    if (op.empty()) {
      op = upper(lx.word());
      if (op == "NOT") {
        if (upper(lx.word()) != "IN") lx.fail(op_at, "unsupported comparator");
        op = "NOT IN";
      } else if (op != "LIKE" && op != "ILIKE" && op != "IN") {
        lx.fail(op_at, "unsupported comparator");
      }
    } else if (op == "<>") {
      op = "!=";
    } else if (op != "=" && op != "!=" && op != "<" && op != "<=" && op != ">" && op != ">=") {
      lx.fail(op_at, "unsupported comparator");
    }
    c.op = op;
    if (op == "IN" || op == "NOT IN") {
      if (lx.peek() != '(') lx.fail(lx.pos(), "expected a parenthesized list after IN");
      lx.advance();
      for (;;) {
        bool numeric = false;
        c.values.push_back(read_value(lx, numeric));
        const char ch = lx.peek();
        lx.advance();
        if (ch == ')') break;
        if (ch != ',') lx.fail(lx.pos() - 1, "expected ',' or ')' in the IN list");
      }
    } else {
      bool numeric = false;
      c.values.push_back(read_value(lx, numeric));
      c.numeric = numeric;
    }
    out.push_back(std::move(c));
    if (lx.done()) break;
    const std::size_t and_at = lx.pos();
    const std::string conj = upper(lx.word());
    if (conj != "AND") lx.fail(and_at, conj == "OR" ? "OR is not supported" : "expected AND");
  }
  return out;
}

std::unique_ptr<sql::Stmt> Query::prepare(sql::Connection& c) const {
  auto st = c.prepare(sql);
  int i = 1;
  for (const auto& b : binds) {
    if (b.kind == Bind::Kind::kText)
      st->bind(i, b.text);
    else if (b.kind == Bind::Kind::kInt)
      st->bind(i, b.integer);
    else
      st->bind(i, b.real);
    ++i;
  }
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
  const std::string& op = clause.op;
  if (op == "IN" || op == "NOT IN") {
    q.add(column).add(op == "IN" ? " IN (" : " NOT IN (");
    for (std::size_t i = 0; i < clause.values.size(); ++i) {
      q.add(i ? ", ?" : "?");
      bind_value(clause.values[i]);
    }
    q.add(")");
    return;
  }
  if (op == "ILIKE") {
    q.add("lower(").add(column).add(") LIKE lower(?)");
  } else {
    q.add(column).add(" ").add(op).add(" ?");
  }
  bind_value(clause.values.front());
}

OrderBy parse_order_by(std::string_view clause) {
  std::string s(clause);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
  OrderBy ob;
  std::string rest;
  if (i < s.size() && s[i] == '`') {
    const auto close = s.find('`', i + 1);
    if (close == std::string::npos) throw_invalid(fmt::format("Invalid order_by clause '{}'", clause));
    ob.key = s.substr(i + 1, close - i - 1);
    rest = s.substr(close + 1);
  } else {
    const auto sp = s.find_first_of(" \t", i);
    ob.key = s.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
    rest = sp == std::string::npos ? std::string() : s.substr(sp);
  }
  const std::string dir = upper([&] {
    std::size_t a = rest.find_first_not_of(" \t");
    return a == std::string::npos ? std::string() : rest.substr(a);
  }());
  if (ob.key.empty()) throw_invalid(fmt::format("Invalid order_by clause '{}'", clause));
  if (dir.empty() || dir == "ASC")
    ob.ascending = true;
  else if (dir == "DESC")
    ob.ascending = false;
  else
    throw_invalid(fmt::format("Invalid order_by clause '{}': expected ASC or DESC after the key", clause));
  return ob;
}

// ---- page tokens

namespace {

constexpr const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                   static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], kB64[n & 63]};
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const auto n = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8);
    out += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], '='};
  }
  return out;
}

bool b64decode(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    if (ch == '=') break;
    const char* p = std::char_traits<char>::find(kB64, 64, ch);
    if (p == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace

std::string make_page_token(int64_t offset) { return b64encode(fmt::format("{{\"offset\": {}}}", offset)); }

int64_t parse_page_token(std::string_view token) {
  if (token.empty()) return 0;
  std::string json;
  if (!b64decode(token, json)) throw_invalid("Invalid page token, could not base64-decode");
  const auto key = json.find("\"offset\"");
  const auto colon = key == std::string::npos ? key : json.find(':', key);
  if (colon == std::string::npos) throw_invalid(fmt::format("Invalid page token, decoded value={}", json));
  std::size_t i = colon + 1;
  while (i < json.size() && json[i] == ' ') ++i;
  std::size_t j = i;
  while (j < json.size() && std::isdigit(static_cast<unsigned char>(json[j])) != 0) ++j;
  if (j == i || j - i > 18) throw_invalid(fmt::format("Invalid page token, parsed value={}", json));
  return std::stoll(json.substr(i, j - i));
}

}  // namespace mlflowpp::detail::local_registry
