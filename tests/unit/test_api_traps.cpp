// The public API's traps (issue 9): a step can never be taken for a timestamp, and the
// client-side limits are those of the pinned MLflow 3.18.
#include <catch2/catch.hpp>
#include <chrono>
#include <mlflowpp/client.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "detail/core/validation.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;

namespace {

// `client.log_metric(id, "loss", value, step)`: would an integer be taken as a timestamp?
template <typename C, typename = void>
struct takes_integer_timestamp : std::false_type {};
template <typename C>
struct takes_integer_timestamp<
    C, std::void_t<decltype(std::declval<C&>().log_metric(std::string(), std::string(), 1.0, int64_t{5}))>>
    : std::true_type {};
template <typename C, typename = void>
struct takes_typed_timestamp : std::false_type {};
template <typename C>
struct takes_typed_timestamp<C, std::void_t<decltype(std::declval<C&>().log_metric(
                                    std::string(), std::string(), 1.0, TimestampMs(5), int64_t{3}))>>
    : std::true_type {};

}  // namespace

TEST_CASE("api: Client::log_metric takes a TimestampMs, never a bare integer, before the step", "[api]") {
  STATIC_REQUIRE_FALSE(takes_integer_timestamp<Client>::value);
  STATIC_REQUIRE(takes_typed_timestamp<Client>::value);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<int64_t, TimestampMs>);
  STATIC_REQUIRE(std::is_convertible_v<std::chrono::system_clock::time_point, TimestampMs>);
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  CHECK(TimestampMs(t).ms == 1700000000123);
  CHECK(TimestampMs(42).ms == 42);
  const int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  CHECK(TimestampMs::now().ms >= before);
}

TEST_CASE("api: limits are the pinned server's (experiment tags 20,000 characters since MLflow 3.16)",
          "[api]") {
  CHECK_FALSE(check_value("experiment tag", "k", std::string(20000, 'v'), kMaxExperimentTagValueLength));
  auto e = check_value("experiment tag", "k", std::string(20001, 'v'), kMaxExperimentTagValueLength);
  REQUIRE(e);
  CHECK(e->find("20001") != std::string::npos);
  CHECK(e->find("20000") != std::string::npos);
  CHECK(kMaxParamValueLength == 6000);
  CHECK(kMaxTagValueLength == 8000);
  CHECK(kMaxEntityKeyLength == 250);
}

TEST_CASE("api: dataset inputs are checked against every limit of log-inputs before sending", "[api]") {
  DatasetInput in;
  in.dataset.name = "digits";
  in.dataset.digest = "abc123";
  in.dataset.source_type = "local";
  in.dataset.source = "{}";
  CHECK_FALSE(check_dataset_input(in));
  auto with = [&](auto&& change) {
    DatasetInput copy = in;
    change(copy);
    return check_dataset_input(copy);
  };
  CHECK(with([](DatasetInput& d) { d.dataset.name = std::string(500, 'n'); }) == std::nullopt);
  auto e = with([](DatasetInput& d) { d.dataset.name = std::string(501, 'n'); });
  REQUIRE(e);
  CHECK(e->find("501") != std::string::npos);
  CHECK(with([](DatasetInput& d) { d.dataset.digest = std::string(37, 'd'); })->find("digest") !=
        std::string::npos);
  CHECK(with([](DatasetInput& d) { d.dataset.source = std::string(65536, 's'); })->find("source") !=
        std::string::npos);
  CHECK(with([](DatasetInput& d) { d.dataset.schema = std::string(1048576, 's'); })->find("schema") !=
        std::string::npos);
  CHECK(with([](DatasetInput& d) {
          d.tags.push_back({std::string(256, 'k'), "v"});
        })->find("256") != std::string::npos);
  CHECK(with([](DatasetInput& d) {
          d.tags.push_back({"k", std::string(501, 'v')});
        })->find("501") != std::string::npos);
  CHECK(with([](DatasetInput& d) { d.tags.push_back({"k", std::string(500, 'v')}); }) == std::nullopt);
  CHECK(with([](DatasetInput& d) { d.dataset.digest.clear(); })->find("digest") != std::string::npos);
}
