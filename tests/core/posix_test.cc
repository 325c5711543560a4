// core::Filesystem POSIX details tools rely on: directory times and link
// counts, statvfs inode counts, fallocate.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <map>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class PosixTest : public FsTest {
 protected:
  // A time far in the past, so "changed" never depends on clock resolution.
  static constexpr int64_t kOld = 1'000'000'000;

  void AgeDir(InodeNo dir) {
    SetAttrRequest r;
    r.mtime_ns = kOld;
    ASSERT_TRUE(fs_->SetAttr(dir, r, nullptr).ok());
    auto a = fs_->GetAttr(dir);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(kOld, a->mtime_ns);
    ctime_before_[dir.value] = a->ctime_ns;
  }
  // True if dir's mtime moved off kOld and its ctime moved forward.
  ::testing::AssertionResult Changed(InodeNo dir) {
    auto a = fs_->GetAttr(dir);
    if (!a.ok()) return ::testing::AssertionFailure() << a.status().ToString();
    if (a->mtime_ns <= kOld) return ::testing::AssertionFailure() << "mtime unchanged";
    if (a->ctime_ns < ctime_before_[dir.value]) {
      return ::testing::AssertionFailure() << "ctime went back";
    }
    if (a->ctime_ns != a->mtime_ns) {
      return ::testing::AssertionFailure() << "ctime " << a->ctime_ns << " != mtime " << a->mtime_ns;
    }
    return ::testing::AssertionSuccess();
  }
  uint32_t Nlink(InodeNo ino) {
    auto a = fs_->GetAttr(ino);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? a->nlink : 0;
  }
  uint64_t Blocks(InodeNo ino) {
    auto a = fs_->GetAttr(ino);
    return a.ok() ? a->blocks : ~0ull;
  }
  uint64_t Size(InodeNo ino) {
    auto a = fs_->GetAttr(ino);
    return a.ok() ? a->size : ~0ull;
  }
  std::unique_ptr<OpenFile> OpenRw(InodeNo ino) {
    auto of = fs_->Open(ino, O_RDWR);
    EXPECT_TRUE(of.ok()) << of.status().ToString();
    return of.ok() ? std::move(of.value()) : nullptr;
  }
  void Close(std::unique_ptr<OpenFile> of) {
    EXPECT_TRUE(fs_->Flush(*of).ok());
    fs_->Release(std::move(of));
  }
  std::map<uint64_t, int64_t> ctime_before_;
};

TEST_F(PosixTest, DirectoryTimesFollowCreateUnlinkMkdirRmdir) {
  auto d = fs_->MkDir(kRootInode, "d", 0755, 0, 0);
  ASSERT_TRUE(d.ok());
  AgeDir(d->ino);
  WriteFile(d->ino, "f", Pattern(10, 1));
  EXPECT_TRUE(Changed(d->ino)) << "create";
  AgeDir(d->ino);
  ASSERT_TRUE(fs_->Unlink(d->ino, "f").ok());
  EXPECT_TRUE(Changed(d->ino)) << "unlink";
  AgeDir(d->ino);
  ASSERT_TRUE(fs_->MkDir(d->ino, "sub", 0755, 0, 0).ok());
  EXPECT_TRUE(Changed(d->ino)) << "mkdir";
  AgeDir(d->ino);
  ASSERT_TRUE(fs_->RmDir(d->ino, "sub").ok());
  EXPECT_TRUE(Changed(d->ino)) << "rmdir";
  // The change is in the store: it survives a remount.
  auto before = fs_->GetAttr(d->ino);
  ASSERT_TRUE(before.ok());
  Remount();
  auto after = fs_->GetAttr(d->ino);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(before->mtime_ns, after->mtime_ns);
  EXPECT_EQ(before->ctime_ns, after->ctime_ns);
}

TEST_F(PosixTest, RenameChangesTimesOfBothDirectoriesAndPersists) {
  auto a = fs_->MkDir(kRootInode, "a", 0755, 0, 0);
  auto b = fs_->MkDir(kRootInode, "b", 0755, 0, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  WriteFile(a->ino, "f", Pattern(10, 1));
  AgeDir(a->ino);
  AgeDir(b->ino);
  ASSERT_TRUE(fs_->Rename(a->ino, "f", b->ino, "g", 0).ok());
  EXPECT_TRUE(Changed(a->ino)) << "source directory";
  EXPECT_TRUE(Changed(b->ino)) << "target directory";
  // Within one directory, and over an existing name.
  WriteFile(b->ino, "h", Pattern(10, 2));
  AgeDir(b->ino);
  ASSERT_TRUE(fs_->Rename(b->ino, "h", b->ino, "g", 0).ok());
  EXPECT_TRUE(Changed(b->ino)) << "rename over an entry";
  Remount();
  EXPECT_GT(fs_->GetAttr(a->ino)->mtime_ns, kOld);
  EXPECT_GT(fs_->GetAttr(b->ino)->mtime_ns, kOld);
}

TEST_F(PosixTest, OpenDirectoryStillShowsCurrentTimesAndChmodKeepsThem) {
  auto d = fs_->MkDir(kRootInode, "d", 0755, 0, 0);
  ASSERT_TRUE(d.ok());
  auto dir = fs_->Open(d->ino, O_RDONLY);  // opendir
  ASSERT_TRUE(dir.ok());
  AgeDir(d->ino);
  WriteFile(d->ino, "f", Pattern(10, 1));
  EXPECT_TRUE(Changed(d->ino)) << "create while the directory is open";
  int64_t mtime = fs_->GetAttr(d->ino)->mtime_ns;
  SetAttrRequest chmod;
  chmod.mode = 0700;
  auto r = fs_->SetAttr(d->ino, chmod, dir.value().get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(0700u, r->mode & 07777);
  EXPECT_EQ(mtime, r->mtime_ns) << "chmod wrote back a stale mtime";
  fs_->Release(std::move(dir.value()));
}

TEST_F(PosixTest, DirectoryNlinkIsTwoPlusSubdirectories) {
  EXPECT_EQ(2u, Nlink(kRootInode));
  auto a = fs_->MkDir(kRootInode, "a", 0755, 0, 0);
  auto b = fs_->MkDir(kRootInode, "b", 0755, 0, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(2u, a->nlink);
  WriteFile(kRootInode, "file", Pattern(10, 1));  // files do not count
  EXPECT_EQ(4u, Nlink(kRootInode));
  ASSERT_TRUE(fs_->MkDir(a->ino, "x", 0755, 0, 0).ok());
  ASSERT_TRUE(fs_->MkDir(a->ino, "y", 0755, 0, 0).ok());
  EXPECT_EQ(4u, Nlink(a->ino));
  // Moving a directory moves its link.
  ASSERT_TRUE(fs_->Rename(a->ino, "x", b->ino, "x", 0).ok());
  EXPECT_EQ(3u, Nlink(a->ino));
  EXPECT_EQ(3u, Nlink(b->ino));
  ASSERT_TRUE(fs_->RmDir(a->ino, "y").ok());
  EXPECT_EQ(2u, Nlink(a->ino));
  // readdir and lookup agree with getattr.
  auto la = fs_->Lookup(kRootInode, "b");
  ASSERT_TRUE(la.ok());
  EXPECT_EQ(3u, la->nlink);
  auto entries = fs_->ReadDir(kRootInode, 0, 100);
  ASSERT_TRUE(entries.ok());
  for (const DirEntry& e : entries.value()) {
    if (e.name == "b") EXPECT_EQ(3u, e.attr.nlink);
    if (e.name == ".") EXPECT_EQ(4u, e.attr.nlink);
    if (e.name == "file") EXPECT_EQ(1u, e.attr.nlink);
  }
  Remount();
  EXPECT_EQ(4u, Nlink(kRootInode));
  EXPECT_EQ(2u, Nlink(a->ino));
  EXPECT_EQ(3u, Nlink(b->ino));
}

TEST_F(PosixTest, StatfsInodesAreUsedPlusFreeSlots) {
  FsStats s0 = fs_->StatFs();
  EXPECT_EQ(s0.files_free, s0.slots_free);
  EXPECT_EQ(s0.files, 1 + s0.slots_free) << "root only";
  ASSERT_TRUE(fs_->MkDir(kRootInode, "d", 0755, 0, 0).ok());
  WriteFile(kRootInode, "f", Pattern(2 * kSlot, 1));
  FsStats s1 = fs_->StatFs();
  EXPECT_EQ(s1.files_free, s1.slots_free);
  EXPECT_EQ(s1.files - s1.files_free, 3u) << "root, d, f in use";
  ASSERT_TRUE(fs_->Unlink(kRootInode, "f").ok());
  FsStats s2 = fs_->StatFs();
  EXPECT_EQ(s2.files - s2.files_free, 2u);
  Remount();
  FsStats s3 = fs_->StatFs();
  EXPECT_EQ(s3.files - s3.files_free, 2u);
  EXPECT_EQ(s3.files, 2 + s3.slots_free);
}

TEST_F(PosixTest, FallocateMode0ReservesZerosAndExtends) {
  auto data = Pattern(kSlot / 2, 1);  // a committed partial slot
  InodeNo ino = WriteFile(kRootInode, "f", data);
  FsStats before = fs_->StatFs();
  auto of = OpenRw(ino);
  ASSERT_TRUE(of);
  ASSERT_TRUE(fs_->Fallocate(*of, 0, kSlot / 4, 3 * kSlot).ok());
  const uint64_t end = kSlot / 4 + 3 * kSlot;
  EXPECT_EQ(end, Size(ino));
  EXPECT_EQ(4 * kSlot / 512, Blocks(ino));
  // Three new slots, and a copy of the committed partial slot 0 (its bytes
  // past the old size must read as zero now); the old copy is quarantined
  // until the commit.
  EXPECT_EQ(before.slots_free - 4, fs_->StatFs().slots_free);
  Close(std::move(of));
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(before.slots_free - 3, fs_->StatFs().slots_free) << "three new slots reserved";
  std::vector<uint8_t> want = data;
  want.resize(end, 0);
  EXPECT_EQ(want, ReadAll(ino));
  Remount();
  EXPECT_EQ(end, Size(ino));
  EXPECT_EQ(4 * kSlot / 512, Blocks(ino));
  EXPECT_EQ(want, ReadAll(ino));
  // Writing into the reserved range needs no new slot.
  uint64_t free_before = fs_->StatFs().slots_free;
  auto w = OpenRw(ino);
  auto more = Pattern(100, 2);
  ASSERT_TRUE(fs_->Write(*w, 2 * kSlot + 7, more).ok());
  Close(std::move(w));
  std::copy(more.begin(), more.end(), want.begin() + 2 * kSlot + 7);
  EXPECT_EQ(want, ReadAll(ino));
  EXPECT_GE(fs_->StatFs().slots_free + 1, free_before) << "at most the copy-on-write slot";
}

TEST_F(PosixTest, FallocateKeepSizeReservesWithoutExtending) {
  // A whole first slot: growing a file past a committed partial slot by a
  // write in a later slot is the data path's issue-11 case, not this one's.
  InodeNo ino = WriteFile(kRootInode, "f", Pattern(kSlot, 1));
  auto of = OpenRw(ino);
  ASSERT_TRUE(of);
  FsStats before = fs_->StatFs();
  ASSERT_TRUE(fs_->Fallocate(*of, FALLOC_FL_KEEP_SIZE, 0, 4 * kSlot).ok());
  EXPECT_EQ(kSlot, Size(ino));
  EXPECT_EQ(4 * kSlot / 512, Blocks(ino));
  EXPECT_EQ(before.slots_free - 3, fs_->StatFs().slots_free);
  // A write into the reservation past EOF uses it.
  auto tail = Pattern(10, 3);
  ASSERT_TRUE(fs_->Write(*of, 2 * kSlot, tail).ok());
  EXPECT_EQ(before.slots_free - 3, fs_->StatFs().slots_free);
  EXPECT_EQ(2 * kSlot + 10, Size(ino));
  ASSERT_TRUE(fs_->Fsync(*of).ok());
  EXPECT_EQ(4 * kSlot / 512, Blocks(ino)) << "fsync keeps the open file's reservation";
  Close(std::move(of));
  ASSERT_TRUE(fs_->CommitNow().ok());
  // Closed and committed: the slot past EOF went back; the rest is stored.
  EXPECT_EQ(3 * kSlot / 512, Blocks(ino));
  EXPECT_EQ(before.slots_free - 2, fs_->StatFs().slots_free);
  std::vector<uint8_t> want = Pattern(kSlot, 1);
  want.resize(2 * kSlot + 10, 0);
  std::copy(tail.begin(), tail.end(), want.begin() + 2 * kSlot);
  EXPECT_EQ(want, ReadAll(ino));
  Remount();
  EXPECT_EQ(want, ReadAll(ino));
  EXPECT_EQ(3 * kSlot / 512, Blocks(ino));
}

TEST_F(PosixTest, FallocatePunchHoleFreesWholeSlotsAndZeroesPartialOnes) {
  auto data = Pattern(4 * kSlot + 100, 1);
  InodeNo ino = WriteFile(kRootInode, "f", data);
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = OpenRw(ino);
  ASSERT_TRUE(of);
  // From the middle of slot 0 to the middle of slot 3: slots 1 and 2 go.
  const uint64_t off = kSlot / 2, len = 3 * kSlot;
  ASSERT_TRUE(fs_->Fallocate(*of, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len).ok());
  EXPECT_EQ(data.size(), Size(ino));
  EXPECT_EQ(3 * kSlot / 512, Blocks(ino));
  Close(std::move(of));
  std::vector<uint8_t> want = data;
  std::fill(want.begin() + off, want.begin() + off + len, 0);
  EXPECT_EQ(want, ReadAll(ino));
  ASSERT_TRUE(fs_->CommitNow().ok());
  Remount();
  EXPECT_EQ(want, ReadAll(ino)) << "checksums of the rewritten partial slots hold";
  EXPECT_EQ(3 * kSlot / 512, Blocks(ino));
  // Punching past EOF changes nothing and does not grow the file.
  auto of2 = OpenRw(ino);
  ASSERT_TRUE(fs_->Fallocate(*of2, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             data.size() + 10, 5 * kSlot).ok());
  Close(std::move(of2));
  EXPECT_EQ(data.size(), Size(ino));
  EXPECT_EQ(want, ReadAll(ino));
}

TEST_F(PosixTest, FallocateOtherModesAreEopnotsupp) {
  InodeNo ino = WriteFile(kRootInode, "f", Pattern(100, 1));
  auto of = OpenRw(ino);
  ASSERT_TRUE(of);
  for (int mode : {FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE,
                   FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_COLLAPSE_RANGE,
                   FALLOC_FL_INSERT_RANGE}) {
    EXPECT_EQ(EOPNOTSUPP, fs_->Fallocate(*of, mode, 0, kSlot).code()) << "mode " << mode;
  }
  EXPECT_EQ(EFBIG, fs_->Fallocate(*of, 0, sb_.slot_count * kSlot, 1).code());
  Close(std::move(of));
  EXPECT_EQ(100u, Size(ino));
}

TEST_F(PosixTest, FallocateWithoutFreeSlotsIsEnospcAndReservesNothing) {
  WriteFile(kRootInode, "filler", Pattern(sb_.slot_count / 2 * kSlot, 2));
  InodeNo ino = WriteFile(kRootInode, "f", Pattern(100, 1));
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = OpenRw(ino);
  ASSERT_TRUE(of);
  FsStats before = fs_->StatFs();
  EXPECT_EQ(ENOSPC, fs_->Fallocate(*of, 0, 0, (before.slots_free + 2) * kSlot).code());
  EXPECT_EQ(100u, Size(ino));
  EXPECT_EQ(before.slots_free, fs_->StatFs().slots_free) << "a failed fallocate kept slots";
  // Exactly what is free still fits.
  ASSERT_TRUE(fs_->Fallocate(*of, FALLOC_FL_KEEP_SIZE, 0, (before.slots_free + 1) * kSlot).ok());
  EXPECT_EQ(0u, fs_->StatFs().slots_free);
  Close(std::move(of));
  EXPECT_EQ(Pattern(100, 1), ReadAll(ino));
}

}  // namespace
}  // namespace slotfs::core::testing
