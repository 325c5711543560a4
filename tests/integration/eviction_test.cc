// slotfs as a cache, through a real mount: a sustained write load several
// times the device's size never fails, evicts neither pinned nor open
// files, leaves usage between the watermarks; evicted names are gone from
// the kernel's caches at once; pins survive a remount (setfattr/getfattr);
// df and du agree with the slots; with --evict none a full cache is ENOSPC.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/py_parsers.h"

namespace slotfs::itest {
namespace {

constexpr uint64_t kFile = 4 * kMiB;  // LMCache-sized chunks: 4 slots

class EvictionMountTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 129 * kMiB;  // 128 slots of 1 MiB after the metadata area
    c.slot_size = "1M";         // the arithmetic below counts 1 MiB slots
    c.mount_args = {"--evict-high", "80", "--evict-low", "60"};
    return c;
  }

  uint64_t SlotCount() {
    struct statvfs v;
    EXPECT_TRUE(StatVfs(&v));
    return v.f_blocks * v.f_frsize / kMiB;
  }
  uint64_t UsedSlots() {
    struct statvfs v;
    EXPECT_TRUE(StatVfs(&v));
    return (v.f_blocks - v.f_bfree) * v.f_frsize / kMiB;
  }
  std::map<std::string, std::string> ReadStats() {
    std::map<std::string, std::string> kv;
    EXPECT_TRUE(ParseJsonFile(P(".slotfs/stats"), &kv));
    return kv;
  }
  static uint64_t Num(std::map<std::string, std::string>& kv, const std::string& key) {
    auto it = kv.find(key);
    EXPECT_NE(it, kv.end()) << key;
    return it == kv.end() ? 0 : std::stoull(it->second);
  }
  // Content of generation `i` of the load.
  static std::string Content(int i) { return PatternBytes(1000 + i, kFile - 100 * i % 4096); }
};

TEST_F(EvictionMountTest, SustainedLoadLargerThanTheDeviceNeverFailsAndSparesPinnedAndOpenFiles) {
  const uint64_t slots = SlotCount();
  ASSERT_GE(slots, 100u);
  const uint64_t high = slots * 80 / 100, low = slots * 60 / 100;

  const std::string pinned = PatternBytes(1, kFile), open_bytes = PatternBytes(2, kFile);
  ASSERT_TRUE(WriteFile(P("pinned"), pinned));
  ASSERT_TRUE(WriteFile(P("open"), open_bytes));
  ASSERT_EQ(0, setxattr(P("pinned").c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);
  UniqueFd held(open(P("open").c_str(), O_RDONLY));
  ASSERT_TRUE(held.ok()) << ErrnoText(errno);

  // Two writers, LMCache's way (O_TRUNC create, one write, close), 4x the
  // device in total; a sampler watches usage meanwhile.
  const int per_writer = static_cast<int>(2 * slots / 4);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_failure;
  uint64_t samples = 0, above_high = 0, max_used = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      uint64_t u = UsedSlots();
      ++samples;
      above_high += u > high ? 1 : 0;
      max_used = std::max(max_used, u);
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < 2 * per_writer; i += 2) {
        std::string path = P("k" + std::to_string(i));
        std::string data = Content(i);
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        bool ok = fd >= 0 && write(fd, data.data(), data.size()) == ssize_t(data.size());
        int err = errno;
        if (fd >= 0 && close(fd) != 0 && ok) {
          ok = false;
          err = errno;
        }
        if (!ok) {
          ++failures;
          std::lock_guard lock(mu);
          if (first_failure.empty()) first_failure = path + ": " + ErrnoText(err);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  sampler.join();
  ASSERT_EQ(failures.load(), 0) << first_failure;
  std::cout << "usage samples: " << samples << ", above the high watermark: " << above_high
            << ", max used " << max_used << " of " << slots << " slots\n";

  // The evictor settles usage between the watermarks.
  bool settled = false;
  for (int i = 0; i < 200 && !settled; ++i) {
    uint64_t u = UsedSlots();
    settled = u <= high && u + 4 >= low;
    if (!settled) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(settled) << "used " << UsedSlots() << ", watermarks " << low << ".." << high;

  // Pinned and open files are intact.
  std::string got;
  ASSERT_TRUE(ReadFile(P("pinned"), &got));
  EXPECT_SAME_BYTES(pinned, got);
  got.assign(open_bytes.size(), '\0');
  ASSERT_EQ(ssize_t(got.size()), pread(held.get(), got.data(), got.size(), 0)) << ErrnoText(errno);
  EXPECT_SAME_BYTES(open_bytes, got);
  struct stat st;
  EXPECT_EQ(0, stat(P("open").c_str(), &st)) << "an open file was evicted";

  // Every name either reads back exactly, or is gone for stat too: the
  // kernel's cached entry and attributes (60 s by default) were dropped.
  int evicted = 0, kept = 0;
  for (int i = 0; i < 2 * per_writer; ++i) {
    std::string path = P("k" + std::to_string(i));
    if (stat(path.c_str(), &st) != 0) {
      EXPECT_EQ(ENOENT, errno) << path;
      ++evicted;
      continue;
    }
    ++kept;
    ASSERT_TRUE(ReadFile(path, &got)) << "stat found " << path << " but reading it failed";
    EXPECT_SAME_BYTES(Content(i), got) << path;
  }
  EXPECT_GT(evicted, per_writer);
  EXPECT_GT(kept, 0);
  auto stats = ReadStats();
  EXPECT_EQ(Num(stats, "counters.evictions"), uint64_t(evicted));
  EXPECT_EQ(Num(stats, "counters.enospc"), 0u);
  EXPECT_EQ(Num(stats, "files"), uint64_t(kept) + 2);
}

TEST_F(EvictionMountTest, AnEvictedNameIsGoneFromTheKernelCachesAtOnce) {
  // Write, then stat: the kernel now caches each name and its attributes
  // for the cache timeout (60 s).
  const int first = int(SlotCount() * 50 / 100 / 4);
  struct stat st;
  for (int i = 0; i < first; ++i) {
    ASSERT_TRUE(WriteFile(P("old" + std::to_string(i)), Content(i)));
  }
  for (int i = 0; i < first; ++i) ASSERT_EQ(0, stat(P("old" + std::to_string(i)).c_str(), &st));
  // Push the cache past its size: the old files go first.
  for (int i = 0; i < int(SlotCount() / 4); ++i) {
    ASSERT_TRUE(WriteFile(P("new" + std::to_string(i)), Content(i)));
  }
  bool evicted = false;
  for (int i = 0; i < 1000 && !evicted; ++i) {  // up to 20 s on a loaded machine
    auto stats = ReadStats();
    evicted = Num(stats, "counters.evictions") >= uint64_t(first);
    if (!evicted) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(evicted);
  // Each evicted name: stat says ENOENT although the kernel had it cached,
  // and so does every other way in.
  for (int i = 0; i < first; ++i) {
    std::string path = P("old" + std::to_string(i));
    EXPECT_NE(0, stat(path.c_str(), &st)) << path << " still visible after eviction";
    EXPECT_EQ(ENOENT, errno) << path;
    EXPECT_ERRNO(ENOENT, open(path.c_str(), O_RDONLY));
  }
}

TEST_F(EvictionMountTest, APinSetWithSetfattrSurvivesRemountAndGetfattrShowsTheEntry) {
  ASSERT_TRUE(WriteFile(P("p"), PatternBytes(3, 3 * kMiB + 5)));
  ProcResult set = RunShell("setfattr -n user.slotfs.pin -v 1 " + ShellQuote(P("p")));
  ASSERT_EQ(0, set.exit_code) << set.Describe();
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  ProcResult get = RunShell("getfattr -d " + ShellQuote(P("p")));
  ASSERT_EQ(0, get.exit_code) << get.Describe();
  EXPECT_NE(get.out.find("user.slotfs.pin=\"1\""), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("user.slotfs.size=\"3145733\""), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("user.slotfs.state=\"committed\""), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("user.slotfs.checksums=\"xxh3-64 4/4 verified-on-read\""),
            std::string::npos) << get.out;
  EXPECT_NE(get.out.find("user.slotfs.last_access=\"20"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("user.slotfs.slots="), std::string::npos) << get.out;

  // Fill the cache twice over: the pinned file (the oldest) stays.
  for (int i = 0; i < int(2 * SlotCount() / 4); ++i) {
    ASSERT_TRUE(WriteFile(P("k" + std::to_string(i)), Content(i)));
  }
  std::string got;
  ASSERT_TRUE(ReadFile(P("p"), &got));
  EXPECT_SAME_BYTES(PatternBytes(3, 3 * kMiB + 5), got);
}

TEST_F(EvictionMountTest, DfAndDuMatchTheSlotsExactly) {
  const uint64_t sizes[] = {1, kMiB, kMiB + 1, 5 * kMiB - 7, 0};
  uint64_t want_slots = 0;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    ASSERT_TRUE(WriteFile(P("f" + std::to_string(i)), PatternBytes(i, sizes[i])));
    want_slots += (sizes[i] + kMiB - 1) / kMiB;
  }
  ASSERT_EQ(0, mkdir(P("d").c_str(), 0755)) << ErrnoText(errno);
  ASSERT_TRUE(WriteFile(P("d/g"), PatternBytes(9, 2 * kMiB)));
  want_slots += 2;
  // Quarantine (slots freed by a commit not yet durable) shows as used in
  // df but belongs to no file; nothing was freed here, so none.
  auto stats = ReadStats();
  ASSERT_EQ(Num(stats, "slots.quarantined"), 0u);
  struct statvfs v;
  ASSERT_TRUE(StatVfs(&v));
  EXPECT_EQ(v.f_frsize, 4096u);
  EXPECT_EQ(v.f_blocks * v.f_frsize, Num(stats, "slots.total") * kMiB);
  EXPECT_EQ((v.f_blocks - v.f_bfree) * v.f_frsize, want_slots * kMiB);
  EXPECT_EQ(v.f_bfree * v.f_frsize, Num(stats, "slots.free") * kMiB);
  EXPECT_EQ(v.f_bavail, v.f_bfree);
  for (size_t i = 0; i < std::size(sizes); ++i) {
    struct stat st;
    ASSERT_EQ(0, stat(P("f" + std::to_string(i)).c_str(), &st));
    EXPECT_EQ(uint64_t(st.st_blocks) * 512, (sizes[i] + kMiB - 1) / kMiB * kMiB) << sizes[i];
  }
  ProcResult du = RunShell("du -s -B1 " + ShellQuote(mnt_) + " --exclude=.slotfs | cut -f1");
  ASSERT_EQ(0, du.exit_code) << du.Describe();
  EXPECT_EQ(std::stoull(du.out), want_slots * kMiB) << du.out;
  ProcResult df = RunShell("df -B1 --output=used,avail " + ShellQuote(mnt_) + " | tail -1");
  ASSERT_EQ(0, df.exit_code) << df.Describe();
  uint64_t used = 0, avail = 0;
  ASSERT_EQ(2, sscanf(df.out.c_str(), "%lu %lu", &used, &avail)) << df.out;
  EXPECT_EQ(used, want_slots * kMiB);
  EXPECT_EQ(avail, Num(stats, "slots.free") * kMiB);
}

class NoEvictionMountTest : public EvictionMountTest {
 protected:
  Config Options() const override {
    Config c = EvictionMountTest::Options();
    c.mount_args = {"--evict", "none"};
    return c;
  }
};

TEST_F(NoEvictionMountTest, AFullCacheGivesEnospcAndKeepsEveryFile) {
  int written = 0, first_errno = 0;
  for (int i = 0; i < int(SlotCount()) && first_errno == 0; ++i) {
    std::string data = Content(i);
    int fd = open(P("k" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << ErrnoText(errno);
    if (write(fd, data.data(), data.size()) != ssize_t(data.size())) first_errno = errno;
    if (close(fd) != 0 && first_errno == 0) first_errno = errno;
    if (first_errno == 0) ++written;
  }
  EXPECT_EQ(ENOSPC, first_errno);
  EXPECT_GE(written, int(SlotCount() / 4) - 2);
  for (int i = 0; i < written; ++i) {
    std::string got;
    ASSERT_TRUE(ReadFile(P("k" + std::to_string(i)), &got));
    EXPECT_SAME_BYTES(Content(i), got);
  }
  auto stats = ReadStats();
  EXPECT_EQ(Num(stats, "counters.evictions"), 0u);
  EXPECT_GE(Num(stats, "counters.enospc"), 1u);
}

}  // namespace
}  // namespace slotfs::itest
