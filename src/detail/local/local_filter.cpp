#include "detail/local/local_filter.hpp"

#include <fmt/format.h>

#include <cctype>

#include "detail/local/database.hpp"
#include "detail/local/local_common.hpp"

namespace mlflowpp::detail::local {

namespace {

enum class Tok { kIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  ///< raw text (quotes included for strings and quoted identifiers)
  std::size_t pos = 0;
};

bool is_quoted(const std::string& s, char q) { return s.size() >= 2 && s.front() == q && s.back() == q; }

std::string strip_quotes(const std::string& s) {
  if (is_quoted(s, '\'') || is_quoted(s, '"') || is_quoted(s, '`')) return s.substr(1, s.size() - 2);
  return s;
}

[[noreturn]] void refuse(const std::string& filter, const std::string& what) {
  throw_invalid(fmt::format("Invalid filter string '{}': {}", filter, what));
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ >= s_.size()) break;
      out.push_back(next());
    }
    out.push_back({Tok::kEnd, "", s_.size()});
    return out;
  }

 private:
  /// A quoted segment starting at i_ (', " or `), quotes kept; backslash escapes and doubled
  /// quotes stay inside (MLflow only trims the ends).
  std::string quoted() {
    const char q = s_[i_];
    std::size_t j = i_ + 1;
    for (; j < s_.size(); ++j) {
      if (s_[j] == '\\' && q != '`') {
        ++j;
        continue;
      }
      if (s_[j] == q) {
        if (j + 1 < s_.size() && s_[j + 1] == q && q == '\'') {
          ++j;
          continue;
        }
        break;
      }
    }
    if (j >= s_.size()) refuse(s_, fmt::format("unterminated quote at position {}", i_));
    std::string out = s_.substr(i_, j + 1 - i_);
    i_ = j + 1;
    return out;
  }

  static bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

  Token next() {
    const std::size_t start = i_;
    const char c = s_[i_];
    if (c == '(') return ++i_, Token{Tok::kLParen, "(", start};
    if (c == ')') return ++i_, Token{Tok::kRParen, ")", start};
    if (c == ',') return ++i_, Token{Tok::kComma, ",", start};
    if (c == '=' || c == '<' || c == '>' || c == '!') {
      std::string op(1, c);
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '=' || (c == '<' && s_[i_] == '>'))) op.push_back(s_[i_++]);
      if (op == "!") refuse(s_, fmt::format("unexpected '!' at position {}", start));
      if (op == "==") op = "=";
      return {Tok::kOp, op, start};
    }
    const bool sign = (c == '-' || c == '+') && i_ + 1 < s_.size() &&
                      (std::isdigit(static_cast<unsigned char>(s_[i_ + 1])) || s_[i_ + 1] == '.');
    if (sign || std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      std::size_t j = i_ + (sign ? 1 : 0);
      while (j < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[j])) || s_[j] == '.')) ++j;
      if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        if (k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k]))) {
          j = k;
          while (j < s_.size() && std::isdigit(static_cast<unsigned char>(s_[j]))) ++j;
        }
      }
      std::string num = s_.substr(i_, j - i_);
      i_ = j;
      return {Tok::kNumber, num, start};
    }
    if (c == '\'' || c == '"' || c == '`' || word_char(c)) {
      // An identifier: segments (words or quoted) joined by '.', or a lone quoted string.
      std::string text;
      bool lone_string = c == '\'' || c == '"';
      for (;;) {
        if (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"' || s_[i_] == '`')) {
          text += quoted();
        } else if (i_ < s_.size() && word_char(s_[i_])) {
          while (i_ < s_.size() && word_char(s_[i_])) text.push_back(s_[i_++]);
        } else {
          refuse(s_, fmt::format("unexpected '{}' at position {}", i_ < s_.size() ? s_[i_] : ' ', i_));
        }
        if (i_ < s_.size() && s_[i_] == '.' && i_ + 1 < s_.size() &&
            (word_char(s_[i_ + 1]) || s_[i_ + 1] == '`' || s_[i_ + 1] == '"' || s_[i_ + 1] == '\'')) {
          text.push_back('.');
          ++i_;
          lone_string = false;
          continue;
        }
        break;
      }
      return {lone_string ? Tok::kString : Tok::kIdent, text, start};
    }
    refuse(s_, fmt::format("unexpected '{}' at position {}", c, start));
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

/// MLflow's _valid_entity_type.
std::string entity_type(const std::string& raw, const std::string& filter) {
  const std::string t = strip_quotes(raw);
  if (t == "metric" || t == "metrics") return "metric";
  if (t == "param" || t == "params" || t == "parameter" || t == "parameters") return "param";
  if (t == "tag" || t == "tags") return "tag";
  if (t == "attribute" || t == "attributes" || t == "attr" || t == "run") return "attribute";
  if (t == "dataset" || t == "datasets") return "dataset";
  refuse(filter,
         fmt::format("invalid entity type '{}' (valid: metrics, params, tags, attributes, datasets)", t));
}

/// Splits an identifier's text at its first '.' outside quotes (MLflow's _get_identifier).
void split_identifier(const std::string& text, const std::string& filter, std::string& type,
                      std::string& key) {
  char q = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (q) {
      if (c == q) q = 0;
    } else if (c == '\'' || c == '"' || c == '`') {
      q = c;
    } else if (c == '.') {
      type = entity_type(text.substr(0, i), filter);
      key = strip_quotes(text.substr(i + 1));
      if (key.empty()) refuse(filter, fmt::format("empty key in '{}'", text));
      return;
    }
  }
  type = "attribute";
  key = strip_quotes(text);
}

}  // namespace

std::vector<FilterClause> parse_filter(const std::string& filter) {
  std::vector<FilterClause> out;
  if (filter.find_first_not_of(" \t\n\r") == std::string::npos) return out;
  const std::vector<Token> toks = Lexer(filter).run();
  std::size_t i = 0;
  auto word = [&](std::size_t k, const char* w) {
    return toks[k].kind == Tok::kIdent && upper(toks[k].text) == w;
  };
  for (;;) {
    FilterClause c;
    const Token& id = toks[i];
    if (id.kind == Tok::kLParen) refuse(filter, "parentheses grouping is not supported");
    if (id.kind != Tok::kIdent && id.kind != Tok::kString)
      refuse(filter, fmt::format("expected an identifier at position {}, found '{}'", id.pos, id.text));
    if (word(i, "OR") || word(i, "NOT") || word(i, "AND"))
      refuse(filter, fmt::format("unsupported '{}' at position {}", id.text, id.pos));
    split_identifier(id.text, filter, c.type, c.key);
    ++i;
    // The comparator.
    const Token& op = toks[i];
    if (op.kind == Tok::kOp) {
      if (op.text == "<>") refuse(filter, "unsupported comparator '<>' (use '!=')");
      c.comparator = op.text;
      ++i;
    } else if (word(i, "LIKE") || word(i, "ILIKE") || word(i, "IN")) {
      c.comparator = upper(op.text);
      ++i;
    } else if (word(i, "NOT") && word(i + 1, "IN")) {
      c.comparator = "NOT IN";
      i += 2;
    } else if (word(i, "IS") && word(i + 1, "NULL")) {
      c.comparator = "IS NULL";
      i += 2;
    } else if (word(i, "IS") && word(i + 1, "NOT") && word(i + 2, "NULL")) {
      c.comparator = "IS NOT NULL";
      i += 3;
    } else if (op.kind == Tok::kEnd) {
      refuse(filter, fmt::format("expected a comparator after '{}'", id.text));
    } else {
      refuse(filter,
             fmt::format("unsupported comparator '{}' at position {} (supported: =, !=, <, <=, >, >=, "
                         "LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL)",
                         op.text, op.pos));
    }
    // The value.
    if (c.comparator == "IN" || c.comparator == "NOT IN") {
      if (toks[i].kind != Tok::kLParen)
        refuse(filter, fmt::format("expected a parenthesized list of quoted strings after {}", c.comparator));
      ++i;
      c.value.kind = FilterValue::Kind::kList;
      for (;;) {
        if (toks[i].kind != Tok::kString && !(toks[i].kind == Tok::kIdent && is_quoted(toks[i].text, '"')))
          refuse(filter, fmt::format("expected a quoted string in the list at position {}", toks[i].pos));
        c.value.list.push_back(strip_quotes(toks[i].text));
        ++i;
        if (toks[i].kind == Tok::kComma) {
          ++i;
          continue;
        }
        if (toks[i].kind == Tok::kRParen) {
          ++i;
          break;
        }
        refuse(filter, fmt::format("expected ',' or ')' at position {}", toks[i].pos));
      }
    } else if (c.comparator != "IS NULL" && c.comparator != "IS NOT NULL") {
      const Token& v = toks[i];
      if (v.kind == Tok::kString) {
        c.value.kind = FilterValue::Kind::kString;
        c.value.text = strip_quotes(v.text);
      } else if (v.kind == Tok::kNumber) {
        c.value.kind = FilterValue::Kind::kNumber;
        c.value.text = v.text;
        c.value.integer = v.text.find_first_of(".eE") == std::string::npos;
      } else if (v.kind == Tok::kIdent && is_quoted(v.text, '"')) {
        c.value.kind = FilterValue::Kind::kString;
        c.value.text = strip_quotes(v.text);
      } else if (v.kind == Tok::kEnd) {
        refuse(filter, fmt::format("expected a value after '{} {}'", id.text, c.comparator));
      } else {
        refuse(filter,
               fmt::format("expected a quoted string or a number at position {}, found '{}'", v.pos, v.text));
      }
      ++i;
    }
    out.push_back(std::move(c));
    if (toks[i].kind == Tok::kEnd) return out;
    if (word(i, "AND")) {
      ++i;
      continue;
    }
    if (word(i, "OR"))
      refuse(filter, fmt::format("'OR' at position {} is not supported (only comparisons joined with AND)",
                                 toks[i].pos));
    refuse(filter, fmt::format("unexpected '{}' at position {} (clauses are joined with AND)", toks[i].text,
                               toks[i].pos));
  }
}

OrderClause parse_order_by(const std::string& order_by) {
  // MLflow: shlex.split(clause with backticks as double quotes): an identifier, then ASC or DESC.
  std::string s = order_by;
  std::size_t e = s.find_last_not_of(" \t\n\r");
  if (e == std::string::npos) throw_invalid(fmt::format("Invalid order_by clause '{}'.", order_by));
  s.resize(e + 1);
  OrderClause out;
  const std::size_t sp = s.find_last_of(" \t");
  if (sp != std::string::npos) {
    const std::string last = upper(s.substr(sp + 1));
    std::string head = s.substr(0, sp);
    const std::size_t he = head.find_last_not_of(" \t");
    head.resize(he == std::string::npos ? 0 : he + 1);
    // Only a trailing ASC/DESC outside quotes counts as the direction.
    char q = 0;
    for (char c : head)
      if (q ? c == q : (c == '"' || c == '\'' || c == '`')) q = q ? 0 : c;
    if (!q && (last == "ASC" || last == "DESC")) {
      out.ascending = last == "ASC";
      s = head;
    } else if (!q) {
      throw_invalid(fmt::format("Invalid ordering key in order_by clause '{}'.", order_by));
    }
  }
  const std::size_t b = s.find_first_not_of(" \t");
  s = b == std::string::npos ? "" : s.substr(b);
  if (s.empty()) throw_invalid(fmt::format("Invalid order_by clause '{}'. Could not be parsed.", order_by));
  split_identifier(s, order_by, out.type, out.key);
  return out;
}

}  // namespace mlflowpp::detail::local
