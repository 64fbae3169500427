// The sender thread (logger_core.hpp): delivers the pipe's entries in order, one at a time,
// acknowledges each in the journal (rotating a large one), and at start replays the journals
// of dead processes that logged to the same server.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "detail/codec/json.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/spool/spool.hpp"
#include "detail/store/tracking_store.hpp"

namespace mlflowpp::detail {

bool LoggerCore::interruptible_sleep(std::chrono::milliseconds d) {
  if (deps_.retry_sleep) return deps_.retry_sleep(d) && !abort_.load();
  std::unique_lock<std::mutex> lk(pipe_mu_);
  cv_sleep_.wait_for(lk, d, [&] { return abort_.load(); });
  return !abort_.load();
}

void LoggerCore::set_outage(bool unreachable) {
  if (unreachable && !outage_.load())
    outage_since_ms_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count());
  if (outage_.exchange(unreachable) == unreachable) return;
  if (!deps_.options.report_errors_to_stderr) return;
  if (unreachable) {
    std::fprintf(stderr,
                 "mlflowpp: the tracking server %s is not answering; logging continues %s and "
                 "is delivered when it answers again\n",
                 deps_.target.c_str(), spool_enabled() ? "into the spool" : "in memory");
  } else {
    std::fprintf(stderr, "mlflowpp: the tracking server %s answers again; delivering what was held\n",
                 deps_.target.c_str());
  }
}

void LoggerCore::run_sender() noexcept {
  DeliveryHooks hooks;
  hooks.abort = &abort_;
  hooks.requests = accounting_.requests();
  hooks.retries = accounting_.retries();
  hooks.sleep = [this](std::chrono::milliseconds d) { return interruptible_sleep(d); };
  hooks.report = [this](LogError e) { reporter_.deliver(std::move(e)); };
  hooks.persist = spool_enabled();  // per request: see deliver()
  hooks.on_outage = [this](bool down) { set_outage(down); };
  // Quiet while the server has refused everything after start_run said it is unreachable.
  if (deps_.refused_everything)
    hooks.quiet_retries = [this] { return offline_announced_.load() && deps_.refused_everything(); };
  hooks.max_round_wait = deps_.options.spool.max_retry_wait;
  Deliverer deliverer(*deps_.store, hooks);
  try {
    if (spool_enabled() && deps_.options.spool.replay_orphans) adopt_orphans(deliverer);
  } catch (...) {
  }
  for (;;) {
    Entry* e = nullptr;
    {
      std::unique_lock<std::mutex> lk(pipe_mu_);
      cv_sender_.wait(lk, [&] { return !outbox_.empty() || assembler_done_ || abort_.load(); });
      if (abort_.load() || outbox_.empty()) break;  // empty here means the assembler is done
      e = &outbox_.front();  // stable: only this thread pops, and push_back keeps references
    }
    bool finished = false;
    try {
      finished = deliver(*e, deliverer);
    } catch (const std::exception& ex) {
      // Not the network (that is handled inside): e.g. out of memory. Count it, go on.
      finished = true;
      if (e->kind == EntryKind::kLogBatch) accounting_.record(e->run, Fate::kDroppedTransient, e->items);
      reporter_.report(LogError::Kind::kTransient, e->items,
                       fmt::format("{} item(s) not delivered: {}", e->items, ex.what()));
    }
    if (!finished) break;  // aborted: what is left is accounted by shutdown()
    uint64_t completes = 0;
    {
      std::lock_guard<std::mutex> lk(pipe_mu_);
      completes = finish_front_locked();
    }
    reporter_.deliver_later_ones();
    if (completes > 0) ring_.complete_through(completes);  // after pipe_mu_: see the lock order
  }
  {
    std::lock_guard<std::mutex> lk(pipe_mu_);
    sender_done_ = true;
  }
  ring_.notify_done();
}

bool LoggerCore::load_body(Entry& e) {
  if (!e.body.empty() || e.offset < 0) return true;
  try {
    std::string path;
    {
      std::lock_guard<std::mutex> lk(pipe_mu_);
      if (!journal_) return false;
      path = journal_->path();
    }
    JournalReader reader = JournalReader::open(path);
    reader.seek(static_cast<uint64_t>(e.offset));
    Record rec;
    if (!reader.next(rec)) return false;
    e.body = std::move(rec.payload);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool LoggerCore::deliver_create_run(const Entry& e, Deliverer& deliverer) {
  auto run = parse_offline_run_payload(e.body);
  if (!run) return true;
  CallOutcome o = deliverer.create_offline_run(*run);
  // The data of this run cannot go anywhere before it exists: keep trying (a failure
  // that is not transient, e.g. an unreadable 2xx answer, is retried more slowly).
  for (auto wait = std::chrono::milliseconds(1000); o.kind == CallOutcome::Kind::kFailed && !o.aborted;
       wait = std::min(wait * 2, deps_.options.spool.max_retry_wait)) {
    if (!interruptible_sleep(wait)) return false;
    o = deliverer.create_offline_run(*run);
  }
  if (o.aborted) return false;
  if (o.kind == CallOutcome::Kind::kDone) {
    runs_.created(e.run, o.run_id);
    return true;
  }
  runs_.unresolvable(e.run);
  reporter_.report(LogError::Kind::kRejectedByServer, 0,
                   fmt::format("the run started offline as {} could not be created on the server: {}",
                               run->local_run_id, o.message),
                   {run->local_run_id});
  return true;
}

bool LoggerCore::deliver(Entry& e, Deliverer& deliverer) {
  // Only what the journal holds is retried until the server answers; a request held in
  // memory only (no spool, spool broken or full) is dropped once the retries are spent.
  deliverer.set_persist(e.offset >= 0);
  switch (e.kind) {
    case EntryKind::kMarker:
    case EntryKind::kRunStarted:
      return true;
    case EntryKind::kCreateRun:
      return deliver_create_run(e, deliverer);
    case EntryKind::kLogBatch:
    case EntryKind::kUpdateRun:
      break;
  }
  if (!load_body(e)) {
    // The record cannot be read back (the journal was damaged under us): count it lost.
    if (e.kind == EntryKind::kLogBatch) accounting_.record(e.run, Fate::kDroppedSpoolFull, e.items);
    reporter_.report(LogError::Kind::kSpoolError, e.items,
                     fmt::format("{} item(s) could not be read back from the spool journal", e.items));
    return true;
  }
  const RunTable::Route route = runs_.route(e.run);
  const std::string& current = route.run_id;
  // Bodies built before an offline run was created carry its placeholder id.
  if (const std::string p = body_run_id(e.body); is_offline_run_id(p) && p != current)
    e.body = replace_body_run_id(std::move(e.body), p, current);

  if (e.kind == EntryKind::kUpdateRun) {
    CallOutcome o;
    if (route.unresolvable) {
      o.kind = CallOutcome::Kind::kRejected;
      o.message = "the run was never created on the server";
    } else {
      o = deliverer.update_run(e.body);
    }
    if (o.kind == CallOutcome::Kind::kFailed && o.aborted) return false;
    if (o.kind == CallOutcome::Kind::kDone) {
      runs_.set_end_state(e.run, {RunEndState::Kind::kDelivered, {}});
    } else {
      runs_.set_end_state(e.run, {RunEndState::Kind::kFailed, o.message});
    }
    return true;
  }

  if (route.unresolvable) {
    accounting_.record(e.run, Fate::kRejectedByServer, e.items);
    reporter_.report(
        LogError::Kind::kRejectedByServer, e.items,
        fmt::format("{} item(s) for run {} not delivered: the run was never created on the server", e.items,
                    current),
        {current});
    return true;
  }
  BatchOutcome b = deliverer.log_batch(e.body, static_cast<int64_t>(e.entities));
  if (b.aborted) return false;
  if (b.failed > 0) {
    // Without a spool: the retry budget is spent, the data is dropped (counted).
    const uint64_t lost = e.items - std::min(e.items, b.delivered + b.rejected);
    const uint64_t rejected = std::min(e.items - lost, b.rejected);
    accounting_.record(e.run, Fate::kDelivered, e.items - lost - rejected);
    accounting_.record(e.run, Fate::kRejectedByServer, rejected);
    accounting_.record(e.run, Fate::kDroppedTransient, lost);
    reporter_.report(LogError::Kind::kTransient, lost,
                     fmt::format("{} item(s) for run {} not delivered: {}", lost, current, b.message),
                     {current, {}, b.http_status, b.error_code});
    return true;
  }
  const uint64_t rejected = std::min(e.items, b.rejected);
  accounting_.record(e.run, Fate::kDelivered, e.items - rejected);
  accounting_.record(e.run, Fate::kRejectedByServer, rejected);
  return true;
}

uint64_t LoggerCore::finish_front_locked() {
  Entry& e = outbox_.front();
  buffered_bytes_ -= std::min(buffered_bytes_, e.body.size());
  if (e.memory_only()) --unjournaled_;
  const bool journaled = e.offset >= 0;
  const uint64_t completes = e.completes_through;
  outbox_.pop_front();
  cv_pipe_space_.notify_all();
  if (journaled && journal_) {
    // Acknowledge: the first record not yet delivered, or the end when all are.
    uint64_t ack = journal_->size();
    for (const Entry& next : outbox_) {
      if (next.offset >= 0) {
        ack = static_cast<uint64_t>(next.offset);
        break;
      }
    }
    try {
      journal_->append_ack(ack);
      if (outbox_.empty() && journal_->size() >= deps_.options.spool.rotate_bytes) rotate_journal_locked();
    } catch (const std::exception& ex) {
      spool_failed_locked(ex.what());
    }
  }
  return completes;
}

void LoggerCore::rotate_journal_locked() {
  // Everything delivered and the journal is large: start a new one (with the live runs'
  // RUN_STARTED records, for the crash rule) and remove the old one.
  auto next = std::make_unique<JournalWriter>(JournalWriter::create(deps_.spool_dir, fsync_policy()));
  const RunTable::Live live = runs_.live();
  // Bodies still carrying an offline run's placeholder need its CREATE_RUN in this journal
  // too (the replay finds the run by its tag: it is never created twice).
  for (const std::string& payload : live.create_payloads) next->append(RecordType::kCreateRun, payload);
  for (const std::string& id : live.run_ids) {
    std::string body = "{\"run_id\":";
    append_json_string(body, id);
    body += "}";
    next->append(RecordType::kRunStarted, body);
  }
  next->append_ack(next->size());
  remove_journal(std::move(*journal_));
  journal_ = std::move(next);
}

void LoggerCore::adopt_orphans(Deliverer& deliverer) {
  for (const std::string& path : list_journals(deps_.spool_dir)) {
    if (abort_.load()) return;
    std::optional<JournalWriter> adopted;
    try {
      adopted = try_adopt(path, fsync_policy());
    } catch (const std::exception&) {
      continue;
    }
    if (!adopted) continue;  // its owner is alive
    auto is_live = [this](const std::string& run_id) { return runs_.is_live(run_id); };
    ReplayStats st = replay_journal(std::move(*adopted), deliverer, is_live);
    accounting_.replayed(st.entities_delivered);
    if (deps_.options.report_errors_to_stderr) {
      std::fprintf(
          stderr,
          "mlflowpp: replayed the spool journal %s of an earlier process: %llu record(s), %llu item(s) "
          "delivered, %llu refused, %llu run(s) created, %llu run(s) marked FAILED%s%s\n",
          st.path.c_str(), static_cast<unsigned long long>(st.records),
          static_cast<unsigned long long>(st.entities_delivered),
          static_cast<unsigned long long>(st.entities_rejected),
          static_cast<unsigned long long>(st.runs_created),
          static_cast<unsigned long long>(st.runs_marked_failed),
          st.complete ? "" : "; left for later: ", st.error.c_str());
    }
    if (!st.complete) return;  // aborted or unreachable: the rest waits for the next start
  }
}

}  // namespace mlflowpp::detail
