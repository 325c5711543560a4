// core::Filesystem as a cache: LRU eviction (background, between the
// watermarks, and synchronous when a write finds the device full), pins and
// open files that are never evicted, access times batched to the store,
// and ENOSPC only when nothing is evictable or eviction is off.
#include <fcntl.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

class EvictionTest : public FsTest {
 protected:
  EvictionTest() { evict_policy_ = EvictPolicy::kLru; }

  static constexpr uint64_t kFileSlots = 64;  // 4 MiB files of 64 KiB slots

  std::vector<uint8_t> Content(int i) { return Pattern(kFileSlots * kSlot - 1000, 100 + i); }

  bool Exists(const std::string& name) { return fs_->Lookup(kRootInode, name).ok(); }

  uint64_t Used() { return fs_->StatFs().slots_used + fs_->StatFs().slots_quarantined; }

  // Polls `pred` for up to 10 s.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }
};

TEST_F(EvictionTest, WritingPastCapacityEvictsTheOldestAndNeverFails) {
  const int n = static_cast<int>(3 * sb_.slot_count / kFileSlots);
  for (int i = 0; i < n; ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
    ASSERT_FALSE(HasFailure()) << "file " << i << " of " << n;
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  EXPECT_FALSE(Exists("f0"));
  EXPECT_FALSE(Exists("f1"));
  // The newest files are all there, byte for byte.
  const int fit = static_cast<int>(sb_.slot_count * 85 / 100 / kFileSlots);
  for (int i = n - fit; i < n; ++i) {
    std::string name = "f" + std::to_string(i);
    ASSERT_TRUE(Exists(name)) << name;
    EXPECT_EQ(ReadAll(Ino(kRootInode, name)), Content(i)) << name;
  }
  // Nothing newer was evicted while something older stayed.
  bool seen = false;
  for (int i = 0; i < n; ++i) {
    bool e = Exists("f" + std::to_string(i));
    EXPECT_FALSE(seen && !e) << "f" << i << " evicted although an older file stayed";
    seen = seen || e;
  }
  const CounterValues c = fs_->Stats()->counters;
  EXPECT_GE(c.evictions, static_cast<uint64_t>(n - fit - 1));
  EXPECT_EQ(c.enospc, 0u);
}

TEST_F(EvictionTest, ARecentlyOpenedFileOutlivesOlderUnreadOnes) {
  for (int i = 0; i < 10; ++i) WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
  ASSERT_TRUE(fs_->CommitNow().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(ReadAll(Ino(kRootInode, "f0")), Content(0));  // f0 is now the newest access
  for (int i = 10; i < 20; ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  EXPECT_FALSE(Exists("f1"));
  EXPECT_TRUE(Exists("f0"));
  EXPECT_EQ(ReadAll(Ino(kRootInode, "f0")), Content(0));
}

TEST_F(EvictionTest, PinnedAndOpenFilesAreNeverEvicted) {
  InodeNo p = WriteFile(kRootInode, "pinned", Content(1));
  InodeNo o = WriteFile(kRootInode, "open", Content(2));
  ASSERT_TRUE(fs_->CommitNow().ok());
  ASSERT_TRUE(fs_->SetXattr(p, "user.slotfs.pin", "1", 0).ok());
  auto reader = fs_->Open(o, O_RDONLY);
  ASSERT_TRUE(reader.ok());
  const int n = static_cast<int>(2 * sb_.slot_count / kFileSlots);
  for (int i = 0; i < n; ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(10 + i));
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  EXPECT_GT(fs_->Stats()->counters.evictions, 0u);
  EXPECT_TRUE(Exists("pinned"));
  EXPECT_TRUE(Exists("open"));
  EXPECT_EQ(ReadAll(p), Content(1));
  // The handle opened before all that still reads the same bytes.
  std::vector<uint8_t> got;
  for (uint64_t off = 0;;) {
    auto r = fs_->Read(*reader.value(), off, 1 << 20);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->length == 0) break;
    got.insert(got.end(), r->data(), r->data() + r->length);
    off += r->length;
  }
  EXPECT_EQ(got, Content(2));
  fs_->Release(std::move(reader.value()));
}

TEST_F(EvictionTest, NothingEvictableGivesEnospcAndKeepsEverything) {
  std::vector<InodeNo> files;
  for (int i = 0;; ++i) {
    if (fs_->StatFs().slots_free < 2 * kFileSlots) break;
    files.push_back(WriteFile(kRootInode, "f" + std::to_string(i), Content(i)));
    ASSERT_TRUE(fs_->SetXattr(files.back(), "user.slotfs.pin", "1", 0).ok());
  }
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto of = fs_->Create(kRootInode, "big", 0644, 0, 0, O_WRONLY | O_CREAT, nullptr);
  ASSERT_TRUE(of.ok());
  auto chunk = Pattern(kSlot, 9);
  Status last;
  for (uint64_t off = 0; off < sb_.slot_count * kSlot; off += kSlot) {
    auto w = fs_->Write(*of.value(), off, chunk);
    if (!w.ok()) {
      last = w.status();
      break;
    }
  }
  EXPECT_EQ(last.code(), ENOSPC) << last.ToString();
  fs_->Release(std::move(of.value()));
  EXPECT_EQ(fs_->Stats()->counters.evictions, 0u);
  EXPECT_GE(fs_->Stats()->counters.enospc, 1u);
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(ReadAll(files[i]), Content(static_cast<int>(i))) << i;
  }
}

class NoEvictionTest : public EvictionTest {
 protected:
  NoEvictionTest() { evict_policy_ = EvictPolicy::kNone; }
};

TEST_F(NoEvictionTest, AFullCacheGivesEnospcAndEvictsNothing) {
  int written = 0;
  Status last;
  for (int i = 0; i < 2 * static_cast<int>(sb_.slot_count / kFileSlots) && last.ok(); ++i) {
    auto of = fs_->Create(kRootInode, "f" + std::to_string(i), 0644, 0, 0,
                          O_WRONLY | O_CREAT, nullptr);
    ASSERT_TRUE(of.ok());
    auto data = Content(i);
    auto w = fs_->Write(*of.value(), 0, data);
    if (w.ok()) {
      ++written;
    } else {
      last = w.status();
    }
    ASSERT_TRUE(fs_->Flush(*of.value()).ok());
    fs_->Release(std::move(of.value()));
  }
  EXPECT_EQ(last.code(), ENOSPC);
  ASSERT_TRUE(fs_->CommitNow().ok());
  EXPECT_EQ(fs_->Stats()->counters.evictions, 0u);
  for (int i = 0; i < written; ++i) {
    EXPECT_EQ(ReadAll(Ino(kRootInode, "f" + std::to_string(i))), Content(i)) << i;
  }
}

class WatermarkTest : public EvictionTest {
 protected:
  WatermarkTest() {
    evict_high_pct_ = 60;
    evict_low_pct_ = 40;
  }
};

TEST_F(WatermarkTest, BackgroundEvictionBringsUsageDownToTheLowWatermark) {
  const uint64_t high = sb_.slot_count * 60 / 100, low = sb_.slot_count * 40 / 100;
  int i = 0;
  auto write_next = [&] {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
    ++i;
  };
  while (Used() + kFileSlots <= high) write_next();
  ASSERT_TRUE(fs_->CommitNow().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fs_->Stats()->counters.evictions, 0u) << "evicted below the high watermark";
  // Cross it: the evictor takes usage to the low watermark, and not much
  // further. It may run while the last file is still being written, so
  // usage ends within one file of the low watermark, on either side.
  write_next();
  write_next();
  ASSERT_TRUE(fs_->CommitNow().ok());
  ASSERT_TRUE(Eventually([&] { return fs_->Stats()->counters.evictions > 0 && Used() <= high; }))
      << "used " << Used() << ", high " << high;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let a pass finish
  EXPECT_LE(Used(), low + kFileSlots);
  EXPECT_GE(Used() + kFileSlots, low);
  EXPECT_EQ(fs_->Stats()->counters.sync_evictions, 0u);
  EXPECT_TRUE(Exists("f" + std::to_string(i - 1)));
  EXPECT_FALSE(Exists("f0"));
}

TEST_F(EvictionTest, EvictedNamesAreReportedForKernelInvalidation) {
  std::mutex mu;
  std::set<std::string> dropped;
  ASSERT_TRUE(fs_->Shutdown().ok());
  fs_.reset();
  before_start_ = [&](Filesystem& fs) {
    fs.SetEntryDroppedHook([&](InodeNo parent, const std::string& name) {
      EXPECT_EQ(parent, kRootInode);
      std::lock_guard lock(mu);
      dropped.insert(name);
    });
  };
  Mount();
  const int n = static_cast<int>(2 * sb_.slot_count / kFileSlots);
  for (int i = 0; i < n; ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  const uint64_t evictions = fs_->Stats()->counters.evictions;
  ASSERT_GT(evictions, 0u);
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return dropped.size() == evictions;
  })) << dropped.size() << " of " << evictions;
  std::lock_guard lock(mu);
  for (const std::string& name : dropped) EXPECT_FALSE(Exists(name)) << name;
  fs_->Shutdown();
  fs_.reset();
}

TEST_F(EvictionTest, ConcurrentWritersPastCapacityAllSucceed) {
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  const int per = static_cast<int>(sb_.slot_count / kFileSlots);
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < per; ++i) {
        int id = t * 1000 + i;
        auto of = fs_->Create(kRootInode, "f" + std::to_string(id), 0644, 0, 0,
                              O_WRONLY | O_CREAT, nullptr);
        if (!of.ok()) {
          ++failures;
          continue;
        }
        auto data = Content(id);
        for (size_t off = 0; off < data.size(); off += kSlot) {
          size_t len = std::min<size_t>(kSlot, data.size() - off);
          if (!fs_->Write(*of.value(), off, {data.data() + off, len}).ok()) ++failures;
        }
        if (!fs_->Flush(*of.value()).ok()) ++failures;
        fs_->Release(std::move(of.value()));
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(fs_->CommitNow().ok());
  int present = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < per; ++i) {
      int id = t * 1000 + i;
      InodeNo ino = Ino(kRootInode, "f" + std::to_string(id));
      if (ino.value == 0) continue;
      ++present;
      EXPECT_EQ(ReadAll(ino), Content(id)) << id;
    }
  }
  EXPECT_GT(present, per / 2);
  Remount();  // the index agrees with what is on the device
  for (int t = 0; t < 4; ++t) {
    InodeNo ino = Ino(kRootInode, "f" + std::to_string(t * 1000 + per - 1));
    if (ino.value != 0) EXPECT_EQ(ReadAll(ino), Content(t * 1000 + per - 1));
  }
}

TEST_F(EvictionTest, AccessTimesAreRecordedAndSurviveRemount) {
  InodeNo f = WriteFile(kRootInode, "f", Content(1));
  ASSERT_TRUE(fs_->CommitNow().ok());
  const int64_t before = fs_->GetAttr(f)->atime_ns;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto of = fs_->Open(f, O_RDONLY);
  ASSERT_TRUE(of.ok());
  fs_->Release(std::move(of.value()));
  auto shown = fs_->GetXattr(f, "user.slotfs.last_access");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->size(), std::string("2026-11-25T01:02:03.123456789Z").size()) << *shown;
  ASSERT_TRUE(fs_->FlushAccessTimes().ok());
  const int64_t after = fs_->GetAttr(f)->atime_ns;
  EXPECT_GE(after - before, 20'000'000) << "open did not move the access time";
  Remount();
  EXPECT_EQ(fs_->GetAttr(f)->atime_ns, after);
}

TEST_F(EvictionTest, APinSurvivesRemountAndStillProtects) {
  InodeNo p = WriteFile(kRootInode, "p", Content(1));
  ASSERT_TRUE(fs_->SetXattr(p, "user.slotfs.pin", "1", 0).ok());
  ASSERT_TRUE(fs_->CommitNow().ok());
  Remount();
  p = Ino(kRootInode, "p");
  ASSERT_NE(p.value, 0u);
  EXPECT_EQ(fs_->GetXattr(p, "user.slotfs.pin").value(), "1");
  for (int i = 0; i < static_cast<int>(2 * sb_.slot_count / kFileSlots); ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(10 + i));
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  EXPECT_EQ(ReadAll(Ino(kRootInode, "p")), Content(1));
  // Unpinned, it is the oldest file and goes first.
  ASSERT_TRUE(fs_->RemoveXattr(p, "user.slotfs.pin").ok());
  for (int i = 100; i < 100 + static_cast<int>(sb_.slot_count / kFileSlots); ++i) {
    WriteFile(kRootInode, "f" + std::to_string(i), Content(i));
    ASSERT_TRUE(fs_->CommitNow().ok());
  }
  EXPECT_FALSE(Exists("p"));
}

TEST_F(EvictionTest, ChecksumStateIsShown) {
  InodeNo f = WriteFile(kRootInode, "f", Content(1));
  ASSERT_TRUE(fs_->CommitNow().ok());
  auto c = fs_->GetXattr(f, "user.slotfs.checksums");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "xxh3-64 64/64 verified-on-read");
  auto names = fs_->ListXattr(f);
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names->begin(), names->end(), "user.slotfs.last_access"), names->end());
}

}  // namespace
}  // namespace slotfs::core::testing
