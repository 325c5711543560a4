// meta::Allocator: hints, next-fit with a stride, wrap-around, ENOSPC,
// rebuild from extents (MarkUsed), the quarantine of freed slots, odd slot
// counts and concurrent allocation.
#include "meta/allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

namespace slotfs::meta {
namespace {

// Allocates without a hint; fails the test on error.
uint64_t Take(Allocator& a, std::optional<SlotId> hint = std::nullopt) {
  auto r = a.Allocate(hint);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->value : UINT64_MAX;
}

// Allocates until ENOSPC; returns every slot handed out.
std::vector<uint64_t> Drain(Allocator& a) {
  std::vector<uint64_t> out;
  for (;;) {
    auto r = a.Allocate(std::nullopt);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ENOSPC);
      return out;
    }
    out.push_back(r->value);
    if (out.size() > a.slot_count() + 1) {
      ADD_FAILURE() << "allocator hands out more slots than it has";
      return out;
    }
  }
}

TEST(AllocatorTest, AllSlotsAreFreeInitially) {
  Allocator a(1000);
  EXPECT_EQ(a.slot_count(), 1000u);
  Allocator::Usage u = a.usage();
  EXPECT_EQ(u.free, 1000u);
  EXPECT_EQ(u.used, 0u);
  EXPECT_EQ(u.quarantined, 0u);
  EXPECT_FALSE(a.HasQuarantine());
  EXPECT_FALSE(a.IsUsed(SlotId(0)));
  EXPECT_FALSE(a.IsUsed(SlotId(999)));
}

TEST(AllocatorTest, IsUsedOfOutOfRangeSlotIsFalse) {
  Allocator a(10);
  EXPECT_FALSE(a.IsUsed(SlotId(10)));
  EXPECT_FALSE(a.IsUsed(SlotId(63)));
  EXPECT_FALSE(a.IsUsed(SlotId(UINT64_MAX)));
}

TEST(AllocatorTest, FreeHintIsReturned) {
  Allocator a(1000);
  EXPECT_EQ(Take(a, SlotId(417)), 417u);
  EXPECT_TRUE(a.IsUsed(SlotId(417)));
  EXPECT_EQ(a.usage().used, 1u);
  EXPECT_EQ(a.usage().free, 999u);
}

TEST(AllocatorTest, LastSlotAsHintIsReturned) {
  Allocator a(1000);
  EXPECT_EQ(Take(a, SlotId(999)), 999u);
}

TEST(AllocatorTest, UsedHintFallsBackToAnotherFreeSlot) {
  Allocator a(1000);
  ASSERT_TRUE(a.MarkUsed(SlotId(5), 1).ok());
  uint64_t s = Take(a, SlotId(5));
  EXPECT_NE(s, 5u);
  EXPECT_LT(s, 1000u);
  EXPECT_TRUE(a.IsUsed(SlotId(s)));
  EXPECT_EQ(a.usage().used, 2u);
}

TEST(AllocatorTest, OutOfRangeHintFallsBack) {
  Allocator a(70);
  for (uint64_t hint : {uint64_t{70}, uint64_t{100}, uint64_t{127}, UINT64_MAX}) {
    uint64_t s = Take(a, SlotId(hint));
    EXPECT_LT(s, 70u) << "hint " << hint;
  }
}

TEST(AllocatorTest, QuarantinedHintIsNotReturned) {
  Allocator a(100);
  ASSERT_EQ(Take(a, SlotId(7)), 7u);
  SlotId s(7);
  a.Free({&s, 1}, 5);
  EXPECT_NE(Take(a, SlotId(7)), 7u);
}

TEST(AllocatorTest, FirstSlotsAreStrideApart) {
  Allocator a(1000, /*stride=*/64);
  EXPECT_EQ(Take(a), 0u);
  EXPECT_EQ(Take(a), 64u);
  EXPECT_EQ(Take(a), 128u);
}

TEST(AllocatorTest, CustomStrideIsHonoured) {
  Allocator a(1000, /*stride=*/10);
  EXPECT_EQ(Take(a), 0u);
  EXPECT_EQ(Take(a), 10u);
  EXPECT_EQ(Take(a), 20u);
}

TEST(AllocatorTest, StrideZeroBehavesAsOne) {
  Allocator a(10, /*stride=*/0);
  EXPECT_EQ(Take(a), 0u);
  EXPECT_EQ(Take(a), 1u);
  EXPECT_EQ(Take(a), 2u);
}

TEST(AllocatorTest, FileGrowsContiguouslyFromItsFirstSlot) {
  // A writer asks for previous+1 as hint: the run stays contiguous while
  // another file starts a stride further.
  Allocator a(1000, 64);
  uint64_t f1 = Take(a);
  uint64_t f2 = Take(a);
  EXPECT_EQ(f2, f1 + 64);
  uint64_t prev = f1;
  for (int i = 0; i < 10; ++i) {
    uint64_t s = Take(a, SlotId(prev + 1));
    EXPECT_EQ(s, prev + 1);
    prev = s;
  }
}

TEST(AllocatorTest, FallbackAfterUsedHintAdvancesCursorByOne) {
  Allocator a(1000, 64);
  ASSERT_TRUE(a.MarkUsed(SlotId(500), 1).ok());
  EXPECT_EQ(Take(a, SlotId(500)), 0u);  // cursor at 0
  EXPECT_EQ(Take(a, SlotId(500)), 1u);  // cursor moved by one, not a stride
}

TEST(AllocatorTest, NextFitSkipsUsedSlots) {
  Allocator a(1000, 64);
  ASSERT_TRUE(a.MarkUsed(SlotId(0), 70).ok());
  EXPECT_EQ(Take(a), 70u);
  EXPECT_EQ(Take(a), 134u);
}

TEST(AllocatorTest, CursorWrapsAroundAtTheEnd) {
  Allocator a(100, 64);
  EXPECT_EQ(Take(a), 0u);
  EXPECT_EQ(Take(a), 64u);  // next cursor 128 >= 100: wraps to 0
  EXPECT_EQ(Take(a), 1u);
}

TEST(AllocatorTest, SearchWrapsWhenTailIsFull) {
  Allocator a(128, 64);
  ASSERT_TRUE(a.MarkUsed(SlotId(64), 64).ok());
  EXPECT_EQ(Take(a), 0u);  // cursor -> 64, all used from there
  EXPECT_EQ(Take(a), 1u);  // wraps to the start
}

TEST(AllocatorTest, FreedSlotBehindCursorIsFoundAfterWrap) {
  Allocator a(8, 1);
  std::vector<uint64_t> all = Drain(a);
  ASSERT_EQ(all.size(), 8u);
  SlotId s(2);
  a.FreeNow({&s, 1});
  EXPECT_EQ(Take(a), 2u);
}

TEST(AllocatorTest, EnospcWhenFull) {
  Allocator a(200, 64);
  std::vector<uint64_t> got = Drain(a);
  EXPECT_EQ(got.size(), 200u);
  std::set<uint64_t> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), 200u);
  EXPECT_EQ(*distinct.rbegin(), 199u);
  auto r = a.Allocate(SlotId(3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ENOSPC);
  EXPECT_EQ(a.usage().free, 0u);
  EXPECT_EQ(a.usage().used, 200u);
}

TEST(AllocatorTest, EnospcWhenEverythingIsQuarantined) {
  Allocator a(4, 1);
  std::vector<SlotId> slots;
  for (uint64_t s : Drain(a)) slots.push_back(SlotId(s));
  a.Free(slots, 10);
  EXPECT_EQ(a.Allocate(std::nullopt).status().code(), ENOSPC);
  EXPECT_EQ(a.ReleaseDurable(10), 4u);
  EXPECT_EQ(Drain(a).size(), 4u);
}

TEST(AllocatorTest, ZeroSlotsIsAlwaysEnospc) {
  Allocator a(0);
  EXPECT_EQ(a.Allocate(std::nullopt).status().code(), ENOSPC);
  EXPECT_EQ(a.Allocate(SlotId(0)).status().code(), ENOSPC);
  EXPECT_EQ(a.MarkUsed(SlotId(0), 1).code(), EUCLEAN);
  EXPECT_EQ(a.usage().free, 0u);
}

TEST(AllocatorTest, SingleSlot) {
  Allocator a(1);
  EXPECT_EQ(Take(a), 0u);
  EXPECT_EQ(a.Allocate(std::nullopt).status().code(), ENOSPC);
}

TEST(AllocatorTest, MarkUsedMarksTheWholeRun) {
  Allocator a(1000);
  ASSERT_TRUE(a.MarkUsed(SlotId(60), 10).ok());  // crosses a 64-bit word
  for (uint64_t i = 60; i < 70; ++i) EXPECT_TRUE(a.IsUsed(SlotId(i))) << i;
  EXPECT_FALSE(a.IsUsed(SlotId(59)));
  EXPECT_FALSE(a.IsUsed(SlotId(70)));
  EXPECT_EQ(a.usage().used, 10u);
  EXPECT_EQ(a.usage().free, 990u);
}

TEST(AllocatorTest, MarkUsedOfRunEndingAtLastSlotIsFine) {
  Allocator a(70);
  EXPECT_TRUE(a.MarkUsed(SlotId(60), 10).ok());
  EXPECT_TRUE(a.IsUsed(SlotId(69)));
}

TEST(AllocatorTest, MarkUsedOfOutOfRangeRunIsEuclean) {
  Allocator a(100);
  Status past_end = a.MarkUsed(SlotId(95), 6);
  EXPECT_EQ(past_end.code(), EUCLEAN);
  EXPECT_NE(past_end.message().find("100"), std::string::npos)
      << past_end.message();
  EXPECT_EQ(a.MarkUsed(SlotId(100), 1).code(), EUCLEAN);
  EXPECT_EQ(a.MarkUsed(SlotId(UINT64_MAX), 1).code(), EUCLEAN);
  // first + count would overflow 64 bits.
  EXPECT_EQ(a.MarkUsed(SlotId(1), UINT64_MAX).code(), EUCLEAN);
  EXPECT_EQ(a.MarkUsed(SlotId(50), UINT64_MAX - 10).code(), EUCLEAN);
  // Nothing was marked by the rejected runs.
  EXPECT_EQ(a.usage().used, 0u);
}

TEST(AllocatorTest, MarkUsedOfAlreadyUsedSlotIsEuclean) {
  Allocator a(100);
  ASSERT_TRUE(a.MarkUsed(SlotId(10), 5).ok());
  Status st = a.MarkUsed(SlotId(14), 3);  // overlaps slot 14
  EXPECT_EQ(st.code(), EUCLEAN);
  EXPECT_NE(st.message().find("14"), std::string::npos) << st.message();
  EXPECT_EQ(a.MarkUsed(SlotId(10), 1).code(), EUCLEAN);
}

TEST(AllocatorTest, MarkUsedOfAllocatedSlotIsEuclean) {
  Allocator a(100);
  uint64_t s = Take(a);
  EXPECT_EQ(a.MarkUsed(SlotId(s), 1).code(), EUCLEAN);
}

TEST(AllocatorTest, MarkedSlotsAreNeverAllocated) {
  Allocator a(130, 1);
  ASSERT_TRUE(a.MarkUsed(SlotId(0), 64).ok());
  ASSERT_TRUE(a.MarkUsed(SlotId(100), 30).ok());
  std::vector<uint64_t> got = Drain(a);
  EXPECT_EQ(got.size(), 36u);
  for (uint64_t s : got) EXPECT_TRUE(s >= 64 && s < 100) << s;
}

TEST(AllocatorTest, FreeQuarantinesUntilReleaseDurable) {
  Allocator a(4, 1);
  std::vector<uint64_t> all = Drain(a);
  ASSERT_EQ(all.size(), 4u);
  SlotId s(2);
  a.Free({&s, 1}, /*seq=*/7);
  EXPECT_TRUE(a.IsUsed(s));  // not allocatable
  Allocator::Usage u = a.usage();
  EXPECT_EQ(u.quarantined, 1u);
  EXPECT_EQ(u.used, 3u);
  EXPECT_EQ(u.free, 0u);
  EXPECT_TRUE(a.HasQuarantine());
  EXPECT_EQ(a.Allocate(std::nullopt).status().code(), ENOSPC);
  EXPECT_EQ(a.Allocate(s).status().code(), ENOSPC);

  EXPECT_EQ(a.ReleaseDurable(7), 1u);
  EXPECT_FALSE(a.HasQuarantine());
  u = a.usage();
  EXPECT_EQ(u.quarantined, 0u);
  EXPECT_EQ(u.used, 3u);
  EXPECT_EQ(u.free, 1u);
  EXPECT_EQ(Take(a), 2u);
}

TEST(AllocatorTest, ReleaseDurableWithHigherSeqReleases) {
  Allocator a(10, 1);
  SlotId s(Take(a));
  a.Free({&s, 1}, 3);
  EXPECT_EQ(a.ReleaseDurable(100), 1u);
  EXPECT_FALSE(a.IsUsed(s));
}

TEST(AllocatorTest, ReleaseDurableWithLowerSeqReleasesNothing) {
  Allocator a(10, 1);
  SlotId s(Take(a));
  a.Free({&s, 1}, 5);
  EXPECT_EQ(a.ReleaseDurable(4), 0u);
  EXPECT_EQ(a.ReleaseDurable(0), 0u);
  EXPECT_TRUE(a.IsUsed(s));
  EXPECT_TRUE(a.HasQuarantine());
  EXPECT_EQ(a.usage().quarantined, 1u);
}

TEST(AllocatorTest, ReleaseDurableReleasesOnlyUpToSeq) {
  Allocator a(10, 1);
  std::vector<SlotId> s;
  for (int i = 0; i < 6; ++i) s.push_back(SlotId(Take(a)));
  a.Free({&s[0], 2}, 1);
  a.Free({&s[2], 2}, 2);
  a.Free({&s[4], 2}, 3);
  EXPECT_EQ(a.ReleaseDurable(2), 4u);
  EXPECT_FALSE(a.IsUsed(s[0]));
  EXPECT_FALSE(a.IsUsed(s[3]));
  EXPECT_TRUE(a.IsUsed(s[4]));
  EXPECT_TRUE(a.IsUsed(s[5]));
  EXPECT_EQ(a.usage().quarantined, 2u);
  EXPECT_EQ(a.ReleaseDurable(2), 0u);  // idempotent
  EXPECT_EQ(a.ReleaseDurable(3), 2u);
  EXPECT_EQ(a.usage().quarantined, 0u);
  EXPECT_EQ(a.usage().used, 0u);
  EXPECT_EQ(a.usage().free, 10u);
}

TEST(AllocatorTest, SlotsFreedOutOfSeqOrderAreReleasedCorrectly) {
  Allocator a(10, 1);
  std::vector<SlotId> s;
  for (int i = 0; i < 5; ++i) s.push_back(SlotId(Take(a)));
  a.Free({&s[0], 1}, 10);
  a.Free({&s[1], 1}, 4);   // earlier seq arrives later
  a.Free({&s[2], 1}, 12);
  a.Free({&s[3], 1}, 2);
  a.Free({&s[4], 1}, 10);

  EXPECT_EQ(a.ReleaseDurable(4), 2u);
  EXPECT_FALSE(a.IsUsed(s[1]));
  EXPECT_FALSE(a.IsUsed(s[3]));
  EXPECT_TRUE(a.IsUsed(s[0]));
  EXPECT_TRUE(a.IsUsed(s[2]));
  EXPECT_TRUE(a.IsUsed(s[4]));

  EXPECT_EQ(a.ReleaseDurable(10), 2u);
  EXPECT_FALSE(a.IsUsed(s[0]));
  EXPECT_FALSE(a.IsUsed(s[4]));
  EXPECT_TRUE(a.IsUsed(s[2]));
  EXPECT_TRUE(a.HasQuarantine());

  EXPECT_EQ(a.ReleaseDurable(12), 1u);
  EXPECT_FALSE(a.IsUsed(s[2]));
  EXPECT_FALSE(a.HasQuarantine());
  EXPECT_EQ(a.usage().used, 0u);
}

TEST(AllocatorTest, FreeOfSeveralSlotsAtOnceQuarantinesAll) {
  Allocator a(100, 1);
  std::vector<SlotId> s;
  for (int i = 0; i < 10; ++i) s.push_back(SlotId(Take(a)));
  a.Free(s, 1);
  EXPECT_EQ(a.usage().quarantined, 10u);
  EXPECT_EQ(a.usage().used, 0u);
  EXPECT_EQ(a.usage().free, 90u);
  EXPECT_EQ(a.ReleaseDurable(1), 10u);
  EXPECT_EQ(a.usage().free, 100u);
}

TEST(AllocatorTest, FreeOfEmptySpanIsANoOp) {
  Allocator a(10);
  a.Free({}, 3);
  a.FreeNow({});
  EXPECT_FALSE(a.HasQuarantine());
  EXPECT_EQ(a.usage().free, 10u);
}

TEST(AllocatorTest, FreeNowReturnsSlotImmediately) {
  Allocator a(3, 1);
  ASSERT_EQ(Drain(a).size(), 3u);
  SlotId s(1);
  a.FreeNow({&s, 1});
  EXPECT_FALSE(a.IsUsed(s));
  EXPECT_FALSE(a.HasQuarantine());
  EXPECT_EQ(a.usage().free, 1u);
  EXPECT_EQ(a.usage().quarantined, 0u);
  EXPECT_EQ(Take(a, s), 1u);
}

TEST(AllocatorTest, MarkUsedSlotCanBeFreedAndReallocated) {
  // Rebuild then delete: slots from MarkUsed go through quarantine too.
  Allocator a(100, 1);
  ASSERT_TRUE(a.MarkUsed(SlotId(10), 3).ok());
  std::vector<SlotId> s = {SlotId(10), SlotId(11), SlotId(12)};
  a.Free(s, 1);
  EXPECT_EQ(a.ReleaseDurable(1), 3u);
  EXPECT_EQ(Take(a, SlotId(11)), 11u);
  EXPECT_EQ(a.usage().used, 1u);
}

// Slot counts that are not a multiple of 64 leave unused bits in the last
// word of the bitmap; they must never be handed out.
class OddSlotCountTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(OddSlotCountTest, NeverHandsOutSlotAtOrBeyondSlotCount) {
  const uint64_t n = GetParam();
  for (uint64_t stride : {uint64_t{1}, uint64_t{7}, uint64_t{64}}) {
    SCOPED_TRACE(stride);
    Allocator a(n, stride);
    std::vector<uint64_t> got = Drain(a);
    EXPECT_EQ(got.size(), n);
    std::set<uint64_t> distinct(got.begin(), got.end());
    EXPECT_EQ(distinct.size(), n);
    if (!distinct.empty()) {
      EXPECT_EQ(*distinct.rbegin(), n - 1);
    }
    EXPECT_EQ(a.usage().free, 0u);
  }
}

TEST_P(OddSlotCountTest, HintsInTheBitmapTailAreRefused) {
  const uint64_t n = GetParam();
  Allocator a(n, 1);
  const uint64_t tail_end = (n + 63) / 64 * 64;
  uint64_t handed_out = 0;
  for (uint64_t h = n; h < tail_end; ++h) {
    auto r = a.Allocate(SlotId(h));
    if (handed_out == n) {
      EXPECT_EQ(r.status().code(), ENOSPC) << "hint " << h;
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_LT(r->value, n) << "hint " << h;
    ++handed_out;
  }
}

TEST_P(OddSlotCountTest, CursorNearTheEndWrapsInsteadOfOverrunning) {
  const uint64_t n = GetParam();
  Allocator a(n, 1);
  if (n > 1) {
    ASSERT_TRUE(a.MarkUsed(SlotId(0), n - 1).ok());
  }
  EXPECT_EQ(Take(a), n - 1);
  EXPECT_EQ(a.Allocate(std::nullopt).status().code(), ENOSPC);
}

INSTANTIATE_TEST_SUITE_P(SlotCounts, OddSlotCountTest,
                         ::testing::Values(1, 2, 63, 65, 70, 127, 129, 1000));

TEST(AllocatorTest, ConcurrentAllocateFromEightThreadsNeverDuplicates) {
  constexpr uint64_t kSlots = 4096 + 37;
  Allocator a(kSlots, 64);
  constexpr int kThreads = 8;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      std::optional<SlotId> hint;
      for (;;) {
        // Mix hinted (contiguous growth) and unhinted allocations.
        auto r = a.Allocate(hint);
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), ENOSPC);
          return;
        }
        got[t].push_back(r->value);
        hint = got[t].size() % 5 == 0 ? std::nullopt
                                       : std::optional<SlotId>(SlotId(r->value + 1));
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  size_t total = 0;
  for (const auto& v : got) {
    total += v.size();
    for (uint64_t s : v) {
      EXPECT_LT(s, kSlots);
      EXPECT_TRUE(all.insert(s).second) << "slot " << s << " handed out twice";
    }
  }
  EXPECT_EQ(total, kSlots);
  EXPECT_EQ(a.usage().used, kSlots);
  EXPECT_EQ(a.usage().free, 0u);
}

TEST(AllocatorTest, ConcurrentAllocateFreeAndReleaseKeepsAccountingExact) {
  constexpr uint64_t kSlots = 512;
  Allocator a(kSlots, 8);
  constexpr int kThreads = 8, kRounds = 2000;
  std::atomic<uint64_t> seq{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<SlotId> mine;
      for (int i = 0; i < kRounds; ++i) {
        auto r = a.Allocate(std::nullopt);
        if (r.ok()) mine.push_back(r.value());
        if (mine.size() > 16) {
          if (t % 2 == 0) {
            a.Free(mine, seq.fetch_add(1) + 1);
          } else {
            a.FreeNow(mine);
          }
          mine.clear();
        }
        if (i % 50 == 0) a.ReleaseDurable(seq.load());
      }
      a.FreeNow(mine);
    });
  }
  for (auto& th : threads) th.join();
  a.ReleaseDurable(UINT64_MAX);
  Allocator::Usage u = a.usage();
  EXPECT_EQ(u.quarantined, 0u);
  EXPECT_EQ(u.used, 0u);
  EXPECT_EQ(u.free, kSlots);
  for (uint64_t i = 0; i < kSlots; ++i) EXPECT_FALSE(a.IsUsed(SlotId(i))) << i;
}

}  // namespace
}  // namespace slotfs::meta
