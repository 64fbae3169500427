// The "all pages" rule of the search_all_* helpers (src/detail/rest/paging.hpp): base64 and the
// offset token's decoding and re-encoding, then the algorithm over an in-memory server that
// pages with offset tokens (MLflow's shapes) or opaque ones while entities are inserted and
// deleted between page requests.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "detail/rest/paging.hpp"
#include "mlflowpp/entities.hpp"
#include "mlflowpp/error.hpp"

namespace paging = mlflowpp::detail::paging;
using mlflowpp::PagedList;

namespace {

std::string b64(const std::string& s) { return paging::base64_encode(s); }

std::string decoded(const std::string& token) {
  auto d = paging::base64_decode(token);
  REQUIRE(d.has_value());
  return *d;
}

}  // namespace

TEST_CASE("paging: base64 matches RFC 4648 and refuses what is not standard base64", "[paging]") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    CHECK(paging::base64_encode(plain) == enc);
    CHECK(paging::base64_decode(enc) == std::optional<std::string>(plain));
  }
  CHECK(paging::base64_encode("") == "");
  const std::string bytes("\x00\xff\xfe\x80 \x7f", 6);
  CHECK(paging::base64_decode(paging::base64_encode(bytes)) == std::optional<std::string>(bytes));
  CHECK(paging::base64_encode("\xfb\xff") == "+/8=");  // the standard alphabet, not the URL one
  for (const char* bad : {"", "t1", "x=y", "tok", "Zg=", "Zg", "Z===", "====", "Zm9v!A==", "Zm=v",
                          "-_8=", "Zm9vYg==Zg==", "Zm9v\n"})
    CHECK_FALSE(paging::base64_decode(bad).has_value());
}

TEST_CASE("paging: MLflow's offset tokens decode and re-encode with only the offset changed", "[paging]") {
  SECTION("runs, experiments, registry: base64 of {\"offset\": N}") {
    // base64.b64encode(json.dumps({"offset": 7}).encode()) in Python
    auto t = paging::decode_offset_token("eyJvZmZzZXQiOiA3fQ==");
    REQUIRE(t.has_value());
    CHECK(t->offset == 7);
    CHECK(t->json == R"({"offset": 7})");
    CHECK(decoded(paging::with_offset(*t, 12345)) == R"({"offset": 12345})");
    CHECK(paging::with_offset(*t, 7) == "eyJvZmZzZXQiOiA3fQ==");
    auto back = paging::decode_offset_token(paging::with_offset(*t, 3));
    REQUIRE(back.has_value());
    CHECK(back->offset == 3);
    CHECK(paging::decode_offset_token(b64(R"({"offset": 0})"))->offset == 0);
    CHECK(paging::decode_offset_token(b64(R"({"offset":9223372036854775807})"))->offset == INT64_MAX);
  }
  SECTION("logged models: every other field is kept byte for byte") {
    // SearchLoggedModelsPaginationToken(experiment_ids=["1"], offset=50).encode()
    const std::string token =
        "eyJleHBlcmltZW50X2lkcyI6IFsiMSJdLCAiZmlsdGVyX3N0cmluZyI6IG51bGwsICJvcmRlcl9ieSI6IG51bGwsICJvZmZzZXQi"
        "OiA1MH0=";
    auto t = paging::decode_offset_token(token);
    REQUIRE(t.has_value());
    CHECK(t->offset == 50);
    CHECK(decoded(paging::with_offset(*t, 43)) ==
          R"({"experiment_ids": ["1"], "filter_string": null, "order_by": null, "offset": 43})");
    CHECK(paging::with_offset(*t, 50) == token);

    // "offset" spelled inside strings and nested objects is left alone.
    const std::string json =
        R"({"experiment_ids": ["1", "2"], "filter_string": "name = '\"offset\": 9'", )"
        R"("order_by": [{"field_name": "offset", "ascending": true, "offset": 4}], "offset": 1000})";
    auto u = paging::decode_offset_token(b64(json));
    REQUIRE(u.has_value());
    CHECK(u->offset == 1000);
    std::string expected = json;
    expected.replace(expected.rfind("1000"), 4, "975");
    CHECK(decoded(paging::with_offset(*u, 975)) == expected);
  }
  SECTION("tokens that are not offset tokens") {
    for (const char* opaque : {"t1", "x=y", "tok==", "not base64!", "abc"})
      CHECK_FALSE(paging::decode_offset_token(opaque).has_value());
    for (const char* json : {
             "hello",                                // not JSON
             R"({"offset": 7)",                      // truncated
             R"([{"offset": 7}])",                   // not an object
             R"("offset")",                          // a string
             R"({"page": 3})",                       // no offset
             R"({"a": {"offset": 5}})",              // not top-level
             R"({"offset": -3})",                    // negative
             R"({"offset": 3.0})",                   // not an integer
             R"({"offset": 1e2})",                   // not an integer
             R"({"offset": "3"})",                   // a string
             R"({"offset": null})",                  // null
             R"({"offset": 99999999999999999999})",  // beyond int64
             R"({"offset": 1, "offset": 2})",        // duplicated (Python keeps the last)
             R"({"\u006ffset": 3})",                 // escaped key: no textual replacement
         }) {
      INFO(json);
      CHECK_FALSE(paging::decode_offset_token(b64(json)).has_value());
    }
    auto nested = paging::decode_offset_token(b64(R"({"a": {"offset": 5}, "offset": 6})"));
    REQUIRE(nested.has_value());
    CHECK(nested->offset == 6);
    CHECK(decoded(paging::with_offset(*nested, 60)) == R"({"a": {"offset": 5}, "offset": 60})");
  }
}

TEST_CASE("paging: the overlap is max(1, min(page_size / 4, 100)), none below page size 2", "[paging]") {
  CHECK(paging::overlap_for(0) == 0);
  CHECK(paging::overlap_for(1) == 0);
  CHECK(paging::overlap_for(2) == 1);
  CHECK(paging::overlap_for(3) == 1);
  CHECK(paging::overlap_for(7) == 1);
  CHECK(paging::overlap_for(10) == 2);
  CHECK(paging::overlap_for(1000) == 100);
  CHECK(paging::overlap_for(50000) == 100);
}

namespace {

enum class Tokens { kOffset, kLoggedModels, kOpaque };

const std::string kLoggedModelsPrefix =
    R"({"experiment_ids": ["1", "2"], "filter_string": "name != 'offset'", )"
    R"("order_by": [{"field_name": "offset", "ascending": true}], "offset": )";

// An in-memory server over an ordered list of ids, paging like MLflow's SQL stores
// (OFFSET + LIMIT, a next token while entities remain after the page). `before_request`
// runs before every request but the first: the writers racing with the listing.
struct FakeServer {
  std::vector<std::string> ids;
  Tokens tokens = Tokens::kOffset;
  std::function<void(FakeServer&)> before_request;
  std::map<std::string, int64_t> opaque;  // issued opaque tokens
  int64_t cursor = 0;                     // where the last page served ended
  int requests = 0;
  std::vector<std::string> sent;  // the tokens received

  std::string token_for(int64_t offset) {
    switch (tokens) {
      case Tokens::kOffset:
        return b64(R"({"offset": )" + std::to_string(offset) + "}");
      case Tokens::kLoggedModels:
        return b64(kLoggedModelsPrefix + std::to_string(offset) + "}");
      case Tokens::kOpaque:
        break;
    }
    std::string t = "opaque-" + std::to_string(opaque.size()) + "-" + std::to_string(offset * 7919 % 1000);
    opaque[t] = offset;
    return t;
  }

  int64_t offset_of(const std::string& token) {
    if (token.empty()) return 0;
    if (tokens == Tokens::kOpaque) {
      auto it = opaque.find(token);
      if (it == opaque.end()) throw std::runtime_error("a token this server never issued: " + token);
      return it->second;
    }
    const auto json = paging::base64_decode(token);
    if (!json) throw std::runtime_error("not base64: " + token);
    std::smatch m;
    std::string tail;  // outlives `m`, which points into it
    if (tokens == Tokens::kOffset) {
      static const std::regex re(R"(^\{"offset": (\d+)\}$)");
      if (!std::regex_match(*json, m, re)) throw std::runtime_error("bad token " + *json);
    } else {
      // Like SearchLoggedModelsPaginationToken.validate: the other fields must match.
      const std::string head = json->substr(0, std::min(json->size(), kLoggedModelsPrefix.size()));
      if (head != kLoggedModelsPrefix) throw std::runtime_error("token does not match the request: " + *json);
      static const std::regex digits(R"(^(\d+)\}$)");
      tail = json->substr(kLoggedModelsPrefix.size());
      if (!std::regex_match(tail, m, digits)) throw std::runtime_error("bad token " + *json);
    }
    const int64_t offset = std::stoll(m[1].str());
    // MLflow 3.18's parse_start_offset_from_page_token: "if not offset" refuses 0.
    if (offset == 0) throw std::runtime_error("Invalid page token (offset 0)");
    return offset;
  }

  PagedList<std::string> search(const std::string& token, int64_t max_results) {
    if (requests++ > 0 && before_request) before_request(*this);
    sent.push_back(token);
    const int64_t offset = offset_of(token);
    const auto size = static_cast<int64_t>(ids.size());
    PagedList<std::string> page;
    for (int64_t i = offset; i < std::min(size, offset + max_results); ++i)
      page.items.push_back(ids[static_cast<std::size_t>(i)]);
    cursor = std::min(size, offset + max_results);
    if (offset + max_results < size) page.next_page_token = token_for(offset + max_results);
    return page;
  }
};

std::vector<std::string> list_all(FakeServer& server, int64_t page_size) {
  return paging::collect_all<std::string>(
      "", page_size, "fake/search", [&](const std::string& t) { return server.search(t, page_size); },
      [](const std::string& id) { return id; });
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

// No id twice, nothing that never existed; when `complete`, exactly the entities present
// throughout (initial minus deleted) in their order, among the ones created meanwhile.
void check_listing(const std::vector<std::string>& out, const std::vector<std::string>& initial,
                   const std::set<std::string>& deleted, const std::set<std::string>& existed,
                   bool complete) {
  std::set<std::string> unique(out.begin(), out.end());
  CHECK(unique.size() == out.size());
  CHECK(std::all_of(out.begin(), out.end(), [&](const std::string& id) { return existed.count(id) == 1; }));
  std::vector<std::string> persistent;
  for (const auto& id : initial)
    if (deleted.count(id) == 0) persistent.push_back(id);
  const std::set<std::string> persistent_set(persistent.begin(), persistent.end());
  std::vector<std::string> got;
  for (const auto& id : out)
    if (persistent_set.count(id) > 0) got.push_back(id);
  if (complete) CHECK(got == persistent);
}

// The writers: what happens between two page requests.
struct Writers {
  std::mt19937 rng;
  int front = 0, middle = 0, delete_before = 0;  // how many per round, at most
  int rounds = 30;                               // then the writers stop
  bool big_events = false;  // occasionally 10 deletions, or more insertions than the cursor
  int created = 0;
  std::set<std::string> deleted;
  std::set<std::string> existed;

  explicit Writers(unsigned seed) : rng(seed) {}

  int upto(int n) { return n <= 0 ? 0 : static_cast<int>(rng() % static_cast<unsigned>(n + 1)); }
  std::string fresh() {
    std::string id = "new" + std::to_string(created++);
    existed.insert(id);
    return id;
  }
  void erase_at(FakeServer& s, std::size_t pos) {
    deleted.insert(s.ids[pos]);
    s.ids.erase(s.ids.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  void operator()(FakeServer& s) {
    if (rounds-- <= 0) return;
    for (int i = upto(front); i > 0; --i) s.ids.insert(s.ids.begin(), fresh());
    for (int i = upto(middle); i > 0; --i) {
      const std::size_t pos = i % 2 == 0 ? s.ids.size() / 2 : rng() % (s.ids.size() + 1);
      s.ids.insert(s.ids.begin() + static_cast<std::ptrdiff_t>(pos), fresh());
    }
    for (int i = upto(delete_before); i > 0 && s.cursor > 0 && !s.ids.empty(); --i) {
      const auto limit = std::min<std::size_t>(static_cast<std::size_t>(s.cursor), s.ids.size());
      erase_at(s, rng() % limit);
    }
    if (big_events && rng() % 8 == 0) {
      for (int i = 0; i < 10 && s.cursor > 0 && !s.ids.empty(); ++i)
        erase_at(s, rng() % std::min<std::size_t>(static_cast<std::size_t>(s.cursor), s.ids.size()));
    }
    if (big_events && rng() % 16 == 0) {
      for (int64_t i = 0; i < s.cursor + 3; ++i) s.ids.insert(s.ids.begin(), fresh());
    }
  }
};

struct Scenario {
  const char* name;
  int front, middle, delete_before;
  bool big_events;
};

}  // namespace

TEST_CASE("paging: without writers, overlapped pages cost one extra request per (page_size - k)",
          "[paging]") {
  FakeServer server;
  server.ids = numbered("e", 30);
  CHECK(list_all(server, 10) == server.ids);
  // Pages start at 0, 8, 16, 24: k = 2 entities repeated each time, offset 0 sent as "".
  REQUIRE(server.sent.size() == 4);
  CHECK(server.sent[0].empty());
  CHECK(decoded(server.sent[1]) == R"({"offset": 8})");
  CHECK(decoded(server.sent[3]) == R"({"offset": 24})");

  FakeServer one;
  one.ids = numbered("e", 3);
  CHECK(list_all(one, 1) == one.ids);
  CHECK(one.sent.size() == 3);  // page size 1: no overlap

  FakeServer exact;
  exact.ids = numbered("e", 20);
  CHECK(list_all(exact, 100) == exact.ids);
  CHECK(exact.sent.size() == 1);

  FakeServer empty;
  CHECK(list_all(empty, 10).empty());
  CHECK(empty.sent.size() == 1);
}

TEST_CASE("paging: entities inserted and deleted between pages appear exactly once, in order", "[paging]") {
  const std::vector<Scenario> scenarios = {
      {"inserted at the front", 3, 0, 0, false},     {"inserted in the middle", 0, 2, 0, false},
      {"deleted before the cursor", 0, 0, 3, false}, {"all three", 2, 2, 2, false},
      {"all three, with bursts", 2, 2, 2, true},
  };
  for (const Tokens tokens : {Tokens::kOffset, Tokens::kLoggedModels}) {
    for (const auto& sc : scenarios) {
      for (const int64_t page_size : {1, 2, 3, 10}) {
        for (unsigned seed = 0; seed < 40; ++seed) {
          INFO(sc.name << ", page size " << page_size << ", seed " << seed
                       << (tokens == Tokens::kOffset ? ", offset tokens" : ", logged-model tokens"));
          FakeServer server;
          server.tokens = tokens;
          server.ids = numbered("e", 25 + static_cast<int>(seed % 40));
          const std::vector<std::string> initial = server.ids;
          Writers w(seed);
          w.front = sc.front;
          w.middle = sc.middle;
          w.delete_before = sc.delete_before;
          w.big_events = sc.big_events;
          w.existed.insert(initial.begin(), initial.end());
          server.before_request = std::ref(w);
          const auto out = list_all(server, page_size);
          // Page size 1 has no overlap (dedupe only): a deletion before the cursor makes it
          // skip an entity, which insertions may push forward into a later page, out of order.
          const bool deletes = sc.delete_before > 0 || sc.big_events;
          check_listing(out, initial, w.deleted, w.existed, page_size >= 2 || !deletes);
        }
      }
    }
  }
}

TEST_CASE("paging: opaque tokens are followed as they are, with the dedupe", "[paging]") {
  for (const int64_t page_size : {1, 2, 3, 10}) {
    for (unsigned seed = 0; seed < 20; ++seed) {
      INFO("page size " << page_size << ", seed " << seed);
      FakeServer server;
      server.tokens = Tokens::kOpaque;
      server.ids = numbered("e", 40);
      const std::vector<std::string> initial = server.ids;
      Writers w(seed);
      w.front = 2;
      w.middle = 1;
      w.existed.insert(initial.begin(), initial.end());
      server.before_request = std::ref(w);
      const auto out = list_all(server, page_size);
      check_listing(out, initial, w.deleted, w.existed, true);
      // Exactly the server's tokens, in the server's order: one request per page.
      for (std::size_t i = 1; i < server.sent.size(); ++i) CHECK(server.opaque.count(server.sent[i]) == 1);
    }
  }
  // Without writers: the same requests as plain paging.
  FakeServer server;
  server.tokens = Tokens::kOpaque;
  server.ids = numbered("e", 30);
  CHECK(list_all(server, 10) == server.ids);
  CHECK(server.sent.size() == 3);
}

TEST_CASE("paging: the rewind finds the continuation after deletions before the window", "[paging]") {
  // 20 entities, page size 10 (k = 2). After the first page, 6 of its entities are deleted:
  // the overlapped window at offset 8 holds e14.. (none returned), so the walker rewinds
  // (offset 6: e12.., none; offset 2: e6.., returned) and continues from there.
  FakeServer server;
  server.ids = numbered("e", 20);
  const auto initial = server.ids;
  server.before_request = [](FakeServer& s) {  // before the second request
    if (s.requests != 2) return;
    s.ids.erase(s.ids.begin(), s.ids.begin() + 6);
  };
  const auto out = list_all(server, 10);
  CHECK(out == initial);
  REQUIRE(server.sent.size() == 5);
  CHECK(decoded(server.sent[1]) == R"({"offset": 8})");
  CHECK(decoded(server.sent[2]) == R"({"offset": 6})");
  CHECK(decoded(server.sent[3]) == R"({"offset": 2})");
  CHECK(decoded(server.sent[4]) == R"({"offset": 10})");  // overlapped again after e17

  // Everything returned so far deleted: the rewind ends at offset 0 (sent as ""), accepted.
  FakeServer all_gone;
  all_gone.ids = numbered("e", 30);
  all_gone.before_request = [](FakeServer& s) {
    if (s.requests == 2) s.ids.erase(s.ids.begin(), s.ids.begin() + 10);
  };
  const auto out2 = list_all(all_gone, 10);
  CHECK(out2 == numbered("e", 30));
  REQUIRE(all_gone.sent.size() == 7);
  CHECK(decoded(all_gone.sent[3]) == R"({"offset": 2})");
  CHECK(all_gone.sent[4].empty());  // offset 0: the first page again
}

TEST_CASE("paging: a page without identity is kept, and a token answered with itself is refused",
          "[paging]") {
  paging::PageWalker walker("", 10, "fake/search");
  REQUIRE(walker.next_request() == std::optional<std::string>(""));
  CHECK(walker.take({"a", "", "a", "", "b"}, "") == std::vector<std::size_t>{0, 1, 3, 4});
  CHECK_FALSE(walker.next_request().has_value());
  CHECK(walker.requests() == 1);

  paging::PageWalker loop("", 10, "fake/search");
  CHECK(loop.take({"a"}, "opaque") == std::vector<std::size_t>{0});
  CHECK(loop.next_request() == std::optional<std::string>("opaque"));
  CHECK_THROWS_AS(loop.take({"b"}, "opaque"), mlflowpp::ParseError);

  // The caller's own starting token is sent first, as it is.
  paging::PageWalker from("eyJvZmZzZXQiOiA3fQ==", 10, "fake/search");
  CHECK(from.next_request() == std::optional<std::string>("eyJvZmZzZXQiOiA3fQ=="));
  from.take({"h", "i"}, b64(R"({"offset": 17})"));
  CHECK(decoded(*from.next_request()) == R"({"offset": 15})");
}
