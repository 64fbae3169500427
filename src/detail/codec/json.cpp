#include "detail/codec/json.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "detail/codec/json_read.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace dom = simdjson::dom;

// ---------------------------------------------------------------------------- writer

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);  // UTF-8 bytes pass through (validated by the caller)
        }
    }
  }
  out.push_back('"');
}

void append_json_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    // fmt's default double format is the shortest representation that round-trips.
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void JsonWriter::sep() {
  if (comma_) out_.push_back(',');
}
JsonWriter& JsonWriter::begin_object() {
  sep();
  out_.push_back('{');
  comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  out_.push_back('}');
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  sep();
  out_.push_back('[');
  comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  out_.push_back(']');
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
  sep();
  append_json_string(out_, k);
  out_.push_back(':');
  comma_ = false;
  return *this;
}
JsonWriter& JsonWriter::value(std::string_view s) {
  sep();
  append_json_string(out_, s);
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::value(int64_t v) {
  sep();
  fmt::format_to(std::back_inserter(out_), "{}", v);
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  sep();
  append_json_double(out_, v);
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  sep();
  out_ += v ? "true" : "false";
  comma_ = true;
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  sep();
  out_.append(json);
  comma_ = true;
  return *this;
}

std::string metric_json(const Metric& m) {
  JsonWriter w;
  w.begin_object().key("key").value(m.key).key("value").value(m.value);
  w.key("timestamp").value(m.timestamp).key("step").value(m.step);
  if (!m.dataset_name.empty()) w.key("dataset_name").value(m.dataset_name);
  if (!m.dataset_digest.empty()) w.key("dataset_digest").value(m.dataset_digest);
  if (!m.model_id.empty()) w.key("model_id").value(m.model_id);
  w.end_object();
  return w.take();
}

static std::string kv_json(std::string_view key, std::string_view value) {
  JsonWriter w;
  w.begin_object().key("key").value(key).key("value").value(value).end_object();
  return w.take();
}
std::string param_json(std::string_view key, std::string_view value) { return kv_json(key, value); }
std::string tag_json(std::string_view key, std::string_view value) { return kv_json(key, value); }

// ---------------------------------------------------------------------------- readers

namespace jsonread {

dom::parser& thread_parser() {
  // The main thread's thread_local objects are destroyed before objects with static
  // storage duration, whose destructors (a global Client ending its runs) may still parse
  // answers: the main thread's parser is therefore never destroyed. Other threads use a
  // parser that lives as long as the thread.
  if (static_cast<pid_t>(syscall(SYS_gettid)) == getpid()) {    // the main thread
    static dom::parser* const main_parser = new dom::parser();  // intentionally never freed
    return *main_parser;
  }
  thread_local dom::parser parser;
  return parser;
}

[[noreturn]] void parse_fail(std::string_view what, std::string_view detail) {
  throw ParseError(fmt::format("unreadable answer for {}: {}", what, detail));
}

dom::object parse_object(const std::string& body, std::string_view what) {
  dom::element doc;
  auto err = thread_parser().parse(body).get(doc);
  if (err) parse_fail(what, simdjson::error_message(err));
  dom::object obj;
  if (doc.get(obj)) parse_fail(what, "the body is not a JSON object");
  return obj;
}

bool field(dom::object obj, std::string_view key, dom::element& out) { return !obj.at_key(key).get(out); }

std::string get_string(dom::object obj, std::string_view key) {
  dom::element e;
  if (!field(obj, key, e)) return {};
  std::string_view sv;
  if (!e.get(sv)) return std::string(sv);
  if (e.is_int64()) return std::to_string(int64_t(e));
  if (e.is_uint64()) return std::to_string(uint64_t(e));
  return {};
}

int64_t to_int64(dom::element e, int64_t fallback) {
  switch (e.type()) {
    case dom::element_type::INT64:
      return int64_t(e);
    case dom::element_type::UINT64: {
      uint64_t u = uint64_t(e);
      return u > uint64_t(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                               : int64_t(u);
    }
    case dom::element_type::DOUBLE: {
      // Only doubles inside int64's range convert (found by the fuzzer: 1e308 as a step).
      const double d = double(e);
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return fallback;
      return static_cast<int64_t>(d);
    }
    case dom::element_type::STRING: {
      std::string s{std::string_view(e)};
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (errno != 0 || end == s.c_str() || *end != '\0') return fallback;
      return v;
    }
    default:
      return fallback;
  }
}

int64_t get_int64(dom::object obj, std::string_view key, int64_t fallback) {
  dom::element e;
  if (!field(obj, key, e)) return fallback;
  return to_int64(e, fallback);
}

std::optional<int64_t> get_opt_int64(dom::object obj, std::string_view key) {
  dom::element e;
  if (!field(obj, key, e) || e.is_null()) return std::nullopt;
  return to_int64(e, 0);
}

double get_double(dom::object obj, std::string_view key) {
  dom::element e;
  if (!field(obj, key, e)) return 0.0;
  switch (e.type()) {
    case dom::element_type::DOUBLE:
      return double(e);
    case dom::element_type::INT64:
      return static_cast<double>(int64_t(e));
    case dom::element_type::UINT64:
      return static_cast<double>(uint64_t(e));
    case dom::element_type::STRING: {
      std::string_view s(e);
      if (s == "NaN" || s == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
      std::string copy(s);
      char* end = nullptr;
      double v = std::strtod(copy.c_str(), &end);
      return end == copy.c_str() ? 0.0 : v;
    }
    default:
      return 0.0;
  }
}

bool get_array(dom::object obj, std::string_view key, dom::array& out) {
  dom::element e;
  return field(obj, key, e) && !e.get(out);
}

bool get_object(dom::object obj, std::string_view key, dom::object& out) {
  dom::element e;
  return field(obj, key, e) && !e.get(out);
}

Metric read_metric(dom::object o) {
  Metric m;
  m.key = get_string(o, "key");
  m.value = get_double(o, "value");
  m.timestamp = get_int64(o, "timestamp");
  m.step = get_int64(o, "step");
  m.dataset_name = get_string(o, "dataset_name");
  m.dataset_digest = get_string(o, "dataset_digest");
  m.model_id = get_string(o, "model_id");
  m.run_id = get_string(o, "run_id");
  return m;
}

Experiment read_experiment(dom::object o) {
  Experiment x;
  x.experiment_id = get_string(o, "experiment_id");
  x.name = get_string(o, "name");
  x.artifact_location = get_string(o, "artifact_location");
  x.lifecycle_stage = get_string(o, "lifecycle_stage");
  x.creation_time = get_int64(o, "creation_time");
  x.last_update_time = get_int64(o, "last_update_time");
  x.tags = get_kv_list<ExperimentTag>(o, "tags");
  return x;
}

RunInfo read_run_info(dom::object o) {
  RunInfo i;
  i.run_id = get_string(o, "run_id");
  if (i.run_id.empty()) i.run_id = get_string(o, "run_uuid");
  i.run_name = get_string(o, "run_name");
  i.experiment_id = get_string(o, "experiment_id");
  i.user_id = get_string(o, "user_id");
  dom::element st;
  if (field(o, "status", st)) {
    std::string_view name;
    if (!st.get(name)) {
      i.status = run_status_from_string(std::string(name)).value_or(RunStatus::kRunning);
    } else {
      int64_t n = to_int64(st, 1);
      if (n >= 1 && n <= 5) i.status = static_cast<RunStatus>(n);
    }
  }
  i.start_time = get_int64(o, "start_time");
  i.end_time = get_opt_int64(o, "end_time");
  i.artifact_uri = get_string(o, "artifact_uri");
  i.lifecycle_stage = get_string(o, "lifecycle_stage");
  return i;
}

Run read_run(dom::object o) {
  Run r;
  dom::object sub;
  if (get_object(o, "info", sub)) r.info = read_run_info(sub);
  if (get_object(o, "data", sub)) {
    r.data.metrics = get_list<Metric>(sub, "metrics", read_metric);
    r.data.params = get_kv_list<Param>(sub, "params");
    r.data.tags = get_kv_list<RunTag>(sub, "tags");
  }
  if (get_object(o, "inputs", sub)) {
    r.inputs.dataset_inputs = get_list<DatasetInput>(sub, "dataset_inputs", [](dom::object di) {
      DatasetInput in;
      in.tags = get_kv_list<InputTag>(di, "tags");
      dom::object ds;
      if (get_object(di, "dataset", ds)) {
        in.dataset.name = get_string(ds, "name");
        in.dataset.digest = get_string(ds, "digest");
        in.dataset.source_type = get_string(ds, "source_type");
        in.dataset.source = get_string(ds, "source");
        in.dataset.schema = get_string(ds, "schema");
        in.dataset.profile = get_string(ds, "profile");
      }
      return in;
    });
    r.inputs.model_ids =
        get_list<std::string>(sub, "model_inputs", [](dom::object mi) { return get_string(mi, "model_id"); });
  }
  if (get_object(o, "outputs", sub)) {
    r.outputs.model_outputs = get_list<ModelOutput>(sub, "model_outputs", [](dom::object mo) {
      return ModelOutput{get_string(mo, "model_id"), get_int64(mo, "step")};
    });
  }
  return r;
}

dom::object require_object(dom::object obj, std::string_view key, std::string_view what) {
  dom::object sub;
  if (!get_object(obj, key, sub)) parse_fail(what, fmt::format("no \"{}\" object", key));
  return sub;
}

}  // namespace jsonread

using namespace jsonread;

Experiment parse_experiment_response(const std::string& body) {
  auto obj = parse_object(body, "experiment");
  return read_experiment(require_object(obj, "experiment", "experiment"));
}

std::string parse_experiment_id_response(const std::string& body) {
  auto obj = parse_object(body, "experiments/create");
  auto id = get_string(obj, "experiment_id");
  if (id.empty()) parse_fail("experiments/create", "no experiment_id");
  return id;
}

PagedList<Experiment> parse_search_experiments(const std::string& body) {
  auto obj = parse_object(body, "experiments/search");
  return {get_list<Experiment>(obj, "experiments", read_experiment), get_string(obj, "next_page_token")};
}

Run parse_run_response(const std::string& body) {
  auto obj = parse_object(body, "run");
  return read_run(require_object(obj, "run", "run"));
}

RunInfo parse_run_info_response(const std::string& body) {
  auto obj = parse_object(body, "runs/update");
  return read_run_info(require_object(obj, "run_info", "runs/update"));
}

PagedList<Run> parse_search_runs(const std::string& body) {
  auto obj = parse_object(body, "runs/search");
  return {get_list<Run>(obj, "runs", read_run), get_string(obj, "next_page_token")};
}

PagedList<Metric> parse_metric_history(const std::string& body) {
  auto obj = parse_object(body, "metrics/get-history");
  return {get_list<Metric>(obj, "metrics", read_metric), get_string(obj, "next_page_token")};
}

void parse_empty_response(const std::string& body, std::string_view what) { (void)parse_object(body, what); }

bool is_json_object(const std::string& body) noexcept {
  try {
    dom::element doc;
    if (thread_parser().parse(body).get(doc)) return false;
    return doc.type() == dom::element_type::OBJECT;
  } catch (...) {
    return false;
  }
}

// Build simdjson's dispatch singletons before any other static object of the program, so
// that they are destroyed after all of them (a global Client, or a unique_ptr/optional
// holding one, may still validate and parse while it is destroyed at exit).
__attribute__((constructor(101))) static void mlflowpp_warm_up_json_early() { warm_up_json(); }

void warm_up_json() noexcept {
  try {
    (void)simdjson::get_active_implementation()->name();
    bool valid = simdjson::validate_utf8("{}", 2);
    dom::element doc;
    auto error = thread_parser().parse(std::string_view("{}")).get(doc);
    (void)valid;
    (void)error;
  } catch (...) {
  }
}

ErrorBody parse_error_body(std::string_view body) noexcept {
  ErrorBody out;
  try {
    dom::element doc;
    if (thread_parser().parse(body.data(), body.size(), true).get(doc)) return out;
    dom::object obj;
    if (doc.get(obj)) return out;
    out.error_code = get_string(obj, "error_code");
    out.message = get_string(obj, "message");
    out.parsed = !out.error_code.empty() || !out.message.empty();
  } catch (...) {
  }
  return out;
}

std::vector<RunTag> parse_string_map(const std::string& json, std::string_view what) {
  auto obj = parse_object(json, what);
  std::vector<RunTag> out;
  for (auto kv : obj) {
    std::string_view v;
    if (kv.value.get(v)) parse_fail(what, fmt::format("value of \"{}\" is not a string", kv.key));
    out.push_back({std::string(kv.key), std::string(v)});
  }
  return out;
}

}  // namespace mlflowpp::detail
