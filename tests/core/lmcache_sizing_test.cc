// core::RecommendLmcacheSize: the max_local_disk_size under which slotfs
// never evicts, whatever mix of entry sizes LMCache writes.
#include "core/lmcache_sizing.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace slotfs::core {
namespace {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;

uint64_t SlotsOf(uint64_t size, uint64_t slot) { return (size + slot - 1) / slot; }

TEST(LmcacheSizingTest, FourGibImageWithDefaults) {
  // 4 GiB image, 64 KiB slots: 65520 slots; 90% low watermark.
  LmcacheSizing s = RecommendLmcacheSize(65520, 64 * kKiB, 90);
  EXPECT_EQ(s.budget_slots, 58968u);
  EXPECT_EQ(s.min_entry, kDefaultLmcacheMinEntry);
  // 32 KiB entries take a whole 64 KiB slot; so do entries just past it.
  EXPECT_DOUBLE_EQ(s.worst_ratio, 2.0);
  EXPECT_EQ(s.max_bytes, 58968u * 64 * kKiB / 2);
  EXPECT_DOUBLE_EQ(s.max_local_disk_size_gib, 1.79);
}

TEST(LmcacheSizingTest, LargerSmallestEntryGivesALargerLimit) {
  LmcacheSizing small = RecommendLmcacheSize(65520, 64 * kKiB, 90, 32 * kKiB);
  LmcacheSizing big = RecommendLmcacheSize(65520, 64 * kKiB, 90, 2 * kMiB);
  EXPECT_GT(big.max_bytes, small.max_bytes);
  // 2 MiB entries: 32 slots exactly, or 33 for 2 MiB + 1 byte.
  EXPECT_NEAR(big.worst_ratio, 33.0 / 32.0, 1e-4);
}

TEST(LmcacheSizingTest, GibIsWhatLmcacheReadsRoundedDown) {
  // LMCache multiplies by 1024^3: the value times 1024^3 never exceeds the
  // byte budget.
  for (uint64_t slots : {4080u, 65520u, 1u << 20}) {
    LmcacheSizing s = RecommendLmcacheSize(slots, 64 * kKiB, 90);
    EXPECT_LE(s.max_local_disk_size_gib * static_cast<double>(kGiB),
              static_cast<double>(s.max_bytes));
    EXPECT_GT((s.max_local_disk_size_gib + 0.01) * static_cast<double>(kGiB),
              static_cast<double>(s.max_bytes));
  }
}

// Any mix of entries >= min_entry whose logical total fits the limit fits
// the slots below the low watermark: the guarantee the recommendation makes.
TEST(LmcacheSizingTest, NoMixOfEntriesUnderTheLimitOverflowsTheBudget) {
  const uint64_t slot = 64 * kKiB;
  const uint64_t min_entry = 32 * kKiB;
  LmcacheSizing s = RecommendLmcacheSize(16368, slot, 90, min_entry);  // a 1 GiB image
  std::mt19937_64 rng(12345);
  const std::vector<uint64_t> shapes = {min_entry,     slot,          slot + 1,
                                        slot + 4096,   42'042,        40'960,
                                        2'600'064,     4 * kMiB,      17'989'632,
                                        3 * slot + 1,  2 * slot - 1,  min_entry + 1};
  for (int round = 0; round < 2000; ++round) {
    uint64_t logical = 0, slots = 0;
    for (;;) {
      uint64_t size = rng() % 3 == 0 ? shapes[rng() % shapes.size()]
                                     : min_entry + rng() % (8 * kMiB);
      if (logical + size > s.max_bytes) break;
      logical += size;
      slots += SlotsOf(size, slot);
    }
    ASSERT_LE(slots, s.budget_slots) << "round " << round << ": " << logical << " bytes";
  }
  // The worst mix: all smallest entries, or all just past a slot.
  for (uint64_t size : {min_entry, slot + 1}) {
    const uint64_t n = s.max_bytes / size;
    EXPECT_LE(n * SlotsOf(size, slot), s.budget_slots) << size;
  }
}

TEST(LmcacheSizingTest, OnlyLmcacheKeysAreLmcacheEntries) {
  EXPECT_TRUE(IsLmcacheEntryName("meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt"));
  EXPECT_TRUE(IsLmcacheEntryName("-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt"));
  EXPECT_FALSE(IsLmcacheEntryName("notes.txt"));
  EXPECT_FALSE(IsLmcacheEntryName("a@b@c@d.pt"));
}

}  // namespace
}  // namespace slotfs::core
