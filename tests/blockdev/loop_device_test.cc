// Tests on a real block device: a loop device over an image file. Needs
// root and loop support; skips loudly otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "blockdev/device.h"
#include "blockdev/probe.h"
#include "blockdev/superblock_io.h"
#include "tests/blockdev/test_util.h"

namespace slotfs::blockdev {
namespace {

using testing::FillPattern;
using testing::FirstPatternMismatch;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kImageSize = 64 * kMiB;

class LoopDeviceTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    image_ = dir_.File("loop.img");
    ASSERT_TRUE(testing::MakeImage(image_, kImageSize));
    std::string out;
    const int rc =
        testing::RunCommand("losetup -f --show " + image_ + " 2>&1", &out);
    if (rc != 0 || out.rfind("/dev/", 0) != 0) {
      GTEST_SKIP() << "*** LOOP DEVICE TEST SKIPPED: 'losetup -f --show' "
                      "failed (exit "
                   << rc << "): " << out
                   << " — needs root and /dev/loop-control ***";
    }
    loop_ = out;
  }

  void TearDown() override {
    if (loop_.empty()) return;
    std::string out;
    const int rc = testing::RunCommand("losetup -d " + loop_ + " 2>&1", &out);
    EXPECT_EQ(rc, 0) << "losetup -d " << loop_ << ": " << out;
  }

  DeviceOptions Options() const {
    DeviceOptions o;
    o.engine = GetParam();
    o.queue_depth = 32;
    return o;
  }

  testing::TempDir dir_;
  std::string image_;
  std::string loop_;
};

TEST_P(LoopDeviceTest, OpensAsBlockDeviceWithItsBlkGetSize64Size) {
  auto dev = OpenDevice(loop_, Options());
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_TRUE((*dev)->is_block_device());
  EXPECT_EQ((*dev)->path(), loop_);
  EXPECT_EQ((*dev)->size(), kImageSize);

  const int fd = ::open(loop_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint64_t size = 0;
  ASSERT_EQ(::ioctl(fd, BLKGETSIZE64, &size), 0);
  ::close(fd);
  EXPECT_EQ((*dev)->size(), size);
}

TEST_P(LoopDeviceTest, BatchWritesReachTheBackingImage) {
  auto dev = OpenDevice(loop_, Options());
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  constexpr int kOps = 100;  // > queue depth 32
  std::vector<AlignedBuffer> out, in;
  std::vector<IoOp> writes, reads;
  for (int i = 0; i < kOps; ++i) {
    const uint64_t off = static_cast<uint64_t>(i) * 512 * 1024;
    const size_t len = kIoAlign * (1 + i % 32);
    out.emplace_back(len);
    in.emplace_back(len);
    FillPattern(out.back().data(), len, 77, off);
    writes.push_back(
        {IoOp::Kind::kWrite, DevOffset(off), out.back().data(), len});
    reads.push_back({IoOp::Kind::kRead, DevOffset(off), in.back().data(), len});
  }
  ASSERT_TRUE((*dev)->Run(writes).ok());
  ASSERT_TRUE((*dev)->Flush().ok());
  ASSERT_TRUE((*dev)->Run(reads).ok());
  for (int i = 0; i < kOps; ++i) {
    ASSERT_EQ(FirstPatternMismatch(in[i].data(), reads[i].len, 77,
                                   reads[i].offset.value),
              -1)
        << "op " << i;
  }
  dev->reset();  // close before reading the image behind the loop device

  const int fd = ::open(image_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> buf(writes[7].len);
  ASSERT_EQ(::pread(fd, buf.data(), buf.size(),
                    static_cast<off_t>(writes[7].offset.value)),
            static_cast<ssize_t>(buf.size()));
  ::close(fd);
  EXPECT_EQ(
      FirstPatternMismatch(buf.data(), buf.size(), 77, writes[7].offset.value),
      -1);
}

TEST_P(LoopDeviceTest, SecondExclusiveOpenIsEbusy) {
  auto first = OpenDevice(loop_, Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = OpenDevice(loop_, Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), EBUSY);
  EXPECT_NE(second.status().message().find(loop_), std::string::npos)
      << second.status().message();
}

TEST_P(LoopDeviceTest, SuperblocksRoundTripAndProbe) {
  auto dev = OpenDevice(loop_, Options());
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  auto probe = ProbeExistingData(**dev);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(*probe, "");
  auto sb = PlanGeometry((*dev)->size(), kMiB);
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE(WriteSuperblocks(**dev, *sb).ok());
  auto read = ReadSuperblocks(**dev);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->sb.SameGeometry(*sb));
  probe = ProbeExistingData(**dev);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(*probe, "slotfs filesystem (uuid " + UuidToString(sb->uuid) + ")");
}

INSTANTIATE_TEST_SUITE_P(Engines, LoopDeviceTest,
                         ::testing::Values(Engine::kUring, Engine::kPosix),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return std::string(EngineName(info.param));
                         });

}  // namespace
}  // namespace slotfs::blockdev
