// core::Filesystem durability: crash (a child that exits without shutdown),
// group commit, fsync, and slot quarantine.
#include <fcntl.h>

#include <set>
#include <sstream>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

// Commits happen only when asked (fsync, CommitNow, shutdown).
class DurabilityTest : public FsTest {
 protected:
  DurabilityTest() { commit_interval_ = std::chrono::milliseconds(60'000); }
};

std::set<uint64_t> ParseSlots(const std::string& s) {
  std::set<uint64_t> out;
  std::stringstream ss(s);
  std::string run;
  while (std::getline(ss, run, ',')) {
    if (run.empty()) continue;
    auto dash = run.find('-');
    uint64_t a = std::stoull(run.substr(0, dash));
    uint64_t b = dash == std::string::npos ? a : std::stoull(run.substr(dash + 1));
    for (uint64_t i = a; i <= b; ++i) out.insert(i);
  }
  return out;
}

TEST_F(DurabilityTest, CrashDiscardsUncommittedFileAndKeepsFsyncedOne) {
  auto durable = Pattern(3 * kSlot + 5, 1);
  auto pending = Pattern(4 * kSlot, 2);
  int rc = RunInCrashingChild([&] {
    InodeNo d = WriteFile(kRootInode, "durable", durable);
    auto of = fs_->Open(d, O_RDONLY);
    if (!of.ok() || !fs_->Fsync(*of.value()).ok()) return 1;
    fs_->Release(std::move(of.value()));
    WriteFile(kRootInode, "pending", pending);  // closed, never committed
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(Ino(kRootInode, "durable")), durable);
  EXPECT_EQ(fs_->Lookup(kRootInode, "pending").status().code(), ENOENT);
  EXPECT_EQ(fs_->mount_summary().recovery.writes_discarded, 1u);
  EXPECT_EQ(fs_->mount_summary().recovery.creates_discarded, 1u);
  EXPECT_EQ(fs_->StatFs().slots_used, 4u) << "the pending file's slots came back";
}

TEST_F(DurabilityTest, CrashDuringRewriteKeepsTheOldGeneration) {
  auto v1 = Pattern(2 * kSlot + 100, 3);
  auto v2 = Pattern(3 * kSlot, 4);
  InodeNo ino = WriteFile(kRootInode, "f", v1);
  ASSERT_TRUE(fs_->CommitNow().ok());
  int rc = RunInCrashingChild([&] {
    // O_TRUNC rewrite, closed but not committed.
    WriteFile(kRootInode, "f", v2);
    // And a partial overwrite of another committed file, in place.
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(ino), v1);
  EXPECT_EQ(fs_->StatFs().slots_used, 3u);
  EXPECT_EQ(fs_->mount_summary().recovery.rewrites_discarded, 1u);
  EXPECT_EQ(fs_->mount_summary().recovery.creates_discarded, 0u);
}

TEST_F(DurabilityTest, CommitDuringARewriteCommitsTheClosedVersion) {
  // Found by the kill -9 crash loop: close v2, reopen and start writing v3,
  // a group commit runs, crash. The commit must be v2, never part of v3.
  auto v1 = Pattern(3 * kSlot, 31);
  auto v2 = Pattern(2 * kSlot + 500, 32);
  auto v3 = Pattern(4 * kSlot, 33);
  InodeNo ino = WriteFile(kRootInode, "f", v1);
  ASSERT_TRUE(fs_->CommitNow().ok());
  int rc = RunInCrashingChild([&] {
    WriteFile(kRootInode, "f", v2);  // O_TRUNC, closed: frozen
    auto of = fs_->Open(ino, O_WRONLY | O_TRUNC);
    if (!of.ok()) return 1;
    if (!fs_->Write(*of.value(), 0, {v3.data(), kSlot + 10}).ok()) return 2;
    if (!fs_->CommitNow().ok()) return 3;  // the round runs mid-rewrite
    // And an in-place rewrite of v2's own (frozen) slots must copy them.
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(ino), v2);
}

TEST_F(DurabilityTest, PartialRewriteWithoutTruncIsNotCommittedUntilClose) {
  auto v1 = Pattern(2 * kSlot, 34);
  InodeNo ino = WriteFile(kRootInode, "g", v1);
  ASSERT_TRUE(fs_->CommitNow().ok());
  int rc = RunInCrashingChild([&] {
    auto of = fs_->Open(ino, O_WRONLY);
    if (!of.ok()) return 1;
    auto patch = Pattern(kSlot, 35);
    if (!fs_->Write(*of.value(), 100, patch).ok()) return 2;
    if (!fs_->CommitNow().ok()) return 3;  // still open: nothing frozen
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(ino), v1);
}

TEST_F(DurabilityTest, RenameOverAFileNeverLosesBothVersions) {
  auto old_v = Pattern(2 * kSlot, 36);
  auto new_v = Pattern(3 * kSlot, 37);
  WriteFile(kRootInode, "x", old_v);
  ASSERT_TRUE(fs_->CommitNow().ok());
  int rc = RunInCrashingChild([&] {
    WriteFile(kRootInode, "tmp", new_v);  // closed, not committed
    if (!fs_->Rename(kRootInode, "tmp", kRootInode, "x", 0).ok()) return 1;
    // A process crash keeps the (unsynced) rename transaction: the case
    // where only the new file's content could be lost.
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(Ino(kRootInode, "x")), new_v);
}

TEST_F(DurabilityTest, GroupCommitMakesClosedFilesDurableWithoutFsync) {
  commit_interval_ = std::chrono::milliseconds(20);
  Remount();
  auto data = Pattern(kSlot, 5);
  int rc = RunInCrashingChild([&] {
    InodeNo g = WriteFile(kRootInode, "g", data);
    // No fsync: the committer's round alone must make it durable. Wait for
    // that round (state "committed" is set only after the durable
    // transaction), not for a guessed time, so a loaded machine cannot
    // crash the child before the committer ran.
    for (int i = 0; i < 2000; ++i) {
      auto st = fs_->GetXattr(g, "user.slotfs.state");
      if (st.ok() && st.value() == "committed") return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return 3;  // never committed within 10 s
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ReadAll(Ino(kRootInode, "g")), data);
}

TEST_F(DurabilityTest, FreedSlotsAreNotReusedBeforeTheFreeingCommitIsDurable) {
  InodeNo a = WriteFile(kRootInode, "a", Pattern(4 * kSlot, 6));
  ASSERT_TRUE(fs_->CommitNow().ok());
  std::set<uint64_t> a_slots = ParseSlots(Slots(a));
  ASSERT_EQ(a_slots.size(), 4u);
  ASSERT_TRUE(fs_->Unlink(kRootInode, "a").ok());
  EXPECT_EQ(fs_->StatFs().slots_quarantined, 4u);
  // Fill everything else: the quarantined slots must not be handed out.
  uint64_t free_slots = fs_->StatFs().slots_free;
  InodeNo b = WriteFile(kRootInode, "b", Pattern(free_slots * kSlot, 7));
  for (uint64_t s : ParseSlots(Slots(b))) {
    EXPECT_EQ(a_slots.count(s), 0u) << "slot " << s << " reused before durable";
  }
  auto of = fs_->Create(kRootInode, "c", 0644, 0, 0, O_WRONLY | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  // A write that finds only quarantined slots makes the freeing commit
  // durable first; then the quarantine lifts and the write reuses one.
  auto one = Pattern(10, 8);
  EXPECT_TRUE(fs_->Write(*of.value(), 0, one).ok());
  EXPECT_EQ(fs_->StatFs().slots_quarantined, 0u);
  InodeNo c = of.value()->inode->ino;
  for (uint64_t s : ParseSlots(Slots(c))) EXPECT_EQ(a_slots.count(s), 1u) << s;
  fs_->Release(std::move(of.value()));
}

TEST_F(DurabilityTest, RewrittenFileHoldsOldSlotsUntilCommit) {
  InodeNo ino = WriteFile(kRootInode, "r", Pattern(2 * kSlot, 9));
  ASSERT_TRUE(fs_->CommitNow().ok());
  std::set<uint64_t> v1 = ParseSlots(Slots(ino));
  WriteFile(kRootInode, "r", Pattern(2 * kSlot, 10));  // O_TRUNC
  std::set<uint64_t> v2 = ParseSlots(Slots(ino));
  for (uint64_t s : v2) EXPECT_EQ(v1.count(s), 0u);
  EXPECT_EQ(fs_->StatFs().slots_used, 4u);
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->StatFs().slots_used, 2u);
  EXPECT_EQ(fs_->StatFs().slots_quarantined, 0u);
}

TEST_F(DurabilityTest, FsyncOfUnchangedFileReturnsAtOnce) {
  InodeNo ino = WriteFile(kRootInode, "u", Pattern(100, 11));
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  EXPECT_TRUE(fs_->Fsync(*of.value()).ok());
  EXPECT_EQ(fs_->GetXattr(ino, "user.slotfs.state").value(), "committed");
  fs_->Release(std::move(of.value()));
}

TEST_F(DurabilityTest, EmptyCreatedFileSurvivesOnceCommitted) {
  auto of = fs_->Create(kRootInode, "empty", 0644, 0, 0, O_WRONLY | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  ASSERT_TRUE(fs_->Fsync(*of.value()).ok());
  fs_->Release(std::move(of.value()));
  int rc = RunInCrashingChild([] { return 0; });
  ASSERT_EQ(rc, 0);
  auto a = fs_->Lookup(kRootInode, "empty");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 0u);
}

}  // namespace
}  // namespace slotfs::core::testing
