// Bad input (issue #4, item 7), each kind through the synchronous Client and through the
// AsyncLogger, with the exact result on the real server. Already covered elsewhere and not
// repeated here: NaN/±Inf and extreme steps through Client::log_metric and log_batch, and
// JSON-hostile strings (test_values.cpp); ASCII 6000/6001 and 8000/8001 values, 'é' and
// '损' values (test_values.cpp); invalid keys and the same param twice through the
// synchronous calls (test_runs.cpp); the same param twice with the same or a different
// value through the async logger (test_lifecycle.cpp); one log_batch call over every
// per-request limit (2500/250/250, test_logging.cpp).
//
// What the real server (MLflow 3.18, SQL store) does with the same input, sent raw:
// - a param value over 6000 or a tag value over 8000 characters is silently truncated to
//   the limit (MLFLOW_TRUNCATE_LONG_VALUES is on by default) and answered 200; mlflowpp
//   refuses it instead, naming the key, so that nothing is lost without a word;
// - both limits count characters (code points), not bytes: 6000 four-byte characters
//   (24000 bytes) are stored whole;
// - keys of 251 characters, 'a//b', '/a', 'a/', '..', 'x@y' and '' are answered 400
//   INVALID_PARAMETER_VALUE; a key of 250 'é' (500 bytes) is stored;
// - a negative timestamp is answered 400 INVALID_PARAMETER_VALUE;
// - ±Inf is stored as ±DBL_MAX, NaN as NaN.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <mlflowpp/mlflowpp.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/itest_util.hpp"
#include "integration/server.hpp"
#include "support/scoped.hpp"

using mlflowpp::InvalidArgumentError;
using mlflowpp::LogError;
using mlflowpp::Metric;
using mlflowpp::Param;
using mlflowpp::RunTag;
using mlflowpp::ServerError;
using mlflowpp::TimestampMs;

namespace {

using itest::repeat;

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// True for well-formed UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

const Metric* at_step(const std::vector<Metric>& h, int64_t step) {
  const Metric* found = nullptr;
  for (const auto& m : h) {
    if (m.step != step) continue;
    if (found != nullptr) return nullptr;  // twice: not "exactly once"
    found = &m;
  }
  return found;
}

const int64_t kSteps[] = {0, -5, (int64_t{1} << 31) + 7, (int64_t{1} << 53) + 1,
                          std::numeric_limits<int64_t>::max()};

// The keys the server and the client both refuse.
std::vector<std::string> bad_keys() {
  return {"a//b", "/a", "a/", "..", "x@y", "", std::string(251, 'k'), repeat("é", 251)};
}

// Keys at the limit and with every allowed punctuation character, ASCII and not.
std::vector<std::string> good_keys() {
  return {std::string(250, 'k'), repeat("é", 250), repeat("日", 250), "with/slash",  "with.dot",
          "with-dash",           "with space",     "with:colon",      "grün/straße", "日本語/損失.値-x y:z"};
}

// What a message about `key` must show: the key itself when it is short, else the limit
// and the size.
void check_names_key(const std::string& message, const std::string& key) {
  INFO("message: " << message);
  CHECK(valid_utf8(message));
  if (key.empty()) {
    CHECK(itest::contains(message, "empty"));
  } else if (key.size() <= 80) {
    CHECK(itest::contains(message, "'" + key + "'"));
  } else {
    CHECK(itest::contains(message, key.substr(0, 20)));
    CHECK(itest::contains(message, "251"));
    CHECK(itest::contains(message, "250"));
  }
}

}  // namespace

TEST_CASE("bad input: NaN and infinities at extreme steps, async and log_batch, read back exactly",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-doubles"));
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<std::string, double>> values = {
      {"nan", nan}, {"pinf", inf}, {"ninf", -inf}, {"third", 1.0 / 3}};

  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(id);
  std::vector<Metric> batch;
  for (const auto& [key, v] : values) {
    for (std::size_t i = 0; i < 5; ++i) {
      logger.log_metric(handle, "async_" + key, v, kSteps[i], ts + static_cast<int64_t>(i));
      batch.push_back(itest::metric("batch_" + key, v, ts + static_cast<int64_t>(i), kSteps[i]));
    }
  }
  client.log_batch(id, batch);
  REQUIRE(logger.flush().ok());
  CHECK(errors.errors().empty());
  CHECK(logger.stats().delivered == values.size() * 5);

  for (const char* path : {"async_", "batch_"}) {
    for (const auto& [key, v] : values) {
      const std::string k = path + key;
      INFO("key " << k);
      const auto h = client.get_metric_history(id, k);
      REQUIRE(h.size() == 5);
      for (std::size_t i = 0; i < 5; ++i) {
        INFO("step " << kSteps[i]);
        const Metric* m = at_step(h, kSteps[i]);
        REQUIRE(m != nullptr);
        CHECK(m->timestamp == ts + static_cast<int64_t>(i));
        if (std::isnan(v)) {
          CHECK(std::isnan(m->value));
        } else if (std::isinf(v)) {
          CHECK(m->value == (v > 0 ? DBL_MAX : -DBL_MAX));  // the SQL store's ±Inf
        } else {
          CHECK(m->value == v);
        }
      }
    }
  }
  // The latest point of a key is the one at INT64_MAX.
  const auto run = client.get_run(id);
  const auto latest = run.data.metric("async_nan");
  REQUIRE(latest.has_value());
  CHECK(latest->step == std::numeric_limits<int64_t>::max());
  CHECK(std::isnan(latest->value));
  CHECK(run.data.metrics.size() == 2 * values.size());
}

TEST_CASE("bad input: timestamps that look like seconds are logged as given, one warning on stderr",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  // The warning is printed once per process: this is the only test that logs such
  // timestamps (ctest also runs every test case in a process of its own).
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-seconds"));
  const std::string id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();

  std::string captured;
  {
    support::StderrCapture cap;
    client.log_metric(id, "secs_sync", 1.0, TimestampMs(1700000000), 0);
    client.log_metric(id, "secs_sync", 2.0, TimestampMs(1700000001), 1);
    client.log_batch(id, {itest::metric("secs_batch", 3.0, 1000000000, 0),
                          itest::metric("secs_batch", 4.0, 99999999999, 1)});
    logger.log_metric(id, "secs_async", 5.0, 0, 1700000002);
    logger.log_metric(id, "secs_async", 6.0, 1, 1234567890);
    const auto f = logger.flush();
    captured = cap.finish();
    CHECK(f.ok());
  }
  INFO("stderr:\n" << captured);
  CHECK(count_of(captured, "looks like seconds") == 1);
  CHECK(count_of(captured, "mlflowpp: warning") == 1);
  CHECK(itest::contains(captured, "'secs_sync'"));
  CHECK(itest::contains(captured, "1700000000"));
  CHECK(errors.errors().empty());
  CHECK(logger.stats().delivered == 2);

  const std::map<std::string, std::vector<std::pair<int64_t, double>>> want = {
      {"secs_sync", {{1700000000, 1.0}, {1700000001, 2.0}}},
      {"secs_batch", {{1000000000, 3.0}, {99999999999, 4.0}}},
      {"secs_async", {{1700000002, 5.0}, {1234567890, 6.0}}}};
  for (const auto& [key, points] : want) {
    INFO("key " << key);
    const auto h = itest::sorted_history(client, id, key);
    REQUIRE(h.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(h[i].step == static_cast<int64_t>(i));
      CHECK(h[i].timestamp == points[i].first);
      CHECK(h[i].value == points[i].second);
    }
  }
}

TEST_CASE("bad input: negative timestamps are refused, reported by the async logger, nothing sent",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-negative-ts"));
  const std::string id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(id);

  // Only refused items: the logger sends no request at all.
  const int64_t negatives[] = {-1, -1700000000000, std::numeric_limits<int64_t>::min() + 1};
  for (int i = 0; i < 3; ++i) logger.log_metric(handle, "neg", 1.0 + i, i, negatives[i]);
  const auto f = logger.flush();
  CHECK(f.complete);
  CHECK(f.rejected == 3);
  auto stats = logger.stats();
  CHECK(stats.rejected_invalid == 3);
  CHECK(stats.delivered == 0);
  CHECK(stats.requests == 0);
  auto errs = errors.errors();
  REQUIRE(errs.size() == 3);
  for (int i = 0; i < 3; ++i) {
    INFO("error " << i << ": " << errs[i].message);
    CHECK(errs[i].kind == LogError::Kind::kInvalid);
    CHECK(errs[i].key == "neg");
    CHECK(errs[i].run_id == id);
    CHECK(errs[i].items == 1);
    CHECK(errs[i].http_status == 0);
    CHECK(itest::contains(errs[i].message, "'neg'"));
    CHECK(itest::contains(errs[i].message, "timestamp " + std::to_string(negatives[i])));
  }

  // In one burst with valid points: only the negative one is refused. kNow (INT64_MIN) is
  // not a timestamp but "now".
  const int64_t t0 = testing::now_ms();
  logger.log_metric(handle, "pos", 1.0, 0, 5);
  logger.log_metric(handle, "neg2", 2.0, 0, -42);
  logger.log_metric(handle, "pos", 3.0, 1, 6);
  logger.log_metric(handle, "now", 4.0, 0, mlflowpp::AsyncLogger::kNow);
  CHECK(logger.flush().rejected == 4);
  stats = logger.stats();
  CHECK(stats.rejected_invalid == 4);
  CHECK(stats.delivered == 3);
  errs = errors.errors();
  REQUIRE(errs.size() == 4);
  CHECK(errs[3].key == "neg2");
  CHECK(itest::contains(errs[3].message, "-42"));

  // Synchronously: an exception naming the key, and a log_batch with one negative
  // timestamp sends nothing.
  auto sync = itest::thrown<InvalidArgumentError>(
      [&] { client.log_metric(id, "neg_sync", 1.0, TimestampMs(-1), 0); });
  REQUIRE(sync.has_value());
  CHECK(itest::contains(sync->what(), "'neg_sync'"));
  CHECK(itest::contains(sync->what(), "-1"));
  auto batch = itest::thrown<InvalidArgumentError>([&] {
    client.log_batch(id, {itest::metric("batch_ok", 1.0, 7, 0), itest::metric("neg_batch", 2.0, -7, 0),
                          itest::metric("batch_ok", 3.0, 8, 1)});
  });
  REQUIRE(batch.has_value());
  CHECK(itest::contains(batch->what(), "'neg_batch'"));

  CHECK(client.get_metric_history(id, "neg").empty());
  CHECK(client.get_metric_history(id, "neg2").empty());
  CHECK(client.get_metric_history(id, "neg_sync").empty());
  CHECK(client.get_metric_history(id, "neg_batch").empty());
  CHECK(client.get_metric_history(id, "batch_ok").empty());
  const auto pos = itest::sorted_history(client, id, "pos");
  REQUIRE(pos.size() == 2);
  CHECK(pos[0].timestamp == 5);
  CHECK(pos[0].value == 1.0);
  CHECK(pos[1].timestamp == 6);
  CHECK(pos[1].value == 3.0);
  const auto now = client.get_metric_history(id, "now");
  REQUIRE(now.size() == 1);
  CHECK(now[0].timestamp >= t0);
  CHECK(now[0].timestamp <= testing::now_ms());
  CHECK(client.get_run(id).data.metrics.size() == 2);
}

TEST_CASE("bad input: keys at 250 and 251 characters, punctuation and non-ASCII, invalid keys",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-keys"));
  const auto good = good_keys();
  const auto bad = bad_keys();

  // Async: good and bad keys interleaved in one burst; each bad item is refused alone.
  const std::string async_id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(async_id);
  const int64_t ts = testing::now_ms();
  for (std::size_t i = 0; i < std::max(good.size(), bad.size()); ++i) {
    for (const auto* keys : {&good, &bad}) {
      if (i >= keys->size()) continue;
      const std::string& k = (*keys)[i];
      logger.log_metric(handle, k, 0.5 + static_cast<double>(i), static_cast<int64_t>(i), ts);
      logger.log_param(handle, k, "param of " + k);
      logger.set_tag(handle, k, "tag of " + k);
    }
  }
  const auto f = logger.flush();
  CHECK(f.complete);
  CHECK(f.rejected == 3 * bad.size());
  const auto stats = logger.stats();
  CHECK(stats.rejected_invalid == 3 * bad.size());
  CHECK(stats.rejected_by_server == 0);
  CHECK(stats.delivered == 3 * good.size());

  const auto errs = errors.errors();
  REQUIRE(errs.size() == 3 * bad.size());
  std::map<std::string, int> per_key;
  for (const auto& e : errs) {
    INFO("key '" << e.key << "': " << e.message);
    CHECK(e.kind == LogError::Kind::kInvalid);
    CHECK(e.run_id == async_id);
    CHECK(e.items == 1);
    ++per_key[e.key];
    check_names_key(e.message, e.key);
  }
  for (const auto& k : bad) CHECK(per_key[k] == 3);

  // Synchronously: each call with a bad key throws naming it; a log_batch holding one bad
  // key among good ones sends nothing.
  const std::string sync_id = client.create_run(exp).info.run_id;
  for (const auto& k : bad) {
    INFO("bad key '" << k << "'");
    for (int kind = 0; kind < 4; ++kind) {
      auto err = itest::thrown<InvalidArgumentError>([&] {
        switch (kind) {
          case 0:
            client.log_metric(sync_id, k, 1.0, TimestampMs(ts), 0);
            break;
          case 1:
            client.log_param(sync_id, k, "v");
            break;
          case 2:
            client.set_tag(sync_id, k, "v");
            break;
          default:
            client.log_batch(sync_id, {itest::metric("ok", 1.0, ts, 0)}, {{"ok", "v"}, {k, "v"}},
                             {{"ok", "v"}});
        }
      });
      REQUIRE(err.has_value());
      check_names_key(err->what(), k);
    }
  }
  CHECK(client.get_run(sync_id).data.metrics.empty());
  CHECK(client.get_run(sync_id).data.params.empty());
  // The good keys through one synchronous log_batch.
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<RunTag> tags;
  for (std::size_t i = 0; i < good.size(); ++i) {
    metrics.push_back(itest::metric(good[i], 0.5 + static_cast<double>(i), ts, static_cast<int64_t>(i)));
    params.push_back({good[i], "param of " + good[i]});
    tags.push_back({good[i], "tag of " + good[i]});
  }
  client.log_batch(sync_id, metrics, params, tags);

  for (const auto& id : {async_id, sync_id}) {
    const auto run = client.get_run(id);
    CHECK(run.data.metrics.size() == good.size());
    CHECK(run.data.params.size() == good.size());
    std::size_t user_tags = 0;
    for (const auto& t : run.data.tags) user_tags += t.key.rfind("mlflow.", 0) != 0;
    CHECK(user_tags == good.size());
    for (std::size_t i = 0; i < good.size(); ++i) {
      const auto& k = good[i];
      INFO("run " << id << ", key " << k);
      CHECK(run.data.param(k) == std::optional<std::string>("param of " + k));
      CHECK(run.data.tag(k) == std::optional<std::string>("tag of " + k));
      const auto h = client.get_metric_history(id, k);
      REQUIRE(h.size() == 1);
      CHECK(h[0].key == k);
      CHECK(h[0].value == 0.5 + static_cast<double>(i));
      CHECK(h[0].step == static_cast<int64_t>(i));
      CHECK(h[0].timestamp == ts);
    }
  }
}

TEST_CASE("bad input: param and tag values at the limits in 3- and 4-byte characters",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-values"));

  // The limits count characters (code points), as the server does: these are all at the
  // limit, however many bytes they take.
  const std::map<std::string, std::string> params_ok = {
      {"p_ri", repeat("日", 6000)},                                                     // 18000 bytes
      {"p_emoji", repeat("😀", 6000)},                                                   // 24000 bytes
      {"p_mixed", std::string(5999, 'x') + "😀"},                                        // 6003 bytes
      {"p_e", repeat("é", 3000) + repeat("😀", 3000)}};                                  // 18000 bytes
  const std::map<std::string, std::string> tags_ok = {{"t_ri", repeat("日", 8000)},     // 24000 bytes
                                                      {"t_emoji", repeat("😀", 8000)}};  // 32000 bytes
  // One character over: refused, naming the key, the limit and the size.
  const std::map<std::string, std::string> params_over = {{"p_ri_over", repeat("日", 6001)},
                                                          {"p_emoji_over", repeat("😀", 6001)},
                                                          {"p_x_over", std::string(6001, 'x')}};
  const std::map<std::string, std::string> tags_over = {{"t_ri_over", repeat("日", 8001)},
                                                        {"t_emoji_over", repeat("😀", 8001)}};

  auto check_message = [](const std::string& what, const std::string& key, const std::string& limit,
                          const std::string& size) {
    INFO(what);
    CHECK(itest::contains(what, "'" + key + "'"));
    CHECK(itest::contains(what, limit));
    CHECK(itest::contains(what, size));
  };

  // Synchronously: log_param / set_tag for the accepted ones, then the refused ones alone
  // and inside a log_batch (which then sends nothing).
  const std::string sync_id = client.create_run(exp).info.run_id;
  for (const auto& [k, v] : params_ok) client.log_param(sync_id, k, v);
  for (const auto& [k, v] : tags_ok) client.set_tag(sync_id, k, v);
  for (const auto& [k, v] : params_over) {
    auto err = itest::thrown<InvalidArgumentError>([&] { client.log_param(sync_id, k, v); });
    REQUIRE(err.has_value());
    check_message(err->what(), k, "6000", "6001");
    err = itest::thrown<InvalidArgumentError>([&] {
      client.log_batch(sync_id, {}, {{"batch_ok", "1"}, {k, v}}, {{"batch_ok", "1"}});
    });
    REQUIRE(err.has_value());
    check_message(err->what(), k, "6000", "6001");
  }
  for (const auto& [k, v] : tags_over) {
    auto err = itest::thrown<InvalidArgumentError>([&] { client.set_tag(sync_id, k, v); });
    REQUIRE(err.has_value());
    check_message(err->what(), k, "8000", "8001");
  }

  // Asynchronously, all in one burst: the over-long ones are refused alone.
  const std::string async_id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(async_id);
  for (const auto& [k, v] : params_over) logger.log_param(handle, k, v);
  for (const auto& [k, v] : params_ok) logger.log_param(handle, k, v);
  for (const auto& [k, v] : tags_over) logger.set_tag(handle, k, v);
  for (const auto& [k, v] : tags_ok) logger.set_tag(handle, k, v);
  logger.log_metric(handle, "m", 1.0, 0);
  const auto f = logger.flush();
  CHECK(f.complete);
  CHECK(f.rejected == params_over.size() + tags_over.size());
  CHECK(logger.stats().delivered == params_ok.size() + tags_ok.size() + 1);
  const auto errs = errors.errors();
  REQUIRE(errs.size() == params_over.size() + tags_over.size());
  for (const auto& e : errs) {
    CHECK(e.kind == LogError::Kind::kInvalid);
    CHECK(e.run_id == async_id);
    if (params_over.count(e.key) != 0) {
      check_message(e.message, e.key, "6000", "6001");
    } else {
      CHECK(tags_over.count(e.key) == 1);
      check_message(e.message, e.key, "8000", "8001");
    }
  }

  for (const auto& id : {sync_id, async_id}) {
    INFO("run " << id);
    const auto run = client.get_run(id);
    CHECK(run.data.params.size() == params_ok.size());
    for (const auto& [k, v] : params_ok) CHECK(run.data.param(k) == std::optional<std::string>(v));
    for (const auto& [k, v] : tags_ok) CHECK(run.data.tag(k) == std::optional<std::string>(v));
    for (const auto& [k, v] : params_over) CHECK_FALSE(run.data.param(k).has_value());
    for (const auto& [k, v] : tags_over) CHECK_FALSE(run.data.tag(k).has_value());
    CHECK_FALSE(run.data.tag("batch_ok").has_value());
  }
}

TEST_CASE("bad input: the same param twice in one synchronous log_batch, and a conflicting one",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-same-param"));
  const std::string id = client.create_run(exp).info.run_id;
  const int64_t ts = testing::now_ms();

  // The same key and value twice in one call: fine (never sent twice in one request).
  client.log_batch(id, {itest::metric("m", 0.0, ts, 0)}, {{"seed", "1"}, {"lr", "0.1"}, {"seed", "1"}},
                   {{"t", "a"}});
  auto run = client.get_run(id);
  CHECK(run.data.params.size() == 2);
  CHECK(run.data.param("seed") == std::optional<std::string>("1"));
  CHECK(run.data.param("lr") == std::optional<std::string>("0.1"));

  // A different value for a stored key: one ServerError naming the key. The server refuses
  // the whole request that carries it, and Client::log_batch (unlike the async logger, see
  // test_lifecycle.cpp) does not isolate the item: nothing of this call is stored.
  auto err = itest::thrown<ServerError>([&] {
    client.log_batch(id, {itest::metric("m", 1.0, ts, 1), itest::metric("m", 2.0, ts, 2)},
                     {{"lr", "0.2"}, {"fresh", "f"}}, {{"t2", "b"}});
  });
  REQUIRE(err.has_value());
  {
    INFO(err->what());
    CHECK(err->http_status() == 400);
    CHECK(err->error_code() == "INVALID_PARAMETER_VALUE");
    CHECK(itest::contains(err->server_message(), "'lr'"));
    CHECK(itest::contains(err->what(), "'lr'"));
  }
  run = client.get_run(id);
  CHECK(run.data.param("lr") == std::optional<std::string>("0.1"));
  CHECK_FALSE(run.data.param("fresh").has_value());
  CHECK_FALSE(run.data.tag("t2").has_value());
  CHECK(client.get_metric_history(id, "m").size() == 1);

  // Two different values for a new key in one call: the first is sent in one request and
  // stored, the second starts the next request, which the server refuses whole.
  err = itest::thrown<ServerError>([&] {
    client.log_batch(id, {}, {{"k", "1"}, {"k", "2"}, {"after", "x"}}, {{"t3", "c"}});
  });
  REQUIRE(err.has_value());
  {
    INFO(err->what());
    CHECK(err->http_status() == 400);
    CHECK(err->error_code() == "INVALID_PARAMETER_VALUE");
    CHECK(itest::contains(err->server_message(), "'k'"));
  }
  run = client.get_run(id);
  CHECK(run.data.param("k") == std::optional<std::string>("1"));
  CHECK_FALSE(run.data.param("after").has_value());
  CHECK_FALSE(run.data.tag("t3").has_value());
  CHECK(run.data.params.size() == 3);
}

namespace {

// 1001 metrics (one key), 101 params and 101 tags: one more than a request may carry.
struct OverLimits {
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<RunTag> tags;
  explicit OverLimits(int64_t ts) {
    for (int i = 0; i < 1001; ++i) metrics.push_back(itest::metric("m", 0.25 * i - 7, ts + i, i));
    for (int i = 0; i < 101; ++i) params.push_back({"p" + std::to_string(i), "param " + std::to_string(i)});
    for (int i = 0; i < 101; ++i) tags.push_back({"t" + std::to_string(i), "tag " + std::to_string(i)});
  }
  void check(mlflowpp::Client& client, const std::string& id) const {
    INFO("run " << id);
    const auto run = client.get_run(id);
    CHECK(run.data.params.size() == params.size());
    for (const auto& p : params) CHECK(run.data.param(p.key) == std::optional<std::string>(p.value));
    for (const auto& t : tags) CHECK(run.data.tag(t.key) == std::optional<std::string>(t.value));
    const auto h = itest::sorted_history(client, id, "m");
    REQUIRE(h.size() == metrics.size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < h.size(); ++i)
      bad += h[i].step != metrics[i].step || h[i].timestamp != metrics[i].timestamp ||
             h[i].value != metrics[i].value;
    CHECK(bad == 0);
  }
};

}  // namespace

TEST_CASE("bad input: 1001 metrics, 101 params and 101 tags in one call, sync and async",
          "[integration][bad-input]") {
  if (!testing::have_server()) return;
  auto client = itest::fresh_client();
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-over-limits"));
  const OverLimits items(testing::now_ms() - 10000);

  const std::string sync_id = client.create_run(exp).info.run_id;
  client.log_batch(sync_id, items.metrics, items.params, items.tags);
  items.check(client, sync_id);

  const std::string async_id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(async_id);
  for (const auto& p : items.params) logger.log_param(handle, p.key, p.value);
  for (const auto& m : items.metrics) logger.log_metric(handle, m.key, m.value, m.step, m.timestamp);
  for (const auto& t : items.tags) logger.set_tag(handle, t.key, t.value);
  REQUIRE(logger.flush().ok());
  const auto stats = logger.stats();
  CHECK(stats.delivered == 1001 + 101 + 101);
  CHECK(stats.requests >= 2);  // at most 1000 metrics and 100 params and tags per request
  CHECK(stats.retries == 0);
  CHECK(errors.errors().empty());
  items.check(client, async_id);
}

namespace {

constexpr int kThreads = 16;
constexpr int kPerThread = 10000;

// The value of thread t's point i: unique per (step, value), not a "nice" double.
double point_value(int t, int i) { return std::sin(0.001 * i + t) * 1000.0 + t; }

void check_no_loss(const mlflowpp::LoggerStats& stats) {
  CHECK(stats.enqueued == kThreads * kPerThread);
  CHECK(stats.delivered == kThreads * kPerThread);
  CHECK(stats.pending() == 0);
  CHECK(stats.rejected_invalid == 0);
  CHECK(stats.rejected_by_server == 0);
  CHECK(stats.dropped_queue_full == 0);
  CHECK(stats.dropped_transient == 0);
  CHECK(stats.dropped_shutdown == 0);
}

// Every (step, value) of `want` read back exactly once.
void check_history(mlflowpp::Client& client, const std::string& run_id, const std::string& key,
                   const std::set<std::pair<int64_t, double>>& want) {
  INFO("run " << run_id << ", key " << key);
  const auto h = client.get_metric_history(run_id, key);
  CHECK(h.size() == want.size());
  std::set<std::pair<int64_t, double>> got;
  std::size_t duplicates = 0;
  for (const auto& m : h) duplicates += !got.insert({m.step, m.value}).second;
  CHECK(duplicates == 0);
  CHECK(got == want);
}

}  // namespace

TEST_CASE("bad input: 16 threads x 10000 points on one run, each read back exactly once",
          "[integration][bad-input][threads]") {
  if (!testing::have_server()) return;
  // The producers outrun the server: they wait for room (kBlock) rather than drop.
  auto o = testing::options();
  o.logger.overflow_policy = mlflowpp::OverflowPolicy::kBlock;
  o.logger.block_timeout = std::chrono::minutes(5);
  mlflowpp::Client client(o);
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-threads-one-run"));
  const std::string id = client.create_run(exp).info.run_id;
  auto& logger = client.async_logger();
  const auto handle = logger.handle_for(id);

  // All threads on one key, each on its own range of steps.
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i)
        logger.log_metric(handle, "shared", point_value(t, i), int64_t{t} * kPerThread + i);
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  const auto f = logger.flush();
  CHECK(f.ok());
  CHECK(errors.errors().empty());
  check_no_loss(logger.stats());
  CHECK(logger.run_stats(handle).delivered == kThreads * kPerThread);

  std::set<std::pair<int64_t, double>> want;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i) want.insert({int64_t{t} * kPerThread + i, point_value(t, i)});
  REQUIRE(want.size() == kThreads * kPerThread);
  check_history(client, id, "shared", want);
}

TEST_CASE("bad input: 16 threads x 10000 points each on its own run (16 runs), each read back exactly once",
          "[integration][bad-input][threads]") {
  if (!testing::have_server()) return;
  // A queue that holds every point: nothing can be dropped for lack of room.
  auto o = testing::options();
  o.logger.queue_capacity = kThreads * kPerThread;
  mlflowpp::Client client(o);
  itest::ErrorCollector errors;
  client.async_logger().set_error_callback(errors.callback());
  const std::string exp = client.create_experiment(testing::unique_name("itest-bad-threads-16-runs"));
  auto& logger = client.async_logger();
  std::vector<std::string> ids;
  std::vector<mlflowpp::AsyncLogger::RunHandle> handles;
  for (int t = 0; t < kThreads; ++t) {
    ids.push_back(client.create_run(exp).info.run_id);
    handles.push_back(logger.handle_for(ids.back()));
  }

  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) logger.log_metric(handles[t], "loss", point_value(t, i), i);
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  const auto f = logger.flush();
  CHECK(f.ok());
  CHECK(errors.errors().empty());
  check_no_loss(logger.stats());

  for (int t = 0; t < kThreads; ++t) {
    CHECK(logger.run_stats(handles[t]).delivered == kPerThread);
    CHECK(logger.run_stats(handles[t]).dropped == 0);
    std::set<std::pair<int64_t, double>> want;
    for (int i = 0; i < kPerThread; ++i) want.insert({i, point_value(t, i)});
    check_history(client, ids[t], "loss", want);
  }
}
