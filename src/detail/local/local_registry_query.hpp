#pragma once
// Shared pieces of the local registry store's searches (local_registry_store.cpp,
// local_registry_versions.cpp, local_logged_models.cpp): MLflow's search filter grammar as
// its SQL stores accept it (a conjunction of `<entity> <comparator> <value>`), SQL built at
// run time with bound parameters only, and MLflow's offset page tokens. Private: not installed.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local_registry {

/// The workspace every registry row of a single-tenant MLflow carries.
inline constexpr const char* kWorkspace = "default";

/// One comparison of a filter string, e.g. `tags.team = 'ml'`.
struct FilterClause {
  enum class Entity { kAttribute, kTag, kParam, kMetric };
  Entity entity = Entity::kAttribute;
  std::string key;                  ///< without the entity prefix and quotes
  std::string op;                   ///< upper case: = != < <= > >= LIKE ILIKE IN "NOT IN"
  std::vector<std::string> values;  ///< one value, or the list of IN / NOT IN
  bool numeric = false;             ///< the value was an unquoted number
};

/// Parses MLflow's filter grammar: clauses joined by AND; an identifier (`name`,
/// `attributes.name`, `tags.k`, ``tags.`k k` ``, `params.k`, `metrics.k`), a comparator,
/// and a quoted string, a number or a parenthesized list. Anything else (OR, parentheses
/// around clauses, IS NULL, ...) throws INVALID_PARAMETER_VALUE naming the unsupported part.
std::vector<FilterClause> parse_filter(std::string_view filter);

/// A value bound to a `?` of SQL built at run time (text, integer or real).
struct Bind {
  enum class Kind { kText, kInt, kReal };
  Kind kind = Kind::kText;
  std::string text;
  int64_t integer = 0;
  double real = 0.0;
  Bind(std::string s) : text(std::move(s)) {}  // NOLINT: implicit on purpose
  Bind(const char* s) : text(s) {}             // NOLINT
  Bind(int64_t v) : kind(Kind::kInt), integer(v) {}
  Bind(double v) : kind(Kind::kReal), real(v) {}
};

/// SQL text under construction with its bound values, in order.
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
  /// Prepares the statement and binds every value.
  std::unique_ptr<sql::Stmt> prepare(sql::Connection& c) const;
};

/// Appends `<column> <op> ?` (or the IN list) for `clause`, binding its values as text, or
/// as numbers when `as_number` (throws INVALID_PARAMETER_VALUE for a non-number then).
/// ILIKE is `lower(column) LIKE lower(?)`, as SQLAlchemy renders it.
void append_comparison(Query& q, std::string_view column, const FilterClause& clause, bool as_number);

/// One `order_by` clause: "<key> [ASC|DESC]".
struct OrderBy {
  std::string key;
  bool ascending = true;
};
/// Parses "<key> [ASC|DESC]" (key possibly back-quoted); throws INVALID_PARAMETER_VALUE.
OrderBy parse_order_by(std::string_view clause);

/// MLflow's page token: base64 of `{"offset": N}`.
std::string make_page_token(int64_t offset);
/// The offset of a page token ("" → 0); throws INVALID_PARAMETER_VALUE as MLflow does.
int64_t parse_page_token(std::string_view token);

/// Upper-cases ASCII letters.
std::string upper(std::string_view s);
/// Lower-cases ASCII letters.
std::string lower(std::string_view s);

}  // namespace mlflowpp::detail::local_registry
