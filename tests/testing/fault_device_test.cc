// Tests for FaultInjectingDevice: armed faults fail exactly the ops they
// cover with EIO, never reach the inner device, and leave other ops alone.
#include "testing/fault_device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "tests/blockdev/test_util.h"

namespace slotfs::blockdev {
namespace {

using testing::FillPattern;
using testing::FirstPatternMismatch;

constexpr uint64_t kRegion = 64 * 1024;
constexpr uint64_t kDevSize = 16 * kRegion;

class FaultDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = std::make_unique<FaultInjectingDevice>(NewMemoryDevice(kDevSize));
    // Region i holds pattern seed i.
    for (uint64_t i = 0; i < 4; ++i) {
      AlignedBuffer b(kRegion);
      FillPattern(b.data(), kRegion, i, i * kRegion);
      ASSERT_TRUE(
          dev_->inner().Write(DevOffset(i * kRegion), b.data(), kRegion).ok());
    }
  }

  bool RegionHolds(Device& d, uint64_t region, uint64_t seed) {
    AlignedBuffer b(kRegion);
    if (!d.Read(DevOffset(region * kRegion), b.data(), kRegion).ok())
      return false;
    return FirstPatternMismatch(b.data(), kRegion, seed, region * kRegion) ==
           -1;
  }

  std::unique_ptr<FaultInjectingDevice> dev_;
};

TEST_F(FaultDeviceTest, NameAndGeometryFollowTheInnerDevice) {
  EXPECT_STREQ(dev_->engine_name(), "fault(memory)");
  EXPECT_EQ(dev_->size(), kDevSize);
  EXPECT_EQ(dev_->path(), "memory");
}

TEST_F(FaultDeviceTest, ArmedReadRangeFailsWithEioAndOtherOpsAreServed) {
  dev_->FailReadsIn(DevOffset(2 * kRegion), kRegion);
  std::vector<AlignedBuffer> bufs;
  std::vector<IoOp> ops;
  for (uint64_t i = 0; i < 4; ++i) {
    bufs.emplace_back(kRegion);
    ops.push_back(
        {IoOp::Kind::kRead, DevOffset(i * kRegion), bufs[i].data(), kRegion});
  }
  Status st = dev_->Run(ops);
  EXPECT_EQ(st.code(), EIO) << st.ToString();
  EXPECT_NE(st.message().find("offset " + std::to_string(2 * kRegion)),
            std::string::npos)
      << st.message();
  for (uint64_t i = 0; i < 4; ++i) {
    if (i == 2) {
      EXPECT_NE(FirstPatternMismatch(bufs[i].data(), kRegion, i, i * kRegion),
                -1)
          << "the failed read must not have filled its buffer";
    } else {
      EXPECT_EQ(FirstPatternMismatch(bufs[i].data(), kRegion, i, i * kRegion),
                -1)
          << "region " << i;
    }
  }
  EXPECT_EQ(dev_->injected_failures(), 1u);
  EXPECT_EQ(dev_->counters().errors.load(), 1u);
}

TEST_F(FaultDeviceTest, OpPartlyOverlappingARangeFails) {
  dev_->FailReadsIn(DevOffset(kRegion + kRegion / 2), 4096);
  AlignedBuffer b(2 * kRegion);
  EXPECT_EQ(dev_->Read(DevOffset(0), b.data(), 2 * kRegion).code(), EIO);
  // Adjacent but not overlapping ops pass.
  EXPECT_TRUE(dev_->Read(DevOffset(0), b.data(), kRegion).ok());
  EXPECT_TRUE(
      dev_->Read(DevOffset(kRegion + kRegion / 2 + 4096), b.data(), 4096).ok());
  EXPECT_TRUE(
      dev_->Read(DevOffset(kRegion + kRegion / 2 - 4096), b.data(), 4096).ok());
}

TEST_F(FaultDeviceTest, ReadFaultsDoNotAffectWritesAndViceVersa) {
  dev_->FailReadsIn(DevOffset(0), kDevSize);
  AlignedBuffer b(kRegion);
  FillPattern(b.data(), kRegion, 9, 0);
  EXPECT_TRUE(dev_->Write(DevOffset(0), b.data(), kRegion).ok());
  dev_->ClearFaults();
  dev_->FailWritesIn(DevOffset(0), kDevSize);
  EXPECT_TRUE(dev_->Read(DevOffset(0), b.data(), kRegion).ok());
  EXPECT_EQ(FirstPatternMismatch(b.data(), kRegion, 9, 0), -1);
}

TEST_F(FaultDeviceTest, FailedWriteNeverReachesTheInnerDevice) {
  dev_->FailWritesIn(DevOffset(kRegion), kRegion);
  AlignedBuffer a(kRegion), b(kRegion);
  FillPattern(a.data(), kRegion, 100, 0);
  FillPattern(b.data(), kRegion, 101, kRegion);
  std::vector<IoOp> ops = {
      {IoOp::Kind::kWrite, DevOffset(0), a.data(), kRegion},
      {IoOp::Kind::kWrite, DevOffset(kRegion), b.data(), kRegion},
  };
  EXPECT_EQ(dev_->Run(ops).code(), EIO);
  EXPECT_TRUE(RegionHolds(dev_->inner(), 0, 100));
  EXPECT_TRUE(RegionHolds(dev_->inner(), 1, 1));  // unchanged
}

TEST_F(FaultDeviceTest, FailNextFlushFailsExactlyNFlushes) {
  dev_->FailNextFlush(2);
  EXPECT_EQ(dev_->Flush().code(), EIO);
  EXPECT_EQ(dev_->Flush().code(), EIO);
  EXPECT_TRUE(dev_->Flush().ok());
  EXPECT_EQ(dev_->injected_failures(), 2u);
}

TEST_F(FaultDeviceTest, FailAfterNWritesLetsNThroughThenFailsTheRest) {
  dev_->FailAfterNWrites(3);
  std::vector<AlignedBuffer> bufs;
  std::vector<IoOp> ops;
  for (uint64_t i = 0; i < 5; ++i) {
    bufs.emplace_back(kRegion);
    FillPattern(bufs[i].data(), kRegion, 50 + i, (8 + i) * kRegion);
    ops.push_back({IoOp::Kind::kWrite, DevOffset((8 + i) * kRegion),
                   bufs[i].data(), kRegion});
  }
  EXPECT_EQ(dev_->Run(ops).code(), EIO);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(RegionHolds(dev_->inner(), 8 + i, 50 + i), i < 3) << i;
  }
  EXPECT_EQ(dev_->Write(DevOffset(0), bufs[0].data(), kRegion).code(), EIO);
  AlignedBuffer r(kRegion);
  EXPECT_TRUE(dev_->Read(DevOffset(0), r.data(), kRegion).ok());
}

TEST_F(FaultDeviceTest, ClearFaultsDisarmsEverything) {
  dev_->FailReadsIn(DevOffset(0), kDevSize);
  dev_->FailWritesIn(DevOffset(0), kDevSize);
  dev_->FailNextFlush(5);
  dev_->FailAfterNWrites(0);
  dev_->ClearFaults();
  AlignedBuffer b(kRegion);
  EXPECT_TRUE(dev_->Read(DevOffset(0), b.data(), kRegion).ok());
  EXPECT_TRUE(dev_->Write(DevOffset(0), b.data(), kRegion).ok());
  EXPECT_TRUE(dev_->Flush().ok());
  EXPECT_EQ(dev_->injected_failures(), 0u);
}

TEST_F(FaultDeviceTest, ValidationStillAppliesThroughTheWrapper) {
  AlignedBuffer b(kRegion);
  EXPECT_EQ(dev_->Read(DevOffset(kDevSize), b.data(), kRegion).code(), EINVAL);
}

TEST(FaultDeviceOverIoUringTest, WrapsARealEngine) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string image = dir.File("f.img");
  ASSERT_TRUE(testing::MakeImage(image, 4 * 1024 * 1024));
  auto inner = OpenDevice(image, DeviceOptions{});
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  const std::string inner_name = (*inner)->engine_name();
  FaultInjectingDevice dev(std::move(inner).value());
  EXPECT_EQ(std::string(dev.engine_name()), "fault(" + inner_name + ")");
  dev.FailWritesIn(DevOffset(0), 4096);
  AlignedBuffer b(8192);
  std::vector<IoOp> ops = {
      {IoOp::Kind::kWrite, DevOffset(0), b.data(), 4096},
      {IoOp::Kind::kWrite, DevOffset(4096), b.data() + 4096, 4096},
  };
  EXPECT_EQ(dev.Run(ops).code(), EIO);
  EXPECT_EQ(dev.inner().counters().writes.load(), 1u);
}

}  // namespace
}  // namespace slotfs::blockdev
