// meta::ScanDatabase: a read-only streaming pass over the inodes table.
#include "meta/scan.h"

#include <sys/stat.h>

#include <cerrno>

#include "meta/sqlite.h"

namespace slotfs::meta {
namespace {

constexpr std::string_view kScanCols =
    "ino, parent, name, mode, size, slots, atime_ns, mtime_ns, state, pin";

void ReadEntry(const Stmt& q, ScannedEntry* e) {
  e->ino = InodeNo(static_cast<uint64_t>(q.Int(0)));
  e->parent = InodeNo(static_cast<uint64_t>(q.Int(1)));
  e->name = q.Blob(2);
  e->mode = static_cast<uint32_t>(q.Int(3));
  e->size = static_cast<uint64_t>(q.Int(4));
  e->slots = static_cast<uint64_t>(q.Int(5));
  e->atime_ns = q.Int(6);
  e->mtime_ns = q.Int(7);
  e->state = q.Int(8) == 0 ? InodeState::kComplete : InodeState::kWriting;
  e->pin = static_cast<uint32_t>(q.Int(9));
}

// Runs `sql` and hands each row to `fn` (if set).
Status StreamRows(const Db& db, const std::string& sql,
                  const std::function<Status(const ScannedEntry&)>& fn) {
  if (!fn) return Status::Ok();
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, sql));
  ScannedEntry e;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    ReadEntry(q, &e);
    SLOTFS_RETURN_IF_ERROR(fn(e));
  }
}

}  // namespace

Status ScanDatabase(const std::string& path, const ScanCallbacks& callbacks) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "database " + path);
  SLOTFS_ASSIGN_OR_RETURN(Db db, Db::Open(path, SQLITE_OPEN_READONLY));
  SLOTFS_ASSIGN_OR_RETURN(Stmt app, Stmt::Prepare(db, "PRAGMA application_id"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, app.Step());
  if (!row || app.Int(0) != kApplicationId) {
    return Status::Error(EUCLEAN, path + " is not a slotfs database");
  }
  // One read transaction: directories and files from the same snapshot.
  SLOTFS_RETURN_IF_ERROR(db.Exec("BEGIN"));
  std::string cols(kScanCols);
  Status s = StreamRows(db,
                        "SELECT " + cols +
                            " FROM inodes WHERE (mode & 61440) = 16384 "
                            "ORDER BY ino",
                        callbacks.on_directory);
  if (s.ok()) {
    s = StreamRows(db,
                   "SELECT " + cols +
                       " FROM inodes WHERE (mode & 61440) = 32768 "
                       "ORDER BY ino",
                   callbacks.on_file);
  }
  Status end = db.Exec("COMMIT");
  return s.ok() ? end : s;
}

}  // namespace slotfs::meta
