// core::Filesystem bad input and device faults: ENOSPC, EFBIG,
// ENAMETOOLONG, EIO — each fails the caller only and loses nothing stored.
#include <fcntl.h>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class ErrorsTest : public FsTest {};

TEST_F(ErrorsTest, FullDeviceIsENOSPCAndStoredFilesSurvive) {
  auto keep = Pattern(3 * kSlot, 1);
  InodeNo k = WriteFile(kRootInode, "keep", keep);
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = fs_->Create(kRootInode, "big", 0644, 0, 0, O_WRONLY | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto chunk = Pattern(kSlot, 2);
  Status last;
  uint64_t off = 0;
  for (; off < sb_.slot_count * kSlot; off += kSlot) {
    auto w = fs_->Write(*of.value(), off, chunk);
    if (!w.ok()) {
      last = w.status();
      break;
    }
  }
  EXPECT_EQ(last.code(), ENOSPC);
  EXPECT_EQ(off, (sb_.slot_count - 3) * kSlot);
  fs_->Release(std::move(of.value()));
  EXPECT_EQ(ReadAll(k), keep);
  // The partial file holds what was written; removing it frees the space.
  auto a = fs_->Lookup(kRootInode, "big");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, off);
  ASSERT_TRUE(fs_->Unlink(kRootInode, "big").ok());
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->StatFs().slots_free, sb_.slot_count - 3);
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "keep")), keep);
}

TEST_F(ErrorsTest, WritePastMaximumFileSizeIsEFBIG) {
  max_file_size_ = 4 * kSlot;
  Remount();
  EXPECT_EQ(fs_->max_file_size(), 4 * kSlot);
  auto of = fs_->Create(kRootInode, "f", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto d = Pattern(20, 1);
  EXPECT_EQ(fs_->Write(*of.value(), 4 * kSlot - 10, d).status().code(), EFBIG);
  EXPECT_EQ(fs_->Write(*of.value(), 4 * kSlot, d).status().code(), EFBIG);
  EXPECT_EQ(fs_->Write(*of.value(), UINT64_MAX - 5, d).status().code(), EFBIG);
  EXPECT_TRUE(fs_->Write(*of.value(), 4 * kSlot - 20, d).ok());
  SetAttrRequest r;
  r.size = 4 * kSlot + 1;
  EXPECT_EQ(fs_->SetAttr(of.value()->inode->ino, r, of.value().get()).status().code(), EFBIG);
  fs_->Release(std::move(of.value()));
}

TEST_F(ErrorsTest, NameOver255BytesIsENAMETOOLONG) {
  std::string ok(255, 'a');
  std::string bad(256, 'a');
  EXPECT_TRUE(fs_->Create(kRootInode, ok, 0644, 0, 0, O_CREAT | O_WRONLY, nullptr).ok());
  EXPECT_EQ(fs_->Create(kRootInode, bad, 0644, 0, 0, O_CREAT | O_WRONLY, nullptr).status().code(),
            ENAMETOOLONG);
  EXPECT_EQ(fs_->MkDir(kRootInode, bad, 0755, 0, 0).status().code(), ENAMETOOLONG);
  EXPECT_EQ(fs_->Lookup(kRootInode, bad).status().code(), ENAMETOOLONG);
  EXPECT_EQ(fs_->Rename(kRootInode, ok, kRootInode, bad, 0).code(), ENAMETOOLONG);
}

TEST_F(ErrorsTest, ReadErrorIsEIOForThatFileOnly) {
  Remount(/*faulty=*/true);
  auto a = Pattern(2 * kSlot, 1);
  auto b = Pattern(2 * kSlot, 2);
  InodeNo ia = WriteFile(kRootInode, "a", a);
  InodeNo ib = WriteFile(kRootInode, "b", b);
  ASSERT_TRUE(fs_->CommitNow().ok());
  uint64_t first = std::stoull(Slots(ia));
  fault_->FailReadsIn(blockdev::Layout(sb_).SlotOffset(SlotId(first)), kSlot);
  auto of = fs_->Open(ia, O_RDONLY);
  ASSERT_TRUE(of.ok());
  EXPECT_EQ(fs_->Read(*of.value(), 0, 4096).status().code(), EIO);
  fs_->Release(std::move(of.value()));
  EXPECT_EQ(ReadAll(ib), b);
  fault_->ClearFaults();
  EXPECT_EQ(ReadAll(ia), a);
}

TEST_F(ErrorsTest, WriteErrorIsEIOAndCommittedDataUntouched) {
  Remount(/*faulty=*/true);
  auto a = Pattern(2 * kSlot, 3);
  InodeNo ia = WriteFile(kRootInode, "a", a);
  ASSERT_TRUE(fs_->CommitNow().ok());
  fault_->FailAfterNWrites(0);
  auto of = fs_->Open(ia, O_WRONLY);
  ASSERT_TRUE(of.ok());
  EXPECT_EQ(fs_->Write(*of.value(), 0, Pattern(kSlot, 4)).status().code(), EIO);
  fs_->Release(std::move(of.value()));
  fault_->ClearFaults();
  EXPECT_EQ(ReadAll(ia), a);
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "a")), a);
}

TEST_F(ErrorsTest, FlushFailureKeepsFilePendingUntilARetrySucceeds) {
  Remount(/*faulty=*/true);
  auto a = Pattern(kSlot, 5);
  InodeNo ia = WriteFile(kRootInode, "a", a);
  fault_->FailNextFlush(1);
  EXPECT_EQ(fs_->CommitNow().code(), EIO);
  EXPECT_EQ(fs_->GetXattr(ia, "user.slotfs.state").value(), "pending");
  EXPECT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->GetXattr(ia, "user.slotfs.state").value(), "committed");
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "a")), a);
}

}  // namespace
}  // namespace slotfs::core::testing
