// Only MLflow's answer counts (issue 8): a 2xx that is not MLflow's JSON (a gateway's login
// page, plain text, an empty or truncated body, a JSON array) is an error on every path,
// its message shows what came back without credentials, and the logger never counts it
// delivered. Also: TLS handshakes that cannot succeed are not retried, and the memory-only
// path keeps moving (the lost wake-up between assembler and sender).
#include <stdlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "detail/delivery/delivery.hpp"
#include "detail/rest/rest.hpp"
#include "detail/spool/spool.hpp"
#include "fake_transport.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;
using testing::Errors;
using testing::eventually;
using testing::LoggerRig;

namespace {

const char* const kLoginPage =
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=\"/oauth2/start\">"
    "<input type=\"hidden\" name=\"csrf_token\" value=\"c5rf-s3cr3t-value\">"
    "<a href=\"https://idp.example/authorize?client_id=mlflow&access_token=tok-SECRET-123\">go</a>"
    "</form></body></html>";

HttpResponse answer(long status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

/// The four answers that are not MLflow's, each a 200.
struct Bad {
  const char* name;
  HttpResponse resp;
};
std::vector<Bad> bad_answers() {
  return {
      {"an HTML login page", answer(200, "text/html; charset=utf-8", kLoginPage)},
      {"an empty body", answer(200, "", "")},
      {"a truncated JSON object", answer(200, "application/json", R"({"run": {"info": {"run_id": "ab)")},
      {"a JSON array", answer(200, "application/json", "[]")},
      {"plain text", answer(200, "text/plain", "OK")},
  };
}

LoggerOptions quick() {
  LoggerOptions o;
  o.max_batch_delay = milliseconds(5);
  o.spool.max_retry_wait = milliseconds(2);
  return o;
}

}  // namespace

TEST_CASE("answers: a 2xx that is not MLflow's JSON is an UnexpectedResponseError, never retried",
          "[answers]") {
  for (const Bad& bad : bad_answers()) {
    SECTION(bad.name) {
      auto t = std::make_shared<testing::FakeTransport>([&](const HttpRequest&) { return bad.resp; });
      ClientOptions o = testing::fake_options();
      o.tracking_uri = "http://alice:pa55word@mlflow.test:5000/prefix";
      RestClient rest(o, t);
      try {
        rest.call("POST", "/mlflow/runs/log-batch", R"({"run_id":"r"})");
        FAIL("no error for " << bad.name);
      } catch (const UnexpectedResponseError& e) {
        const std::string what = e.what();
        CHECK(e.http_status() == 200);
        CHECK(e.content_type() == bad.resp.content_type);
        CHECK(what.find("POST") != std::string::npos);
        CHECK(what.find("/api/2.0/mlflow/runs/log-batch") != std::string::npos);
        CHECK(what.find("HTTP 200") != std::string::npos);
        CHECK(what.find(bad.resp.content_type.empty() ? "no Content-Type" : bad.resp.content_type) !=
              std::string::npos);
        CHECK(what.find("pa55word") == std::string::npos);
        if (!bad.resp.body.empty()) CHECK(what.find(bad.resp.body.substr(0, 2)) != std::string::npos);
      }
      CHECK(t->requests().size() == 1);  // the same page would come back: not retried
      // GETs too.
      CHECK_THROWS_AS(rest.get("/mlflow/runs/get", {{"run_id", "r"}}), UnexpectedResponseError);
    }
  }
}

TEST_CASE("answers: the body start in messages is short, one line, and carries no credential", "[answers]") {
  const std::string start = body_start(kLoginPage);
  CHECK(start.size() <= 203);
  CHECK(start.find("<!DOCTYPE html>") == 0);
  CHECK(start.find("c5rf-s3cr3t-value") == std::string::npos);
  const std::string all = redact_secrets(kLoginPage);
  CHECK(all.find("c5rf-s3cr3t-value") == std::string::npos);
  CHECK(all.find("tok-SECRET-123") == std::string::npos);
  CHECK(all.find("client_id=mlflow") != std::string::npos);  // not a secret: kept
  CHECK(redact_secrets("Authorization: Bearer abcdef123456.x").find("abcdef123456") == std::string::npos);
  CHECK(redact_secrets("Basic YWxpY2U6cGFzc3dvcmQ=").find("YWxpY2U6") == std::string::npos);
  CHECK(redact_secrets(R"({"password": "hunter22", "user": "bob"})").find("hunter22") == std::string::npos);
  CHECK(redact_secrets(R"({"password": "hunter22", "user": "bob"})").find("bob") != std::string::npos);
  CHECK(redact_secrets("see https://bob:hunter22@host/x").find("hunter22") == std::string::npos);
  CHECK(redact_secrets("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nat_ure end").find("eyJzdWIi") ==
        std::string::npos);
  CHECK(redact_secrets("X-Amz-Signature=abcdef0123&X-Amz-Date=1").find("abcdef0123") == std::string::npos);
  // Cut at a character boundary, control characters flattened.
  const std::string utf8 = std::string(199, 'a') + "\xC3\xA9" + "tail";
  const std::string cut = body_start(utf8);
  CHECK(cut == std::string(199, 'a') + "...");
  CHECK(body_start("a\nb\r\tc") == "a b  c");
}

TEST_CASE("answers: a non-2xx page that is not MLflow's error shows status, type and body start",
          "[answers]") {
  auto t = std::make_shared<testing::FakeTransport>(
      [](const HttpRequest&) { return answer(403, "text/html", kLoginPage); });
  RestClient rest(testing::fake_options(), t);
  try {
    rest.call("POST", "/mlflow/runs/create", "{}");
    FAIL("no error");
  } catch (const ServerError& e) {
    const std::string what = e.what();
    CHECK(e.http_status() == 403);
    CHECK(e.error_code() == "PERMISSION_DENIED");
    CHECK(what.find("text/html") != std::string::npos);
    CHECK(what.find("<!DOCTYPE html>") != std::string::npos);
    CHECK(what.find("c5rf-s3cr3t-value") == std::string::npos);
    CHECK(e.server_message().find("c5rf-s3cr3t-value") == std::string::npos);
  }
}

TEST_CASE("answers: TLS handshakes that cannot succeed are not retried, a reset during one is", "[answers]") {
  CHECK(is_permanent_tls_failure(35, "OpenSSL/3.0.15: error:0A00010B:SSL routines::wrong version number"));
  CHECK(is_permanent_tls_failure(35, "error:0A000102:SSL routines::unsupported protocol"));
  CHECK(is_permanent_tls_failure(35, "error:0A000410:SSL routines::sslv3 alert handshake failure"));
  CHECK(is_permanent_tls_failure(56,
                                 "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate "
                                 "required, errno 0"));
  CHECK_FALSE(
      is_permanent_tls_failure(35, "OpenSSL SSL_connect: Connection reset by peer in connection to h:443"));
  CHECK_FALSE(is_permanent_tls_failure(56, "Recv failure: Connection reset by peer"));
  CHECK_FALSE(is_permanent_tls_failure(7, "Failed to connect to h port 1: Connection refused"));

  int attempts = 0;
  auto t = std::make_shared<testing::FakeTransport>([&](const HttpRequest&) -> HttpResponse {
    ++attempts;
    throw TransportError(35, "TLS failure that a retry cannot fix: wrong version number", false, false);
  });
  RestClient rest(testing::fake_options(), t);
  CHECK_THROWS_AS(rest.call("POST", "/mlflow/runs/log-batch", "{}"), TransportError);
  CHECK(attempts == 1);
  attempts = 0;
  t->set_handler([&](const HttpRequest&) -> HttpResponse {
    ++attempts;
    throw TransportError(35, "OpenSSL SSL_connect: Connection reset by peer", false);
  });
  CHECK_THROWS_AS(rest.call("POST", "/mlflow/runs/log-batch", "{}"), TransportError);
  CHECK(attempts == 4);  // max_retries 3 in fake_options
}

TEST_CASE(
    "answers: the logger never counts a non-MLflow answer delivered, with a spool it holds the data, "
    "one report per run, and delivers once the setup is fixed",
    "[answers][logger]") {
  for (const Bad& bad : bad_answers()) {
    SECTION(bad.name) {
      const support::TempDir dir("unit-answers");
      LoggerRig rig(
          quick(), testing::fake_options(), [] { return int64_t{1700000000000}; }, dir.str());
      std::atomic<bool> fixed{false};
      std::atomic<int> batches_ok{0};
      rig.transport->set_handler([&](const HttpRequest& r) {
        if (!fixed.load()) return bad.resp;
        if (r.url.find("/runs/log-batch") != std::string::npos) ++batches_ok;
        return testing::ok();
      });
      Errors errors;
      rig.core->set_error_callback(errors.callback());
      auto a = rig.core->handle_for("run-a");
      auto b = rig.core->handle_for("run-b");
      for (int i = 0; i < 300; ++i) {
        rig.core->enqueue(ItemKind::kMetric, a, "m", i, {}, i, 1);
        rig.core->enqueue(ItemKind::kMetric, b, "m", i, {}, i, 1);
      }
      REQUIRE(eventually([&] { return errors.count(LogError::Kind::kHeld) >= 1; }));
      // Several rounds of attempts, and still one report per run at most.
      REQUIRE(eventually([&] { return rig.core->stats().requests >= 12; }));
      CHECK(rig.core->stats().delivered == 0);
      auto pending = rig.core->flush(milliseconds(50));
      CHECK_FALSE(pending.complete);
      CHECK(pending.held_in_spool == 600);
      CHECK(errors.count(LogError::Kind::kHeld) <= 2);
      {
        std::lock_guard<std::mutex> lk(errors.mu);
        for (const auto& e : errors.list) {
          CHECK(e.kind == LogError::Kind::kHeld);
          CHECK(e.message.find("HTTP 200") != std::string::npos);
        }
      }
      fixed = true;
      auto r = rig.core->flush(milliseconds(20000));
      CHECK(r.complete);
      CHECK(rig.core->stats().delivered == 600);
      CHECK(rig.core->stats().dropped_transient == 0);
      CHECK(batches_ok.load() >= 1);
    }
  }
}

TEST_CASE("answers: without a spool a non-MLflow answer is reported and counted, never delivered",
          "[answers][logger]") {
  LoggerRig rig(quick());
  rig.transport->set_handler([](const HttpRequest&) { return answer(200, "text/html", kLoginPage); });
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  auto run = rig.core->handle_for("run-1");
  for (int i = 0; i < 10; ++i) rig.core->enqueue(ItemKind::kMetric, run, "m", i, {}, i, 1);
  auto r = rig.core->flush(milliseconds(10000));
  CHECK(r.complete);
  const auto st = rig.core->stats();
  CHECK(st.delivered == 0);
  CHECK(st.rejected_by_server == 10);
  REQUIRE_FALSE(errors.list.empty());
  CHECK(errors.list.front().message.find("text/html") != std::string::npos);
}

TEST_CASE("answers: the memory-only path delivers every point without stalling (lost wake-up)",
          "[answers][logger]") {
  // No spool (as when the spool folder is not writable): the assembler waits for the sender
  // when its memory budget is full. A fast transport, a small budget (a few hundred fills of
  // it), and a producer that may wait as long as it needs: nothing may be dropped, so a lost
  // wake-up shows as a flush that does not complete rather than as a count that depends on
  // the machine's speed (under TSan the producer outruns the sender by far).
  LoggerOptions lo = quick();
  lo.spool.enabled = false;
  lo.max_buffered_bytes = 64 * 1024;
  lo.max_request_bytes = 64 * 1024;
  lo.block_timeout = milliseconds(120000);
  LoggerRig rig(lo);
  auto run = rig.core->handle_for("run-1");
  const int n = 200000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) rig.core->enqueue(ItemKind::kMetric, run, "loss", i * 0.5, {}, i, 1);
  auto r = rig.core->flush(milliseconds(120000));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto st = rig.core->stats();
  REQUIRE(r.complete);
  CHECK(st.dropped_queue_full == 0);
  CHECK(st.delivered == n);
  WARN("memory-only path: " << st.delivered << " of " << n << " points delivered in " << s << " s, "
                            << st.requests << " requests");
}

TEST_CASE("answers: an unwritable spool folder falls back to memory and still delivers everything",
          "[answers][logger]") {
  // Root writes into any folder: a path through a regular file cannot be created by anyone.
  const support::TempDir dir("unit-answers");
  const std::string blocked = dir.str() + "/not-a-folder";
  std::system(("touch '" + blocked + "'").c_str());
  LoggerOptions lo = quick();
  lo.max_buffered_bytes = 64 * 1024;
  lo.max_request_bytes = 64 * 1024;
  LoggerRig rig(
      lo, testing::fake_options(), [] { return int64_t{1700000000000}; }, blocked + "/spool");
  Errors errors;
  rig.core->set_error_callback(errors.callback());
  auto run = rig.core->handle_for("run-1");
  const int n = 200000;
  for (int i = 0; i < n; ++i) rig.core->enqueue(ItemKind::kMetric, run, "loss", i, {}, i, 1);
  auto r = rig.core->flush(milliseconds(60000));
  REQUIRE(r.complete);
  const auto st = rig.core->stats();
  CHECK(st.delivered + st.dropped_queue_full == n);
  CHECK(errors.count(LogError::Kind::kSpoolError) == 1);
}
