// detail::Deliverer and detail::replay_journal (src/detail/delivery/delivery.hpp) over a
// RestStore with the fake transport: bisection of a refused item, run-level refusals,
// offline runs, persistent rounds, and the replay of spool journals (from the last ACK,
// offline ids rewritten, the crash rule, a journal left when the server fails mid-way).
// No sockets, no real waits: the hooks' sleep returns at once and records the wait.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/codec/json.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/rest/rest.hpp"
#include "detail/spool/spool.hpp"
#include "detail/store/tracking_store.hpp"
#include "fake_transport.hpp"
#include "support/temp_dir.hpp"

using namespace mlflowpp;
using namespace mlflowpp::detail;
using std::chrono::milliseconds;

namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1700000000000;

/// The endpoint of a request to the fake ("runs/log-batch"), without the query.
std::string endpoint_of(const HttpRequest& r) {
  static constexpr std::string_view kApi = "/api/2.0/mlflow/";
  const auto at = r.url.find(kApi);
  if (at == std::string::npos) return {};
  std::string e = r.url.substr(at + kApi.size());
  if (auto q = e.find('?'); q != std::string::npos) e.resize(q);
  return e;
}

/// The value of `name` in the request's query (no percent-decoding: tests use plain names).
std::string query_value(const HttpRequest& r, const std::string& name) {
  const auto at = r.url.find(name + "=");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 1;
  return r.url.substr(start, r.url.find('&', start) - start);
}

std::string str(simdjson::dom::element e) { return std::string(std::string_view(e)); }

/// What a log-batch request carried.
struct SentBatch {
  std::string run_id;
  std::vector<std::string> metric_keys;
  std::vector<int64_t> steps;
  std::vector<int64_t> timestamps;
};

SentBatch decode_batch(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  SentBatch b;
  b.run_id = str(doc["run_id"]);
  for (auto m : doc["metrics"].get_array()) {
    b.metric_keys.push_back(str(m["key"]));
    b.steps.push_back(int64_t(m["step"]));
    b.timestamps.push_back(int64_t(m["timestamp"]));
  }
  return b;
}

/// A tiny in-memory MLflow tracking server behind the fake transport: experiments by name,
/// runs (create, get, search by the offline-run tag, update) and log-batch, enough for the
/// Deliverer. `fault` may answer a request instead (by its index among all requests).
class FakeServer {
 public:
  struct RunState {
    std::string experiment_id;
    std::string status = "RUNNING";
    int64_t end_time = 0;
    std::map<std::string, std::string> tags;
  };
  using Fault = std::function<std::optional<HttpResponse>(std::size_t index, const HttpRequest&)>;

  Fault fault;
  /// runs/create answers lost: the run is created, the answer is a 503 in its place.
  int lose_create_answers = 0;
  std::map<std::string, RunState> runs;
  std::map<std::string, std::string> experiments;  // name → id
  std::vector<SentBatch> batches;                  // accepted log-batch requests, in order
  std::vector<std::string> endpoints;              // every request's endpoint, in order

  void add_run(const std::string& id, const std::string& experiment_id = "0") {
    runs[id].experiment_id = experiment_id;
  }
  std::size_t count(const std::string& endpoint) const {
    std::size_t n = 0;
    for (const auto& e : endpoints) n += e == endpoint;
    return n;
  }

  HttpResponse handle(const HttpRequest& r) {
    std::lock_guard<std::mutex> lk(mu_);
    const std::string ep = endpoint_of(r);
    const std::size_t index = endpoints.size();
    endpoints.push_back(ep);
    if (fault)
      if (auto answer = fault(index, r)) return *answer;
    if (ep == "experiments/get-by-name") {
      const std::string name = query_value(r, "experiment_name");
      auto it = experiments.find(name);
      if (it == experiments.end())
        return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "no experiment " + name);
      return testing::ok(R"({"experiment":{"experiment_id":")" + it->second + R"(","name":")" + name +
                         R"(","lifecycle_stage":"active"}})");
    }
    simdjson::dom::element doc = parser_.parse(r.body);
    if (ep == "experiments/create") {
      const std::string id = std::to_string(100 + experiments.size());
      experiments[str(doc["name"])] = id;
      return testing::ok(R"({"experiment_id":")" + id + "\"}");
    }
    if (ep == "runs/create") {
      const std::string id = "srv-" + std::to_string(runs.size() + 1);
      RunState& run = runs[id];
      run.experiment_id = str(doc["experiment_id"]);
      for (auto t : doc["tags"].get_array()) run.tags[str(t["key"])] = str(t["value"]);
      if (lose_create_answers > 0) {
        --lose_create_answers;
        return testing::status(503, "Service Unavailable");
      }
      return testing::ok(R"({"run":{"info":)" + info_json(id, run) + "}}");
    }
    if (ep == "runs/search") {
      // Only the filter the Deliverer sends: tags.`mlflowpp.offlineRunId` = '<id>'.
      const std::string filter = str(doc["filter"]);
      const auto close = filter.rfind('\'');
      const auto open = filter.rfind('\'', close - 1);
      const std::string wanted = filter.substr(open + 1, close - open - 1);
      std::string list;
      for (const auto& [id, run] : runs) {
        auto t = run.tags.find(std::string(kOfflineRunIdTag));
        if (t == run.tags.end() || t->second != wanted) continue;
        if (!list.empty()) list += ',';
        list += R"({"info":)" + info_json(id, run) + "}";
      }
      return testing::ok(R"({"runs":[)" + list + "]}");
    }
    const std::string run_id = str(doc["run_id"]);
    auto run = runs.find(run_id);
    if (run == runs.end())
      return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "Run '" + run_id + "' not found");
    if (ep == "runs/update") {
      run->second.status = str(doc["status"]);
      run->second.end_time = int64_t(doc["end_time"]);
      return testing::ok(R"({"run_info":)" + info_json(run_id, run->second) + "}");
    }
    if (ep == "runs/log-batch") {
      batches.push_back(decode_batch(r.body));
      return testing::ok();
    }
    return testing::mlflow_error(404, "ENDPOINT_NOT_FOUND", "no endpoint " + ep);
  }

  /// runs/get is a GET: its run id is in the query.
  HttpResponse operator()(const HttpRequest& r) {
    if (endpoint_of(r) != "runs/get") return handle(r);
    std::lock_guard<std::mutex> lk(mu_);
    const std::size_t index = endpoints.size();
    endpoints.push_back("runs/get");
    if (fault)
      if (auto answer = fault(index, r)) return *answer;
    const std::string id = query_value(r, "run_id");
    auto run = runs.find(id);
    if (run == runs.end()) return testing::mlflow_error(404, "RESOURCE_DOES_NOT_EXIST", "Run not found");
    return testing::ok(R"({"run":{"info":)" + info_json(id, run->second) + "}}");
  }

 private:
  static std::string info_json(const std::string& id, const RunState& run) {
    return R"({"run_id":")" + id + R"(","experiment_id":")" + run.experiment_id + R"(","status":")" +
           run.status + R"(","start_time":1})";
  }

  std::mutex mu_;
  simdjson::dom::parser parser_;
};

/// A Deliverer over a RestStore over the fake transport, its reports, waits and outages.
struct Rig {
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  std::shared_ptr<testing::FakeTransport> transport;
  std::shared_ptr<TrackingStore> store;
  std::vector<LogError> reports;
  std::vector<milliseconds> sleeps;
  std::vector<bool> outages;
  /// When set, the hooks' sleep is interrupted (returns false) at the first round wait.
  bool interrupt_rounds = false;
  std::unique_ptr<Deliverer> deliverer;

  explicit Rig(bool persist = false) {
    auto s = server;
    transport = std::make_shared<testing::FakeTransport>([s](const HttpRequest& r) { return (*s)(r); });
    ClientOptions o = testing::fake_options();
    o.retry.max_retries = 3;
    o.retry.backoff_factor = 0.001;  // retry waits of a few ms, apart from the 1 s, 2 s rounds
    o.retry.backoff_jitter = 0;
    store = make_rest_store(std::make_shared<RestClient>(o, transport));
    DeliveryHooks h;
    h.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      return !(interrupt_rounds && d >= milliseconds(1000));
    };
    h.report = [this](LogError e) { reports.push_back(std::move(e)); };
    h.on_outage = [this](bool down) { outages.push_back(down); };
    h.persist = persist;
    deliverer = std::make_unique<Deliverer>(*store, std::move(h));
  }

  /// Requests that reached the transport, by endpoint.
  std::size_t requests(const std::string& endpoint) const {
    std::size_t n = 0;
    for (const auto& r : transport->requests()) n += endpoint_of(r) == endpoint;
    return n;
  }
  /// Round waits (the Deliverer's own, 1 s and up; the retry policy's are a few ms here).
  std::vector<milliseconds> round_waits() const {
    std::vector<milliseconds> out;
    for (auto d : sleeps)
      if (d >= milliseconds(1000)) out.push_back(d);
    return out;
  }
};

Entity metric_entity(const std::string& key, int64_t step, int64_t timestamp = kT0) {
  Metric m;
  m.key = key;
  m.value = 0.5 * static_cast<double>(step);
  m.timestamp = timestamp;
  m.step = step;
  Entity e;
  e.kind = EntityKind::kMetric;
  e.key = key;
  e.json = metric_json(m);
  return e;
}

/// A log-batch body of metrics `key` at steps [from, to), timestamps kT0 + step.
std::string batch_body(const std::string& run_id, int64_t from, int64_t to, const std::string& key = "loss") {
  std::vector<Entity> es;
  for (int64_t s = from; s < to; ++s) es.push_back(metric_entity(key, s, kT0 + s));
  return chunk_body(run_id, make_chunk(std::move(es)));
}

FsyncPolicy no_sync() {
  FsyncPolicy p;
  p.mode = FsyncMode::kNever;
  return p;
}

/// Adopts the journal at `path` (its writer must be closed) and replays it.
ReplayStats replay(const std::string& path, Deliverer& deliverer,
                   const std::function<bool(const std::string&)>& is_live = {}) {
  auto adopted = try_adopt(path, no_sync());
  REQUIRE(adopted);
  return replay_journal(std::move(*adopted), deliverer, is_live);
}

std::vector<int64_t> all_steps(const std::vector<SentBatch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.steps.begin(), b.steps.end());
  return out;
}

}  // namespace

// ---- Deliverer ---------------------------------------------------------------------------

TEST_CASE("deliverer: one refused item among 1,000 is isolated by bisection and reported by key",
          "[delivery]") {
  Rig rig;
  rig.server->add_run("r1");
  rig.server->fault = [](std::size_t, const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.body.find("\"poison\"") != std::string::npos)
      return testing::mlflow_error(400, "INVALID_PARAMETER_VALUE", "Invalid value for metric 'poison'");
    return std::nullopt;
  };
  std::vector<Entity> es;
  for (int64_t s = 0; s < 1000; ++s) es.push_back(metric_entity(s == 613 ? "poison" : "loss", s));
  const std::string body = chunk_body("r1", make_chunk(std::move(es)));

  const BatchOutcome out = rig.deliverer->log_batch(body, 1000);
  CHECK(out.delivered == 999);
  CHECK(out.rejected == 1);
  CHECK(out.failed == 0);
  CHECK_FALSE(out.aborted);
  REQUIRE(rig.reports.size() == 1);
  const LogError& e = rig.reports[0];
  CHECK(e.kind == LogError::Kind::kRejectedByServer);
  CHECK(e.key == "poison");
  CHECK(e.run_id == "r1");
  CHECK(e.items == 1);
  CHECK(e.http_status == 400);
  CHECK(e.error_code == "INVALID_PARAMETER_VALUE");
  CHECK(e.message.find("'poison'") != std::string::npos);

  // Everything else landed once, in the order it was given (halves are sent left first).
  std::vector<int64_t> expected;
  for (int64_t s = 0; s < 1000; ++s)
    if (s != 613) expected.push_back(s);
  CHECK(all_steps(rig.server->batches) == expected);
  // About 2·log2(1000) requests, not 1000: the one that failed whole, then two per level.
  CHECK(rig.requests("runs/log-batch") <= 21);
  CHECK(rig.sleeps.empty());  // a refusal is not retried
}

TEST_CASE("deliverer: a run-level refusal rejects the whole body without bisecting", "[delivery]") {
  Rig rig;
  const std::string body = batch_body("gone", 0, 1000);
  SECTION("unknown run (404)") {
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.rejected == 1000);
    CHECK(out.delivered == 0);
    REQUIRE(rig.reports.size() == 1);
    CHECK(rig.reports[0].items == 1000);
    CHECK(rig.reports[0].error_code == "RESOURCE_DOES_NOT_EXIST");
    CHECK(rig.reports[0].key.empty());
  }
  SECTION("deleted run (400 about the run's state, not about an item)") {
    rig.server->add_run("gone");
    rig.server->fault = [](std::size_t, const HttpRequest&) -> std::optional<HttpResponse> {
      return testing::mlflow_error(400, "INVALID_PARAMETER_VALUE",
                                   "The run gone must be in the 'active' state. Current state is deleted.");
    };
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.rejected == 1000);
    REQUIRE(rig.reports.size() == 1);
    CHECK(rig.reports[0].items == 1000);
  }
  CHECK(rig.requests("runs/log-batch") == 1);
}

TEST_CASE("deliverer: an offline run is found by its tag first, created otherwise, never twice",
          "[delivery]") {
  OfflineRun off;
  off.local_run_id = "offline-00aa";
  off.experiment_name = "exp-offline";
  off.run_name = "night-run";
  off.start_time = kT0;
  off.tags = {{"team", "vision"}};

  SECTION("not on the server: the experiment and the run are created, the run tagged") {
    Rig rig;
    const CallOutcome o = rig.deliverer->create_offline_run(off);
    REQUIRE(o.kind == CallOutcome::Kind::kDone);
    CHECK(o.run_id == "srv-1");
    CHECK(rig.server->experiments.count("exp-offline") == 1);
    const auto& run = rig.server->runs.at("srv-1");
    CHECK(run.experiment_id == rig.server->experiments.at("exp-offline"));
    CHECK(run.tags.at(std::string(kOfflineRunIdTag)) == "offline-00aa");
    CHECK(run.tags.at("team") == "vision");
    // The search comes before the create.
    const auto& eps = rig.server->endpoints;
    CHECK(eps == std::vector<std::string>{"experiments/get-by-name", "experiments/create", "runs/search",
                                          "runs/create"});
  }
  SECTION("already created (an earlier answer was lost): found, not created again") {
    Rig rig;
    rig.server->experiments["exp-offline"] = "7";
    rig.server->add_run("srv-earlier", "7");
    rig.server->runs["srv-earlier"].tags[std::string(kOfflineRunIdTag)] = "offline-00aa";
    const CallOutcome o = rig.deliverer->create_offline_run(off);
    REQUIRE(o.kind == CallOutcome::Kind::kDone);
    CHECK(o.run_id == "srv-earlier");
    CHECK(rig.requests("runs/create") == 0);
    CHECK(rig.server->runs.size() == 1);
  }
  SECTION("the create's answer is lost (503 after the server made it): the next round finds it") {
    Rig rig(/*persist=*/true);
    rig.server->lose_create_answers = 1;
    const CallOutcome o = rig.deliverer->create_offline_run(off);
    REQUIRE(o.kind == CallOutcome::Kind::kDone);
    CHECK(o.run_id == "srv-1");
    CHECK(rig.requests("runs/create") == 1);  // a create is never resent blindly
    CHECK(rig.requests("runs/search") == 2);
    CHECK(rig.server->runs.size() == 1);
    CHECK(rig.outages == std::vector<bool>{true, false});
  }
  SECTION("twice in a row: the second call finds the first one's run") {
    Rig rig;
    const CallOutcome a = rig.deliverer->create_offline_run(off);
    const CallOutcome b = rig.deliverer->create_offline_run(off);
    CHECK(a.run_id == b.run_id);
    CHECK(rig.requests("runs/create") == 1);
  }
}

TEST_CASE("deliverer: persisting, a 503 outage is waited out in rounds and the body delivered once",
          "[delivery]") {
  const std::string body = batch_body("r1", 0, 10);
  SECTION("persist: rounds of a full retry schedule, 1 s then 2 s apart, until the server answers") {
    Rig rig(/*persist=*/true);
    rig.server->add_run("r1");
    // 4 attempts per round (1 + max_retries 3): rounds 1 and 2 fail, round 3 succeeds on its
    // second attempt.
    rig.server->fault = [](std::size_t i, const HttpRequest&) -> std::optional<HttpResponse> {
      if (i < 9) return testing::status(503, "Service Unavailable");
      return std::nullopt;
    };
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.delivered == 10);
    CHECK(out.failed == 0);
    CHECK(rig.requests("runs/log-batch") == 10);
    CHECK(rig.server->batches.size() == 1);
    CHECK(rig.round_waits() == std::vector<milliseconds>{milliseconds(1000), milliseconds(2000)});
    CHECK(rig.outages == std::vector<bool>{true, false});
    CHECK(rig.reports.empty());  // an outage is not a refusal, nor a setup to fix
  }
  SECTION("persist, interrupted: failed and aborted, nothing reported") {
    Rig rig(/*persist=*/true);
    rig.server->add_run("r1");
    rig.server->fault = [](std::size_t, const HttpRequest&) -> std::optional<HttpResponse> {
      return testing::status(503, "Service Unavailable");
    };
    rig.interrupt_rounds = true;  // one retry schedule, then the round wait is interrupted
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.failed == 10);
    CHECK(out.aborted);
    CHECK(rig.requests("runs/log-batch") == 4);
    CHECK(rig.reports.empty());
    CHECK(rig.server->batches.empty());
  }
  SECTION("without persist: one retry schedule, then failed (not refused)") {
    Rig rig(/*persist=*/false);
    rig.server->add_run("r1");
    rig.server->fault = [](std::size_t, const HttpRequest&) -> std::optional<HttpResponse> {
      return testing::status(503, "Service Unavailable");
    };
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.failed == 10);
    CHECK(out.rejected == 0);
    CHECK_FALSE(out.aborted);
    CHECK(out.http_status == 503);
    CHECK(rig.requests("runs/log-batch") == 4);
    CHECK(rig.round_waits().empty());
    CHECK(rig.outages.empty());
  }
  SECTION("persist, 401: held (reported once for the run), delivered once the setup is fixed") {
    Rig rig(/*persist=*/true);
    rig.server->add_run("r1");
    rig.server->fault = [](std::size_t i, const HttpRequest&) -> std::optional<HttpResponse> {
      if (i < 3) return testing::mlflow_error(401, "UNAUTHENTICATED", "bad token");
      return std::nullopt;
    };
    const BatchOutcome out = rig.deliverer->log_batch(body);
    CHECK(out.delivered == 10);
    REQUIRE(rig.reports.size() == 1);
    CHECK(rig.reports[0].kind == LogError::Kind::kHeld);
    CHECK(rig.reports[0].run_id == "r1");
    CHECK(rig.reports[0].http_status == 401);
  }
}

// ---- replay_journal ------------------------------------------------------------------------

TEST_CASE("replay: a journal is replayed from its last ACK, in order, then removed", "[replay]") {
  const support::TempDir tmp("unit-replay");
  std::string path;
  {
    JournalWriter w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    w.append(RecordType::kLogBatch, batch_body("r1", 0, 10));  // delivered before the crash
    const uint64_t second = w.size();
    w.append(RecordType::kLogBatch, batch_body("r1", 10, 20));
    w.append_ack(second);
    w.append(RecordType::kLogBatch, batch_body("r1", 20, 30));
    w.append(RecordType::kUpdateRun, update_run_body("r1", RunStatus::kFinished, kT0 + 99));
  }  // the writer's process "died": the lock is released, the file stays

  Rig rig;
  rig.server->add_run("r1");
  const ReplayStats st = replay(path, *rig.deliverer);
  CHECK(st.complete);
  CHECK(st.error.empty());
  CHECK(st.records == 3);
  CHECK(st.entities_delivered == 20);
  CHECK(st.entities_rejected == 0);
  CHECK(st.runs_marked_failed == 0);
  CHECK_FALSE(fs::exists(path));

  std::vector<int64_t> expected;
  for (int64_t s = 10; s < 30; ++s) expected.push_back(s);
  CHECK(all_steps(rig.server->batches) == expected);  // not the ACKed 0..9, and in order
  CHECK(rig.server->endpoints == std::vector<std::string>{"runs/log-batch", "runs/log-batch", "runs/update"});
  CHECK(rig.server->runs.at("r1").status == "FINISHED");
  CHECK(rig.server->runs.at("r1").end_time == kT0 + 99);
}

TEST_CASE("replay: a run started offline is created and its records rewritten to the server's id",
          "[replay]") {
  const support::TempDir tmp("unit-replay");
  OfflineRun off;
  off.local_run_id = "offline-0123456789abcdef";
  off.experiment_name = "exp-night";
  off.run_name = "offline-run";
  off.start_time = kT0;
  std::string path;
  {
    JournalWriter w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    w.append(RecordType::kCreateRun, offline_run_payload(off));
    w.append(RecordType::kLogBatch, batch_body(off.local_run_id, 0, 5));
    w.append(RecordType::kLogBatch, batch_body(off.local_run_id, 5, 8));
    w.append(RecordType::kUpdateRun, update_run_body(off.local_run_id, RunStatus::kFinished, kT0 + 500));
  }

  Rig rig;
  const ReplayStats st = replay(path, *rig.deliverer);
  REQUIRE(st.complete);
  CHECK(st.runs_created == 1);
  CHECK(st.records == 4);
  CHECK(st.entities_delivered == 8);
  CHECK(st.runs_marked_failed == 0);  // it was ended
  REQUIRE(rig.server->runs.size() == 1);
  const std::string server_id = rig.server->runs.begin()->first;
  CHECK(rig.server->runs.at(server_id).tags.at(std::string(kOfflineRunIdTag)) == off.local_run_id);
  CHECK(rig.server->runs.at(server_id).status == "FINISHED");
  CHECK(rig.server->runs.at(server_id).end_time == kT0 + 500);
  REQUIRE(rig.server->batches.size() == 2);
  for (const auto& b : rig.server->batches) CHECK(b.run_id == server_id);
  CHECK(all_steps(rig.server->batches) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  // The placeholder id only went out in the create's tag and the search for it.
  for (const auto& r : rig.transport->requests()) {
    const std::string ep = endpoint_of(r);
    if (ep != "runs/create" && ep != "runs/search") CHECK(r.body.find(off.local_run_id) == std::string::npos);
  }
  CHECK(rig.requests("runs/create") == 1);
}

TEST_CASE("replay: the crash rule marks a started, never-ended run FAILED at its last metric timestamp",
          "[replay]") {
  const support::TempDir tmp("unit-replay");
  std::string path;
  {
    JournalWriter w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    w.append(RecordType::kRunStarted, R"({"run_id":"crashed"})");
    w.append(RecordType::kRunStarted, R"({"run_id":"ended"})");
    w.append(RecordType::kRunStarted, R"({"run_id":"live"})");
    w.append(RecordType::kLogBatch, batch_body("crashed", 40, 50, "acc"));  // kT0 + 40 .. kT0 + 49
    w.append_ack(w.size());  // that batch was delivered before the crash
    w.append(RecordType::kLogBatch, batch_body("crashed", 0, 40));  // kT0 .. kT0 + 39
    w.append(RecordType::kLogBatch, batch_body("ended", 0, 3));
    w.append(RecordType::kUpdateRun, update_run_body("ended", RunStatus::kFinished, kT0 + 7));
  }

  Rig rig;
  for (const char* id : {"crashed", "ended", "live"}) rig.server->add_run(id);
  const ReplayStats st = replay(path, *rig.deliverer, [](const std::string& id) { return id == "live"; });
  REQUIRE(st.complete);
  CHECK(st.runs_marked_failed == 1);
  CHECK(rig.server->runs.at("crashed").status == "FAILED");
  // The last timestamp over the whole journal, ACKed records included.
  CHECK(rig.server->runs.at("crashed").end_time == kT0 + 49);
  CHECK(rig.server->runs.at("ended").status == "FINISHED");
  CHECK(rig.server->runs.at("ended").end_time == kT0 + 7);
  CHECK(rig.server->runs.at("live").status == "RUNNING");  // live in this process: left alone
  CHECK_FALSE(fs::exists(path));

  SECTION("a run the server already ended is not marked again") {
    const support::TempDir tmp2("unit-replay");
    {
      JournalWriter w = JournalWriter::create(tmp2.str(), no_sync());
      path = w.path();
      w.append(RecordType::kRunStarted, R"({"run_id":"crashed"})");
    }
    const std::size_t updates = rig.server->count("runs/update");
    const ReplayStats again = replay(path, *rig.deliverer);
    CHECK(again.complete);
    CHECK(again.runs_marked_failed == 0);
    CHECK(rig.server->count("runs/update") == updates);
  }
}

TEST_CASE("replay: when the server fails mid-way the journal keeps its ACKs, the next replay resumes",
          "[replay]") {
  const support::TempDir tmp("unit-replay");
  std::vector<std::string> bodies;
  std::string path;
  {
    JournalWriter w = JournalWriter::create(tmp.str(), no_sync());
    path = w.path();
    for (int64_t i = 0; i < 4; ++i) {
      bodies.push_back(batch_body("r1", i * 10, i * 10 + 10));
      w.append(RecordType::kLogBatch, bodies.back());
    }
  }

  Rig rig;  // not persisting: one retry schedule, then the replay gives up
  rig.server->add_run("r1");
  rig.server->fault = [&rig](std::size_t, const HttpRequest& r) -> std::optional<HttpResponse> {
    if (endpoint_of(r) == "runs/log-batch" && rig.server->batches.size() >= 2)
      return testing::status(503, "Service Unavailable");
    return std::nullopt;
  };
  const ReplayStats first = replay(path, *rig.deliverer);
  CHECK_FALSE(first.complete);
  CHECK_FALSE(first.error.empty());
  CHECK(first.records == 2);
  CHECK(first.entities_delivered == 20);
  REQUIRE(fs::exists(path));

  // What is left after the last ACK: the two records not delivered, as they were written.
  {
    JournalReader reader = JournalReader::open(path);
    reader.seek_past_last_ack();
    std::vector<std::string> left;
    Record rec;
    while (reader.next(rec))
      if (rec.type == RecordType::kLogBatch) left.push_back(rec.payload);
    CHECK(left == std::vector<std::string>{bodies[2], bodies[3]});
  }

  rig.server->fault = nullptr;  // the server is back
  const ReplayStats second = replay(path, *rig.deliverer);
  CHECK(second.complete);
  CHECK(second.records == 2);
  CHECK(second.entities_delivered == 20);
  CHECK_FALSE(fs::exists(path));
  std::vector<int64_t> expected;
  for (int64_t s = 0; s < 40; ++s) expected.push_back(s);
  CHECK(all_steps(rig.server->batches) == expected);  // each record exactly once, in order
}
