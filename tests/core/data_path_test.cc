// core::Filesystem data path: unaligned I/O, holes, truncation, copy-on-write.
#include <fcntl.h>

#include <cstring>
#include <thread>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class DataPathTest : public FsTest {};

TEST_F(DataPathTest, MultiSlotFileReadsBackExactly) {
  auto data = Pattern(5 * kSlot + 1234, 1);
  InodeNo ino = WriteFile(kRootInode, "f", data, 100'000);
  EXPECT_EQ(ReadAll(ino), data);
  auto attr = fs_->GetAttr(ino);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->size, data.size());
  EXPECT_EQ(attr->blocks, 6 * kSlot / 512);
}

TEST_F(DataPathTest, UnalignedWritesMatchAModelFile) {
  std::vector<uint8_t> model;
  auto of = fs_->Create(kRootInode, "u", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  struct W { uint64_t off; size_t len; };
  const W writes[] = {{4097, 1}, {123, 5000}, {0, 3}, {kSlot - 10, 20},
                      {3 * kSlot + 7, 9000}, {8190, 4}, {2 * kSlot, 1}};
  uint64_t seed = 10;
  for (const W& w : writes) {
    auto d = Pattern(w.len, seed++);
    ASSERT_TRUE(fs_->Write(*of.value(), w.off, d).ok());
    if (model.size() < w.off + w.len) model.resize(w.off + w.len, 0);
    std::copy(d.begin(), d.end(), model.begin() + static_cast<long>(w.off));
  }
  fs_->Release(std::move(of.value()));
  InodeNo ino = Ino(kRootInode, "u");
  EXPECT_EQ(ReadAll(ino), model);
  Remount();
  EXPECT_EQ(ReadAll(ino), model) << "after remount";
}

TEST_F(DataPathTest, HolesReadAsZeroAndHoldNoSlot) {
  auto of = fs_->Create(kRootInode, "h", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto d = Pattern(100, 3);
  ASSERT_TRUE(fs_->Write(*of.value(), 3 * kSlot + 50, d).ok());
  // A gap inside one slot: bytes between two writes read as zero.
  ASSERT_TRUE(fs_->Write(*of.value(), 3 * kSlot + 20000, d).ok());
  fs_->Release(std::move(of.value()));
  InodeNo ino = Ino(kRootInode, "h");
  auto got = ReadAll(ino);
  ASSERT_EQ(got.size(), 3 * kSlot + 20100);
  for (size_t i = 0; i < 3 * kSlot + 50; ++i) ASSERT_EQ(got[i], 0) << i;
  for (size_t i = 3 * kSlot + 150; i < 3 * kSlot + 20000; ++i) ASSERT_EQ(got[i], 0) << i;
  auto slots = fs_->GetXattr(ino, "user.slotfs.extents");
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(slots.value(), "1");
  Remount();
  EXPECT_EQ(ReadAll(ino), got);
}

TEST_F(DataPathTest, TruncateDownThenUpReadsZeroPastOldEnd) {
  auto data = Pattern(3 * kSlot, 4);
  InodeNo ino = WriteFile(kRootInode, "t", data);
  ASSERT_TRUE(fs_->CommitNow().ok());
  SetAttrRequest down;
  down.size = kSlot + 100;
  ASSERT_TRUE(fs_->SetAttr(ino, down, nullptr).ok());
  SetAttrRequest up;
  up.size = 2 * kSlot + 5;
  ASSERT_TRUE(fs_->SetAttr(ino, up, nullptr).ok());
  auto got = ReadAll(ino);
  ASSERT_EQ(got.size(), 2 * kSlot + 5);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + kSlot + 100, data.begin()));
  for (size_t i = kSlot + 100; i < got.size(); ++i) ASSERT_EQ(got[i], 0) << i;
  Remount();
  EXPECT_EQ(ReadAll(ino), got);
}

TEST_F(DataPathTest, TruncateOfUncommittedFileClearsTail) {
  auto of = fs_->Create(kRootInode, "t2", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto data = Pattern(10000, 5);
  ASSERT_TRUE(fs_->Write(*of.value(), 0, data).ok());
  SetAttrRequest r;
  r.size = 100;
  ASSERT_TRUE(fs_->SetAttr(of.value()->inode->ino, r, of.value().get()).ok());
  r.size = 10000;
  ASSERT_TRUE(fs_->SetAttr(of.value()->inode->ino, r, of.value().get()).ok());
  InodeNo ino = of.value()->inode->ino;
  fs_->Release(std::move(of.value()));
  auto got = ReadAll(ino);
  ASSERT_EQ(got.size(), 10000u);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 100, data.begin()));
  for (size_t i = 100; i < got.size(); ++i) ASSERT_EQ(got[i], 0) << i;
}

TEST_F(DataPathTest, OverwriteOfCommittedFileNeverTouchesItsSlots) {
  auto v1 = Pattern(2 * kSlot, 6);
  InodeNo ino = WriteFile(kRootInode, "c", v1);
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto slots_v1 = fs_->GetXattr(ino, "user.slotfs.slots");
  ASSERT_TRUE(slots_v1.ok());
  // Overwrite a few bytes in the middle of slot 0, without O_TRUNC.
  auto of = fs_->Open(ino, O_WRONLY);
  ASSERT_TRUE(of.ok());
  auto patch = Pattern(10, 7);
  ASSERT_TRUE(fs_->Write(*of.value(), 1000, patch).ok());
  // The committed slot still holds version 1 on the device.
  uint64_t first = std::stoull(slots_v1.value());
  blockdev::AlignedBuffer buf(kSlot);
  ASSERT_TRUE(fs_->device().Read(blockdev::Layout(sb_).SlotOffset(SlotId(first)),
                                 buf.data(), kSlot).ok());
  EXPECT_TRUE(std::equal(buf.data(), buf.data() + kSlot, v1.begin()));
  fs_->Release(std::move(of.value()));
  auto expect = v1;
  std::copy(patch.begin(), patch.end(), expect.begin() + 1000);
  EXPECT_EQ(ReadAll(ino), expect);
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_NE(fs_->GetXattr(ino, "user.slotfs.slots").value(), slots_v1.value());
  Remount();
  EXPECT_EQ(ReadAll(ino), expect);
  EXPECT_EQ(fs_->StatFs().slots_used, 2u) << "the replaced slot was given back";
}

TEST_F(DataPathTest, AppendExtendsCommittedPartialSlot) {
  auto a = Pattern(5000, 8);
  InodeNo ino = WriteFile(kRootInode, "a", a);
  Remount();
  auto of = fs_->Open(ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(of.ok());
  auto b = Pattern(3000, 9);
  ASSERT_TRUE(fs_->Write(*of.value(), 0, b).ok());
  fs_->Release(std::move(of.value()));
  auto expect = a;
  expect.insert(expect.end(), b.begin(), b.end());
  EXPECT_EQ(ReadAll(ino), expect);
}

TEST_F(DataPathTest, ConcurrentWritersAndReadersSeeTheirOwnBytes) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        std::string name = "w" + std::to_string(t) + "_" + std::to_string(i);
        auto data = Pattern(kSlot * 3 + 4096 * t, t * 100 + i);
        InodeNo ino = WriteFile(kRootInode, name, data, kSlot);
        if (ReadAll(ino) != data) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Remount();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 4; ++i) {
      std::string name = "w" + std::to_string(t) + "_" + std::to_string(i);
      EXPECT_EQ(ReadAll(Ino(kRootInode, name)), Pattern(kSlot * 3 + 4096 * t, t * 100 + i))
          << name;
    }
  }
}

TEST_F(DataPathTest, ConcurrentWritesToOneFileLandInTheirSlots) {
  // As FUSE sends an O_DIRECT write: many slot-sized requests at once, plus
  // small unaligned writes that share slots and must queue behind each other.
  constexpr int kSlots = 24;
  auto data = Pattern(kSlots * kSlot, 21);
  auto of = fs_->Create(kRootInode, "par", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int l = t; l < kSlots; l += 8) {
        // Each slot written as three pieces in a scrambled order.
        uint64_t base = static_cast<uint64_t>(l) * kSlot;
        const uint64_t cuts[] = {0, 4096 + 17, 40000, kSlot};
        for (int k : {2, 0, 1}) {
          auto w = fs_->Write(*of.value(), base + cuts[k],
                              {data.data() + base + cuts[k], cuts[k + 1] - cuts[k]});
          if (!w.ok()) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(fs_->Flush(*of.value()).ok());
  InodeNo ino = of.value()->inode->ino;
  fs_->Release(std::move(of.value()));
  EXPECT_EQ(ReadAll(ino), data);
  Remount();
  EXPECT_EQ(ReadAll(ino), data) << "checksums and extents after commit";
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 0u);
}

TEST_F(DataPathTest, ShrinkIntoAnUnmappedTailAfterGrowing) {
  // Found by the power-loss model: growing with truncate leaves the slot
  // map short; shrinking to a size inside that tail indexed past its end.
  InodeNo ino = WriteFile(kRootInode, "g", Pattern(10, 22));
  ASSERT_TRUE(fs_->CommitNow().ok());
  SetAttrRequest r;
  r.size = 5 * kSlot;
  ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  r.size = 3 * kSlot + 100;
  ASSERT_TRUE(fs_->SetAttr(ino, r, nullptr).ok());
  auto expect = Pattern(10, 22);
  expect.resize(3 * kSlot + 100, 0);
  EXPECT_EQ(ReadAll(ino), expect);
  EXPECT_EQ(fs_->StatFs().slots_used + fs_->StatFs().slots_quarantined, 2u);
}

TEST_F(DataPathTest, AlignedRequestSpanningSlotsIsOneDeviceWrite) {
  // A 1 MiB request from a page-aligned buffer (how the FUSE loop delivers
  // WRITE payloads) into a fresh file: its 16 slots are consecutive, so it
  // reaches the device as a single op, straight from the buffer.
  blockdev::AlignedBuffer buf(16 * kSlot);
  auto data = Pattern(16 * kSlot, 41);
  std::memcpy(buf.data(), data.data(), data.size());
  auto of = fs_->Create(kRootInode, "aligned", 0644, 0, 0, O_RDWR | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  const uint64_t writes0 = fs_->device().counters().writes.load();
  auto w = fs_->Write(*of.value(), 0, {buf.data(), buf.size()});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(fs_->device().counters().writes.load() - writes0, 1u);
  // An aligned rewrite inside the written range and an unaligned one.
  auto re = Pattern(2 * kSlot, 42);
  std::memcpy(buf.data(), re.data(), re.size());
  ASSERT_TRUE(fs_->Write(*of.value(), 3 * kSlot, {buf.data(), re.size()}).ok());
  std::copy(re.begin(), re.end(), data.begin() + 3 * kSlot);
  ASSERT_TRUE(fs_->Write(*of.value(), 5 * kSlot + 3, {buf.data() + 1, 1000}).ok());
  std::copy(re.begin() + 1, re.begin() + 1001, data.begin() + 5 * kSlot + 3);
  ASSERT_TRUE(fs_->Flush(*of.value()).ok());
  fs_->Release(std::move(of.value()));
  InodeNo ino = Ino(kRootInode, "aligned");
  EXPECT_EQ(ReadAll(ino), data);
  Remount();
  EXPECT_EQ(ReadAll(ino), data) << "after remount";
}

TEST_F(DataPathTest, ReadPastEndReturnsNothing) {
  InodeNo ino = WriteFile(kRootInode, "s", Pattern(10, 1));
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  auto r = fs_->Read(*of.value(), 10, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length, 0u);
  r = fs_->Read(*of.value(), 5, 4096);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length, 5u);
  fs_->Release(std::move(of.value()));
}

}  // namespace
}  // namespace slotfs::core::testing
