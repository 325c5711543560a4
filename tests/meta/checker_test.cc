// meta::Checker: real databases built with meta::Store, then damaged with
// raw SQL (or raw bytes) behind its back; each test names the damage.
#include "meta/checker.h"

#include <algorithm>

#include "tests/meta/store_fixture.h"

namespace slotfs::meta::testing {
namespace {

class CheckerTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    CreateStore();
  }

  // Closes the store, then runs raw SQL on the database file.
  void RawSql(const std::string& sql) {
    store_.reset();
    RawDb db(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_EQ("", db.Exec(sql)) << sql;
  }

  std::unique_ptr<Checker> OpenChecker(bool writable) {
    store_.reset();
    auto c = Checker::Open(path_, writable);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c.value()) : nullptr;
  }

  CheckReport Check(bool writable = false, const blockdev::Superblock* sb = nullptr) {
    checker_ = OpenChecker(writable);
    if (!checker_) return {};
    auto r = checker_->Check(sb ? *sb : sb_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : CheckReport{};
  }

  static std::vector<FindingKind> Kinds(const CheckReport& r) {
    std::vector<FindingKind> k;
    for (const Finding& f : r.findings) k.push_back(f.kind);
    return k;
  }
  static std::vector<uint64_t> InosOf(const CheckReport& r, FindingKind kind) {
    std::vector<uint64_t> v;
    for (const Finding& f : r.findings) {
      if (f.kind == kind) v.push_back(f.ino.value);
    }
    return v;
  }
  // Drops every inode the report says to drop.
  void DropFlagged(const CheckReport& r) {
    std::vector<InodeNo> inos;
    for (const Finding& f : r.findings) {
      if (f.remedy == Remedy::kDropInode) inos.push_back(f.ino);
    }
    SLOTFS_ASSERT_OK(checker_->DropInodes(inos));
  }
  // A committed file of `slots` full slots starting at device slot `first`.
  InodeNo FileAt(const std::string& name, uint64_t first, uint64_t slots,
                 InodeNo parent = kRootInode) {
    InodeNo ino = MakeFile(parent, name);
    CommitExtents(ino, {Extent{0, SlotId(first), slots, std::vector<uint64_t>(slots, 42)}});
    return ino;
  }

  std::unique_ptr<Checker> checker_;
};

TEST_F(CheckerTest, HealthyDatabaseIsClean) {
  InodeNo d = MakeDir(kRootInode, "dir");
  FileAt("a.pt", 0, 3, d);
  InodeNo b = MakeFile(kRootInode, "b.pt");
  CommitExtents(b, {Extent{0, SlotId(10), 1, {}}}, /*size=*/100);
  CheckReport r = Check();
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  EXPECT_TRUE(r.usable);
  EXPECT_EQ(2u, r.files);
  EXPECT_EQ(2u, r.dirs);
  EXPECT_EQ(4u, r.slots_used);
  EXPECT_EQ(996u, r.slots_free);
  EXPECT_EQ(3 * sb_.slot_size + 100, r.stored_bytes);
}

TEST_F(CheckerTest, HolesBeforeTheEndAreFine) {
  InodeNo f = MakeFile(kRootInode, "sparse");
  CommitExtents(f, {Extent{3, SlotId(7), 1, {}}}, 4 * sb_.slot_size);
  EXPECT_TRUE(Check().findings.empty());
}

TEST_F(CheckerTest, SlotOwnedTwiceDropsEveryClaimant) {
  InodeNo a = FileAt("a", 0, 4);
  InodeNo b = FileAt("b", 3, 2);
  InodeNo c = FileAt("c", 20, 1);
  CheckReport r = Check(/*writable=*/true);
  std::vector<uint64_t> owners = InosOf(r, FindingKind::kSlotOwnedTwice);
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ((std::vector<uint64_t>{a.value, b.value}), owners);
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "slot 3"));
  ASSERT_TRUE(r.findings[0].slot.has_value());
  EXPECT_EQ(3u, *r.findings[0].slot);
  DropFlagged(r);
  r = checker_->Check(sb_).value();
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(1u, r.files);
  EXPECT_EQ(1u, r.slots_used);
  (void)c;
}

TEST_F(CheckerTest, ExtentOutOfRangeIsFlagged) {
  InodeNo a = FileAt("a", 0, 2);
  RawSql("UPDATE extents SET slot = 999 WHERE ino = " + std::to_string(a.value));
  CheckReport r = Check();
  EXPECT_EQ(std::vector<FindingKind>{FindingKind::kExtentOutOfRange}, Kinds(r));
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "'a'"));
  EXPECT_EQ(0u, r.slots_used);
}

TEST_F(CheckerTest, NegativeLogicalSlotIsOutOfRange) {
  InodeNo a = FileAt("a", 0, 1);
  RawSql("UPDATE extents SET lslot = -5 WHERE ino = " + std::to_string(a.value));
  EXPECT_EQ(std::vector<FindingKind>{FindingKind::kExtentOutOfRange}, Kinds(Check()));
}

TEST_F(CheckerTest, OverlappingLogicalSlotsAreFlagged) {
  InodeNo a = MakeFile(kRootInode, "a");
  CommitExtents(a, {Extent{0, SlotId(0), 2, {}}, Extent{1, SlotId(5), 1, {}}}, 2 * sb_.slot_size);
  EXPECT_EQ(std::vector<FindingKind>{FindingKind::kExtentOverlap}, Kinds(Check()));
}

TEST_F(CheckerTest, ExtentPastEndOfFileIsFlagged) {
  InodeNo a = MakeFile(kRootInode, "short");
  CommitExtents(a, {Extent{0, SlotId(0), 3, {}}}, /*size=*/sb_.slot_size + 1);
  CheckReport r = Check();
  EXPECT_EQ(std::vector<FindingKind>{FindingKind::kExtentPastEof}, Kinds(r));
  EXPECT_EQ(Remedy::kDropInode, r.findings[0].remedy);
}

TEST_F(CheckerTest, OrphanExtentsAreDeleted) {
  FileAt("a", 0, 1);
  RawSql("INSERT INTO extents(ino, lslot, slot, count) VALUES (777, 0, 50, 2), (777, 2, 60, 1)");
  CheckReport r = Check(/*writable=*/true);
  ASSERT_EQ(std::vector<FindingKind>{FindingKind::kOrphanExtent}, Kinds(r));
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "2 extent(s) of inode 777"));
  EXPECT_EQ(1u, r.slots_used);  // orphans claim nothing
  auto n = checker_->DropOrphanExtents();
  SLOTFS_ASSERT_OK(n);
  EXPECT_EQ(2u, n.value());
  EXPECT_TRUE(checker_->Check(sb_).value().findings.empty());
}

TEST_F(CheckerTest, BadChecksumBlobIsCleared) {
  InodeNo a = FileAt("a", 0, 2);
  RawSql("UPDATE extents SET csums = x'010203' WHERE ino = " + std::to_string(a.value));
  CheckReport r = Check(/*writable=*/true);
  ASSERT_EQ(std::vector<FindingKind>{FindingKind::kBadCsumBlob}, Kinds(r));
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "3 bytes, not 16"));
  SLOTFS_ASSERT_OK(checker_->ClearBadCsums());
  EXPECT_TRUE(checker_->Check(sb_).value().findings.empty());
  RawDb raw(path_);
  EXPECT_EQ("<null>", raw.QueryText("SELECT csums FROM extents"));
}

TEST_F(CheckerTest, JournalEntriesAreReportedAndRecovered) {
  MakeFile(kRootInode, "in-flight", InodeState::kWriting);
  InodeNo kept = FileAt("kept", 0, 1);
  SLOTFS_ASSERT_OK(store_->JournalRewrite(kept, ++now_));
  CheckReport r = Check(/*writable=*/true);
  EXPECT_EQ((std::vector<FindingKind>{FindingKind::kJournal, FindingKind::kJournal}), Kinds(r));
  EXPECT_EQ(2u, r.journal_entries);
  EXPECT_EQ(1u, r.incomplete_inodes);
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "in-flight create"));
  auto rec = checker_->RunRecovery(sb_);
  SLOTFS_ASSERT_OK(rec);
  EXPECT_EQ(1u, rec->creates_discarded);
  r = checker_->Check(sb_).value();
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(1u, r.files);
}

TEST_F(CheckerTest, MissingParentDropsTheWholeSubtree) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo e = MakeDir(d, "e");
  FileAt("f", 0, 1, e);
  FileAt("g", 5, 1);
  RawSql("UPDATE inodes SET parent = 4242 WHERE ino = " + std::to_string(d.value));
  CheckReport r = Check(/*writable=*/true);
  // Only the top of the lost subtree is a finding.
  ASSERT_EQ(std::vector<FindingKind>{FindingKind::kMissingParent}, Kinds(r));
  EXPECT_EQ(d, r.findings[0].ino);
  auto n = checker_->DropInodes({d});
  SLOTFS_ASSERT_OK(n);
  EXPECT_EQ(3u, n.value());
  r = checker_->Check(sb_).value();
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(1u, r.files);
  EXPECT_EQ(1u, r.slots_used);
}

TEST_F(CheckerTest, ParentThatIsAFileIsFlagged) {
  InodeNo f = FileAt("f", 0, 1);
  InodeNo child = FileAt("child", 1, 1);
  RawSql("UPDATE inodes SET parent = " + std::to_string(f.value) +
         " WHERE ino = " + std::to_string(child.value));
  CheckReport r = Check();
  EXPECT_EQ(std::vector<uint64_t>{child.value}, InosOf(r, FindingKind::kParentNotDir));
}

TEST_F(CheckerTest, ParentCycleIsUnreachable) {
  InodeNo a = MakeDir(kRootInode, "a");
  InodeNo b = MakeDir(a, "b");
  RawSql("UPDATE inodes SET parent = " + std::to_string(b.value) +
         " WHERE ino = " + std::to_string(a.value));
  CheckReport r = Check(/*writable=*/true);
  EXPECT_EQ((std::vector<uint64_t>{a.value, b.value}), InosOf(r, FindingKind::kUnreachable));
  DropFlagged(r);
  r = checker_->Check(sb_).value();
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(1u, r.dirs);  // the root is never dropped
}

TEST_F(CheckerTest, SlotCountMismatchIsRecounted) {
  InodeNo a = FileAt("a", 0, 2);
  RawSql("UPDATE inodes SET slots = 9 WHERE ino = " + std::to_string(a.value));
  CheckReport r = Check(/*writable=*/true);
  ASSERT_EQ(std::vector<FindingKind>{FindingKind::kSlotCount}, Kinds(r));
  SLOTFS_ASSERT_OK(checker_->FixSlotCounts());
  EXPECT_TRUE(checker_->Check(sb_).value().findings.empty());
}

TEST_F(CheckerTest, MissingRootCannotBeRepaired) {
  RawSql("DELETE FROM inodes WHERE ino = 1");
  CheckReport r = Check();
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(FindingKind::kRoot, r.findings[0].kind);
  EXPECT_EQ(Remedy::kNone, r.findings[0].remedy);
}

TEST_F(CheckerTest, DatabaseOfAnotherDeviceIsNotUsable) {
  FileAt("a", 0, 1);
  blockdev::Superblock other = MakeSuperblock();
  CheckReport r = Check(false, &other);
  EXPECT_FALSE(r.usable);
  ASSERT_EQ(std::vector<FindingKind>{FindingKind::kDbBinding}, Kinds(r));
  EXPECT_TRUE(HasSubstr(r.findings[0].message, "belongs to another filesystem"));
}

TEST_F(CheckerTest, RecordedSuperblockMatchesTheBinding) {
  auto c = OpenChecker(false);
  auto sb = c->RecordedSuperblock(sb_.device_size);
  SLOTFS_ASSERT_OK(sb);
  EXPECT_TRUE(sb->SameGeometry(sb_));
  EXPECT_EQ(sb_.created_unix_ns, sb->created_unix_ns);
}

TEST_F(CheckerTest, CorruptDatabaseFileIsAFindingNotACrash) {
  for (int i = 0; i < 400; ++i) FileAt("file-with-a-long-name-" + std::to_string(i), i, 1);
  SLOTFS_ASSERT_OK(store_->Checkpoint());
  store_.reset();
  std::string bytes = ReadFileBytes(path_);
  ASSERT_GT(bytes.size(), 32u * 1024);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 8192; ++i) bytes[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(WriteFileBytes(path_, bytes));
  auto c = Checker::Open(path_, false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = c.value()->Check(sb_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->usable);
  ASSERT_FALSE(r->findings.empty());
  EXPECT_EQ(FindingKind::kDbCorrupt, r->findings[0].kind);
  EXPECT_TRUE(HasSubstr(r->findings[0].message, "corrupt") ||
              HasSubstr(r->findings[0].message, "integrity"));
}

TEST_F(CheckerTest, GarbageFileIsAFinding) {
  store_.reset();
  for (const char* s : {"", "-wal", "-shm"}) ::unlink((path_ + s).c_str());
  ASSERT_TRUE(WriteFileBytes(path_, std::string(64 * 1024, 'x')));
  auto c = Checker::Open(path_, false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = c.value()->Check(sb_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->usable);
  EXPECT_EQ(FindingKind::kDbCorrupt, r->findings.at(0).kind);
}

TEST_F(CheckerTest, MissingDatabaseIsENOENT) {
  auto c = Checker::Open(dir_ + "/nope.db", false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ENOENT, c.status().code());
}

TEST_F(CheckerTest, ReadOnlyCheckerRefusesRepairs) {
  auto c = OpenChecker(false);
  auto n = c->DropInodes({InodeNo(5)});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(EROFS, n.status().code());
}

TEST_F(CheckerTest, ForEachFileExtentsDecodesChecksums) {
  InodeNo a = MakeFile(kRootInode, "a");
  CommitExtents(a, {Extent{0, SlotId(4), 2, {11, 22}}, Extent{2, SlotId(9), 1, {}}});
  InodeNo b = FileAt("b", 20, 1);
  auto c = OpenChecker(false);
  std::vector<FileExtents> files;
  SLOTFS_ASSERT_OK(c->ForEachFileExtents([&](const FileExtents& f) {
    files.push_back(f);
    return Status::Ok();
  }));
  ASSERT_EQ(2u, files.size());
  EXPECT_EQ(a, files[0].ino);
  EXPECT_EQ(3 * sb_.slot_size, files[0].size);
  ASSERT_EQ(2u, files[0].extents.size());
  EXPECT_EQ((std::vector<uint64_t>{11, 22}), files[0].extents[0].csums);
  EXPECT_TRUE(files[0].extents[1].csums.empty());
  EXPECT_EQ(b, files[1].ino);
  EXPECT_EQ("b", c->PathOf(b));
}

}  // namespace
}  // namespace slotfs::meta::testing
