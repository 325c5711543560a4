// Tests for Device's argument checking and counters (on the memory device),
// and for engine-name parsing.
#include "blockdev/device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "tests/blockdev/test_util.h"

namespace slotfs::blockdev {
namespace {

using testing::FillPattern;
using testing::FirstPatternMismatch;

constexpr uint64_t kDevSize = 1024 * 1024;

class DeviceValidationTest : public ::testing::Test {
 protected:
  void ExpectRejected(const Status& st, int code, const std::string& needle) {
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_NE(st.message().find(needle), std::string::npos)
        << "message: " << st.message() << "\nexpected: " << needle;
    EXPECT_NE(st.message().find("memory"), std::string::npos)
        << "message should name the device: " << st.message();
  }

  std::unique_ptr<Device> dev_ = NewMemoryDevice(kDevSize);
  AlignedBuffer buf_{2 * kIoAlign};
};

TEST_F(DeviceValidationTest, MemoryDeviceReportsItself) {
  EXPECT_STREQ(dev_->engine_name(), "memory");
  EXPECT_EQ(dev_->path(), "memory");
  EXPECT_EQ(dev_->size(), kDevSize);
  EXPECT_FALSE(dev_->is_block_device());
  EXPECT_FALSE(dev_->read_only());
}

TEST_F(DeviceValidationTest, MemoryDeviceSizeIsRoundedDown) {
  EXPECT_EQ(NewMemoryDevice(kDevSize + 100)->size(), kDevSize);
}

TEST_F(DeviceValidationTest, MisalignedOffsetIsEinval) {
  ExpectRejected(dev_->Read(DevOffset(512), buf_.data(), kIoAlign), EINVAL,
                 "offset not a multiple of 4096");
}

TEST_F(DeviceValidationTest, MisalignedLengthIsEinval) {
  ExpectRejected(dev_->Write(DevOffset(0), buf_.data(), 100), EINVAL,
                 "length not a multiple of 4096");
}

TEST_F(DeviceValidationTest, MisalignedBufferIsEinval) {
  ExpectRejected(dev_->Read(DevOffset(0), buf_.data() + 8, kIoAlign), EINVAL,
                 "buffer address not 4096-byte aligned");
}

TEST_F(DeviceValidationTest, ZeroLengthIsEinval) {
  ExpectRejected(dev_->Read(DevOffset(0), buf_.data(), 0), EINVAL,
                 "zero length");
}

TEST_F(DeviceValidationTest, NullBufferIsEinval) {
  ExpectRejected(dev_->Read(DevOffset(0), nullptr, kIoAlign), EINVAL,
                 "null buffer");
}

TEST_F(DeviceValidationTest, OpEndingPastDeviceEndIsEinval) {
  ExpectRejected(
      dev_->Read(DevOffset(kDevSize - kIoAlign), buf_.data(), 2 * kIoAlign),
      EINVAL, "beyond the end of the device");
}

TEST_F(DeviceValidationTest, OpStartingAtDeviceEndIsEinval) {
  ExpectRejected(dev_->Write(DevOffset(kDevSize), buf_.data(), kIoAlign),
                 EINVAL, "beyond the end of the device");
}

TEST_F(DeviceValidationTest, OffsetThatWouldWrapIsEinval) {
  const uint64_t huge = AlignDown(~uint64_t{0}, kIoAlign);
  ExpectRejected(dev_->Read(DevOffset(huge), buf_.data(), kIoAlign), EINVAL,
                 "beyond the end of the device");
}

TEST_F(DeviceValidationTest, LastBlockIsInBounds) {
  EXPECT_TRUE(
      dev_->Write(DevOffset(kDevSize - kIoAlign), buf_.data(), kIoAlign).ok());
}

TEST_F(DeviceValidationTest, MessageNamesTheOffendingOpInABatch) {
  std::vector<IoOp> ops = {
      {IoOp::Kind::kRead, DevOffset(0), buf_.data(), kIoAlign},
      {IoOp::Kind::kWrite, DevOffset(4096 + 512), buf_.data(), kIoAlign},
  };
  ExpectRejected(dev_->Run(ops), EINVAL,
                 "write op 1 of 2 (offset 4608, length 4096)");
}

TEST_F(DeviceValidationTest, RejectedBatchIssuesNothing) {
  AlignedBuffer data(kIoAlign);
  FillPattern(data.data(), kIoAlign, 1, 0);
  std::vector<IoOp> ops = {
      {IoOp::Kind::kWrite, DevOffset(0), data.data(), kIoAlign},
      {IoOp::Kind::kWrite, DevOffset(kDevSize), data.data(), kIoAlign},
  };
  ASSERT_EQ(dev_->Run(ops).code(), EINVAL);
  AlignedBuffer back(kIoAlign);
  ASSERT_TRUE(dev_->Read(DevOffset(0), back.data(), kIoAlign).ok());
  for (size_t i = 0; i < kIoAlign; ++i) ASSERT_EQ(back.data()[i], 0) << i;
  EXPECT_EQ(dev_->counters().writes.load(), 0u);
}

TEST_F(DeviceValidationTest, EmptyBatchIsOk) {
  EXPECT_TRUE(dev_->Run({}).ok());
}

TEST_F(DeviceValidationTest, CountersCountOpsBytesFlushesAndErrors) {
  ASSERT_TRUE(dev_->Write(DevOffset(0), buf_.data(), 2 * kIoAlign).ok());
  ASSERT_TRUE(dev_->Read(DevOffset(0), buf_.data(), kIoAlign).ok());
  ASSERT_TRUE(dev_->Read(DevOffset(kIoAlign), buf_.data(), kIoAlign).ok());
  ASSERT_TRUE(dev_->Flush().ok());
  EXPECT_EQ(dev_->Read(DevOffset(1), buf_.data(), kIoAlign).code(), EINVAL);
  const DeviceCounters& c = dev_->counters();
  EXPECT_EQ(c.writes.load(), 1u);
  EXPECT_EQ(c.bytes_written.load(), 2 * kIoAlign);
  EXPECT_EQ(c.reads.load(), 2u);
  EXPECT_EQ(c.bytes_read.load(), 2 * kIoAlign);
  EXPECT_EQ(c.flushes.load(), 1u);
  EXPECT_EQ(c.errors.load(), 1u);
}

TEST(MemoryDeviceTest, WritesAreReadBackAcrossABatch) {
  auto dev = NewMemoryDevice(kDevSize);
  std::vector<AlignedBuffer> bufs;
  std::vector<IoOp> ops;
  for (uint64_t i = 0; i < 16; ++i) {
    bufs.emplace_back(kIoAlign * (1 + i % 3));
    FillPattern(bufs.back().data(), bufs.back().size(), 7, i * 16 * kIoAlign);
    ops.push_back({IoOp::Kind::kWrite, DevOffset(i * 16 * kIoAlign),
                   bufs.back().data(), bufs.back().size()});
  }
  ASSERT_TRUE(dev->Run(ops).ok());
  for (auto& op : ops) {
    AlignedBuffer back(op.len);
    ASSERT_TRUE(dev->Read(op.offset, back.data(), op.len).ok());
    EXPECT_EQ(FirstPatternMismatch(back.data(), op.len, 7, op.offset.value),
              -1);
  }
}

TEST(EngineNameTest, ParseAcceptsEachNameAndRoundTrips) {
  for (Engine e : {Engine::kAuto, Engine::kUring, Engine::kPosix}) {
    auto parsed = ParseEngine(EngineName(e));
    ASSERT_TRUE(parsed.ok()) << EngineName(e);
    EXPECT_EQ(*parsed, e);
  }
}

TEST(EngineNameTest, ParseRejectsUnknownName) {
  auto parsed = ParseEngine("libaio");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), EINVAL);
  EXPECT_NE(parsed.status().message().find("libaio"), std::string::npos);
}

}  // namespace
}  // namespace slotfs::blockdev
