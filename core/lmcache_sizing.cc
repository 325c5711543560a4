// core::RecommendLmcacheSize (see lmcache_sizing.h for the derivation).
#include "core/lmcache_sizing.h"

#include "core/lmcache_keys.h"

#include <algorithm>
#include <cmath>

namespace slotfs::core {

LmcacheSizing RecommendLmcacheSize(uint64_t slot_count, uint64_t slot_size,
                                   unsigned evict_low_pct, uint64_t min_entry) {
  LmcacheSizing s;
  s.min_entry = min_entry;
  s.budget_slots = slot_count * evict_low_pct / 100;
  // An entry of s >= min_entry bytes takes ceil(s / slot) slots. Over
  // [min_entry, k * slot] (k = slots of the smallest entry) the ratio is
  // largest at min_entry; past each boundary j * slot (j >= k) it is largest
  // at j * slot + 1 and falls as j grows. So the worst is one of two points.
  const double z = static_cast<double>(slot_size);
  const uint64_t k = (min_entry + slot_size - 1) / slot_size;
  const double at_min = static_cast<double>(k) * z / static_cast<double>(min_entry);
  const double past_boundary = static_cast<double>(k + 1) * z / (static_cast<double>(k) * z + 1);
  s.worst_ratio = std::max(at_min, past_boundary);
  s.max_bytes = static_cast<uint64_t>(
      std::floor(static_cast<double>(s.budget_slots) * z / s.worst_ratio));
  const double gib = static_cast<double>(s.max_bytes) / (1024.0 * 1024.0 * 1024.0);
  s.max_local_disk_size_gib = std::floor(gib * 100.0) / 100.0;
  return s;
}

bool IsLmcacheEntryName(std::string_view name) { return ParseLmcacheFileName(name).has_value(); }

}  // namespace slotfs::core
