// Thin RAII layer over SQLite: a connection, prepared statements, and
// transactions that roll back unless committed. Used only inside meta/.
//
// Thread safety: none; the owner (meta::Store) serializes access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace slotfs::meta {

// Maps a SQLite result code to a Status: SQLITE_FULL -> ENOSPC,
// SQLITE_READONLY -> EROFS, SQLITE_CORRUPT/NOTADB -> EUCLEAN,
// SQLITE_BUSY/LOCKED -> EBUSY, SQLITE_CANTOPEN -> ENOENT/EACCES-ish,
// SQLITE_CONSTRAINT -> EEXIST, anything else -> EIO.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // flags: SQLITE_OPEN_* (NOMUTEX is added). `vfs`: a registered SQLite
  // VFS name, or empty for the default.
  static Result<Db> Open(const std::string& path, int flags,
                         const std::string& vfs = "");

  sqlite3* get() const { return db_; }
  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  static Result<Stmt> Prepare(const Db& db, std::string_view sql);

  // Resets and clears bindings; called before each use.
  void Reset();
  void Bind(int idx, int64_t v) { sqlite3_bind_int64(s_, idx, v); }
  void Bind(int idx, uint64_t v) { sqlite3_bind_int64(s_, idx, static_cast<int64_t>(v)); }
  void Bind(int idx, uint32_t v) { sqlite3_bind_int64(s_, idx, v); }
  void Bind(int idx, int v) { sqlite3_bind_int64(s_, idx, v); }
  // Names are stored as BLOBs: file names are bytes, not necessarily UTF-8.
  void BindBlob(int idx, std::string_view v) {
    sqlite3_bind_blob(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBytes(int idx, std::span<const uint8_t> v) {
    sqlite3_bind_blob(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindText(int idx, std::string_view v) {
    sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  // Steps once: true with a row, false when done; error otherwise.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  std::string Blob(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction (check status()); ROLLBACK in the
// destructor unless Commit() succeeded.
class Txn {
 public:
  explicit Txn(Db& db);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  const Status& status() const { return begin_status_; }
  Status Commit();

 private:
  Db& db_;
  Status begin_status_;
  bool open_ = false;
};

}  // namespace slotfs::meta
