#include <simdjson.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "detail/codec/json.hpp"
#include "detail/delivery/batch.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;

namespace {

const std::string kRun = "0123456789abcdef0123456789abcdef";

Entity metric(std::size_t i, const std::string& key = "m") {
  Metric m;
  m.key = key;
  m.value = static_cast<double>(i);
  m.timestamp = 1;
  m.step = static_cast<int64_t>(i);
  return Entity{EntityKind::kMetric, key, {}, metric_json(m), {i}};
}
Entity param(std::size_t i, const std::string& key, const std::string& value) {
  return Entity{EntityKind::kParam, key, value, param_json(key, value), {i}};
}
Entity tag(std::size_t i, const std::string& key, const std::string& value = "v") {
  return Entity{EntityKind::kTag, key, {}, tag_json(key, value), {i}};
}

std::vector<Chunk> split(const std::vector<Entity>& entities, BatchLimits limits = {}) {
  Batcher b(limits, kRun.size());
  for (const auto& e : entities) b.add(e);
  return b.finish();
}

std::vector<std::size_t> sizes(const std::vector<Chunk>& chunks) {
  std::vector<std::size_t> out;
  for (const auto& c : chunks) out.push_back(c.size());
  return out;
}

}  // namespace

TEST_CASE("metrics: 1000 fit one request, 1001 need two", "[batch]") {
  std::vector<Entity> es;
  for (std::size_t i = 0; i < 1000; ++i) es.push_back(metric(i));
  CHECK(sizes(split(es)) == std::vector<std::size_t>{1000});
  es.push_back(metric(1000));
  CHECK(sizes(split(es)) == std::vector<std::size_t>{1000, 1});
}

TEST_CASE("params: 100 per request, tags: 100 per request", "[batch]") {
  std::vector<Entity> ps, ts;
  for (std::size_t i = 0; i < 101; ++i) ps.push_back(param(i, "p" + std::to_string(i), "v"));
  for (std::size_t i = 0; i < 201; ++i) ts.push_back(tag(i, "t" + std::to_string(i)));
  CHECK(sizes(split(ps)) == std::vector<std::size_t>{100, 1});
  CHECK(sizes(split(ts)) == std::vector<std::size_t>{100, 100, 1});
}

TEST_CASE("entities: at most 1000 in all per request", "[batch]") {
  std::vector<Entity> es;
  for (std::size_t i = 0; i < 900; ++i) es.push_back(metric(i));
  for (std::size_t i = 0; i < 100; ++i) es.push_back(param(900 + i, "p" + std::to_string(i), "v"));
  CHECK(sizes(split(es)) == std::vector<std::size_t>{1000});
  es.push_back(tag(1000, "t"));
  auto chunks = split(es);
  REQUIRE(sizes(chunks) == std::vector<std::size_t>{1000, 1});
  CHECK(chunks[0].metrics == 900);
  CHECK(chunks[0].params == 100);
  CHECK(chunks[1].tags == 1);
}

TEST_CASE("the byte budget is never exceeded, and is met exactly at the limit", "[batch]") {
  std::vector<Entity> es;
  for (std::size_t i = 0; i < 50; ++i) es.push_back(tag(i, "t" + std::to_string(i), std::string(7000, 'x')));
  BatchLimits limits;
  limits.max_bytes = 100000;
  auto chunks = split(es, limits);
  std::size_t total = 0;
  for (const auto& c : chunks) {
    auto body = chunk_body(kRun, c);
    CHECK(body.size() <= limits.max_bytes);
    CHECK(body.size() == Batcher::envelope_bytes(kRun.size()) + c.bytes - 1);  // no comma after the last
    total += c.size();
  }
  CHECK(total == 50);
  CHECK(chunks.size() == 4);  // 14 tags of ~7 KB fit in 100 KB

  // A budget that fits exactly two entities.
  auto one = tag(0, "a", "x");
  limits.max_bytes = Batcher::envelope_bytes(kRun.size()) + 2 * (one.json.size() + 1);
  CHECK(sizes(split({tag(0, "a", "x"), tag(1, "b", "x"), tag(2, "c", "x")}, limits)) ==
        std::vector<std::size_t>{2, 1});
}

TEST_CASE("never two params with the same key in one request", "[batch]") {
  SECTION("identical repeats are folded into one entry that stands for both") {
    auto chunks = split({param(0, "lr", "0.1"), metric(1), param(2, "lr", "0.1")});
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].params == 1);
    CHECK(chunks[0].entities[0].origins == std::vector<std::size_t>{0, 2});
  }
  SECTION("a conflicting value goes to its own, later request") {
    auto chunks = split({param(0, "lr", "0.1"), metric(1), param(2, "lr", "0.2"), metric(3)});
    REQUIRE(sizes(chunks) == std::vector<std::size_t>{2, 2});
    CHECK(chunks[0].entities[0].value == "0.1");
    CHECK(chunks[1].entities[0].value == "0.2");
  }
}

TEST_CASE("request bodies are valid JSON with every entity, in order", "[batch]") {
  auto chunks = split({metric(0, "a"), tag(1, "t", "x\"y"), param(2, "p", "1"), metric(3, "b")});
  REQUIRE(chunks.size() == 1);
  auto body = chunk_body(kRun, chunks[0]);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(body).get(doc));
  CHECK(std::string_view(doc["run_id"]) == kRun);
  auto metrics = doc["metrics"].get_array();
  REQUIRE(metrics.size() == 2);
  CHECK(std::string_view(metrics.at(0)["key"]) == "a");
  CHECK(std::string_view(metrics.at(1)["key"]) == "b");
  CHECK(std::string_view(doc["tags"].at(0)["value"]) == "x\"y");
  CHECK(std::string_view(doc["params"].at(0)["key"]) == "p");
}

TEST_CASE("make_chunk recounts a bisected half", "[batch]") {
  auto c = make_chunk({metric(0), param(1, "p", "v"), tag(2, "t"), tag(3, "u")});
  CHECK(c.metrics == 1);
  CHECK(c.params == 1);
  CHECK(c.tags == 2);
  CHECK(c.bytes == c.entities[0].json.size() + c.entities[1].json.size() + c.entities[2].json.size() +
                       c.entities[3].json.size() + 4);
}
