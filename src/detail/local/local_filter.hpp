#pragma once
// The one filter and order_by grammar of the local store's searches (runs and experiments
// in local_search.cpp; registered models, model versions and logged models in
// local_registry_*.cpp and local_logged_models.cpp): the subset of MLflow's SearchUtils
// grammar that users write. Private: not installed.
//
// Filter: comparisons joined with AND. A comparison is `<identifier> <comparator> <value>`:
// - identifier: `key` (an attribute), `<type>.<key>` with type one of metric(s),
//   param(s)/parameter(s), tag(s), attribute(s)/attr/run, dataset(s); the key may be quoted
//   with backticks, single or double quotes (`metrics."my key"`, tags.`a b`); everything
//   after the first '.' is the key (tags.mlflow.runName).
// - comparator: = != < <= > >= LIKE ILIKE IN, NOT IN, IS NULL, IS NOT NULL.
// - value: a quoted string, a number, or a parenthesized list of quoted strings (IN).
// Anything else (OR, parentheses grouping, NOT LIKE, <>, RLIKE...) is refused with
// INVALID_PARAMETER_VALUE naming the part. Which identifiers, comparators and value types
// are valid for each search is checked by the SQL builders (local_search.cpp and the
// registry's, which share local_query.hpp).

#include <cstdint>
#include <string>
#include <vector>

namespace mlflowpp::detail::local {

struct FilterValue {
  enum class Kind { kString, kNumber, kList, kNone };
  Kind kind = Kind::kNone;
  std::string text;  ///< the string, or the number as written
  std::vector<std::string> list;
  bool integer = false;  ///< a number without '.' or exponent
};

struct FilterClause {
  std::string type;        ///< "attribute", "metric", "param", "tag" or "dataset"
  std::string key;         ///< unquoted
  std::string comparator;  ///< upper case: "=", "LIKE", "NOT IN", "IS NULL", ...
  FilterValue value;
};

/// Parses `filter` (empty: no clause).
std::vector<FilterClause> parse_filter(const std::string& filter);

struct OrderClause {
  std::string type;  ///< as FilterClause::type
  std::string key;
  bool ascending = true;
};

/// Parses one order_by entry ("metrics.loss DESC", "`params`.`lr`", "name ASC").
OrderClause parse_order_by(const std::string& order_by);

}  // namespace mlflowpp::detail::local
