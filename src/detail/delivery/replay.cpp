// Replay of a journal left by another process (at a logger's start, and in mlflowpp-sync):
// from its last ACK, in order, then the crash rule (docs/adr/0006-durable-logging.md).
#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "detail/codec/json_read.hpp"
#include "detail/delivery/delivery.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace jr = jsonread;

// ---- replay of an adopted journal ------------------------------------------------------

ReplayStats replay_journal(JournalWriter journal, Deliverer& deliverer,
                           const std::function<bool(const std::string&)>& is_live) {
  ReplayStats st;
  st.path = journal.path();
  // Before any ACK is appended: the crash rule's fallback end time.
  const int64_t last_write_ms = file_mtime_ms(journal.path());
  JournalReader reader = JournalReader::open(journal.path());
  // First pass, over the whole journal (ACKed records too): offline runs, started and
  // ended runs, and each run's last metric timestamp (the crash rule's end time).
  std::map<std::string, OfflineRun> offline;
  std::vector<std::string> started;
  std::unordered_set<std::string> ended;
  std::unordered_map<std::string, int64_t> last_ts;
  const JournalInfo info = reader.scan();
  st.ignored_tail_bytes = info.ignored_tail_bytes();
  reader.seek(0);
  Record rec;
  while (reader.next(rec)) {
    switch (rec.type) {
      case RecordType::kCreateRun:
        if (auto r = parse_offline_run_payload(rec.payload)) {
          started.push_back(r->local_run_id);
          offline.emplace(r->local_run_id, std::move(*r));
        }
        break;
      case RecordType::kRunStarted:
        try {
          jr::dom::object obj = jr::parse_object(rec.payload, "run started");
          started.push_back(jr::get_string(obj, "run_id"));
        } catch (const std::exception&) {
        }
        break;
      case RecordType::kUpdateRun:
        try {
          jr::dom::object obj = jr::parse_object(rec.payload, "runs/update body");
          auto s = run_status_from_string(jr::get_string(obj, "status"));
          if (s && *s != RunStatus::kRunning) ended.insert(jr::get_string(obj, "run_id"));
        } catch (const std::exception&) {
        }
        break;
      case RecordType::kLogBatch:
        if (auto p = parse_log_batch_body(rec.payload, false); p && p->max_metric_timestamp >= 0) {
          int64_t& t = last_ts[p->run_id];
          t = std::max(t, p->max_metric_timestamp);
        }
        break;
      case RecordType::kAck:
        break;
    }
  }

  std::unordered_map<std::string, std::string> resolved;  // offline id → server id
  std::unordered_set<std::string> unresolvable;
  auto resolve = [&](const std::string& id, std::string& out) -> CallOutcome {
    if (!is_offline_run_id(id)) {
      out = id;
      return {};
    }
    if (auto it = resolved.find(id); it != resolved.end()) {
      out = it->second;
      return {};
    }
    CallOutcome o;
    auto off = offline.find(id);
    if (off == offline.end() || unresolvable.count(id)) {
      o.kind = CallOutcome::Kind::kRejected;
      o.message = "offline run " + id + " could not be created on the server";
      return o;
    }
    o = deliverer.create_offline_run(off->second);
    if (o.kind == CallOutcome::Kind::kDone) {
      resolved[id] = o.run_id;
      out = o.run_id;
      ++st.runs_created;
    } else if (o.kind == CallOutcome::Kind::kRejected) {
      unresolvable.insert(id);
    }
    return o;
  };

  auto leave = [&](const std::string& why) {
    st.error = why;
    return st;  // `journal` closes on return, keeping its ACKs: the next adopter resumes
  };

  reader.seek(info.ack_offset);
  while (reader.next(rec)) {
    if (rec.type == RecordType::kAck || rec.type == RecordType::kRunStarted) continue;
    if (rec.type == RecordType::kCreateRun) {
      auto r = parse_offline_run_payload(rec.payload);
      if (r) {
        std::string ignored;
        CallOutcome o = resolve(r->local_run_id, ignored);
        if (o.kind == CallOutcome::Kind::kFailed) return leave(o.message);
      }
    } else if (rec.type == RecordType::kUpdateRun || rec.type == RecordType::kLogBatch) {
      const std::string from = body_run_id(rec.payload);
      std::string to;
      CallOutcome o = resolve(from, to);
      if (o.kind == CallOutcome::Kind::kFailed) return leave(o.message);
      if (o.kind == CallOutcome::Kind::kDone) {
        std::string body = replace_body_run_id(std::move(rec.payload), from, to);
        if (rec.type == RecordType::kLogBatch) {
          BatchOutcome b = deliverer.log_batch(body);
          if (b.failed > 0) return leave(b.message);
          st.entities_delivered += b.delivered;
          st.entities_rejected += b.rejected;
        } else {
          CallOutcome u = deliverer.update_run(body);
          if (u.kind == CallOutcome::Kind::kFailed) return leave(u.message);
        }
      } else if (rec.type == RecordType::kLogBatch) {
        if (auto p = parse_log_batch_body(rec.payload)) st.entities_rejected += p->entities.size();
      }
    }
    ++st.records;
    journal.append_ack(rec.next_offset);
  }

  // The crash rule: a run that was started and never ended by the process that wrote this
  // journal is marked FAILED, ending at its last logged metric timestamp (else the last
  // modification of the journal).
  for (const std::string& local : started) {
    if (ended.count(local) || (is_live && is_live(local))) continue;
    std::string id;
    CallOutcome o = resolve(local, id);
    if (o.kind == CallOutcome::Kind::kFailed) return leave(o.message);
    if (o.kind != CallOutcome::Kind::kDone) continue;
    // An offline run's later records may carry its server id rather than the placeholder.
    if (id != local && (ended.count(id) || (is_live && is_live(id)))) continue;
    int64_t end_time = 0;
    for (const std::string* key : {&local, static_cast<const std::string*>(&id)})
      if (auto it = last_ts.find(*key); it != last_ts.end()) end_time = std::max(end_time, it->second);
    if (end_time <= 0) end_time = last_write_ms;
    CallOutcome f = deliverer.fail_if_running(id, end_time);
    if (f.kind == CallOutcome::Kind::kFailed) return leave(f.message);
    if (!f.run_id.empty()) ++st.runs_marked_failed;
  }
  journal.append_ack(journal.size());
  remove_journal(std::move(journal));
  st.complete = true;
  return st;
}

}  // namespace mlflowpp::detail
