// core::Filesystem data path: reads, writes, truncation, copy-on-write.
//
// Every device I/O is kIoAlign-aligned; unaligned requests are staged in an
// aligned buffer with read-modify-write of the edge blocks. Bytes of a
// dirty slot at or past its `valid` mark are never returned: reads zero
// them, writes that start past it zero the gap.
#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "core/filesystem.h"

namespace slotfs::core {
namespace {

auto Log() {
  static auto logger = ModuleLogger("core");
  return logger;
}

LogRateLimiter& IoErrorLimiter() {
  static LogRateLimiter limiter(10);
  return limiter;
}

Status IoError(const Status& st, InodeNo ino, const char* what) {
  if (IoErrorLimiter().Allow()) {
    Log()->error("inode {}: {} failed: {}", ino.value, what, st.ToString());
  }
  return Status::Error(EIO, std::string(what) + ": " + st.message());
}

// Bytes copied and hashed at a time on writes: small enough to be hashed
// from the CPU cache right after the copy.
constexpr uint64_t kHashPiece = 64 * 1024;

}  // namespace

DevOffset Filesystem::SlotByte(uint64_t phys, uint64_t byte_in_slot) const {
  return DevOffset(layout_.SlotOffset(SlotId(phys)).value + byte_in_slot);
}

// ---------------------------------------------------------------- read

Result<ReadResult> Filesystem::Read(OpenFile& of, uint64_t offset, size_t size) {
  ActiveInode& inode = *of.inode;
  ReadResult out;
  std::optional<uint64_t> bad_slot;
  {
    std::shared_lock lock(inode.mu);
    uint64_t file_size = inode.row.size;
    if (offset >= file_size || size == 0) return out;
    uint64_t end = std::min<uint64_t>(offset + size, file_size);
    uint64_t a0 = AlignDown(offset, kIoAlign);
    uint64_t a1 = AlignUp(end, kIoAlign);
    // Filled below by reads, verified copies, or zeroing of holes.
    out.buffer = buffers_->Get(a1 - a0);
    out.offset = offset - a0;
    out.length = end - offset;

    // A committed slot with a checksum is read whole and verified before any
    // of its bytes are returned; when the request covers only part of it,
    // the slot goes to a side buffer first.
    struct Verify {
      uint64_t lslot;
      const uint8_t* data;
      uint64_t len;
      uint64_t csum;
      blockdev::AlignedBuffer side;  // empty when data is in out.buffer
      uint64_t copy_from, copy_len, copy_to;
    };
    std::vector<Verify> verifies;
    std::vector<blockdev::IoOp> ops;
    for (uint64_t l = a0 / slot_size_; l * slot_size_ < a1; ++l) {
      uint64_t slot_start = l * slot_size_;
      uint64_t s0 = std::max(a0, slot_start);
      uint64_t s1 = std::min(a1, slot_start + slot_size_);
      if (l >= inode.map.size() || !inode.map[l].mapped()) {  // hole: zeros
        std::memset(out.buffer.data() + (s0 - a0), 0, s1 - s0);
        continue;
      }
      const SlotRef& ref = inode.map[l];
      if (!ref.dirty && ref.csum_known && config_.verify_checksums) {
        uint64_t len = inode.map.Payload(file_size, l);
        uint64_t full = AlignUp(len, kIoAlign);
        Verify v{l, nullptr, len, ref.csum, {}, 0, 0, 0};
        if (s0 == slot_start && s1 - slot_start == full) {
          v.data = out.buffer.data() + (s0 - a0);
        } else {
          v.side = buffers_->Get(full);
          v.data = v.side.data();
          v.copy_from = s0 - slot_start;
          v.copy_len = s1 - s0;
          v.copy_to = s0 - a0;
        }
        blockdev::AppendCoalesced(ops, {blockdev::IoOp::Kind::kRead, SlotByte(ref.phys, 0),
                                        const_cast<uint8_t*>(v.data), full});
        verifies.push_back(std::move(v));
        continue;
      }
      uint64_t readable_end =
          slot_start + (ref.dirty ? AlignUp(ref.valid, kIoAlign) : slot_size_);
      uint64_t r1 = std::min(s1, readable_end);
      if (r1 > s0) {
        blockdev::AppendCoalesced(ops, {blockdev::IoOp::Kind::kRead,
                                        SlotByte(ref.phys, s0 - slot_start),
                                        out.buffer.data() + (s0 - a0), r1 - s0});
      }
      uint64_t z0 = std::max(s0, r1);
      if (s1 > z0) std::memset(out.buffer.data() + (z0 - a0), 0, s1 - z0);
    }
    if (!ops.empty()) {
      Status st = device_->Run(ops);
      if (!st.ok()) return IoError(st, inode.ino, "read");
    }
    for (Verify& v : verifies) {
      if (blockdev::SlotChecksum(v.data, v.len) != v.csum) {
        bad_slot = inode.map[v.lslot].phys;
        break;
      }
      if (!v.side.size()) continue;
      std::memcpy(out.buffer.data() + v.copy_to, v.data + v.copy_from, v.copy_len);
    }
    // Bytes of dirty slots past `valid` were read with their block: zero them.
    for (uint64_t l = a0 / slot_size_; !bad_slot && l * slot_size_ < a1; ++l) {
      if (l >= inode.map.size() || !inode.map[l].mapped() || !inode.map[l].dirty) continue;
      uint64_t slot_start = l * slot_size_;
      uint64_t z0 = std::max(a0, slot_start + inode.map[l].valid);
      uint64_t z1 = std::min(a1, slot_start + AlignUp(inode.map[l].valid, kIoAlign));
      if (z1 > z0) std::memset(out.buffer.data() + (z0 - a0), 0, z1 - z0);
    }
  }
  if (bad_slot) {
    counters_.checksum_failures.fetch_add(1, std::memory_order_relaxed);
    Log()->error("inode {}: checksum mismatch in slot {}; dropping the entry",
                 inode.ino.value, *bad_slot);
    DropCorruptFile(inode.ino);
    return Status::Error(EIO, "checksum mismatch in slot " + std::to_string(*bad_slot));
  }
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_read.fetch_add(out.length, std::memory_order_relaxed);
  return out;
}

// ---------------------------------------------------------------- write

Result<size_t> Filesystem::Write(OpenFile& of, uint64_t offset,
                                 std::span<const uint8_t> data) {
  if (data.empty()) return size_t{0};
  if (offset >= max_file_size_ || data.size() > max_file_size_ - offset) {
    return Status::Error(EFBIG, "write past the maximum file size");
  }
  ActiveInode& inode = *of.inode;
  // A write that finds no free slot leaves the file as it was; room is
  // made (quarantine released, files evicted) with no lock held, and the
  // write runs again.
  for (int attempt = 0;; ++attempt) {
    std::unique_lock lock(inode.mu);
    if (inode.retired) return Status::Error(EIO, "file was removed");
    uint64_t at = (of.flags & O_APPEND) ? inode.row.size : offset;
    if ((of.flags & O_APPEND) && (at >= max_file_size_ || data.size() > max_file_size_ - at)) {
      return Status::Error(EFBIG, "write past the maximum file size");
    }
    Status st = WriteLocked(inode, lock, at, data);
    if (st.ok()) break;
    if (st.code() != ENOSPC) return st;
    lock.unlock();
    uint64_t slots = (at % slot_size_ + data.size() + slot_size_ - 1) / slot_size_;
    Result<bool> room = attempt < 16 ? MakeRoom(slots) : Result<bool>(false);
    if (!room.ok()) return room.status();
    if (!room.value()) {
      counters_.enospc.fetch_add(1, std::memory_order_relaxed);
      return Status::Error(ENOSPC, config_.evict_policy == EvictPolicy::kLru
                                       ? "no free slot and nothing evictable (every "
                                         "file is open or pinned)"
                                       : "no free slot (eviction is off)");
    }
  }
  counters_.writes.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_written.fetch_add(data.size(), std::memory_order_relaxed);
  if (config_.evict_policy == EvictPolicy::kLru &&
      allocator_.usage().used > HighWatermarkSlots()) {
    {
      std::lock_guard lock(drop_mu_);
      evict_kick_ = true;
    }
    evict_cv_.notify_one();
  }
  return data.size();
}

void Filesystem::JournalLocked(ActiveInode& inode) {
  if (inode.journaled) return;
  // The journal only reports what a crash discarded; copy-on-write keeps
  // the committed version safe without it, so a failure here is logged and
  // the write goes on.
  Status st = store_->JournalRewrite(inode.ino, WallNowNs());
  if (!st.ok() && IoErrorLimiter().Allow()) {
    Log()->warn("inode {}: cannot journal the rewrite: {}", inode.ino.value, st.ToString());
  }
  inode.journaled = true;
}

// A write runs in three steps so that requests for different slots of one
// file reach the device together (FUSE sends an O_DIRECT write as parallel
// 1 MiB requests):
//   1. under the exclusive lock: wait until no other write owns one of the
//      slots, map them (allocate a hole, copy a committed slot), mark them
//      busy;
//   2. lock released: read edge blocks, write the slot bytes;
//   3. under the lock again: publish `valid`, the hash and the size, or roll
//      the slot back if its write failed; clear busy and wake waiters.
// Truncation, commit snapshots and copies wait for `inflight` to drain.
Status Filesystem::WriteLocked(ActiveInode& inode, std::unique_lock<std::shared_mutex>& lock,
                               uint64_t offset, std::span<const uint8_t> data) {
  JournalLocked(inode);
  uint64_t end = offset + data.size();
  uint64_t first = offset / slot_size_;
  uint64_t last = (end - 1) / slot_size_;
  if (inode.map.size() <= last) inode.map.resize(last + 1);
  inode.io_done.wait(lock, [&] {
    for (uint64_t l = first; l <= last; ++l) {
      if (l < inode.map.size() && inode.map[l].busy) return false;
    }
    return true;
  });
  if (inode.map.size() <= last) inode.map.resize(last + 1);  // a truncate may have run
  if (end > inode.row.size) {
    // The write grows the file: committed slots before it whose payload
    // grows are resealed (the slots it touches are made writable below).
    SLOTFS_RETURN_IF_ERROR(ResizeSlotsLocked(inode, end, first));
  }

  // 1. Map every slot the write touches.
  std::vector<SlotWrite> pieces;
  Status st;
  for (uint64_t l = first; l <= last; ++l) {
    uint64_t slot_start = l * slot_size_;
    SlotWrite p;
    p.lslot = l;
    p.begin = std::max(offset, slot_start) - slot_start;
    p.end = std::min(end, slot_start + slot_size_) - slot_start;
    p.src = data.data() + (slot_start + p.begin - offset);
    p.before = inode.map[l];
    st = PrepareSlotLocked(inode, l, p.begin, p.end);
    if (!st.ok()) break;
    p.phys = inode.map[l].phys;
    p.valid = inode.map[l].valid;
    if (p.begin >= p.valid) p.hasher = inode.map[l].hasher.get();
    inode.map[l].busy = true;
    pieces.push_back(p);
  }
  if (st.ok()) {
    // 2. Device I/O without the lock.
    ++inode.inflight;
    lock.unlock();
    Status io = WriteIo(inode.ino, pieces);
    for (SlotWrite& p : pieces) p.status = io;
    lock.lock();
    --inode.inflight;
  }
  // 3. Publish in order; from the first failure on, roll back.
  bool changed = false;
  for (SlotWrite& p : pieces) {
    SlotRef& ref = inode.map[p.lslot];
    ref.busy = false;
    if (st.ok() && p.status.ok() && p.done) {
      // An extending write fed the slot's hasher during its I/O (p.hasher);
      // a rewrite of hashed bytes leaves the hash to commit instead.
      if (ref.hasher && p.begin < p.valid) ref.hasher.reset();
      ref.valid = std::max(p.valid, p.end);
      inode.row.size = std::max(inode.row.size, p.lslot * slot_size_ + p.end);
      changed = true;
      continue;
    }
    if (st.ok()) st = p.status.ok() ? Status::Error(EIO, "write abandoned") : p.status;
    RollBackSlotLocked(inode, p);
  }
  if (changed) {
    inode.row.mtime_ns = inode.row.ctime_ns = WallNowNs();
    inode.gen.fetch_add(1);
  }
  inode.io_done.notify_all();
  return st;
}

void Filesystem::RollBackSlotLocked(ActiveInode& inode, const SlotWrite& p) {
  SlotRef& ref = inode.map[p.lslot];
  if (ref.phys == p.before.phys) {
    // Written in place (a dirty slot): its bytes may have changed.
    ref.hasher.reset();
    return;
  }
  // A slot taken for this write goes back, and the file keeps the slot it
  // had: a failed write leaves committed bytes as they were.
  SlotId fresh(ref.phys);
  allocator_.FreeNow({&fresh, 1});
  if (p.before.mapped() && !p.before.dirty) {
    auto it = std::find(inode.freed.begin(), inode.freed.end(), SlotId(p.before.phys));
    if (it != inode.freed.end()) inode.freed.erase(it);
  }
  ref = p.before;
  ref.busy = false;
}

Status Filesystem::PrepareSlotLocked(ActiveInode& inode, uint64_t lslot,
                                     uint64_t begin, uint64_t end) {
  SlotRef& ref = inode.map[lslot];
  if (ref.mapped() && ref.dirty) return Status::Ok();
  if (!ref.mapped()) {
    Result<SlotId> slot = allocator_.Allocate(inode.map.HintFor(lslot));
    if (!slot.ok()) return Status::Error(ENOSPC, "no free slot");
    ref = SlotRef{slot->value, 0, true};
    ref.hasher = std::make_shared<blockdev::SlotHasher>();
    return Status::Ok();
  }
  // Committed slot: its bytes below the file size are data.
  uint64_t slot_start = lslot * slot_size_;
  uint64_t old_valid =
      inode.row.size > slot_start ? std::min(slot_size_, inode.row.size - slot_start) : 0;
  uint64_t keep = (begin == 0 && end >= old_valid) ? 0 : old_valid;
  return CopySlotLocked(inode, lslot, keep);
}

Status Filesystem::CopySlotLocked(ActiveInode& inode, uint64_t lslot,
                                  uint64_t keep) {
  SlotRef& ref = inode.map[lslot];
  Result<SlotId> fresh = allocator_.Allocate(inode.map.HintFor(lslot));
  if (!fresh.ok()) return Status::Error(ENOSPC, "no free slot");
  auto hasher = std::make_shared<blockdev::SlotHasher>();
  if (keep > 0) {
    blockdev::AlignedBuffer buf(AlignUp(keep, kIoAlign));
    Status st = device_->Read(SlotByte(ref.phys, 0), buf.data(), buf.size());
    if (st.ok()) st = device_->Write(SlotByte(fresh->value, 0), buf.data(), buf.size());
    if (!st.ok()) {
      SlotId f = fresh.value();
      allocator_.FreeNow({&f, 1});
      return IoError(st, inode.ino, "copy-on-write");
    }
    hasher->Update(buf.data(), keep);
  }
  inode.freed.push_back(SlotId(ref.phys));
  ref = SlotRef{fresh->value, keep, true};
  ref.hasher = std::move(hasher);
  // The map changed even if the operation that asked for the copy fails
  // next: the copy must commit (and the old slot be released) like any
  // change, or both slots would stay allocated once the inode is dropped.
  inode.gen.fetch_add(1);
  return Status::Ok();
}

Status Filesystem::WriteIo(InodeNo ino, std::vector<SlotWrite>& pieces) {
  // A piece whose bytes are whole aligned blocks of its slot, at an aligned
  // address, extending or rewriting data (no gap before it), goes to the
  // device straight from the request (the FUSE loop lands WRITE payloads on
  // a page boundary). Any other piece covers bytes [r0, a1) of its slot,
  // aligned, in a staging buffer: a gap [valid, begin) is written as zeros,
  // and the edge blocks keep their existing bytes. Pieces are consecutive in
  // the file (only the first may start inside its slot, only the last may
  // end inside it), so physically consecutive slots become one device op.
  struct Span {
    bool direct;
    uint64_t a0, a1, off;  // slot-relative aligned range; offset in staging
  };
  std::vector<Span> spans;
  spans.reserve(pieces.size());
  uint64_t staged = 0;
  for (const SlotWrite& p : pieces) {
    const bool direct = reinterpret_cast<uintptr_t>(p.src) % kIoAlign == 0 &&
                        p.begin % kIoAlign == 0 && p.end % kIoAlign == 0 && p.begin <= p.valid;
    const uint64_t a0 = direct ? p.begin : AlignDown(std::min(p.begin, p.valid), kIoAlign);
    const uint64_t a1 = AlignUp(p.end, kIoAlign);
    spans.push_back({direct, a0, a1, staged});
    if (!direct) staged += a1 - a0;
  }
  blockdev::AlignedBuffer buf;
  if (staged > 0) buf = buffers_->Get(staged);
  // Every staged byte is set below: head block read, gap zeroed, data
  // copied, tail block read or zeroed.
  std::vector<blockdev::IoOp> ops;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const SlotWrite& p = pieces[i];
    const Span& s = spans[i];
    if (s.direct) continue;
    uint8_t* base = buf.data() + s.off;
    const uint64_t r0 = std::min(p.begin, p.valid);
    const bool head = s.a0 < r0;  // [a0, r0) is existing data
    if (head) {
      ops.push_back({blockdev::IoOp::Kind::kRead, SlotByte(p.phys, s.a0), base, kIoAlign});
    }
    const uint64_t tail_block = s.a1 - kIoAlign;
    if (p.end < p.valid && p.end % kIoAlign != 0 && !(head && tail_block == s.a0)) {
      // [end, a1) is existing data.
      ops.push_back({blockdev::IoOp::Kind::kRead, SlotByte(p.phys, tail_block),
                     base + (tail_block - s.a0), kIoAlign});
    }
  }
  if (!ops.empty()) {
    Status st = device_->Run(ops);
    if (!st.ok()) return IoError(st, ino, "read-modify-write");
  }
  ops.clear();
  for (size_t i = 0; i < pieces.size(); ++i) {
    SlotWrite& p = pieces[i];
    const Span& s = spans[i];
    const uint64_t n = p.end - p.begin;
    uint8_t* base;
    if (s.direct) {
      base = const_cast<uint8_t*>(p.src);  // the device only reads it
      if (p.hasher != nullptr) p.hasher->Update(p.src, n);
    } else {
      base = buf.data() + s.off;
      if (p.begin > p.valid) std::memset(base + (p.valid - s.a0), 0, p.begin - p.valid);
      uint8_t* dst = base + (p.begin - s.a0);
      if (p.hasher != nullptr) {
        // The slot's hash follows its bytes: the gap's zeros, then the data,
        // hashed piece by piece right after each is copied (still in cache).
        p.hasher->UpdateZeros(p.begin - p.valid);
        for (uint64_t done = 0; done < n;) {
          const uint64_t k = std::min<uint64_t>(kHashPiece, n - done);
          std::memcpy(dst + done, p.src + done, k);
          p.hasher->Update(dst + done, k);
          done += k;
        }
      } else {
        std::memcpy(dst, p.src, n);
      }
      if (p.end >= p.valid) std::memset(base + (p.end - s.a0), 0, s.a1 - p.end);
    }
    blockdev::AppendCoalesced(
        ops, {blockdev::IoOp::Kind::kWrite, SlotByte(p.phys, s.a0), base, s.a1 - s.a0});
  }
  Status st = device_->Run(ops);
  if (!st.ok()) return IoError(st, ino, "write");
  for (SlotWrite& p : pieces) p.done = true;
  return Status::Ok();
}

Status Filesystem::ZeroTailLocked(ActiveInode& inode, uint64_t lslot, uint64_t upto) {
  SlotRef& ref = inode.map[lslot];
  if (ref.valid >= upto) return Status::Ok();
  uint64_t a0 = AlignDown(ref.valid, kIoAlign);
  uint64_t a1 = AlignUp(upto, kIoAlign);
  blockdev::AlignedBuffer buf(a1 - a0);
  if (a0 < ref.valid) {
    Status st = device_->Read(SlotByte(ref.phys, a0), buf.data(), kIoAlign);
    if (!st.ok()) return IoError(st, inode.ino, "read-modify-write");
    std::memset(buf.data() + (ref.valid - a0), 0, a1 - ref.valid);
  }
  Status st = device_->Write(SlotByte(ref.phys, a0), buf.data(), buf.size());
  if (!st.ok()) return IoError(st, inode.ino, "zero fill");
  if (ref.hasher) ref.hasher->UpdateZeros(upto - ref.valid);
  ref.valid = upto;
  return Status::Ok();
}

Status Filesystem::SealSlotLocked(ActiveInode& inode, uint64_t lslot, uint64_t len) {
  SlotRef& ref = inode.map[lslot];
  if (ref.hasher && ref.valid == len && ref.hasher->length() == len) {
    inode.map.Seal(lslot, ref.hasher->Digest(), len);
    return Status::Ok();
  }
  blockdev::AlignedBuffer buf(AlignUp(len, kIoAlign));
  if (len > 0) {
    Status st = device_->Read(SlotByte(ref.phys, 0), buf.data(), buf.size());
    if (!st.ok()) return IoError(st, inode.ino, "checksum read-back");
  }
  inode.map.Seal(lslot, blockdev::SlotChecksum(buf.data(), len), len);
  return Status::Ok();
}

Status Filesystem::ResizeSlotsLocked(ActiveInode& inode, uint64_t new_size,
                                     uint64_t skip_from) {
  for (const SlotMap::Reseal& r : inode.map.ResealOnResize(inode.row.size, new_size)) {
    if (r.lslot >= skip_from) continue;
    SLOTFS_RETURN_IF_ERROR(CopySlotLocked(inode, r.lslot, r.keep));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- truncate

Status Filesystem::TruncateLocked(ActiveInode& inode, uint64_t new_size) {
  if (new_size > max_file_size_) {
    return Status::Error(EFBIG, "size past the maximum file size");
  }
  const uint64_t old_size = inode.row.size;
  if (new_size == old_size) return Status::Ok();
  JournalLocked(inode);
  // Committed slots whose payload changes are copied first: if that fails
  // (ENOSPC), the file is as it was.
  SLOTFS_RETURN_IF_ERROR(ResizeSlotsLocked(inode, new_size, SlotRef::kNone));
  if (new_size < old_size) {
    const uint64_t keep = (new_size + slot_size_ - 1) / slot_size_;
    std::vector<SlotId> now;
    for (uint64_t l = keep; l < inode.map.size(); ++l) {
      SlotRef& r = inode.map[l];
      if (!r.mapped()) continue;
      if (r.dirty) {
        now.push_back(SlotId(r.phys));
      } else {
        inode.freed.push_back(SlotId(r.phys));
      }
    }
    allocator_.FreeNow(now);
    if (inode.map.size() > keep) inode.map.resize(keep);
    // A dirty last slot keeps only the bytes below the new size; the rest
    // reads as zero if the file grows again.
    const uint64_t partial = new_size % slot_size_;
    if (partial != 0 && keep - 1 < inode.map.size() && inode.map[keep - 1].mapped() &&
        inode.map[keep - 1].dirty && inode.map[keep - 1].valid > partial) {
      inode.map[keep - 1].valid = partial;
      inode.map[keep - 1].hasher.reset();
    }
  }
  inode.row.size = new_size;
  inode.row.mtime_ns = inode.row.ctime_ns = WallNowNs();
  inode.gen.fetch_add(1);
  return Status::Ok();
}

}  // namespace slotfs::core
