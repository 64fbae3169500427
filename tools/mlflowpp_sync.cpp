// mlflowpp-sync: replays the spool journals that processes left behind (offline training,
// a crash, an outage that outlasted the process) into a tracking server. See --help,
// docs/adr/0005-spool.md and docs/adr/0006-durable-logging.md.
//
// Built inside the project: it uses the private spool and delivery layers (src/detail).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "detail/core/text.hpp"
#include "detail/delivery/delivery.hpp"
#include "detail/logger/logger_core.hpp"  // spool_dir_for
#include "detail/rest/rest.hpp"
#include "detail/spool/spool.hpp"
#include "detail/stack/stack.hpp"
#include "detail/store/tracking_store.hpp"
#include "mlflowpp/error.hpp"
#include "mlflowpp/options.hpp"
#include "sync_local.hpp"

namespace {

using namespace mlflowpp;
using namespace mlflowpp::detail;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitLeft = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "Usage: mlflowpp-sync [--tracking-uri URI] [--list] [--wait SECONDS] [FOLDER ...]\n"
    "       mlflowpp-sync --from sqlite:///path/mlflow.db [--tracking-uri URI] [--experiment NAME ...]\n"
    "                     [--dry-run]\n"
    "\n"
    "Replays mlflowpp spool journals (*.mlflowpp-journal) into a tracking server: what\n"
    "processes logged while the server was unreachable, or had not delivered when they\n"
    "exited or crashed. Runs started offline are created on the server; runs that were\n"
    "started and never ended are marked FAILED (at their last metric timestamp).\n"
    "\n"
    "  FOLDER              a folder holding journals, a spool root whose subfolders hold\n"
    "                      them (one level down), or one journal file. Default: the spool\n"
    "                      root ($MLFLOWPP_SPOOL_DIR, else $XDG_STATE_HOME/mlflowpp/spool,\n"
    "                      else ~/.local/state/mlflowpp/spool), all its subfolders.\n"
    "  --tracking-uri URI  the server to replay into (default: $MLFLOW_TRACKING_URI). Any\n"
    "                      server: a journal's folder name only says which one it was\n"
    "                      written for. Credentials and TLS settings come from the\n"
    "                      environment (MLFLOW_TRACKING_USERNAME, ..._TOKEN, ...).\n"
    "  --list              print each journal (size, records, records not yet delivered,\n"
    "                      torn tail bytes, whether its owner process is alive) and exit;\n"
    "                      nothing is changed.\n"
    "  --wait SECONDS      while the server is unreachable, keep trying for this long in\n"
    "                      all. Default 0: give up after one retry schedule\n"
    "                      (MLFLOW_HTTP_REQUEST_MAX_RETRIES ...).\n"
    "  -h, --help          this text.\n"
    "\n"
    "Journals are replayed oldest first; a journal whose owner process is still alive is\n"
    "skipped (that process delivers it). A replayed journal is removed; one that could not\n"
    "be delivered keeps what was acknowledged and is resumed by the next sync.\n"
    "\n"
    "A journal that logs to runs the server does not have (written for another server) is\n"
    "left alone: runs started offline can be replayed anywhere, others only where they are.\n"
    "\n"
    "Exit status: 0 every journal was replayed (or skipped because its owner is alive, or\n"
    "there was none); 1 some journal was left (server unreachable, credentials refused,\n"
    "runs missing, unreadable file); 2 usage error.\n"
    "\n"
    "With --from: copies a database the embedded local store wrote (sqlite:///relative.db,\n"
    "sqlite:////absolute.db; artifacts in its ./mlruns) into the tracking server, through\n"
    "the server's API and artifact proxy. Active experiments (matched by name, created with\n"
    "their tags when missing) and their active runs: params, tags, every point of every\n"
    "metric, dataset inputs, run name, status, start and end times, and every artifact file.\n"
    "Idempotent: each copy is tagged mlflowpp.sync.sourceRunId=<local run id>, and a later\n"
    "sync sends only what that copy lacks (new metric points, params, tags, inputs,\n"
    "artifacts missing or of another size, a new status); runs still RUNNING stay RUNNING\n"
    "and are completed by a later sync. Deleted runs and experiments are not copied.\n"
    "Logged models, model registry entries and the runs' user_id field are not copied.\n"
    "  --from URI          the local database (must exist).\n"
    "  --tracking-uri URI  the destination (default: $MLFLOW_TRACKING_URI).\n"
    "  --experiment NAME   only this experiment (repeatable); default: every active one.\n"
    "  --dry-run           read both sides and print what would be copied; write nothing.\n"
    "Prints one line per experiment and per run (what was copied, what was already there)\n"
    "and the totals. Exit status: 0 everything is there; 1 some experiment or run failed\n"
    "(each is listed at the end; the others were still copied); 2 usage error.\n";

struct Args {
  std::string tracking_uri;
  bool list = false;
  double wait_seconds = 0;
  std::vector<std::string> folders;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "mlflowpp-sync: %s\n(mlflowpp-sync --help for the usage)\n", message.c_str());
  std::exit(kExitUsage);
}

Args parse_args(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      a.folders.push_back(arg);
      continue;
    }
    auto value = [&](const std::string& name) -> std::string {
      if (arg.size() > name.size() && arg.compare(0, name.size() + 1, name + "=") == 0)
        return arg.substr(name.size() + 1);
      if (i + 1 >= argc) usage_error(name + " needs a value");
      return argv[++i];
    };
    auto is = [&](const std::string& name) { return arg == name || arg.rfind(name + "=", 0) == 0; };
    if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(kExitOk);
    } else if (arg == "--list") {
      a.list = true;
    } else if (is("--tracking-uri")) {
      a.tracking_uri = value("--tracking-uri");
      if (a.tracking_uri.empty()) usage_error("--tracking-uri must not be empty");
    } else if (is("--wait")) {
      const std::string v = value("--wait");
      char* end = nullptr;
      errno = 0;
      const double s = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || errno != 0 || !(s >= 0) || s > 1e9)
        usage_error("--wait '" + v + "': expected a number of seconds >= 0");
      a.wait_seconds = s;
    } else {
      usage_error("unknown option '" + arg + "'");
    }
  }
  return a;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string base_name(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string dir_name(const std::string& p) {
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool has_journal_suffix(std::string_view name) {
  return name.size() > kJournalSuffix.size() && ends_with(name, kJournalSuffix);
}

/// The journals in `folder` and in its subfolders (one level down).
std::vector<std::string> journals_under(std::string folder) {
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  std::vector<std::string> out = list_journals(folder);
  std::vector<std::string> subs;
  if (DIR* d = ::opendir(folder.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      const std::string path = (folder == "/" ? "" : folder) + "/" + name;
      if (is_dir(path)) subs.push_back(path);
    }
    ::closedir(d);
  }
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) {
    auto more = list_journals(s);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

/// Every journal the arguments name, oldest first (names start with the creation time in
/// ms), without duplicates. Exits with a usage error for a FOLDER that does not exist.
std::vector<std::string> collect_journals(const Args& args, std::string& shown_root) {
  std::vector<std::string> all;
  if (args.folders.empty()) {
    const std::string root = default_spool_dir();
    if (root.empty())
      usage_error("no spool folder: no home folder found and MLFLOWPP_SPOOL_DIR is not set; name a FOLDER");
    shown_root = root;
    all = journals_under(root);  // a missing root: nothing to sync
  } else {
    for (const auto& f : args.folders) {
      if (is_dir(f)) {
        auto found = journals_under(f);
        all.insert(all.end(), found.begin(), found.end());
      } else if (is_regular(f)) {
        if (!has_journal_suffix(base_name(f)))
          usage_error("'" + f + "' is not a journal (*" + std::string(kJournalSuffix) + ") nor a folder");
        all.push_back(f);
      } else {
        usage_error("'" + f + "': no such folder");
      }
    }
  }
  std::sort(all.begin(), all.end(), [](const std::string& a, const std::string& b) {
    const std::string na = base_name(a), nb = base_name(b);
    return na != nb ? na < nb : a < b;
  });
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

/// Whether the journal's owner process holds its lock (try_adopt would fail), checked
/// without adopting: a shared lock taken and dropped at once. nullopt when it cannot be
/// opened. (While we hold it, an adopter's try_adopt in another process sees "alive" and
/// leaves the journal for its next start: harmless.)
std::optional<bool> owner_alive(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const bool alive = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // drops our lock, if we took it
  return alive;
}

int list_command(const std::vector<std::string>& journals) {
  for (const auto& path : journals) {
    try {
      JournalReader reader = JournalReader::open(path);
      const JournalInfo info = reader.scan();
      auto alive = owner_alive(path);
      if (!info.header_ok) {
        std::printf("%s: not a journal (bad header), %llu bytes\n", path.c_str(),
                    static_cast<unsigned long long>(info.file_size));
        continue;
      }
      uint64_t left = 0;
      reader.seek(info.ack_offset);
      Record rec;
      while (reader.next(rec))
        if (rec.type != RecordType::kAck && rec.type != RecordType::kRunStarted) ++left;
      std::printf("%s: %llu bytes, %llu record(s), %llu left to deliver, %llu torn tail byte(s), owner %s\n",
                  path.c_str(), static_cast<unsigned long long>(info.file_size),
                  static_cast<unsigned long long>(info.records), static_cast<unsigned long long>(left),
                  static_cast<unsigned long long>(info.ignored_tail_bytes()),
                  !alive   ? "unknown"
                  : *alive ? "alive (not replayable now)"
                           : "dead (replayable)");
    } catch (const std::exception& e) {
      std::printf("%s: cannot be read: %s\n", path.c_str(), e.what());
    }
  }
  return kExitOk;
}

/// A server run (not one started offline) that records after the journal's last ACK log
/// to and that `store` does not have (404 RESOURCE_DOES_NOT_EXIST), or "". Replaying
/// would have every such request refused, acknowledged, and the journal removed. Other
/// failures return "" (the replay deals with them).
std::string missing_run(const std::string& path, TrackingStore& store) {
  JournalReader reader = JournalReader::open(path);
  reader.seek_past_last_ack();
  std::vector<std::string> ids;
  Record rec;
  while (reader.next(rec)) {
    if (rec.type != RecordType::kLogBatch && rec.type != RecordType::kUpdateRun) continue;
    std::string id = body_run_id(rec.payload);
    if (id.empty() || is_offline_run_id(id) || std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
    ids.push_back(std::move(id));
  }
  for (const auto& id : ids) {
    try {
      store.get_run(id);
    } catch (const ServerError& e) {
      if (e.error_code() == "RESOURCE_DOES_NOT_EXIST") return id;
    } catch (const std::exception&) {
    }
  }
  return {};
}

struct Totals {
  uint64_t complete = 0, left = 0, alive = 0;
};

void print_stats(const ReplayStats& st) {
  std::printf(
      " %llu record(s) replayed, %llu item(s) delivered, %llu refused, %llu run(s) created, %llu run(s) "
      "marked FAILED",
      static_cast<unsigned long long>(st.records), static_cast<unsigned long long>(st.entities_delivered),
      static_cast<unsigned long long>(st.entities_rejected), static_cast<unsigned long long>(st.runs_created),
      static_cast<unsigned long long>(st.runs_marked_failed));
  if (st.ignored_tail_bytes > 0)
    std::printf(", %llu torn tail byte(s) dropped", static_cast<unsigned long long>(st.ignored_tail_bytes));
  std::printf("\n");
}

int sync_command(const Args& args, const std::vector<std::string>& journals) {
  TrackingStack stack;
  try {
    ClientOptions requested = ClientOptions::from_env();
    if (!args.tracking_uri.empty()) requested.tracking_uri = args.tracking_uri;
    if (requested.tracking_uri.empty())
      usage_error("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI");
    // What a Client builds (credentials out of the URI, checks, no trailing '/').
    stack = make_tracking_stack(std::move(requested));
  } catch (const std::exception& e) {
    usage_error(e.what());
  }
  const ClientOptions& options = stack.options;
  const std::string target = stack.target;  // never credentials
  std::shared_ptr<TrackingStore> store = stack.store;

  if (journals.empty()) {
    std::printf("mlflowpp-sync: no journal to replay\n");
    return kExitOk;
  }

  const Clock::time_point start = Clock::now();
  const bool budget = args.wait_seconds > 0;
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args.wait_seconds));
  // Set when the server stopped answering and there is no --wait budget (see on_outage).
  bool give_up = false;
  // A plain wait; with a --wait budget, false once the budget has run out (the delivery
  // then gives up and the journal keeps its ACKs).
  auto sleep = [budget, deadline, &give_up](std::chrono::milliseconds d) {
    if (give_up) return false;
    if (!budget) {
      std::this_thread::sleep_for(d);
      return true;
    }
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (now + d > deadline) {
      std::this_thread::sleep_until(deadline);
      return false;
    }
    std::this_thread::sleep_for(d);
    return true;
  };

  std::printf("mlflowpp-sync: replaying %zu journal(s) into %s\n", journals.size(), target.c_str());

  // Before touching any journal: is the server there, and does it take our credentials?
  // A sync that cannot even read from the server stops here, every journal as it was.
  {
    std::chrono::milliseconds wait{1000};
    for (;;) {
      std::string why;
      try {
        SearchExperimentsOptions so;
        so.max_results = 1;
        store->search_experiments(so);
        break;
      } catch (const std::exception& e) {
        why = e.what();
      }
      if (!budget || !sleep(wait)) {
        std::fprintf(stderr, "mlflowpp-sync: the tracking server %s cannot be used: %s\n", target.c_str(),
                     why.c_str());
        std::printf("mlflowpp-sync: nothing replayed; %zu journal(s) left\n", journals.size());
        return kExitLeft;
      }
      wait = std::min(wait * 2, std::chrono::milliseconds(30000));
    }
  }

  // Always persist: without it the Deliverer counts an answer that a later attempt (or a
  // fixed configuration) can change as a refusal of the data: 401/403/407, a wrong path
  // prefix answering 404, a TLS verification failure. Those records would be acknowledged
  // and the journal removed: data lost for a mistyped token. Persisting, such answers are
  // transient, like an unreachable server: after one full RetryPolicy schedule the
  // Deliverer reports the outage (on_outage(true)) and waits for its next round. Without
  // a --wait budget that wait is refused (give_up), so the journal is left with its ACKs,
  // to be resumed by the next sync; with one, rounds go on until the budget runs out.
  DeliveryHooks hooks;
  hooks.sleep = sleep;
  hooks.report = [](LogError e) {
    std::fprintf(stderr, "mlflowpp-sync: %s: %s\n", e.kind == LogError::Kind::kHeld ? "held" : "refused",
                 e.message.c_str());
  };
  hooks.persist = true;
  hooks.on_outage = [&](bool down) {
    if (down && !budget) {
      give_up = true;
    } else if (down) {
      std::fprintf(stderr,
                   "mlflowpp-sync: the tracking server %s is not answering; retrying for up to %g s\n",
                   target.c_str(), args.wait_seconds);
    } else {
      std::fprintf(stderr, "mlflowpp-sync: the tracking server %s answers again\n", target.c_str());
    }
  };
  Deliverer deliverer(*store, hooks);

  // The folder a logger writing to `target` would use (spool_dir_for): a journal in another
  // folder was written for another server. Replaying it here is allowed (that is what the
  // tool is for), but said.
  const std::string own_folder = base_name(spool_dir_for("", target, options.workspace));

  Totals totals;
  for (std::size_t i = 0; i < journals.size(); ++i) {
    const std::string& path = journals[i];
    const std::string folder = base_name(dir_name(path));
    std::printf("%s\n", path.c_str());
    if (folder != own_folder)
      std::printf("  written for spool folder %s (this server's would be %s)\n", folder.c_str(),
                  own_folder.c_str());
    try {
      // try_adopt rewrites a file without a journal header: never do that to a file the
      // user pointed us at by mistake.
      {
        JournalReader check = JournalReader::open(path);
        if (!check.header_ok()) {
          std::printf("  left: not a journal (bad header); not touched\n");
          ++totals.left;
          continue;
        }
      }
      std::optional<JournalWriter> adopted = try_adopt(path);
      if (!adopted) {
        if (is_regular(path)) {
          std::printf("  skipped: its owner process is alive (it delivers the journal itself)\n");
          ++totals.alive;
        } else {
          std::printf("  skipped: gone (replayed by another process)\n");
        }
        continue;
      }
      if (std::string missing = missing_run(path, *store); !missing.empty()) {
        std::printf(
            "  left: run %s does not exist on %s (this journal was written for another server?); not "
            "replayed, its data would be refused and lost. Replay it into its own server, or remove it.\n",
            missing.c_str(), target.c_str());
        ++totals.left;
        continue;  // `adopted` closes untouched but for a dropped torn tail
      }
      ReplayStats st = replay_journal(std::move(*adopted), deliverer);
      if (st.complete) {
        std::printf("  complete:");
        ++totals.complete;
      } else {
        const bool out_of_time = budget && Clock::now() >= deadline;
        std::printf("  left (%s%s):", out_of_time ? "the --wait budget ran out; " : "",
                    st.error.empty() ? "not delivered" : st.error.c_str());
        ++totals.left;
      }
      print_stats(st);
      if (!st.complete) {
        // The server stopped answering (or the --wait budget ran out): the next journals
        // would meet the same wall, each after a full retry schedule.
        if (i + 1 < journals.size())
          std::printf("mlflowpp-sync: stopping; %zu later journal(s) not attempted\n",
                      journals.size() - i - 1);
        totals.left += journals.size() - i - 1;
        break;
      }
    } catch (const std::exception& e) {
      std::printf("  left: %s\n", e.what());
      ++totals.left;
    }
  }
  std::printf("mlflowpp-sync: %llu journal(s) replayed, %llu left, %llu skipped (owner alive)\n",
              static_cast<unsigned long long>(totals.complete), static_cast<unsigned long long>(totals.left),
              static_cast<unsigned long long>(totals.alive));
  return totals.left > 0 ? kExitLeft : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines in order with stderr's
  // --from: a local database into a server (tools/sync_local.cpp), not the spool.
  if (mlflowpp::sync_tool::wants_local_sync(argc, argv))
    return mlflowpp::sync_tool::sync_local_main(argc, argv);
  try {
    const Args args = parse_args(argc, argv);
    std::string root;
    const std::vector<std::string> journals = collect_journals(args, root);
    if (args.list) {
      if (!root.empty()) std::printf("spool root %s\n", root.c_str());
      if (journals.empty()) std::printf("no journal\n");
      return list_command(journals);
    }
    return sync_command(args, journals);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlflowpp-sync: %s\n", e.what());
    return kExitLeft;
  }
}
