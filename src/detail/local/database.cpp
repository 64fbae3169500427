#include "detail/local/database.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "detail/local/schema.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail {

std::shared_ptr<LocalDatabase> LocalDatabase::open(const LocalTarget& target) {
  std::shared_ptr<LocalDatabase> db(new LocalDatabase());
  db->target_ = target;
  db->pid_ = static_cast<int>(::getpid());
  const std::string& path = target.db_path;
  try {
    db->conn_ = std::make_unique<sql::Connection>(path, true, kBusyTimeout);
    auto& c = *db->conn_;
    // foreign_keys and case_sensitive_like as MLflow's own engine sets them; synchronous=NORMAL
    // in WAL mode keeps every committed transaction across a crash of the process (a power
    // loss may lose the last ones, never corrupt the file).
    c.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=true;");
    // Speed of the metric path (ADR 0008): a 32 MiB page cache, a checkpoint every ~16 MiB of WAL.
    c.exec("PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=4000;");
    // Several processes may open a new file at once (the ranks of one job): every step is
    // retried while another holds the lock, until the write deadline.
    const auto until = std::chrono::steady_clock::now() + kWriteDeadline;
    std::string migrating_rev;  // an older revision seen, and since when it has not moved
    auto unchanged_since = std::chrono::steady_clock::now();
    constexpr std::chrono::seconds kMigrationSettle{5};
    for (;;) {
      try {
        // The schema is checked (or created) before anything else touches the file, so a
        // file that is refused is left exactly as it was.
        const bool empty = c.read([&] { return schema_is_empty(c); });
        if (empty) {
          db->revision_ = c.write(
              [&] {
                if (schema_is_empty(c)) {  // another process may have created it meanwhile
                  create_schema(c, target.artifact_root);
                  return schema_head_revision();
                }
                return check_schema(c, path);
              },
              kWriteDeadline);
        } else {
          // A file the Python client is creating right now is migrated one alembic revision
          // at a time (seconds): while its older revision keeps moving, wait for it.
          const std::string rev = c.read([&] { return read_revision(c); });
          const auto now = std::chrono::steady_clock::now();
          if (is_older_revision(rev) && now < until) {
            if (rev != migrating_rev) {
              migrating_rev = rev;
              unchanged_since = now;
            }
            if (now - unchanged_since < kMigrationSettle) {
              std::this_thread::sleep_for(std::chrono::milliseconds(200));
              continue;
            }
          }
          db->revision_ = c.read([&] { return check_schema(c, path); });
        }
        // WAL: readers (mlflow ui, other ranks) never wait for the writer, nor it for them.
        // It persists in the file; it needs a local filesystem.
        std::string mode;
        {
          auto st = c.prepare("PRAGMA journal_mode=WAL");
          if (st->step()) mode = st->text(0);
          while (st->step()) {
          }
        }
        if (mode != "wal") {
          static std::atomic<bool> warned{false};
          if (!warned.exchange(true))
            std::fprintf(
                stderr,
                "mlflowpp: %s stays in '%s' journal mode (SQLite's WAL mode is unavailable here, "
                "e.g. on a network filesystem): readers and writers of the file wait for each other\n",
                path.c_str(), mode.c_str());
        }
        break;
      } catch (const sql::SqliteError& e) {
        const int p = e.primary();
        if ((p != SQLITE_BUSY && p != SQLITE_LOCKED) || std::chrono::steady_clock::now() >= until) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  } catch (const sql::SqliteError& e) {
    switch (e.primary()) {
      case SQLITE_NOTADB:
        throw InvalidArgumentError(fmt::format(
            "'{}' is not a SQLite database (or is corrupted): {}; point the tracking URI at an MLflow "
            "database file or a new path",
            path, e.what()));
      case SQLITE_CORRUPT:
        throw InvalidArgumentError(fmt::format("'{}' is a corrupted SQLite database: {}", path, e.what()));
      case SQLITE_CANTOPEN:
        throw InvalidArgumentError(fmt::format(
            "cannot open or create the local MLflow database '{}' (does its folder exist, and may this "
            "process write there?): {}",
            path, e.what()));
      case SQLITE_READONLY:
        throw InvalidArgumentError(fmt::format(
            "the local MLflow database '{}' is read-only for this process (the file or its folder: "
            "SQLite writes a -wal and a -shm file beside it): {}",
            path, e.what()));
      default:
        db->rethrow(e);
    }
  }
  return db;
}

void LocalDatabase::check_same_process() const {
  if (static_cast<int>(::getpid()) != pid_)
    throw Error(fmt::format(
        "the local MLflow database '{}' was opened by process {}, and this is a process forked from it: "
        "SQLite forbids using a connection across fork(); create the Client in this process (after the "
        "fork) or log from the parent",
        target_.db_path, pid_));
}

void LocalDatabase::rethrow(const sql::SqliteError& e) const {
  const std::string msg = fmt::format("local MLflow database '{}': {}", target_.db_path, e.what());
  if (e.transient()) throw TransportError(0, msg, /*request_sent=*/false, /*retryable=*/true);
  throw ServerError(500, "INTERNAL_ERROR", e.what(), msg);
}

namespace {
[[noreturn]] void refuse(int status, const char* code, const std::string& message) {
  // The code and the status a server would answer with, so messages read the same.
  throw ServerError(status, code, message, fmt::format("local store: {} ({}): {}", code, status, message));
}
}  // namespace

void throw_not_found(const std::string& message) { refuse(404, "RESOURCE_DOES_NOT_EXIST", message); }
void throw_invalid(const std::string& message) { refuse(400, "INVALID_PARAMETER_VALUE", message); }
void throw_exists(const std::string& message) { refuse(400, "RESOURCE_ALREADY_EXISTS", message); }
void throw_invalid_state(const std::string& message) { refuse(400, "INVALID_STATE", message); }

int64_t local_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_uuid_hex() {
  // From the kernel's CSPRNG on every call: a forked child never repeats its parent's ids.
  unsigned char b[16];
  std::size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10
  static const char* const kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    out[2 * i] = kHex[b[i] >> 4];
    out[2 * i + 1] = kHex[b[i] & 0x0f];
  }
  return out;
}

}  // namespace mlflowpp::detail
