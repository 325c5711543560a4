// meta::Store implementation: schema, statements, transactions.
#include "meta/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"

namespace slotfs::meta {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) WITHOUT ROWID;
CREATE TABLE inodes(
  ino      INTEGER PRIMARY KEY AUTOINCREMENT,
  parent   INTEGER NOT NULL,
  name     BLOB NOT NULL,
  mode     INTEGER NOT NULL,
  uid      INTEGER NOT NULL,
  gid      INTEGER NOT NULL,
  size     INTEGER NOT NULL DEFAULT 0,
  slots    INTEGER NOT NULL DEFAULT 0,
  atime_ns INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  state    INTEGER NOT NULL DEFAULT 0,
  pin      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX inodes_by_name ON inodes(parent, name);
CREATE INDEX inodes_by_parent ON inodes(parent, ino);
CREATE INDEX inodes_writing ON inodes(state) WHERE state <> 0;
CREATE INDEX inodes_dirs ON inodes(ino) WHERE (mode & 61440) = 16384;
CREATE INDEX inodes_subdirs ON inodes(parent) WHERE (mode & 61440) = 16384;
CREATE INDEX inodes_lru ON inodes(atime_ns)
  WHERE pin = 0 AND state = 0 AND (mode & 61440) = 32768;
CREATE TABLE journal(
  ino        INTEGER PRIMARY KEY,
  kind       INTEGER NOT NULL,
  started_ns INTEGER NOT NULL
);
CREATE TABLE extents(
  ino   INTEGER NOT NULL,
  lslot INTEGER NOT NULL,
  slot  INTEGER NOT NULL,
  count INTEGER NOT NULL,
  csums BLOB,
  PRIMARY KEY(ino, lslot)
) WITHOUT ROWID;
)sql";

// Journal entry kinds.
constexpr int kJournalCreate = 1;
constexpr int kJournalRewrite = 2;

constexpr std::string_view kInodeCols =
    "ino, parent, name, mode, uid, gid, size, slots, atime_ns, mtime_ns, "
    "ctime_ns, state, pin";

InodeRow ReadRow(const Stmt& s) {
  InodeRow r;
  r.ino = InodeNo(static_cast<uint64_t>(s.Int(0)));
  r.parent = InodeNo(static_cast<uint64_t>(s.Int(1)));
  r.name = s.Blob(2);
  r.mode = static_cast<uint32_t>(s.Int(3));
  r.uid = static_cast<uint32_t>(s.Int(4));
  r.gid = static_cast<uint32_t>(s.Int(5));
  r.size = static_cast<uint64_t>(s.Int(6));
  r.slots = static_cast<uint64_t>(s.Int(7));
  r.atime_ns = s.Int(8);
  r.mtime_ns = s.Int(9);
  r.ctime_ns = s.Int(10);
  r.state = static_cast<InodeState>(s.Int(11));
  r.pin = static_cast<uint32_t>(s.Int(12));
  return r;
}

std::string Describe(const blockdev::Uuid& uuid, uint64_t slot_size,
                     uint64_t slot_count, uint64_t data_offset) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "uuid %s, slot size %" PRIu64 ", %" PRIu64
                " slots, data offset %" PRIu64,
                blockdev::UuidToString(uuid).c_str(), slot_size, slot_count,
                data_offset);
  return buf;
}

Status ApplyPragmas(Db& db, int64_t cache_kib) {
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=OFF"));
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA temp_store=MEMORY"));
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA mmap_size=0"));
  return db.Exec("PRAGMA cache_size=-" + std::to_string(cache_kib));
}

// Checksums are stored as 8-byte little-endian values, one per slot.
std::string EncodeCsums(const std::vector<uint64_t>& v) {
  std::string out(v.size() * 8, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>(v[i] >> (8 * b));
  }
  return out;
}

std::vector<uint64_t> DecodeCsums(const std::string& blob) {
  std::vector<uint64_t> v(blob.size() / 8);
  for (size_t i = 0; i < v.size(); ++i) {
    uint64_t x = 0;
    for (int b = 0; b < 8; ++b) x |= uint64_t{static_cast<uint8_t>(blob[i * 8 + b])} << (8 * b);
    v[i] = x;
  }
  return v;
}

}  // namespace

struct Store::Statements {
  Stmt get_inode, lookup, insert_inode, update_attrs, delete_inode,
      delete_extents, get_extents, insert_extent, rename, has_children,
      list_children, set_pin, commit_file, bump_seq, journal_add,
      journal_clear, touch_dir, touch_parent_of, count_subdirs;
};

Store::~Store() {
  st_.reset();  // statements before the connection
}

Result<std::unique_ptr<Store>> Store::Create(const std::string& path,
                                             const blockdev::Superblock& sb,
                                             uid_t uid, gid_t gid,
                                             bool overwrite,
                                             const std::string& vfs) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return Status::Error(ELOOP, "database " + path +
                                      " is a symbolic link; slotfs does not follow links "
                                      "at the database path (give the real path)");
    }
    if (!overwrite) {
      return Status::Error(EEXIST, "database " + path +
                                       " already exists (use --force to "
                                       "replace it)");
    }
  }
  if (overwrite) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::string p = path + suffix;
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        return Status::FromErrno(errno, "cannot remove " + p);
      }
    }
  }
  // The file is made here, not by SQLite: never through a link someone else
  // placed (O_EXCL|O_NOFOLLOW), and private whatever the umask (SQLite
  // gives the -wal and -shm files the database's mode).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "cannot create database " + path);
  const int mode_rc = ::fchmod(fd, 0600);
  const int mode_err = errno;
  ::close(fd);  // no SQLite lock exists yet for this close to drop
  if (mode_rc != 0) return Status::FromErrno(mode_err, "chmod database " + path);
  auto store = std::unique_ptr<Store>(new Store());
  store->path_ = path;
  SLOTFS_ASSIGN_OR_RETURN(
      store->db_,
      Db::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs));
  Db& db = store->db_;
  SLOTFS_RETURN_IF_ERROR(ApplyPragmas(db, 4096));
  SLOTFS_RETURN_IF_ERROR(
      db.Exec("PRAGMA application_id=" + std::to_string(kApplicationId)));
  {
    Txn txn(db);
    SLOTFS_RETURN_IF_ERROR(txn.status());
    SLOTFS_RETURN_IF_ERROR(db.Exec(kSchema));
    SLOTFS_ASSIGN_OR_RETURN(
        Stmt put, Stmt::Prepare(db, "INSERT INTO meta(key, value) VALUES(?, ?)"));
    auto put_int = [&](std::string_view k, int64_t v) -> Status {
      put.Reset();
      put.BindText(1, k);
      put.Bind(2, v);
      return put.Run();
    };
    put.Reset();
    put.BindText(1, "uuid");
    put.BindText(2, blockdev::UuidToString(sb.uuid));
    SLOTFS_RETURN_IF_ERROR(put.Run());
    SLOTFS_RETURN_IF_ERROR(put_int("slot_size", static_cast<int64_t>(sb.slot_size)));
    SLOTFS_RETURN_IF_ERROR(put_int("slot_count", static_cast<int64_t>(sb.slot_count)));
    SLOTFS_RETURN_IF_ERROR(put_int("data_offset", static_cast<int64_t>(sb.data_offset)));
    SLOTFS_RETURN_IF_ERROR(put_int("format_version", sb.format_version));
    SLOTFS_RETURN_IF_ERROR(put_int("created_unix_ns", static_cast<int64_t>(sb.created_unix_ns)));
    SLOTFS_ASSIGN_OR_RETURN(
        Stmt root,
        Stmt::Prepare(db,
                      "INSERT INTO inodes(ino, parent, name, mode, uid, gid, "
                      "atime_ns, mtime_ns, ctime_ns) VALUES(1, 0, x'', ?, ?, "
                      "?, ?, ?, ?)"));
    int64_t now = WallNowNs();
    root.Bind(1, static_cast<int64_t>(S_IFDIR | 0755));
    root.Bind(2, static_cast<int64_t>(uid));
    root.Bind(3, static_cast<int64_t>(gid));
    root.Bind(4, now);
    root.Bind(5, now);
    root.Bind(6, now);
    SLOTFS_RETURN_IF_ERROR(root.Run());
    SLOTFS_RETURN_IF_ERROR(
        db.Exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)));
    SLOTFS_RETURN_IF_ERROR(txn.Commit());
  }
  SLOTFS_RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  SLOTFS_RETURN_IF_ERROR(store->Prepare());
  SLOTFS_RETURN_IF_ERROR(store->Sync());
  return store;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                           const blockdev::Superblock& sb,
                                           const StoreOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "database " + path);
  }
  auto store = std::unique_ptr<Store>(new Store());
  store->path_ = path;
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  SLOTFS_ASSIGN_OR_RETURN(store->db_, Db::Open(path, flags, options.vfs));
  // SQLite quietly opens a file it cannot write read-only; say so now rather
  // than fail at the first commit.
  if (!options.read_only && sqlite3_db_readonly(store->db_.get(), "main") == 1) {
    return Status::Error(EROFS, "database " + path +
                                    " is read-only (permissions, or a read-only "
                                    "filesystem); slotfs needs to write it");
  }
  // Identify the database before changing anything in it: a wrong --db must
  // not be switched to WAL or grown from an empty file.
  SLOTFS_RETURN_IF_ERROR(store->CheckBinding(sb));
  Status pr = ApplyPragmas(store->db_, options.cache_kib);
  if (!pr.ok()) {
    return Status::Error(pr.code(), "database " + path +
                                        " cannot be used: " + pr.message());
  }
  if (!options.read_only) {
    // Databases made before the index existed get it here (one scan, once);
    // it only speeds up counting subdirectories, so the schema version
    // stays.
    pr = store->db_.Exec(
        "CREATE INDEX IF NOT EXISTS inodes_subdirs ON inodes(parent) "
        "WHERE (mode & 61440) = 16384");
    if (!pr.ok()) {
      return Status::Error(pr.code(), "database " + path + " cannot be used: " + pr.message());
    }
  }
  pr = store->Prepare();
  if (!pr.ok()) {
    return Status::Error(EUCLEAN, "database " + path + " does not have the schema (version " +
                                      std::to_string(kSchemaVersion) +
                                      ") it claims: " + pr.message() +
                                      "; run 'slotfs check'");
  }
  return store;
}

namespace {

// Reads application id, schema version and the recorded identity.
// EUCLEAN "not a slotfs database" for another application's file.
Result<DbBinding> ReadBindingFrom(const Db& db) {
  SLOTFS_ASSIGN_OR_RETURN(Stmt app, Stmt::Prepare(db, "PRAGMA application_id"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, app.Step());
  if (!row || app.Int(0) != kApplicationId) {
    return Status::Error(EUCLEAN, "not a slotfs database");
  }
  DbBinding out;
  SLOTFS_ASSIGN_OR_RETURN(Stmt uv, Stmt::Prepare(db, "PRAGMA user_version"));
  SLOTFS_ASSIGN_OR_RETURN(row, uv.Step());
  if (row) out.schema_version = static_cast<int>(uv.Int(0));
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, "SELECT key, value FROM meta"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(row, q.Step());
    if (!row) break;
    std::string key = q.Blob(0);
    if (key == "uuid") {
      SLOTFS_ASSIGN_OR_RETURN(out.uuid, blockdev::UuidFromString(q.Blob(1)));
    } else if (key == "slot_size") {
      out.slot_size = static_cast<uint64_t>(q.Int(1));
    } else if (key == "slot_count") {
      out.slot_count = static_cast<uint64_t>(q.Int(1));
    } else if (key == "data_offset") {
      out.data_offset = static_cast<uint64_t>(q.Int(1));
    }
  }
  return out;
}

}  // namespace

Status Store::CheckBinding(const blockdev::Superblock& sb) {
  Result<DbBinding> b = ReadBindingFrom(db_);
  if (b.ok() && b->schema_version != kSchemaVersion) {
    b = Status::Error(EUCLEAN, "schema version " + std::to_string(b->schema_version) +
                                   ", this slotfs reads version " +
                                   std::to_string(kSchemaVersion));
  }
  const int why = b.ok() ? 0 : b.status().code();
  if (why == EROFS || why == EACCES || why == ENOENT || why == EBUSY || why == ENOMEM) {
    return Status::Error(b.status().code(), "database " + path_ + " cannot be read: " +
                                                b.status().message());
  }
  if (!b.ok()) {
    return Status::Error(EUCLEAN, "database " + path_ +
                                      " is not a usable slotfs database (" +
                                      b.status().message() +
                                      "); run 'slotfs check' or re-format");
  }
  const DbBinding& d = b.value();
  if (d.uuid != sb.uuid || d.slot_size != sb.slot_size ||
      d.slot_count != sb.slot_count || d.data_offset != sb.data_offset) {
    return Status::Error(
        EUCLEAN,
        "database " + path_ + " belongs to another filesystem: database has " +
            Describe(d.uuid, d.slot_size, d.slot_count, d.data_offset) +
            "; device superblock has " +
            Describe(sb.uuid, sb.slot_size, sb.slot_count, sb.data_offset) +
            ". Pass --db with the database created for this device, or "
            "re-format the device");
  }
  return Status::Ok();
}

Status Store::Prepare() {
  st_ = std::make_unique<Statements>();
  auto prep = [&](Stmt& s, const std::string& sql) -> Status {
    auto r = Stmt::Prepare(db_, sql);
    if (!r.ok()) return r.status();
    s = std::move(r.value());
    return Status::Ok();
  };
  std::string cols(kInodeCols);
  SLOTFS_RETURN_IF_ERROR(prep(st_->get_inode, "SELECT " + cols + " FROM inodes WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->lookup, "SELECT " + cols + " FROM inodes WHERE parent=? AND name=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->insert_inode,
      "INSERT INTO inodes(parent, name, mode, uid, gid, atime_ns, mtime_ns, "
      "ctime_ns, state) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->update_attrs,
      "UPDATE inodes SET mode=?, uid=?, gid=?, atime_ns=?, mtime_ns=?, "
      "ctime_ns=? WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->delete_inode, "DELETE FROM inodes WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->delete_extents, "DELETE FROM extents WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->get_extents,
      "SELECT lslot, slot, count, csums FROM extents WHERE ino=? ORDER BY lslot"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->insert_extent,
      "INSERT INTO extents(ino, lslot, slot, count, csums) VALUES(?, ?, ?, ?, ?)"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->rename,
      "UPDATE inodes SET parent=?, name=?, ctime_ns=? WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->has_children, "SELECT 1 FROM inodes WHERE parent=? LIMIT 1"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->list_children,
      "SELECT " + cols + " FROM inodes WHERE parent=? AND ino>? ORDER BY ino LIMIT ?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->set_pin, "UPDATE inodes SET pin=? WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->touch_dir,
      "UPDATE inodes SET mtime_ns=?1, ctime_ns=?1 WHERE ino=?2"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->touch_parent_of,
      "UPDATE inodes SET mtime_ns=?1, ctime_ns=?1 "
      "WHERE ino=(SELECT parent FROM inodes WHERE ino=?2)"));
  // Served by the inodes_subdirs partial index: O(log n + subdirectories),
  // whatever the number of files in the directory.
  SLOTFS_RETURN_IF_ERROR(prep(st_->count_subdirs,
      "SELECT count(*) FROM inodes WHERE parent=? AND (mode & 61440) = 16384"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->commit_file,
      "UPDATE inodes SET size=?, slots=?, mtime_ns=?, ctime_ns=?, state=0 WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->journal_add,
      "INSERT OR IGNORE INTO journal(ino, kind, started_ns) "
      "SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM inodes WHERE ino=?1)"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->journal_clear, "DELETE FROM journal WHERE ino=?"));
  SLOTFS_RETURN_IF_ERROR(prep(st_->bump_seq,
      "INSERT INTO meta(key, value) VALUES('sync_seq', 1) ON CONFLICT(key) "
      "DO UPDATE SET value=value+1"));
  return Status::Ok();
}

Status Store::SetSynchronous(bool full) {
  return db_.Exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

void Store::NoteCommitted(bool durable) {
  uint64_t seq = last_seq_.fetch_add(1) + 1;
  if (durable) durable_seq_.store(seq);
}

Result<RecoverySummary> Store::Recover() {
  std::lock_guard lock(mu_);
  RecoverySummary out;
  SLOTFS_RETURN_IF_ERROR(SetSynchronous(true));
  struct Restore {
    Store* s;
    ~Restore() { (void)s->SetSynchronous(false); }
  } restore{this};
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt kinds, Stmt::Prepare(db_, "SELECT kind, count(*) FROM journal GROUP BY kind"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, kinds.Step());
    if (!row) break;
    if (kinds.Int(0) == kJournalCreate) {
      out.creates_discarded = static_cast<uint64_t>(kinds.Int(1));
    } else {
      out.rewrites_discarded += static_cast<uint64_t>(kinds.Int(1));
    }
  }
  kinds = Stmt();
  SLOTFS_RETURN_IF_ERROR(db_.Exec("DELETE FROM journal"));
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt count_ext,
      Stmt::Prepare(db_, "SELECT count(*) FROM extents WHERE ino IN "
                         "(SELECT ino FROM inodes WHERE state<>0)"));
  SLOTFS_ASSIGN_OR_RETURN(bool has, count_ext.Step());
  if (has) out.extents_dropped = static_cast<uint64_t>(count_ext.Int(0));
  SLOTFS_RETURN_IF_ERROR(db_.Exec(
      "DELETE FROM extents WHERE ino IN (SELECT ino FROM inodes WHERE state<>0)"));
  SLOTFS_RETURN_IF_ERROR(db_.Exec("DELETE FROM inodes WHERE state<>0"));
  inode_count_ = -1;  // recounted when next asked
  // Creates are journaled with their row; the larger count wins should the
  // two ever disagree.
  out.creates_discarded = std::max(out.creates_discarded, static_cast<uint64_t>(db_.Changes()));
  out.writes_discarded = out.creates_discarded + out.rewrites_discarded;
  // All rows minus directories (a partial index): no scan of a million rows.
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt files, Stmt::Prepare(db_, "SELECT (SELECT count(*) FROM inodes) - "
                                     "(SELECT count(*) FROM inodes WHERE (mode & 61440) = 16384)"));
  SLOTFS_ASSIGN_OR_RETURN(has, files.Step());
  if (has) out.files_kept = static_cast<uint64_t>(files.Int(0));
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(true);
  return out;
}

Status Store::ForEachSlotRun(const std::function<Status(SlotId, uint64_t)>& fn) {
  std::lock_guard lock(mu_);
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "SELECT slot, count FROM extents"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    SLOTFS_RETURN_IF_ERROR(fn(SlotId(static_cast<uint64_t>(q.Int(0))),
                              static_cast<uint64_t>(q.Int(1))));
  }
}

Status Store::ForEachExtent(
    const std::function<Status(InodeNo, const Extent&)>& fn) {
  std::lock_guard lock(mu_);
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db_, "SELECT ino, lslot, slot, count, csums FROM extents"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::Ok();
    Extent e{static_cast<uint64_t>(q.Int(1)), SlotId(static_cast<uint64_t>(q.Int(2))),
             static_cast<uint64_t>(q.Int(3)), DecodeCsums(q.Blob(4))};
    SLOTFS_RETURN_IF_ERROR(fn(InodeNo(static_cast<uint64_t>(q.Int(0))), e));
  }
}

Result<InodeRow> Store::GetInode(InodeNo ino) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->get_inode;
  s.Reset();
  s.Bind(1, ino.value);
  SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::Error(ENOENT, "no inode " + std::to_string(ino.value));
  InodeRow r = ReadRow(s);
  s.Reset();
  return r;
}

Result<InodeRow> Store::Lookup(InodeNo parent, std::string_view name) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->lookup;
  s.Reset();
  s.Bind(1, parent.value);
  s.BindBlob(2, name);
  SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::Error(ENOENT, "no such entry");
  InodeRow r = ReadRow(s);
  s.Reset();
  return r;
}

Result<InodeRow> Store::CreateInode(InodeNo parent, std::string_view name,
                                    uint32_t mode, uint32_t uid, uint32_t gid,
                                    int64_t now_ns, InodeState state) {
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  Stmt& s = st_->insert_inode;
  s.Reset();
  s.Bind(1, parent.value);
  s.BindBlob(2, name);
  s.Bind(3, mode);
  s.Bind(4, uid);
  s.Bind(5, gid);
  s.Bind(6, now_ns);
  s.Bind(7, now_ns);
  s.Bind(8, now_ns);
  s.Bind(9, static_cast<int>(state));
  Status st = s.Run();
  s.Reset();
  if (!st.ok()) {
    if (st.code() == EEXIST) return Status::Error(EEXIST, "entry exists");
    return st;
  }
  InodeRow r;
  r.ino = InodeNo(static_cast<uint64_t>(db_.LastInsertRowid()));
  if (state == InodeState::kWriting) {
    Stmt& j = st_->journal_add;
    j.Reset();
    j.Bind(1, r.ino.value);
    j.Bind(2, kJournalCreate);
    j.Bind(3, now_ns);
    SLOTFS_RETURN_IF_ERROR(j.Run());
  }
  SLOTFS_RETURN_IF_ERROR(TouchDirLocked(parent, now_ns));
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  if (inode_count_ >= 0) ++inode_count_;
  r.parent = parent;
  r.name = std::string(name);
  r.mode = mode;
  r.uid = uid;
  r.gid = gid;
  r.atime_ns = r.mtime_ns = r.ctime_ns = now_ns;
  r.state = state;
  return r;
}

Status Store::UpdateAttrs(const InodeRow& row) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->update_attrs;
  s.Reset();
  s.Bind(1, row.mode);
  s.Bind(2, row.uid);
  s.Bind(3, row.gid);
  s.Bind(4, row.atime_ns);
  s.Bind(5, row.mtime_ns);
  s.Bind(6, row.ctime_ns);
  s.Bind(7, row.ino.value);
  SLOTFS_RETURN_IF_ERROR(s.Run());
  if (db_.Changes() == 0) return Status::Error(ENOENT, "inode gone");
  NoteCommitted(false);
  return Status::Ok();
}

namespace {
Result<std::vector<Extent>> ReadExtents(Stmt& s, InodeNo ino) {
  std::vector<Extent> out;
  s.Reset();
  s.Bind(1, ino.value);
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(Extent{static_cast<uint64_t>(s.Int(0)),
                         SlotId(static_cast<uint64_t>(s.Int(1))),
                         static_cast<uint64_t>(s.Int(2)), DecodeCsums(s.Blob(3))});
  }
  s.Reset();
  return out;
}
}  // namespace

Result<std::vector<Extent>> Store::DeleteInode(InodeNo ino) {
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  SLOTFS_ASSIGN_OR_RETURN(std::vector<Extent> ext, ReadExtents(st_->get_extents, ino));
  SLOTFS_RETURN_IF_ERROR(DeleteInodeRowsLocked(ino, WallNowNs()));
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  if (inode_count_ > 0) --inode_count_;
  return ext;
}

Result<std::vector<Extent>> Store::Rename(InodeNo ino, InodeNo new_parent,
                                          std::string_view new_name,
                                          InodeNo replaced, int64_t now_ns) {
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  std::vector<Extent> ext;
  if (replaced.value != 0) {
    SLOTFS_ASSIGN_OR_RETURN(ext, ReadExtents(st_->get_extents, replaced));
    SLOTFS_RETURN_IF_ERROR(DeleteInodeRowsLocked(replaced, now_ns));
  }
  // The source directory loses the entry, the target gains it.
  SLOTFS_RETURN_IF_ERROR(
      Exec(st_->touch_parent_of, now_ns, ino.value));
  SLOTFS_RETURN_IF_ERROR(TouchDirLocked(new_parent, now_ns));
  Stmt& s = st_->rename;
  s.Reset();
  s.Bind(1, new_parent.value);
  s.BindBlob(2, new_name);
  s.Bind(3, now_ns);
  s.Bind(4, ino.value);
  SLOTFS_RETURN_IF_ERROR(s.Run());
  if (db_.Changes() == 0) return Status::Error(ENOENT, "inode gone");
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  if (replaced.value != 0 && inode_count_ > 0) --inode_count_;
  return ext;
}

Result<bool> Store::HasChildren(InodeNo dir) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->has_children;
  s.Reset();
  s.Bind(1, dir.value);
  SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
  s.Reset();
  return row;
}

Result<std::vector<InodeRow>> Store::ListChildren(InodeNo dir, InodeNo after,
                                                  size_t limit) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->list_children;
  s.Reset();
  s.Bind(1, dir.value);
  s.Bind(2, after.value);
  s.Bind(3, static_cast<uint64_t>(limit));
  std::vector<InodeRow> out;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadRow(s));
  }
  s.Reset();
  return out;
}

Status Store::SetPin(InodeNo ino, uint32_t pin) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->set_pin;
  s.Reset();
  s.Bind(1, pin);
  s.Bind(2, ino.value);
  SLOTFS_RETURN_IF_ERROR(s.Run());
  if (db_.Changes() == 0) return Status::Error(ENOENT, "inode gone");
  NoteCommitted(false);
  return Status::Ok();
}

Status Store::InsertExtentsLocked(InodeNo ino, const std::vector<Extent>& extents) {
  Stmt& ie = st_->insert_extent;
  for (const Extent& e : extents) {
    ie.Reset();
    ie.Bind(1, ino.value);
    ie.Bind(2, e.lslot);
    ie.Bind(3, e.slot.value);
    ie.Bind(4, e.count);
    if (!e.csums.empty()) {
      std::string blob = EncodeCsums(e.csums);
      ie.BindBlob(5, blob);
    }
    SLOTFS_RETURN_IF_ERROR(ie.Run());
  }
  return Status::Ok();
}

Status Store::TouchDirLocked(InodeNo dir, int64_t now_ns) {
  return Exec(st_->touch_dir, now_ns, dir.value);
}

Status Store::Exec(Stmt& s, int64_t a, uint64_t b) {
  s.Reset();
  s.Bind(1, a);
  s.Bind(2, b);
  return s.Run();
}

Result<uint64_t> Store::CountSubdirs(InodeNo dir) {
  std::lock_guard lock(mu_);
  Stmt& s = st_->count_subdirs;
  s.Reset();
  s.Bind(1, dir.value);
  SLOTFS_ASSIGN_OR_RETURN(bool row, s.Step());
  uint64_t n = row ? static_cast<uint64_t>(s.Int(0)) : 0;
  s.Reset();
  return n;
}

Result<uint64_t> Store::InodeCount() {
  std::lock_guard lock(mu_);
  if (inode_count_ < 0) {
    SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "SELECT count(*) FROM inodes"));
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    inode_count_ = row ? q.Int(0) : 0;
  }
  return static_cast<uint64_t>(inode_count_);
}

Status Store::DeleteInodeRowsLocked(InodeNo ino, int64_t now_ns) {
  // Its directory loses an entry (before the row, which names it, goes).
  SLOTFS_RETURN_IF_ERROR(Exec(st_->touch_parent_of, now_ns, ino.value));
  Stmt& de = st_->delete_extents;
  de.Reset();
  de.Bind(1, ino.value);
  SLOTFS_RETURN_IF_ERROR(de.Run());
  Stmt& di = st_->delete_inode;
  di.Reset();
  di.Bind(1, ino.value);
  SLOTFS_RETURN_IF_ERROR(di.Run());
  if (db_.Changes() == 0) return Status::Error(ENOENT, "inode gone");
  Stmt& jc = st_->journal_clear;
  jc.Reset();
  jc.Bind(1, ino.value);
  return jc.Run();
}

Status Store::JournalRewrite(InodeNo ino, int64_t now_ns) {
  std::lock_guard lock(mu_);
  Stmt& j = st_->journal_add;
  j.Reset();
  j.Bind(1, ino.value);
  j.Bind(2, kJournalRewrite);
  j.Bind(3, now_ns);
  SLOTFS_RETURN_IF_ERROR(j.Run());
  NoteCommitted(false);
  return Status::Ok();
}

Result<uint64_t> Store::JournalSize() {
  std::lock_guard lock(mu_);
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "SELECT count(*) FROM journal"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? static_cast<uint64_t>(q.Int(0)) : 0;
}

Result<std::vector<Extent>> Store::GetExtents(InodeNo ino) {
  std::lock_guard lock(mu_);
  return ReadExtents(st_->get_extents, ino);
}

Result<std::vector<Extent>> Store::ExtentsLocked(InodeNo ino) {
  return ReadExtents(st_->get_extents, ino);
}

Status Store::CommitFiles(const std::vector<FileCommit>& files,
                          std::vector<InodeNo>* missing) {
  std::lock_guard lock(mu_);
  // synchronous=FULL for this transaction only: its WAL sync also makes
  // every earlier (NORMAL) transaction durable.
  SLOTFS_RETURN_IF_ERROR(SetSynchronous(true));
  struct Restore {
    Store* s;
    ~Restore() { (void)s->SetSynchronous(false); }
  } restore{this};
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  for (const FileCommit& f : files) {
    uint64_t slots = 0;
    for (const Extent& e : f.extents) slots += e.count;
    Stmt& u = st_->commit_file;
    u.Reset();
    u.Bind(1, f.size);
    u.Bind(2, slots);
    u.Bind(3, f.mtime_ns);
    u.Bind(4, f.ctime_ns);
    u.Bind(5, f.ino.value);
    SLOTFS_RETURN_IF_ERROR(u.Run());
    bool gone = db_.Changes() == 0;
    Stmt& jc = st_->journal_clear;
    jc.Reset();
    jc.Bind(1, f.ino.value);
    SLOTFS_RETURN_IF_ERROR(jc.Run());
    if (gone) {
      if (missing) missing->push_back(f.ino);
      continue;
    }
    Stmt& de = st_->delete_extents;
    de.Reset();
    de.Bind(1, f.ino.value);
    SLOTFS_RETURN_IF_ERROR(de.Run());
    SLOTFS_RETURN_IF_ERROR(InsertExtentsLocked(f.ino, f.extents));
  }
  Stmt& b = st_->bump_seq;
  b.Reset();
  SLOTFS_RETURN_IF_ERROR(b.Run());
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(true);
  return Status::Ok();
}

Status Store::ImportFiles(const std::vector<NewFile>& files, int64_t now_ns) {
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  for (const NewFile& f : files) {
    Stmt& s = st_->insert_inode;
    s.Reset();
    s.Bind(1, f.parent.value);
    s.BindBlob(2, f.name);
    s.Bind(3, f.mode);
    s.Bind(4, 0);
    s.Bind(5, 0);
    s.Bind(6, now_ns);
    s.Bind(7, now_ns);
    s.Bind(8, now_ns);
    s.Bind(9, static_cast<int>(InodeState::kComplete));
    SLOTFS_RETURN_IF_ERROR(s.Run());
    uint64_t ino = static_cast<uint64_t>(db_.LastInsertRowid());
    SLOTFS_RETURN_IF_ERROR(InsertExtentsLocked(InodeNo(ino), f.extents));
    uint64_t slots = 0;
    for (const Extent& e : f.extents) slots += e.count;
    Stmt& u = st_->commit_file;
    u.Reset();
    u.Bind(1, f.size);
    u.Bind(2, slots);
    u.Bind(3, now_ns);
    u.Bind(4, now_ns);
    u.Bind(5, ino);
    SLOTFS_RETURN_IF_ERROR(u.Run());
  }
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  if (inode_count_ >= 0) inode_count_ += static_cast<int64_t>(files.size());
  return Status::Ok();
}

Status Store::Sync() {
  return CommitFiles({}, nullptr);
}

Result<Store::Counts> Store::Count() {
  std::lock_guard lock(mu_);
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db_,
                            "SELECT sum((mode & 61440) = 32768), "
                            "sum((mode & 61440) = 16384), "
                            "coalesce(sum(size), 0), coalesce(sum(slots), 0) "
                            "FROM inodes"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  Counts c;
  if (row) {
    c.files = static_cast<uint64_t>(q.Int(0));
    c.dirs = static_cast<uint64_t>(q.Int(1));
    c.bytes = static_cast<uint64_t>(q.Int(2));
    c.slots = static_cast<uint64_t>(q.Int(3));
  }
  return c;
}

Result<uint64_t> Store::CountPinned() {
  std::lock_guard lock(mu_);
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "SELECT count(*) FROM inodes WHERE pin != 0"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? static_cast<uint64_t>(q.Int(0)) : 0;
}

Status Store::Checkpoint() {
  std::lock_guard lock(mu_);
  return db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Result<DbBinding> ReadBinding(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "database " + path);
  }
  SLOTFS_ASSIGN_OR_RETURN(Db db, Db::Open(path, SQLITE_OPEN_READONLY));
  Result<DbBinding> b = ReadBindingFrom(db);
  if (!b.ok()) return Status::Error(b.status().code(), path + ": " + b.status().message());
  return b;
}

}  // namespace slotfs::meta
