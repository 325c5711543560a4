// meta::Store: the journal of in-flight writes (creates and rewrites), how
// each namespace and content operation keeps it, and what Recover() reports
// from it.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "meta/store.h"
#include "tests/meta/store_fixture.h"

namespace slotfs::meta::testing {
namespace {

class StoreJournalTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    CreateStore();
  }

  uint64_t JournalSize() {
    auto n = store_->JournalSize();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? n.value() : UINT64_MAX;
  }
};

TEST_F(StoreJournalTest, FreshDatabaseHasEmptyJournal) {
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, CreateInWritingStateIsJournaled) {
  MakeFile(kRootInode, "w", InodeState::kWriting);
  EXPECT_EQ(JournalSize(), 1u);
  Reopen();
  EXPECT_EQ(JournalSize(), 1u);
}

TEST_F(StoreJournalTest, CompleteInodesAreNotJournaled) {
  MakeDir(kRootInode, "d");
  MakeFile(kRootInode, "f");
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, CreateWithJournalIsOneTransaction) {
  uint64_t seq = store_->last_seq();
  MakeFile(kRootInode, "w", InodeState::kWriting);
  EXPECT_EQ(store_->last_seq(), seq + 1);
  EXPECT_LT(store_->durable_seq(), store_->last_seq());
}

TEST_F(StoreJournalTest, DuplicateCreateLeavesNoJournalEntry) {
  MakeFile(kRootInode, "x");
  auto r = store_->CreateInode(kRootInode, "x", kFileMode, 0, 0, 1,
                               InodeState::kWriting);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EEXIST);
  EXPECT_EQ(JournalSize(), 0u);
  // The rolled-back transaction leaves the store writable.
  MakeFile(kRootInode, "y", InodeState::kWriting);
  EXPECT_EQ(JournalSize(), 1u);
}

TEST_F(StoreJournalTest, CommitFilesClearsTheEntry) {
  InodeNo w = MakeFile(kRootInode, "w", InodeState::kWriting);
  InodeNo other = MakeFile(kRootInode, "other", InodeState::kWriting);
  CommitExtents(w, {{0, SlotId(1), 1}});
  EXPECT_EQ(JournalSize(), 1u);  // only `other` is still in flight
  CommitExtents(other, {});
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, CommitFilesOfDeletedInodeClearsItsEntryToo) {
  InodeNo c = MakeFile(kRootInode, "c");
  ASSERT_TRUE(store_->JournalRewrite(c, 1).ok());
  ASSERT_EQ(JournalSize(), 1u);
  // An entry for an inode whose row is gone (e.g. journaled concurrently
  // with a delete) is still cleared by the commit that names it.
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("DELETE FROM inodes WHERE ino=" + std::to_string(c.value)), "");
  }
  Reopen();
  std::vector<InodeNo> missing;
  FileCommit fc{c, 1, 1, 1, {{0, SlotId(2), 1}}};
  ASSERT_TRUE(store_->CommitFiles({fc}, &missing).ok());
  EXPECT_EQ(missing, (std::vector<InodeNo>{c}));
  EXPECT_EQ(JournalSize(), 0u);
  EXPECT_TRUE(AllExtents().empty());
}

TEST_F(StoreJournalTest, DeleteInodeClearsTheEntry) {
  InodeNo w = MakeFile(kRootInode, "w", InodeState::kWriting);
  InodeNo c = MakeFile(kRootInode, "c");
  ASSERT_TRUE(store_->JournalRewrite(c, 1).ok());
  ASSERT_EQ(JournalSize(), 2u);
  ASSERT_TRUE(store_->DeleteInode(w).ok());
  EXPECT_EQ(JournalSize(), 1u);
  ASSERT_TRUE(store_->DeleteInode(c).ok());
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, FailedDeleteKeepsTheJournal) {
  MakeFile(kRootInode, "w", InodeState::kWriting);
  EXPECT_EQ(store_->DeleteInode(InodeNo(9999)).status().code(), ENOENT);
  EXPECT_EQ(JournalSize(), 1u);
}

TEST_F(StoreJournalTest, RenameOverReplacedInodeClearsItsEntry) {
  InodeNo src = MakeFile(kRootInode, "src", InodeState::kWriting);
  InodeNo dst = MakeFile(kRootInode, "dst", InodeState::kWriting);
  ASSERT_EQ(JournalSize(), 2u);
  ASSERT_TRUE(store_->Rename(src, kRootInode, "dst", dst, 1).ok());
  EXPECT_EQ(JournalSize(), 1u);  // src's create is still in flight
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->creates_discarded, 1u);
}

TEST_F(StoreJournalTest, FailedRenameKeepsTheReplacedEntry) {
  InodeNo dst = MakeFile(kRootInode, "dst", InodeState::kWriting);
  auto r = store_->Rename(InodeNo(9999), kRootInode, "dst", dst, 1);
  EXPECT_EQ(r.status().code(), ENOENT);
  EXPECT_EQ(JournalSize(), 1u);
  EXPECT_TRUE(store_->GetInode(dst).ok());
}

TEST_F(StoreJournalTest, JournalRewriteIsIdempotent) {
  InodeNo c = MakeFile(kRootInode, "c");
  ASSERT_TRUE(store_->JournalRewrite(c, 1).ok());
  ASSERT_TRUE(store_->JournalRewrite(c, 2).ok());
  ASSERT_TRUE(store_->JournalRewrite(c, 3).ok());
  EXPECT_EQ(JournalSize(), 1u);
}

TEST_F(StoreJournalTest, JournalRewriteAdvancesLastSeqOnly) {
  InodeNo c = MakeFile(kRootInode, "c");
  ASSERT_TRUE(store_->Sync().ok());
  uint64_t seq = store_->last_seq();
  ASSERT_TRUE(store_->JournalRewrite(c, 1).ok());
  EXPECT_EQ(store_->last_seq(), seq + 1);
  EXPECT_EQ(store_->durable_seq(), seq);
}

TEST_F(StoreJournalTest, JournalRewriteOfInFlightCreateStaysACreate) {
  InodeNo w = MakeFile(kRootInode, "w", InodeState::kWriting);
  ASSERT_TRUE(store_->JournalRewrite(w, 5).ok());
  EXPECT_EQ(JournalSize(), 1u);
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->creates_discarded, 1u);
  EXPECT_EQ(r->rewrites_discarded, 0u);
  EXPECT_EQ(store_->GetInode(w).status().code(), ENOENT);
}

TEST_F(StoreJournalTest, JournalRewriteIsRejectedByReadOnlyStore) {
  InodeNo c = MakeFile(kRootInode, "c");
  StoreOptions ro;
  ro.read_only = true;
  Reopen(ro);
  EXPECT_EQ(store_->JournalRewrite(c, 1).code(), EROFS);
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, RecoverKeepsCommittedVersionOfRewrittenFile) {
  InodeNo c = MakeFile(kRootInode, "c");
  std::vector<Extent> committed = {{0, SlotId(10), 2, {0x1111, 0x2222}}};
  CommitExtents(c, committed, 100000);
  ASSERT_TRUE(store_->JournalRewrite(c, 1).ok());
  Reopen();  // as after a crash: the rewrite never committed

  auto r = store_->Recover();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rewrites_discarded, 1u);
  EXPECT_EQ(r->creates_discarded, 0u);
  EXPECT_EQ(r->writes_discarded, 1u);
  EXPECT_EQ(r->extents_dropped, 0u);
  EXPECT_EQ(r->files_kept, 1u);
  auto row = store_->GetInode(c);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->size, 100000u);
  EXPECT_EQ(row->state, InodeState::kComplete);
  EXPECT_EQ(store_->GetExtents(c).value(), committed);
  EXPECT_EQ(JournalSize(), 0u);
}

TEST_F(StoreJournalTest, RecoverReportsCreatesAndRewritesSeparately) {
  InodeNo c1 = MakeFile(kRootInode, "c1");
  InodeNo c2 = MakeFile(kRootInode, "c2");
  CommitExtents(c1, {{0, SlotId(1), 1}});
  CommitExtents(c2, {{0, SlotId(2), 1}});
  ASSERT_TRUE(store_->JournalRewrite(c1, 1).ok());
  ASSERT_TRUE(store_->JournalRewrite(c2, 1).ok());
  MakeFile(kRootInode, "n1", InodeState::kWriting);
  MakeFile(kRootInode, "n2", InodeState::kWriting);
  MakeFile(kRootInode, "n3", InodeState::kWriting);
  Reopen();

  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->creates_discarded, 3u);
  EXPECT_EQ(r->rewrites_discarded, 2u);
  EXPECT_EQ(r->writes_discarded, 5u);
  EXPECT_EQ(r->files_kept, 2u);
  EXPECT_EQ(JournalSize(), 0u);
  EXPECT_EQ(AllExtents().size(), 2u);

  // Recovery emptied the journal durably: a second run finds nothing.
  Reopen();
  auto again = store_->Recover();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->writes_discarded, 0u);
  EXPECT_EQ(again->creates_discarded, 0u);
  EXPECT_EQ(again->rewrites_discarded, 0u);
}

TEST_F(StoreJournalTest, RecoverCountsWritingRowsWithoutJournalEntry) {
  // A kWriting row whose journal entry is missing (a database from before
  // the journal) is still removed and counted as a discarded create.
  InodeNo w = MakeFile(kRootInode, "w", InodeState::kWriting);
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("DELETE FROM journal"), "");
  }
  Reopen();
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->creates_discarded, 1u);
  EXPECT_EQ(r->writes_discarded, 1u);
  EXPECT_EQ(store_->GetInode(w).status().code(), ENOENT);
}

TEST_F(StoreJournalTest, JournalSizeWorksOnReadOnlyStore) {
  MakeFile(kRootInode, "w", InodeState::kWriting);
  StoreOptions ro;
  ro.read_only = true;
  Reopen(ro);
  EXPECT_EQ(JournalSize(), 1u);
}

}  // namespace
}  // namespace slotfs::meta::testing
