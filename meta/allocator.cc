// meta::Allocator implementation: a bitmap with a next-fit cursor.
#include "meta/allocator.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <string>

namespace slotfs::meta {

Allocator::Allocator(uint64_t slot_count, uint64_t stride)
    : slot_count_(slot_count),
      stride_(std::max<uint64_t>(stride, 1)),
      bits_((slot_count + 63) / 64, 0) {}

Status Allocator::MarkUsed(SlotId first, uint64_t count) {
  std::lock_guard lock(mu_);
  if (first.value >= slot_count_ || count > slot_count_ - first.value) {
    return Status::Error(EUCLEAN, "extent at slot " + std::to_string(first.value) +
                                      " (+" + std::to_string(count) +
                                      ") lies outside the device's " +
                                      std::to_string(slot_count_) + " slots");
  }
  for (uint64_t i = first.value; i < first.value + count; ++i) {
    if (TestBit(i)) {
      return Status::Error(EUCLEAN, "slot " + std::to_string(i) +
                                        " is owned by more than one extent");
    }
    SetBit(i);
    ++used_;
  }
  return Status::Ok();
}

uint64_t Allocator::FindFree(uint64_t from) const {
  uint64_t word = from >> 6;
  uint64_t nwords = bits_.size();
  if (word >= nwords) return slot_count_;
  uint64_t w = ~bits_[word] & (~uint64_t{0} << (from & 63));
  while (true) {
    if (w != 0) {
      uint64_t i = (word << 6) + static_cast<uint64_t>(std::countr_zero(w));
      return i < slot_count_ ? i : slot_count_;
    }
    if (++word >= nwords) return slot_count_;
    w = ~bits_[word];
  }
}

Result<SlotId> Allocator::Allocate(std::optional<SlotId> hint) {
  std::lock_guard lock(mu_);
  if (hint && hint->value < slot_count_ && !TestBit(hint->value)) {
    SetBit(hint->value);
    ++used_;
    return *hint;
  }
  if (used_ >= slot_count_) return Status::Error(ENOSPC, "no free slot");
  uint64_t i = FindFree(cursor_);
  if (i >= slot_count_) i = FindFree(0);
  if (i >= slot_count_) return Status::Error(ENOSPC, "no free slot");
  SetBit(i);
  ++used_;
  // A first slot (no hint) moves the cursor a stride ahead so the file can
  // grow contiguously while other files start elsewhere.
  uint64_t next = hint ? i + 1 : i + stride_;
  cursor_ = next < slot_count_ ? next : 0;
  return SlotId(i);
}

void Allocator::FreeNow(std::span<const SlotId> slots) {
  std::lock_guard lock(mu_);
  for (SlotId s : slots) {
    assert(s.value < slot_count_ && TestBit(s.value));  // freeing a free slot
    ClearBit(s.value);
    --used_;
  }
}

void Allocator::Free(std::span<const SlotId> slots, uint64_t seq) {
  std::lock_guard lock(mu_);
  for (SlotId s : slots) {
    assert(s.value < slot_count_ && TestBit(s.value));
    // Keep the vector ordered by seq; callers almost always append in order.
    if (!quarantine_.empty() && quarantine_.back().seq > seq) {
      auto it = std::upper_bound(
          quarantine_.begin(), quarantine_.end(), seq,
          [](uint64_t v, const Quarantined& q) { return v < q.seq; });
      quarantine_.insert(it, Quarantined{s, seq});
    } else {
      quarantine_.push_back(Quarantined{s, seq});
    }
  }
}

uint64_t Allocator::ReleaseDurable(uint64_t durable_seq) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  while (n < quarantine_.size() && quarantine_[n].seq <= durable_seq) {
    ClearBit(quarantine_[n].slot.value);
    --used_;
    ++n;
  }
  quarantine_.erase(quarantine_.begin(), quarantine_.begin() + static_cast<long>(n));
  return n;
}

Allocator::Usage Allocator::usage() const {
  std::lock_guard lock(mu_);
  Usage u;
  u.quarantined = quarantine_.size();
  u.used = used_ - u.quarantined;
  u.free = slot_count_ - used_;
  return u;
}

bool Allocator::HasQuarantine() const {
  std::lock_guard lock(mu_);
  return !quarantine_.empty();
}

bool Allocator::IsUsed(SlotId slot) const {
  std::lock_guard lock(mu_);
  return slot.value < slot_count_ && TestBit(slot.value);
}

}  // namespace slotfs::meta
