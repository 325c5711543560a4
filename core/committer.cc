// core::Filesystem group commit: one flush and one durable transaction for
// every file closed (or fsync'd) since the last round.
//
// Order within a round (DESIGN §4, invariant 1 and 2):
//   1. snapshot each file under its lock: zero-fill unwritten tails, mark
//      its slots committed (later writes copy them), record extents;
//   2. flush the device, so the bytes the rows will point at are durable;
//   3. commit all rows in one synchronous=FULL transaction;
//   4. quarantined slots freed at or before that transaction go back to
//      the free map.
#include <algorithm>

#include "common/log.h"
#include "core/filesystem.h"

namespace slotfs::core {
namespace {

auto Log() {
  static auto logger = ModuleLogger("core");
  return logger;
}

}  // namespace

Result<meta::FileCommit> Filesystem::SnapshotLocked(ActiveInode& inode) {
  meta::FileCommit fc;
  fc.ino = inode.ino;
  fc.size = inode.row.size;
  fc.mtime_ns = inode.row.mtime_ns;
  fc.ctime_ns = inode.row.ctime_ns;
  for (uint64_t l = 0; l < inode.map.size(); ++l) {
    SlotRef& r = inode.map[l];
    if (r.mapped() && r.dirty) {
      // Reserved past EOF (fallocate KEEP_SIZE): not committed; it stays
      // dirty and goes back when the file leaves the active table.
      if (l * slot_size_ >= fc.size) continue;
      const uint64_t need = inode.map.Payload(fc.size, l);
      SLOTFS_RETURN_IF_ERROR(ZeroTailLocked(inode, l, need));
      SLOTFS_RETURN_IF_ERROR(SealSlotLocked(inode, l, need));
    }
  }
  // Every change of size resealed the committed slots it touched; a slot
  // whose checksum would not match what a reader verifies must never
  // commit (it would make slotfs drop a valid file).
  if (!inode.map.CoverageHolds(fc.size)) {
    Log()->error("inode {}: a committed slot's checksum does not cover its payload at size {}; "
                 "not committing",
                 inode.ino.value, fc.size);
    return Status::Error(EIO, "internal error: slot checksum coverage");
  }
  fc.extents = inode.map.ToExtents();
  return fc;
}

Status Filesystem::FreezeLocked(ActiveInode& inode) {
  uint64_t gen = inode.gen.load();
  if (inode.retired || gen == inode.committed_gen.load()) return Status::Ok();
  if (inode.frozen && inode.frozen->gen == gen) return Status::Ok();
  SLOTFS_ASSIGN_OR_RETURN(meta::FileCommit fc, SnapshotLocked(inode));
  inode.frozen = ActiveInode::Frozen{std::move(fc), gen, inode.freed_end()};
  return Status::Ok();
}

Status Filesystem::Freeze(ActiveInode& inode) {
  // Most closes (readers) changed nothing: no need for the exclusive lock.
  if (inode.gen.load() == inode.committed_gen.load()) {
    return Status::Ok();
  }
  std::unique_lock lock(inode.mu);
  WaitForWrites(inode, lock);
  return FreezeLocked(inode);
}

Status Filesystem::CommitBatch(
    const std::vector<std::shared_ptr<ActiveInode>>& batch, bool freeze_unfrozen) {
  std::lock_guard run(commit_run_mu_);
  struct Snap {
    std::shared_ptr<ActiveInode> inode;
    uint64_t gen;
    uint64_t freed_end;
  };
  std::vector<Snap> snaps;
  std::vector<meta::FileCommit> commits;
  std::vector<ActiveInode::Frozen> frozen_taken;
  Status first_error;
  for (const auto& inode : batch) {
    std::unique_lock lock(inode->mu);
    WaitForWrites(*inode, lock);
    if (inode->retired) continue;
    // A round commits what close() or fsync() froze; a file still being
    // written has nothing to commit. Only unmount freezes what is left.
    if (!inode->frozen) {
      if (!freeze_unfrozen) continue;
      Status st = FreezeLocked(*inode);
      if (!st.ok()) {
        if (first_error.ok()) first_error = st;
        continue;
      }
      if (!inode->frozen) continue;
    }
    if (inode->gen.load() == inode->frozen->gen) {
      // Attribute changes since the freeze (utimes) belong to this version.
      inode->frozen->commit.mtime_ns = inode->row.mtime_ns;
      inode->frozen->commit.ctime_ns = inode->row.ctime_ns;
    }
    snaps.push_back({inode, inode->frozen->gen, inode->frozen->freed_end});
    commits.push_back(std::move(inode->frozen->commit));
    frozen_taken.push_back(*inode->frozen);
    inode->frozen.reset();
  }
  // On failure the frozen versions go back, unless a newer one was frozen
  // meanwhile, so a retry commits them and not a rewrite in progress.
  auto restore = [&] {
    for (size_t i = 0; i < snaps.size(); ++i) {
      std::unique_lock lock(snaps[i].inode->mu);
      if (snaps[i].inode->frozen || snaps[i].inode->retired) continue;
      frozen_taken[i].commit = commits[i];
      snaps[i].inode->frozen = std::move(frozen_taken[i]);
    }
  };
  bool need_sync = !commits.empty() || store_->durable_seq() < store_->last_seq();
  if (need_sync) {
    if (!commits.empty()) {
      Status st = device_->Flush();
      if (!st.ok()) {
        Log()->error("device flush failed; {} files stay uncommitted: {}",
                     commits.size(), st.ToString());
        restore();
        return Status::Error(EIO, "device flush failed: " + st.message());
      }
    }
    std::vector<InodeNo> missing;
    Status st = store_->CommitFiles(commits, &missing);
    if (!st.ok()) {
      counters_.commit_failures.fetch_add(1, std::memory_order_relaxed);
      Log()->error("commit of {} files failed: {}", commits.size(), st.ToString());
      restore();
      return st;
    }
    counters_.commits.fetch_add(1, std::memory_order_relaxed);
    counters_.files_committed.fetch_add(commits.size(), std::memory_order_relaxed);
  }
  uint64_t durable = store_->durable_seq();
  for (Snap& s : snaps) {
    std::unique_lock lock(s.inode->mu);
    if (s.inode->retired) continue;  // retirement gave back every slot
    // Exactly the slots replaced before this version was frozen: a newer
    // version frozen meanwhile still points at the ones replaced after.
    ActiveInode& in = *s.inode;
    const uint64_t upto = std::min(s.freed_end, in.freed_end());
    const size_t n = upto > in.freed_released ? static_cast<size_t>(upto - in.freed_released) : 0;
    allocator_.Free({in.freed.data(), n}, durable);
    in.freed.erase(in.freed.begin(), in.freed.begin() + static_cast<long>(n));
    in.freed_released += n;
    uint64_t prev = s.inode->committed_gen.load();
    if (s.gen > prev) s.inode->committed_gen.store(s.gen);
    // The commit cleared the journal entry; a change made since the
    // snapshot is in flight again.
    s.inode->journaled = false;
    if (s.inode->gen.load() != s.gen) JournalLocked(*s.inode);
  }
  allocator_.ReleaseDurable(durable);
  return first_error;
}

void Filesystem::CommitterLoop() {
  std::unique_lock lock(table_mu_);
  while (true) {
    commit_cv_.wait_for(lock, config_.commit_interval, [&] {
      return stop_ || urgent_ || !queue_.empty();
    });
    if (stop_) break;
    if (!urgent_ && !queue_.empty()) {
      // Group: let closes that arrive within the interval join this round.
      commit_cv_.wait_for(lock, config_.commit_interval, [&] { return stop_ || urgent_; });
      if (stop_) break;
    }
    bool periodic = queue_.empty() && !urgent_;
    if (periodic && store_->durable_seq() >= store_->last_seq() &&
        !allocator_.HasQuarantine()) {
      continue;
    }
    std::vector<std::shared_ptr<ActiveInode>> batch;
    batch.swap(queue_);
    for (auto& inode : batch) inode->queued = false;
    urgent_ = false;
    uint64_t round = ++rounds_begun_;
    lock.unlock();
    Status st = CommitBatch(batch, false);
    lock.lock();
    rounds_done_ = round;
    if (!st.ok()) {
      last_failed_round_ = round;
      for (auto& inode : batch) {
        if (inode->gen.load() != inode->committed_gen.load()) EnqueueLocked(inode, false);
      }
    }
    for (auto& inode : batch) MaybeForgetLocked(inode);
    done_cv_.notify_all();
  }
}

Status Filesystem::Fsync(OpenFile& of) {
  SLOTFS_RETURN_IF_ERROR(Freeze(*of.inode));
  std::unique_lock lock(table_mu_);
  if (of.inode->gen.load() == of.inode->committed_gen.load() &&
      store_->durable_seq() >= store_->last_seq()) {
    return Status::Ok();
  }
  if (!committer_.joinable()) {
    lock.unlock();
    return CommitNow();
  }
  EnqueueLocked(of.inode, true);
  uint64_t target = rounds_begun_ + 1;
  done_cv_.wait(lock, [&] { return rounds_done_ >= target || stop_; });
  if (last_failed_round_ >= target || rounds_done_ < target) {
    return Status::Error(EIO, "commit failed; see the slotfs log");
  }
  return Status::Ok();
}

Status Filesystem::CommitNow() {
  std::vector<std::shared_ptr<ActiveInode>> batch;
  {
    std::lock_guard lock(table_mu_);
    batch.swap(queue_);
    for (auto& inode : batch) inode->queued = false;
    for (auto& [ino, inode] : active_) {
      if (inode->gen.load() != inode->committed_gen.load() &&
          std::find(batch.begin(), batch.end(), inode) == batch.end()) {
        batch.push_back(inode);
      }
    }
  }
  Status st = CommitBatch(batch, false);
  std::lock_guard lock(table_mu_);
  for (auto& inode : batch) {
    if (!st.ok() && inode->gen.load() != inode->committed_gen.load()) {
      EnqueueLocked(inode, false);
    }
    MaybeForgetLocked(inode);
  }
  return st;
}

}  // namespace slotfs::core
