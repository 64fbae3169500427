// Queue semantics of the asynchronous logger, over a RestStore with a fake transport and
// an injected clock: no sockets, no sleeps to wait for threads.
#include <simdjson.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_transport.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;
using testing::LoggerRig;

namespace {

struct Sent {
  std::string run_id;
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<RunTag> tags;
};

Sent decode(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  Sent s;
  s.run_id = std::string(std::string_view(doc["run_id"]));
  for (auto m : doc["metrics"].get_array()) {
    Metric x;
    x.key = std::string(std::string_view(m["key"]));
    x.timestamp = int64_t(m["timestamp"]);
    x.step = int64_t(m["step"]);
    x.value = m["value"].is_string() ? 0.0 : double(m["value"]);
    s.metrics.push_back(x);
  }
  for (auto p : doc["params"].get_array())
    s.params.push_back({std::string(std::string_view(p["key"])), std::string(std::string_view(p["value"]))});
  for (auto t : doc["tags"].get_array())
    s.tags.push_back({std::string(std::string_view(t["key"])), std::string(std::string_view(t["value"]))});
  return s;
}

std::vector<Sent> sent_batches(const testing::FakeTransport& t) {
  std::vector<Sent> out;
  for (const auto& r : t.requests())
    if (r.url.find("/runs/log-batch") != std::string::npos) out.push_back(decode(r.body));
  return out;
}

struct Errors {
  std::mutex mu;
  std::vector<LogError> list;
  ErrorCallback callback() {
    return [this](const LogError& e) {
      std::lock_guard<std::mutex> lk(mu);
      list.push_back(e);
    };
  }
};

LoggerOptions quick() {
  LoggerOptions o;
  o.max_batch_delay = milliseconds(5);
  return o;
}

}  // namespace

TEST_CASE("timestamps are taken at enqueue from the clock, explicit ones are kept", "[logger]") {
  std::atomic<int64_t> clock{1000};
  LoggerRig rig(quick(), testing::fake_options(), [&] { return clock.load(); });
  auto run = rig.core->handle_for("run-1");
  rig.core->enqueue(ItemKind::kMetric, run, "a", 1.0, {}, 0, AsyncLogger::kNow);
  clock = 2000;
  rig.core->enqueue(ItemKind::kMetric, run, "b", 2.0, {}, 1, AsyncLogger::kNow);
  rig.core->enqueue(ItemKind::kMetric, run, "c", 3.0, {}, 2, 42);
  clock = 9999;  // the send happens later: must not change the timestamps
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  std::map<std::string, int64_t> ts;
  for (const auto& b : sent_batches(*rig.transport))
    for (const auto& m : b.metrics) ts[m.key] = m.timestamp;
  CHECK(ts == std::map<std::string, int64_t>{{"a", 1000}, {"b", 2000}, {"c", 42}});
}

TEST_CASE("coalescing: 2500 points of one run go in 3 ordered requests", "[logger]") {
  LoggerOptions lo = quick();
  lo.max_batch_delay = milliseconds(60000);  // only the flush sends
  lo.wake_threshold = 1000000;
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 2500; ++i) rig.core->enqueue(ItemKind::kMetric, run, "loss", i, {}, i, 5);
  auto r = rig.core->flush(milliseconds(5000));
  CHECK(r.complete);
  CHECK(r.ok());
  auto batches = sent_batches(*rig.transport);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].metrics.size() == 1000);
  CHECK(batches[1].metrics.size() == 1000);
  CHECK(batches[2].metrics.size() == 500);
  int64_t expect = 0;
  for (const auto& b : batches)
    for (const auto& m : b.metrics) CHECK(m.step == expect++);
  auto s = rig.core->stats();
  CHECK(s.enqueued == 2500);
  CHECK(s.delivered == 2500);
  CHECK(s.requests == 3);
  CHECK(s.pending() == 0);
}

TEST_CASE("runs are batched separately and each keeps its order", "[logger]") {
  LoggerRig rig(quick());
  auto a = rig.core->handle_for("run-a");
  auto b = rig.core->handle_for("run-b");
  CHECK(rig.core->handle_for("run-a") == a);
  for (int i = 0; i < 100; ++i) {
    rig.core->enqueue(ItemKind::kMetric, a, "m", i, {}, i, 1);
    rig.core->enqueue(ItemKind::kMetric, b, "m", i, {}, i, 1);
  }
  rig.core->enqueue(ItemKind::kParam, a, "p", 0, "1", 0, 0);
  rig.core->enqueue(ItemKind::kTag, b, "t", 0, "x", 0, 0);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  std::map<std::string, std::vector<int64_t>> steps;
  std::map<std::string, std::size_t> params, tags;
  for (const auto& batch : sent_batches(*rig.transport)) {
    for (const auto& m : batch.metrics) steps[batch.run_id].push_back(m.step);
    params[batch.run_id] += batch.params.size();
    tags[batch.run_id] += batch.tags.size();
  }
  std::vector<int64_t> expect(100);
  for (int i = 0; i < 100; ++i) expect[i] = i;
  CHECK(steps["run-a"] == expect);
  CHECK(steps["run-b"] == expect);
  CHECK(params["run-a"] == 1);
  CHECK(tags["run-b"] == 1);
  CHECK(rig.core->run_stats(a).delivered == 101);
  CHECK(rig.core->run_stats(b).delivered == 101);
  CHECK(rig.core->run_stats(a).rejected == 0);
}

TEST_CASE("a refused item is isolated: the rest of its batch still lands", "[logger]") {
  LoggerRig rig(quick());
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  rig.transport->set_handler([](const HttpRequest& r) {
    if (r.body.find("\"poison\"") != std::string::npos)
      return testing::mlflow_error(400, "INVALID_PARAMETER_VALUE", "bad key poison");
    return testing::ok();
  });
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 300; ++i) {
    rig.core->enqueue(ItemKind::kMetric, run, i == 137 ? "poison" : "ok", i, {}, i, 1);
  }
  auto r = rig.core->flush(milliseconds(10000));
  CHECK(r.complete);
  auto s = rig.core->stats();
  CHECK(s.delivered == 299);
  CHECK(s.rejected_by_server == 1);
  REQUIRE(errors.list.size() == 1);
  CHECK(errors.list[0].kind == LogError::Kind::kRejectedByServer);
  CHECK(errors.list[0].key == "poison");
  CHECK(errors.list[0].http_status == 400);
  CHECK(errors.list[0].message.find("poison") != std::string::npos);
  std::set<int64_t> delivered_steps;
  for (const auto& req : rig.transport->requests()) {
    if (req.body.find("\"poison\"") != std::string::npos) continue;
    for (const auto& m : decode(req.body).metrics) delivered_steps.insert(m.step);
  }
  CHECK(delivered_steps.size() == 299);
  CHECK(delivered_steps.count(137) == 0);
  CHECK(s.requests < 30);  // bisection costs about 2·log2(n) requests, not n
}

TEST_CASE("run-level refusals (unknown or deleted run) reject the chunk without bisecting", "[logger]") {
  LoggerRig rig(quick());
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  rig.transport->set_handler([](const HttpRequest&) {
    return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "Run 'x' not found");
  });
  auto run = rig.core->handle_for("x");
  for (int i = 0; i < 500; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  auto s = rig.core->stats();
  CHECK(s.requests == 1);
  CHECK(s.rejected_by_server == 500);
  REQUIRE(errors.list.size() == 1);
  CHECK(errors.list[0].items == 500);
  CHECK(errors.list[0].error_code == "RESOURCE_DOES_NOT_EXIST");
}

TEST_CASE("invalid items are rejected on the client, named, and never sent", "[logger]") {
  LoggerRig rig(quick());
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  auto run = rig.core->handle_for("run-1");
  rig.core->enqueue(ItemKind::kMetric, run, "a//b", 1, {}, 0, 1);
  rig.core->enqueue(ItemKind::kMetric, run, "neg", 1, {}, 0, -7);
  rig.core->enqueue(ItemKind::kParam, run, "big", 0, std::string(6001, 'x'), 0, 0);
  rig.core->enqueue(ItemKind::kTag, run, "t", 0, std::string(8001, 'x'), 0, 0);
  rig.core->enqueue(ItemKind::kMetric, run, "fine", 1, {}, 0, 1);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  auto s = rig.core->stats();
  CHECK(s.rejected_invalid == 4);
  CHECK(s.delivered == 1);
  auto per_run = rig.core->run_stats(run);
  CHECK(per_run.rejected == 4);
  CHECK(per_run.delivered == 1);
  std::set<std::string> keys;
  for (const auto& e : errors.list) {
    CHECK(e.kind == LogError::Kind::kInvalid);
    keys.insert(e.key);
  }
  CHECK(keys == std::set<std::string>{"a//b", "neg", "big", "t"});
  for (const auto& e : errors.list)
    if (e.key == "big") {
      CHECK(e.message.find("6001") != std::string::npos);
      CHECK(e.message.find("6000") != std::string::npos);
    }
  for (const auto& b : sent_batches(*rig.transport))
    for (const auto& m : b.metrics) CHECK(m.key != "a//b");
}

TEST_CASE("a param repeated with another value goes in a separate request", "[logger]") {
  LoggerRig rig(quick());
  auto run = rig.core->handle_for("run-1");
  rig.core->enqueue(ItemKind::kParam, run, "lr", 0, "0.1", 0, 0);
  rig.core->enqueue(ItemKind::kParam, run, "lr", 0, "0.1", 0, 0);
  rig.core->enqueue(ItemKind::kParam, run, "lr", 0, "0.2", 0, 0);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  auto batches = sent_batches(*rig.transport);
  REQUIRE(batches.size() == 2);
  for (const auto& b : batches) CHECK(b.params.size() == 1);
  CHECK(rig.core->stats().delivered == 3);
}

TEST_CASE("transient failures are retried, then dropped with a count and a report", "[logger]") {
  LoggerRig rig(quick());
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  std::atomic<int> calls{0};
  rig.transport->set_handler(
      [&](const HttpRequest&) { return ++calls <= 2 ? testing::status(503) : testing::ok(); });
  auto run = rig.core->handle_for("run-1");
  rig.core->enqueue(ItemKind::kMetric, run, "m", 1, {}, 0, 1);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  CHECK(rig.core->stats().delivered == 1);
  CHECK(rig.core->stats().retries == 2);

  rig.transport->set_handler([](const HttpRequest&) { return testing::status(502); });
  rig.core->enqueue(ItemKind::kMetric, run, "m", 2, {}, 1, 1);
  auto r = rig.core->flush(milliseconds(5000));
  CHECK(r.complete);  // accounted for
  CHECK_FALSE(r.ok());
  CHECK(r.dropped == 1);
  auto s = rig.core->stats();
  CHECK(s.dropped_transient == 1);
  CHECK(s.requests == 3 + 4);
  REQUIRE(errors.list.size() == 1);
  CHECK(errors.list[0].kind == LogError::Kind::kTransient);
  CHECK(errors.list[0].http_status == 502);
}

TEST_CASE("flush times out against a hung server, shutdown returns within its deadline", "[logger]") {
  LoggerRig rig(quick());
  rig.transport->hang();
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 10; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  auto r = rig.core->flush(milliseconds(50));
  CHECK_FALSE(r.complete);
  CHECK(r.pending == 10);
  REQUIRE(rig.transport->wait_for_requests(1) >= 1);

  auto t0 = std::chrono::steady_clock::now();
  auto s = rig.core->shutdown(milliseconds(200));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < milliseconds(2000));  // the deadline plus the abandoned transfer's unwinding
  CHECK(took >= milliseconds(150));
  CHECK_FALSE(s.complete);
  auto st = rig.core->stats();
  CHECK(st.dropped_shutdown == 10);
  CHECK(st.delivered == 0);
  CHECK(st.pending() == 0);
  // Idempotent, and later calls drop (counted).
  auto again = rig.core->shutdown(milliseconds(10));
  CHECK(again.complete == s.complete);
  rig.core->enqueue(ItemKind::kMetric, run, "late", 1, {}, 0, 1);
  CHECK(rig.core->stats().dropped_shutdown == 11);
  rig.transport->release();
}

TEST_CASE("shutdown drains what is queued when the server answers", "[logger]") {
  LoggerOptions lo = quick();
  lo.max_batch_delay = milliseconds(60000);
  lo.wake_threshold = 1000000;
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 1500; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  auto r = rig.core->shutdown(milliseconds(10000));
  CHECK(r.complete);
  CHECK(r.ok());
  CHECK(rig.core->stats().delivered == 1500);
}

TEST_CASE("overflow: a full queue drops the newest items, counted, never blocking", "[logger]") {
  LoggerOptions lo = quick();
  lo.queue_capacity = 16;
  lo.overflow_policy = OverflowPolicy::kDropNewest;
  // No spool and a tiny in-memory buffer: batching waits for the hung sender, the queue fills.
  lo.max_request_bytes = 2000;
  lo.max_buffered_bytes = 2000;
  LoggerRig rig(lo);
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  rig.transport->hang();
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 100; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  auto s = rig.core->stats();
  CHECK(s.enqueued + s.dropped_queue_full == 100);
  CHECK(s.dropped_queue_full >= 100 - 32);  // at most one queue in flight plus one queued
  CHECK(s.queue_high_water == 16);
  rig.transport->release();
  auto r = rig.core->flush(milliseconds(5000));
  CHECK(r.complete);
  CHECK(r.dropped == s.dropped_queue_full);
  auto after = rig.core->stats();
  CHECK(after.delivered == after.enqueued);
  bool reported = false;
  for (const auto& e : errors.list) reported = reported || e.kind == LogError::Kind::kQueueFull;
  CHECK(reported);
}

TEST_CASE("overflow with kBlock waits for room instead of dropping", "[logger]") {
  LoggerOptions lo = quick();
  lo.queue_capacity = 16;
  lo.overflow_policy = OverflowPolicy::kBlock;
  lo.block_timeout = milliseconds(10000);
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 500; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  auto s = rig.core->stats();
  CHECK(s.dropped_queue_full == 0);
  CHECK(s.delivered == 500);
}

TEST_CASE("16 producer threads: every point delivered exactly once, each thread's order kept", "[logger]") {
  LoggerOptions lo = quick();
  lo.queue_capacity = 4096;
  lo.overflow_policy = OverflowPolicy::kBlock;
  lo.block_timeout = milliseconds(30000);
  LoggerRig rig(lo);
  constexpr int kThreads = 16, kPerThread = 5000;
  auto run = rig.core->handle_for("run-1");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "thread_" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) rig.core->enqueue(ItemKind::kMetric, run, key, i, {}, i, 1);
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(rig.core->flush(milliseconds(30000)).complete);
  std::map<std::string, std::vector<int64_t>> steps;
  for (const auto& b : sent_batches(*rig.transport))
    for (const auto& m : b.metrics) steps[m.key].push_back(m.step);
  REQUIRE(steps.size() == kThreads);
  for (const auto& [key, list] : steps) {
    INFO(key);
    REQUIRE(list.size() == kPerThread);
    for (int i = 0; i < kPerThread; ++i) CHECK(list[i] == i);
  }
  auto s = rig.core->stats();
  CHECK(s.delivered == kThreads * kPerThread);
  CHECK(s.dropped_queue_full == 0);
}

TEST_CASE("byte budget: large tag values are spread over several requests", "[logger]") {
  LoggerOptions lo = quick();
  lo.max_request_bytes = 50000;
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 40; ++i)
    rig.core->enqueue(ItemKind::kTag, run, "t" + std::to_string(i), 0, std::string(8000, 'v'), 0, 0);
  REQUIRE(rig.core->flush(milliseconds(5000)).complete);
  std::size_t tags = 0;
  for (const auto& r : rig.transport->requests()) {
    CHECK(r.body.size() <= 50000);
    tags += decode(r.body).tags.size();
  }
  CHECK(tags == 40);
  CHECK(rig.transport->requests().size() >= 7);
}

TEST_CASE("a queue smaller than the wake threshold still wakes the worker early", "[logger]") {
  LoggerOptions lo;
  lo.queue_capacity = 64;
  lo.wake_threshold = 1000;                  // unreachable as given: clamped to half the queue
  lo.max_batch_delay = milliseconds(60000);  // so only the early wake can send
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 40; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  CHECK(rig.transport->wait_for_requests(1) >= 1);  // within 10 s, not 60
  CHECK(rig.core->stats().dropped_queue_full == 0);
}
