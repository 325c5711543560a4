// core::SlotMap: the per-file slot vector and its checksum-coverage rule.
#include "core/slot_map.h"

#include <algorithm>

namespace slotfs::core {

SlotMap SlotMap::FromExtents(uint64_t slot_size, uint64_t file_size,
                             const std::vector<meta::Extent>& extents) {
  SlotMap m(slot_size);
  uint64_t n = (file_size + slot_size - 1) / slot_size;
  for (const meta::Extent& e : extents) n = std::max(n, e.lslot + e.count);
  m.refs_.resize(n);
  for (const meta::Extent& e : extents) {
    for (uint64_t i = 0; i < e.count; ++i) {
      SlotRef& r = m.refs_[e.lslot + i];
      r = SlotRef{};
      r.phys = e.slot.value + i;
      if (e.csums.size() == e.count) {
        r.csum_known = true;
        r.csum = e.csums[i];
        r.csum_len = m.Payload(file_size, e.lslot + i);
      }
    }
  }
  return m;
}

std::vector<SlotMap::Reseal> SlotMap::ResealOnResize(uint64_t old_size,
                                                     uint64_t new_size) const {
  std::vector<Reseal> out;
  if (new_size < old_size) {
    const uint64_t lslot = new_size / slot_size_;
    const uint64_t keep = new_size % slot_size_;
    if (keep != 0 && Committed(lslot)) out.push_back({lslot, keep});
    return out;
  }
  const uint64_t last = std::min<uint64_t>(refs_.size(), (new_size + slot_size_ - 1) / slot_size_);
  for (uint64_t l = old_size / slot_size_; l < last; ++l) {
    const uint64_t keep = Payload(old_size, l);
    if (Committed(l) && keep != Payload(new_size, l)) out.push_back({l, keep});
  }
  return out;
}

void SlotMap::Seal(uint64_t lslot, uint64_t csum, uint64_t len) {
  SlotRef& r = refs_[lslot];
  r.dirty = false;
  r.csum_known = true;
  r.csum = csum;
  r.csum_len = len;
  r.hasher.reset();
}

bool SlotMap::CoverageHolds(uint64_t file_size) const {
  for (uint64_t l = 0; l < refs_.size(); ++l) {
    const SlotRef& r = refs_[l];
    if (r.committed() && r.csum_known && r.csum_len != Payload(file_size, l)) return false;
  }
  return true;
}

std::vector<meta::Extent> SlotMap::ToExtents() const {
  std::vector<meta::Extent> out;
  for (uint64_t l = 0; l < refs_.size(); ++l) {
    const SlotRef& r = refs_[l];
    if (!r.committed()) continue;
    if (!out.empty()) {
      meta::Extent& e = out.back();
      if (e.lslot + e.count == l && e.slot.value + e.count == r.phys &&
          e.csums.size() == e.count && r.csum_known) {
        ++e.count;
        e.csums.push_back(r.csum);
        continue;
      }
    }
    meta::Extent e{l, SlotId(r.phys), 1};
    if (r.csum_known) e.csums.push_back(r.csum);
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<SlotId> SlotMap::HintFor(uint64_t lslot) const {
  if (lslot > 0 && lslot - 1 < refs_.size() && refs_[lslot - 1].mapped()) {
    return SlotId(refs_[lslot - 1].phys + 1);
  }
  if (lslot + 1 < refs_.size() && refs_[lslot + 1].mapped() && refs_[lslot + 1].phys > 0) {
    return SlotId(refs_[lslot + 1].phys - 1);
  }
  return std::nullopt;
}

}  // namespace slotfs::core
