// tests/integration/persistence_test.cc — what survives a clean unmount and
// remount, and what survives kill -9 of the daemon (DESIGN §4): fsync()ed
// files and files closed more than a commit interval before the crash are
// intact; no file is ever visible torn.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

struct FileSpec {
  std::string data;
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  bool pinned = false;
  time_t mtime = 0;  // 0 = leave as written
};

// A directory tree with known bytes, built on one mount and checked on the
// next.
struct Tree {
  std::set<std::string> dirs;              // relative paths
  std::map<std::string, FileSpec> files;   // relative path -> spec

  static Tree Sample() {
    Tree t;
    t.dirs = {"a", "a/b", "a/b/c", "empty-dir", "lmcache"};
    const std::vector<std::pair<std::string, size_t>> sizes = {
        {"zero", 0},
        {"one", 1},
        {"a/page-minus-1", 4095},
        {"a/page", 4096},
        {"a/page-plus-1", 4097},
        {"a/b/slot-minus-1", kMiB - 1},
        {"a/b/slot", kMiB},
        {"a/b/c/slot-plus-1", kMiB + 1},
        {"a/b/c/five-and-a-bit", 5 * kMiB + 123},
        {"lmcache/meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt", 4 * kMiB},
        {"lmcache/-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt", 14 * kMiB},
    };
    uint64_t seed = 100;
    for (const auto& [name, size] : sizes) t.files[name].data = PatternBytes(seed++, size);
    t.files["a/page"].mode = 0600;
    t.files["a/b/slot"].uid = 4321;
    t.files["a/b/slot"].gid = 8765;
    t.files["a/b/c/slot-plus-1"].mtime = 1234567890;
    t.files["a/b/c/five-and-a-bit"].pinned = true;
    return t;
  }

  void Build(const std::string& root) const {
    for (const auto& d : dirs) {
      ASSERT_EQ(0, mkdir((root + "/" + d).c_str(), 0755)) << d;
    }
    for (const auto& [rel, f] : files) {
      std::string p = root + "/" + rel;
      ASSERT_TRUE(WriteFile(p, f.data, 0, 0644));
      if (f.mode != 0644) {
        ASSERT_EQ(0, chmod(p.c_str(), f.mode)) << ErrnoText(errno);
      }
      if (f.uid || f.gid) {
        ASSERT_EQ(0, chown(p.c_str(), f.uid, f.gid)) << ErrnoText(errno);
      }
      if (f.mtime) {
        struct timespec ts[2] = {{f.mtime, 0}, {f.mtime, 0}};
        ASSERT_EQ(0, utimensat(AT_FDCWD, p.c_str(), ts, 0)) << ErrnoText(errno);
      }
      if (f.pinned) {
        ASSERT_EQ(0, setxattr(p.c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);
      }
    }
  }

  void Verify(const std::string& root) const {
    // Every directory lists exactly its children.
    std::map<std::string, std::set<std::string>> children;
    children[""];
    for (const auto& d : dirs) children[d];
    auto add = [&](const std::string& rel) {
      size_t slash = rel.rfind('/');
      children[slash == std::string::npos ? "" : rel.substr(0, slash)].insert(
          slash == std::string::npos ? rel : rel.substr(slash + 1));
    };
    for (const auto& d : dirs) add(d);
    for (const auto& [rel, f] : files) add(rel);
    for (const auto& [dir, want] : children) {
      std::string p = dir.empty() ? root : root + "/" + dir;
      std::set<std::string> got;
      DIR* dp = opendir(p.c_str());
      ASSERT_NE(nullptr, dp) << "opendir(" << p << "): " << ErrnoText(errno);
      while (dirent* e = readdir(dp)) {
        std::string n = e->d_name;
        if (dir.empty() && n == ".slotfs") continue;  // the control directory
        if (n != "." && n != "..") got.insert(n);
      }
      closedir(dp);
      EXPECT_EQ(want, got) << "listing of /" << dir;
    }
    for (const auto& [rel, f] : files) {
      std::string p = root + "/" + rel;
      struct stat st;
      ASSERT_EQ(0, stat(p.c_str(), &st)) << rel << ": " << ErrnoText(errno);
      EXPECT_EQ(off_t(f.data.size()), st.st_size) << rel;
      EXPECT_EQ(f.mode, st.st_mode & 07777) << rel;
      EXPECT_EQ(f.uid, st.st_uid) << rel;
      EXPECT_EQ(f.gid, st.st_gid) << rel;
      if (f.mtime) {
        EXPECT_EQ(f.mtime, st.st_mtim.tv_sec) << rel;
      }
      std::string got;
      ASSERT_TRUE(ReadFile(p, &got));
      EXPECT_SAME_BYTES(f.data, got) << rel;
      char pin[16] = {0};
      ssize_t n = getxattr(p.c_str(), "user.slotfs.pin", pin, sizeof pin - 1);
      EXPECT_GT(n, 0) << rel << ": getxattr pin: " << ErrnoText(errno);
      EXPECT_EQ(f.pinned ? '1' : '0', pin[0]) << rel << ": pin";
    }
  }
};

int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Lets `writer` run for 4.5 s, then kill -9s the daemon (its time in
// *kill_ms) and the writer. The kill detaches the mount: a writer that was
// between two files would go on in the directory underneath, forever. The
// caller then drains the writer's pipe before reaping it (a writer blocked
// on a full pipe never exits).
::testing::AssertionResult KillDuringLoad(SlotfsMount& mount, pid_t writer, int64_t* kill_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  *kill_ms = MonotonicMs();
  ::testing::AssertionResult killed = mount.Kill9();
  kill(writer, SIGKILL);
  return killed;
}

using PersistenceTest = MountTest;

TEST_F(PersistenceTest, TreeSurvivesCleanUnmountAndRemount) {
  Tree tree = Tree::Sample();
  ASSERT_NO_FATAL_FAILURE(tree.Build(mnt_));
  ASSERT_NO_FATAL_FAILURE(tree.Verify(mnt_));
  struct statvfs before;
  ASSERT_TRUE(StatVfs(&before));

  ASSERT_EQ(0, mount_->Unmount()) << "daemon exit code after fusermount3 -u";
  ProcResult info = RunSlotfs({"info", image_});
  EXPECT_EQ(0, info.exit_code) << "offline slotfs info:\n" << info.Describe();

  ASSERT_TRUE(mount_->Remount());
  ASSERT_NO_FATAL_FAILURE(tree.Verify(mnt_));
  struct statvfs after;
  ASSERT_TRUE(StatVfs(&after));
  EXPECT_EQ(before.f_blocks, after.f_blocks);
  EXPECT_EQ(before.f_bfree, after.f_bfree) << "slot usage changed across a remount";

  // Change it on the second mount; the third mount sees the changes.
  ASSERT_EQ(0, unlink(P("one").c_str()));
  tree.files.erase("one");
  ASSERT_EQ(0, rename(P("a/page").c_str(), P("empty-dir/page").c_str())) << ErrnoText(errno);
  tree.files["empty-dir/page"] = tree.files["a/page"];
  tree.files.erase("a/page");
  ASSERT_EQ(0, truncate(P("a/b/c/five-and-a-bit").c_str(), 100)) << ErrnoText(errno);
  tree.files["a/b/c/five-and-a-bit"].data.resize(100);
  tree.files["new"].data = PatternBytes(999, 3 * kMiB);
  ASSERT_TRUE(WriteFile(P("new"), tree.files["new"].data));
  ASSERT_EQ(0, setxattr(P("a/b/c/five-and-a-bit").c_str(), "user.slotfs.pin", "0", 1, 0));
  tree.files["a/b/c/five-and-a-bit"].pinned = false;

  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  ASSERT_NO_FATAL_FAILURE(tree.Verify(mnt_));
}

TEST_F(PersistenceTest, FsyncedFilesSurviveKill9) {
  ASSERT_EQ(0, mkdir(P("dir").c_str(), 0755));
  std::map<std::string, std::string> files;
  for (int i = 0; i < 12; ++i) {
    std::string rel = (i % 2 ? "dir/" : "") + std::string("synced-") + std::to_string(i);
    files[rel] = PatternBytes(200 + i, (i % 4 + 1) * kMiB + uint64_t(i) * 4096 + uint64_t(i % 3));
    UniqueFd fd(open(P(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
    ASSERT_EQ(ssize_t(files[rel].size()), write(fd.get(), files[rel].data(), files[rel].size()));
    ASSERT_EQ(0, fsync(fd.get())) << ErrnoText(errno);
    ASSERT_EQ(0, fd.Reset());
  }
  struct statvfs before;
  ASSERT_TRUE(StatVfs(&before));

  ASSERT_TRUE(mount_->Kill9());
  ASSERT_TRUE(mount_->Remount());
  for (const auto& [rel, data] : files) {
    std::string got;
    EXPECT_TRUE(ReadFile(P(rel), &got)) << "fsynced file lost after kill -9";
    EXPECT_SAME_BYTES(data, got) << rel;
  }
  struct statvfs after;
  ASSERT_TRUE(StatVfs(&after));
  EXPECT_EQ(before.f_bfree, after.f_bfree) << "free slots differ after crash recovery";

  // The rebuilt free map must not hand out slots that hold surviving files.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(WriteFile(P("after-" + std::to_string(i)), PatternBytes(300 + i, 5 * kMiB)));
  }
  for (const auto& [rel, data] : files) {
    std::string got;
    ASSERT_TRUE(ReadFile(P(rel), &got));
    EXPECT_SAME_BYTES(data, got) << rel << " corrupted by writes after recovery";
  }
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  for (int i = 0; i < 6; ++i) {
    std::string got;
    ASSERT_TRUE(ReadFile(P("after-" + std::to_string(i)), &got));
    EXPECT_SAME_BYTES(PatternBytes(300 + i, 5 * kMiB), got);
  }
}

TEST_F(PersistenceTest, FilesClosedMoreThanOneSecondBeforeKill9Survive) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < 8; ++i) {
    std::string name = "meta-llama-Llama-3.1-8B-Instruct@1@0@00000000000000" + std::to_string(10 + i) + "@bfloat16.pt";
    files[name] = PatternBytes(400 + i, 4 * kMiB);
    ASSERT_TRUE(WriteFile(P(name), files[name]));  // one write, close, no fsync
  }
  ASSERT_EQ(0, unlink(P(files.begin()->first).c_str()));
  files.erase(files.begin());
  // Let the committer alone (no fsync) make it all durable, and see that it
  // did rather than guess a time: every file's state is "committed" (set
  // after the durable transaction), and the unlinked file's slots are free
  // again (they leave quarantine only once the unlink is durable). The
  // window is bounded; 20 s is far past it, so a loaded machine cannot fail
  // the test, and the crash below still tests what recovery keeps.
  uint64_t kept_blocks = 0;
  for (const auto& [n, data] : files) {
    struct stat st;
    ASSERT_EQ(0, stat(P(n).c_str(), &st)) << n;
    kept_blocks += uint64_t(st.st_blocks) * 512;
  }
  bool durable = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !durable && std::chrono::steady_clock::now() < deadline;) {
    durable = true;
    for (const auto& [n, data] : files) {
      char state[32] = {};
      ssize_t len = getxattr(P(n).c_str(), "user.slotfs.state", state, sizeof state - 1);
      durable = durable && len > 0 && std::string(state, size_t(len)) == "committed";
    }
    struct statvfs v {};
    durable = durable && statvfs(mnt_.c_str(), &v) == 0 &&
              uint64_t(v.f_blocks - v.f_bfree) * v.f_frsize == kept_blocks;
    if (!durable) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(durable) << "closed files and an unlink not durable 20 s later, without fsync";
  ASSERT_TRUE(mount_->Kill9());
  ASSERT_TRUE(mount_->Remount());
  std::set<std::string> listed;
  DIR* d = opendir(mnt_.c_str());
  ASSERT_NE(nullptr, d);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n != ".slotfs") listed.insert(n);
  }
  closedir(d);
  std::set<std::string> want;
  for (const auto& [n, data] : files) want.insert(n);
  EXPECT_EQ(want, listed) << "an unlink or a closed file was lost across kill -9";
  for (const auto& [n, data] : files) {
    std::string got;
    EXPECT_TRUE(ReadFile(P(n), &got));
    EXPECT_SAME_BYTES(data, got) << n;
  }
}

// A writer process streams whole files while the daemon is killed. After
// recovery every file that is visible must be complete and correct, and
// every file closed more than kDurableAfterMs before the kill must be there.
// A closed file is durable after the group-commit interval (50 ms) plus one
// device flush; on a loaded shared disk fdatasync alone can pass a second,
// so the bound the crash tests hold the daemon to is generous.
constexpr int64_t kDurableAfterMs = 3000;

TEST_F(PersistenceTest, CrashDuringWritesLeavesNoTornFile) {
  auto size_of = [](int i) { return uint64_t(i % 5 + 1) * kMiB + uint64_t(i % 7) * 4096; };
  // At most ~64 files of <= 5 MiB live at once, well inside the image.
  static constexpr int kWindow = 64;
  int pipefd[2];
  ASSERT_EQ(0, pipe(pipefd));
  pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    close(pipefd[0]);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 100000; ++i) {
      std::string data = PatternBytes(1000 + i, size_of(i));
      std::string path = P("crash-" + std::to_string(i));
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(0);
      ssize_t n = write(fd, data.data(), data.size());
      int rc = close(fd);
      if (n != ssize_t(data.size()) || rc != 0) _exit(0);
      int64_t rec[2] = {i, MonotonicMs()};
      if (write(pipefd[1], rec, sizeof rec) != sizeof rec) _exit(0);
      // Keep a window of files so the device never fills: a short write at
      // a full device is a legitimately closed (shorter) file, not a tear.
      if (i >= kWindow) {
        int old = i - kWindow;
        if (unlink(P("crash-" + std::to_string(old)).c_str()) != 0) _exit(0);
        int64_t gone[2] = {-(old + 1), MonotonicMs()};
        if (write(pipefd[1], gone, sizeof gone) != sizeof gone) _exit(0);
      }
    }
    _exit(0);
  }
  close(pipefd[1]);
  int64_t kill_ms = 0;
  ASSERT_TRUE(KillDuringLoad(*mount_, writer, &kill_ms));
  std::map<int, int64_t> closed_at;
  std::set<int> unlinked;  // may be present (the unlink can be lost) or not
  int64_t rec[2];
  while (read(pipefd[0], rec, sizeof rec) == sizeof rec) {
    if (rec[0] < 0) {
      unlinked.insert(int(-rec[0] - 1));
    } else {
      closed_at[int(rec[0])] = rec[1];
    }
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_GT(closed_at.size(), 3u) << "the writer did not get far enough before the kill";

  ASSERT_TRUE(mount_->Remount());
  int present = 0;
  for (int i = 0; i <= closed_at.rbegin()->first + 1; ++i) {
    std::string path = P("crash-" + std::to_string(i));
    std::string got;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      EXPECT_EQ(ENOENT, errno) << path;
      auto it = closed_at.find(i);
      if (it != closed_at.end() && unlinked.count(i) == 0) {
        EXPECT_GT(it->second, kill_ms - kDurableAfterMs)
            << path << " was closed " << (kill_ms - it->second) << " ms before kill -9 and is gone";
      }
      continue;
    }
    ++present;
    if (st.st_size == 0 && closed_at.count(i) == 0) {
      continue;  // created but not yet written when the daemon died: not torn
    }
    ASSERT_TRUE(ReadFile(path, &got));
    EXPECT_SAME_BYTES(PatternBytes(1000 + i, size_of(i)), got) << path << " is torn after recovery";
  }
  std::cerr << "note: " << closed_at.size() << " files closed before the kill, " << present
            << " present after recovery\n";
}

// A writer process rewrites existing files over and over (buffered O_TRUNC
// and LMCache's O_DIRECT-without-O_TRUNC, alternately) while the daemon is
// killed. After recovery each file must be exactly one version that was
// written to it, and no older than the last version closed more than 1 s
// before the kill.
TEST_F(PersistenceTest, CrashDuringRewritesLeavesOldOrNewVersion) {
  constexpr int kFiles = 8;
  // Same size for every version: O_DIRECT rewrites do not truncate.
  auto size_of = [](int i) { return 2 * kMiB + uint64_t(i) * 4096; };
  auto data_of = [&](int i, int g) { return PatternBytes(uint64_t(5000 + i * 1000 + g), size_of(i)); };
  auto name_of = [&](int i) { return P("rewrite-" + std::to_string(i)); };
  for (int i = 0; i < kFiles; ++i) {
    std::string d = data_of(i, 0);
    UniqueFd fd(open(name_of(i).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
    ASSERT_EQ(ssize_t(d.size()), write(fd.get(), d.data(), d.size()));
    ASSERT_EQ(0, fsync(fd.get())) << ErrnoText(errno);
  }
  int pipefd[2];
  ASSERT_EQ(0, pipe(pipefd));
  pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    close(pipefd[0]);
    signal(SIGPIPE, SIG_IGN);
    void* raw = nullptr;
    if (posix_memalign(&raw, 4096, 4 * kMiB) != 0) _exit(0);
    for (int g = 1; g < 100000; ++g) {
      for (int i = 0; i < kFiles; ++i) {
        int64_t start[3] = {i, g, -1};  // -1: started, not yet closed
        if (write(pipefd[1], start, sizeof start) != sizeof start) _exit(0);
        std::string d = data_of(i, g);
        memcpy(raw, d.data(), d.size());
        int flags = g % 2 ? (O_WRONLY | O_CREAT | O_TRUNC) : (O_WRONLY | O_CREAT | O_DIRECT);
        int fd = open(name_of(i).c_str(), flags, 0644);
        if (fd < 0) _exit(0);
        ssize_t n = write(fd, raw, d.size());
        int rc = close(fd);
        if (n != ssize_t(d.size()) || rc != 0) _exit(0);
        int64_t done[3] = {i, g, MonotonicMs()};
        if (write(pipefd[1], done, sizeof done) != sizeof done) _exit(0);
      }
    }
    _exit(0);
  }
  close(pipefd[1]);
  int64_t kill_ms = 0;
  ASSERT_TRUE(KillDuringLoad(*mount_, writer, &kill_ms));
  std::vector<int> max_started(kFiles, 0), min_durable(kFiles, 0);
  int64_t rec[3];
  while (read(pipefd[0], rec, sizeof rec) == sizeof rec) {
    int i = int(rec[0]), g = int(rec[1]);
    if (rec[2] < 0) {
      max_started[i] = std::max(max_started[i], g);
    } else if (rec[2] < kill_ms - kDurableAfterMs) {
      min_durable[i] = std::max(min_durable[i], g);
    }
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_GT(max_started[kFiles - 1], 1) << "the writer did not get far enough before the kill";

  ASSERT_TRUE(mount_->Remount());
  for (int i = 0; i < kFiles; ++i) {
    std::string got;
    ASSERT_TRUE(ReadFile(name_of(i), &got)) << "a rewritten file vanished across kill -9";
    int found = -1;
    for (int g = max_started[i]; g >= 0 && found < 0; --g) {
      if (got == data_of(i, g)) found = g;
    }
    EXPECT_GE(found, 0) << name_of(i) << " (" << got.size() << " bytes) matches none of versions 0.."
                        << max_started[i] << ": torn; vs the newest: "
                        << FirstDifference(data_of(i, max_started[i]), got);
    std::cerr << "note: " << name_of(i) << ": versions started " << max_started[i] << ", durable by rule "
              << min_durable[i] << ", recovered " << found << "\n";
    if (found >= 0) {
      EXPECT_GE(found, min_durable[i]) << name_of(i) << " went back to version " << found << " although version "
                                       << min_durable[i] << " was closed more than " << kDurableAfterMs << " ms before the kill";
    }
  }
}

TEST_F(PersistenceTest, LmcacheFilesWrittenBeforeUnmountVerifyAfterRemount) {
  std::vector<std::string> args = {LmcachePatternBin(), "--dir", P("kv"), "--mode", "odirect",
                                   "--size", "4M", "--files", "10", "--writers", "4",
                                   "--readers", "4", "--procs", "2", "--seed", "42"};
  std::vector<std::string> write_args = args, verify_args = args;
  write_args.insert(write_args.end(), {"--only", "write"});
  verify_args.insert(verify_args.end(), {"--only", "verify"});
  ProcResult w = RunProcess(write_args, std::chrono::seconds(240));
  ASSERT_EQ(0, w.exit_code) << w.Describe();
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  ProcResult v = RunProcess(verify_args, std::chrono::seconds(240));
  EXPECT_EQ(0, v.exit_code) << v.Describe();
}

}  // namespace
}  // namespace slotfs::itest
