// The local tracking store: metrics, log-batch and metric history (SqlAlchemyStore's
// _log_metrics, _update_latest_metrics_if_necessary, _log_model_metrics, _log_params,
// _set_tags, log_batch, get_metric_history).
//
// log_batch_body is the logger's hot path: one write transaction per body, cached
// statements, one SELECT of the current latest_metrics rows for the body's keys.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <unordered_map>

#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/core/call_hooks.hpp"
#include "detail/core/validation.hpp"
#include "detail/local/local_query.hpp"
#include "detail/local/local_tracking.hpp"
#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail::local {

namespace dom = simdjson::dom;

namespace {

/// One metric of a request, its strings pointing into the request (or a Metric).
struct MetricRow {
  std::string_view key;
  double value = 0;  // sanitized
  bool is_nan = false;
  int64_t timestamp = 0;
  int64_t step = 0;
  std::string_view model_id, dataset_name, dataset_digest;
};

struct KeyValue {
  std::string_view key, value;
};

/// True when `a` is strictly more recent than `b` (_compare_metrics: (step, timestamp, value)).
bool newer(const MetricRow& a, int64_t step, int64_t timestamp, double value) {
  return std::tie(a.step, a.timestamp, a.value) > std::tie(step, timestamp, value);
}

/// Python's repr() of a str (the quotes MLflow's messages show around keys and values).
std::string py_repr(std::string_view s) {
  const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (char ch : s) {
    if (ch == '\\' || ch == q) out.push_back('\\');
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(ch);
  }
  out.push_back(q);
  return out;
}

/// Rows per multi-row INSERT of metric points (6 parameters each).
constexpr std::size_t kRowsPerInsert = 50;

/// "INSERT INTO metrics ... VALUES (?, ...), ... ON CONFLICT DO NOTHING" for kRowsPerInsert
/// rows; a stable pointer (Connection::cached keys statements by it).
const char* multi_insert_sql() {
  static const std::string sql = [] {
    std::string s = "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES ";
    for (std::size_t i = 0; i < kRowsPerInsert; ++i) s += i ? ", (?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?)";
    return s + " ON CONFLICT DO NOTHING";
  }();
  return sql.c_str();
}

void bind_point(sql::Stmt& st, int at, const MetricRow& m, const std::string& run_id) {
  st.bind(at + 1, m.key).bind(at + 2, m.value).bind(at + 3, m.timestamp).bind(at + 4, run_id);
  st.bind(at + 5, m.step).bind(at + 6, m.is_nan);
}

/// Writes `metrics` of the (active) run: points deduplicated by MLflow's metric_pk, the
/// latest_metrics rows updated as _update_latest_metrics_if_necessary does, points with a
/// model id also in logged_model_metrics.
void write_metrics(sql::Connection& c, const std::string& run_id, const std::vector<MetricRow>& metrics) {
  if (metrics.empty()) return;
  // The points, kRowsPerInsert per statement (fewer statement executions: the hot path).
  std::size_t i = 0;
  for (; i + kRowsPerInsert <= metrics.size(); i += kRowsPerInsert) {
    auto& many = c.cached(multi_insert_sql());
    for (std::size_t j = 0; j < kRowsPerInsert; ++j)
      bind_point(many, static_cast<int>(j * 6), metrics[i + j], run_id);
    many.run();
  }
  auto& one = c.cached(
      "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING");
  for (; i < metrics.size(); ++i) {
    bind_point(one, 0, metrics[i], run_id);
    one.run();
  }
  // The most recent point of each key in this request (the first of equals wins, as in Python).
  std::unordered_map<std::string_view, std::size_t> best;
  best.reserve(64);
  bool any_model = false;
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    const MetricRow& m = metrics[k];
    auto [it, fresh] = best.emplace(m.key, k);
    if (!fresh) {
      const MetricRow& b = metrics[it->second];
      if (newer(m, b.step, b.timestamp, b.value)) it->second = k;
    }
    any_model = any_model || !m.model_id.empty();
  }
  // The current latest rows of these keys, in one query.
  std::string keys = "[";
  for (const auto& kv : best) {
    if (keys.size() > 1) keys.push_back(',');
    append_json_string(keys, kv.first);
  }
  keys.push_back(']');
  auto& cur = c.cached(
      "SELECT key, value, timestamp, step FROM latest_metrics WHERE run_uuid = ?1 "
      "AND key IN (SELECT value FROM json_each(?2))");
  cur.bind(1, run_id).bind(2, keys);
  while (cur.step()) {
    const std::string k = cur.text(0);
    auto it = best.find(k);
    if (it == best.end()) continue;
    if (!newer(metrics[it->second], cur.int64(3), cur.int64_or(2, 0), cur.real(1))) best.erase(it);
  }
  cur.reset();
  auto& up = c.cached(
      "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?1, ?2, ?3, ?4, "
      "?5, ?6) "
      "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, "
      "step = excluded.step, is_nan = excluded.is_nan");
  for (const auto& kv : best) {
    const MetricRow& m = metrics[kv.second];
    up.bind(1, m.key).bind(2, m.value).bind(3, m.timestamp).bind(4, m.step).bind(5, m.is_nan).bind(6, run_id);
    up.run();
  }
  if (!any_model) return;
  // _log_model_metrics: the points that name a logged model.
  auto& exp = c.cached("SELECT experiment_id FROM runs WHERE run_uuid = ?1");
  exp.bind(1, run_id);
  const int64_t experiment_id = exp.step() ? exp.int64(0) : 0;
  exp.reset();
  auto& mm = c.cached(
      "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, "
      "metric_value, "
      "experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9) ON CONFLICT DO NOTHING");
  for (const MetricRow& m : metrics) {
    if (m.model_id.empty()) continue;
    mm.bind(1, m.model_id).bind(2, m.key).bind(3, m.timestamp).bind(4, m.step).bind(5, m.value);
    mm.bind(6, experiment_id).bind(7, run_id);
    if (m.dataset_name.empty())
      mm.bind_null(8);
    else
      mm.bind(8, m.dataset_name);
    if (m.dataset_digest.empty())
      mm.bind_null(9);
    else
      mm.bind(9, m.dataset_digest);
    mm.run();
  }
}

/// _log_params of log_batch: new keys inserted, an identical value ignored, a changed value
/// refused (the whole request rolls back).
void write_params(sql::Connection& c, const std::string& run_id, const std::vector<KeyValue>& params) {
  if (params.empty()) return;
  std::vector<std::string> dupes;
  for (std::size_t i = 0; i < params.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (params[j].key == params[i].key) {
        dupes.push_back(py_repr(params[i].key));
        break;
      }
  if (!dupes.empty())
    throw_invalid(fmt::format(
        "Duplicate parameter keys have been submitted: [{}]. Please ensure the request contains only one "
        "param value per param key.",
        fmt::join(dupes, ", ")));
  auto& sel = c.cached("SELECT value FROM params WHERE run_uuid = ?1 AND key = ?2");
  std::vector<std::string> conflicts;
  std::vector<const KeyValue*> fresh;
  for (const KeyValue& p : params) {
    sel.bind(1, run_id).bind(2, p.key);
    if (sel.step()) {
      const std::string old = sel.text(0);
      if (old != p.value)
        conflicts.push_back(fmt::format("{{'key': {}, 'old_value': {}, 'new_value': {}}}", py_repr(p.key),
                                        py_repr(old), py_repr(p.value)));
    } else {
      fresh.push_back(&p);
    }
    sel.reset();
  }
  if (!conflicts.empty())
    throw_invalid(fmt::format(
        "Changing param values is not allowed. Params were already logged='[{}]' for run ID='{}'.",
        fmt::join(conflicts, ", "), run_id));
  auto& ins = c.cached("INSERT INTO params (key, value, run_uuid) VALUES (?1, ?2, ?3)");
  for (const KeyValue* p : fresh) ins.bind(1, p->key).bind(2, p->value).bind(3, run_id).run();
}

std::string_view sv_field(dom::object o, std::string_view name) {
  dom::element e;
  std::string_view sv;
  if (jsonread::field(o, name, e) && !e.get(sv)) return sv;
  return {};
}

void check(const std::optional<std::string>& error) {
  if (error) throw_invalid(*error);
}

}  // namespace

SanitizedValue sanitize_metric_value(double v) noexcept {
  if (std::isnan(v)) return {true, 0.0};
  if (std::isinf(v))
    return {false, v > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max()};
  return {false, v};
}

void LocalTrackingStore::log_metric(const std::string& run_id, const Metric& metric) {
  check(check_key("metric", metric.key));
  check(check_timestamp(metric.key, metric.timestamp));
  const auto s = sanitize_metric_value(metric.value);
  std::vector<MetricRow> rows{{metric.key, s.value, s.is_nan, metric.timestamp, metric.step, metric.model_id,
                               metric.dataset_name, metric.dataset_digest}};
  db_->write([&](sql::Connection& c) {
    require_active_run(c, run_id);
    write_metrics(c, run_id, rows);
  });
}

void LocalTrackingStore::log_batch_body(std::string body, const CallHooks* hooks) {
  if (hooks != nullptr && hooks->requests != nullptr)
    hooks->requests->fetch_add(1, std::memory_order_relaxed);
  // The body stays alive (and the parser's document valid) until the write is done: no other
  // JSON is parsed on this thread meanwhile.
  dom::element doc;
  dom::object obj;
  if (jsonread::thread_parser().parse(body).get(doc) || doc.get(obj))
    throw_invalid("Malformed log-batch request: the body is not a JSON object");
  std::string run_id(sv_field(obj, "run_id"));
  if (run_id.empty()) run_id = std::string(sv_field(obj, "run_uuid"));
  if (run_id.empty()) throw_invalid("Missing value for required parameter 'run_id'.");

  std::vector<MetricRow> metrics;
  std::vector<KeyValue> params, tags;
  dom::array arr;
  if (jsonread::get_array(obj, "metrics", arr)) {
    metrics.reserve(arr.size());
    std::size_t idx = 0;
    for (dom::element e : arr) {
      dom::object o;
      if (e.get(o)) throw_invalid(fmt::format("Invalid value for metrics[{}]: not an object", idx));
      MetricRow m;
      m.key = sv_field(o, "key");
      check(check_key("metric", m.key));
      const auto s = sanitize_metric_value(jsonread::get_double(o, "value"));
      m.value = s.value;
      m.is_nan = s.is_nan;
      m.timestamp = jsonread::get_int64(o, "timestamp");
      m.step = jsonread::get_int64(o, "step");
      if (m.timestamp < 0) check(check_timestamp(m.key, m.timestamp));
      m.model_id = sv_field(o, "model_id");
      m.dataset_name = sv_field(o, "dataset_name");
      m.dataset_digest = sv_field(o, "dataset_digest");
      metrics.push_back(m);
      ++idx;
    }
  }
  auto read_kv = [&](std::string_view name, std::vector<KeyValue>& out, std::size_t max_value) {
    dom::array a;
    if (!jsonread::get_array(obj, name, a)) return;
    const std::string what = name == "params" ? "param" : "tag";
    for (dom::element e : a) {
      dom::object o;
      if (e.get(o)) throw_invalid(fmt::format("Invalid value for {}: not an object", name));
      KeyValue kv{sv_field(o, "key"), sv_field(o, "value")};
      check(check_key(what, kv.key));
      check(check_value(what, kv.key, kv.value, max_value));
      out.push_back(kv);
    }
  };
  read_kv("params", params, kMaxParamValueLength);
  read_kv("tags", tags, kMaxTagValueLength);
  auto limit = [](const char* name, std::size_t limit_n, std::size_t n) {
    if (n > limit_n)
      throw_invalid(fmt::format(
          "A batch logging request can contain at most {} {}. Got {} {}. Please split up {} across multiple "
          "requests and try again.",
          limit_n, name, n, name, name));
  };
  limit("metrics", kMaxMetricsPerBatch, metrics.size());
  limit("params", kMaxParamsPerBatch, params.size());
  limit("tags", kMaxTagsPerBatch, tags.size());
  limit("metrics, params, and tags", kMaxEntitiesPerBatch, metrics.size() + params.size() + tags.size());
  if (metrics.empty() && params.empty() && tags.empty()) {
    db_->read([&](sql::Connection& c) { require_active_run(c, run_id); });
    return;
  }
  db_->write([&](sql::Connection& c) {
    require_active_run(c, run_id);
    write_params(c, run_id, params);
    write_metrics(c, run_id, metrics);
    for (const KeyValue& t : tags) upsert_run_tag(c, run_id, t.key, t.value);
  });
}

PagedList<Metric> LocalTrackingStore::get_metric_history_page(const std::string& run_id,
                                                              const std::string& key, int64_t max_results,
                                                              const std::string& page_token) {
  const int64_t offset = parse_page_token(page_token);
  return db_->read([&](sql::Connection& c) {
    PagedList<Metric> out;
    auto& st = c.cached(
        "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ?1 AND key = ?2 "
        "ORDER BY timestamp, step, value LIMIT ?3 OFFSET ?4");
    st.bind(1, run_id).bind(2, key).bind(3, max_results > 0 ? max_results + 1 : int64_t{-1}).bind(4, offset);
    while (st.step()) {
      Metric m;
      m.key = st.text(0);
      m.value = st.int64(4) ? std::numeric_limits<double>::quiet_NaN() : st.real(1);
      m.timestamp = st.int64(2);
      m.step = st.int64(3);
      out.items.push_back(std::move(m));
    }
    st.reset();
    if (max_results > 0 && static_cast<int64_t>(out.items.size()) == max_results + 1) {
      out.items.pop_back();
      out.next_page_token = make_page_token(offset + max_results);
    }
    return out;
  });
}

}  // namespace mlflowpp::detail::local
