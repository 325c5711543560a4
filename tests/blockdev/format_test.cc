// Tests for the on-disk format: superblock encode/decode and validation,
// geometry planning, UUIDs and Layout.
#include "blockdev/format.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>

namespace slotfs::blockdev {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

using Block = std::array<uint8_t, kSuperblockSize>;

Superblock SampleSuperblock() {
  auto sb = PlanGeometry(10 * kGiB, kDefaultSlotSize);
  EXPECT_TRUE(sb.ok()) << sb.status().ToString();
  return sb.value();
}

Block Encode(const Superblock& sb) {
  Block b;
  b.fill(0xEE);  // Encode must overwrite every byte
  EncodeSuperblock(sb, b);
  return b;
}

Result<Superblock> Decode(const Block& b) { return DecodeSuperblock(b); }

void ExpectCorrupt(const Result<Superblock>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "message: " << r.status().message() << "\nexpected: " << needle;
}

TEST(SuperblockTest, RoundTripPreservesEveryField) {
  Superblock sb = SampleSuperblock();
  sb.copy_index = 1;
  sb.created_unix_ns = 0x0123456789abcdefULL;
  auto got = Decode(Encode(sb));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->format_version, kFormatVersion);
  EXPECT_EQ(got->copy_index, 1u);
  EXPECT_EQ(got->uuid, sb.uuid);
  EXPECT_EQ(got->slot_size, sb.slot_size);
  EXPECT_EQ(got->slot_count, sb.slot_count);
  EXPECT_EQ(got->data_offset, sb.data_offset);
  EXPECT_EQ(got->device_size, sb.device_size);
  EXPECT_EQ(got->created_unix_ns, sb.created_unix_ns);
  EXPECT_TRUE(got->SameGeometry(sb));
}

TEST(SuperblockTest, EncodingIsLittleEndianAtDocumentedOffsets) {
  Superblock sb = SampleSuperblock();
  sb.slot_size = 0x10000;  // 64 KiB
  sb.slot_count = 0x0102030405ULL;
  sb.device_size = ~uint64_t{0};
  const Block b = Encode(sb);
  EXPECT_EQ(std::memcmp(b.data(), "SLOTFS\0\1", 8), 0);
  EXPECT_EQ(b[sb_offsets::kFormatVersion], kFormatVersion);
  EXPECT_EQ(b[sb_offsets::kFormatVersion + 1], 0);
  EXPECT_EQ(std::memcmp(b.data() + sb_offsets::kUuid, sb.uuid.data(), 16), 0);
  const uint8_t slot_size_le[8] = {0, 0, 1, 0, 0, 0, 0, 0};
  EXPECT_EQ(std::memcmp(b.data() + sb_offsets::kSlotSize, slot_size_le, 8), 0);
  const uint8_t count_le[8] = {5, 4, 3, 2, 1, 0, 0, 0};
  EXPECT_EQ(std::memcmp(b.data() + sb_offsets::kSlotCount, count_le, 8), 0);
  for (size_t i = sb_offsets::kReservedStart; i < sb_offsets::kChecksum; ++i) {
    ASSERT_EQ(b[i], 0) << "reserved byte " << i;
  }
}

TEST(SuperblockTest, ChecksumMismatchWhenAReservedByteFlips) {
  Block b = Encode(SampleSuperblock());
  b[1000] ^= 0x01;
  ExpectCorrupt(Decode(b), "checksum mismatch");
}

TEST(SuperblockTest, ChecksumMismatchWhenAGeometryByteFlips) {
  Block b = Encode(SampleSuperblock());
  b[sb_offsets::kSlotCount] ^= 0x80;
  ExpectCorrupt(Decode(b), "checksum mismatch");
}

TEST(SuperblockTest, ChecksumMismatchWhenTheChecksumItselfFlips) {
  Block b = Encode(SampleSuperblock());
  b[sb_offsets::kChecksum + 7] ^= 0xFF;
  ExpectCorrupt(Decode(b), "checksum mismatch");
}

TEST(SuperblockTest, BadMagic) {
  Block b = Encode(SampleSuperblock());
  b[0] = 'X';
  ExpectCorrupt(Decode(b), "bad magic");
}

TEST(SuperblockTest, AllZeroBlockIsBadMagic) {
  Block b{};
  ExpectCorrupt(Decode(b), "bad magic");
}

TEST(SuperblockTest, FormatVersionZeroIsRejected) {
  Superblock sb = SampleSuperblock();
  sb.format_version = 0;
  ExpectCorrupt(Decode(Encode(sb)),
                "unsupported format version 0 (this slotfs reads 1)");
}

TEST(SuperblockTest, FormatVersionTwoIsRejected) {
  Superblock sb = SampleSuperblock();
  sb.format_version = 2;
  ExpectCorrupt(Decode(Encode(sb)),
                "unsupported format version 2 (this slotfs reads 1)");
}

struct GeometryCase {
  const char* name;
  void (*mutate)(Superblock&);
  const char* needle;
};

void PrintTo(const GeometryCase& c, std::ostream* os) { *os << c.name; }

class ImpossibleGeometryTest : public ::testing::TestWithParam<GeometryCase> {};

TEST_P(ImpossibleGeometryTest, IsRejectedEvenWithAValidChecksum) {
  Superblock sb = SampleSuperblock();
  GetParam().mutate(sb);
  auto r = Decode(Encode(sb));
  ExpectCorrupt(r, "impossible geometry");
  ExpectCorrupt(r, GetParam().needle);
}

INSTANTIATE_TEST_SUITE_P(
    SuperblockTest, ImpossibleGeometryTest,
    ::testing::Values(
        GeometryCase{"SlotSizeNotPowerOfTwo",
                     [](Superblock& s) { s.slot_size = 3 * kMiB; },
                     "slot size 3145728"},
        GeometryCase{"SlotSizeZero", [](Superblock& s) { s.slot_size = 0; },
                     "slot size 0"},
        GeometryCase{"SlotSizeBelowMinimum",
                     [](Superblock& s) { s.slot_size = 4096; },
                     "slot size 4096"},
        GeometryCase{"SlotSizeAboveMaximum",
                     [](Superblock& s) { s.slot_size = 128 * kMiB; },
                     "slot size 134217728"},
        GeometryCase{"DataOffsetUnaligned",
                     [](Superblock& s) { s.data_offset += 512; },
                     "not a multiple of 4096"},
        GeometryCase{"DataOffsetInsideHeaderRegion",
                     [](Superblock& s) { s.data_offset = 512 * 1024; },
                     "overlaps the header region"},
        GeometryCase{"ZeroSlots", [](Superblock& s) { s.slot_count = 0; },
                     "slot count is 0"},
        GeometryCase{"SlotsPastDeviceEnd",
                     [](Superblock& s) { s.slot_count += 1; }, "do not fit"},
        GeometryCase{"SlotCountOverflows",
                     [](Superblock& s) { s.slot_count = ~uint64_t{0} / 2; },
                     "do not fit"},
        GeometryCase{
            "DataOffsetPastDeviceEnd",
            [](Superblock& s) { s.data_offset = s.device_size + 4096; },
            "do not fit"},
        GeometryCase{"CopyIndexTwo", [](Superblock& s) { s.copy_index = 2; },
                     "copy index 2"}),
    [](const ::testing::TestParamInfo<GeometryCase>& info) {
      return std::string(info.param.name);
    });

TEST(PlanGeometryTest, DefaultSlotSizeOnTenGiB) {
  auto sb = PlanGeometry(10 * kGiB, kDefaultSlotSize);
  ASSERT_TRUE(sb.ok()) << sb.status().ToString();
  EXPECT_EQ(sb->data_offset, kHeaderRegionSize);
  EXPECT_EQ(sb->slot_count, (10 * kGiB - kHeaderRegionSize) / kDefaultSlotSize);
  EXPECT_EQ(sb->device_size, 10 * kGiB);
  EXPECT_EQ(sb->format_version, kFormatVersion);
  EXPECT_EQ(sb->copy_index, 0u);
  EXPECT_NE(sb->created_unix_ns, 0u);
  EXPECT_NE(sb->uuid, Uuid{});
}

TEST(PlanGeometryTest, SlotLargerThanHeaderRegionStartsDataAtOneSlot) {
  auto sb = PlanGeometry(1 * kGiB, 64 * kMiB);
  ASSERT_TRUE(sb.ok()) << sb.status().ToString();
  EXPECT_EQ(sb->data_offset, 64 * kMiB);
  EXPECT_EQ(sb->slot_count, 15u);
}

TEST(PlanGeometryTest, SmallSlotsKeepTheHeaderRegion) {
  auto sb = PlanGeometry(2 * kMiB, kMinSlotSize);
  ASSERT_TRUE(sb.ok()) << sb.status().ToString();
  EXPECT_EQ(sb->data_offset, kHeaderRegionSize);
  EXPECT_EQ(sb->slot_count, kMiB / kMinSlotSize);
}

TEST(PlanGeometryTest, PartialTrailingSlotIsNotCounted) {
  auto sb = PlanGeometry(kHeaderRegionSize + 3 * kMiB - 4096, kMiB);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->slot_count, 2u);
}

TEST(PlanGeometryTest, ExactlyOneSlotFits) {
  auto sb = PlanGeometry(kHeaderRegionSize + kMiB, kMiB);
  ASSERT_TRUE(sb.ok()) << sb.status().ToString();
  EXPECT_EQ(sb->slot_count, 1u);
}

TEST(PlanGeometryTest, PlannedGeometryDecodes) {
  for (uint64_t slot = kMinSlotSize; slot <= kMaxSlotSize; slot *= 2) {
    auto sb = PlanGeometry(4 * kGiB + 12345 * 4096, slot);
    ASSERT_TRUE(sb.ok()) << slot;
    auto back = Decode(Encode(*sb));
    EXPECT_TRUE(back.ok()) << slot << ": " << back.status().ToString();
  }
}

TEST(PlanGeometryTest, TinyDevicesAreEnospc) {
  for (uint64_t size : {uint64_t{0}, uint64_t{4096}, kHeaderRegionSize,
                        kHeaderRegionSize + kMiB - 4096}) {
    auto sb = PlanGeometry(size, kMiB);
    ASSERT_FALSE(sb.ok()) << size;
    EXPECT_EQ(sb.status().code(), ENOSPC) << size;
    EXPECT_NE(sb.status().message().find("too small"), std::string::npos)
        << sb.status().message();
  }
  auto big_slot = PlanGeometry(100 * kMiB, 64 * kMiB);  // 64 MiB header + 36
  ASSERT_FALSE(big_slot.ok());
  EXPECT_EQ(big_slot.status().code(), ENOSPC);
}

TEST(PlanGeometryTest, BadSlotSizesAreEinval) {
  for (uint64_t slot :
       {uint64_t{0}, uint64_t{3}, uint64_t{4096}, kMinSlotSize / 2, kMiB + 4096,
        3 * kMiB, kMaxSlotSize * 2}) {
    auto sb = PlanGeometry(100 * kGiB, slot);
    ASSERT_FALSE(sb.ok()) << slot;
    EXPECT_EQ(sb.status().code(), EINVAL) << slot;
    EXPECT_NE(
        sb.status().message().find("invalid slot size " + std::to_string(slot)),
        std::string::npos)
        << sb.status().message();
    EXPECT_NE(sb.status().message().find("power of two"), std::string::npos);
  }
}

TEST(PlanGeometryTest, EachPlanGetsAFreshUuid) {
  auto a = PlanGeometry(kGiB, kMiB);
  auto b = PlanGeometry(kGiB, kMiB);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->uuid, b->uuid);
}

TEST(UuidTest, NewUuidHasVersion4AndRfc4122Variant) {
  for (int i = 0; i < 100; ++i) {
    const Uuid u = NewUuid();
    EXPECT_EQ(u[6] >> 4, 4);
    EXPECT_EQ(u[8] & 0xC0, 0x80);
  }
}

TEST(UuidTest, NewUuidsAreDistinct) {
  std::set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewUuid());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, StringRoundTrip) {
  for (int i = 0; i < 20; ++i) {
    const Uuid u = NewUuid();
    const std::string s = UuidToString(u);
    auto back = UuidFromString(s);
    ASSERT_TRUE(back.ok()) << s << ": " << back.status().ToString();
    EXPECT_EQ(*back, u);
  }
}

TEST(UuidTest, ToStringIsLowercase8444_12) {
  Uuid u;
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint8_t>(i * 17);
  EXPECT_EQ(UuidToString(u), "00112233-4455-6677-8899-aabbccddeeff");
}

TEST(UuidTest, FromStringAcceptsUppercase) {
  auto u = UuidFromString("00112233-4455-6677-8899-AABBCCDDEEFF");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(UuidToString(*u), "00112233-4455-6677-8899-aabbccddeeff");
}

TEST(UuidTest, FromStringRejectsMalformedInput) {
  for (const char* bad : {"", "not-a-uuid",
                          "00112233-4455-6677-8899-aabbccddeef",    // short
                          "00112233-4455-6677-8899-aabbccddeeff0",  // long
                          "001122334-455-6677-8899-aabbccddeeff",   // dash
                          "00112233-4455-6677-8899_aabbccddeeff",   // sep
                          "0011223g-4455-6677-8899-aabbccddeeff",   // hex
                          "00112233445566778899aabbccddeeff"}) {    // none
    auto u = UuidFromString(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().code(), EINVAL) << bad;
    EXPECT_NE(u.status().message().find(bad), std::string::npos)
        << u.status().message();
  }
}

TEST(LayoutTest, SlotOffsetsStartAtDataOffset) {
  Superblock sb = SampleSuperblock();
  Layout layout(sb);
  EXPECT_EQ(layout.SlotOffset(SlotId(0)), DevOffset(sb.data_offset));
  EXPECT_EQ(layout.SlotOffset(SlotId(5)),
            DevOffset(sb.data_offset + 5 * sb.slot_size));
  EXPECT_TRUE(layout.Contains(SlotId(sb.slot_count - 1)));
  EXPECT_FALSE(layout.Contains(SlotId(sb.slot_count)));
}

}  // namespace
}  // namespace slotfs::blockdev
