#pragma once
// SQL built at run time by the local store's searches (local_search.cpp for runs and
// experiments, local_registry_*.cpp for the registry, local_logged_models.cpp): text with
// bound parameters only, the comparison of a parsed filter clause (local_filter.hpp), and
// MLflow's offset page tokens. Private: not installed.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/local/local_filter.hpp"
#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local {

/// A value bound to a placeholder of SQL built at run time (text, integer or real).
struct Bind {
  enum class Kind { kText, kInt, kReal };
  Kind kind = Kind::kText;
  std::string text;
  int64_t integer = 0;
  double real = 0.0;
  Bind(std::string s) : text(std::move(s)) {}        // NOLINT: implicit on purpose
  Bind(const char* s) : text(s) {}                   // NOLINT
  Bind(int v) : kind(Kind::kInt), integer(v) {}      // NOLINT
  Bind(int64_t v) : kind(Kind::kInt), integer(v) {}  // NOLINT
  Bind(double v) : kind(Kind::kReal), real(v) {}     // NOLINT
};

/// SQL text under construction with its bound values, in order. Either style in one
/// statement: add("... ?") + bind(v) for anonymous placeholders in text order, or
/// param(v), which returns the numbered placeholder "?N" to splice into the text.
struct Query {
  std::string sql;
  std::vector<Bind> binds;

  Query& add(std::string_view text) {
    sql.append(text);
    return *this;
  }
  Query& bind(Bind b) {
    binds.push_back(std::move(b));
    return *this;
  }
  std::string param(Bind b) {
    binds.push_back(std::move(b));
    return "?" + std::to_string(binds.size());
  }
  /// Binds every value to `st` (prepared from text built with this query).
  void bind_to(sql::Stmt& st) const;
  /// Prepares `sql` and binds every value.
  std::unique_ptr<sql::Stmt> prepare(sql::Connection& c) const;
};

/// Appends `<column> <comparator> ?` (or the IN list) for `clause`, binding its value(s) as
/// text, or as numbers when `as_number` (INVALID_PARAMETER_VALUE for a non-number then).
/// ILIKE is `lower(column) LIKE lower(?)`, as SQLAlchemy renders it. IS [NOT] NULL is
/// refused with INVALID_PARAMETER_VALUE (the registry searches do not support it).
void append_comparison(Query& q, std::string_view column, const FilterClause& clause, bool as_number);

/// The registry's tag clauses: ` AND EXISTS (SELECT 1 FROM <tag_table> t WHERE <join> AND
/// t."key" = ? AND <t.value comparison>)`, `join` relating `t` to the searched row (e.g.
/// "t.workspace = rm.workspace AND t.name = rm.name"). Comparators = != LIKE ILIKE;
/// INVALID_PARAMETER_VALUE for others.
void append_tag_exists(Query& q, std::string_view tag_table, std::string_view join,
                       const FilterClause& clause);
/// ` AND NOT EXISTS (...)`: leaves out prompts (rows whose `mlflow.prompt.is_prompt` tag is
/// "true"), as MLflow's registry searches do unless the filter asks for prompts.
void append_not_prompt(Query& q, std::string_view tag_table, std::string_view join);

/// MLflow's SQL page tokens: base64 of the JSON {"offset": N}.
std::string make_page_token(int64_t offset);
/// 0 for an empty token; INVALID_PARAMETER_VALUE for a token that is not such an offset
/// (SearchUtils.parse_start_offset_from_page_token).
int64_t parse_page_token(std::string_view token);

}  // namespace mlflowpp::detail::local
