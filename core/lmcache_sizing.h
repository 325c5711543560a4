// core::RecommendLmcacheSize: the largest `max_local_disk_size` LMCache's
// local-disk backend may be given on a slotfs filesystem so that slotfs
// never has to evict (nor return ENOSPC), whatever mix of entry sizes
// LMCache writes.
//
// Why it matters: LMCache keeps its own index and LRU and counts logical
// file sizes against max_local_disk_size (in GiB, x 1024^3). A file slotfs
// evicts behind its back is not always a miss for it: some versions return
// the unfilled buffer as a hit. So the recommendation must hold by
// construction, not on average:
//
//   budget   = slots at or below the low eviction watermark; the band up to
//              the high watermark is headroom for files LMCache has decided
//              to delete but whose unlink has not reached slotfs yet.
//              (The commit quarantine never triggers eviction: a write that
//              finds no free slot releases it first.)
//   worst    = the most slots per logical byte any entry of at least
//              `min_entry` bytes can take: an entry of s bytes holds
//              ceil(s / slot) slots, worst at s = min_entry or just past a
//              slot boundary.
//   bytes    = budget * slot_size / worst
//   GiB      = bytes / 1024^3, rounded down to 0.01.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace slotfs::core {

// The smallest LMCache entry the recommendation assumes by default: a
// partial chunk of a few tokens of a small model. Entries below it may take
// more space than the recommendation allows for.
inline constexpr uint64_t kDefaultLmcacheMinEntry = 32 * 1024;

struct LmcacheSizing {
  uint64_t budget_slots = 0;      // slots at or below the low watermark
  uint64_t min_entry = 0;         // bytes: the smallest entry assumed
  double worst_ratio = 0;         // allocated bytes / logical bytes, worst case
  uint64_t max_bytes = 0;         // logical bytes LMCache may hold
  double max_local_disk_size_gib = 0;     // what to write in LMCache's config
};

// REQUIRES: slot_size > 0, min_entry > 0, evict_low_pct <= 100.
LmcacheSizing RecommendLmcacheSize(uint64_t slot_count, uint64_t slot_size,
                                   unsigned evict_low_pct,
                                   uint64_t min_entry = kDefaultLmcacheMinEntry);

// True if `name` is an LMCache local-disk entry (ParseLmcacheFileName).
bool IsLmcacheEntryName(std::string_view name);

}  // namespace slotfs::core
