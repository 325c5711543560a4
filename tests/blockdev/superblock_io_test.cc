// Tests for reading and writing both superblock copies, including damage to
// one or both copies, disagreement and I/O errors.
#include "blockdev/superblock_io.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "blockdev/aligned_buffer.h"
#include "testing/fault_device.h"

namespace slotfs::blockdev {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kDevSize = 16 * kMiB;

void ExpectContains(const Status& st, const std::string& needle) {
  EXPECT_NE(st.message().find(needle), std::string::npos)
      << "message: " << st.message() << "\nexpected: " << needle;
}

class SuperblockIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sb = PlanGeometry(dev_->size(), kMiB);
    ASSERT_TRUE(sb.ok()) << sb.status().ToString();
    sb_ = *sb;
  }

  // Flips one byte of the copy at `offset`.
  void Corrupt(uint64_t offset) {
    AlignedBuffer buf(kIoAlign);
    ASSERT_TRUE(dev_->Read(DevOffset(offset), buf.data(), kIoAlign).ok());
    buf.data()[200] ^= 0x5A;
    ASSERT_TRUE(dev_->Write(DevOffset(offset), buf.data(), kIoAlign).ok());
  }

  std::unique_ptr<Device> dev_ = NewMemoryDevice(kDevSize);
  Superblock sb_;
};

TEST_F(SuperblockIoTest, WriteThenReadFindsBothCopies) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  auto r = ReadSuperblocks(*dev_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->copy_ok[0]);
  EXPECT_TRUE(r->copy_ok[1]);
  EXPECT_TRUE(r->copy_error[0].ok());
  EXPECT_TRUE(r->sb.SameGeometry(sb_));
  EXPECT_EQ(r->sb.copy_index, 0u);
  EXPECT_EQ(r->sb.created_unix_ns, sb_.created_unix_ns);
}

TEST_F(SuperblockIoTest, EachCopyRecordsItsOwnIndex) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  for (int copy = 0; copy < 2; ++copy) {
    AlignedBuffer buf(kSuperblockSize);
    const uint64_t off =
        copy == 0 ? kSuperblockCopy0Offset : kSuperblockCopy1Offset;
    ASSERT_TRUE(dev_->Read(DevOffset(off), buf.data(), kSuperblockSize).ok());
    auto sb = DecodeSuperblock(
        std::span<const uint8_t, kSuperblockSize>(buf.data(), kSuperblockSize));
    ASSERT_TRUE(sb.ok());
    EXPECT_EQ(sb->copy_index, static_cast<uint32_t>(copy));
  }
}

TEST_F(SuperblockIoTest, WriteSuperblocksFlushes) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  EXPECT_EQ(dev_->counters().flushes.load(), 2u);  // one per copy
}

TEST_F(SuperblockIoTest, Copy0CorruptedReadsFromCopy1) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Corrupt(kSuperblockCopy0Offset);
  auto r = ReadSuperblocks(*dev_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->copy_ok[0]);
  EXPECT_TRUE(r->copy_ok[1]);
  EXPECT_EQ(r->copy_error[0].code(), EUCLEAN);
  ExpectContains(r->copy_error[0], "checksum mismatch");
  EXPECT_TRUE(r->sb.SameGeometry(sb_));
  EXPECT_EQ(r->sb.copy_index, 1u);
}

TEST_F(SuperblockIoTest, Copy1CorruptedReadsFromCopy0) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Corrupt(kSuperblockCopy1Offset);
  auto r = ReadSuperblocks(*dev_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->copy_ok[0]);
  EXPECT_FALSE(r->copy_ok[1]);
  EXPECT_TRUE(r->sb.SameGeometry(sb_));
}

TEST_F(SuperblockIoTest, BothCopiesCorruptedIsEucleanNamingBothFaults) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Corrupt(kSuperblockCopy0Offset);
  AlignedBuffer zero(kIoAlign);
  ASSERT_TRUE(
      dev_->Write(DevOffset(kSuperblockCopy1Offset), zero.data(), kIoAlign)
          .ok());
  auto r = ReadSuperblocks(*dev_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN);
  ExpectContains(r.status(), "no valid superblock");
  ExpectContains(r.status(), "copy 0: checksum mismatch");
  ExpectContains(r.status(), "copy 1: bad magic");
  ExpectContains(r.status(), "slotfs format");
  ExpectContains(r.status(), "slotfs check --repair");
}

TEST_F(SuperblockIoTest, BlankDeviceIsEuclean) {
  auto r = ReadSuperblocks(*dev_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN);
  ExpectContains(r.status(), "bad magic");
}

TEST_F(SuperblockIoTest, DeviceTooSmallForCopy1StillReadsCopy0Error) {
  auto small = NewMemoryDevice(256 * 1024);
  auto r = ReadSuperblocks(*small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN);
  ExpectContains(r.status(), "copy 1: device of 262144 bytes is too small");
}

TEST_F(SuperblockIoTest, CopiesThatDisagreeAreEuclean) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Superblock other = sb_;
  other.uuid = NewUuid();
  ASSERT_TRUE(WriteSuperblockCopy(*dev_, other, 1).ok());
  auto r = ReadSuperblocks(*dev_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN);
  ExpectContains(r.status(), "disagree");
  ExpectContains(r.status(), UuidToString(sb_.uuid));
  ExpectContains(r.status(), UuidToString(other.uuid));
}

TEST_F(SuperblockIoTest, CopiesDifferingOnlyInCreationTimeAgree) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Superblock other = sb_;
  other.created_unix_ns += 1;
  ASSERT_TRUE(WriteSuperblockCopy(*dev_, other, 1).ok());
  EXPECT_TRUE(ReadSuperblocks(*dev_).ok());
}

TEST_F(SuperblockIoTest, RepairingOneCopyRestoresIt) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  Corrupt(kSuperblockCopy0Offset);
  auto r = ReadSuperblocks(*dev_);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(WriteSuperblockCopy(*dev_, r->sb, 0).ok());
  auto again = ReadSuperblocks(*dev_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->copy_ok[0]);
  EXPECT_EQ(again->sb.copy_index, 0u);
}

TEST_F(SuperblockIoTest, TruncatedDeviceIsEuclean) {
  ASSERT_TRUE(WriteSuperblocks(*dev_, sb_).ok());
  auto shorter = NewMemoryDevice(kDevSize / 2);
  AlignedBuffer header(kHeaderRegionSize);
  ASSERT_TRUE(dev_->Read(DevOffset(0), header.data(), kHeaderRegionSize).ok());
  ASSERT_TRUE(
      shorter->Write(DevOffset(0), header.data(), kHeaderRegionSize).ok());
  auto r = ReadSuperblocks(*shorter);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EUCLEAN);
  ExpectContains(r.status(), "truncated");
}

TEST_F(SuperblockIoTest, WriteSuperblockCopyRejectsABadIndex) {
  EXPECT_EQ(WriteSuperblockCopy(*dev_, sb_, 2).code(), EINVAL);
  EXPECT_EQ(WriteSuperblockCopy(*dev_, sb_, -1).code(), EINVAL);
}

TEST_F(SuperblockIoTest, ImpossibleSuperblockIsNeverWritten) {
  Superblock bad = sb_;
  bad.slot_count = 0;
  Status st = WriteSuperblocks(*dev_, bad);
  EXPECT_EQ(st.code(), EINVAL);
  ExpectContains(st, "impossible geometry");
  EXPECT_EQ(dev_->counters().writes.load(), 0u);
}

TEST_F(SuperblockIoTest, SuperblockLargerThanDeviceIsNotWritten) {
  auto big = PlanGeometry(2 * kDevSize, kMiB);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(WriteSuperblocks(*dev_, *big).code(), EINVAL);
  EXPECT_EQ(dev_->counters().writes.load(), 0u);
}

TEST_F(SuperblockIoTest, ReadErrorOnOneCopyIsRecordedAndTheOtherUsed) {
  auto fault = std::make_unique<FaultInjectingDevice>(std::move(dev_));
  ASSERT_TRUE(WriteSuperblocks(*fault, sb_).ok());
  fault->FailReadsIn(DevOffset(kSuperblockCopy0Offset), kSuperblockSize);
  auto r = ReadSuperblocks(*fault);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->copy_ok[0]);
  EXPECT_EQ(r->copy_error[0].code(), EIO);
  EXPECT_TRUE(r->sb.SameGeometry(sb_));
}

TEST_F(SuperblockIoTest, ReadErrorsOnBothCopiesAreEio) {
  auto fault = std::make_unique<FaultInjectingDevice>(std::move(dev_));
  ASSERT_TRUE(WriteSuperblocks(*fault, sb_).ok());
  fault->FailReadsIn(DevOffset(0), kHeaderRegionSize);
  auto r = ReadSuperblocks(*fault);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EIO);
}

TEST_F(SuperblockIoTest, FlushFailureFailsTheWrite) {
  auto fault = std::make_unique<FaultInjectingDevice>(std::move(dev_));
  fault->FailNextFlush(1);
  EXPECT_EQ(WriteSuperblocks(*fault, sb_).code(), EIO);
}

}  // namespace
}  // namespace slotfs::blockdev
