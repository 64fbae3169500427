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
  CHECK(parse_retry_after(" 7 ", now) == milliseconds(7000));
  CHECK_FALSE(parse_retry_after("0", now).has_value());  // as urllib3: zero means "use the backoff"
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == milliseconds(30000));
  CHECK(parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now) == milliseconds(30000));  // RFC 850
  CHECK(parse_retry_after("Wed Oct 21 07:28:30 2015", now) == milliseconds(30000));           // asctime
  CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now).has_value());           // in the past
  CHECK_FALSE(parse_retry_after("soon", now).has_value());
  // Found by the fuzzer: a date thousands of years ahead must not overflow (capped at a year).
  auto far = parse_retry_after("Wed, 21 Oct 2015270 :8:00 GMT", now);
  if (far) CHECK(*far <= std::chrono::milliseconds(std::chrono::hours(24 * 365)));
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

TEST_CASE("each retryable status is retried, other 4xx are not", "[retry]") {
  for (long code : {408L, 429L, 500L, 502L, 503L, 504L}) {
    Rig rig;
    int calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) {
      ++calls;
      return calls == 1 ? testing::status(code) : testing::ok();
    });
    INFO(code);
    CHECK_NOTHROW(rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks));
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
    CHECK_THROWS_AS(rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks), ServerError);
    CHECK(calls == 1);
  }
}

TEST_CASE("Retry-After on a retried answer replaces the computed wait (capped at 6 h)", "[retry]") {
  Rig rig;
  int calls = 0;
  rig.transport->set_handler([&](const HttpRequest&) {
    ++calls;
    if (calls == 1) return testing::status(429, "", "7");
    if (calls == 2) return testing::status(503, "", "100000");
    if (calls == 3) return testing::status(500, "", "3");
    return testing::ok();
  });
  rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks);
  REQUIRE(rig.sleeps.size() == 3);
  CHECK(rig.sleeps[0] == milliseconds(7000));
  CHECK(rig.sleeps[1] == milliseconds(6 * 3600 * 1000));
  CHECK(rig.sleeps[2] == milliseconds(3000));
}

TEST_CASE("POSTs the server does not apply idempotently are resent only when unprocessed", "[retry]") {
  SECTION("5xx after the server may have committed: not resent") {
    for (long code : {500L, 502L, 503L, 504L}) {
      Rig rig;
      int calls = 0;
      rig.transport->set_handler([&](const HttpRequest&) {
        ++calls;
        return testing::status(code);
      });
      INFO(code);
      CHECK_THROWS_AS(rig.rest.call("POST", "/mlflow/runs/create", "{}", &rig.hooks), ServerError);
      CHECK(calls == 1);
    }
  }
  SECTION("408 and 429 show the request was not processed: resent") {
    for (long code : {408L, 429L}) {
      Rig rig;
      int calls = 0;
      rig.transport->set_handler([&](const HttpRequest&) {
        return ++calls == 1 ? testing::status(code) : testing::ok("{\"experiment_id\":\"1\"}");
      });
      INFO(code);
      CHECK_NOTHROW(rig.rest.call("POST", "/mlflow/experiments/create", "{}", &rig.hooks));
      CHECK(calls == 2);
    }
  }
  SECTION("a failure before anything was sent is resent; after, it is not") {
    Rig rig;
    int calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) -> HttpResponse {
      if (++calls == 1) throw TransportError(7, "connection refused", /*request_sent=*/false);
      return testing::ok("{}");
    });
    CHECK_NOTHROW(rig.rest.call("POST", "/mlflow/runs/create", "{}", &rig.hooks));
    CHECK(calls == 2);
    calls = 0;
    rig.transport->set_handler([&](const HttpRequest&) -> HttpResponse {
      ++calls;
      throw TransportError(28, "timed out waiting for the answer", /*request_sent=*/true);
    });
    CHECK_THROWS_AS(rig.rest.call("POST", "/mlflow/runs/create", "{}", &rig.hooks), TransportError);
    CHECK(calls == 1);
  }
  SECTION("idempotent writes and reads are resent on 5xx") {
    CHECK(is_retry_safe_post("/mlflow/runs/log-batch"));
    CHECK(is_retry_safe_post("/mlflow/runs/update"));
    CHECK(is_retry_safe_post("/mlflow/runs/search"));
    CHECK_FALSE(is_retry_safe_post("/mlflow/runs/create"));
    CHECK_FALSE(is_retry_safe_post("/mlflow/experiments/create"));
    CHECK_FALSE(is_retry_safe_post("/mlflow/runs/delete-tag"));
  }
}

TEST_CASE("retries are bounded: the last answer is reported", "[retry]") {
  Rig rig;
  rig.transport->set_handler(
      [](const HttpRequest&) { return testing::mlflow_error(503, "TEMPORARILY_UNAVAILABLE", "down"); });
  try {
    rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks);
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
  CHECK_THROWS_AS(rig.rest.call("POST", "/mlflow/runs/log-batch", "{}", &rig.hooks), TransportError);
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

TEST_CASE("URLs: /api/2.0 under the tracking URI's path prefix, JSON headers, no Origin, no credentials",
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

TEST_CASE("credentials in the tracking URI move to the options and out of every URL", "[retry]") {
  std::string user, password;
  CHECK(take_userinfo("https://al%40ice:p%2Fw@host.example:8443/mlflow", user, password) ==
        "https://host.example:8443/mlflow");
  CHECK(user == "al@ice");
  CHECK(password == "p/w");
  std::string u2 = "explicit", p2;
  CHECK(take_userinfo("http://bob:pw@h/", u2, p2) == "http://h/");
  CHECK(u2 == "explicit");  // options set explicitly win
  CHECK(p2 == "pw");
  std::string u3, p3;
  CHECK(take_userinfo("http://h:5000/prefix", u3, p3) == "http://h:5000/prefix");  // untouched
  CHECK(u3.empty());
}

TEST_CASE("redact_url removes credentials from URLs shown in messages", "[retry]") {
  CHECK(redact_url("https://bob:pw@host/x?y=1") == "https://***@host/x?y=1");
  CHECK(redact_url("http://u:p/w@host/x") == "http://***@host/x");  // unencoded '/' in the password
  CHECK(redact_url("http://host:5000/a%40b?x=%40") == "http://host:5000/a%40b?x=%40");
  CHECK(redact_url("/mlflow/runs/get") == "/mlflow/runs/get");
}
