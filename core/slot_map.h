// core::SlotMap: where each logical slot of one file lives, and the rules
// that keep its checksums true.
//
// A file of size S has ceil(S / slot_size) logical slots. Each is a hole
// (reads zero), a dirty slot (written since the last freeze: may be written
// in place, its bytes [0, valid) are file data), or a committed slot (frozen
// or durable: never written again; its checksum covers exactly its payload,
// blockdev::SlotPayloadBytes(S, lslot)).
//
// The rule this unit exists for: a committed slot's checksum covers its
// payload *at the size it was sealed with*. Any change of the file size
// that changes a committed slot's payload length (growing past a partial
// last slot, shrinking into one) must first copy that slot to a dirty one
// (ResealOnResize tells which and how many bytes to keep); otherwise a
// reader verifies a checksum against bytes it does not cover and drops a
// valid file. CoverageHolds() checks the invariant before a commit.
//
// Thread safety: none; the owner (ActiveInode) guards it with its lock.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "blockdev/format.h"
#include "common/types.h"
#include "meta/store.h"

namespace slotfs::core {

// Where logical slot L of a file lives.
struct SlotRef {
  static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  uint64_t phys = kNone;  // SlotId value, or kNone for a hole (reads zero)
  // Dirty slots: bytes [0, valid) of the slot hold file data; bytes beyond
  // read as zero. Committed slots hold data for every byte below the file
  // size, and `valid` is unused.
  uint64_t valid = 0;
  // True while no durable row can point at this slot: it may be written in
  // place and, if dropped, freed at once. A committed slot (dirty == false)
  // is never written again: changes go to a copy (copy-on-write).
  bool dirty = false;
  // Committed slots: the checksum of the slot's first `csum_len` bytes, if
  // known. csum_len is always the payload length at the file's current
  // size (SlotMap::CoverageHolds).
  bool csum_known = false;
  uint64_t csum = 0;
  uint64_t csum_len = 0;
  // Dirty slots: the checksum of bytes [0, valid) fed in order as they were
  // written, or null once bytes were rewritten out of order (the commit then
  // reads the slot back to hash it).
  std::shared_ptr<blockdev::SlotHasher> hasher;
  // A write's device I/O for this slot is in flight (the inode lock is
  // released meanwhile); other writes to the slot wait for it.
  bool busy = false;

  bool mapped() const { return phys != kNone; }
  bool committed() const { return mapped() && !dirty; }
};

class SlotMap {
 public:
  explicit SlotMap(uint64_t slot_size) : slot_size_(slot_size) {}

  // The map of a committed file: its extents, every slot committed, each
  // checksum covering its payload at `file_size`.
  static SlotMap FromExtents(uint64_t slot_size, uint64_t file_size,
                             const std::vector<meta::Extent>& extents);

  uint64_t slot_size() const { return slot_size_; }
  size_t size() const { return refs_.size(); }
  void resize(size_t n) { refs_.resize(n); }
  void clear() { refs_.clear(); }
  SlotRef& operator[](uint64_t lslot) { return refs_[lslot]; }
  const SlotRef& operator[](uint64_t lslot) const { return refs_[lslot]; }
  std::vector<SlotRef>::iterator begin() { return refs_.begin(); }
  std::vector<SlotRef>::iterator end() { return refs_.end(); }
  std::vector<SlotRef>::const_iterator begin() const { return refs_.begin(); }
  std::vector<SlotRef>::const_iterator end() const { return refs_.end(); }

  // Bytes of logical slot `lslot` that hold file data at `file_size`.
  uint64_t Payload(uint64_t file_size, uint64_t lslot) const {
    return blockdev::SlotPayloadBytes(file_size, lslot, slot_size_);
  }
  // True if `lslot` is mapped to a committed slot.
  bool Committed(uint64_t lslot) const {
    return lslot < refs_.size() && refs_[lslot].committed();
  }

  // The committed slots whose payload length changes when the file size
  // goes from `old_size` to `new_size`, each with how many of its bytes
  // still hold data (`keep`): the caller copies each to a dirty slot keeping
  // those bytes before the size changes. Growing touches the old last slot
  // if partial, and any committed slot past the old end (reserved space);
  // shrinking touches the new last slot if partial (slots past the new end
  // are dropped by the caller).
  struct Reseal {
    uint64_t lslot = 0;
    uint64_t keep = 0;
  };
  std::vector<Reseal> ResealOnResize(uint64_t old_size, uint64_t new_size) const;

  // Marks a dirty slot committed with the checksum of its `len`-byte payload.
  void Seal(uint64_t lslot, uint64_t csum, uint64_t len);

  // True if every committed slot with a known checksum covers exactly its
  // payload at `file_size`: what a reader will verify.
  bool CoverageHolds(uint64_t file_size) const;

  // Extents of the committed slots (physically consecutive runs),
  // checksums included where every slot of the run has one. Dirty slots
  // (reserved past the end of the file, never written) are left out.
  std::vector<meta::Extent> ToExtents() const;

  // Where a new slot for `lslot` should go to keep the file contiguous: just
  // after the previous logical slot, or just before the next one.
  std::optional<SlotId> HintFor(uint64_t lslot) const;

 private:
  uint64_t slot_size_;
  std::vector<SlotRef> refs_;
};

}  // namespace slotfs::core
