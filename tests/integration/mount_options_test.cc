// tests/integration/mount_options_test.cc — the ways of mounting: the
// daemonizing default, the mount-helper form used by /etc/fstab and
// mount.fuse3, -o options (FUSE's and slotfs's own), tuning flags, and
// unmounting with umount(8).

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

// Pids of processes whose command line contains `needle` (our own daemons,
// found by the unique temp-dir path in their arguments).
std::vector<pid_t> PidsWithArg(const std::string& needle) {
  std::vector<pid_t> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0 || pid == getpid()) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) pids.push_back(pid_t(pid));
  }
  closedir(d);
  return pids;
}

// A mount test whose fixture only formats; each test mounts its own way.
class MountOptionsTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 256 * kMiB;
    c.mount = false;
    return c;
  }
  void TearDown() override {
    // Daemons started in the background are not our children: unmount, then
    // wait for them to go; kill (by pid) whatever is left.
    if (tmp_) {
      if (IsMountPoint(mnt_)) RunProcess({"fusermount3", "-u", mnt_}, std::chrono::seconds(30));
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!PidsWithArg(mnt_).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      for (pid_t p : PidsWithArg(mnt_)) {
        ADD_FAILURE() << "background daemon pid " << p << " still running 30 s after unmount; killing it";
        kill(p, SIGKILL);
      }
    }
    MountTest::TearDown();
  }
  // Checks that the mount at mnt_ is live and serves a round trip. The I/O
  // runs in a child process: if the daemon hangs, it is killed after 20 s
  // and the test fails instead of hanging.
  void ExpectServing() {
    ASSERT_TRUE(IsFuseMountPoint(mnt_)) << mnt_ << " is not a FUSE mount";
    const std::string data = PatternBytes(7, 2 * kMiB + 9);
    const std::string probe = P("probe");
    int rc = RunInChild(
        [&] {
          if (!WriteFile(probe, data)) return 1;
          std::string got;
          if (!ReadFile(probe, &got)) return 2;
          return got == data ? 0 : 3;
        },
        std::chrono::seconds(20),
        [&] {
          for (pid_t p : PidsWithArg(mnt_)) kill(p, SIGKILL);
        });
    ASSERT_NE(-1, rc) << "writing and reading " << probe
                      << " hung for 20 s (daemon killed to unblock it)";
    ASSERT_EQ(0, rc) << "round trip through " << probe << " failed (1 = write, 2 = read, 3 = bytes differ)";
  }
  // Unmounts a background mount and waits until its daemon has exited.
  void UnmountBackground(const std::vector<std::string>& how) {
    std::vector<pid_t> before = PidsWithArg(mnt_);
    EXPECT_FALSE(before.empty()) << "no daemon process found for " << mnt_;
    ProcResult r = RunProcess(how, std::chrono::seconds(30));
    ASSERT_EQ(0, r.exit_code) << r.Describe();
    EXPECT_FALSE(IsMountPoint(mnt_));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!PidsWithArg(mnt_).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(PidsWithArg(mnt_).empty()) << "the daemon did not exit after unmount";
  }
  // Mounts in the foreground with `args`, checks it serves, unmounts, and
  // expects exit code 0.
  void ForegroundRoundTrip(const std::vector<std::string>& args) {
    SlotfsMount m(image_, mnt_, args, tmp_->Join("daemon.log"));
    ::testing::AssertionResult started = m.Start();
    ASSERT_TRUE(started);
    ASSERT_NO_FATAL_FAILURE(ExpectServing());
    EXPECT_EQ(0, m.Unmount()) << m.Log();
  }
};

TEST_F(MountOptionsTest, BackgroundMountReturnsOnlyOnceTheMountIsLive) {
  ProcResult r = RunSlotfs({"mount", image_, mnt_}, std::chrono::seconds(30));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  // No waiting: the parent may exit only after the mount is live.
  EXPECT_TRUE(IsFuseMountPoint(mnt_)) << "slotfs mount returned before the mount was live";
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  UnmountBackground({"fusermount3", "-u", mnt_});
  // The data survives: mount again in the foreground and read it.
  SlotfsMount m(image_, mnt_, {}, tmp_->Join("daemon.log"));
  ASSERT_TRUE(m.Start());
  std::string got;
  ASSERT_TRUE(ReadFile(P("probe"), &got));
  EXPECT_SAME_BYTES(PatternBytes(7, 2 * kMiB + 9), got);
  EXPECT_EQ(0, m.Unmount());
}

TEST_F(MountOptionsTest, MountHelperFormWithDashOWorks) {
  // What mount.fuse3 runs for an fstab line "IMG MNT fuse.slotfs db=... 0 0".
  ProcResult r = RunSlotfs({image_, mnt_, "-o", "db=" + db_}, std::chrono::seconds(30));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  UnmountBackground({"fusermount3", "-u", mnt_});
}

TEST_F(MountOptionsTest, MountFuse3HelperStartsSlotfsAsFromFstab) {
  std::string bindir = SlotfsBin();
  bindir = bindir.substr(0, bindir.rfind('/'));
  const char* path = getenv("PATH");
  ProcResult r = RunProcess({"mount.fuse3", image_, mnt_, "-t", "slotfs", "-o", "db=" + db_},
                            std::chrono::seconds(30),
                            {"PATH=" + bindir + ":" + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin")});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  UnmountBackground({"umount", mnt_});
}

TEST_F(MountOptionsTest, SlotfsOptionsInsideDashOAreAccepted) {
  ForegroundRoundTrip({"-o", "db=" + db_ + ",engine=posix"});
}

TEST_F(MountOptionsTest, FuseOptionsAllowOtherAndDefaultPermissionsAreAccepted) {
  ForegroundRoundTrip({"-o", "allow_other,default_permissions"});
  // Options may also come as repeated -o.
  ForegroundRoundTrip({"-o", "allow_other", "-o", "default_permissions"});
}

TEST_F(MountOptionsTest, TuningFlagsAreAccepted) {
  ForegroundRoundTrip({"--db", db_, "--engine", "auto", "--log-level", "debug", "--commit-interval-ms", "50",
                       "--threads", "2"});
  // The same settings as slotfs -o options (fstab style).
  ForegroundRoundTrip({"-o", "db=" + db_ + ",engine=auto,log_level=debug,commit_interval_ms=50,threads=2"});
}

TEST_F(MountOptionsTest, UmountCommandStopsTheDaemonCleanly) {
  SlotfsMount m(image_, mnt_, {}, tmp_->Join("daemon.log"));
  ASSERT_TRUE(m.Start());
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  EXPECT_EQ(0, m.UnmountWithUmount()) << m.Log();
  EXPECT_FALSE(IsMountPoint(mnt_));
  ASSERT_TRUE(m.Remount());
  std::string got;
  ASSERT_TRUE(ReadFile(P("probe"), &got));
  EXPECT_SAME_BYTES(PatternBytes(7, 2 * kMiB + 9), got);
  EXPECT_EQ(0, m.Unmount());
}

TEST_F(MountOptionsTest, SigtermUnmountsAndExitsCleanly) {
  SlotfsMount m(image_, mnt_, {}, tmp_->Join("daemon.log"));
  ASSERT_TRUE(m.Start());
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  ASSERT_EQ(0, kill(m.pid(), SIGTERM));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (m.Alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(m.running()) << "daemon still running 30 s after SIGTERM";
  EXPECT_EQ(0, m.last_exit_code()) << m.Log();
  EXPECT_FALSE(IsMountPoint(mnt_)) << "SIGTERM left the mount behind";
  if (IsMountPoint(mnt_)) DetachMountsUnder(mnt_);
  ASSERT_TRUE(m.Remount());
  std::string got;
  ASSERT_TRUE(ReadFile(P("probe"), &got));
  EXPECT_SAME_BYTES(PatternBytes(7, 2 * kMiB + 9), got);
  EXPECT_EQ(0, m.Unmount());
}

}  // namespace
}  // namespace slotfs::itest
