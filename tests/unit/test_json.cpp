#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "detail/codec/json.hpp"
#include "mlflowpp/error.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;

TEST_CASE("JSON writer escapes every character JSON requires and passes UTF-8 through", "[json]") {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\t\r\b\f\x01\x1f\x7f", 13));
  CHECK(out == R"("a\"b\\c\n\t\r\b\f\u0001\u001f\u007f")");
  out.clear();
  append_json_string(out, "grün/损失 \xE2\x80\xA8");  // U+2028 is valid JSON text
  CHECK(out == "\"grün/损失 \xE2\x80\xA8\"");
  out.clear();
  append_json_string(out, std::string("nul\0in", 6));
  CHECK(out == R"("nul\u0000in")");
}

TEST_CASE("JSON writer: doubles shortest round-trip, NaN and infinities as protobuf strings", "[json]") {
  auto d = [](double v) {
    std::string s;
    append_json_double(s, v);
    return s;
  };
  CHECK(d(0.1) == "0.1");
  CHECK(d(1.0) == "1");
  CHECK(d(-2.5e-300) == "-2.5e-300");
  CHECK(d(std::numeric_limits<double>::quiet_NaN()) == "\"NaN\"");
  CHECK(d(std::numeric_limits<double>::infinity()) == "\"Infinity\"");
  CHECK(d(-std::numeric_limits<double>::infinity()) == "\"-Infinity\"");
  auto back = [&](double v) { return std::strtod(d(v).c_str(), nullptr); };
  CHECK(back(0.1 + 0.2) == 0.1 + 0.2);
  CHECK(back(std::numeric_limits<double>::max()) == std::numeric_limits<double>::max());
  CHECK(back(std::numeric_limits<double>::denorm_min()) == std::numeric_limits<double>::denorm_min());
}

TEST_CASE("JSON writer: int64 extremes written without loss, structure balanced", "[json]") {
  JsonWriter w;
  w.begin_object()
      .key("max")
      .value(std::numeric_limits<int64_t>::max())
      .key("min")
      .value(std::numeric_limits<int64_t>::min())
      .key("big")
      .value(int64_t{9007199254740993})
      .key("list")
      .begin_array()
      .value("a")
      .value(true)
      .value(1.5)
      .end_array()
      .key("empty")
      .begin_object()
      .end_object()
      .end_object();
  CHECK(
      w.str() ==
      R"({"max":9223372036854775807,"min":-9223372036854775808,"big":9007199254740993,"list":["a",true,1.5],"empty":{}})");
}

TEST_CASE("metric JSON round-trips through the history reader exactly", "[json]") {
  Metric m;
  m.key = "grün/loss \"q\"";
  m.value = std::numeric_limits<double>::quiet_NaN();
  m.timestamp = 1700000000123;
  m.step = (int64_t{1} << 53) + 1;
  Metric inf = m;
  inf.value = -std::numeric_limits<double>::infinity();
  inf.step = std::numeric_limits<int64_t>::max();
  Metric plain = m;
  plain.value = 0.1 + 0.2;
  plain.step = -5;
  std::string body =
      "{\"metrics\":[" + metric_json(m) + "," + metric_json(inf) + "," + metric_json(plain) + "]}";
  auto page = parse_metric_history(body);
  REQUIRE(page.items.size() == 3);
  CHECK(page.items[0].key == m.key);
  CHECK(std::isnan(page.items[0].value));
  CHECK(page.items[0].timestamp == m.timestamp);
  CHECK(page.items[0].step == m.step);
  CHECK(page.items[1].value == -std::numeric_limits<double>::infinity());
  CHECK(page.items[1].step == std::numeric_limits<int64_t>::max());
  CHECK(page.items[2].value == 0.1 + 0.2);
  CHECK(page.items[2].step == -5);
  CHECK(page.next_page_token.empty());
}

TEST_CASE("readers tolerate int64 as strings, missing and unknown fields", "[json]") {
  auto run = parse_run_response(R"({"run":{"info":{"run_uuid":"abc","experiment_id":"7","status":"FINISHED",
      "start_time":"1700000000000","end_time":1700000000999,"lifecycle_stage":"active","new_field":{"x":[1,2]}},
      "data":{"metrics":[{"key":"m","value":"Infinity","timestamp":"5","step":"9223372036854775807"}],
      "params":[{"key":"p","value":"v"}]},"inputs":{},"outputs":{"model_outputs":[{"model_id":"m-1","step":3}]}},
      "extra":true})");
  CHECK(run.info.run_id == "abc");  // run_uuid accepted when run_id is missing
  CHECK(run.info.experiment_id == "7");
  CHECK(run.info.status == RunStatus::kFinished);
  CHECK(run.info.start_time == 1700000000000);
  REQUIRE(run.info.end_time.has_value());
  CHECK(*run.info.end_time == 1700000000999);
  REQUIRE(run.data.metrics.size() == 1);
  CHECK(run.data.metrics[0].value == std::numeric_limits<double>::infinity());
  CHECK(run.data.metrics[0].timestamp == 5);
  CHECK(run.data.metrics[0].step == std::numeric_limits<int64_t>::max());
  CHECK(run.data.param("p") == std::optional<std::string>("v"));
  CHECK(run.data.tags.empty());
  REQUIRE(run.outputs.model_outputs.size() == 1);
  CHECK(run.outputs.model_outputs[0].step == 3);

  auto minimal = parse_run_response(R"({"run":{"info":{"run_id":"r","status":3}}})");
  CHECK(minimal.info.status == RunStatus::kFinished);  // enum by number
  CHECK_FALSE(minimal.info.end_time.has_value());
  CHECK(minimal.data.metrics.empty());
}

TEST_CASE("readers refuse what is not a JSON object", "[json]") {
  CHECK_THROWS_AS(parse_run_response("<html>oops</html>"), ParseError);
  CHECK_THROWS_AS(parse_run_response("[1,2]"), ParseError);
  CHECK_THROWS_AS(parse_run_response("{}"), ParseError);  // no "run"
  CHECK_THROWS_AS(parse_experiment_id_response("{}"), ParseError);
  CHECK_NOTHROW(parse_empty_response("{}", "x"));
  CHECK_THROWS_AS(parse_empty_response("OK", "x"), ParseError);
}

TEST_CASE("error bodies: MLflow JSON parsed, anything else reported as unparsed", "[json]") {
  auto e = parse_error_body(
      R"({"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 'x' not found","sqlstate":"KAM00","error_class":"Y"})");
  CHECK(e.parsed);
  CHECK(e.error_code == "RESOURCE_DOES_NOT_EXIST");
  CHECK(e.message == "Run 'x' not found");
  CHECK_FALSE(parse_error_body("Invalid Host header - possible DNS rebinding attack detected").parsed);
  CHECK_FALSE(parse_error_body("").parsed);
}

TEST_CASE("search pages carry the next page token", "[json]") {
  auto page = parse_search_experiments(
      R"({"experiments":[{"experiment_id":"1","name":"a","tags":[{"key":"k","value":"v"}],"creation_time":12}],"next_page_token":"tok=="})");
  REQUIRE(page.items.size() == 1);
  CHECK(page.items[0].tag("k") == std::optional<std::string>("v"));
  CHECK(page.items[0].creation_time == 12);
  CHECK(page.next_page_token == "tok==");
  CHECK(parse_search_runs("{}").items.empty());
}

TEST_CASE("MLFLOW_RUN_CONTEXT-style string maps", "[json]") {
  auto tags = parse_string_map(R"({"team":"vision","a.b":"c"})", "MLFLOW_RUN_CONTEXT");
  REQUIRE(tags.size() == 2);
  CHECK(tags[0].key == "team");
  CHECK(tags[0].value == "vision");
  CHECK_THROWS_AS(parse_string_map(R"({"n":1})", "MLFLOW_RUN_CONTEXT"), ParseError);
}

TEST_CASE("readers: an int64 field given as an out-of-range double falls back, without UB", "[json]") {
  // Found by the fuzzer (UBSan: 1.79769e+308 is outside the range of 'long').
  auto page = parse_metric_history(
      R"({"metrics":[{"key":"m","value":1,"timestamp":1.7976931348623157e308,"step":-1e300},{"key":"n","step":12.0}]})");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].timestamp == 0);
  CHECK(page.items[0].step == 0);
  CHECK(page.items[1].step == 12);
}
