// Synchronous log_batch of a large volume: one call, split by the client into requests
// within MLflow's limits, read back point by point.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <string>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/fresh_run.hpp"

using mlflowpp::Metric;
using mlflowpp::Param;
using mlflowpp::RunTag;

TEST_CASE("log_batch: 2500 metrics, 250 params and 250 tags in one call", "[integration][logging]") {
  if (!testing::have_server()) return;
  auto [client, exp, id] = support::fresh_run("itest-batch-volume");
  const int64_t base_ts = testing::now_ms() - 100000;

  constexpr int kKeys = 5, kPoints = 500, kParams = 250, kTags = 250;
  std::vector<Metric> metrics;
  // Keys interleaved, as a training loop logs them.
  for (int i = 0; i < kPoints; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      Metric m;
      m.key = "m" + std::to_string(k);
      m.step = i;
      m.timestamp = base_ts + i * 7 + k;
      m.value = std::sin(0.001 * (i + 1) * (k + 1)) * 1000.0 + k;  // not "nice" doubles
      metrics.push_back(m);
    }
  }
  REQUIRE(metrics.size() == 2500);
  std::vector<Param> params;
  for (int i = 0; i < kParams; ++i)
    params.push_back({"p" + std::to_string(i), "value-" + std::to_string(i * 31)});
  std::vector<RunTag> tags;
  for (int i = 0; i < kTags; ++i) tags.push_back({"t" + std::to_string(i), "tag value " + std::to_string(i)});

  client.log_batch(id, metrics, params, tags);

  const auto run = client.get_run(id);
  REQUIRE(run.data.params.size() == kParams);
  for (const auto& p : params) CHECK(run.data.param(p.key) == std::optional<std::string>(p.value));
  for (const auto& t : tags) CHECK(run.data.tag(t.key) == std::optional<std::string>(t.value));
  std::size_t user_tags = 0;
  for (const auto& t : run.data.tags) user_tags += t.key.rfind("mlflow.", 0) != 0;
  CHECK(user_tags == kTags);
  REQUIRE(run.data.metrics.size() == kKeys);

  std::size_t mismatches = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "m" + std::to_string(k);
    auto h = itest::sorted_history(client, id, key);
    REQUIRE(h.size() == kPoints);
    for (int i = 0; i < kPoints; ++i) {
      const Metric& want = metrics[static_cast<std::size_t>(i * kKeys + k)];
      if (h[i].step != want.step || h[i].timestamp != want.timestamp || h[i].value != want.value) {
        if (++mismatches <= 5)
          FAIL_CHECK(key << " point " << i << ": got (step " << h[i].step << ", ts " << h[i].timestamp
                         << ", value " << h[i].value << "), want (" << want.step << ", " << want.timestamp
                         << ", " << want.value << ")");
      }
    }
    // The latest point reported by get_run is the one at the highest step.
    auto latest = run.data.metric(key);
    REQUIRE(latest.has_value());
    CHECK(latest->step == kPoints - 1);
    CHECK(latest->value == metrics[static_cast<std::size_t>((kPoints - 1) * kKeys + k)].value);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("log_batch: an invalid item refuses the whole call before sending", "[integration][logging]") {
  if (!testing::have_server()) return;
  auto [client, exp, id] = support::fresh_run("itest-batch-invalid");

  std::vector<Metric> metrics;
  for (int i = 0; i < 1500; ++i) metrics.push_back(itest::metric("ok", 1.0 * i, testing::now_ms(), i));
  std::vector<Param> params = {{"good", "1"}, {"bad//key", "2"}};
  auto err =
      itest::thrown<mlflowpp::InvalidArgumentError>([&] { client.log_batch(id, metrics, params, {}); });
  REQUIRE(err.has_value());
  CHECK(itest::contains(err->what(), "bad//key"));

  const auto run = client.get_run(id);
  CHECK(run.data.metrics.empty());
  CHECK(run.data.params.empty());
}

TEST_CASE("log_batch: a metric history longer than one get-history page (25000 points)",
          "[integration][logging]") {
  if (!testing::have_server()) return;
  auto [client, exp, id] = support::fresh_run("itest-batch-long-history");
  const int64_t base_ts = testing::now_ms() - 1000000;
  constexpr int kPoints = 25000 + 1234;
  std::vector<Metric> metrics;
  metrics.reserve(kPoints);
  for (int i = 0; i < kPoints; ++i) metrics.push_back(itest::metric("long", 0.5 * i, base_ts + i, i));
  client.log_batch(id, metrics);

  auto h = itest::sorted_history(client, id, "long");
  REQUIRE(h.size() == kPoints);
  std::size_t bad = 0;
  for (int i = 0; i < kPoints; ++i)
    bad += h[i].step != i || h[i].timestamp != base_ts + i || h[i].value != 0.5 * i;
  CHECK(bad == 0);
}

TEST_CASE("log_batch: 150 params of 6000 multi-byte characters (2.7 MB) in one call",
          "[integration][logging]") {
  if (!testing::have_server()) return;
  auto [client, exp, id] = support::fresh_run("itest-batch-bytes");
  std::vector<Param> params;
  std::vector<RunTag> tags;
  for (int i = 0; i < 150; ++i) {
    std::string v;
    for (int j = 0; j < 6000; ++j) v += (j == 0) ? std::to_string(i % 10) : std::string("损");
    params.push_back({"big" + std::to_string(i), v});  // 17998 bytes each, 2.7 MB in all
  }
  for (int i = 0; i < 60; ++i)
    tags.push_back({"bigtag" + std::to_string(i), std::string(8000, 'a' + i % 26)});
  client.log_batch(id, {}, params, tags);
  const auto run = client.get_run(id);
  REQUIRE(run.data.params.size() == params.size());
  std::size_t bad = 0;
  for (const auto& p : params) bad += run.data.param(p.key) != std::optional<std::string>(p.value);
  for (const auto& t : tags) bad += run.data.tag(t.key) != std::optional<std::string>(t.value);
  CHECK(bad == 0);
}
