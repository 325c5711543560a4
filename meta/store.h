// meta::Store: the SQLite index of a slotfs filesystem. All SQL lives here.
//
// The database records the filesystem's identity (UUID and geometry, which
// must match the device's superblock), the namespace (one row per inode:
// directories and regular files, keyed by (parent, name)), and each file's
// extents (runs of slots). File bytes never live here.
//
// Durability: namespace changes commit at once with synchronous=NORMAL (in
// WAL mode: atomic and consistent, durable at the next sync). CommitFiles()
// and Sync() commit with synchronous=FULL, which makes every earlier
// transaction durable too. Each write transaction gets a sequence number;
// durable_seq() tells how far durability reaches — the slot quarantine
// (meta::Allocator) keys on it.
//
// Thread safety: every method is safe to call concurrently (one internal
// mutex; the connection is never shared outside).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "blockdev/format.h"
#include "common/status.h"
#include "common/types.h"
#include "meta/sqlite.h"

namespace slotfs::meta {

// Bump when the schema changes; Open refuses any other version.
inline constexpr int kSchemaVersion = 3;
// PRAGMA application_id: "SLOT".
inline constexpr int32_t kApplicationId = 0x534c4f54;

enum class InodeState : int {
  kComplete = 0,  // content committed
  kWriting = 1,   // created; content not yet committed (discarded by recovery)
};

struct InodeRow {
  InodeNo ino;
  InodeNo parent;
  std::string name;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t slots = 0;  // slots allocated (committed content)
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  InodeState state = InodeState::kComplete;
  uint32_t pin = 0;
};

// A run of `count` slots starting at `slot`, holding logical slots
// [lslot, lslot + count) of a file.
struct Extent {
  uint64_t lslot = 0;
  SlotId slot;
  uint64_t count = 0;
  // XXH3-64 of each slot's file bytes (the slot's first min(slot_size,
  // size - lslot*slot_size) bytes), `count` of them; empty if unknown.
  std::vector<uint64_t> csums;
  bool operator==(const Extent&) const = default;
};

// What CommitFiles writes for one file.
struct FileCommit {
  InodeNo ino;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  std::vector<Extent> extents;
};

// What recovery found in the journal of in-flight writes.
struct RecoverySummary {
  uint64_t files_kept = 0;
  uint64_t writes_discarded = 0;    // creates_discarded + rewrites_discarded
  uint64_t creates_discarded = 0;   // new files whose content never committed: removed
  uint64_t rewrites_discarded = 0;  // changes to committed files: old version kept
  uint64_t extents_dropped = 0;
};

struct StoreOptions {
  // SQLite page cache bound, KiB.
  int64_t cache_kib = 16 * 1024;
  bool read_only = false;
  // SQLite VFS to use (tests register a power-loss model); "" = default.
  std::string vfs;
};

class Store {
 public:
  ~Store();

  // Creates a new database at `path` bound to `sb`, with the root directory
  // (mode 0755, owner uid/gid). EEXIST if the file exists (unless overwrite,
  // which removes it and its -wal/-shm first).
  static Result<std::unique_ptr<Store>> Create(const std::string& path,
                                               const blockdev::Superblock& sb,
                                               uid_t uid, gid_t gid,
                                               bool overwrite,
                                               const std::string& vfs = "");

  // Opens an existing database and checks that it belongs to `sb`: EUCLEAN
  // with a message naming both UUIDs/geometries on mismatch; ENOENT if the
  // file is missing; EUCLEAN if it is not a slotfs database.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const blockdev::Superblock& sb,
                                             const StoreOptions& options);

  const std::string& path() const { return path_; }

  // --- recovery and rebuild (single-threaded, at mount) ---
  // Empties the journal of in-flight writes: removes files created but never
  // committed (state kWriting, with their extents); a committed file whose
  // rewrite was in flight keeps its committed version.
  Result<RecoverySummary> Recover();
  // Calls fn(first, count) for every extent's slot run, reading nothing
  // else (the mount-time rebuild of the free map); stops at fn's first error.
  Status ForEachSlotRun(const std::function<Status(SlotId, uint64_t)>& fn);
  // Calls fn(ino, extent) for every extent; stops at the first error fn
  // returns.
  Status ForEachExtent(const std::function<Status(InodeNo, const Extent&)>& fn);

  // --- namespace ---
  Result<InodeRow> GetInode(InodeNo ino);                   // ENOENT
  Result<InodeRow> Lookup(InodeNo parent, std::string_view name);  // ENOENT
  // Inserts a new inode; EEXIST if (parent, name) is taken. A file in state
  // kWriting is journaled as an in-flight create in the same transaction.
  Result<InodeRow> CreateInode(InodeNo parent, std::string_view name,
                               uint32_t mode, uint32_t uid, uint32_t gid,
                               int64_t now_ns, InodeState state);
  Status UpdateAttrs(const InodeRow& row);  // mode, uid, gid, times; ENOENT
  // Creating, deleting (DeleteInode, DeleteInodes) and renaming an entry
  // set the mtime and ctime of the directories whose entries changed, in
  // the same transaction.
  // Deletes the inode and its extents; returns the extents it had.
  Result<std::vector<Extent>> DeleteInode(InodeNo ino);
  // Moves (parent,name) to (new_parent,new_name), deleting the inode that
  // held the target name in the same transaction. REQUIRES: the caller has
  // checked types/emptiness. Returns the replaced inode's extents.
  Result<std::vector<Extent>> Rename(InodeNo ino, InodeNo new_parent,
                                     std::string_view new_name,
                                     InodeNo replaced /* 0: none */,
                                     int64_t now_ns);
  Result<bool> HasChildren(InodeNo dir);
  // Number of directories whose parent is `dir` (its st_nlink is 2 plus
  // this). Uses a partial index: cost grows with subdirectories, not files.
  Result<uint64_t> CountSubdirs(InodeNo dir);
  // Up to `limit` children of `dir` with ino > after, in ino order.
  Result<std::vector<InodeRow>> ListChildren(InodeNo dir, InodeNo after,
                                             size_t limit);
  Status SetPin(InodeNo ino, uint32_t pin);
  // Journals an in-flight change of a committed file (idempotent). The next
  // CommitFiles naming the file clears it.
  Status JournalRewrite(InodeNo ino, int64_t now_ns);
  // Number of journal entries (in-flight writes).
  Result<uint64_t> JournalSize();

  // --- content ---
  Result<std::vector<Extent>> GetExtents(InodeNo ino);
  // One durable transaction (synchronous=FULL) that sets size, times,
  // state=complete, replaces the extents and clears the journal entry of
  // every file in `files`.
  // Files whose inode no longer exists are skipped (reported in `missing`).
  // REQUIRES: the data the extents point at is written and flushed.
  Status CommitFiles(const std::vector<FileCommit>& files,
                     std::vector<InodeNo>* missing);
  // Makes every committed transaction durable.
  Status Sync();

  // Creates complete files directly, in one transaction, each named
  // `name` under `parent` with the given size and extents. For benchmarks
  // and tests that need many files without writing their bytes; the caller
  // vouches for the extents (no overlap, within the device).
  struct NewFile {
    InodeNo parent;
    std::string name;
    uint32_t mode = 0100644;
    uint64_t size = 0;
    std::vector<Extent> extents;
  };
  Status ImportFiles(const std::vector<NewFile>& files, int64_t now_ns);

  // --- cache policy (store_cache.cc) ---
  // Records last-access times in one transaction (never moves one back).
  // Not a durability point: losing the latest touches in a crash only makes
  // eviction a little less exact.
  struct Touch {
    InodeNo ino;
    int64_t atime_ns = 0;
  };
  Status TouchFiles(const std::vector<Touch>& touches);
  struct LruEntry {
    InodeNo ino;
    InodeNo parent;
    std::string name;
    uint64_t size = 0, slots = 0;
    int64_t atime_ns = 0;
  };
  // Up to `limit` committed, unpinned regular files ordered by (atime, ino),
  // strictly after (after_atime_ns, after_ino): least recently used first.
  Result<std::vector<LruEntry>> LruCandidates(int64_t after_atime_ns, InodeNo after_ino,
                                              size_t limit);
  // Deletes `inos` (rows, extents, journal entries) in one transaction;
  // returns each one's extents, in order. A row already gone gets an empty
  // list and nullopt in `deleted`.
  struct Deleted {
    InodeNo ino;
    bool existed = false;
    std::vector<Extent> extents;
  };
  Result<std::vector<Deleted>> DeleteInodes(const std::vector<InodeNo>& inos);

  // --- accounting ---
  struct Counts {
    uint64_t files = 0, dirs = 0, bytes = 0, slots = 0;
  };
  Result<Counts> Count();
  // Number of pinned files.
  Result<uint64_t> CountPinned();
  // Number of inodes (files and directories, root included). Counted once,
  // then kept up to date by this Store's own creates and deletes: cheap
  // enough for every statvfs.
  Result<uint64_t> InodeCount();

  // Sequence number of the last committed write transaction, and of the
  // last one known durable. durable_seq() <= last_seq().
  uint64_t last_seq() const { return last_seq_.load(); }
  uint64_t durable_seq() const { return durable_seq_.load(); }

  // Merges a WAL checkpoint into the main file (clean unmount).
  Status Checkpoint();

 private:
  Store() = default;
  Status Prepare();
  Status CheckBinding(const blockdev::Superblock& sb);
  Status SetSynchronous(bool full);
  void NoteCommitted(bool durable);
  // Inserts `extents` for `ino`. REQUIRES: mu_ held, inside a transaction.
  Status InsertExtentsLocked(InodeNo ino, const std::vector<Extent>& extents);
  // An inode's extents. REQUIRES: mu_ held.
  Result<std::vector<Extent>> ExtentsLocked(InodeNo ino);
  // Deletes an inode's extents, row and journal entry, and sets its
  // parent directory's mtime/ctime to now_ns; ENOENT if no row.
  // REQUIRES: mu_ held, inside a transaction.
  Status DeleteInodeRowsLocked(InodeNo ino, int64_t now_ns);
  // Sets directory `dir`'s mtime and ctime (an entry was added or removed).
  // REQUIRES: mu_ held, inside a transaction.
  Status TouchDirLocked(InodeNo dir, int64_t now_ns);
  // Resets `s` and runs it with ?1 = a, ?2 = b. REQUIRES: mu_ held.
  static Status Exec(Stmt& s, int64_t a, uint64_t b);

  std::string path_;
  std::mutex mu_;  // guards db_ and every statement
  Db db_;
  struct Statements;
  std::unique_ptr<Statements> st_;
  // InodeCount()'s value; -1 until first counted. Guarded by mu_.
  int64_t inode_count_ = -1;
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> durable_seq_{0};
};

// Reads the identity recorded in a database without checking it (info/check).
struct DbBinding {
  blockdev::Uuid uuid{};
  uint64_t slot_size = 0, slot_count = 0, data_offset = 0;
  int schema_version = 0;
};
Result<DbBinding> ReadBinding(const std::string& path);

}  // namespace slotfs::meta
