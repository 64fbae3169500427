#include "detail/delivery/delivery.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "detail/codec/json.hpp"
#include "detail/codec/json_read.hpp"
#include "detail/rest/rest.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

namespace jr = jsonread;

// ---- bodies ----------------------------------------------------------------------------

std::optional<ParsedBatch> parse_log_batch_body(const std::string& body, bool with_entities) {
  try {
    jr::dom::object obj = jr::parse_object(body, "log-batch body");
    ParsedBatch out;
    out.run_id = jr::get_string(obj, "run_id");
    for (const Metric& m : jr::get_list<Metric>(obj, "metrics", jr::read_metric)) {
      if (!with_entities) {
        out.max_metric_timestamp = std::max(out.max_metric_timestamp, m.timestamp);
        continue;
      }
      Entity e;
      e.kind = EntityKind::kMetric;
      e.key = m.key;
      e.json = metric_json(m);
      out.max_metric_timestamp = std::max(out.max_metric_timestamp, m.timestamp);
      out.entities.push_back(std::move(e));
    }
    if (!with_entities) return out;
    for (auto& p : jr::get_kv_list<Param>(obj, "params")) {
      Entity e;
      e.kind = EntityKind::kParam;
      e.key = p.key;
      e.value = p.value;
      e.json = param_json(p.key, p.value);
      out.entities.push_back(std::move(e));
    }
    for (auto& t : jr::get_kv_list<RunTag>(obj, "tags")) {
      Entity e;
      e.kind = EntityKind::kTag;
      e.key = t.key;
      e.json = tag_json(t.key, t.value);
      out.entities.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < out.entities.size(); ++i) out.entities[i].origins.push_back(i);
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string body_run_id(const std::string& body) {
  static const std::string head = "{\"run_id\":\"";
  if (body.compare(0, head.size(), head) == 0) {
    const std::size_t end = body.find('"', head.size());
    const std::size_t escape = body.find('\\', head.size());
    if (end != std::string::npos && (escape == std::string::npos || escape > end))
      return body.substr(head.size(), end - head.size());
  }
  try {  // another layout, or an id with escapes
    return jr::get_string(jr::parse_object(body, "request body"), "run_id");
  } catch (const std::exception&) {
    return {};
  }
}

std::string replace_body_run_id(std::string body, std::string_view from, std::string_view to) {
  std::string prefix = "{\"run_id\":";
  append_json_string(prefix, from);
  if (body.compare(0, prefix.size(), prefix) != 0) return body;
  std::string out = "{\"run_id\":";
  append_json_string(out, to);
  out.append(body, prefix.size(), std::string::npos);
  return out;
}

std::string update_run_body(std::string_view run_id, RunStatus status, int64_t end_time_ms) {
  std::string out = "{\"run_id\":";
  append_json_string(out, run_id);
  out += ",\"status\":";
  append_json_string(out, to_string(status));
  out += fmt::format(",\"end_time\":{}}}", end_time_ms);
  return out;
}

std::string offline_run_payload(const OfflineRun& r) {
  JsonWriter w;
  w.begin_object();
  w.key("local_run_id").value(r.local_run_id);
  w.key("experiment_id").value(r.experiment_id);
  w.key("experiment_name").value(r.experiment_name);
  w.key("run_name").value(r.run_name);
  w.key("start_time").value(r.start_time);
  w.key("user_id").value(r.user_id);
  w.key("tags").begin_array();
  for (const auto& t : r.tags)
    w.begin_object().key("key").value(t.key).key("value").value(t.value).end_object();
  w.end_array().end_object();
  return w.take();
}

std::optional<OfflineRun> parse_offline_run_payload(const std::string& payload) {
  try {
    jr::dom::object obj = jr::parse_object(payload, "offline run");
    OfflineRun r;
    r.local_run_id = jr::get_string(obj, "local_run_id");
    if (!is_offline_run_id(r.local_run_id)) return std::nullopt;
    r.experiment_id = jr::get_string(obj, "experiment_id");
    r.experiment_name = jr::get_string(obj, "experiment_name");
    r.run_name = jr::get_string(obj, "run_name");
    r.start_time = jr::get_int64(obj, "start_time");
    r.user_id = jr::get_string(obj, "user_id");
    r.tags = jr::get_kv_list<RunTag>(obj, "tags");
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---- Deliverer -------------------------------------------------------------------------

namespace {

enum class Failure { kNone, kTransient, kRefused, kAborted };

struct Classified {
  Failure kind = Failure::kNone;
  int status = 0;
  std::string code, message;
  bool bisectable = false;  ///< a 400 about one of the items, not about the run
  /// Only a change of setup fixes it (credentials, a gateway, TLS settings): retried in
  /// persist mode with a report once per run (LogError::Kind::kHeld), refused otherwise.
  bool needs_fix = false;
};

bool aborted(const DeliveryHooks& h) { return h.abort && h.abort->load(); }

/// Runs `f`, classifying what it throws. Only a 2xx answer in MLflow's shape counts as
/// delivered: an answer that is not MLflow's (a login page, an empty or truncated body) is
/// a failure. In persist mode, failures that a later attempt or a fixed setup can change
/// are transient: authentication (401/403/407), a proxy's "no such endpoint", answers that
/// are not MLflow's, and every transport error; those that need a fix are marked so.
template <typename F>
Classified attempt(F&& f, const DeliveryHooks& h) {
  Classified c;
  try {
    f();
  } catch (const ServerError& e) {
    c.status = e.http_status();
    c.code = e.error_code();
    c.message = e.what();
    c.needs_fix = c.status == 401 || c.status == 403 || c.status == 407 || c.code == "ENDPOINT_NOT_FOUND";
    if (is_retryable_status(c.status) || (h.persist && c.needs_fix)) {
      c.kind = aborted(h) ? Failure::kAborted : Failure::kTransient;
    } else {
      c.kind = Failure::kRefused;
      c.bisectable = c.status == 400 && c.code == "INVALID_PARAMETER_VALUE" &&
                     e.server_message().find("must be in the 'active' state") == std::string::npos;
      if (!c.needs_fix) c.message = e.server_message();
    }
  } catch (const UnexpectedResponseError& e) {
    // A 2xx answer that is not MLflow's (a gateway's login page): nothing was stored.
    c.status = e.http_status();
    c.code = "UNEXPECTED_RESPONSE";
    c.message = e.what();
    c.needs_fix = true;
    c.kind = aborted(h) ? Failure::kAborted : h.persist ? Failure::kTransient : Failure::kRefused;
  } catch (const ParseError& e) {
    // MLflow-shaped JSON without what the call needs (no run in a runs/create answer...):
    // not a delivery either.
    c.code = "UNEXPECTED_RESPONSE";
    c.message = e.what();
    c.needs_fix = true;
    c.kind = aborted(h) ? Failure::kAborted : h.persist ? Failure::kTransient : Failure::kRefused;
  } catch (const TransportError& e) {
    c.message = e.what();
    c.needs_fix = !is_retryable(e);
    c.kind = aborted(h)                       ? Failure::kAborted
             : (h.persist || is_retryable(e)) ? Failure::kTransient
                                              : Failure::kRefused;
  } catch (const std::exception& e) {
    c.message = e.what();
    c.kind = aborted(h) ? Failure::kAborted : Failure::kTransient;
  }
  return c;
}

}  // namespace

template <typename F>
CallOutcome Deliverer::call(const std::string& run_id, F&& f) {
  CallHooks ch;
  ch.abort = hooks_.abort;
  ch.requests = hooks_.requests;
  ch.retries = hooks_.retries;
  ch.sleep = hooks_.sleep;
  std::chrono::milliseconds wait{1000};
  for (;;) {
    // The outage was reported once (or start_run reported the server unreachable): no
    // retry lines per round.
    ch.quiet_retries = in_outage_ || (hooks_.quiet_retries && hooks_.quiet_retries());
    Classified c = attempt(
        [&] {
          ScopedCallHooks scope(&ch);  // store calls that take no hooks use these
          f(&ch);
        },
        hooks_);
    if (c.kind == Failure::kNone) {
      if (in_outage_ && hooks_.on_outage) hooks_.on_outage(false);
      in_outage_ = false;
      held_reported_.clear();  // a later failure of the same kind is news again
      return {};
    }
    CallOutcome out;
    out.message = c.message;
    out.http_status = c.status;
    out.error_code = c.code;
    out.bisectable = c.bisectable;
    if (c.kind == Failure::kRefused) {
      out.kind = CallOutcome::Kind::kRejected;
      return out;
    }
    out.kind = CallOutcome::Kind::kFailed;
    if (c.kind == Failure::kAborted || !hooks_.persist) {
      out.aborted = c.kind == Failure::kAborted;
      return out;
    }
    if (!in_outage_ && hooks_.on_outage) hooks_.on_outage(true);
    in_outage_ = true;
    if (c.needs_fix && held_reported_.insert(run_id).second) {
      // Once per run: the data waits in the spool for a fixed setup, it is not dropped.
      LogError le;
      le.kind = LogError::Kind::kHeld;
      le.run_id = run_id;
      le.items = 0;
      le.http_status = c.status;
      le.error_code = c.code;
      le.message = fmt::format(
          "delivery{} is held until the setup is fixed; the data stays in the spool and is delivered "
          "when the server accepts it: {}",
          run_id.empty() ? std::string() : " for run " + run_id, c.message);
      hooks_.report(std::move(le));
    }
    if (!hooks_.sleep(wait)) {
      out.aborted = true;
      return out;
    }
    wait = std::min(wait * 2, hooks_.max_round_wait);
  }
}

BatchOutcome Deliverer::log_batch(const std::string& body, int64_t entities) {
  BatchOutcome out;
  CallOutcome r = call(body_run_id(body), [&](const CallHooks* ch) { store_.log_batch_body(body, ch); });
  if (r.kind == CallOutcome::Kind::kDone) {
    if (entities < 0) {
      auto parsed = parse_log_batch_body(body);
      entities = parsed ? static_cast<int64_t>(parsed->entities.size()) : 0;
    }
    out.delivered = static_cast<uint64_t>(entities);
    return out;
  }
  auto parsed = parse_log_batch_body(body);
  const uint64_t n = parsed ? parsed->entities.size() : 0;
  if (r.kind == CallOutcome::Kind::kFailed) {
    out.failed = n;
    out.aborted = r.aborted;
    out.http_status = r.http_status;
    out.error_code = r.error_code;
    out.message = r.message;
    return out;
  }
  if (!parsed) {  // not a body this library wrote: nothing to isolate
    out.message = r.message;
    return out;
  }
  return bisect(parsed->run_id, std::move(parsed->entities), r);
}

BatchOutcome Deliverer::bisect(const std::string& run_id, std::vector<Entity> entities,
                               const CallOutcome& refusal) {
  BatchOutcome out;
  if (entities.empty()) return out;
  if (refusal.bisectable && entities.size() > 1) {
    // One item is bad: split so that everything else still lands (in order).
    const std::size_t half = entities.size() / 2;
    std::vector<std::vector<Entity>> parts(2);
    parts[0].assign(std::make_move_iterator(entities.begin()),
                    std::make_move_iterator(entities.begin() + static_cast<long>(half)));
    parts[1].assign(std::make_move_iterator(entities.begin() + static_cast<long>(half)),
                    std::make_move_iterator(entities.end()));
    for (auto& part : parts) {
      Chunk chunk = make_chunk(std::move(part));
      const std::string text = chunk_body(run_id, chunk);
      CallOutcome r = call(run_id, [&](const CallHooks* ch) { store_.log_batch_body(text, ch); });
      BatchOutcome b;
      if (r.kind == CallOutcome::Kind::kDone) {
        b.delivered = chunk.size();
      } else if (r.kind == CallOutcome::Kind::kFailed) {
        b.failed = chunk.size();
        b.aborted = r.aborted;
        b.message = r.message;
      } else {
        b = bisect(run_id, std::move(chunk.entities), r);
      }
      out.delivered += b.delivered;
      out.rejected += b.rejected;
      out.failed += b.failed;
      out.aborted = out.aborted || b.aborted;
      if (!b.message.empty()) out.message = b.message;
    }
    return out;
  }
  out.rejected = entities.size();
  LogError le;
  le.kind = LogError::Kind::kRejectedByServer;
  le.run_id = run_id;
  le.items = entities.size();
  le.http_status = refusal.http_status;
  le.error_code = refusal.error_code;
  if (entities.size() == 1) {
    const Entity& ent = entities.front();
    const char* what = ent.kind == EntityKind::kMetric  ? "metric"
                       : ent.kind == EntityKind::kParam ? "param"
                                                        : "tag";
    le.key = ent.key;
    le.message = fmt::format("{} '{}' refused by the server (HTTP {} {}): {}", what, ent.key,
                             refusal.http_status, refusal.error_code, refusal.message);
  } else {
    le.message = fmt::format("{} item(s) for run {} refused by the server (HTTP {} {}): {}", entities.size(),
                             run_id, refusal.http_status, refusal.error_code, refusal.message);
  }
  out.message = le.message;
  hooks_.report(std::move(le));
  return out;
}

CallOutcome Deliverer::update_run(const std::string& body) {
  std::string run_id, status_name;
  int64_t end_time = 0;
  try {
    jr::dom::object obj = jr::parse_object(body, "runs/update body");
    run_id = jr::get_string(obj, "run_id");
    status_name = jr::get_string(obj, "status");
    end_time = jr::get_int64(obj, "end_time");
  } catch (const std::exception& e) {
    CallOutcome o;
    o.kind = CallOutcome::Kind::kRejected;
    o.message = e.what();
    return o;
  }
  auto status = run_status_from_string(status_name);
  if (!status) {
    CallOutcome o;
    o.kind = CallOutcome::Kind::kRejected;
    o.message = "unknown run status '" + status_name + "'";
    return o;
  }
  return call(run_id, [&](const CallHooks*) { store_.update_run(run_id, *status, end_time, std::string()); });
}

CallOutcome Deliverer::create_offline_run(const OfflineRun& run) {
  std::string experiment_id = run.experiment_id;
  std::string found;
  CallOutcome r = call(run.local_run_id, [&](const CallHooks*) {
    if (experiment_id.empty() && !run.experiment_name.empty()) {
      if (auto e = store_.get_experiment_by_name(run.experiment_name)) {
        experiment_id = e->experiment_id;
      } else {
        try {
          experiment_id = store_.create_experiment(run.experiment_name, std::string(), {});
        } catch (const ServerError& err) {
          if (!err.is_already_exists()) throw;
          auto again = store_.get_experiment_by_name(run.experiment_name);
          if (!again) throw;
          experiment_id = again->experiment_id;
        }
      }
    }
    if (experiment_id.empty()) experiment_id = "0";
    // A create whose answer was lost may have made the run already: look for it first.
    SearchRunsOptions so;
    so.filter_string = fmt::format("tags.`{}` = '{}'", kOfflineRunIdTag, run.local_run_id);
    so.run_view_type = ViewType::kAll;
    so.max_results = 1;
    auto page = store_.search_runs({experiment_id}, so);
    if (!page.items.empty()) {
      found = page.items.front().info.run_id;
      return;
    }
    std::vector<RunTag> tags = run.tags;
    tags.push_back({std::string(kOfflineRunIdTag), run.local_run_id});
    found = store_.create_run(experiment_id, run.run_name, run.start_time, tags, run.user_id).info.run_id;
  });
  if (r.kind == CallOutcome::Kind::kDone && found.empty()) {
    // A 2xx answer without a run (e.g. an HTML page from a proxy): not created.
    r.kind = CallOutcome::Kind::kFailed;
    r.message = "the server's answer to runs/create held no run id";
  }
  r.run_id = found;
  return r;
}

CallOutcome Deliverer::fail_if_running(const std::string& run_id, int64_t end_time_ms) {
  bool marked = false;
  CallOutcome r = call(run_id, [&](const CallHooks*) {
    Run current = store_.get_run(run_id);
    if (current.info.status != RunStatus::kRunning) return;
    store_.update_run(run_id, RunStatus::kFailed, end_time_ms, std::string());
    marked = true;
  });
  if (marked) r.run_id = run_id;
  return r;
}

}  // namespace mlflowpp::detail
