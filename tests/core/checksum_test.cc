// core::Filesystem checksums: computed as writes stream in, stored with the
// extents, verified on read before any byte is returned.
#include <fcntl.h>
#include <unistd.h>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class ChecksumTest : public FsTest {
 protected:
  // Flips one byte of the image file behind the filesystem's back.
  void FlipByte(uint64_t slot, uint64_t byte_in_slot) {
    uint64_t off = blockdev::Layout(sb_).SlotOffset(SlotId(slot)).value + byte_in_slot;
    int fd = ::open(image_.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t b;
    ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(off)), 1);
    b ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(off)), 1);
    ::fsync(fd);
    ::close(fd);
  }
};

TEST_F(ChecksumTest, BitFlipInStoredDataIsEIOAndDropsTheEntry) {
  auto data = Pattern(3 * kSlot + 777, 1);
  InodeNo ino = WriteFile(kRootInode, "victim", data);
  InodeNo other = WriteFile(kRootInode, "other", Pattern(kSlot, 2));
  Remount();  // cold: nothing cached, slots read from the device
  uint64_t first = std::stoull(Slots(ino));
  FlipByte(first + 2, 1234);
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  // The first two slots are intact and read fine.
  auto ok = fs_->Read(*of.value(), 0, 2 * kSlot);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(std::equal(ok->data(), ok->data() + ok->length, data.begin()));
  auto bad = fs_->Read(*of.value(), 2 * kSlot, kSlot);
  EXPECT_EQ(bad.status().code(), EIO);
  fs_->Release(std::move(of.value()));
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 1u);
  EXPECT_EQ(fs_->Lookup(kRootInode, "victim").status().code(), ENOENT);
  EXPECT_EQ(ReadAll(other), Pattern(kSlot, 2));
}

TEST_F(ChecksumTest, PartialReadOfACorruptSlotIsEIOToo) {
  auto data = Pattern(2 * kSlot, 3);
  InodeNo ino = WriteFile(kRootInode, "p", data);
  Remount();
  uint64_t first = std::stoull(Slots(ino));
  FlipByte(first, kSlot - 1);  // far from the bytes read below
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  EXPECT_EQ(fs_->Read(*of.value(), 10, 100).status().code(), EIO);
  fs_->Release(std::move(of.value()));
}

TEST_F(ChecksumTest, UnalignedAndRewrittenFilesVerifyAfterRemount) {
  // Out-of-order writes cannot be hashed as they stream: the commit reads
  // the slot back instead. Either way the stored checksum must be right.
  auto of = fs_->Create(kRootInode, "r", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto a = Pattern(kSlot + 500, 4);
  auto b = Pattern(3000, 5);
  ASSERT_TRUE(fs_->Write(*of.value(), 0, a).ok());
  ASSERT_TRUE(fs_->Write(*of.value(), 100, b).ok());          // rewrite
  ASSERT_TRUE(fs_->Write(*of.value(), kSlot + 9000, b).ok());  // gap
  fs_->Release(std::move(of.value()));
  auto expect = a;
  std::copy(b.begin(), b.end(), expect.begin() + 100);
  expect.resize(kSlot + 12000, 0);
  std::copy(b.begin(), b.end(), expect.begin() + kSlot + 9000);
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "r")), expect);
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 0u);
}

TEST_F(ChecksumTest, TruncatedAndCopiedSlotsVerifyAfterRemount) {
  auto data = Pattern(3 * kSlot, 6);
  InodeNo ino = WriteFile(kRootInode, "t", data);
  ASSERT_TRUE(fs_->CommitNow().ok());
  SetAttrRequest r;
  r.size = kSlot + 10;
  ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  r.size = 2 * kSlot;
  ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  auto expect = data;
  expect.resize(kSlot + 10);
  expect.resize(2 * kSlot, 0);
  Remount();
  EXPECT_EQ(ReadAll(ino), expect);
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 0u);
}

}  // namespace
}  // namespace slotfs::core::testing
