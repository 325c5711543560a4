// tests/integration/large_dir_test.cc — listing directories of 10^5 files
// through the mount: every name exactly once with small getdents64 buffers,
// listings that stay exact while other files come and go, offsets
// (telldir/seekdir) that survive removals, and listing time linear in the
// directory's size. The files are imported into the index before mounting
// (index_import.h); everything else is syscalls on the mount.

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "tests/integration/index_import.h"
#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

using Clock = std::chrono::steady_clock;

// The layout of a linux_dirent64 record (getdents64(2)).
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

std::vector<std::string> Names(const std::string& tag, uint64_t n) {
  std::vector<std::string> v;
  v.reserve(n);
  for (uint64_t i = 0; i < n; ++i) v.push_back(ImportName(tag, i));
  return v;
}

class LargeDirTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.mount = false;  // each test imports its files first
    return c;
  }

  // Imports each directory's names, then mounts with default options.
  void ImportAndMount(const std::map<std::string, std::vector<std::string>>& dirs) {
    for (const auto& [dir, names] : dirs) {
      ASSERT_TRUE(ImportEmptyFiles(image_, db_, dir, names));
    }
    mount_ = std::make_unique<SlotfsMount>(image_, mnt_, std::vector<std::string>{},
                                           tmp_->Join("daemon.log"));
    ASSERT_TRUE(mount_->Start(seconds(60)));
  }

  // Lists `dir` with getdents64 into a `buf_size`-byte buffer, appending
  // every name but "." and ".." to `names`. Returns the number of calls, or
  // -1 (with a failure) on error or when the listing passes `limit` names
  // (a listing that goes round in circles).
  static int64_t ListDents(const std::string& dir, size_t buf_size, std::vector<std::string>* names,
                           size_t limit) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.ok()) {
      ADD_FAILURE() << "open " << dir << ": " << ErrnoText(errno);
      return -1;
    }
    std::vector<char> buf(buf_size);
    int64_t calls = 0;
    for (;;) {
      long n = syscall(SYS_getdents64, fd.get(), buf.data(), buf.size());
      if (n < 0) {
        ADD_FAILURE() << "getdents64 " << dir << ": " << ErrnoText(errno);
        return -1;
      }
      if (n == 0) return calls;
      ++calls;
      for (long pos = 0; pos < n;) {
        const auto* d = reinterpret_cast<const LinuxDirent64*>(buf.data() + pos);
        if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) {
          names->emplace_back(d->d_name);
        }
        pos += d->d_reclen;
      }
      if (names->size() > limit) {
        ADD_FAILURE() << "getdents64 " << dir << " returned over " << limit
                      << " names: the listing does not end";
        return -1;
      }
    }
  }
};

std::unordered_map<std::string, int> Count(const std::vector<std::string>& names) {
  std::unordered_map<std::string, int> c;
  for (const std::string& n : names) ++c[n];
  return c;
}

// Names listed more than once, for a failure message (first few).
std::string Duplicates(const std::unordered_map<std::string, int>& counts) {
  std::string out;
  int shown = 0;
  for (const auto& [name, n] : counts) {
    if (n > 1 && shown++ < 5) out += name + " x" + std::to_string(n) + "; ";
  }
  return out;
}

TEST_F(LargeDirTest, EveryNameOnceWithSmallGetdentsBuffers) {
  const uint64_t kFiles = 100'000;
  std::vector<std::string> want = Names("big", kFiles);
  ASSERT_NO_FATAL_FAILURE(ImportAndMount({{"big", want}}));

  // ~10 entries per call: the kernel asks again from the last entry's
  // offset after every call, so every page boundary is exercised.
  std::vector<std::string> got;
  int64_t calls = ListDents(P("big"), 1024, &got, 2 * kFiles);
  ASSERT_GT(calls, static_cast<int64_t>(kFiles / 20)) << "the buffer was not small";
  auto counts = Count(got);
  EXPECT_EQ(kFiles, got.size());
  EXPECT_EQ(kFiles, counts.size()) << "listed twice: " << Duplicates(counts);
  uint64_t missing = 0;
  std::string first_missing;
  for (const std::string& n : want) {
    if (counts.count(n) == 0 && missing++ == 0) first_missing = n;
  }
  EXPECT_EQ(0u, missing) << "not listed, e.g. " << first_missing;
}

TEST_F(LargeDirTest, ListingIsExactWhileOtherFilesAreCreatedAndUnlinked) {
  const uint64_t kStable = 100'000, kVictims = 5'000;
  std::vector<std::string> stable = Names("stable", kStable);
  std::vector<std::string> victims = Names("victim", kVictims);
  std::vector<std::string> all = stable;
  all.insert(all.end(), victims.begin(), victims.end());
  // Interleave the victims with the stable files in inode (listing) order.
  std::vector<std::string> interleaved;
  for (uint64_t i = 0, v = 0; i < kStable; ++i) {
    interleaved.push_back(stable[i]);
    if (i % (kStable / kVictims) == 0 && v < kVictims) interleaved.push_back(victims[v++]);
  }
  ASSERT_EQ(all.size(), interleaved.size());
  ASSERT_NO_FATAL_FAILURE(ImportAndMount({{"big", interleaved}}));

  // The mutator unlinks victims (spread over the whole listing) and
  // creates, then later unlinks, fresh files, until told to stop.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> errors{0};
  std::vector<std::string> fresh = Names("fresh", 50'000);
  std::string dir = P("big");
  std::thread mutator([&] {
    for (uint64_t k = 0; !stop.load() && k < fresh.size(); ++k) {
      if (k < victims.size() && unlink((dir + "/" + victims[k]).c_str()) != 0) errors++;
      int fd = open((dir + "/" + fresh[k]).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0 || close(fd) != 0) errors++;
      if (k >= 8 && unlink((dir + "/" + fresh[k - 8]).c_str()) != 0) errors++;
      ops++;
    }
  });
  while (ops.load() < 20 && errors.load() == 0) std::this_thread::sleep_for(milliseconds(1));
  uint64_t ops_before = ops.load();
  std::vector<std::string> got;
  int64_t calls = ListDents(dir, 2048, &got, 2 * (all.size() + fresh.size()));
  uint64_t ops_after = ops.load();
  uint64_t ops_during = ops_after - ops_before;
  stop = true;
  mutator.join();
  ASSERT_GT(calls, 0);
  EXPECT_EQ(0u, errors.load()) << "the mutator's creates or unlinks failed";
  // The listing must have overlapped real changes, or it proves nothing.
  ASSERT_GE(ops_during, 50u) << "the directory hardly changed during the listing";

  auto counts = Count(got);
  EXPECT_EQ(got.size(), counts.size()) << "listed twice: " << Duplicates(counts);
  // Present during the whole listing: the stable files, the victims the
  // mutator had not reached when it ended (round k unlinks victim k; rounds
  // below ops_after were done, round ops_after may have been running), and
  // the fresh files created before it began and not yet unlinked (round k
  // creates fresh k, round k + 8 unlinks it).
  std::vector<std::string> present = stable;
  for (uint64_t k = ops_after + 1; k < victims.size(); ++k) present.push_back(victims[k]);
  for (uint64_t k = 0; k < ops_before; ++k) {
    if (k + 8 >= ops_after + 1) present.push_back(fresh[k]);
  }
  uint64_t missing = 0;
  std::string first_missing;
  for (const std::string& n : present) {
    if (counts.count(n) == 0 && missing++ == 0) first_missing = n;
  }
  EXPECT_EQ(0u, missing) << "files present during the whole listing were not listed, e.g. "
                         << first_missing;
  std::set<std::string> known(all.begin(), all.end());
  known.insert(fresh.begin(), fresh.end());
  for (const auto& [name, n] : counts) {
    EXPECT_TRUE(known.count(name)) << "listed a name that never existed: " << name;
  }
  std::cout << "[ listing ] " << got.size() << " names in " << calls << " calls while "
            << ops_during << " create+unlink rounds ran\n";
}

TEST_F(LargeDirTest, TelldirOffsetResumesAfterEarlierEntriesAreRemoved) {
  const uint64_t kFiles = 3'000, kFirst = 1'500;
  std::vector<std::string> names = Names("seek", kFiles);
  ASSERT_NO_FATAL_FAILURE(ImportAndMount({{"seek", names}}));
  std::string dir = P("seek");

  auto next_name = [](DIR* d) -> std::string {
    for (;;) {
      errno = 0;
      dirent* e = readdir(d);
      if (!e) return "";
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return e->d_name;
    }
  };
  DIR* d1 = opendir(dir.c_str());
  ASSERT_NE(nullptr, d1) << ErrnoText(errno);
  std::vector<std::string> before;
  for (uint64_t i = 0; i < kFirst; ++i) before.push_back(next_name(d1));
  ASSERT_EQ(kFirst, std::set<std::string>(before.begin(), before.end()).size());
  long pos = telldir(d1);
  ASSERT_NE(-1, pos) << ErrnoText(errno);
  std::string at = next_name(d1);
  ASSERT_FALSE(at.empty());
  seekdir(d1, pos);
  EXPECT_EQ(at, next_name(d1)) << "seekdir(telldir()) did not come back to the same entry";

  // Remove every entry before the offset; add a few files.
  for (const std::string& n : before) ASSERT_SYS_OK(unlink((dir + "/" + n).c_str()));
  std::vector<std::string> added = Names("added", 100);
  for (const std::string& n : added) ASSERT_TRUE(WriteFile(dir + "/" + n, ""));

  std::set<std::string> removed(before.begin(), before.end());
  std::multiset<std::string> want;
  for (const std::string& n : names) {
    if (!removed.count(n)) want.insert(n);
  }
  want.insert(added.begin(), added.end());
  auto rest_from = [&](DIR* d) {
    seekdir(d, pos);
    std::multiset<std::string> got;
    std::string first = next_name(d);
    EXPECT_EQ(at, first) << "the offset no longer leads to the same entry";
    for (std::string n = first; !n.empty() && got.size() <= 2 * names.size();
         n = next_name(d)) {
      got.insert(n);
    }
    EXPECT_EQ(0, errno) << ErrnoText(errno);
    return got;
  };
  // The same stream, and a new one given the old offset.
  std::multiset<std::string> got1 = rest_from(d1);
  closedir(d1);
  DIR* d2 = opendir(dir.c_str());
  ASSERT_NE(nullptr, d2) << ErrnoText(errno);
  std::multiset<std::string> got2 = rest_from(d2);
  closedir(d2);
  EXPECT_TRUE(got1 == want) << "resumed listing: " << got1.size() << " names, want "
                            << want.size();
  EXPECT_TRUE(got2 == want) << "resumed listing on a new stream: " << got2.size()
                            << " names, want " << want.size();
}

TEST_F(LargeDirTest, ListingTimeGrowsLinearlyWithTheDirectory) {
  const uint64_t kSmall = 25'000, kLarge = 100'000;
  ASSERT_NO_FATAL_FAILURE(
      ImportAndMount({{"small", Names("small", kSmall)}, {"large", Names("large", kLarge)}}));

  // Best of several interleaved runs of each; the first of each warms the
  // daemon's page cache and is not timed.
  auto time_list = [&](const std::string& dir, uint64_t want) {
    std::vector<std::string> got;
    got.reserve(want);
    auto t0 = Clock::now();
    EXPECT_GT(ListDents(P(dir), 32 * 1024, &got, 2 * want), 0);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(want, got.size()) << dir;
    return s;
  };
  time_list("small", kSmall);
  time_list("large", kLarge);
  double best_small = 1e9, best_large = 1e9;
  for (int i = 0; i < 4; ++i) {
    best_small = std::min(best_small, time_list("small", kSmall));
    best_large = std::min(best_large, time_list("large", kLarge));
  }
  double ratio = best_large / best_small;
  std::cout << "[ listing ] " << kSmall << " files " << best_small << " s, " << kLarge
            << " files " << best_large << " s, ratio " << ratio << " (linear 4, quadratic 16)\n";
  // Four times the files: about four times the time. Quadratic paging
  // would be about 16; 10 leaves room for a noisy, shared machine.
  EXPECT_LT(ratio, 10.0);
}

}  // namespace
}  // namespace slotfs::itest
