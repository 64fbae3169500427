#include "mlflowpp/client.hpp"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>

#include "api/client_access.hpp"
#include "api/client_impl.hpp"
#include "api/context.hpp"
#include "api/logger_access.hpp"
#include "detail/codec/json.hpp"
#include "detail/core/clock.hpp"
#include "detail/core/env.hpp"
#include "detail/core/validation.hpp"
#include "detail/delivery/batch.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/http/http.hpp"
#include "detail/logger/logger_core.hpp"
#include "detail/rest/paging.hpp"
#include "detail/rest/rest.hpp"
#include "detail/spool/known_servers.hpp"
#include "detail/spool/spool.hpp"
#include "detail/stack/stack.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/active_run.hpp"
#include "mlflowpp/async_logger.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp {

namespace {

std::string random_hex32() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
  return out;
}

void check_max_results(int64_t v, int64_t max, const char* what) {
  if (v < 1 || v > max)
    throw InvalidArgumentError(fmt::format("{}: max_results must be 1..{}, got {}", what, max, v));
}

}  // namespace

Client::Client(ClientOptions options) : Client(detail::ClientAccess::make(std::move(options), nullptr)) {}

Client::Client(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

Client detail::ClientAccess::make(ClientOptions options, std::shared_ptr<Transport> transport) {
  auto impl = std::make_shared<Client::Impl>();
  TrackingStack stack = make_tracking_stack(std::move(options), std::move(transport));
  impl->options = std::move(stack.options);
  impl->transport = std::move(stack.transport);
  impl->reach = std::move(stack.reach);
  impl->rest = std::move(stack.rest);
  impl->local = std::move(stack.local);
  impl->store = std::move(stack.store);
  impl->registry = std::move(stack.registry);
  impl->target = std::move(stack.target);
  return Client(std::move(impl));
}

detail::TrackingStore& detail::ClientAccess::store(Client& client) { return *client.impl_->store; }
bool detail::ClientAccess::refused_everything(const Client& client) {
  return client.impl_->reach != nullptr && client.impl_->reach->refused_everything();
}

Client Client::from_env() { return Client(ClientOptions::from_env()); }

Client::~Client() = default;
Client::Client(const Client&) = default;
Client& Client::operator=(const Client&) = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const noexcept { return impl_->options; }
const std::string& Client::tracking_uri() const noexcept { return impl_->options.tracking_uri; }

// ---- experiments

std::string Client::create_experiment(const std::string& name, const std::string& artifact_location,
                                      const std::vector<ExperimentTag>& tags) {
  if (name.empty()) throw InvalidArgumentError("experiment name must not be empty");
  if (auto n = detail::utf8_length(name); n > detail::kMaxExperimentNameLength)
    throw InvalidArgumentError(fmt::format("experiment name is too long: {} characters, the limit is {}", n,
                                           detail::kMaxExperimentNameLength));
  for (const auto& t : tags) {
    detail::throw_if(detail::check_key("experiment tag", t.key));
    detail::throw_if(
        detail::check_value("experiment tag", t.key, t.value, detail::kMaxExperimentTagValueLength));
  }
  return impl_->store->create_experiment(name, artifact_location, tags);
}

Experiment Client::get_experiment(const std::string& experiment_id) {
  return impl_->store->get_experiment(experiment_id);
}

std::optional<Experiment> Client::get_experiment_by_name(const std::string& name) {
  return impl_->store->get_experiment_by_name(name);
}

std::string Client::get_or_create_experiment(const std::string& name) {
  auto check = [&](const Experiment& e) {
    if (e.lifecycle_stage == "deleted")
      throw InvalidArgumentError(fmt::format(
          "experiment '{}' (id {}) is deleted: restore it (restore_experiment) or use another name", name,
          e.experiment_id));
    return e.experiment_id;
  };
  if (auto e = get_experiment_by_name(name)) return check(*e);
  try {
    return create_experiment(name);
  } catch (const ServerError& err) {
    if (!err.is_already_exists()) throw;
    auto e = get_experiment_by_name(name);  // created concurrently by someone else
    if (!e) throw;
    return check(*e);
  }
}

PagedList<Experiment> Client::search_experiments(const SearchExperimentsOptions& options) {
  check_max_results(options.max_results, 50000, "search_experiments");
  return impl_->store->search_experiments(options);
}

std::vector<Experiment> Client::search_all_experiments(SearchExperimentsOptions options) {
  std::string start = std::move(options.page_token);
  return detail::paging::collect_all<Experiment>(
      std::move(start), options.max_results, "experiments/search",
      [&](const std::string& token) {
        options.page_token = token;
        return search_experiments(options);
      },
      [](const Experiment& e) { return e.experiment_id; });
}

void Client::rename_experiment(const std::string& experiment_id, const std::string& new_name) {
  if (new_name.empty()) throw InvalidArgumentError("new experiment name must not be empty");
  impl_->store->rename_experiment(experiment_id, new_name);
}
void Client::delete_experiment(const std::string& experiment_id) {
  impl_->store->delete_experiment(experiment_id);
}
void Client::restore_experiment(const std::string& experiment_id) {
  impl_->store->restore_experiment(experiment_id);
}
void Client::set_experiment_tag(const std::string& experiment_id, const std::string& key,
                                const std::string& value) {
  detail::throw_if(detail::check_key("experiment tag", key));
  detail::throw_if(detail::check_value("experiment tag", key, value, detail::kMaxExperimentTagValueLength));
  impl_->store->set_experiment_tag(experiment_id, key, value);
}
void Client::delete_experiment_tag(const std::string& experiment_id, const std::string& key) {
  impl_->store->delete_experiment_tag(experiment_id, key);
}

// ---- runs

Run Client::create_run(const std::string& experiment_id, const CreateRunOptions& options) {
  for (const auto& t : options.tags) {
    detail::throw_if(detail::check_key("tag", t.key));
    detail::throw_if(detail::check_value("tag", t.key, t.value, detail::kMaxTagValueLength));
  }
  std::string user;
  for (const auto& t : options.tags)
    if (t.key == "mlflow.user") user = t.value;
  return impl_->store->create_run(experiment_id, options.run_name,
                                  options.start_time.value_or(detail::now_ms()), options.tags, user);
}

Run Client::get_run(const std::string& run_id) { return impl_->store->get_run(run_id); }

RunInfo Client::update_run(const std::string& run_id, std::optional<RunStatus> status,
                           std::optional<int64_t> end_time, const std::string& run_name) {
  return impl_->store->update_run(run_id, status, end_time, run_name);
}

void Client::set_terminated(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) {
  impl_->store->update_run(run_id, status, end_time.value_or(detail::now_ms()), {});
}

void Client::delete_run(const std::string& run_id) { impl_->store->delete_run(run_id); }
void Client::restore_run(const std::string& run_id) { impl_->store->restore_run(run_id); }

PagedList<Run> Client::search_runs(const std::vector<std::string>& experiment_ids,
                                   const SearchRunsOptions& options) {
  check_max_results(options.max_results, 50000, "search_runs");
  return impl_->store->search_runs(experiment_ids, options);
}

std::vector<Run> Client::search_all_runs(const std::vector<std::string>& experiment_ids,
                                         SearchRunsOptions options) {
  std::string start = std::move(options.page_token);
  return detail::paging::collect_all<Run>(
      std::move(start), options.max_results, "runs/search",
      [&](const std::string& token) {
        options.page_token = token;
        return search_runs(experiment_ids, options);
      },
      [](const Run& r) { return r.info.run_id; });
}

void Client::log_metric(const std::string& run_id, const std::string& key, double value,
                        std::optional<TimestampMs> timestamp, int64_t step) {
  Metric m;
  m.key = key;
  m.value = value;
  m.timestamp = timestamp ? timestamp->ms : detail::now_ms();
  m.step = step;
  detail::throw_if(detail::check_key("metric", key));
  detail::throw_if(detail::check_timestamp(key, m.timestamp));
  detail::warn_once_if_seconds(key, m.timestamp);
  impl_->store->log_metric(run_id, m);
}

void Client::log_param(const std::string& run_id, const std::string& key, const std::string& value) {
  detail::throw_if(detail::check_key("param", key));
  detail::throw_if(detail::check_value("param", key, value, detail::kMaxParamValueLength));
  impl_->store->log_param(run_id, key, value);
}

void Client::set_tag(const std::string& run_id, const std::string& key, const std::string& value) {
  detail::throw_if(detail::check_key("tag", key));
  detail::throw_if(detail::check_value("tag", key, value, detail::kMaxTagValueLength));
  impl_->store->set_tag(run_id, key, value);
}

void Client::delete_tag(const std::string& run_id, const std::string& key) {
  impl_->store->delete_tag(run_id, key);
}

void Client::log_batch(const std::string& run_id, const std::vector<Metric>& metrics,
                       const std::vector<Param>& params, const std::vector<RunTag>& tags) {
  // Validate everything first: nothing is sent when one item is invalid.
  for (const auto& m : metrics) {
    detail::throw_if(detail::check_key("metric", m.key));
    detail::throw_if(detail::check_timestamp(m.key, m.timestamp));
    detail::warn_once_if_seconds(m.key, m.timestamp);
  }
  for (const auto& p : params) {
    detail::throw_if(detail::check_key("param", p.key));
    detail::throw_if(detail::check_value("param", p.key, p.value, detail::kMaxParamValueLength));
  }
  for (const auto& t : tags) {
    detail::throw_if(detail::check_key("tag", t.key));
    detail::throw_if(detail::check_value("tag", t.key, t.value, detail::kMaxTagValueLength));
  }
  detail::BatchLimits limits;
  limits.max_bytes = impl_->options.logger.max_request_bytes;
  detail::Batcher batcher(limits, run_id.size());
  std::size_t origin = 0;
  // Params first: the server writes them first, and a conflict then fails fast.
  for (const auto& p : params)
    batcher.add({detail::EntityKind::kParam, p.key, p.value, detail::param_json(p.key, p.value), {origin++}});
  for (const auto& m : metrics)
    batcher.add({detail::EntityKind::kMetric, m.key, {}, detail::metric_json(m), {origin++}});
  for (const auto& t : tags)
    batcher.add({detail::EntityKind::kTag, t.key, {}, detail::tag_json(t.key, t.value), {origin++}});
  for (const auto& chunk : batcher.finish())
    impl_->store->log_batch_body(detail::chunk_body(run_id, chunk), nullptr);
}

void Client::log_inputs(const std::string& run_id, const std::vector<DatasetInput>& datasets) {
  for (const auto& d : datasets) detail::throw_if(detail::check_dataset_input(d));
  impl_->store->log_inputs(run_id, datasets);
}

std::vector<Metric> Client::get_metric_history(const std::string& run_id, const std::string& key) {
  std::vector<Metric> all;
  std::string token;
  for (;;) {
    auto page = impl_->store->get_metric_history_page(run_id, key, 25000, token);
    for (auto& m : page.items) all.push_back(std::move(m));
    if (page.next_page_token.empty()) return all;
    token = page.next_page_token;
  }
}

namespace {

// Client::start_run's offline mode: the option, else MLFLOWPP_OFFLINE_START, else kKnownServer.
OfflineStart offline_start_mode(const std::optional<OfflineStart>& option) {
  if (option) return *option;
  const std::string v = detail::env_or_empty("MLFLOWPP_OFFLINE_START");
  std::string lower;
  for (char c : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "known") return OfflineStart::kKnownServer;
  if (lower == "always") return OfflineStart::kAlways;
  if (lower == "never") return OfflineStart::kNever;
  throw InvalidArgumentError(fmt::format("MLFLOWPP_OFFLINE_START='{}': expected never, known or always", v));
}

// Why start_run gives up on a server never reached, and what to do about it.
std::string never_reached_message(const std::string& target, const std::string& why, OfflineStart mode,
                                  bool spool) {
  std::string how =
      mode == OfflineStart::kNever || !spool
          ? "offline starts are off (StartRunOptions::offline_start = kNever, MLFLOWPP_OFFLINE_START=never, "
            "or "
            "no spool)"
          : "no MLflow server has answered at this address from this process or its spool before, so it "
            "is most likely a wrong address";
  return fmt::format(
      "cannot reach the tracking server {} ({}): {}. Check MLFLOW_TRACKING_URI (is `mlflow server` running "
      "there?). To train without a server on purpose: leave MLFLOW_TRACKING_URI unset (runs go into "
      "./mlflow.db; `mlflowpp-sync --from sqlite:///mlflow.db` copies them to a server later), or set "
      "MLFLOWPP_OFFLINE_START=always (StartRunOptions::offline_start = OfflineStart::kAlways) to start "
      "offline into the spool, delivered when the server answers",
      target, why, how);
}

}  // namespace

// ---- lifecycle

ActiveRun Client::start_run(const std::string& experiment_name, const std::string& run_name) {
  StartRunOptions o;
  o.experiment_name = experiment_name;
  o.run_name = run_name;
  return start_run(std::move(o));
}

ActiveRun Client::start_run(StartRunOptions o) {
  std::string resume = o.run_id;
  if (resume.empty()) {
    resume = detail::env_or_empty("MLFLOW_RUN_ID");
    if (!resume.empty()) unsetenv("MLFLOW_RUN_ID");  // read once, as the Python client does
  }
  // Tags as the Python fluent API resolves them: the system (context) tags, overridden by
  // the user's tags, overridden by the explicit arguments (parent run, description).
  std::vector<RunTag> explicit_tags;
  if (!o.parent_run_id.empty()) explicit_tags.push_back({"mlflow.parentRunId", o.parent_run_id});
  if (!o.description.empty()) explicit_tags.push_back({"mlflow.note.content", o.description});
  for (const auto& t : o.tags) {
    detail::throw_if(detail::check_key("tag", t.key));
    detail::throw_if(detail::check_value("tag", t.key, t.value, detail::kMaxTagValueLength));
  }

  if (!resume.empty()) {
    Run existing = get_run(resume);
    if (existing.info.lifecycle_stage == "deleted")
      throw InvalidArgumentError(fmt::format("cannot resume run {}: it is deleted", resume));
    std::vector<RunTag> tags = o.tags;
    for (auto& t : explicit_tags) detail::merge_tag(tags, std::move(t));
    RunInfo info = update_run(resume, RunStatus::kRunning, std::nullopt, o.run_name);
    if (!tags.empty()) log_batch(resume, {}, {}, tags);
    return ActiveRun(*this, info);
  }

  std::vector<RunTag> tags;
  if (o.system_tags) tags = detail::system_tags(impl_->options.username);
  for (const auto& t : o.tags) detail::merge_tag(tags, t);
  for (auto& t : explicit_tags) detail::merge_tag(tags, std::move(t));
  // The run name is the explicit argument; the server sets mlflow.runName from it (a
  // differing mlflow.runName tag would be refused with 400).
  if (!o.run_name.empty()) detail::merge_tag(tags, {"mlflow.runName", o.run_name});

  std::string env_name = detail::env_or_empty("MLFLOW_EXPERIMENT_NAME");
  std::string env_id = detail::env_or_empty("MLFLOW_EXPERIMENT_ID");
  AsyncLogger& logger = async_logger();
  detail::LoggerCore& core = detail::logger_core(logger);
  // The fail-fast rule (ADR 0009): a server that answered this process, or this spool
  // before, may be down for a while (the run starts offline); one never reached is most
  // likely a wrong address (start_run fails within offline_after, naming it).
  const OfflineStart mode = offline_start_mode(o.offline_start);
  const bool reached_here = impl_->reach == nullptr || impl_->reach->answered.load();
  const bool known = reached_here || (core.spool_enabled() && detail::server_known(core.spool_dir()));
  const bool may_go_offline = core.spool_enabled() && (mode == OfflineStart::kAlways ||
                                                       (mode == OfflineStart::kKnownServer && known));
  // Whether to start offline once the server could not be reached: `known` as it stands
  // then (MLflow may have answered this very call before stalling: a busy server).
  bool mlflow_answered = false;
  auto offline_now = [&] {
    return core.spool_enabled() && (mode == OfflineStart::kAlways ||
                                    (mode == OfflineStart::kKnownServer && (known || mlflow_answered)));
  };
  bool creating = false;
  try {
    std::optional<detail::ScopedRetryDeadline> deadline;
    if (may_go_offline || !reached_here) deadline.emplace(std::chrono::steady_clock::now() + o.offline_after);
    std::string experiment_id = o.experiment_id;
    if (experiment_id.empty() && !o.experiment_name.empty())
      experiment_id = get_or_create_experiment(o.experiment_name);
    if (experiment_id.empty()) {
      if (!env_name.empty()) {
        experiment_id = get_or_create_experiment(env_name);
        if (!env_id.empty() && env_id != experiment_id)
          throw InvalidArgumentError(fmt::format(
              "MLFLOW_EXPERIMENT_NAME='{}' (experiment id {}) does not match MLFLOW_EXPERIMENT_ID='{}'",
              env_name, experiment_id, env_id));
      } else if (!env_id.empty()) {
        experiment_id = get_experiment(env_id).experiment_id;  // must exist
      } else {
        experiment_id = "0";
      }
    }
    mlflow_answered = experiment_id != o.experiment_id && experiment_id != "0";  // a call succeeded
    CreateRunOptions create;
    create.run_name = o.run_name;
    create.tags = tags;
    creating = true;
    Run run = create_run(experiment_id, create);
    if (core.spool_enabled() && !impl_->local) detail::remember_server(core.spool_dir());
    return ActiveRun(*this, run.info);
  } catch (const TransportError& e) {
    // runs/create is not idempotent: go offline only when it cannot have reached the
    // server (else a second run could appear); a timeout after sending is thrown.
    if (creating && e.request_sent()) throw;
    if (!offline_now()) {
      if (impl_->reach == nullptr || impl_->reach->answered.load()) throw;  // something answered
      throw TransportError(e.curl_code(),
                           never_reached_message(impl_->target, e.what(), mode, core.spool_enabled()),
                           e.request_sent(), e.retryable());
    }
    return start_offline(o, env_name, env_id, std::move(tags), e.what());
  } catch (const ServerError& e) {
    // 502/503 come from a proxy that did not reach (or get an answer from) MLflow; a 504
    // may come after MLflow created the run.
    const int st = e.http_status();
    if (st != 502 && st != 503 && (creating || st != 504)) throw;
    if (!offline_now()) {
      if (known || mlflow_answered) throw;  // MLflow itself answered before: the proxy's error as it is
      throw ServerError(st, e.error_code(), e.server_message(),
                        never_reached_message(impl_->target, e.what(), mode, core.spool_enabled()));
    }
    return start_offline(o, env_name, env_id, std::move(tags), e.what());
  }
}

ActiveRun Client::start_offline(const StartRunOptions& o, const std::string& env_name,
                                const std::string& env_id, std::vector<RunTag> tags, const std::string& why) {
  detail::OfflineRun r;
  r.local_run_id = std::string(detail::kOfflineRunIdPrefix) + random_hex32();
  r.experiment_id = !o.experiment_id.empty()                        ? o.experiment_id
                    : o.experiment_name.empty() && env_name.empty() ? env_id
                                                                    : "";
  r.experiment_name = !o.experiment_name.empty() ? o.experiment_name : env_name;
  r.run_name = o.run_name;
  r.start_time = detail::now_ms();
  r.user_id = impl_->options.username;
  r.tags = std::move(tags);
  AsyncLogger& logger = async_logger();
  const uint32_t handle = logger.handle_for(r.local_run_id);
  if (!detail::logger_core(logger).create_run_offline(handle, detail::offline_run_payload(r)))
    throw Error("cannot start run offline: the logger is shut down");
  std::fprintf(stderr,
               "mlflowpp: the tracking server is unreachable (%s); run starts offline as %s and is created "
               "on the server, with all its data, when it answers again\n",
               why.c_str(), r.local_run_id.c_str());
  RunInfo info;
  info.run_id = r.local_run_id;
  info.run_name = r.run_name;
  info.experiment_id = r.experiment_id;
  info.status = RunStatus::kRunning;
  info.start_time = r.start_time;
  info.lifecycle_stage = "active";
  return ActiveRun(*this, info, true);
}

AsyncLogger& Client::async_logger() {
  std::call_once(impl_->logger_once, [this] {
    detail::LoggerDeps deps;
    deps.store = impl_->store;
    deps.options = impl_->options.logger;
    deps.target = impl_->target;
    if (impl_->reach)
      deps.refused_everything = [reach = impl_->reach] { return reach->refused_everything(); };
    // The local store needs no journal: a committed SQLite transaction is already durable
    // (ADR 0008); the logger then holds undelivered items in memory only.
    if (deps.options.spool.enabled && !impl_->local) {
      std::string root =
          deps.options.spool.dir.empty() ? detail::default_spool_dir() : deps.options.spool.dir;
      if (!root.empty()) deps.spool_dir = detail::spool_dir_for(root, deps.target, impl_->options.workspace);
    }
    impl_->logger = detail::make_async_logger(std::make_unique<detail::LoggerCore>(std::move(deps)));
  });
  return *impl_->logger;
}

}  // namespace mlflowpp
