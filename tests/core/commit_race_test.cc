// core::Filesystem group commit racing new versions of the same file: the
// slots a commit releases are exactly those its version stopped using,
// never a slot of a version frozen while it ran.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class CommitRaceTest : public FsTest {
 protected:
  CommitRaceTest() {
    image_size_ = 16ull << 20;  // few slots: released ones are reused at once
    commit_interval_ = std::chrono::milliseconds(1000);  // rounds only on demand
  }

  void WriteSlot(OpenFile& of, uint64_t lslot, uint64_t seed) {
    auto d = Pattern(kSlot, seed);
    auto w = fs_->Write(of, lslot * kSlot, d);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
};

// A version frozen while a commit of the previous one is flushing counted
// the previous commit's released slots among its own; when a later write
// displaced one of its slots, its commit released that slot too, although
// its own (now durable) row still pointed at it. A crash then brought that
// row back over bytes another file had written.
TEST_F(CommitRaceTest, VersionFrozenDuringACommitKeepsItsSlots) {
  InodeNo ino = WriteFile(kRootInode, "f", Pattern(2 * kSlot, 1));
  ASSERT_TRUE(fs_->CommitNow().ok());
  // v2: slot 0 rewritten, slot 1 kept; its expected content, durable at the
  // end of the child:
  std::vector<uint8_t> v2 = Pattern(kSlot, 2);
  auto v3 = Pattern(kSlot, 3);
  v2.insert(v2.end(), v3.begin(), v3.end());

  int status = RunInCrashingChild([&]() -> int {
    // The child's filesystem runs on a fault-injecting wrapper for its
    // flush hook.
    if (!fs_->Shutdown().ok()) return 90;
    fs_.reset();
    Mount(/*faulty=*/true);
    if (!fs_ || !fault_) return 91;
    auto of = fs_->Open(ino, O_RDWR);
    if (!of.ok()) return 92;
    WriteSlot(*of.value(), 0, 2);  // v1: slot 0 copied, the old one waits
    if (!fs_->Flush(*of.value()).ok()) return 93;
    // While v1's commit flushes: v2 frozen (slot 1 copied), then slot 0 of
    // v2 displaced by a write that is never closed.
    fault_->OnNextFlush([&] {
      WriteSlot(*of.value(), 1, 3);
      if (!fs_->Flush(*of.value()).ok()) _exit(94);
      WriteSlot(*of.value(), 0, 4);
    });
    if (!fs_->CommitNow().ok()) return 95;  // v1
    if (!fs_->CommitNow().ok()) return 96;  // v2
    // Whatever v2's commit released is reused now, by a file that fills
    // the device.
    Attr attr;
    auto filler = fs_->Create(kRootInode, "filler", 0644, 0, 0, O_WRONLY | O_CREAT, &attr);
    if (!filler.ok()) return 97;
    auto junk = Pattern(kSlot, 99);
    for (uint64_t l = 0;; ++l) {
      if (!fs_->Write(*filler.value(), l * kSlot, junk).ok()) break;
    }
    return ::testing::Test::HasFailure() ? 98 : 0;
  });
  ASSERT_EQ(status, 0);
  // The crash kept v2 (durable) and lost the unclosed write after it.
  EXPECT_EQ(ReadAll(ino), v2);
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 0u);
}

// truncate(2) by path of a file whose close is still waiting for its group
// commit: the truncation has no close of its own, and was left behind when
// the committer took the earlier version (found by the fsx tester).
TEST_F(CommitRaceTest, TruncateByPathWhileTheCloseCommitsIsKept) {
  InodeNo ino = WriteFile(kRootInode, "t", Pattern(100, 5));  // closed, not committed
  SetAttrRequest r;
  r.size = 35;
  ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  Remount();
  auto attr = fs_->GetAttr(ino);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->size, 35u);
  auto want = Pattern(100, 5);
  want.resize(35);
  EXPECT_EQ(ReadAll(ino), want);
}

TEST_F(CommitRaceTest, TruncateByPathAfterTheCloseWasTakenIsKept) {
  InodeNo ino = WriteFile(kRootInode, "u", Pattern(3 * kSlot, 6));
  // The close's version is committing when the truncate lands.
  ASSERT_TRUE(fs_->Shutdown().ok());
  fs_.reset();
  Mount(/*faulty=*/true);
  ASSERT_NE(fault_, nullptr);
  auto of = fs_->Open(ino, O_RDWR);
  ASSERT_TRUE(of.ok());
  WriteSlot(*of.value(), 0, 7);
  fs_->Release(std::move(of.value()));  // frozen and queued
  fault_->OnNextFlush([&] {
    SetAttrRequest r;
    r.size = kSlot + 10;
    ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  });
  ASSERT_TRUE(fs_->CommitNow().ok());
  Remount();
  auto want = Pattern(kSlot, 7);
  auto rest = Pattern(3 * kSlot, 6);
  want.insert(want.end(), rest.begin() + kSlot, rest.begin() + kSlot + 10);
  EXPECT_EQ(ReadAll(ino), want);
}

}  // namespace
}  // namespace slotfs::core::testing
