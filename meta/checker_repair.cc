// meta::Checker: repairs. Each runs in one transaction on the checker's
// connection (synchronous=FULL), except RunRecovery, which is the mount's
// own recovery through meta::Store.
#include "meta/checker.h"

namespace slotfs::meta {

Result<uint64_t> Checker::RepairExec(const std::string& sql) {
  if (!writable_) return Status::Error(EROFS, "database " + path_ + " opened read-only");
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  SLOTFS_RETURN_IF_ERROR(db_.Exec(sql));
  const uint64_t changed = static_cast<uint64_t>(db_.Changes());
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  return changed;
}

Result<RecoverySummary> Checker::RunRecovery(const blockdev::Superblock& sb) {
  if (!writable_) return Status::Error(EROFS, "database " + path_ + " opened read-only");
  StoreOptions options;
  options.cache_kib = 4096;
  SLOTFS_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path_, sb, options));
  return store->Recover();
}

Result<uint64_t> Checker::DropInodes(const std::vector<InodeNo>& inos) {
  if (!writable_) return Status::Error(EROFS, "database " + path_ + " opened read-only");
  if (inos.empty()) return uint64_t{0};
  std::string json = "[";
  for (size_t i = 0; i < inos.size(); ++i) {
    json += (i ? "," : "") + std::to_string(inos[i].value);
  }
  json += "]";
  Txn txn(db_);
  SLOTFS_RETURN_IF_ERROR(txn.status());
  SLOTFS_RETURN_IF_ERROR(db_.Exec(
      "CREATE TEMP TABLE IF NOT EXISTS check_drop(ino INTEGER PRIMARY KEY); "
      "DELETE FROM check_drop"));
  // The inodes and everything beneath them (UNION stops at cycles); never
  // the root.
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt collect,
      Stmt::Prepare(db_, "INSERT INTO check_drop WITH RECURSIVE sub(ino) AS ("
                         "SELECT value FROM json_each(?1) UNION "
                         "SELECT i.ino FROM inodes i JOIN sub s ON i.parent = s.ino) "
                         "SELECT ino FROM sub WHERE ino <> 1"));
  collect.BindText(1, json);
  SLOTFS_RETURN_IF_ERROR(collect.Run());
  SLOTFS_RETURN_IF_ERROR(db_.Exec(
      "DELETE FROM extents WHERE ino IN (SELECT ino FROM check_drop); "
      "DELETE FROM journal WHERE ino IN (SELECT ino FROM check_drop); "
      "DELETE FROM inodes WHERE ino IN (SELECT ino FROM check_drop)"));
  const uint64_t dropped = static_cast<uint64_t>(db_.Changes());
  SLOTFS_RETURN_IF_ERROR(db_.Exec("DELETE FROM check_drop"));
  SLOTFS_RETURN_IF_ERROR(txn.Commit());
  return dropped;
}

Result<uint64_t> Checker::DropOrphanExtents() {
  return RepairExec(
      "DELETE FROM extents WHERE ino NOT IN (SELECT ino FROM inodes) OR "
      "ino IN (SELECT ino FROM inodes WHERE (mode & 61440) = 16384)");
}

Result<uint64_t> Checker::ClearBadCsums() {
  return RepairExec(
      "UPDATE extents SET csums = NULL WHERE csums IS NOT NULL AND "
      "length(csums) <> 0 AND length(csums) <> 8 * count");
}

Result<uint64_t> Checker::FixSlotCounts() {
  return RepairExec(
      "UPDATE inodes SET slots = (SELECT coalesce(sum(count), 0) FROM extents e "
      "WHERE e.ino = inodes.ino) WHERE slots <> (SELECT coalesce(sum(count), 0) "
      "FROM extents e WHERE e.ino = inodes.ino)");
}

Status Checker::Checkpoint() {
  return db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace slotfs::meta
