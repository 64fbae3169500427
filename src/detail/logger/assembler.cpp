// The assembler thread (logger_core.hpp): takes the ring, validates, batches each run's items
// into log-batch bodies, writes every request ahead to the spool journal and hands it to the
// sender through the pipe.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "detail/codec/json.hpp"
#include "detail/core/validation.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/spool/spool.hpp"

namespace mlflowpp::detail {

namespace {

std::size_t origin_count(const Chunk& chunk) {
  std::size_t n = 0;
  for (const Entity& e : chunk.entities) n += e.origins.size();
  return n;
}

}  // namespace

void LoggerCore::run_assembler() noexcept {
  std::vector<Item> batch;
  for (;;) {
    const Ring::Round round = ring_.take(batch);
    // Report queue-full drops before the entries that complete this round, so that a
    // flush that returns has seen every callback for the items it covers.
    if (round.dropped_full > 0) {
      reporter_.report(LogError::Kind::kQueueFull, round.dropped_full,
                       fmt::format("{} item(s) dropped: the in-memory queue was full ({} items)",
                                   round.dropped_full, ring_.capacity()));
    }
    if (round.n > 0) {
      std::vector<Entry> entries;
      try {
        entries = assemble(batch, round.n, round.seq_end);
      } catch (const std::exception& ex) {  // out of memory: count the round's items, go on
        entries = lose_round(batch, round.n, round.seq_end, ex.what());
      }
      submit(entries);
      ring_.round_done();
    } else {
      sync_journal_if_due();
      reporter_.deliver_later_ones();
    }
    if (round.stopping && round.n == 0) break;
  }
  {
    std::lock_guard<std::mutex> lk(pipe_mu_);
    assembler_done_ = true;
  }
  cv_sender_.notify_all();
}

std::vector<LoggerCore::Entry> LoggerCore::lose_round(const std::vector<Item>& items, std::size_t n,
                                                      uint64_t seq_end, const char* why) {
  uint64_t lost = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_data(items[i].kind)) continue;
    ++lost;
    accounting_.record(items[i].run, Fate::kDroppedTransient, 1);
  }
  reporter_.report(LogError::Kind::kTransient, lost, fmt::format("{} item(s) dropped: {}", lost, why));
  std::vector<Entry> entries;
  Entry marker;  // completes the round, in order
  marker.completes_through = seq_end;
  entries.push_back(std::move(marker));
  return entries;
}

std::vector<LoggerCore::Entry> LoggerCore::assemble(std::vector<Item>& items, std::size_t n,
                                                    uint64_t seq_end) {
  const std::vector<std::string> run_ids = runs_.ids();
  auto id_of = [&](uint32_t run) -> const std::string& {
    static const std::string none;
    return run < run_ids.size() ? run_ids[run] : none;
  };
  BatchLimits limits;
  limits.max_bytes = deps_.options.max_request_bytes;
  std::vector<Entry> out;
  std::vector<uint32_t> order;
  std::unordered_map<uint32_t, std::unique_ptr<Batcher>> batchers;

  auto flush_run = [&](uint32_t run) {
    auto it = batchers.find(run);
    if (it == batchers.end()) return;
    for (Chunk& chunk : it->second->finish()) {
      Entry e;
      e.kind = EntryKind::kLogBatch;
      e.run = run;
      e.items = origin_count(chunk);
      e.entities = chunk.size();
      e.body = chunk_body(id_of(run), chunk);
      out.push_back(std::move(e));
    }
  };

  for (std::size_t i = 0; i < n; ++i) {
    Item& it = items[i];
    if (!is_data(it.kind)) {
      flush_run(it.run);  // the event follows the run's data logged before it
      Entry e;
      e.run = it.run;
      if (it.kind == ItemKind::kRunStarted) {
        e.kind = EntryKind::kRunStarted;
        e.body = "{\"run_id\":";
        append_json_string(e.body, id_of(it.run));
        e.body += "}";
      } else if (it.kind == ItemKind::kEndRun) {
        e.kind = EntryKind::kUpdateRun;
        e.body = update_run_body(id_of(it.run), static_cast<RunStatus>(it.step), it.timestamp);
        runs_.ended(it.run);
      } else {
        e.kind = EntryKind::kCreateRun;
        e.body = std::move(it.text);
        it.text = std::string();
      }
      out.push_back(std::move(e));
      continue;
    }
    const std::string& run_id = id_of(it.run);
    std::optional<std::string> error;
    Entity e;
    e.key = it.key;
    e.origins.push_back(i);
    switch (it.kind) {
      case ItemKind::kMetric: {
        error = check_key("metric", it.key);
        if (!error) error = check_timestamp(it.key, it.timestamp);
        if (!error) warn_once_if_seconds(it.key, it.timestamp);
        e.kind = EntityKind::kMetric;
        if (!error) {
          Metric m;
          m.key = it.key;
          m.value = it.value;
          m.timestamp = it.timestamp;
          m.step = it.step;
          e.json = metric_json(m);
        }
        break;
      }
      case ItemKind::kParam:
        error = check_key("param", it.key);
        if (!error) error = check_value("param", it.key, it.text, kMaxParamValueLength);
        e.kind = EntityKind::kParam;
        e.value = it.text;
        if (!error) e.json = param_json(it.key, it.text);
        break;
      default:
        error = check_key("tag", it.key);
        if (!error) error = check_value("tag", it.key, it.text, kMaxTagValueLength);
        e.kind = EntityKind::kTag;
        if (!error) e.json = tag_json(it.key, it.text);
        break;
    }
    if (error) {
      accounting_.record(it.run, Fate::kRejectedInvalid, 1);
      reporter_.report(LogError::Kind::kInvalid, 1, std::move(*error), {run_id, it.key});
      continue;
    }
    auto [slot, inserted] = batchers.try_emplace(it.run);
    if (inserted) {
      slot->second = std::make_unique<Batcher>(limits, run_id.size());
      order.push_back(it.run);
    }
    slot->second->add(std::move(e));
  }
  for (uint32_t run : order) flush_run(run);
  if (out.empty()) out.emplace_back();  // a marker, so that the sender completes this round in order
  out.back().completes_through = seq_end;
  return out;
}

// ---- the pipe and the journal (pipe_mu_ held: see the lock order) ------------------------

bool LoggerCore::ensure_journal_locked() {
  if (journal_) return true;
  if (deps_.spool_dir.empty() || spool_broken_) return false;
  try {
    journal_ = std::make_unique<JournalWriter>(JournalWriter::create(deps_.spool_dir, fsync_policy()));
    return true;
  } catch (const std::exception& e) {
    spool_failed_locked(e.what());
    return false;
  }
}

void LoggerCore::spool_failed_locked(const std::string& why) {
  if (spool_broken_) return;
  spool_broken_ = true;  // from now on: memory only (bounded), as without a spool
  reporter_.report_later(
      LogError::Kind::kSpoolError, 0,
      fmt::format("the spool journal in {} cannot be written ({}); logging continues in memory only",
                  deps_.spool_dir, why));
}

void LoggerCore::sync_journal_if_due() {
  std::lock_guard<std::mutex> lk(pipe_mu_);
  if (!journal_) return;
  try {
    journal_->sync_if_due();
  } catch (const std::exception& e) {
    spool_failed_locked(e.what());
  }
}

void LoggerCore::write_ahead_locked(Entry& e) {
  if (e.kind == EntryKind::kMarker || !ensure_journal_locked()) return;
  const auto& o = deps_.options;
  // Run events always go in; data only below the cap.
  const bool over_cap = e.kind == EntryKind::kLogBatch && journal_->size() >= o.spool.max_bytes;
  if (over_cap) {
    if (!cap_reported_) {
      cap_reported_ = true;
      reporter_.report_later(
          LogError::Kind::kSpoolFull, 0,
          fmt::format("the spool journal {} reached its cap of {} bytes (LoggerOptions::spool.max_bytes); "
                      "new data is held in memory only, then dropped",
                      journal_->path(), o.spool.max_bytes));
    }
    return;
  }
  static constexpr RecordType kTypes[] = {RecordType::kLogBatch, RecordType::kUpdateRun,
                                          RecordType::kCreateRun, RecordType::kRunStarted};
  try {
    const uint64_t at = journal_->size();
    journal_->append(kTypes[static_cast<int>(e.kind)], e.body);
    e.offset = static_cast<int64_t>(at);
    accounting_.written_ahead(e.items);
    if (e.kind == EntryKind::kUpdateRun) runs_.set_end_state(e.run, {RunEndState::Kind::kSpooled, {}});
  } catch (const std::exception& ex) {
    spool_failed_locked(ex.what());
  }
}

void LoggerCore::submit(std::vector<Entry>& entries) {
  std::unique_lock<std::mutex> lk(pipe_mu_);
  const auto& o = deps_.options;
  for (Entry& e : entries) {
    write_ahead_locked(e);
    if (e.kind == EntryKind::kRunStarted) e.body.clear();  // journal only: nothing to send
    if (e.kind == EntryKind::kLogBatch && buffered_bytes_ + e.body.size() > o.max_buffered_bytes) {
      if (e.offset >= 0) {
        std::string().swap(e.body);  // on disk: read it back when its turn comes
      } else if (!spool_enabled() || spool_broken_) {
        // No spool: wait for the sender (the ring absorbs the wait; it drops when full).
        // The sender must hear of the entries this round already queued before we wait for
        // it, or both wait for each other (it for work, we for room).
        cv_sender_.notify_one();
        cv_pipe_space_.wait(lk, [&] {
          return buffered_bytes_ == 0 || buffered_bytes_ + e.body.size() <= o.max_buffered_bytes ||
                 abort_.load();
        });
      }
      if (e.offset < 0 && buffered_bytes_ + e.body.size() > o.max_buffered_bytes) {
        // Memory and disk are full (or the logger is being aborted): drop, counted.
        const bool at_shutdown = abort_.load();
        accounting_.record(e.run, at_shutdown ? Fate::kDroppedShutdown : Fate::kDroppedSpoolFull, e.items);
        const std::string run_id = runs_.id_of(e.run);
        const uint64_t items = e.items;
        e.kind = EntryKind::kMarker;
        std::string().swap(e.body);
        e.items = 0;
        lk.unlock();
        reporter_.report(at_shutdown ? LogError::Kind::kShutdown : LogError::Kind::kSpoolFull, items,
                         fmt::format("{} item(s) for run {} dropped: {}", items, run_id,
                                     at_shutdown ? "not delivered by the shutdown deadline"
                                                 : "the spool is full and so is the in-memory buffer"),
                         {run_id});
        lk.lock();
      }
    }
    if (e.memory_only()) ++unjournaled_;
    buffered_bytes_ += e.body.size();
    outbox_.push_back(std::move(e));
  }
  lk.unlock();
  cv_sender_.notify_one();
  reporter_.deliver_later_ones();
}

}  // namespace mlflowpp::detail
