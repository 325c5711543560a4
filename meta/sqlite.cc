// SQLite RAII helpers.
#include "meta/sqlite.h"

#include <utility>

namespace slotfs::meta {

Status SqliteStatus(int rc, sqlite3* db, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int err;
  switch (rc & 0xff) {
    case SQLITE_FULL: err = ENOSPC; break;
    case SQLITE_READONLY: err = EROFS; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: err = EUCLEAN; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: err = EBUSY; break;
    case SQLITE_CANTOPEN: err = ENOENT; break;
    case SQLITE_PERM:
    case SQLITE_AUTH: err = EACCES; break;
    case SQLITE_CONSTRAINT: err = EEXIST; break;
    case SQLITE_NOMEM: err = ENOMEM; break;
    case SQLITE_TOOBIG: err = ENAMETOOLONG; break;
    default: err = EIO; break;
  }
  return Status::Error(err, std::move(msg));
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}
Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
Db& Db::operator=(Db&& o) noexcept {
  std::swap(db_, o.db_);
  return *this;
}

Result<Db> Db::Open(const std::string& path, int flags, const std::string& vfs) {
  Db db;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    return SqliteStatus(rc, db.db_, "cannot open database " + path);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, 5000);
  return db;
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(rc, db_, "sqlite exec");
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}
Stmt::Stmt(Stmt&& o) noexcept
    : s_(std::exchange(o.s_, nullptr)), db_(std::exchange(o.db_, nullptr)) {}
Stmt& Stmt::operator=(Stmt&& o) noexcept {
  std::swap(s_, o.s_);
  std::swap(db_, o.db_);
  return *this;
}

Result<Stmt> Stmt::Prepare(const Db& db, std::string_view sql) {
  Stmt st;
  st.db_ = db.get();
  int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &st.s_, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(rc, db.get(), "prepare '" + std::string(sql) + "'");
  }
  return st;
}

void Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, "sqlite step");
}

Status Stmt::Run() {
  for (;;) {
    Result<bool> r = Step();
    if (!r.ok()) return r.status();
    if (!r.value()) return Status::Ok();
  }
}

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  if (!p || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

Txn::Txn(Db& db) : db_(db) {
  begin_status_ = db_.Exec("BEGIN IMMEDIATE");
  open_ = begin_status_.ok();
}

Txn::~Txn() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

Status Txn::Commit() {
  Status st = db_.Exec("COMMIT");
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace slotfs::meta
