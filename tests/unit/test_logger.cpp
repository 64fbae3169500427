// Queue semantics of the asynchronous logger, over a RestStore with a fake transport and
// an injected clock: no sockets, no sleeps to wait for threads.
#include <simdjson.h>
#include <stdlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "detail/delivery/delivery.hpp"
#include "detail/spool/spool.hpp"
#include "fake_transport.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;
using testing::Errors;
using testing::eventually;
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
  rig.core->enqueue(ItemKind::kMetric, run, "a", 1.0, {}, 0, kTimestampNow);
  clock = 2000;
  rig.core->enqueue(ItemKind::kMetric, run, "b", 2.0, {}, 1, kTimestampNow);
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

// ---- with the spool (docs/adr/0006) ----------------------------------------------------

namespace {

struct SpoolDir {
  std::string path;
  SpoolDir() {
    char tmpl[] = "/tmp/mlflowpp-unit-spool-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~SpoolDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::size_t journals() const { return list_journals(path).size(); }
};

LoggerOptions spool_options(std::size_t buffer_bytes = 2000) {
  LoggerOptions o = quick();
  o.max_request_bytes = 2000;  // small requests, so that the memory budget is exceeded
  o.max_buffered_bytes = buffer_bytes;
  o.spool.max_retry_wait = milliseconds(1);
  return o;
}

/// A server that answers 503 while `down`, and records the log-batch bodies it accepts.
struct FlakyServer {
  std::atomic<bool> down{true};
  std::mutex mu;
  std::vector<std::string> accepted;  // paths + bodies, in order
  testing::FakeTransport::Handler handler() {
    return [this](const HttpRequest& r) {
      if (down.load()) return testing::status(503);
      std::lock_guard<std::mutex> lk(mu);
      accepted.push_back(r.url.substr(r.url.rfind("/mlflow/")) + " " + r.body);
      if (r.url.find("/runs/update") != std::string::npos)
        return testing::ok(R"({"run_info":{"run_id":"run-1","status":"FINISHED"}})");
      return testing::ok();
    };
  }
  std::vector<int64_t> steps() {
    std::lock_guard<std::mutex> lk(mu);
    std::vector<int64_t> out;
    for (const auto& a : accepted)
      if (a.rfind("/mlflow/runs/log-batch ", 0) == 0)
        for (const auto& m : decode(a.substr(a.find(' ') + 1)).metrics) out.push_back(m.step);
    return out;
  }
};

}  // namespace

TEST_CASE("spool: an outage keeps everything on disk (released from memory), delivered in order after",
          "[logger][spool]") {
  SpoolDir dir;
  LoggerRig rig(
      spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
  FlakyServer server;
  rig.transport->set_handler(server.handler());
  auto run = rig.core->handle_for("run-1");
  const int n = 5000;
  for (int i = 0; i < n; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  REQUIRE(eventually([&] { return rig.core->stats().written_ahead == n; }));
  CHECK(dir.journals() == 1);
  CHECK(eventually([&] { return rig.core->server_unreachable(); }));  // after the first round of retries
  auto pending = rig.core->flush(milliseconds(50));
  CHECK_FALSE(pending.complete);
  CHECK(pending.held_in_spool == n);  // every undelivered item is safe on disk
  server.down = false;
  auto r = rig.core->flush(milliseconds(20000));
  REQUIRE(r.complete);
  CHECK(r.ok());
  auto steps = server.steps();
  REQUIRE(steps.size() == n);
  for (int i = 0; i < n; ++i) REQUIRE(steps[static_cast<std::size_t>(i)] == i);
  CHECK_FALSE(rig.core->server_unreachable());
  CHECK(rig.core->shutdown(milliseconds(5000)).complete);
  CHECK(dir.journals() == 0);  // everything acknowledged: removed
}

TEST_CASE("spool: shutdown in an outage leaves the journal, and the next logger replays it with the run end",
          "[logger][spool]") {
  SpoolDir dir;
  {
    LoggerRig rig(
        spool_options(1 << 20), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
    FlakyServer down;
    rig.transport->set_handler(down.handler());
    auto run = rig.core->handle_for("run-1");
    rig.core->run_started(run);
    for (int i = 0; i < 300; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1700000000000 + i);
    rig.core->end_run(run, RunStatus::kFinished, 1700000009999);
    REQUIRE(eventually([&] { return rig.core->server_unreachable(); }));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = rig.core->shutdown(milliseconds(30000));
    CHECK(std::chrono::steady_clock::now() - t0 < milliseconds(5000));  // on disk: no waiting
    CHECK(r.dropped == 0);
    CHECK(rig.core->stats().left_in_spool == 300);
    CHECK(rig.core->run_end_state(run).kind == RunEndState::Kind::kSpooled);
  }
  REQUIRE(dir.journals() == 1);
  FlakyServer up;
  up.down = false;
  // The handler is set before the logger starts: its sender replays the journal at once.
  LoggerRig next(
      spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path,
      up.handler());
  REQUIRE(eventually([&] { return dir.journals() == 0; }));
  auto steps = up.steps();
  REQUIRE(steps.size() == 300);
  for (int i = 0; i < 300; ++i) CHECK(steps[static_cast<std::size_t>(i)] == i);
  std::lock_guard<std::mutex> lk(up.mu);
  REQUIRE_FALSE(up.accepted.empty());
  CHECK(up.accepted.back().rfind("/mlflow/runs/update ", 0) == 0);  // the status after the data
  CHECK(up.accepted.back().find("FINISHED") != std::string::npos);
  CHECK(eventually([&] { return next.core->stats().replayed == 300; }));  // counted after the removal
}

TEST_CASE("spool: at its cap, memory then drop with a counted reason", "[logger][spool]") {
  SpoolDir dir;
  LoggerOptions lo = spool_options(4000);
  lo.spool.max_bytes = 1;  // full from the start: nothing but run events goes to disk
  LoggerRig rig(
      lo, testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  FlakyServer server;
  rig.transport->set_handler(server.handler());
  auto run = rig.core->handle_for("run-1");
  const int n = 2000;
  for (int i = 0; i < n; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  const bool settled = eventually([&] {
    auto s = rig.core->stats();
    return s.dropped_spool_full >= n / 2;  // completion stays in order: pending until the server answers
  });
  INFO("dropped_spool_full=" << rig.core->stats().dropped_spool_full
                             << " written_ahead=" << rig.core->stats().written_ahead
                             << " pending=" << rig.core->flush(milliseconds(1)).pending);
  REQUIRE(settled);
  server.down = false;
  auto r = rig.core->flush(milliseconds(20000));
  REQUIRE(r.complete);
  auto s = rig.core->stats();
  // What the full journal could not take is held in memory (up to the budget) and, with
  // the server still down when its retries run out, dropped too: every item is counted.
  CHECK(s.delivered + s.dropped_spool_full + s.dropped_transient == n);
  CHECK(s.dropped_spool_full > n / 2);
  CHECK(server.steps().size() == s.delivered);
  bool reported = false;
  for (const auto& e : errors.list) reported = reported || e.kind == LogError::Kind::kSpoolFull;
  CHECK(reported);
}

TEST_CASE("spool: a journal whose owner is alive is never adopted", "[logger][spool]") {
  SpoolDir dir;
  LoggerRig a(
      spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
  FlakyServer down;
  a.transport->set_handler(down.handler());
  auto run = a.core->handle_for("run-1");
  for (int i = 0; i < 10; ++i) a.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  REQUIRE(eventually([&] { return a.core->stats().written_ahead == 10; }));
  LoggerRig b(
      spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
  FlakyServer up;
  up.down = false;
  b.transport->set_handler(up.handler());
  (void)b.core->flush(milliseconds(200));  // b has nothing of its own; checked: it adopts nothing
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(up.steps().empty());
  CHECK(b.core->stats().replayed == 0);
  CHECK(dir.journals() == 1);
}

TEST_CASE("spool: write-ahead throughput of the logger (printed, not asserted)", "[logger][spool]") {
  SpoolDir dir;
  LoggerOptions lo = quick();
  lo.queue_capacity = 1000000;
  LoggerRig rig(
      lo, testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
  rig.transport->hang();  // the server never answers: everything goes to the journal only
  auto run = rig.core->handle_for("0123456789abcdef0123456789abcdef");
  const char* keys[] = {"train_loss", "train_acc", "lr", "grad_norm", "val_loss"};
  const int n = 1000000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    rig.core->enqueue(ItemKind::kMetric, run, keys[i % 5], 1.0 / (i + 1), {}, i / 5, 1700000000000 + i);
  const auto t_enqueued = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return rig.core->stats().written_ahead == n; }, milliseconds(60000)));
  const auto t1 = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(t1 - t0).count();
  const uint64_t bytes = directory_bytes(dir.path);
  std::printf(
      "logger write-ahead: %d points in %.2f s (enqueue %.0f ns/point): %.0f points/s into the journal, "
      "%.1f bytes/point on disk\n",
      n, s, std::chrono::duration<double, std::nano>(t_enqueued - t0).count() / n, n / s,
      static_cast<double>(bytes) / n);
  rig.transport->release();
  (void)rig.core->shutdown(milliseconds(1));  // only the throughput is measured
}

TEST_CASE("spool: a run's end still undelivered at shutdown keeps the journal, the next logger sends it",
          "[logger][spool]") {
  SpoolDir dir;
  FlakyServer server;
  server.down = false;
  {
    LoggerRig rig(
        spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path);
    rig.transport->set_handler(server.handler());
    auto run = rig.core->handle_for("run-1");
    rig.core->run_started(run);
    for (int i = 0; i < 10; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
    REQUIRE(rig.core->flush(milliseconds(5000)).complete);  // all data delivered
    server.down = true;
    rig.core->end_run(run, RunStatus::kFinished, 1700000000123);
    const bool down_seen = eventually([&] { return rig.core->server_unreachable(); });
    INFO("end state " << static_cast<int>(rig.core->run_end_state(run).kind) << " "
                      << rig.core->run_end_state(run).error << " requests " << rig.core->stats().requests);
    REQUIRE(down_seen);
    (void)rig.core->shutdown(milliseconds(5000));  // in an outage: the end stays in the journal
    CHECK(rig.core->run_end_state(run).kind == RunEndState::Kind::kSpooled);
  }
  REQUIRE(dir.journals() == 1);  // only the run's end is left, and it is kept
  server.down = false;
  LoggerRig next(
      spool_options(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.path,
      server.handler());
  REQUIRE(eventually([&] { return dir.journals() == 0; }));
  std::lock_guard<std::mutex> lk(server.mu);
  REQUIRE_FALSE(server.accepted.empty());
  CHECK(server.accepted.back().rfind("/mlflow/runs/update ", 0) == 0);
  CHECK(server.accepted.back().find("1700000000123") != std::string::npos);
}

TEST_CASE("spool: the run id of a request body, and its rewrite", "[logger][spool]") {
  const std::string body = R"({"run_id":"offline-00ff","metrics":[],"params":[],"tags":[]})";
  CHECK(body_run_id(body) == "offline-00ff");
  CHECK(replace_body_run_id(body, "offline-00ff", "abc").rfind(R"({"run_id":"abc","metrics":)", 0) == 0);
  CHECK(body_run_id(R"({"run_id":"a\"b","status":"FINISHED"})") == "a\"b");  // escapes: parsed
  CHECK(body_run_id(R"({"status":"FINISHED","run_id":"r1"})") == "r1");      // another order
  CHECK(body_run_id("not json").empty());
  auto scan = parse_log_batch_body(
      R"({"run_id":"r","metrics":[{"key":"m","value":1,"timestamp":7,"step":0},{"key":"m","value":2,"timestamp":9,"step":1}],"params":[{"key":"p","value":"v"}]})",
      false);
  REQUIRE(scan.has_value());
  CHECK(scan->run_id == "r");
  CHECK(scan->max_metric_timestamp == 9);
  CHECK(scan->entities.empty());
}
