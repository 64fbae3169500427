#pragma once
// A thin RAII layer over the SQLite C API (Debian's libsqlite3): one connection, prepared
// statements, and write transactions that wait out other writers. Only what the local
// store needs; no ORM. Errors become SqliteError (the store maps them to the public
// errors: see database.hpp). Private: not installed.

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace mlflowpp::detail::sql {

/// A failed SQLite call: `code()` is the extended result code (SQLITE_BUSY, SQLITE_FULL,
/// SQLITE_CONSTRAINT_PRIMARYKEY, ...), what() names the statement's purpose and SQLite's text.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }
  /// The primary code (code() & 0xff).
  int primary() const noexcept { return code_ & 0xff; }
  /// Another connection held the lock past the busy timeout, or the disk/OS failed in a
  /// way that may pass (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_PROTOCOL).
  bool transient() const noexcept;
  /// A UNIQUE or PRIMARY KEY constraint failed.
  bool is_unique_violation() const noexcept;

 private:
  int code_;
};

/// One prepared statement. Bind parameters are 1-based, columns 0-based. Not copyable.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view text);
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, bool v) { return bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& bind_null(int i);

  /// Steps once: true when a row is ready, false when done. Throws SqliteError.
  bool step();
  /// Steps to the end (a statement without rows). Returns sqlite3_changes().
  int64_t run();
  /// Resets and clears bindings so the statement can run again.
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  /// NULL → std::nullopt-like: `fallback`.
  int64_t int64_or(int col, int64_t fallback) const { return is_null(col) ? fallback : int64(col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

/// One connection. Thread-compatible: the caller serializes (database.hpp holds a mutex).
class Connection {
 public:
  /// Opens `path` (created when `create`), sets the busy timeout. Throws SqliteError.
  Connection(const std::string& path, bool create, std::chrono::milliseconds busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements without results.
  void exec(std::string_view sql);
  /// A statement prepared once per connection, reset before it is returned. Keyed by the
  /// pointer: pass a string literal (or text of static storage duration), never a
  /// temporary's c_str().
  Stmt& cached(const char* sql);
  /// A fresh statement (for SQL built at run time).
  std::unique_ptr<Stmt> prepare(std::string_view sql);
  int64_t changes() const;
  int64_t last_insert_rowid() const;
  sqlite3* raw() const noexcept { return db_; }

  /// Runs `f` inside BEGIN IMMEDIATE ... COMMIT (rolled back when `f` throws). BEGIN waits
  /// for other writers through the busy timeout, and is retried with short pauses until
  /// `deadline` passes; then SqliteError(SQLITE_BUSY) is thrown.
  template <typename F>
  auto write(F&& f, std::chrono::milliseconds deadline) -> decltype(f()) {
    clear_stale_transaction();
    begin_immediate(deadline);
    Rollback guard{this};
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      commit();
      guard.armed = false;
    } else {
      auto r = f();
      commit();
      guard.armed = false;
      return r;
    }
  }
  /// Runs `f` inside a read transaction (one consistent snapshot).
  template <typename F>
  auto read(F&& f) -> decltype(f()) {
    clear_stale_transaction();
    exec("BEGIN");
    Rollback guard{this};
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      exec("COMMIT");
      guard.armed = false;
    } else {
      auto r = f();
      exec("COMMIT");
      guard.armed = false;
      return r;
    }
  }

 private:
  struct Rollback {
    Connection* c;
    bool armed = true;
    ~Rollback();
  };
  void begin_immediate(std::chrono::milliseconds deadline);
  void commit();
  /// Ends a transaction a failed ROLLBACK or COMMIT left open (it would hold the file's
  /// lock and make every later BEGIN fail).
  void clear_stale_transaction() noexcept;

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
};

}  // namespace mlflowpp::detail::sql
