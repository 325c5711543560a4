// meta::Store, cache policy: last-access times and the least-recently-used
// order the evictor walks. The LRU index (inodes_lru, in the schema) holds
// exactly the evictable rows: committed, unpinned regular files.
#include "meta/store.h"

#include <algorithm>

#include "common/clock.h"

namespace slotfs::meta {

Status Store::TouchFiles(const std::vector<Touch>& touches) {
  if (touches.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db_, "UPDATE inodes SET atime_ns=?2 WHERE ino=?1 AND atime_ns<?2"));
  for (const Touch& t : touches) {
    s.Reset();
    s.Bind(1, t.ino.value);
    s.Bind(2, t.atime_ns);
    SLOTFS_RETURN_IF_ERROR(s.Run());
  }
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  return Status::Ok();
}

Result<std::vector<Store::LruEntry>> Store::LruCandidates(int64_t after_atime_ns,
                                                          InodeNo after_ino, size_t limit) {
  std::lock_guard lock(mu_);
  // The WHERE terms repeat the partial index's, so SQLite walks it in order.
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db_,
                            "SELECT ino, parent, name, size, slots, atime_ns FROM inodes "
                            "INDEXED BY inodes_lru "
                            "WHERE pin = 0 AND state = 0 AND (mode & 61440) = 32768 "
                            "AND (atime_ns, ino) > (?1, ?2) "
                            "ORDER BY atime_ns, ino LIMIT ?3"));
  q.Bind(1, after_atime_ns);
  q.Bind(2, after_ino.value);
  q.Bind(3, static_cast<int64_t>(limit));
  std::vector<LruEntry> out;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    LruEntry e;
    e.ino = InodeNo(static_cast<uint64_t>(q.Int(0)));
    e.parent = InodeNo(static_cast<uint64_t>(q.Int(1)));
    e.name = q.Blob(2);
    e.size = static_cast<uint64_t>(q.Int(3));
    e.slots = static_cast<uint64_t>(q.Int(4));
    e.atime_ns = q.Int(5);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<Store::Deleted>> Store::DeleteInodes(const std::vector<InodeNo>& inos) {
  std::lock_guard lock(mu_);
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  std::vector<Deleted> out;
  out.reserve(inos.size());
  const int64_t now = WallNowNs();
  int64_t deleted = 0;
  for (InodeNo ino : inos) {
    Deleted d;
    d.ino = ino;
    SLOTFS_ASSIGN_OR_RETURN(d.extents, ExtentsLocked(ino));
    Status st = DeleteInodeRowsLocked(ino, now);
    if (st.ok()) {
      d.existed = true;
      ++deleted;
    } else if (st.code() == ENOENT) {
      d.extents.clear();
    } else {
      return st;
    }
    out.push_back(std::move(d));
  }
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  NoteCommitted(false);
  if (inode_count_ >= 0) inode_count_ = std::max<int64_t>(0, inode_count_ - deleted);
  return out;
}

}  // namespace slotfs::meta
