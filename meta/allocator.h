// meta::Allocator: the free-slot map, rebuilt at mount from committed
// extents (never persisted), with quarantine for freed slots.
//
// A slot is in one of three states: free, used, or quarantined. Free()
// quarantines a slot under the store sequence number of the transaction
// that freed it; ReleaseDurable(seq) returns to the free map every slot
// freed at or before a durable sequence number. So a slot is never written
// again while a crash could still resurrect a row that points at it.
//
// Allocation prefers contiguity: Allocate(hint) returns the hint if free;
// a file's first slot comes from a next-fit cursor that then skips ahead by
// a stride, so concurrent writers each get room to grow in one run.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace slotfs::meta {

class Allocator {
 public:
  // All `slot_count` slots start free. `stride`: how far the cursor skips
  // after a file's first slot.
  explicit Allocator(uint64_t slot_count, uint64_t stride = 64);

  uint64_t slot_count() const { return slot_count_; }

  // Rebuild: marks a run used. EUCLEAN if any slot is out of range or
  // already used (a slot owned twice).
  Status MarkUsed(SlotId first, uint64_t count);

  // Returns a free slot and marks it used: `hint` if given and free, else
  // the next free slot at or after the cursor (wrapping). ENOSPC when none.
  Result<SlotId> Allocate(std::optional<SlotId> hint);

  // Returns a slot that was never part of a durable row (allocated and
  // abandoned before any commit) straight to the free map.
  void FreeNow(std::span<const SlotId> slots);

  // Quarantines slots freed by the transaction with sequence number `seq`.
  void Free(std::span<const SlotId> slots, uint64_t seq);

  // Moves every slot quarantined with seq <= durable_seq to the free map;
  // returns how many.
  uint64_t ReleaseDurable(uint64_t durable_seq);

  struct Usage {
    uint64_t free = 0, used = 0, quarantined = 0;
  };
  Usage usage() const;
  // True if any quarantined slot waits for a sequence number > durable_seq.
  bool HasQuarantine() const;
  bool IsUsed(SlotId slot) const;

 private:
  bool TestBit(uint64_t i) const { return (bits_[i >> 6] >> (i & 63)) & 1; }
  void SetBit(uint64_t i) { bits_[i >> 6] |= uint64_t{1} << (i & 63); }
  void ClearBit(uint64_t i) { bits_[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
  // First clear bit at or after `from`, scanning to the end; slot_count_ if
  // none. REQUIRES: mu_ held.
  uint64_t FindFree(uint64_t from) const;

  const uint64_t slot_count_;
  const uint64_t stride_;
  mutable std::mutex mu_;
  std::vector<uint64_t> bits_;  // 1 = used or quarantined
  uint64_t cursor_ = 0;
  uint64_t used_ = 0;  // bits set, quarantined included
  struct Quarantined {
    SlotId slot;
    uint64_t seq;
  };
  std::vector<Quarantined> quarantine_;  // in non-decreasing seq order
};

}  // namespace slotfs::meta
