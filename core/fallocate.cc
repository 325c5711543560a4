// core::Filesystem::Fallocate: slot reservation and hole punching.
//
// Built only from the data path's helpers (PrepareSlotLocked,
// TruncateLocked, WriteLocked), so the copy-on-write rules hold: a
// committed slot is never written in place, freed committed slots are
// quarantined until the commit that stops pointing at them is durable.
//
// What a reservation is:
//  - mode 0 maps a fresh slot to every hole in [offset, offset + length)
//    and extends the size to offset + length. A fresh slot is dirty with
//    nothing valid, so it reads as zeros; the commit zero-fills it on the
//    device and checksums it like any written slot.
//  - FALLOC_FL_KEEP_SIZE does the same without changing the size. Slots
//    wholly past the end of the file stay reserved while the file is
//    open or has uncommitted changes, and are given back once it is
//    closed and committed: committed extents never lie past a file's size
//    (slotfs check treats that as damage).
//  - FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE unmaps every slot lying
//    wholly inside the range (a committed one is quarantined, a dirty one
//    freed) and writes zeros over the part of a partly covered slot that
//    lies below the size.
//  - Any other mode: EOPNOTSUPP.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "common/clock.h"
#include "core/filesystem.h"

namespace slotfs::core {

Status Filesystem::Fallocate(OpenFile& of, int mode, uint64_t offset, uint64_t length) {
  constexpr int kPunch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE && mode != kPunch) {
    return Status::Error(EOPNOTSUPP, "fallocate mode " + std::to_string(mode) +
                                         " is not supported (0, KEEP_SIZE and "
                                         "PUNCH_HOLE|KEEP_SIZE are)");
  }
  if (length == 0) return Status::Error(EINVAL, "fallocate of zero bytes");
  ActiveInode& inode = *of.inode;
  if (mode != kPunch &&
      (offset >= max_file_size_ || length > max_file_size_ - offset)) {
    return Status::Error(EFBIG, "fallocate past the maximum file size");
  }
  for (int attempt = 0;; ++attempt) {
    uint64_t wanted = 0;
    Status st;
    {
      std::unique_lock lock(inode.mu);
      WaitForWrites(inode, lock);
      if (inode.retired) return Status::Error(EIO, "file was removed");
      if (S_ISDIR(inode.row.mode)) return Status::Error(EISDIR, "fallocate of a directory");
      if (mode == kPunch) {
        st = PunchHoleLocked(inode, lock, offset, offset + std::min(length, UINT64_MAX - offset));
        wanted = 2;  // copies of the two partly covered slots
      } else {
        st = ReserveLocked(inode, offset, offset + length, mode == 0, &wanted);
      }
    }
    if (st.ok() || st.code() != ENOSPC) return st;
    Result<bool> room = attempt < 16 ? MakeRoom(std::max<uint64_t>(wanted, 1)) : Result<bool>(false);
    if (!room.ok()) return room.status();
    if (!room.value()) {
      counters_.enospc.fetch_add(1, std::memory_order_relaxed);
      return Status::Error(ENOSPC, config_.evict_policy == EvictPolicy::kLru
                                       ? "no free slot to reserve and nothing evictable"
                                       : "no free slot to reserve (eviction is off)");
    }
  }
}

Status Filesystem::ReserveLocked(ActiveInode& inode, uint64_t offset, uint64_t end,
                                 bool extend, uint64_t* wanted) {
  const uint64_t first = offset / slot_size_;
  const uint64_t last = (end - 1) / slot_size_;
  const size_t old_map = inode.map.size();
  if (inode.map.size() <= last) inode.map.resize(last + 1);
  std::vector<uint64_t> taken;
  Status st;
  *wanted = 1;  // the copy of a committed partial last slot, if any
  for (uint64_t l = first; l <= last; ++l) *wanted += inode.map[l].mapped() ? 0 : 1;
  for (uint64_t l = first; l <= last && st.ok(); ++l) {
    if (inode.map[l].mapped()) continue;  // reserved already (dirty or committed)
    st = PrepareSlotLocked(inode, l, 0, 0);  // a hole: takes a fresh, empty slot
    if (st.ok()) taken.push_back(l);
  }
  const bool grows = extend && end > inode.row.size;
  if (st.ok() && (grows || !taken.empty())) JournalLocked(inode);
  if (st.ok() && grows) st = TruncateLocked(inode, end);  // copies a committed partial slot
  if (!st.ok()) {
    // All or nothing: the slots taken here go back.
    for (uint64_t l : taken) {
      SlotId s(inode.map[l].phys);
      allocator_.FreeNow({&s, 1});
      inode.map[l] = SlotRef{};
    }
    if (inode.map.size() > old_map) inode.map.resize(old_map);
    return st;
  }
  if (!taken.empty() && !grows) {
    inode.row.ctime_ns = WallNowNs();
    inode.gen.fetch_add(1);
  }
  return Status::Ok();
}

Status Filesystem::PunchHoleLocked(ActiveInode& inode,
                                   std::unique_lock<std::shared_mutex>& lock,
                                   uint64_t offset, uint64_t end) {
  // Slots wholly inside [offset, end) are unmapped.
  const uint64_t w0 = (offset + slot_size_ - 1) / slot_size_;
  const uint64_t w1 = end / slot_size_;  // exclusive
  std::vector<SlotId> now;
  bool changed = false;
  for (uint64_t l = w0; l < w1 && l < inode.map.size(); ++l) {
    SlotRef& r = inode.map[l];
    if (!r.mapped()) continue;
    if (!changed) JournalLocked(inode);
    if (r.dirty) {
      now.push_back(SlotId(r.phys));
    } else {
      inode.freed.push_back(SlotId(r.phys));  // quarantined at the next commit
    }
    r = SlotRef{};
    changed = true;
  }
  allocator_.FreeNow(now);
  if (changed) {
    inode.row.mtime_ns = inode.row.ctime_ns = WallNowNs();
    inode.gen.fetch_add(1);
  }
  // Partly covered slots: zeros over the covered bytes below the size,
  // written like any write (copy-on-write of a committed slot).
  struct Piece {
    uint64_t b, e;
  };
  std::vector<Piece> pieces;
  const uint64_t head_end = std::min(end, w0 * slot_size_);
  if (offset < head_end) pieces.push_back({offset, head_end});
  const uint64_t tail_begin = std::max(offset, w1 * slot_size_);
  if (w1 >= w0 && tail_begin < end) pieces.push_back({tail_begin, end});
  for (Piece p : pieces) {
    p.e = std::min(p.e, inode.row.size);  // nothing to zero at or past EOF
    if (p.b >= p.e) continue;
    const uint64_t l = p.b / slot_size_;
    if (l >= inode.map.size() || !inode.map[l].mapped()) continue;  // a hole reads zero
    const SlotRef& r = inode.map[l];
    if (r.dirty && p.b - l * slot_size_ >= r.valid) continue;  // past valid: zeros already
    std::vector<uint8_t> zeros(p.e - p.b, 0);
    SLOTFS_RETURN_IF_ERROR(WriteLocked(inode, lock, p.b, zeros));
  }
  return Status::Ok();
}

}  // namespace slotfs::core
