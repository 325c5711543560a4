// core::SlotMap: the checksum-coverage rule, with no device.
#include "core/slot_map.h"

#include <gtest/gtest.h>

#include <vector>

namespace slotfs::core {
namespace {

constexpr uint64_t kSlot = 64 * 1024;

// A map of `n` committed slots (phys 100 + l) sealed at `size`.
SlotMap Committed(uint64_t n, uint64_t size) {
  std::vector<meta::Extent> ext{{0, SlotId(100), n, std::vector<uint64_t>(n, 7)}};
  return SlotMap::FromExtents(kSlot, size, ext);
}

TEST(SlotMapTest, PayloadIsTheFileBytesInTheSlot) {
  SlotMap m(kSlot);
  EXPECT_EQ(m.Payload(0, 0), 0u);
  EXPECT_EQ(m.Payload(5, 0), 5u);
  EXPECT_EQ(m.Payload(kSlot + 1, 0), kSlot);
  EXPECT_EQ(m.Payload(kSlot + 1, 1), 1u);
  EXPECT_EQ(m.Payload(kSlot + 1, 2), 0u);
  EXPECT_EQ(m.Payload(2 * kSlot, 1), kSlot);
}

TEST(SlotMapTest, GrowingPastAPartialCommittedSlotResealsIt) {
  // "hello", then one byte written in the next slot.
  SlotMap m = Committed(1, 5);
  auto r = m.ResealOnResize(5, kSlot + 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lslot, 0u);
  EXPECT_EQ(r[0].keep, 5u);
}

TEST(SlotMapTest, GrowingWithinThePartialSlotResealsIt) {
  SlotMap m = Committed(1, 5);
  auto r = m.ResealOnResize(5, 6);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].keep, 5u);
}

TEST(SlotMapTest, GrowingFromAFullSlotResealsNothing) {
  SlotMap m = Committed(2, 2 * kSlot);
  EXPECT_TRUE(m.ResealOnResize(2 * kSlot, 5 * kSlot + 3).empty());
}

TEST(SlotMapTest, ShrinkingIntoACommittedSlotResealsTheNewLastSlot) {
  SlotMap m = Committed(3, 3 * kSlot);
  auto r = m.ResealOnResize(3 * kSlot, kSlot + 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].lslot, 1u);
  EXPECT_EQ(r[0].keep, 10u);
  EXPECT_TRUE(m.ResealOnResize(3 * kSlot, kSlot).empty()) << "slot boundary: nothing partial";
}

TEST(SlotMapTest, DirtyAndUnmappedSlotsAreNeverResealed) {
  SlotMap m = Committed(1, 5);
  m[0].dirty = true;
  EXPECT_TRUE(m.ResealOnResize(5, kSlot + 1).empty());
  SlotMap holes(kSlot);
  holes.resize(3);
  EXPECT_TRUE(holes.ResealOnResize(5, 3 * kSlot).empty());
}

TEST(SlotMapTest, ReservedCommittedSlotsPastTheEndAreResealedWhenReached) {
  // Slots 0-2 committed with a size inside slot 0 (space reserved past the
  // end): growing into slot 2 changes the payload of slots 0, 1 and 2.
  SlotMap m = Committed(3, 5);
  auto r = m.ResealOnResize(5, 2 * kSlot + 1);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].keep, 5u);
  EXPECT_EQ(r[1].keep, 0u);
  EXPECT_EQ(r[2].keep, 0u);
}

TEST(SlotMapTest, CoverageHoldsOnlyAtTheSealedSize) {
  SlotMap m = Committed(2, kSlot + 5);
  EXPECT_TRUE(m.CoverageHolds(kSlot + 5));
  EXPECT_FALSE(m.CoverageHolds(kSlot + 6));
  EXPECT_FALSE(m.CoverageHolds(kSlot - 1));
  // A slot without a known checksum constrains nothing.
  m[1].csum_known = false;
  EXPECT_TRUE(m.CoverageHolds(kSlot + 6));
}

TEST(SlotMapTest, SealRecordsWhatTheChecksumCovers) {
  SlotMap m(kSlot);
  m.resize(1);
  m[0].phys = 4;
  m[0].dirty = true;
  m[0].hasher = std::make_shared<blockdev::SlotHasher>();
  m.Seal(0, 99, 17);
  EXPECT_TRUE(m[0].committed());
  EXPECT_EQ(m[0].csum, 99u);
  EXPECT_EQ(m[0].csum_len, 17u);
  EXPECT_EQ(m[0].hasher, nullptr);
  EXPECT_TRUE(m.CoverageHolds(17));
}

TEST(SlotMapTest, ExtentsRoundTripAndSplitAtDiscontinuities) {
  SlotMap m(kSlot);
  m.resize(5);
  const uint64_t phys[] = {10, 11, SlotRef::kNone, 20, 22};
  for (uint64_t l = 0; l < 5; ++l) {
    m[l].phys = phys[l];
    m[l].csum_known = m[l].mapped();
    m[l].csum = l;
  }
  auto ext = m.ToExtents();
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0], (meta::Extent{0, SlotId(10), 2, {0, 1}}));
  EXPECT_EQ(ext[1], (meta::Extent{3, SlotId(20), 1, {3}}));
  EXPECT_EQ(ext[2], (meta::Extent{4, SlotId(22), 1, {4}}));
  SlotMap back = SlotMap::FromExtents(kSlot, 4 * kSlot + 1, ext);
  ASSERT_EQ(back.size(), 5u);
  EXPECT_FALSE(back[2].mapped());
  EXPECT_EQ(back[4].csum_len, 1u);
  EXPECT_EQ(back.ToExtents(), ext);
}

TEST(SlotMapTest, HintKeepsAFileContiguous) {
  SlotMap m(kSlot);
  m.resize(3);
  EXPECT_FALSE(m.HintFor(1).has_value());
  m[0].phys = 40;
  EXPECT_EQ(m.HintFor(1)->value, 41u);
  m[0].phys = SlotRef::kNone;
  m[2].phys = 40;
  EXPECT_EQ(m.HintFor(1)->value, 39u);
}

TEST(SlotHasherTest, StreamingEqualsOneShot) {
  std::vector<uint8_t> bytes(100'000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
  std::fill(bytes.begin() + 1000, bytes.begin() + 71000, 0);
  blockdev::SlotHasher h;
  h.Update(bytes.data(), 1000);
  h.UpdateZeros(70000);
  h.Update(bytes.data() + 71000, bytes.size() - 71000);
  EXPECT_EQ(h.length(), bytes.size());
  EXPECT_EQ(h.Digest(), blockdev::SlotChecksum(bytes.data(), bytes.size()));
  EXPECT_NE(h.Digest(), blockdev::SlotChecksum(bytes.data(), bytes.size() - 1));
}

}  // namespace
}  // namespace slotfs::core
