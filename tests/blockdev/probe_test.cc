// Tests for ProbeExistingData: each recognised signature, slotfs copies,
// unrecognised data and blank devices.
#include "blockdev/probe.h"

#include <gtest/gtest.h>

#include <cstring>

#include "blockdev/aligned_buffer.h"
#include "blockdev/format.h"
#include "blockdev/superblock_io.h"
#include "tests/blockdev/test_util.h"

namespace slotfs::blockdev {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// Writes `len` bytes of `bytes` at `offset` on `dev` (read-modify-write of
// the surrounding aligned block).
void Poke(Device& dev, uint64_t offset, const void* bytes, size_t len) {
  const uint64_t start = AlignDown(offset, kIoAlign);
  const size_t span = AlignUp(offset + len, kIoAlign) - start;
  AlignedBuffer buf(span);
  ASSERT_TRUE(dev.Read(DevOffset(start), buf.data(), span).ok());
  std::memcpy(buf.data() + (offset - start), bytes, len);
  ASSERT_TRUE(dev.Write(DevOffset(start), buf.data(), span).ok());
}

void PokeString(Device& dev, uint64_t offset, const char* s) {
  Poke(dev, offset, s, std::strlen(s));
}

std::string Probe(Device& dev) {
  auto r = ProbeExistingData(dev);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "<error>";
}

TEST(ProbeTest, AllZeroDeviceIsUnused) {
  auto dev = NewMemoryDevice(4 * kMiB);
  EXPECT_EQ(Probe(*dev), "");
}

TEST(ProbeTest, DeviceSmallerThanTheProbeWindowIsReadSafely) {
  auto dev = NewMemoryDevice(8192);
  EXPECT_EQ(Probe(*dev), "");
  PokeString(*dev, 4000, "x");
  EXPECT_EQ(Probe(*dev), "unrecognised data in the first 64 KiB");
}

TEST(ProbeTest, EmptyDeviceIsUnused) {
  auto dev = NewMemoryDevice(0);
  EXPECT_EQ(Probe(*dev), "");
}

TEST(ProbeTest, RecognisesSlotfsWithItsUuid) {
  auto dev = NewMemoryDevice(4 * kMiB);
  auto sb = PlanGeometry(dev->size(), kMiB);
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE(WriteSuperblocks(*dev, *sb).ok());
  EXPECT_EQ(Probe(*dev),
            "slotfs filesystem (uuid " + UuidToString(sb->uuid) + ")");
}

TEST(ProbeTest, RecognisesSlotfsFromCopy1WhenCopy0IsDestroyed) {
  auto dev = NewMemoryDevice(4 * kMiB);
  auto sb = PlanGeometry(dev->size(), kMiB);
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE(WriteSuperblocks(*dev, *sb).ok());
  AlignedBuffer zero(kIoAlign);
  ASSERT_TRUE(dev->Write(DevOffset(0), zero.data(), kIoAlign).ok());
  EXPECT_EQ(Probe(*dev), "slotfs filesystem (uuid " + UuidToString(sb->uuid) +
                             ", superblock copy 0 damaged)");
}

TEST(ProbeTest, SlotfsWithBothCopiesCorruptIsStillNotUnused) {
  auto dev = NewMemoryDevice(4 * kMiB);
  auto sb = PlanGeometry(dev->size(), kMiB);
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE(WriteSuperblocks(*dev, *sb).ok());
  PokeString(*dev, 100, "junk");
  PokeString(*dev, kSuperblockCopy1Offset + 100, "junk");
  EXPECT_EQ(Probe(*dev), "slotfs filesystem with damaged superblocks");
}

TEST(ProbeTest, RecognisesGpt) {
  auto dev = NewMemoryDevice(4 * kMiB);
  const uint8_t mbr_sig[2] = {0x55, 0xAA};
  const uint8_t protective_type = 0xEE;
  Poke(*dev, 446 + 4, &protective_type, 1);
  Poke(*dev, 510, mbr_sig, 2);
  PokeString(*dev, 512, "EFI PART");
  EXPECT_EQ(Probe(*dev), "GPT partition table");
}

TEST(ProbeTest, RecognisesGptOn4KSectorDisk) {
  auto dev = NewMemoryDevice(4 * kMiB);
  PokeString(*dev, 4096, "EFI PART");
  EXPECT_EQ(Probe(*dev), "GPT partition table");
}

TEST(ProbeTest, RecognisesMbrWithAPartition) {
  auto dev = NewMemoryDevice(4 * kMiB);
  const uint8_t mbr_sig[2] = {0x55, 0xAA};
  const uint8_t linux_type = 0x83;
  Poke(*dev, 446 + 16 + 4, &linux_type, 1);  // second entry
  Poke(*dev, 510, mbr_sig, 2);
  EXPECT_EQ(Probe(*dev), "MBR partition table");
}

TEST(ProbeTest, MbrSignatureWithEmptyTableIsUnrecognisedData) {
  auto dev = NewMemoryDevice(4 * kMiB);
  const uint8_t mbr_sig[2] = {0x55, 0xAA};
  Poke(*dev, 510, mbr_sig, 2);
  EXPECT_EQ(Probe(*dev), "unrecognised data in the first 64 KiB");
}

TEST(ProbeTest, RecognisesExtMagic) {
  auto dev = NewMemoryDevice(4 * kMiB);
  const uint8_t magic[2] = {0x53, 0xEF};
  Poke(*dev, 1080, magic, 2);
  EXPECT_EQ(Probe(*dev), "ext2 filesystem");
  const uint8_t extents[4] = {0x40, 0, 0, 0};
  Poke(*dev, 1024 + 0x60, extents, 4);
  EXPECT_EQ(Probe(*dev), "ext4 filesystem");
}

TEST(ProbeTest, RecognisesXfs) {
  auto dev = NewMemoryDevice(4 * kMiB);
  PokeString(*dev, 0, "XFSB");
  EXPECT_EQ(Probe(*dev), "xfs filesystem");
}

TEST(ProbeTest, RecognisesBtrfs) {
  auto dev = NewMemoryDevice(4 * kMiB);
  PokeString(*dev, 65536 + 64, "_BHRfS_M");
  EXPECT_EQ(Probe(*dev), "btrfs filesystem");
}

TEST(ProbeTest, RecognisesBothSwapSignatures) {
  for (const char* sig : {"SWAPSPACE2", "SWAP-SPACE"}) {
    auto dev = NewMemoryDevice(4 * kMiB);
    PokeString(*dev, 4086, sig);
    EXPECT_EQ(Probe(*dev), "swap space") << sig;
  }
}

TEST(ProbeTest, NonZeroByteInFirst64KiBIsUnrecognisedData) {
  auto dev = NewMemoryDevice(4 * kMiB);
  PokeString(*dev, 65535, "x");
  EXPECT_EQ(Probe(*dev), "unrecognised data in the first 64 KiB");
}

TEST(ProbeTest, DataOnlyBeyond64KiBCountsAsUnused) {
  auto dev = NewMemoryDevice(4 * kMiB);
  PokeString(*dev, 65536, "x");
  EXPECT_EQ(Probe(*dev), "");
}

TEST(ProbeTest, RecognisesExt4MadeByMkfs) {
  std::string out;
  if (testing::RunCommand("command -v mkfs.ext4", &out) != 0 || out.empty()) {
    GTEST_SKIP() << "*** SKIPPED: mkfs.ext4 not found (install e2fsprogs) ***";
  }
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string image = dir.File("ext4.img");
  ASSERT_TRUE(testing::MakeImage(image, 32 * kMiB));
  ASSERT_EQ(testing::RunCommand("mkfs.ext4 -q -F " + image + " 2>&1", &out), 0)
      << out;
  auto dev = OpenDevice(image, DeviceOptions{});
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ(Probe(**dev), "ext4 filesystem");
}

}  // namespace
}  // namespace slotfs::blockdev
