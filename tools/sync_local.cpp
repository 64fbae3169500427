// mlflowpp-sync --from: local database -> tracking server. See sync_local.hpp and --help.
//
// Idempotence: every destination run carries the tag kSourceTag = the local run id, so one
// search per experiment finds what an earlier sync created. For a run found there, the
// destination's params, tags, inputs, metric histories and artifact listing are read and only
// what is missing is sent; a run with nothing missing is reported "already there". The
// status and end time are set last, after the data, so a run interrupted half-way is
// completed by the next sync.
#include "sync_local.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "mlflowpp/client.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/options.hpp"
#include "sync_local_artifacts.hpp"

namespace mlflowpp::sync_tool {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSourceTag = "mlflowpp.sync.sourceRunId";
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Args {
  std::string from;
  std::string tracking_uri;
  std::vector<std::string> experiments;
  bool dry_run = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "mlflowpp-sync: %s\n(mlflowpp-sync --help for the usage)\n", message.c_str());
  std::exit(kExitUsage);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto is = [&](const std::string& name) { return arg == name || arg.rfind(name + "=", 0) == 0; };
    auto value = [&](const std::string& name) -> std::string {
      std::string v;
      if (arg.size() > name.size()) {
        v = arg.substr(name.size() + 1);
      } else if (i + 1 < argc) {
        v = argv[++i];
      } else {
        usage_error(name + " needs a value");
      }
      if (v.empty()) usage_error(name + " must not be empty");
      return v;
    };
    if (is("--from")) {
      a.from = value("--from");
    } else if (is("--tracking-uri")) {
      a.tracking_uri = value("--tracking-uri");
    } else if (is("--experiment")) {
      a.experiments.push_back(value("--experiment"));
    } else if (arg == "--dry-run") {
      a.dry_run = true;
    } else {
      usage_error("with --from: unknown argument '" + arg +
                  "' (only --tracking-uri, --experiment and --dry-run go with --from)");
    }
  }
  if (a.from.rfind("sqlite:///", 0) != 0 || a.from.size() <= 10)
    usage_error("--from '" + a.from +
                "': expected sqlite:///relative/path.db or sqlite:////absolute/path.db");
  if (a.tracking_uri.empty()) {
    const char* env = std::getenv("MLFLOW_TRACKING_URI");
    if (env == nullptr || *env == '\0')
      usage_error("no destination: pass --tracking-uri URI or set MLFLOW_TRACKING_URI");
    a.tracking_uri = env;
  }
  return a;
}

/// The file a sqlite:/// URI names, made absolute; "" for other URIs.
fs::path sqlite_file(const std::string& uri) {
  if (uri.rfind("sqlite:///", 0) != 0) return {};
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(fs::path(uri.substr(10)), ec), ec);
  return p;
}

struct Counts {
  uint64_t params = 0, tags = 0, points = 0, inputs = 0, artifacts = 0, bytes = 0;
  bool any() const { return params + tags + points + inputs + artifacts > 0; }
  Counts& operator+=(const Counts& o) {
    params += o.params, tags += o.tags, points += o.points, inputs += o.inputs;
    artifacts += o.artifacts, bytes += o.bytes;
    return *this;
  }
};

std::string describe(const Counts& c) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%llu params, %llu tags, %llu metric points, %llu inputs, %llu artifacts (%llu bytes)",
                static_cast<unsigned long long>(c.params), static_cast<unsigned long long>(c.tags),
                static_cast<unsigned long long>(c.points), static_cast<unsigned long long>(c.inputs),
                static_cast<unsigned long long>(c.artifacts), static_cast<unsigned long long>(c.bytes));
  return buf;
}

struct Totals {
  uint64_t experiments = 0, experiments_created = 0;
  uint64_t runs_created = 0, runs_updated = 0, runs_present = 0;
  Counts copied, present;
  std::vector<std::string> failures;
};

bool terminal(RunStatus s) {
  return s == RunStatus::kFinished || s == RunStatus::kFailed || s == RunStatus::kKilled;
}

/// A metric point as MLflow's store compares them: (step, timestamp, value), with the value
/// as SQL servers keep it (±Inf as ±DBL_MAX, one NaN, no negative zero).
using PointKey = std::tuple<int64_t, int64_t, uint64_t>;

PointKey point_key(const Metric& m) {
  double v = m.value;
  if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(v)) v = v > 0 ? DBL_MAX : -DBL_MAX;
  if (v == 0.0) v = 0.0;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  return {m.step, m.timestamp, bits};
}

class LocalSync {
 public:
  LocalSync(const Args& args, Client& src, Client& dst) : args_(args), src_(src), dst_(dst) {}

  void run() {
    std::vector<Experiment> experiments = src_.search_all_experiments();
    std::sort(experiments.begin(), experiments.end(),
              [](const Experiment& a, const Experiment& b) { return a.creation_time < b.creation_time; });
    std::set<std::string> wanted(args_.experiments.begin(), args_.experiments.end());
    for (const Experiment& e : experiments) {
      if (!wanted.empty() && wanted.erase(e.name) == 0) continue;
      if (stopped_) {
        fail("experiment '" + e.name + "': not attempted (" + kStoppedNote + ")");
        continue;
      }
      sync_experiment(e);
    }
    for (const std::string& name : wanted)
      fail("experiment '" + name + "': no active experiment of that name in the local database");
  }

  const Totals& totals() const { return totals_; }

 private:
  void fail(const std::string& what) {
    std::printf("%s  FAILED: %s\n", line_open_ ? "\n" : "", what.c_str());
    line_open_ = false;
    totals_.failures.push_back(what);
  }

  void sync_experiment(const Experiment& e) {
    ++totals_.experiments;
    std::vector<Run> runs;
    std::string dst_id;
    std::map<std::string, Run> synced;  // local run id -> its copy
    try {
      runs = src_.search_all_runs({e.experiment_id});
      std::sort(runs.begin(), runs.end(),
                [](const Run& a, const Run& b) { return a.info.start_time < b.info.start_time; });
      std::optional<Experiment> there = dst_.get_experiment_by_name(e.name);
      if (there && there->lifecycle_stage == "deleted") {
        std::printf("experiment '%s' (local %s): deleted on the destination\n", e.name.c_str(),
                    e.experiment_id.c_str());
        fail("experiment '" + e.name + "' is deleted on the destination (restore it there); its " +
             std::to_string(runs.size()) + " runs were not copied");
        return;
      }
      std::string what = "exists";
      uint64_t tags_set = 0;
      if (!there) {
        what = args_.dry_run ? "would be created" : "created";
        ++totals_.experiments_created;
        if (!args_.dry_run) dst_id = dst_.create_experiment(e.name, {}, e.tags);
        tags_set = e.tags.size();
      } else {
        dst_id = there->experiment_id;
        for (const ExperimentTag& t : e.tags) {
          if (there->tag(t.key) == std::optional<std::string>(t.value)) continue;
          if (!args_.dry_run) dst_.set_experiment_tag(dst_id, t.key, t.value);
          ++tags_set;
        }
      }
      std::printf("experiment '%s' (local %s -> %s): %s, %llu tags set, %zu runs\n", e.name.c_str(),
                  e.experiment_id.c_str(), dst_id.empty() ? "new" : dst_id.c_str(), what.c_str(),
                  static_cast<unsigned long long>(tags_set), runs.size());
      if (!dst_id.empty()) {
        SearchRunsOptions so;
        so.run_view_type = ViewType::kAll;
        so.filter_string = std::string("tags.`") + kSourceTag + "` LIKE '%'";
        for (Run& r : dst_.search_all_runs({dst_id}, so)) {
          auto source = r.data.tag(kSourceTag);
          if (source && synced.count(*source) == 0) synced.emplace(*source, std::move(r));
        }
      }
    } catch (const TransportError& ex) {
      stop();
      fail("experiment '" + e.name + "': " + ex.what());
      return;
    } catch (const std::exception& ex) {
      fail("experiment '" + e.name + "': " + ex.what());
      return;
    }
    for (const Run& r : runs) {
      auto it = synced.find(r.info.run_id);
      const std::string which =
          "run " + r.info.run_id + " ('" + r.info.run_name + "', experiment '" + e.name + "')";
      if (stopped_) {
        fail(which + ": not attempted (" + kStoppedNote + ")");
        continue;
      }
      try {
        sync_run(r.info.run_id, dst_id, it == synced.end() ? nullptr : &it->second);
      } catch (const TransportError& ex) {
        stop();
        fail(which + ": " + ex.what());
      } catch (const std::exception& ex) {
        fail("run " + r.info.run_id + " ('" + r.info.run_name + "', experiment '" + e.name +
             "'): " + ex.what());
      }
    }
  }

  void sync_run(const std::string& src_id, const std::string& dst_exp, const Run* found) {
    const Run src = src_.get_run(src_id);
    std::printf("  run %s '%s' (%s)", src_id.c_str(), src.info.run_name.c_str(), to_string(src.info.status));
    line_open_ = true;
    if (found != nullptr && found->info.lifecycle_stage == "deleted") {
      std::printf(": skipped, its copy %s is deleted on the destination\n", found->info.run_id.c_str());
      line_open_ = false;
      return;
    }
    const bool fresh = found == nullptr;
    Run dst;  // what the destination holds (empty for a new run)
    if (!fresh) dst = dst_.get_run(found->info.run_id);
    Counts copied, present;

    // Params (write-once: a different value there is a conflict), tags, inputs.
    std::vector<Param> params;
    for (const Param& p : src.data.params) {
      auto v = dst.data.param(p.key);
      if (!v) {
        params.push_back(p);
      } else if (*v == p.value) {
        ++present.params;
      } else {
        throw std::runtime_error("param '" + p.key + "' is '" + p.value + "' locally but '" + *v +
                                 "' on the destination");
      }
    }
    std::vector<RunTag> tags;
    for (const RunTag& t : src.data.tags) {
      if (t.key == kSourceTag) continue;
      if (dst.data.tag(t.key) == std::optional<std::string>(t.value)) {
        ++present.tags;
      } else {
        tags.push_back(t);
      }
    }
    std::set<std::pair<std::string, std::string>> dst_inputs;
    for (const DatasetInput& d : dst.inputs.dataset_inputs)
      dst_inputs.emplace(d.dataset.name, d.dataset.digest);
    std::vector<DatasetInput> inputs;
    for (const DatasetInput& d : src.inputs.dataset_inputs) {
      if (dst_inputs.count({d.dataset.name, d.dataset.digest}) != 0) {
        ++present.inputs;
      } else {
        inputs.push_back(d);
      }
    }

    // Metric histories: every point of every key, less those the destination has.
    std::map<std::string, std::vector<Metric>> missing;
    for (const Metric& latest : src.data.metrics) {
      std::vector<Metric> history = src_.get_metric_history(src_id, latest.key);
      std::vector<PointKey> there;
      if (dst.data.metric(latest.key)) {
        for (const Metric& m : dst_.get_metric_history(dst.info.run_id, latest.key))
          there.push_back(point_key(m));
        std::sort(there.begin(), there.end());
      }
      std::vector<Metric>& out = missing[latest.key];
      for (Metric& m : history) {
        if (std::binary_search(there.begin(), there.end(), point_key(m))) {
          ++present.points;
          continue;
        }
        m.model_id.clear();  // logged models are not copied: the server would refuse the id
        m.run_id.clear();
        out.push_back(std::move(m));
      }
      copied.points += out.size();
    }

    // Artifacts: files missing there, or of another size.
    const ArtifactPlan artifacts =
        plan_artifacts(src_, src_id, dst_, fresh ? std::string() : dst.info.run_id);
    copied.artifacts = artifacts.copy.files;
    copied.bytes = artifacts.copy.bytes;
    present.artifacts = artifacts.present.files;
    present.bytes = artifacts.present.bytes;
    copied.params = params.size();
    copied.tags = tags.size();
    copied.inputs = inputs.size();

    const bool status_differs = fresh ? terminal(src.info.status)
                                      : (src.info.status != dst.info.status ||
                                         (src.info.end_time && src.info.end_time != dst.info.end_time) ||
                                         src.info.run_name != dst.info.run_name);
    if (!fresh && !copied.any() && !status_differs) {
      std::printf(": already there as %s (%s)\n", dst.info.run_id.c_str(), describe(present).c_str());
      line_open_ = false;
      ++totals_.runs_present;
      totals_.present += present;
      return;
    }

    std::string dst_id = dst.info.run_id;
    if (!args_.dry_run) {
      if (fresh) {
        CreateRunOptions co;
        co.run_name = src.info.run_name;
        co.start_time = src.info.start_time;
        co.tags = {{kSourceTag, src_id}};
        dst_id = dst_.create_run(dst_exp, co).info.run_id;
      }
      for (auto& [key, points] : missing) {
        for (std::size_t i = 0; i < points.size(); i += 1000) {
          std::vector<Metric> chunk(
              points.begin() + static_cast<std::ptrdiff_t>(i),
              points.begin() + static_cast<std::ptrdiff_t>(std::min(points.size(), i + 1000)));
          dst_.log_batch(dst_id, chunk);
        }
      }
      if (!params.empty() || !tags.empty()) dst_.log_batch(dst_id, {}, params, tags);
      if (!inputs.empty()) dst_.log_inputs(dst_id, inputs);
      if (!artifacts.files.empty()) artifact_copier_.copy(src_, src_id, dst_, dst_id, artifacts.files);
      if (status_differs) dst_.update_run(dst_id, src.info.status, src.info.end_time, src.info.run_name);
    }
    const char* verb =
        args_.dry_run ? (fresh ? "would be created" : "would be updated") : (fresh ? "created" : "updated");
    std::printf(": %s%s%s; %s %s", verb, dst_id.empty() ? "" : " as ", dst_id.c_str(),
                args_.dry_run ? "would copy" : "copied", describe(copied).c_str());
    if (present.any()) std::printf("; already there: %s", describe(present).c_str());
    if (status_differs)
      std::printf("; status %s -> %s", fresh ? "RUNNING" : to_string(dst.info.status),
                  to_string(src.info.status));
    std::printf("\n");
    line_open_ = false;
    ++(fresh ? totals_.runs_created : totals_.runs_updated);
    totals_.copied += copied;
    totals_.present += present;
  }

  /// After a TransportError (the retry policy gave up: the destination, or the local
  /// database's lock, is not answering) the rest is not attempted: each would wait as long.
  void stop() { stopped_ = true; }
  static constexpr const char* kStoppedNote = "stopped: a store did not answer, see the first failure";

  bool stopped_ = false;
  bool line_open_ = false;
  const Args& args_;
  Client& src_;
  Client& dst_;
  Totals totals_;
  ArtifactCopier artifact_copier_;
};

}  // namespace

bool wants_local_sync(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--" || arg == "-h" || arg == "--help") return false;  // --help: the common usage
    if (arg == "--from" || arg.rfind("--from=", 0) == 0) return true;
  }
  return false;
}

int sync_local_main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const fs::path db = sqlite_file(args.from);
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) {
    std::fprintf(stderr, "mlflowpp-sync: --from %s: no database at %s\n", args.from.c_str(), db.c_str());
    return kExitFailed;
  }
  if (args.tracking_uri.rfind("sqlite:", 0) == 0 && sqlite_file(args.tracking_uri) == db) {
    std::fprintf(stderr, "mlflowpp-sync: the destination %s is the source database itself\n",
                 args.tracking_uri.c_str());
    return kExitUsage;
  }
  Totals totals;
  try {
    ClientOptions src_options;
    src_options.tracking_uri = args.from;
    src_options.logger.spool.enabled = false;
    Client src(src_options);
    ClientOptions dst_options = ClientOptions::from_env();
    dst_options.tracking_uri = args.tracking_uri;
    dst_options.logger.spool.enabled = false;
    Client dst(dst_options);
    std::printf("mlflowpp-sync: %s -> %s%s\n", args.from.c_str(), dst.tracking_uri().c_str(),
                args.dry_run ? " (dry run: nothing is written)" : "");
    LocalSync sync(args, src, dst);
    sync.run();
    totals = sync.totals();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlflowpp-sync: %s\n", e.what());
    return kExitFailed;
  }
  std::printf(
      "mlflowpp-sync: %llu experiments (%llu %s), runs: %llu %s, %llu %s, %llu already there; %zu "
      "failure(s)\n",
      static_cast<unsigned long long>(totals.experiments),
      static_cast<unsigned long long>(totals.experiments_created), args.dry_run ? "to create" : "created",
      static_cast<unsigned long long>(totals.runs_created), args.dry_run ? "to create" : "created",
      static_cast<unsigned long long>(totals.runs_updated), args.dry_run ? "to update" : "updated",
      static_cast<unsigned long long>(totals.runs_present), totals.failures.size());
  std::printf("mlflowpp-sync: %s %s\n", args.dry_run ? "would copy" : "copied",
              describe(totals.copied).c_str());
  std::printf("mlflowpp-sync: already there: %s\n", describe(totals.present).c_str());
  if (totals.failures.empty()) return 0;
  std::fprintf(stderr, "mlflowpp-sync: %zu failure(s):\n", totals.failures.size());
  for (const std::string& f : totals.failures) std::fprintf(stderr, "  %s\n", f.c_str());
  return kExitFailed;
}

}  // namespace mlflowpp::sync_tool
