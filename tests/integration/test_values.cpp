// Values at the edges: special doubles, extreme steps and timestamps, non-ASCII keys,
// values at and over MLflow's length limits, and JSON-hostile strings.
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"

using mlflowpp::InvalidArgumentError;
using mlflowpp::Metric;
using mlflowpp::TimestampMs;

namespace {

using itest::repeat;

const mlflowpp::Metric* at_step(const std::vector<Metric>& h, int64_t step) {
  for (const auto& m : h)
    if (m.step == step) return &m;
  return nullptr;
}

// Every character JSON (and JavaScript, and HTML) makes special, plus multi-byte UTF-8.
const std::string kHostile =
    "quote\" backslash\\ slash/ newline\n cr\r tab\t bell\x07 ctrl\x01 us\x1f del\x7f "
    "nbsp\u00a0 ls\u2028 ps\u2029 bom\ufeff emoji\U0001F600 </script> {\"json\": [1, \"2\"]} "
    "\\u0041 \\\" %00 %s {} end";

}  // namespace

TEST_CASE("values: NaN, infinities and other doubles", "[integration][values]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-values-doubles"));
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();

  const std::vector<double> values = {
      nan,     inf,    -inf,    DBL_MAX, -DBL_MAX,           4.9406564584124654e-324,
      DBL_MIN, 0.1,    -1e-300, 1.0 / 3, 123456789.12345679, 9007199254740993.0,
      0.0,     -2.5e15};
  // The first half synchronously one by one, the rest in one log_batch.
  std::vector<Metric> batch;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i < values.size() / 2) {
      client.log_metric(id, "special", values[i], TimestampMs(ts + static_cast<int64_t>(i)),
                        static_cast<int64_t>(i));
    } else {
      batch.push_back(
          itest::metric("special", values[i], ts + static_cast<int64_t>(i), static_cast<int64_t>(i)));
    }
  }
  client.log_batch(id, batch);

  auto h = itest::sorted_history(client, id, "special");
  REQUIRE(h.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double want = values[i];
    const double got = h[i].value;
    INFO("step " << i << ": logged " << want << ", read back " << got);
    CHECK(h[i].step == static_cast<int64_t>(i));
    CHECK(h[i].timestamp == ts + static_cast<int64_t>(i));
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
    } else if (std::isinf(want)) {
      // SQL stores keep ±Inf as ±DBL_MAX (1.7976931348623157e308); other stores keep ±Inf.
      const double max = want > 0 ? DBL_MAX : -DBL_MAX;
      CHECK((got == want || got == max));
    } else {
      CHECK(got == want);
    }
  }
  // The SQL server of the tests stores +Inf as exactly DBL_MAX and -Inf as -DBL_MAX.
  CHECK(h[1].value == DBL_MAX);
  CHECK(h[2].value == -DBL_MAX);

  // NaN as the latest value of a key, through get_run.
  client.log_metric(id, "only_nan", nan, TimestampMs(ts), 0);
  auto latest = client.get_run(id).data.metric("only_nan");
  REQUIRE(latest.has_value());
  CHECK(std::isnan(latest->value));
}

TEST_CASE("values: extreme steps and exact timestamps", "[integration][values]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-values-steps"));
  const std::string id = client.create_run(exp).info.run_id;

  const int64_t steps[] = {0,
                           -5,
                           (int64_t{1} << 31) + 7,
                           (int64_t{1} << 53) + 1,  // 9007199254740993: not a double
                           std::numeric_limits<int64_t>::max(),
                           -(int64_t{1} << 53) - 3};
  const int64_t timestamps[] = {0,
                                1,
                                testing::now_ms(),
                                (int64_t{1} << 41) + 3,
                                253402300799999,  // 9999-12-31T23:59:59.999Z
                                (int64_t{1} << 53) + 1};
  std::vector<Metric> batch;
  for (std::size_t i = 0; i < 6; ++i) {
    client.log_metric(id, "sync_steps", static_cast<double>(i), TimestampMs(timestamps[i]), steps[i]);
    batch.push_back(itest::metric("batch_steps", static_cast<double>(i), timestamps[i], steps[i]));
  }
  client.log_batch(id, batch);

  for (const char* key : {"sync_steps", "batch_steps"}) {
    INFO("key " << key);
    auto h = client.get_metric_history(id, key);
    REQUIRE(h.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
      INFO("step " << steps[i]);
      const Metric* m = at_step(h, steps[i]);
      REQUIRE(m != nullptr);
      CHECK(m->timestamp == timestamps[i]);
      CHECK(m->value == static_cast<double>(i));
    }
  }
  CHECK(at_step(client.get_metric_history(id, "sync_steps"), int64_t{9007199254740993}) != nullptr);
  CHECK(at_step(client.get_metric_history(id, "sync_steps"), int64_t{9007199254740992}) == nullptr);

  // get_run's latest point is the one at the highest step: INT64_MAX.
  auto latest = client.get_run(id).data.metric("batch_steps");
  REQUIRE(latest.has_value());
  CHECK(latest->step == std::numeric_limits<int64_t>::max());
  CHECK(latest->value == 4.0);
  CHECK(latest->timestamp == 253402300799999);
}

TEST_CASE("values: non-ASCII keys and keys with / . - space :", "[integration][values]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-values-keys"));
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();

  const std::vector<std::string> keys = {
      "grün/loss",  "损失",       "émoji-ok",      "with/slash",          "with.dot", "with-dash",
      "with space", "with:colon", "a/b.c-d e:f_g", std::string(250, 'k'), "ключ/ü/é"};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    client.log_metric(id, k, 0.5 + static_cast<double>(i), TimestampMs(ts), static_cast<int64_t>(i));
    client.log_param(id, k, "param of " + k);
    client.set_tag(id, k, "tag of " + k);
  }
  // A key over 250 characters is refused before sending.
  auto long_key =
      itest::thrown<InvalidArgumentError>([&] { client.log_metric(id, std::string(251, 'k'), 1.0); });
  REQUIRE(long_key.has_value());
  CHECK(itest::contains(long_key->what(), "250"));

  const auto run = client.get_run(id);
  CHECK(run.data.metrics.size() == keys.size());
  CHECK(run.data.params.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    INFO("key " << k);
    CHECK(run.data.param(k) == std::optional<std::string>("param of " + k));
    CHECK(run.data.tag(k) == std::optional<std::string>("tag of " + k));
    auto m = run.data.metric(k);
    REQUIRE(m.has_value());
    CHECK(m->value == 0.5 + static_cast<double>(i));
    // The key goes into a query string here: it must be encoded correctly.
    auto h = client.get_metric_history(id, k);
    REQUIRE(h.size() == 1);
    CHECK(h[0].key == k);
    CHECK(h[0].step == static_cast<int64_t>(i));
    CHECK(h[0].timestamp == ts);
  }
}

TEST_CASE("values: param and tag values at and over the length limits", "[integration][values]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-values-limits"));
  const std::string id = client.create_run(exp).info.run_id;

  const std::string p6000 = std::string(6000, 'x');
  const std::string p6000e = repeat("é", 6000);     // 6000 characters, 12000 bytes
  const std::string p6000cjk = repeat("损", 6000);  // 6000 characters, 18000 bytes
  const std::string t8000 = std::string(8000, 'y');
  const std::string t8000e = repeat("é", 8000);
  client.log_param(id, "p6000", p6000);
  client.log_param(id, "p6000e", p6000e);
  client.log_batch(id, {}, {{"p6000cjk", p6000cjk}}, {{"t8000e", t8000e}});
  client.set_tag(id, "t8000", t8000);

  auto check_refused = [](const std::optional<InvalidArgumentError>& err, const std::string& key,
                          const std::string& limit, const std::string& size) {
    REQUIRE(err.has_value());
    const std::string what = err->what();
    INFO(what);
    CHECK(itest::contains(what, "'" + key + "'"));
    CHECK(itest::contains(what, limit));
    CHECK(itest::contains(what, size));
  };
  check_refused(
      itest::thrown<InvalidArgumentError>([&] { client.log_param(id, "p6001", std::string(6001, 'x')); }),
      "p6001", "6000", "6001");
  check_refused(
      itest::thrown<InvalidArgumentError>([&] { client.log_param(id, "p6001e", repeat("é", 6001)); }),
      "p6001e", "6000", "6001");
  check_refused(itest::thrown<InvalidArgumentError>([&] {
                  client.log_batch(id, {}, {{"p6001b", std::string(6001, 'x')}}, {});
                }),
                "p6001b", "6000", "6001");
  check_refused(
      itest::thrown<InvalidArgumentError>([&] { client.set_tag(id, "t8001", std::string(8001, 'y')); }),
      "t8001", "8000", "8001");
  check_refused(itest::thrown<InvalidArgumentError>([&] { client.set_tag(id, "t8001e", repeat("é", 8001)); }),
                "t8001e", "8000", "8001");

  const auto run = client.get_run(id);
  CHECK(run.data.params.size() == 3);
  CHECK(run.data.param("p6000") == std::optional<std::string>(p6000));
  CHECK(run.data.param("p6000e") == std::optional<std::string>(p6000e));
  CHECK(run.data.param("p6000cjk") == std::optional<std::string>(p6000cjk));
  CHECK(run.data.tag("t8000") == std::optional<std::string>(t8000));
  CHECK(run.data.tag("t8000e") == std::optional<std::string>(t8000e));
  CHECK_FALSE(run.data.tag("t8001").has_value());
  CHECK_FALSE(run.data.tag("t8001e").has_value());
}

TEST_CASE("values: JSON-hostile strings round-trip exactly", "[integration][values]") {
  if (!testing::have_server()) return;
  auto client = testing::client();
  const std::string exp_name = testing::unique_name("itest-values-hostile");
  const std::string exp = client.create_experiment(exp_name, "", {{"hostile", kHostile}});
  mlflowpp::CreateRunOptions co;
  co.run_name = "run " + kHostile;
  co.tags = {{"create_tag", kHostile}};
  const std::string id = client.create_run(exp, co).info.run_id;

  client.log_param(id, "sync_param", kHostile);
  client.set_tag(id, "sync_tag", kHostile);
  client.log_batch(id, {}, {{"batch_param", kHostile + "b"}}, {{"batch_tag", kHostile + "b"}});
  client.set_experiment_tag(exp, "hostile2", kHostile + "2");

  const auto run = client.get_run(id);
  CHECK(run.info.run_name == "run " + kHostile);
  CHECK(run.data.tag("mlflow.runName") == std::optional<std::string>("run " + kHostile));
  CHECK(run.data.tag("create_tag") == std::optional<std::string>(kHostile));
  CHECK(run.data.param("sync_param") == std::optional<std::string>(kHostile));
  CHECK(run.data.tag("sync_tag") == std::optional<std::string>(kHostile));
  CHECK(run.data.param("batch_param") == std::optional<std::string>(kHostile + "b"));
  CHECK(run.data.tag("batch_tag") == std::optional<std::string>(kHostile + "b"));
  const auto e = client.get_experiment(exp);
  CHECK(e.tag("hostile") == std::optional<std::string>(kHostile));
  CHECK(e.tag("hostile2") == std::optional<std::string>(kHostile + "2"));

  // Through search (a different response path) and a filter on the value itself.
  mlflowpp::SearchRunsOptions so;
  so.filter_string = "params.sync_param LIKE '%</script>%'";
  auto found = client.search_all_runs({exp}, so);
  REQUIRE(found.size() == 1);
  CHECK(found[0].data.param("sync_param") == std::optional<std::string>(kHostile));

  // Invalid UTF-8 is refused before sending.
  CHECK_THROWS_AS(client.set_tag(id, "bad_utf8", std::string("\xff\xfe")), InvalidArgumentError);
}
