// The local tracking store: search_runs and search_experiments (SqlAlchemyStore's
// _search_runs with _get_sqlalchemy_filter_clauses / _get_orderby_clauses, and
// _search_experiments), and MLflow's offset page tokens. Every value is a bound parameter;
// only column names from fixed tables and placeholders are written into the SQL text.
#include <fmt/format.h>

#include <cctype>
#include <set>

#include "detail/local/local_filter.hpp"
#include "detail/local/local_query.hpp"
#include "detail/local/local_tracking.hpp"
#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local {

namespace {

/// A SQL comparison of `column` with a bound value (SearchUtils.get_sql_comparison_func for
/// SQLite; LIKE is case-sensitive there: the connection sets case_sensitive_like).
std::string compare(Query& q, const std::string& column, const FilterClause& c, Bind value) {
  if (c.comparator == "IN" || c.comparator == "NOT IN") {
    std::string list;
    for (const auto& v : c.value.list) list += (list.empty() ? "" : ", ") + q.param(v);
    return fmt::format("{} {} ({})", column, c.comparator, list);
  }
  if (c.comparator == "ILIKE")
    return fmt::format("lower({}) LIKE lower({})", column, q.param(std::move(value)));
  return fmt::format("{} {} {}", column, c.comparator, q.param(std::move(value)));
}

void require_comparator(const FilterClause& c, std::initializer_list<const char*> valid, const char* what) {
  for (const char* v : valid)
    if (c.comparator == v) return;
  throw_invalid(fmt::format("Invalid comparator '{}' for {} '{}': not one of '{}'", c.comparator, what, c.key,
                            fmt::join(valid, "', '")));
}

std::string require_string(const FilterClause& c, const char* what) {
  if (c.value.kind != FilterValue::Kind::kString)
    throw_invalid(fmt::format("Expected a quoted string value for {} '{}' (e.g. 'my-value'). Got value {}",
                              what, c.key, c.value.text));
  return c.value.text;
}

Bind require_number(const FilterClause& c, const char* what) {
  if (c.value.kind != FilterValue::Kind::kNumber)
    throw_invalid(
        fmt::format("Expected numeric value type for {} '{}'. Found {}", what, c.key, c.value.text));
  try {
    if (c.value.integer) return static_cast<int64_t>(std::stoll(c.value.text));
    return std::stod(c.value.text);
  } catch (const std::exception&) {
    throw_invalid(fmt::format("Invalid numeric value '{}' for {} '{}'", c.value.text, what, c.key));
  }
}

/// The runs column of a run attribute (RunInfo's searchable attributes and MLflow's aliases).
std::string run_attribute_column(const std::string& key, bool& numeric) {
  numeric = key == "start_time" || key == "end_time" || key == "created" || key == "Created";
  if (numeric) return key == "end_time" ? "end_time" : "start_time";
  if (key == "run_id") return "run_uuid";
  if (key == "run_name" || key == "run name" || key == "Run name" || key == "Run Name") return "name";
  if (key == "status" || key == "user_id" || key == "artifact_uri") return key;
  throw_invalid(
      fmt::format("Invalid attribute key '{}' specified. Valid keys are 'artifact_uri', 'end_time', "
                  "'run_id', 'run_name', "
                  "'start_time', 'status', 'user_id', 'created'",
                  key));
}

/// One filter clause of search_runs as a condition on `runs`.
std::string run_condition(Query& q, const FilterClause& c) {
  if (c.type == "attribute") {
    bool numeric = false;
    const std::string col = run_attribute_column(c.key, numeric);
    if (numeric) {
      require_comparator(c, {"=", "!=", "<", "<=", ">", ">="}, "numeric attribute");
      return compare(q, "runs." + col, c, require_number(c, "numeric attribute"));
    }
    require_comparator(c, {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}, "string attribute");
    if ((c.comparator == "IN" || c.comparator == "NOT IN") && col != "run_uuid")
      throw_invalid("Only ['run_id'] attributes support comparison with a list of quoted string values.");
    if (c.value.kind != FilterValue::Kind::kList) require_string(c, "attribute");
    if (col == "name") {
      // attributes.run_name compares the mlflow.runName tag (runs.name is empty for old runs).
      const std::string key = q.param(std::string(kRunNameTag));
      return fmt::format(
          "EXISTS (SELECT 1 FROM tags f WHERE f.run_uuid = runs.run_uuid AND f.key = {} AND {})", key,
          compare(q, "f.value", c, c.value.text));
    }
    return compare(q, "runs." + col, c, c.value.text);
  }
  if (c.type == "dataset") throw_invalid("Filtering on datasets.* is not supported by the local store");
  const bool metric = c.type == "metric";
  const char* table = metric ? "latest_metrics" : c.type == "param" ? "params" : "tags";
  const std::string key = q.param(c.key);
  if (c.comparator == "IS NULL" || c.comparator == "IS NOT NULL") {
    if (metric) require_comparator(c, {"=", "!=", "<", "<=", ">", ">="}, "metric");
    return fmt::format("{}EXISTS (SELECT 1 FROM {} f WHERE f.run_uuid = runs.run_uuid AND f.key = {})",
                       c.comparator == "IS NULL" ? "NOT " : "", table, key);
  }
  std::string cond;
  if (metric) {
    require_comparator(c, {"=", "!=", "<", "<=", ">", ">="}, "metric");
    Bind v = require_number(c, "metric");
    if (v.kind == Bind::Kind::kInt) v = Bind(static_cast<double>(v.integer));
    cond = compare(q, "f.value", c, std::move(v));
    // NaN is stored as 0 with is_nan: it satisfies only "!=".
    cond = c.comparator == "!=" ? "(" + cond + " OR f.is_nan = 1)" : "(" + cond + " AND f.is_nan = 0)";
  } else {
    require_comparator(c, {"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}, c.type.c_str());
    cond = compare(q, "f.value", c, require_string(c, c.type.c_str()));
  }
  return fmt::format("EXISTS (SELECT 1 FROM {} f WHERE f.run_uuid = runs.run_uuid AND f.key = {} AND {})",
                     table, key, cond);
}

}  // namespace

PagedList<Run> LocalTrackingStore::search_runs(const std::vector<std::string>& experiment_ids,
                                               const SearchRunsOptions& o) {
  if (o.max_results < 1 || o.max_results > 50000)
    throw_invalid(fmt::format(
        "Invalid value {} for parameter 'max_results' supplied. It must be a positive integer at most 50000",
        o.max_results));
  Query q;  // placeholders in text order: the joins' keys, the experiment ids, the filter values
  std::string sql =
      fmt::format("SELECT {} FROM runs",
                  "runs.run_uuid, runs.name, runs.experiment_id, runs.user_id, "
                  "runs.status, runs.start_time, runs.end_time, runs.artifact_uri, runs.lifecycle_stage");
  // order_by: outer joins on the ordered metrics/params/tags, missing values (and NaN) last.
  std::string joins, order;
  std::set<std::pair<std::string, std::string>> seen;
  bool start_time_ordered = false;
  int n = 0;
  for (const auto& entry : o.order_by) {
    const OrderClause oc = parse_order_by(entry);
    std::string value;
    std::string attr_key = oc.key;
    if (oc.type == "attribute") {
      bool numeric = false;
      const std::string col = run_attribute_column(oc.key, numeric);
      attr_key = col;
      value = "runs." + col;
      if (col == "start_time") start_time_ordered = true;
      order += fmt::format("CASE WHEN {0} IS NULL THEN 1 ELSE 0 END, {0}{1}, ", value,
                           oc.ascending ? "" : " DESC");
    } else if (oc.type == "metric" || oc.type == "param" || oc.type == "tag") {
      const std::string alias = "o" + std::to_string(++n);
      const char* table = oc.type == "metric" ? "latest_metrics" : oc.type == "param" ? "params" : "tags";
      joins += fmt::format(" LEFT JOIN {0} {1} ON {1}.run_uuid = runs.run_uuid AND {1}.key = {2}", table,
                           alias, q.param(oc.key));
      value = alias + ".value";
      if (oc.type == "metric")
        order +=
            fmt::format("CASE WHEN {0}.is_nan = 1 THEN 1 WHEN {1} IS NULL THEN 2 ELSE 0 END, ", alias, value);
      else
        order += fmt::format("CASE WHEN {} IS NULL THEN 1 ELSE 0 END, ", value);
      order += value + (oc.ascending ? ", " : " DESC, ");
    } else {
      throw_invalid(fmt::format("Invalid order_by entity type '{}' in '{}'", oc.type, entry));
    }
    if (!seen.emplace(oc.type, attr_key).second)
      throw_invalid(
          fmt::format("`order_by` contains duplicate fields: ['{}']", fmt::join(o.order_by, "', '")));
  }
  if (!start_time_ordered) order += "runs.start_time DESC, ";
  order += "runs.run_uuid";
  std::string ids;
  for (const auto& id : experiment_ids) ids += (ids.empty() ? "" : ", ") + q.param(parse_experiment_id(id));
  if (ids.empty()) return {};
  std::string where = "runs.experiment_id IN (" + ids + ")";
  const char* stages = o.run_view_type == ViewType::kActiveOnly    ? "('active')"
                       : o.run_view_type == ViewType::kDeletedOnly ? "('deleted')"
                                                                   : "('active', 'deleted')";
  where += fmt::format(" AND runs.lifecycle_stage IN {}", stages);
  for (const auto& c : parse_filter(o.filter_string)) where += " AND " + run_condition(q, c);
  const int64_t offset = parse_page_token(o.page_token);
  const std::string limit = q.param(o.max_results + 1);
  const std::string off = q.param(offset);
  sql += joins + " WHERE " + where + " ORDER BY " + order + " LIMIT " + limit + " OFFSET " + off;
  return db_->read([&](sql::Connection& c) {
    PagedList<Run> out;
    auto st = c.prepare(sql);
    q.bind_to(*st);
    while (st->step()) out.items.push_back(Run{run_info_from(*st), {}, {}, {}});
    st.reset();
    if (static_cast<int64_t>(out.items.size()) == o.max_results + 1) {
      out.items.pop_back();
      out.next_page_token = make_page_token(offset + o.max_results);
    }
    for (auto& r : out.items) load_run_data(c, r);
    return out;
  });
}

PagedList<Experiment> LocalTrackingStore::search_experiments(const SearchExperimentsOptions& o) {
  if (o.max_results < 1 || o.max_results > 50000)
    throw_invalid(fmt::format(
        "Invalid value {} for parameter 'max_results' supplied. It must be a positive integer at most 50000",
        o.max_results));
  Query q;
  std::string where = o.view_type == ViewType::kActiveOnly    ? "lifecycle_stage IN ('active')"
                      : o.view_type == ViewType::kDeletedOnly ? "lifecycle_stage IN ('deleted')"
                                                              : "lifecycle_stage IN ('active', 'deleted')";
  where += " AND workspace = 'default'";
  for (const auto& c : parse_filter(o.filter_string)) {
    if (c.type == "attribute") {
      if (c.key == "experiment_id") {
        require_comparator(c, {"=", "!=", "IN", "NOT IN"}, "experiment_id");
        if (c.value.kind == FilterValue::Kind::kList) {
          std::string list;
          for (const auto& v : c.value.list)
            list += (list.empty() ? "" : ", ") + q.param(parse_experiment_id(v));
          where += fmt::format(" AND experiment_id {} ({})", c.comparator, list);
        } else {
          const std::string v = c.value.kind == FilterValue::Kind::kString ? c.value.text : c.value.text;
          where += fmt::format(" AND experiment_id {} {}", c.comparator, q.param(parse_experiment_id(v)));
        }
      } else if (c.key == "name") {
        require_comparator(c, {"=", "!=", "LIKE", "ILIKE"}, "string attribute");
        where += " AND " + compare(q, "name", c, require_string(c, "attribute"));
      } else if (c.key == "creation_time" || c.key == "last_update_time") {
        require_comparator(c, {"=", "!=", "<", "<=", ">", ">="}, "numeric attribute");
        if (c.value.kind != FilterValue::Kind::kNumber || !c.value.integer)
          throw_invalid(fmt::format("Invalid value for numeric attribute '{}': '{}'", c.key, c.value.text));
        where += " AND " + compare(q, c.key, c, require_number(c, "numeric attribute"));
      } else {
        throw_invalid(fmt::format(
            "Invalid attribute key '{}' specified. Valid keys are 'name', 'experiment_id', 'creation_time', "
            "'last_update_time'",
            c.key));
      }
    } else if (c.type == "tag") {
      const std::string key = q.param(c.key);
      if (c.comparator == "IS NULL" || c.comparator == "IS NOT NULL") {
        where += fmt::format(
            " AND {}EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = "
            "experiments.experiment_id AND "
            "t.key = {})",
            c.comparator == "IS NULL" ? "NOT " : "", key);
      } else {
        require_comparator(c, {"=", "!=", "LIKE", "ILIKE"}, "tag");
        where += fmt::format(
            " AND EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = experiments.experiment_id "
            "AND "
            "t.key = {} AND {})",
            key, compare(q, "t.value", c, require_string(c, "tag")));
      }
    } else {
      throw_invalid(
          fmt::format("Invalid token type: {} (search_experiments filters on attributes and tags)", c.type));
    }
  }
  std::string order;
  bool has_id = false;
  const std::vector<std::string> defaults{"creation_time DESC", "experiment_id ASC"};
  for (const auto& entry : o.order_by.empty() ? defaults : o.order_by) {
    const OrderClause oc = parse_order_by(entry);
    if (oc.type != "attribute") throw_invalid(fmt::format("Invalid order_by entity: {}", oc.type));
    if (oc.key != "name" && oc.key != "experiment_id" && oc.key != "creation_time" &&
        oc.key != "last_update_time")
      throw_invalid(fmt::format(
          "Invalid order_by key '{}' specified. Valid keys are 'name', 'experiment_id', 'creation_time', "
          "'last_update_time'",
          oc.key));
    has_id = has_id || oc.key == "experiment_id";
    order += (order.empty() ? "" : ", ") + oc.key + (oc.ascending ? " ASC" : " DESC");
  }
  if (!has_id) order += ", experiment_id DESC";  // MLflow's tie-breaker
  const int64_t offset = parse_page_token(o.page_token);
  const std::string sql =
      fmt::format("SELECT experiment_id FROM experiments WHERE {} ORDER BY {} LIMIT {} OFFSET {}", where,
                  order, q.param(o.max_results + 1), q.param(offset));
  return db_->read([&](sql::Connection& c) {
    PagedList<Experiment> out;
    std::vector<int64_t> found;
    {
      auto st = c.prepare(sql);
      q.bind_to(*st);
      while (st->step()) found.push_back(st->int64(0));
    }
    if (static_cast<int64_t>(found.size()) == o.max_results + 1) {
      found.pop_back();
      out.next_page_token = make_page_token(offset + o.max_results);
    }
    for (int64_t id : found)
      if (auto x = load_experiment(c, id)) out.items.push_back(std::move(*x));
    return out;
  });
}

}  // namespace mlflowpp::detail::local
