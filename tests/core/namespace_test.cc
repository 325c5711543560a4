// core::Filesystem namespace: directories, rename, unlink, readdir, xattrs.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <set>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class NamespaceTest : public FsTest {};

TEST_F(NamespaceTest, NestedDirectoriesPersist) {
  auto a = fs_->MkDir(kRootInode, "a", 0755, 0, 0);
  ASSERT_TRUE(a.ok());
  auto b = fs_->MkDir(a->ino, "b", 0700, 0, 0);
  ASSERT_TRUE(b.ok());
  auto data = Pattern(1000, 1);
  WriteFile(b->ino, "f", data);
  Remount();
  InodeNo a2 = Ino(kRootInode, "a");
  InodeNo b2 = Ino(a2, "b");
  ASSERT_EQ(b2, b->ino);
  auto attr = fs_->GetAttr(b2);
  ASSERT_TRUE(attr.ok());
  EXPECT_TRUE(S_ISDIR(attr->mode));
  EXPECT_EQ(attr->mode & 07777, 0700u);
  EXPECT_EQ(ReadAll(Ino(b2, "f")), data);
}

TEST_F(NamespaceTest, RmdirOfNonEmptyDirectoryIsENOTEMPTY) {
  auto d = fs_->MkDir(kRootInode, "d", 0755, 0, 0);
  ASSERT_TRUE(d.ok());
  WriteFile(d->ino, "f", Pattern(1, 1));
  EXPECT_EQ(fs_->RmDir(kRootInode, "d").code(), ENOTEMPTY);
  ASSERT_TRUE(fs_->Unlink(d->ino, "f").ok());
  EXPECT_TRUE(fs_->RmDir(kRootInode, "d").ok());
  EXPECT_EQ(fs_->Lookup(kRootInode, "d").status().code(), ENOENT);
}

TEST_F(NamespaceTest, RmdirOfFileIsENOTDIRAndUnlinkOfDirIsEISDIR) {
  WriteFile(kRootInode, "f", Pattern(1, 1));
  ASSERT_TRUE(fs_->MkDir(kRootInode, "d", 0755, 0, 0).ok());
  EXPECT_EQ(fs_->RmDir(kRootInode, "f").code(), ENOTDIR);
  EXPECT_EQ(fs_->Unlink(kRootInode, "d").code(), EISDIR);
}

TEST_F(NamespaceTest, RenameReplacesTargetAtomically) {
  auto src = Pattern(2 * kSlot, 1);
  auto old = Pattern(3 * kSlot, 2);
  InodeNo s = WriteFile(kRootInode, "src", src);
  WriteFile(kRootInode, "dst", old);
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->StatFs().slots_used, 5u);
  ASSERT_TRUE(fs_->Rename(kRootInode, "src", kRootInode, "dst", 0).ok());
  EXPECT_EQ(fs_->Lookup(kRootInode, "src").status().code(), ENOENT);
  EXPECT_EQ(Ino(kRootInode, "dst"), s);
  EXPECT_EQ(ReadAll(s), src);
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->StatFs().slots_used, 2u) << "the replaced file's slots are free";
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "dst")), src);
}

TEST_F(NamespaceTest, RenameNoreplaceOnExistingTargetIsEEXIST) {
  WriteFile(kRootInode, "a", Pattern(1, 1));
  WriteFile(kRootInode, "b", Pattern(1, 2));
  EXPECT_EQ(fs_->Rename(kRootInode, "a", kRootInode, "b", RENAME_NOREPLACE).code(), EEXIST);
  EXPECT_EQ(fs_->Rename(kRootInode, "a", kRootInode, "b", RENAME_EXCHANGE).code(), ENOTSUP);
}

TEST_F(NamespaceTest, RenameDirectoryIntoItselfIsEINVAL) {
  auto a = fs_->MkDir(kRootInode, "a", 0755, 0, 0);
  auto b = fs_->MkDir(a->ino, "b", 0755, 0, 0);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(fs_->Rename(kRootInode, "a", b->ino, "x", 0).code(), EINVAL);
}

TEST_F(NamespaceTest, RenameOverNonEmptyDirectoryIsENOTEMPTY) {
  auto a = fs_->MkDir(kRootInode, "a", 0755, 0, 0);
  auto b = fs_->MkDir(kRootInode, "b", 0755, 0, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  WriteFile(b->ino, "f", Pattern(1, 1));
  EXPECT_EQ(fs_->Rename(kRootInode, "a", kRootInode, "b", 0).code(), ENOTEMPTY);
  WriteFile(kRootInode, "file", Pattern(1, 1));
  EXPECT_EQ(fs_->Rename(kRootInode, "file", kRootInode, "a", 0).code(), EISDIR);
  EXPECT_EQ(fs_->Rename(kRootInode, "a", kRootInode, "file", 0).code(), ENOTDIR);
}

TEST_F(NamespaceTest, UnlinkedOpenFileStaysReadableUntilClosed) {
  auto data = Pattern(2 * kSlot, 3);
  InodeNo ino = WriteFile(kRootInode, "f", data);
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  ASSERT_TRUE(fs_->Unlink(kRootInode, "f").ok());
  // Reuse pressure: a new file must not get the open file's slots.
  WriteFile(kRootInode, "g", Pattern(2 * kSlot, 4));
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto r = fs_->Read(*of.value(), 0, 2 * kSlot);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::equal(r->data(), r->data() + r->length, data.begin()));
  EXPECT_EQ(fs_->StatFs().slots_used, 4u);
  fs_->Release(std::move(of.value()));
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->StatFs().slots_used, 2u);
}

TEST_F(NamespaceTest, ReaddirListsEveryEntryOnceAcrossPages) {
  std::set<std::string> names;
  for (int i = 0; i < 150; ++i) {
    std::string n = "file" + std::to_string(i);
    WriteFile(kRootInode, n, {});
    names.insert(n);
  }
  std::set<std::string> seen;
  uint64_t off = 0;
  int pages = 0;
  while (true) {
    auto page = fs_->ReadDir(kRootInode, off, 7);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const DirEntry& e : page.value()) {
      EXPECT_TRUE(seen.insert(e.name).second) << "duplicate " << e.name;
      off = e.next_offset;
    }
    // Entries removed or added mid-listing do not disturb the offsets.
    if (++pages == 3) {
      ASSERT_TRUE(fs_->Unlink(kRootInode, "file149").ok());
      names.erase("file149");
    }
  }
  seen.erase(".");
  seen.erase("..");
  EXPECT_EQ(seen, names);
}

TEST_F(NamespaceTest, XattrsDescribeSlotsAndPinPersists) {
  InodeNo ino = WriteFile(kRootInode, "x", Pattern(2 * kSlot + 1, 1));
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto names = fs_->ListXattr(ino);
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names->begin(), names->end(), "user.slotfs.slots"), names->end());
  auto slots = fs_->GetXattr(ino, "user.slotfs.slots");
  ASSERT_TRUE(slots.ok());
  EXPECT_NE(slots->find('-'), std::string::npos) << slots.value();  // one run
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.size").value(), std::to_string(2 * kSlot + 1));
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.state").value(), "committed");
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.pin").value(), "0");
  ASSERT_TRUE(fs_->SetXattr(ino, "user.slotfs.pin", "1", 0).ok());
  EXPECT_EQ(fs_->SetXattr(ino, "user.slotfs.pin", "yes", 0).code(), EINVAL);
  EXPECT_EQ(fs_->SetXattr(ino, "user.other", "1", 0).code(), ENOTSUP);
  EXPECT_EQ(fs_->SetXattr(ino, "user.slotfs.slots", "1", 0).code(), ENOTSUP);
  EXPECT_EQ(fs_->GetXattr(ino, "user.nothing").status().code(), ENODATA);
  Remount();
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.pin").value(), "1");
  ASSERT_TRUE(fs_->RemoveXattr(ino, "user.slotfs.pin").ok());
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.pin").value(), "0");
}

TEST_F(NamespaceTest, SetattrChangesModeOwnerAndTimes) {
  InodeNo ino = WriteFile(kRootInode, "m", Pattern(1, 1));
  SetAttrRequest r;
  r.mode = 0600;
  r.uid = 1234;
  r.gid = 5678;
  r.mtime_ns = 1'000'000'000'123;
  r.atime_ns = 2'000'000'000'456;
  auto a = fs_->SetAttr(ino, r, nullptr);
  ASSERT_TRUE(a.ok());
  Remount();
  auto b = fs_->GetAttr(ino);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->mode, S_IFREG | 0600u);
  EXPECT_EQ(b->uid, 1234u);
  EXPECT_EQ(b->gid, 5678u);
  EXPECT_EQ(b->mtime_ns, 1'000'000'000'123);
  EXPECT_EQ(b->atime_ns, 2'000'000'000'456);
}

TEST_F(NamespaceTest, CreateExclusiveOnExistingNameIsEEXIST) {
  WriteFile(kRootInode, "e", Pattern(1, 1));
  auto of = fs_->Create(kRootInode, "e", 0644, 0, 0, O_CREAT | O_EXCL | O_WRONLY, nullptr);
  EXPECT_EQ(of.status().code(), EEXIST);
}

TEST_F(NamespaceTest, StatfsCountsSlots) {
  FsStats before = fs_->StatFs();
  EXPECT_EQ(before.block_size, 4096u);
  EXPECT_EQ(before.blocks, sb_.slot_count * kSlot / 4096);
  WriteFile(kRootInode, "s", Pattern(3 * kSlot - 1, 1));
  FsStats after = fs_->StatFs();
  EXPECT_EQ(before.blocks_free - after.blocks_free, 3 * kSlot / 4096);
}

}  // namespace
}  // namespace slotfs::core::testing
