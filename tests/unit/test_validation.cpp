#include <catch2/catch.hpp>
#include <string>

#include "detail/core/validation.hpp"

using namespace mlflowpp::detail;

TEST_CASE("keys: MLflow's allowed characters and path rule", "[validation]") {
  for (const char* good :
       {"loss", "a/b", "a.b", "a-b", "a b", "a:b", "under_score", "grün/loss", "损失", "x..y", "a/.b"}) {
    INFO(good);
    CHECK_FALSE(check_key("metric", good).has_value());
  }
  for (const char* bad : {"", "a//b", "/a", "a/", "..", ".", "./a", "a/../b", "a/./b", "..a", "x@y", "a#b",
                          "a\\b", "a\nb", "tab\t"}) {
    INFO(bad);
    CHECK(check_key("metric", bad).has_value());
  }
}

TEST_CASE("keys: the 250-character limit counts characters, not bytes", "[validation]") {
  CHECK_FALSE(check_key("param", std::string(250, 'k')).has_value());
  auto err = check_key("param", std::string(251, 'k'));
  REQUIRE(err.has_value());
  CHECK(err->find("251 characters") != std::string::npos);
  CHECK(err->find("limit is 250") != std::string::npos);
  std::string umlauts;
  for (int i = 0; i < 250; ++i) umlauts += "ü";  // 500 bytes, 250 characters
  CHECK_FALSE(check_key("param", umlauts).has_value());
  CHECK(check_key("param", umlauts + "ü").has_value());
}

TEST_CASE("values: limits in characters, errors name the key, the limit and the size", "[validation]") {
  CHECK_FALSE(check_value("param", "k", std::string(6000, 'v'), kMaxParamValueLength).has_value());
  auto err = check_value("param", "lr", std::string(6001, 'v'), kMaxParamValueLength);
  REQUIRE(err.has_value());
  CHECK(err->find("'lr'") != std::string::npos);
  CHECK(err->find("6001") != std::string::npos);
  CHECK(err->find("6000") != std::string::npos);
  std::string multi;
  for (int i = 0; i < 6000; ++i) multi += "é";
  CHECK_FALSE(check_value("param", "k", multi, kMaxParamValueLength).has_value());
  CHECK(check_value("param", "k", multi + "é", kMaxParamValueLength).has_value());
  CHECK_FALSE(check_value("tag", "k", std::string(8000, 't'), kMaxTagValueLength).has_value());
  CHECK(check_value("tag", "k", std::string(8001, 't'), kMaxTagValueLength).has_value());
  CHECK(check_value("tag", "k", "\xC3\x28", kMaxTagValueLength).has_value());  // invalid UTF-8
}

TEST_CASE("timestamps must be non-negative milliseconds", "[validation]") {
  CHECK_FALSE(check_timestamp("m", 0).has_value());
  CHECK_FALSE(check_timestamp("m", 1700000000000).has_value());
  auto err = check_timestamp("m", -1);
  REQUIRE(err.has_value());
  CHECK(err->find("-1") != std::string::npos);
  CHECK(err->find("'m'") != std::string::npos);
}

TEST_CASE("long keys are shortened in messages", "[validation]") {
  auto err = check_key("metric", std::string(5000, 'k') + "@");
  REQUIRE(err.has_value());
  CHECK(err->size() < 400);
}

TEST_CASE("timestamps that look like seconds are recognised", "[validation]") {
  CHECK(looks_like_seconds(1796024064));           // 2026 in seconds
  CHECK_FALSE(looks_like_seconds(1796024064000));  // 2026 in milliseconds
  CHECK_FALSE(looks_like_seconds(0));
  CHECK_FALSE(looks_like_seconds(123456));
}

// (No brackets or backslashes in test names: ctest hands the name to Catch as a test spec.)
TEST_CASE("keys: beyond ASCII, exactly the characters of Python's regex word class", "[validation]") {
  using mlflowpp::detail::check_key;
  // Letters and digits of any script, and other numeric characters, as Python's \w.
  for (const char* ok : {"grün", "été_1", "日本語", "Ωmega", "x²", "½", "٣"}) {
    INFO(ok);
    CHECK_FALSE(check_key("metric", ok).has_value());
  }
  // Symbols, emoji and invisible characters are refused before anything is sent or written.
  for (const char* bad : {"loss€", "acc\xF0\x9F\x98\x80", "a\xE2\x80\x8B",
                          "a\xC2\xA0"
                          "b",
                          "x\xC2\xA9"}) {
    INFO(bad);
    const auto why = check_key("metric", bad);
    REQUIRE(why.has_value());
    CHECK(why->find("is not allowed (U+") != std::string::npos);
  }
}
