// The logger's ring (src/detail/logger/ring.hpp): overflow policies, run events, wrap-around,
// capacity edges and the flush sequence, without the logger's threads.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "detail/logger/ring.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

Ring::Options opts(std::size_t capacity, OverflowPolicy policy = OverflowPolicy::kDropNewest) {
  Ring::Options o;
  o.capacity = capacity;
  o.policy = policy;
  o.block_timeout = milliseconds(100);
  o.wake_threshold = 1;
  o.max_wait = milliseconds(1);
  o.event_wait = milliseconds(300);
  return o;
}

Ring::Push push_metric(Ring& ring, int64_t step, uint32_t run = 7) {
  return ring.push(ItemKind::kMetric, run, "m" + std::to_string(step), static_cast<double>(step), {}, step,
                   1);
}

milliseconds since(Clock::time_point t) { return std::chrono::duration_cast<milliseconds>(Clock::now() - t); }

}  // namespace

TEST_CASE("ring: wrap-around keeps order and content over many cycles", "[ring]") {
  Ring ring(opts(7));
  std::vector<Item> out;
  int64_t next = 0, expected = 0;
  uint64_t seq = 0;
  for (int cycle = 0; cycle < 2000; ++cycle) {
    const int k = 1 + cycle % 7;  // 1..7 items: the head moves by a different amount each time
    for (int i = 0; i < k; ++i) REQUIRE(push_metric(ring, next++) == Ring::Push::kAccepted);
    const Ring::Round r = ring.take(out);
    REQUIRE(r.n == static_cast<std::size_t>(k));
    seq += static_cast<uint64_t>(k);
    REQUIRE(r.seq_end == seq);
    REQUIRE(r.dropped_full == 0);
    for (std::size_t i = 0; i < r.n; ++i) {
      REQUIRE(out[i].kind == ItemKind::kMetric);
      REQUIRE(out[i].run == 7);
      REQUIRE(out[i].step == expected);
      REQUIRE(out[i].key == "m" + std::to_string(expected));
      REQUIRE(out[i].value == static_cast<double>(expected));
      ++expected;
    }
    ring.round_done();
  }
  CHECK(ring.accepted_items() == static_cast<uint64_t>(next));
  CHECK(ring.high_water() == 7);
  CHECK(ring.idle());
}

TEST_CASE("ring: params, tags and run events keep their text and order across the wrap", "[ring]") {
  Ring ring(opts(3));
  std::vector<Item> out;
  for (int cycle = 0; cycle < 100; ++cycle) {
    REQUIRE(ring.push(ItemKind::kParam, 1, "p", 0, "v" + std::to_string(cycle), 0, 0) ==
            Ring::Push::kAccepted);
    REQUIRE(ring.push_event(ItemKind::kCreateRun, 1, 0, 0, "payload" + std::to_string(cycle)));
    REQUIRE(ring.take(out).n == 2);
    CHECK(out[0].kind == ItemKind::kParam);
    CHECK(out[0].text == "v" + std::to_string(cycle));
    CHECK(out[1].kind == ItemKind::kCreateRun);
    CHECK(out[1].text == "payload" + std::to_string(cycle));
    CHECK(out[1].key.empty());
    ring.round_done();
  }
  // A metric reuses a slot that held a param: its text is cleared.
  REQUIRE(push_metric(ring, 1) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 2) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 3) == Ring::Push::kAccepted);
  REQUIRE(ring.take(out).n == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(out[i].text.empty());
  CHECK(ring.accepted_items() == 103);  // run events are not logged items
}

TEST_CASE("ring: capacity edges", "[ring]") {
  SECTION("a capacity of 0 is 1") {
    Ring ring(opts(0));
    CHECK(ring.capacity() == 1);
    CHECK(push_metric(ring, 0) == Ring::Push::kAccepted);
    CHECK(push_metric(ring, 1) == Ring::Push::kDroppedFull);
  }
  SECTION("a capacity of 1: one item at a time, the head wraps at every take") {
    Ring ring(opts(1));
    CHECK(ring.wake_threshold() == 1);
    std::vector<Item> out;
    for (int64_t i = 0; i < 50; ++i) {
      REQUIRE(push_metric(ring, i) == Ring::Push::kAccepted);
      REQUIRE(push_metric(ring, 1000 + i) == Ring::Push::kDroppedFull);
      const Ring::Round r = ring.take(out);
      REQUIRE(r.n == 1);
      REQUIRE(r.dropped_full == 1);
      REQUIRE(out[0].step == i);
      ring.round_done();
    }
    CHECK(ring.high_water() == 1);
  }
  SECTION("the wake threshold is clamped to half the capacity, at least 1") {
    Ring::Options o = opts(64);
    o.wake_threshold = 1000;
    CHECK(Ring(o).wake_threshold() == 32);
    o.capacity = 3;
    CHECK(Ring(o).wake_threshold() == 1);
    o.wake_threshold = 0;
    o.capacity = 100;
    CHECK(Ring(o).wake_threshold() == 1);
  }
  SECTION("exactly full, then one more") {
    Ring ring(opts(16));
    for (int64_t i = 0; i < 16; ++i) REQUIRE(push_metric(ring, i) == Ring::Push::kAccepted);
    CHECK(ring.size() == 16);
    CHECK(push_metric(ring, 16) == Ring::Push::kDroppedFull);
    CHECK(ring.high_water() == 16);
    CHECK(ring.accepted_items() == 16);
  }
  SECTION("take with an empty ring waits max_wait and returns nothing") {
    Ring::Options o = opts(8);
    o.max_wait = milliseconds(30);
    Ring ring(o);
    std::vector<Item> out;
    const auto t = Clock::now();
    const Ring::Round r = ring.take(out);
    CHECK(r.n == 0);
    CHECK(since(t) >= milliseconds(25));
    CHECK(ring.idle());
  }
}

TEST_CASE("ring: kDropNewest drops at once and counts each burst once", "[ring]") {
  Ring ring(opts(4, OverflowPolicy::kDropNewest));
  for (int64_t i = 0; i < 4; ++i) REQUIRE(push_metric(ring, i) == Ring::Push::kAccepted);
  const auto t = Clock::now();
  for (int64_t i = 0; i < 10; ++i) CHECK(push_metric(ring, 100 + i) == Ring::Push::kDroppedFull);
  CHECK(since(t) < milliseconds(50));  // never waits
  std::vector<Item> out;
  Ring::Round r = ring.take(out);
  CHECK(r.n == 4);
  CHECK(r.dropped_full == 10);
  for (std::size_t i = 0; i < 4; ++i) CHECK(out[i].step == static_cast<int64_t>(i));  // the oldest kept
  ring.round_done();
  r = ring.take(out);
  CHECK(r.dropped_full == 0);  // reported once
}

TEST_CASE("ring: kBlock waits once per stall, then drops until the consumer takes", "[ring]") {
  Ring ring(opts(2, OverflowPolicy::kBlock));  // block_timeout 100 ms, no consumer
  REQUIRE(push_metric(ring, 0) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 1) == Ring::Push::kAccepted);
  auto t = Clock::now();
  CHECK(push_metric(ring, 2) == Ring::Push::kDroppedFull);  // waited, timed out
  CHECK(since(t) >= milliseconds(90));
  t = Clock::now();
  CHECK(push_metric(ring, 3) == Ring::Push::kDroppedFull);  // stalled: no second wait
  CHECK(push_metric(ring, 4) == Ring::Push::kDroppedFull);
  CHECK(since(t) < milliseconds(50));
  std::vector<Item> out;
  Ring::Round r = ring.take(out);  // the stall ends
  CHECK(r.n == 2);
  CHECK(r.dropped_full == 3);
  ring.round_done();
  REQUIRE(push_metric(ring, 5) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 6) == Ring::Push::kAccepted);
  t = Clock::now();
  CHECK(push_metric(ring, 7) == Ring::Push::kDroppedFull);  // a new stall: one wait again
  CHECK(since(t) >= milliseconds(90));
}

TEST_CASE("ring: kBlock waits for room and gets it when the consumer takes", "[ring]") {
  Ring::Options o = opts(2, OverflowPolicy::kBlock);
  o.block_timeout = milliseconds(10000);
  Ring ring(o);
  REQUIRE(push_metric(ring, 0) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 1) == Ring::Push::kAccepted);
  std::vector<Item> out;
  std::thread consumer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    (void)ring.take(out);
    ring.round_done();
  });
  const auto t = Clock::now();
  CHECK(push_metric(ring, 2) == Ring::Push::kAccepted);
  CHECK(since(t) < milliseconds(5000));
  consumer.join();
  CHECK(out[0].step == 0);
  CHECK(out[1].step == 1);
}

TEST_CASE("ring: a blocked producer gives up when the ring stops", "[ring]") {
  Ring::Options o = opts(1, OverflowPolicy::kBlock);
  o.block_timeout = milliseconds(10000);
  Ring ring(o);
  REQUIRE(push_metric(ring, 0) == Ring::Push::kAccepted);
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    ring.stop();
  });
  const auto t = Clock::now();
  CHECK(push_metric(ring, 1) == Ring::Push::kDroppedFull);  // was waiting: counted as a full queue
  CHECK(since(t) < milliseconds(5000));
  stopper.join();
  CHECK(push_metric(ring, 2) == Ring::Push::kDroppedStopped);
}

TEST_CASE("ring: run events wait for room (never dropped for a full ring), up to event_wait", "[ring]") {
  Ring ring(opts(2, OverflowPolicy::kDropNewest));  // event_wait 300 ms
  REQUIRE(push_metric(ring, 0) == Ring::Push::kAccepted);
  REQUIRE(push_metric(ring, 1) == Ring::Push::kAccepted);
  auto t = Clock::now();
  CHECK_FALSE(ring.push_event(ItemKind::kEndRun, 7, 3, 99, {}));  // nobody takes: gives up
  CHECK(since(t) >= milliseconds(250));

  std::vector<Item> out;
  std::thread consumer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    (void)ring.take(out);
    ring.round_done();
  });
  t = Clock::now();
  CHECK(ring.push_event(ItemKind::kEndRun, 7, 3, 99, {}));  // room comes: queued, in order
  consumer.join();
  Ring::Round r = ring.take(out);
  REQUIRE(r.n == 1);
  CHECK(out[0].kind == ItemKind::kEndRun);
  CHECK(out[0].step == 3);
  CHECK(out[0].timestamp == 99);
  CHECK(r.dropped_full == 0);  // a run event is never a drop
  CHECK(r.seq_end == 3);       // but it has a sequence number
  ring.stop();
  CHECK_FALSE(ring.push_event(ItemKind::kRunStarted, 7, 0, 0, {}));
}

TEST_CASE("ring: the flush sequence", "[ring]") {
  Ring ring(opts(8));
  for (int64_t i = 0; i < 3; ++i) REQUIRE(push_metric(ring, i) == Ring::Push::kAccepted);
  Ring::Progress p = ring.wait_flushed(milliseconds(20));  // nothing completes it
  CHECK(p.target == 3);
  CHECK(p.done == 0);

  std::vector<Item> out;
  std::thread consumer([&] {
    const Ring::Round r = ring.take(out);  // a flush asks for an early take
    ring.round_done();
    ring.complete_through(r.seq_end);
  });
  p = ring.wait_flushed(milliseconds(10000));
  consumer.join();
  CHECK(p.target == 3);
  CHECK(p.done == 3);

  // Stop, then close: whatever is left is handed back by run and everything completes.
  REQUIRE(push_metric(ring, 10, 4) == Ring::Push::kAccepted);
  REQUIRE(ring.push_event(ItemKind::kRunStarted, 5, 0, 0, {}));
  REQUIRE(push_metric(ring, 11, 6) == Ring::Push::kAccepted);
  ring.stop();
  CHECK(push_metric(ring, 12) == Ring::Push::kDroppedStopped);
  const std::vector<uint32_t> left = ring.close(0);
  CHECK(left == std::vector<uint32_t>{4, 6});  // logged items only, not the run event
  const auto t = Clock::now();
  p = ring.wait_flushed(milliseconds(10000));
  CHECK(since(t) < milliseconds(1000));
  CHECK(p.done == p.target);
  CHECK(ring.take(out).stopping);
}

TEST_CASE("ring: woken by the threshold it takes whole batches and leaves the tail for the next round",
          "[ring]") {
  Ring::Options o = opts(64);
  o.wake_threshold = 10;
  o.max_wait = milliseconds(20);
  Ring ring(o);
  std::vector<Item> out;
  for (int64_t s = 0; s < 25; ++s) REQUIRE(push_metric(ring, s) == Ring::Push::kAccepted);
  Ring::Round r = ring.take(out);  // threshold reached: 20 of 25
  REQUIRE(r.n == 20);
  REQUIRE(r.seq_end == 20);
  REQUIRE(out[19].step == 19);
  ring.round_done();
  REQUIRE(ring.size() == 5);
  REQUIRE_FALSE(ring.idle());
  // Below the threshold: the tail goes after max_wait, in order.
  const auto t0 = Clock::now();
  r = ring.take(out);
  REQUIRE(r.n == 5);
  REQUIRE(r.seq_end == 25);
  REQUIRE(out[0].step == 20);
  REQUIRE(since(t0) >= milliseconds(15));
  ring.round_done();
  // Stopping (as a flush does) takes everything at once, tail included.
  for (int64_t s = 25; s < 38; ++s) REQUIRE(push_metric(ring, s) == Ring::Push::kAccepted);
  ring.stop();
  r = ring.take(out);
  REQUIRE(r.n == 13);
  REQUIRE(r.seq_end == 38);
  REQUIRE(r.stopping);
  ring.round_done();
  REQUIRE(ring.size() == 0);
}

TEST_CASE("ring: a run event does not shift the whole batches of the data behind it", "[ring]") {
  Ring::Options o = opts(64);
  o.wake_threshold = 10;
  o.max_wait = milliseconds(20);
  Ring ring(o);
  std::vector<Item> out;
  REQUIRE(ring.push_event(ItemKind::kRunStarted, 7, 0, 0, {}));
  for (int64_t s = 0; s < 25; ++s) REQUIRE(push_metric(ring, s) == Ring::Push::kAccepted);
  const Ring::Round r = ring.take(out);  // the event and 20 metrics: two whole batches
  REQUIRE(r.n == 21);
  REQUIRE(out[0].kind == ItemKind::kRunStarted);
  REQUIRE(out[20].step == 19);
  ring.round_done();
  REQUIRE(ring.size() == 5);
}
