#pragma once
// The embedded local store's database: one SQLite file in MLflow's own schema (the pinned
// alembic head, schema.hpp), shared by the local tracking store and the local registry
// store of one Client. See docs/adr/0008-embedded-local-store.md. Private: not installed.
//
// Concurrency: one connection per LocalDatabase, its calls serialized by a mutex (many
// threads of a process; a thread waiting for another process's lock holds it, up to
// kWriteDeadline; a forked child gets an Error, not the parent's connection); other processes (ranks, `mlflow
// ui`) share the file through SQLite's locking in WAL mode: readers never wait for the writer, writers wait
// for each other through the busy timeout and BEGIN IMMEDIATE retries (sqlite.hpp). Every write is one short
// transaction.
//
// Errors, mapped so the Client and the async logger behave as they do against a server:
// - MLflow's own refusals → ServerError with MLflow's error code and HTTP status
//   (throw_not_found, throw_invalid, throw_exists, throw_invalid_state below);
// - a lock held past the deadline, a full disk, an I/O error → TransportError (retryable,
//   nothing was written: the transaction rolled back), so the logger retries them;
// - anything else SQLite reports (read-only file, corruption) → ServerError 500 INTERNAL_ERROR
//   naming the file.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "detail/local/sqlite.hpp"

namespace mlflowpp::detail {

/// Where a local tracking URI points (local_uri.hpp parses it).
struct LocalTarget {
  /// `sqlite:///<absolute path>` as the Python client spells it (for messages and the Client).
  std::string uri;
  /// The database file, absolute.
  std::string db_path;
  /// The default artifact root (absolute folder, no scheme), as Python's `./mlruns`
  /// resolved against the working folder: new experiments get `<root>/<experiment id>`.
  std::string artifact_root;
};

class LocalDatabase {
 public:
  /// Opens (creating when missing) the database at `target`; checks its schema
  /// (schema.hpp). Throws InvalidArgumentError naming the file for a file that is not an
  /// MLflow database or is at an older revision (with the `mlflow db upgrade` hint), and
  /// ServerError/TransportError as above for I/O failures.
  static std::shared_ptr<LocalDatabase> open(const LocalTarget& target);

  const LocalTarget& target() const noexcept { return target_; }
  /// The alembic revision the file carries (the pinned head for files created here).
  const std::string& revision() const noexcept { return revision_; }

  /// Runs `f(conn)` in one write transaction, serialized with this process's other calls.
  template <typename F>
  auto write(F&& f) -> decltype(f(std::declval<sql::Connection&>())) {
    check_same_process();
    std::lock_guard<std::mutex> lk(mu_);
    try {
      return conn_->write([&] { return f(*conn_); }, kWriteDeadline);
    } catch (const sql::SqliteError& e) {
      rethrow(e);
    }
  }
  /// Runs `f(conn)` in one read transaction.
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<sql::Connection&>())) {
    check_same_process();
    std::lock_guard<std::mutex> lk(mu_);
    try {
      return conn_->read([&] { return f(*conn_); });
    } catch (const sql::SqliteError& e) {
      rethrow(e);
    }
  }

  /// How long a writer waits for the lock per attempt, and in all.
  static constexpr std::chrono::milliseconds kBusyTimeout{10000};
  static constexpr std::chrono::milliseconds kWriteDeadline{60000};

  /// Maps a SQLite failure to the public errors (see the top of this file).
  [[noreturn]] void rethrow(const sql::SqliteError& e) const;

 private:
  LocalDatabase() = default;
  /// Throws Error in a process forked from the one that opened the database: SQLite forbids
  /// using a connection across fork(), and the mutex may have been copied locked. (A Client
  /// used in a forked child must be created there.)
  void check_same_process() const;

  LocalTarget target_;
  std::string revision_;
  std::mutex mu_;
  int pid_ = 0;  ///< the process that opened the connection
  std::unique_ptr<sql::Connection> conn_;
};

/// MLflow's refusals, as its SQL store raises them (ServerError with MLflow's code).
[[noreturn]] void throw_not_found(const std::string& message);      ///< 404 RESOURCE_DOES_NOT_EXIST
[[noreturn]] void throw_invalid(const std::string& message);        ///< 400 INVALID_PARAMETER_VALUE
[[noreturn]] void throw_exists(const std::string& message);         ///< 400 RESOURCE_ALREADY_EXISTS
[[noreturn]] void throw_invalid_state(const std::string& message);  ///< 400 INVALID_STATE

/// Milliseconds since the epoch (what MLflow's store stamps creation and update times with).
int64_t local_now_ms();
/// A new 32-hex-digit id (uuid4().hex, as MLflow's run and model ids).
std::string new_uuid_hex();

}  // namespace mlflowpp::detail
