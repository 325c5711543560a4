// core::RecommendLmcacheSize (see lmcache_sizing.h for the derivation).
#include "core/lmcache_sizing.h"

#include "core/lmcache_keys.h"

namespace slotfs::core {

LmcacheSizing RecommendLmcacheSize(uint64_t slot_count, uint64_t slot_size,
                                   unsigned evict_low_pct, uint64_t min_entry) {
  using U128 = unsigned __int128;
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  LmcacheSizing s;
  s.min_entry = min_entry;
  s.budget_slots = static_cast<uint64_t>(U128{slot_count} * evict_low_pct / 100);
  // An entry of s >= min_entry bytes takes ceil(s / slot) slots. Over
  // [min_entry, k * slot] (k = slots of the smallest entry) the ratio is
  // largest at min_entry; past each boundary j * slot (j >= k) it is largest
  // at j * slot + 1 and falls as j grows. So the worst is one of two points.
  // Kept as exact fractions so that max_bytes * worst never rounds past the
  // budget.
  const uint64_t z = slot_size;
  const uint64_t k = (min_entry + z - 1) / z;
  U128 num = U128{k} * z, den = min_entry;                // at min_entry
  const U128 num2 = U128{k + 1} * z, den2 = U128{k} * z + 1;  // just past k slots
  if (num * den2 < num2 * den) {
    num = num2;
    den = den2;
  }
  s.worst_ratio = static_cast<double>(num) / static_cast<double>(den);
  // The largest L with L * worst <= budget * slot_size, in whole bytes.
  s.max_bytes = static_cast<uint64_t>(U128{s.budget_slots} * z * den / num);
  // LMCache computes int(max_local_disk_size * 1024**3): two decimals,
  // rounded down, and stepped down while the double lands above max_bytes.
  uint64_t hundredths = static_cast<uint64_t>(U128{s.max_bytes} * 100 / kGiB);
  auto bytes_of = [&](uint64_t h) {
    return static_cast<uint64_t>(static_cast<double>(h) / 100.0 * static_cast<double>(kGiB));
  };
  while (hundredths > 0 && bytes_of(hundredths) > s.max_bytes) --hundredths;
  s.max_local_disk_size_gib = static_cast<double>(hundredths) / 100.0;
  return s;
}

bool IsLmcacheEntryName(std::string_view name) { return ParseLmcacheFileName(name).has_value(); }

}  // namespace slotfs::core
