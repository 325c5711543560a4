// tests/integration/rss_test.cc — the daemon's memory does not grow with the
// number of files it serves. 50,000 files are imported into the index, the
// daemon mounts them, and every one is listed (getdents64) and stat'ed,
// twice, with the kernel's name and attribute caches off (cache_timeout=0)
// so every stat is a request the daemon answers. The daemon's VmRSS and
// VmHWM (/proc/PID/status) must stay within:
//   - kBoundMiB, the bound slotfs claims with default options, at any time;
//   - kGrowthMiB above its RSS right after mounting, after the first round:
//     the SQLite page cache (db_cache_mb, 4 MiB here) plus allocator
//     slack. State kept per file would show: 256 bytes a file is 12 MiB;
//   - kRepeatGrowthMiB more after the second round: nothing accumulates
//     per request.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "tests/integration/index_import.h"
#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

constexpr uint64_t kFiles = 50'000;
constexpr int kDbCacheMiB = 4;
constexpr double kBoundMiB = 128;
constexpr double kGrowthMiB = kDbCacheMiB + 12;
constexpr double kRepeatGrowthMiB = 4;

struct Mem {
  double rss = 0, hwm = 0;  // MiB
};

Mem ReadMem(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  Mem m;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss = std::strtod(line.c_str() + 6, nullptr) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) m.hwm = std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return m;
}

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

class RssTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.mount = false;  // the files are imported first
    return c;
  }

  // Lists `dir` and stats every entry; the numbers of names and of
  // successful stats of empty regular files.
  static std::pair<uint64_t, uint64_t> ListAndStat(const std::string& dir) {
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.ok()) {
      ADD_FAILURE() << "open " << dir << ": " << ErrnoText(errno);
      return {0, 0};
    }
    std::vector<char> buf(32 * 1024);
    uint64_t names = 0, stats = 0;
    for (;;) {
      long n = syscall(SYS_getdents64, fd.get(), buf.data(), buf.size());
      if (n <= 0) {
        if (n < 0) ADD_FAILURE() << "getdents64: " << ErrnoText(errno);
        break;
      }
      for (long pos = 0; pos < n;) {
        const auto* d = reinterpret_cast<const LinuxDirent64*>(buf.data() + pos);
        pos += d->d_reclen;
        if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
        ++names;
        struct stat st;
        if (fstatat(fd.get(), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_size == 0) {
          ++stats;
        }
      }
    }
    return {names, stats};
  }
};

TEST_F(RssTest, ListingAndStatingEveryFileKeepsTheDaemonsMemoryFlat) {
  std::vector<std::string> names;
  for (uint64_t i = 0; i < kFiles; ++i) names.push_back(ImportName("rss", i));
  ASSERT_TRUE(ImportEmptyFiles(image_, db_, "kv", names));
  mount_ = std::make_unique<SlotfsMount>(
      image_, mnt_,
      std::vector<std::string>{"-o", "cache_timeout=0,db_cache_mb=" + std::to_string(kDbCacheMiB)},
      tmp_->Join("daemon.log"));
  ASSERT_TRUE(mount_->Start(seconds(60)));
  struct stat st;
  ASSERT_SYS_OK(stat(P("kv").c_str(), &st));
  const pid_t pid = mount_->pid();
  Mem start = ReadMem(pid);
  ASSERT_GT(start.rss, 0) << "cannot read /proc/" << pid << "/status";

  auto [names1, stats1] = ListAndStat(P("kv"));
  Mem first = ReadMem(pid);
  auto [names2, stats2] = ListAndStat(P("kv"));
  Mem second = ReadMem(pid);
  EXPECT_EQ(kFiles, names1);
  EXPECT_EQ(kFiles, stats1);
  EXPECT_EQ(kFiles, names2);
  EXPECT_EQ(kFiles, stats2);

  std::cout << "[ memory  ] daemon RSS MiB: mounted " << start.rss << ", after listing and "
            << "stat'ing " << kFiles << " files " << first.rss << ", again " << second.rss
            << "; peak " << second.hwm << "\n";
  EXPECT_LE(second.hwm, kBoundMiB) << "peak RSS above the bound slotfs claims";
  EXPECT_LE(first.rss - start.rss, kGrowthMiB)
      << "RSS grew by " << (first.rss - start.rss) * 1024 * 1024 / kFiles
      << " bytes per file served";
  EXPECT_LE(second.rss - first.rss, kRepeatGrowthMiB)
      << "RSS kept growing when the same files were served again";
}

}  // namespace
}  // namespace slotfs::itest
