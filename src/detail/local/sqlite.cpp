#include "detail/local/sqlite.hpp"

#include <sqlite3.h>

#include <thread>
#include <type_traits>

namespace mlflowpp::detail::sql {

namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view doing) {
  const int code = db ? sqlite3_extended_errcode(db) : rc;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw SqliteError(code ? code : rc, std::string(doing) + ": " + (msg ? msg : sqlite3_errstr(rc)) + " (" +
                                          sqlite3_errstr(rc) + ")");
}

/// The statement's first words, for messages (never its bound values).
std::string head(std::string_view sql) {
  std::string s(sql.substr(0, 60));
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return sql.size() > 60 ? s + "..." : s;
}

}  // namespace

bool SqliteError::transient() const noexcept {
  const int p = primary();
  return p == SQLITE_BUSY || p == SQLITE_LOCKED || p == SQLITE_FULL || p == SQLITE_IOERR ||
         p == SQLITE_PROTOCOL;
}

bool SqliteError::is_unique_violation() const noexcept {
  return code_ == SQLITE_CONSTRAINT_UNIQUE || code_ == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// ---- Stmt

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
  const int rc = sqlite3_prepare_v3(db_, sql_.data(), static_cast<int>(sql_.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "prepare '" + head(sql_) + "'");
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::bind(int i, std::string_view text) {
  // An empty view may have no data pointer, which SQLite would bind as NULL: bind "" instead.
  const char* data = text.data() != nullptr ? text.data() : "";
  const int rc = sqlite3_bind_text64(stmt_, i, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind(int i, int64_t v) {
  const int rc = sqlite3_bind_int64(stmt_, i, static_cast<sqlite3_int64>(v));
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind(int i, double v) {
  const int rc = sqlite3_bind_double(stmt_, i, v);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  const int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, "'" + head(sql_) + "'");
}

int64_t Stmt::run() {
  while (step()) {
  }
  const int64_t n = sqlite3_changes64(db_);
  reset();
  return n;
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Stmt::int64(int col) const { return static_cast<int64_t>(sqlite3_column_int64(stmt_, col)); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- Connection

Connection::Connection(const std::string& path, bool create, std::chrono::milliseconds busy_timeout)
    : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    const int code = db_ ? sqlite3_extended_errcode(db_) : rc;
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(code, "open '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
}

Connection::~Connection() {
  cache_.clear();
  sqlite3_close_v2(db_);
}

void Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(db_, rc, "'" + head(s) + "'");
}

Stmt& Connection::cached(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, std::make_unique<Stmt>(db_, sql)).first;
  it->second->reset();
  return *it->second;
}

std::unique_ptr<Stmt> Connection::prepare(std::string_view sql) { return std::make_unique<Stmt>(db_, sql); }

int64_t Connection::changes() const { return sqlite3_changes64(db_); }
int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

void Connection::begin_immediate(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    try {
      exec("BEGIN IMMEDIATE");
      return;
    } catch (const SqliteError& e) {
      // The busy handler already waited its timeout; a deadlock-avoidance SQLITE_BUSY (or a
      // writer that holds the lock for long) gets short pauses until the deadline.
      if ((e.primary() != SQLITE_BUSY && e.primary() != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= until)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

void Connection::commit() { exec("COMMIT"); }

Connection::Rollback::~Rollback() {
  // A failure here leaves the transaction open; the next write() or read() clears it
  // (clear_stale_transaction) before it begins.
  if (armed) c->clear_stale_transaction();
}

void Connection::clear_stale_transaction() noexcept {
  for (int attempt = 0; attempt < 3 && sqlite3_get_autocommit(db_) == 0; ++attempt) {
    for (auto& entry : cache_) entry.second->reset();  // a statement mid-step keeps its lock
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace mlflowpp::detail::sql
