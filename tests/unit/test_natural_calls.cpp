// Issue 15 point 4, "natural C++ calls": params from numbers and bools as Python's str() writes
// them (ParamValue, detail::python_str), log_params / log_metrics over any map or range, and
// the run-level artifact and dataset calls of ActiveRun.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/client_access.hpp"
#include "detail/core/python_str.hpp"
#include "fake_transport.hpp"
#include "mlflowpp/active_run.hpp"
#include "mlflowpp/client.hpp"
#include "mlflowpp/param_value.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;
using mlflowpp::detail::HttpRequest;

// Compile-level checks: what converts to a ParamValue and what does not.
static_assert(std::is_convertible_v<const char*, ParamValue>);
static_assert(std::is_convertible_v<std::string, ParamValue>);
static_assert(std::is_convertible_v<std::string_view, ParamValue>);
static_assert(std::is_convertible_v<bool, ParamValue>);
static_assert(std::is_convertible_v<int, ParamValue>);
static_assert(std::is_convertible_v<unsigned long long, ParamValue>);
static_assert(std::is_convertible_v<int8_t, ParamValue>);  // signed char: a number
static_assert(std::is_convertible_v<uint8_t, ParamValue>);
static_assert(std::is_convertible_v<int16_t, ParamValue>);
static_assert(std::is_convertible_v<float, ParamValue>);
static_assert(std::is_convertible_v<long double, ParamValue>);
static_assert(!std::is_convertible_v<char, ParamValue>);
static_assert(!std::is_convertible_v<wchar_t, ParamValue>);
static_assert(!std::is_convertible_v<char16_t, ParamValue>);
static_assert(!std::is_convertible_v<char32_t, ParamValue>);
static_assert(!std::is_convertible_v<int*, ParamValue>);

TEST_CASE("python_str: doubles as Python's repr(float), a table obtained from Python 3", "[natural]") {
  // Each right-hand side is what python3 printed for str() of the same value.
  const std::vector<std::pair<double, std::string>> table = {
      {0.1, "0.1"},
      {10.0, "10.0"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {1e-4, "0.0001"},
      {1e-5, "1e-05"},
      {0.00012345, "0.00012345"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
      {-std::numeric_limits<double>::quiet_NaN(), "nan"},
      {2.5, "2.5"},
      {9999999999999998.0, "9999999999999998.0"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-1.5e300, "-1.5e+300"},
      {9223372036854775808.0, "9.223372036854776e+18"},
      {1e22, "1e+22"},
      {100.0, "100.0"},
      {123.456, "123.456"},
  };
  for (const auto& [v, want] : table) {
    INFO(want);
    CHECK(detail::python_str(v) == want);
    CHECK(ParamValue(v).str() == want);
  }
}

TEST_CASE("python_str: floats from their own shortest digits, ints, bools", "[natural]") {
  CHECK(ParamValue(0.1f).str() == "0.1");  // str(numpy.float32(0.1))
  CHECK(ParamValue(1.1f).str() == "1.1");
  CHECK(ParamValue(2.5f).str() == "2.5");
  CHECK(ParamValue(3.4028235e38f).str() == "3.4028235e+38");
  CHECK(ParamValue(1e-45f).str() == "1e-45");  // the smallest float32 denormal
  CHECK(ParamValue(1e-5f).str() == "1e-05");
  CHECK(ParamValue(16777216.0f).str() == "16777216.0");  // Python's layout (numpy says 1.6777216e+07)
  CHECK(ParamValue(0.5L).str() == "0.5");
  CHECK(ParamValue(std::numeric_limits<int64_t>::max()).str() == "9223372036854775807");
  CHECK(ParamValue(std::numeric_limits<int64_t>::min()).str() == "-9223372036854775808");
  CHECK(ParamValue(std::numeric_limits<uint64_t>::max()).str() == "18446744073709551615");
  CHECK(ParamValue(std::numeric_limits<int8_t>::min()).str() == "-128");
  CHECK(ParamValue(std::numeric_limits<int8_t>::max()).str() == "127");
  CHECK(ParamValue(std::numeric_limits<uint8_t>::max()).str() == "255");
  CHECK(ParamValue(int16_t(-32768)).str() == "-32768");
  CHECK(ParamValue(10).str() == "10");
  CHECK(ParamValue(0u).str() == "0");
  CHECK(ParamValue(true).str() == "True");
  CHECK(ParamValue(false).str() == "False");
  CHECK(ParamValue("mlp").str() == "mlp");
  CHECK(ParamValue(std::string("a b")).str() == "a b");
  CHECK(ParamValue(std::string_view("x")).str() == "x");
  CHECK(ParamValue(static_cast<const char*>(nullptr)).str() == "None");
  // Equal values always give equal text, so a re-logged param never conflicts.
  CHECK(ParamValue(0.1) == ParamValue(1.0 / 10.0));
  CHECK(ParamValue(int64_t(10)) == ParamValue(10u));
}

TEST_CASE("python_str: 20000 random doubles agree with python3's repr", "[natural]") {
  const char* env = std::getenv("MLFLOWPP_PYTHON");
  const std::string python = env != nullptr && *env != '\0' ? env : "python3";
  if (std::system((python + " -c pass >/dev/null 2>&1").c_str()) != 0) {
    WARN("skipped: no python3 to compare with");
    return;
  }
  support::TempDir dir("python-str");
  const std::string in = (dir / "values.txt").string();
  {
    std::ofstream out(in);
    std::mt19937_64 rng(20240515);
    int written = 0;
    while (written < 20000) {
      const uint64_t bits = rng();
      double v;
      std::memcpy(&v, &bits, sizeof v);
      if (!std::isfinite(v)) continue;
      out << std::hex << bits << std::dec << ' ' << detail::python_str(v) << '\n';
      ++written;
    }
  }
  const std::string script = (dir / "check.py").string();
  std::ofstream(script) << "import struct, sys\n"
                           "bad = 0\n"
                           "for line in open(sys.argv[1]):\n"
                           "    h, ours = line.split()\n"
                           "    v = struct.unpack('<d', int(h, 16).to_bytes(8, 'little'))[0]\n"
                           "    if repr(v) != ours or str(v) != ours:\n"
                           "        bad += 1\n"
                           "        if bad <= 5: print('mismatch', h, repr(v), ours)\n"
                           "sys.exit(1 if bad else 0)\n";
  CHECK(std::system((python + " " + script + " " + in).c_str()) == 0);
}

namespace {

std::string str(simdjson::dom::element e) { return std::string(std::string_view(e)); }

/// A Client over a fake transport that answers every request with {}, and what its log-batch
/// requests carried.
struct RunRig {
  support::TempDir spool{"natural-spool"};  // a spool of its own: no other process's journal
  std::shared_ptr<testing::FakeTransport> transport =
      std::make_shared<testing::FakeTransport>([](const HttpRequest& r) {
        if (r.url.find("/runs/update") != std::string::npos)
          return testing::ok(R"({"run_info":{"run_id":"r1","status":"FINISHED"}})");
        return testing::ok();
      });
  Client client = mlflowpp::detail::ClientAccess::make(options(), transport);

  ClientOptions options() const {
    ClientOptions o = testing::fake_options();
    o.logger.spool.dir = spool.str();
    return o;
  }

  ActiveRun run(const std::string& id = "r1", bool offline = false) {
    RunInfo info;
    info.run_id = id;
    info.experiment_id = "0";
    return ActiveRun(client, info, offline);
  }
  /// key -> value of every param sent in log-batch requests.
  std::map<std::string, std::string> params() const {
    std::map<std::string, std::string> out;
    simdjson::dom::parser parser;
    for (const auto& r : transport->requests()) {
      if (r.url.find("/runs/log-batch") == std::string::npos) continue;
      simdjson::dom::element doc = parser.parse(r.body);
      for (auto p : doc["params"].get_array()) out[str(p["key"])] = str(p["value"]);
    }
    return out;
  }
  /// key -> value of every metric sent (the last point of each key).
  std::map<std::string, double> metrics() const {
    std::map<std::string, double> out;
    simdjson::dom::parser parser;
    for (const auto& r : transport->requests()) {
      if (r.url.find("/runs/log-batch") == std::string::npos) continue;
      simdjson::dom::element doc = parser.parse(r.body);
      for (auto m : doc["metrics"].get_array()) out[str(m["key"])] = double(m["value"]);
    }
    return out;
  }
  std::vector<HttpRequest> requests_to(const std::string& endpoint) const {
    std::vector<HttpRequest> out;
    for (const auto& r : transport->requests())
      if (r.url.find(endpoint) != std::string::npos) out.push_back(r);
    return out;
  }
};

}  // namespace

TEST_CASE("ActiveRun log_param and log_params enqueue numbers as Python's str()", "[natural]") {
  RunRig rig;
  {
    ActiveRun run = rig.run();
    run.log_param("lr", 0.1);
    run.log_param("epochs", 10);
    run.log_param("amp", true);
    run.log_param("eps", 1e-5);
    run.log_param("f32", 0.1f);
    run.log_param("name", "mlp");
    run.log_param("s", std::string("std string"));
    run.log_param("sv", std::string_view("view"));
    run.log_params({{"p_lr", 0.1}, {"p_epochs", 10}, {"p_name", "mlp"}, {"p_big", 1e16}});
    run.log_params(std::map<std::string, int>{{"m_int", 3}});
    run.log_params(std::unordered_map<std::string, double>{{"u_double", 10.0}});
    run.log_params(std::vector<std::pair<std::string, std::string>>{{"v_str", "x"}});
    run.log_params(std::map<std::string, std::string>{{"m_str", "y"}});
    run.log_params(std::vector<std::pair<const char*, bool>>{{"v_bool", false}});
    REQUIRE(run.flush(std::chrono::seconds(10)).complete);
    (void)run.end();
  }
  const std::map<std::string, std::string> want = {
      {"lr", "0.1"},     {"epochs", "10"},    {"amp", "True"}, {"eps", "1e-05"},     {"f32", "0.1"},
      {"name", "mlp"},   {"s", "std string"}, {"sv", "view"},  {"p_lr", "0.1"},      {"p_epochs", "10"},
      {"p_name", "mlp"}, {"p_big", "1e+16"},  {"m_int", "3"},  {"u_double", "10.0"}, {"v_str", "x"},
      {"m_str", "y"},    {"v_bool", "False"},
  };
  CHECK(rig.params() == want);
}

TEST_CASE("ActiveRun log_metrics takes any map or range of key and arithmetic value", "[natural]") {
  RunRig rig;
  {
    ActiveRun run = rig.run();
    run.log_metrics({{"il_a", 1}, {"il_b", 2.5f}}, 1);
    run.log_metrics(std::map<std::string, float>{{"map_float", 0.5f}}, 2);
    run.log_metrics(std::unordered_map<std::string, int>{{"umap_int", 7}});
    run.log_metrics(std::vector<std::pair<const char*, double>>{{"vec_double", 0.25}});
    run.log_metrics(std::map<std::string, double>{{"map_double", 1.5}});
    run.log_metrics(std::vector<std::pair<std::string_view, int64_t>>{{"vec_i64", int64_t(1) << 40}});
    run.log_metrics(std::map<std::string, bool>{{"map_bool", true}});
    const FlushResult f = run.flush(std::chrono::seconds(10));
    INFO("pending " << f.pending << " rejected " << f.rejected << " dropped " << f.dropped);
    REQUIRE(f.complete);
    (void)run.end();
  }
  const std::map<std::string, double> want = {
      {"il_a", 1.0},        {"il_b", 2.5},       {"map_float", 0.5},           {"umap_int", 7.0},
      {"vec_double", 0.25}, {"map_double", 1.5}, {"vec_i64", 1099511627776.0}, {"map_bool", 1.0},
  };
  CHECK(rig.metrics() == want);
}

TEST_CASE("ActiveRun artifact and dataset calls use the run's id, and refuse an offline run", "[natural]") {
  support::TempDir dir("natural-artifacts");
  RunRig rig;
  {
    ActiveRun run = rig.run("r1");
    run.log_input(DatasetInput{{}, Dataset{"digits", "d1", "code", "{}", "", ""}});
    REQUIRE(rig.requests_to("/runs/log-inputs").size() == 1);
    CHECK(rig.requests_to("/runs/log-inputs")[0].body.find("\"run_id\":\"r1\"") != std::string::npos);
    (void)run.end();
  }
  {
    ActiveRun offline = rig.run("offline-0123456789abcdef0123456789abcdef", true);
    const std::size_t before = rig.transport->requests().size();
    CHECK_THROWS_WITH(offline.log_text("hi", "notes.txt"), Catch::Contains("is offline"));
    CHECK_THROWS_AS(offline.log_dict(R"({"a": 1})", "d.json"), Error);
    CHECK_THROWS_AS(offline.log_input(DatasetInput{}), Error);
    CHECK_THROWS_AS(offline.log_artifact((dir / "none.txt").string()), Error);
    CHECK(rig.transport->requests().size() == before);  // nothing was sent
    // The fake answers {} to everything, so the logger cannot create this run: leave its
    // items in the (temporary) spool instead of waiting the default 30 s at shutdown.
    (void)rig.client.async_logger().shutdown(std::chrono::milliseconds(100));
    (void)offline.end(RunStatus::kFinished, std::chrono::milliseconds(0));
  }
}
