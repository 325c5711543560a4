// meta::Store: file content (CommitFiles, extents), sequence numbers and
// durability, recovery of uncommitted writes, and accounting.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "meta/store.h"
#include "tests/meta/store_fixture.h"

namespace slotfs::meta::testing {
namespace {

class StoreContentTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    CreateStore();
  }

  // Inserts an extent behind the Store's back (the Store never writes
  // extents for a kWriting inode, but a crash between steps of a future
  // writer, or an older version, could leave some).
  void RawInsertExtent(InodeNo ino, const Extent& e) {
    store_.reset();
    {
      RawDb raw(path_);
      ASSERT_EQ(raw.Exec("INSERT INTO extents(ino, lslot, slot, count) VALUES(" +
                         std::to_string(ino.value) + "," + std::to_string(e.lslot) +
                         "," + std::to_string(e.slot.value) + "," +
                         std::to_string(e.count) + ")"),
                "");
    }
    Reopen();
  }
};

TEST_F(StoreContentTest, CommitFilesSetsSizeSlotsTimesAndStateComplete) {
  InodeNo f = MakeFile(kRootInode, "f", InodeState::kWriting);
  FileCommit fc;
  fc.ino = f;
  fc.size = 3 * sb_.slot_size + 17;
  fc.mtime_ns = 111;
  fc.ctime_ns = 222;
  fc.extents = {{0, SlotId(10), 3}, {3, SlotId(500), 1}};
  std::vector<InodeNo> missing;
  ASSERT_TRUE(store_->CommitFiles({fc}, &missing).ok());
  EXPECT_TRUE(missing.empty());

  Reopen();
  auto row = store_->GetInode(f);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->size, 3 * sb_.slot_size + 17);
  EXPECT_EQ(row->slots, 4u);  // sum of extent counts
  EXPECT_EQ(row->mtime_ns, 111);
  EXPECT_EQ(row->ctime_ns, 222);
  EXPECT_EQ(row->state, InodeState::kComplete);
  EXPECT_EQ(store_->GetExtents(f).value(), fc.extents);
}

TEST_F(StoreContentTest, CommitFilesReplacesExtents) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(1), 2}, {2, SlotId(9), 2}});
  CommitExtents(f, {{0, SlotId(40), 1}});
  EXPECT_EQ(store_->GetExtents(f).value(),
            (std::vector<Extent>{{0, SlotId(40), 1}}));
  EXPECT_EQ(store_->GetInode(f)->slots, 1u);
  EXPECT_EQ(AllExtents().size(), 1u);
}

TEST_F(StoreContentTest, CommitFilesWithNoExtentsTruncatesToEmpty) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(1), 2}});
  FileCommit fc;
  fc.ino = f;
  fc.size = 0;
  ASSERT_TRUE(store_->CommitFiles({fc}, nullptr).ok());
  EXPECT_TRUE(store_->GetExtents(f).value().empty());
  EXPECT_EQ(store_->GetInode(f)->size, 0u);
  EXPECT_EQ(store_->GetInode(f)->slots, 0u);
  EXPECT_TRUE(AllExtents().empty());
}

TEST_F(StoreContentTest, CommitFilesCommitsSeveralFilesInOneTransaction) {
  InodeNo a = MakeFile(kRootInode, "a", InodeState::kWriting);
  InodeNo b = MakeFile(kRootInode, "b", InodeState::kWriting);
  uint64_t seq = store_->last_seq();
  FileCommit fa{a, 10, 1, 1, {{0, SlotId(0), 1}}};
  FileCommit fb{b, 20, 1, 1, {{0, SlotId(1), 1}}};
  ASSERT_TRUE(store_->CommitFiles({fa, fb}, nullptr).ok());
  EXPECT_EQ(store_->last_seq(), seq + 1);
  EXPECT_EQ(store_->GetInode(a)->state, InodeState::kComplete);
  EXPECT_EQ(store_->GetInode(b)->state, InodeState::kComplete);
  EXPECT_EQ(AllExtents().size(), 2u);
}

TEST_F(StoreContentTest, CommitFilesSkipsDeletedInodesWithoutOrphanExtents) {
  InodeNo keep = MakeFile(kRootInode, "keep", InodeState::kWriting);
  InodeNo gone = MakeFile(kRootInode, "gone", InodeState::kWriting);
  ASSERT_TRUE(store_->DeleteInode(gone).ok());
  FileCommit fk{keep, 5, 1, 1, {{0, SlotId(3), 1}}};
  FileCommit fg{gone, 5, 1, 1, {{0, SlotId(4), 2}}};
  FileCommit fnever{InodeNo(99999), 5, 1, 1, {{0, SlotId(8), 1}}};
  std::vector<InodeNo> missing;
  ASSERT_TRUE(store_->CommitFiles({fg, fk, fnever}, &missing).ok());
  EXPECT_EQ(missing, (std::vector<InodeNo>{gone, InodeNo(99999)}));

  auto all = AllExtents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, keep.value);
  EXPECT_EQ(all[0].second, (Extent{0, SlotId(3), 1}));
  EXPECT_EQ(store_->GetInode(gone).status().code(), ENOENT);
  // The skipped files did not resurrect anything.
  Reopen();
  EXPECT_EQ(AllExtents().size(), 1u);
  EXPECT_EQ(store_->Count()->files, 1u);
}

TEST_F(StoreContentTest, CommitFilesWithNullMissingSkipsQuietly) {
  FileCommit f{InodeNo(4321), 1, 1, 1, {{0, SlotId(1), 1}}};
  ASSERT_TRUE(store_->CommitFiles({f}, nullptr).ok());
  EXPECT_TRUE(AllExtents().empty());
}

TEST_F(StoreContentTest, CommitFilesAppendsToExistingMissingVector) {
  std::vector<InodeNo> missing = {InodeNo(1)};
  FileCommit f{InodeNo(4321), 1, 1, 1, {}};
  ASSERT_TRUE(store_->CommitFiles({f}, &missing).ok());
  EXPECT_EQ(missing, (std::vector<InodeNo>{InodeNo(1), InodeNo(4321)}));
}

TEST_F(StoreContentTest, CommitFilesWithDuplicateLslotFailsAndRollsBackAll) {
  InodeNo a = MakeFile(kRootInode, "a", InodeState::kWriting);
  InodeNo b = MakeFile(kRootInode, "b", InodeState::kWriting);
  uint64_t seq = store_->last_seq();
  uint64_t durable = store_->durable_seq();
  FileCommit fa{a, 10, 1, 1, {{0, SlotId(0), 1}}};
  FileCommit fb{b, 20, 1, 1, {{0, SlotId(1), 1}, {0, SlotId(2), 1}}};
  Status st = store_->CommitFiles({fa, fb}, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(store_->last_seq(), seq);
  EXPECT_EQ(store_->durable_seq(), durable);
  // a's part of the transaction rolled back too.
  EXPECT_EQ(store_->GetInode(a)->state, InodeState::kWriting);
  EXPECT_TRUE(AllExtents().empty());
  // And the store still works.
  CommitExtents(a, {{0, SlotId(0), 1}});
}

TEST_F(StoreContentTest, GetExtentsIsOrderedByLogicalSlot) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{5, SlotId(1), 1}, {0, SlotId(2), 3}, {3, SlotId(9), 2}});
  EXPECT_EQ(store_->GetExtents(f).value(),
            (std::vector<Extent>{{0, SlotId(2), 3}, {3, SlotId(9), 2}, {5, SlotId(1), 1}}));
}

TEST_F(StoreContentTest, GetExtentsOfMissingInodeIsEmpty) {
  auto e = store_->GetExtents(InodeNo(1234));
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
}

TEST_F(StoreContentTest, ExtentsKeepLargeSlotNumbers) {
  InodeNo f = MakeFile(kRootInode, "f");
  const uint64_t big = (uint64_t{1} << 40) + 3;
  CommitExtents(f, {{0, SlotId(big), 1}, {1, SlotId(UINT32_MAX + uint64_t{1}), 1}}, 1);
  EXPECT_EQ(store_->GetExtents(f).value(),
            (std::vector<Extent>{{0, SlotId(big), 1},
                                 {1, SlotId(UINT32_MAX + uint64_t{1}), 1}}));
}

// --- per-slot checksums ---

TEST_F(StoreContentTest, ChecksumsRoundTripThroughCommitAndReopen) {
  InodeNo f = MakeFile(kRootInode, "f");
  std::vector<Extent> ext = {
      {0, SlotId(10), 3, {0, UINT64_MAX, 0x0102030405060708ULL}},
      {3, SlotId(90), 1, {0x8000000000000000ULL}},
  };
  CommitExtents(f, ext);
  EXPECT_EQ(store_->GetExtents(f).value(), ext);
  Reopen();
  EXPECT_EQ(store_->GetExtents(f).value(), ext);
  auto all = AllExtents();
  ASSERT_EQ(all.size(), 2u);
  for (const auto& [ino, e] : all) {
    EXPECT_EQ(ino, f.value);
    EXPECT_EQ(e, e.lslot == 0 ? ext[0] : ext[1]);
  }
}

TEST_F(StoreContentTest, ExtentWithoutChecksumsReadsBackEmpty) {
  InodeNo f = MakeFile(kRootInode, "f");
  std::vector<Extent> ext = {{0, SlotId(1), 2}, {2, SlotId(5), 1, {42}}};
  CommitExtents(f, ext);
  auto got = store_->GetExtents(f);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_TRUE((*got)[0].csums.empty());
  EXPECT_EQ((*got)[1].csums, (std::vector<uint64_t>{42}));
}

TEST_F(StoreContentTest, DeleteAndRenameReturnExtentsWithChecksums) {
  InodeNo a = MakeFile(kRootInode, "a");
  InodeNo b = MakeFile(kRootInode, "b");
  InodeNo c = MakeFile(kRootInode, "c");
  std::vector<Extent> ea = {{0, SlotId(1), 1, {7}}};
  std::vector<Extent> eb = {{0, SlotId(2), 2, {8, 9}}};
  CommitExtents(a, ea);
  CommitExtents(b, eb);
  auto del = store_->DeleteInode(a);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del.value(), ea);
  auto ren = store_->Rename(c, kRootInode, "b", b, 1);
  ASSERT_TRUE(ren.ok());
  EXPECT_EQ(ren.value(), eb);
}

TEST_F(StoreContentTest, RecommitReplacesChecksums) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(1), 1, {111}}});
  CommitExtents(f, {{0, SlotId(1), 1, {222}}});
  EXPECT_EQ(store_->GetExtents(f).value(),
            (std::vector<Extent>{{0, SlotId(1), 1, {222}}}));
  CommitExtents(f, {{0, SlotId(1), 1}});
  EXPECT_TRUE(store_->GetExtents(f).value()[0].csums.empty());
}

// --- sequence numbers ---

TEST_F(StoreContentTest, CreateLeavesEverythingDurable) {
  EXPECT_GT(store_->last_seq(), 0u);
  EXPECT_EQ(store_->durable_seq(), store_->last_seq());
}

TEST_F(StoreContentTest, NormalTransactionsAdvanceLastSeqOnly) {
  uint64_t durable = store_->durable_seq();
  uint64_t seq = store_->last_seq();
  InodeNo f = MakeFile(kRootInode, "f");
  EXPECT_EQ(store_->last_seq(), seq + 1);
  InodeRow row = store_->GetInode(f).value();
  ASSERT_TRUE(store_->UpdateAttrs(row).ok());
  EXPECT_EQ(store_->last_seq(), seq + 2);
  ASSERT_TRUE(store_->SetPin(f, 1).ok());
  EXPECT_EQ(store_->last_seq(), seq + 3);
  ASSERT_TRUE(store_->Rename(f, kRootInode, "g", InodeNo(0), 1).ok());
  EXPECT_EQ(store_->last_seq(), seq + 4);
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  EXPECT_EQ(store_->last_seq(), seq + 5);
  EXPECT_EQ(store_->durable_seq(), durable);
}

TEST_F(StoreContentTest, ReadsDoNotAdvanceSeq) {
  InodeNo f = MakeFile(kRootInode, "f");
  uint64_t seq = store_->last_seq();
  (void)store_->GetInode(f);
  (void)store_->Lookup(kRootInode, "f");
  (void)store_->ListChildren(kRootInode, InodeNo(0), 10);
  (void)store_->HasChildren(kRootInode);
  (void)store_->GetExtents(f);
  (void)store_->Count();
  (void)AllExtents();
  EXPECT_EQ(store_->last_seq(), seq);
}

TEST_F(StoreContentTest, CommitFilesMakesDurableSeqEqualLastSeq) {
  InodeNo f = MakeFile(kRootInode, "f", InodeState::kWriting);
  MakeFile(kRootInode, "g");
  ASSERT_LT(store_->durable_seq(), store_->last_seq());
  uint64_t seq = store_->last_seq();
  CommitExtents(f, {{0, SlotId(1), 1}});
  EXPECT_EQ(store_->last_seq(), seq + 1);
  EXPECT_EQ(store_->durable_seq(), store_->last_seq());
}

TEST_F(StoreContentTest, SyncMakesDurableSeqEqualLastSeq) {
  MakeFile(kRootInode, "a");
  MakeFile(kRootInode, "b");
  ASSERT_LT(store_->durable_seq(), store_->last_seq());
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(store_->durable_seq(), store_->last_seq());
}

TEST_F(StoreContentTest, SyncWithNothingPendingStillSucceeds) {
  ASSERT_TRUE(store_->Sync().ok());
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(store_->durable_seq(), store_->last_seq());
}

TEST_F(StoreContentTest, DurableSeqNeverExceedsLastSeq) {
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      ASSERT_TRUE(store_->Sync().ok());
    } else {
      MakeFile(kRootInode, std::to_string(i));
    }
    EXPECT_LE(store_->durable_seq(), store_->last_seq());
  }
}

TEST_F(StoreContentTest, FailedWritesDoNotAdvanceSeq) {
  MakeFile(kRootInode, "x");
  uint64_t seq = store_->last_seq();
  EXPECT_FALSE(store_->CreateInode(kRootInode, "x", kFileMode, 0, 0, 1,
                                   InodeState::kComplete).ok());
  EXPECT_FALSE(store_->DeleteInode(InodeNo(888)).ok());
  EXPECT_FALSE(store_->SetPin(InodeNo(888), 1).ok());
  EXPECT_FALSE(store_->Rename(InodeNo(888), kRootInode, "y", InodeNo(0), 1).ok());
  EXPECT_EQ(store_->last_seq(), seq);
}

// NORMAL commits are durable at the next FULL commit: after Sync() and a
// close without checkpoint, the rows are all in the WAL and readable.
TEST_F(StoreContentTest, SyncedRowsAreReadableFromAnotherConnection) {
  MakeFile(kRootInode, "a");
  ASSERT_TRUE(store_->Sync().ok());
  RawDb raw(path_, SQLITE_OPEN_READONLY);
  EXPECT_EQ(raw.QueryText("SELECT count(*) FROM inodes WHERE name=CAST('a' AS BLOB)"), "1");
}

// --- recovery ---

// A crash of the daemon (no close, no checkpoint, -wal and -shm left
// behind) loses no committed transaction, NORMAL ones included; recovery
// then drops the write that never committed.
TEST_F(StoreContentTest, CommittedRowsSurviveProcessCrashWithoutClose) {
  store_.reset();
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = Store::Open(path_, sb_, {});
    if (!s.ok()) _exit(10);
    Store& st = *s.value();
    auto d = st.CreateInode(kRootInode, "d", kDirMode, 0, 0, 1, InodeState::kComplete);
    auto f = st.CreateInode(d->ino, "f", kFileMode, 0, 0, 1, InodeState::kWriting);
    auto w = st.CreateInode(d->ino, "w", kFileMode, 0, 0, 1, InodeState::kWriting);
    if (!d.ok() || !f.ok() || !w.ok()) _exit(11);
    FileCommit fc{f->ino, 42, 2, 2, {{0, SlotId(7), 1}}};
    if (!st.CommitFiles({fc}, nullptr).ok()) _exit(12);
    if (!st.SetPin(f->ino, 9).ok()) _exit(13);  // NORMAL, after the sync
    _exit(0);  // no destructor: the store is never closed
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(Exists(path_ + "-wal"));

  Reopen();
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->writes_discarded, 1u);
  auto d = store_->Lookup(kRootInode, "d");
  ASSERT_TRUE(d.ok());
  auto f = store_->Lookup(d->ino, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size, 42u);
  EXPECT_EQ(f->pin, 9u);
  EXPECT_EQ(f->state, InodeState::kComplete);
  EXPECT_EQ(store_->GetExtents(f->ino).value(),
            (std::vector<Extent>{{0, SlotId(7), 1}}));
  EXPECT_EQ(store_->Lookup(d->ino, "w").status().code(), ENOENT);
}


TEST_F(StoreContentTest, RecoverDiscardsWritingInodesWithTheirExtents) {
  InodeNo done = MakeFile(kRootInode, "done", InodeState::kWriting);
  CommitExtents(done, {{0, SlotId(1), 2}});
  InodeNo w1 = MakeFile(kRootInode, "w1", InodeState::kWriting);
  InodeNo w2 = MakeFile(kRootInode, "w2", InodeState::kWriting);
  InodeNo d = MakeDir(kRootInode, "d");
  RawInsertExtent(w1, {0, SlotId(10), 3});
  RawInsertExtent(w1, {3, SlotId(20), 1});

  auto r = store_->Recover();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->writes_discarded, 2u);
  EXPECT_EQ(r->creates_discarded, 2u);
  EXPECT_EQ(r->rewrites_discarded, 0u);
  EXPECT_EQ(r->extents_dropped, 2u);
  EXPECT_EQ(r->files_kept, 1u);  // regular files only; d and root are dirs

  EXPECT_EQ(store_->GetInode(w1).status().code(), ENOENT);
  EXPECT_EQ(store_->GetInode(w2).status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "w1").status().code(), ENOENT);
  EXPECT_TRUE(store_->GetInode(done).ok());
  EXPECT_TRUE(store_->GetInode(d).ok());
  auto all = AllExtents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, done.value);
  EXPECT_EQ(store_->durable_seq(), store_->last_seq());
  // Durable: a reopen sees the same.
  Reopen();
  EXPECT_EQ(store_->GetInode(w1).status().code(), ENOENT);
  EXPECT_EQ(AllExtents().size(), 1u);
}

TEST_F(StoreContentTest, RecoverOnCleanDatabaseDiscardsNothing) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(1), 1}});
  MakeFile(kRootInode, "g");
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->writes_discarded, 0u);
  EXPECT_EQ(r->extents_dropped, 0u);
  EXPECT_EQ(r->files_kept, 2u);
  auto again = store_->Recover();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->files_kept, 2u);
}

TEST_F(StoreContentTest, RecoverOnFreshDatabaseKeepsRoot) {
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_kept, 0u);
  EXPECT_TRUE(store_->GetInode(kRootInode).ok());
}

TEST_F(StoreContentTest, RecoverAfterReopenDiscardsWritesOfThePreviousRun) {
  MakeFile(kRootInode, "unfinished", InodeState::kWriting);
  Reopen();
  auto r = store_->Recover();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->writes_discarded, 1u);
  EXPECT_EQ(store_->Lookup(kRootInode, "unfinished").status().code(), ENOENT);
}

TEST_F(StoreContentTest, StoreStaysNormalSynchronousAfterRecover) {
  // Recover runs with synchronous=FULL and must restore NORMAL: later
  // namespace transactions are not durable on their own.
  ASSERT_TRUE(store_->Recover().ok());
  MakeFile(kRootInode, "x");
  EXPECT_LT(store_->durable_seq(), store_->last_seq());
}

// --- ForEachExtent ---

TEST_F(StoreContentTest, ForEachExtentVisitsEveryExtent) {
  std::set<std::pair<uint64_t, uint64_t>> want;  // (ino, slot)
  for (int i = 0; i < 5; ++i) {
    InodeNo f = MakeFile(kRootInode, "f" + std::to_string(i));
    std::vector<Extent> ext;
    for (int j = 0; j <= i; ++j) {
      uint64_t slot = static_cast<uint64_t>(100 * i + 10 * j);
      ext.push_back({static_cast<uint64_t>(j), SlotId(slot), 1});
      want.insert({f.value, slot});
    }
    CommitExtents(f, ext);
  }
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const auto& [ino, e] : AllExtents()) {
    EXPECT_EQ(e.count, 1u);
    EXPECT_TRUE(seen.insert({ino, e.slot.value}).second) << "visited twice";
  }
  EXPECT_EQ(seen, want);
}

TEST_F(StoreContentTest, ForEachExtentOnEmptyDatabaseVisitsNothing) {
  EXPECT_TRUE(AllExtents().empty());
}

TEST_F(StoreContentTest, ForEachExtentStopsAtFirstErrorAndReturnsIt) {
  for (int i = 0; i < 3; ++i) {
    InodeNo f = MakeFile(kRootInode, std::to_string(i));
    CommitExtents(f, {{0, SlotId(static_cast<uint64_t>(i)), 1}});
  }
  int calls = 0;
  Status st = store_->ForEachExtent([&](InodeNo, const Extent&) {
    ++calls;
    return calls == 2 ? Status::Error(EUCLEAN, "double owner") : Status::Ok();
  });
  EXPECT_EQ(st.code(), EUCLEAN);
  EXPECT_EQ(st.message(), "double owner");
  EXPECT_EQ(calls, 2);
  // The store is usable afterwards (the statement was finalized).
  MakeFile(kRootInode, "after");
  ASSERT_TRUE(store_->Sync().ok());
}

// --- Count ---

TEST_F(StoreContentTest, CountOfFreshDatabaseIsJustTheRoot) {
  auto c = store_->Count();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->files, 0u);
  EXPECT_EQ(c->dirs, 1u);
  EXPECT_EQ(c->bytes, 0u);
  EXPECT_EQ(c->slots, 0u);
}

TEST_F(StoreContentTest, CountSumsFilesDirsBytesAndSlots) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo a = MakeFile(d, "a");
  InodeNo b = MakeFile(kRootInode, "b");
  MakeFile(kRootInode, "empty");
  MakeInode(kRootInode, "link", S_IFLNK | 0777);  // neither file nor dir
  CommitExtents(a, {{0, SlotId(0), 2}}, 100000);
  CommitExtents(b, {{0, SlotId(5), 1}, {1, SlotId(9), 3}}, 250000);
  auto c = store_->Count();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->files, 3u);
  EXPECT_EQ(c->dirs, 2u);
  EXPECT_EQ(c->bytes, 350000u);
  EXPECT_EQ(c->slots, 6u);
  ASSERT_TRUE(store_->DeleteInode(b).ok());
  c = store_->Count();
  EXPECT_EQ(c->files, 2u);
  EXPECT_EQ(c->bytes, 100000u);
  EXPECT_EQ(c->slots, 2u);
}

}  // namespace
}  // namespace slotfs::meta::testing
