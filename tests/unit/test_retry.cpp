#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "fake_transport.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;
using testing::FakeTransport;

TEST_CASE("backoff schedule: the Python client's defaults (0, 4, 8, 16, 32, 64, 120 s)", "[retry]") {
  RetryPolicy p;
  std::vector<int64_t> got;
  for (int n = 1; n <= 7; ++n) got.push_back(p.backoff(n, 0.0).count());
  CHECK(got == std::vector<int64_t>{0, 4000, 8000, 16000, 32000, 64000, 120000});
  CHECK(p.backoff(2, 0.999).count() == 4999);    // jitter adds up to backoff_jitter seconds
  CHECK(p.backoff(7, 0.999).count() == 120000);  // capped
  p.backoff_factor = 0.1;
  p.backoff_jitter = 0;
  CHECK(p.backoff(3, 0.5).count() == 400);
}

TEST_CASE("Retry-After: seconds and HTTP dates", "[retry]") {
  auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("7", now) == milliseconds(7000));
  CHECK(parse_retry_after("0", now) == milliseconds(0));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == milliseconds(30000));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == milliseconds(0));
  CHECK_FALSE(parse_retry_after("soon", now).has_value());
  CHECK_FALSE(parse_retry_after("", now).has_value());
}

namespace {
struct Rig {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  std::vector<milliseconds> sleeps;
  CallHooks hooks;
  std::atomic<uint64_t> requests{0}, retries{0};
  RestClient rest;
  explicit Rig(ClientOptions o = testing::fake_options()) : rest(o, transport) {
    hooks.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      return true;
    };
    hooks.requests = &requests;
    hooks.retries = &retries;
  }
};
}  // namespace

TEST_CASE("transient statuses are retried with backoff, then succeed", "[retry]") {
  Rig rig;
  int calls = 0;
  rig.transport->set_handler([&](const HttpRequest&) {
    ++calls;
    return calls <= 2 ? testing::status(503, "busy") : testing::ok("{\"x\":1}");
  });
  auto body = rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks);
  CHECK(body == "{\"x\":1}");
  CHECK(calls == 3);
  CHECK(rig.requests == 3);
  CHECK(rig.retries == 2);
  REQUIRE(rig.sleeps.size() == 2);
  CHECK(rig.sleeps[0] == milliseconds(0));  // the first retry is immediate
  CHECK(rig.sleeps[1] >= milliseconds(4000));
  CHECK(rig.sleeps[1] < milliseconds(5000));
}

TEST_CASE("each retryable status is retried; other 4xx are not", "[retry]") {
  for (long code : {408L, 429L, 500L, 502L, 503L, 504L}) {
    Rig rig;
    int calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) {
      ++calls;
      return calls == 1 ? testing::status(code) : testing::ok();
    });
    INFO(code);
    CHECK_NOTHROW(rig.rest.call("POST", "/x", "{}", &rig.hooks));
    CHECK(calls == 2);
  }
  for (long code : {400L, 401L, 403L, 404L, 409L, 501L}) {
    Rig rig;
    int calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) {
      ++calls;
      return testing::status(code, "nope");
    });
    INFO(code);
    CHECK_THROWS_AS(rig.rest.call("POST", "/x", "{}", &rig.hooks), ServerError);
    CHECK(calls == 1);
  }
}

TEST_CASE("Retry-After on 429 and 503 replaces the computed wait (capped)", "[retry]") {
  Rig rig;
  int calls = 0;
  rig.transport->set_handler([&](const HttpRequest&) {
    ++calls;
    if (calls == 1) return testing::status(429, "", "7");
    if (calls == 2) return testing::status(503, "", "100000");
    return testing::ok();
  });
  rig.rest.call("POST", "/x", "{}", &rig.hooks);
  REQUIRE(rig.sleeps.size() == 2);
  CHECK(rig.sleeps[0] == milliseconds(7000));
  CHECK(rig.sleeps[1] == milliseconds(120000));
}

TEST_CASE("retries are bounded: the last answer is reported", "[retry]") {
  Rig rig;
  rig.transport->set_handler(
      [](const HttpRequest&) { return testing::mlflow_error(503, "TEMPORARILY_UNAVAILABLE", "down"); });
  try {
    rig.rest.call("POST", "/mlflow/runs/create", "{}", &rig.hooks);
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK(e.http_status() == 503);
    CHECK(e.error_code() == "TEMPORARILY_UNAVAILABLE");
    CHECK(e.server_message() == "down");
  }
  CHECK(rig.requests == 4);  // 1 + max_retries (3)
}

TEST_CASE("connection failures are retried, then raised as TransportError", "[retry]") {
  Rig rig;
  int calls = 0;
  rig.transport->set_handler([&](const HttpRequest&) -> HttpResponse {
    ++calls;
    throw TransportError(7, "connect failed");
  });
  CHECK_THROWS_AS(rig.rest.call("GET", "/x", "", &rig.hooks), TransportError);
  CHECK(calls == 4);
}

TEST_CASE("TLS and URL failures are not retried: another attempt cannot fix them", "[retry]") {
  for (int code : {60, 58, 77, 1, 3}) {
    Rig rig;
    int calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) -> HttpResponse {
      ++calls;
      throw TransportError(code, "tls");
    });
    INFO(code);
    CHECK_THROWS_AS(rig.rest.call("GET", "/x", "", &rig.hooks), TransportError);
    CHECK(calls == 1);
  }
}

TEST_CASE("an interrupted wait abandons the call", "[retry]") {
  Rig rig;
  rig.hooks.sleep = [](milliseconds) { return false; };
  rig.transport->set_handler([](const HttpRequest&) { return testing::status(503); });
  CHECK_THROWS_AS(rig.rest.call("POST", "/x", "{}", &rig.hooks), TransportError);
  CHECK(rig.requests == 1);
}

TEST_CASE("error mapping: MLflow JSON codes, else the Python client's status codes", "[retry]") {
  Rig rig;
  rig.transport->set_handler([](const HttpRequest&) {
    return testing::mlflow_error(400, "RESOURCE_ALREADY_EXISTS", "Experiment 'x' already exists.");
  });
  try {
    rig.rest.call("POST", "/mlflow/experiments/create", "{}");
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK(e.is_already_exists());
    CHECK(e.http_status() == 400);
    CHECK(std::string(e.what()).find("/mlflow/experiments/create") != std::string::npos);
  }
  const std::pair<long, const char*> plain[] = {{400, "BAD_REQUEST"},       {401, "UNAUTHENTICATED"},
                                                {403, "PERMISSION_DENIED"}, {404, "ENDPOINT_NOT_FOUND"},
                                                {409, "ALREADY_EXISTS"},    {501, "NOT_IMPLEMENTED"},
                                                {418, "INTERNAL_ERROR"}};
  for (auto [code, name] : plain) {
    rig.transport->set_handler(
        [code = code](const HttpRequest&) { return testing::status(code, "<html>no</html>"); });
    try {
      rig.rest.call("POST", "/x", "{}");
      FAIL("no exception");
    } catch (const ServerError& e) {
      CHECK(e.error_code() == name);
      CHECK(e.server_message() == "<html>no</html>");
    }
  }
}

TEST_CASE("URLs: /api/2.0 under the tracking URI's path prefix; JSON headers; no Origin, no credentials",
          "[retry]") {
  ClientOptions o = testing::fake_options();
  o.tracking_uri = "https://host.example:8443/mlflow/";
  o.username = "alice";
  o.password = "s3cret";
  o.workspace = "team-a";
  Rig rig(o);
  rig.rest.call("POST", "/mlflow/runs/create", "{\"a\":1}");
  rig.rest.get("/mlflow/runs/get", {{"run_id", "a b&c/ü"}});
  auto reqs = rig.transport->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].url == "https://host.example:8443/mlflow/api/2.0/mlflow/runs/create");
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].body == "{\"a\":1}");
  CHECK(reqs[1].url == "https://host.example:8443/mlflow/api/2.0/mlflow/runs/get?run_id=a%20b%26c%2F%C3%BC");
  bool has_json = false, has_ws = false;
  for (const auto& h : reqs[0].headers) {
    CHECK(h.rfind("Origin", 0) != 0);
    CHECK(h.find("s3cret") == std::string::npos);
    CHECK(h.rfind("Authorization", 0) != 0);  // credentials go to libcurl, not to header lists
    has_json = has_json || h == "Content-Type: application/json";
    has_ws = has_ws || h == "X-MLFLOW-WORKSPACE: team-a";
  }
  CHECK(has_json);
  CHECK(has_ws);
}

TEST_CASE("redact_url removes credentials from URLs shown in messages", "[retry]") {
  CHECK(redact_url("https://bob:pw@host/x?y=1") == "https://***@host/x?y=1");
  CHECK(redact_url("http://host:5000/a@b") == "http://host:5000/a@b");
  CHECK(redact_url("/mlflow/runs/get") == "/mlflow/runs/get");
}
