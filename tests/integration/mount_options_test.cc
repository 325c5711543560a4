// tests/integration/mount_options_test.cc — the ways of mounting: the
// daemonizing default, the mount-helper form used by /etc/fstab and
// mount.fuse3, mount(8) with -t fuse.slotfs and with an fstab line, -o
// options (FUSE's and slotfs's own), tuning flags, the configuration file,
// readiness to systemd (sd_notify), a stale mount left by kill -9, and
// unmounting with umount(8).

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
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

// ------------------------------------------------ mount(8), fstab, systemd

// Runs `script` with /bin/sh -e in a private mount namespace where the
// build tree's `slotfs` is on the default PATH. mount(8) runs its helpers
// without PATH (so /bin/sh's default applies, as for the installed
// /usr/bin/slotfs): bind-mounting a directory holding a `slotfs` link over
// /usr/local/sbin, the first default PATH entry, makes mount.fuse3 find the
// binary under test. The namespace (and every mount the script makes in it)
// is invisible to the test: the script checks for itself and unmounts.
ProcResult RunWithSlotfsOnDefaultPath(const TempDir& tmp, const std::string& script) {
  const std::string bindir = tmp.Join("bin");
  mkdir(bindir.c_str(), 0755);
  symlink(SlotfsBin(), (bindir + "/slotfs").c_str());
  return RunProcess({"unshare", "--mount", "--propagation", "private", "/bin/sh", "-ec",
                     "mount --bind " + ShellQuote(bindir) + " /usr/local/sbin\n" + script},
                    std::chrono::seconds(60));
}

// Shell: checks that MNT is a fuse.slotfs mount, writes and reads a file
// through it, then unmounts it with umount(8).
std::string CheckRoundTripAndUnmount(const std::string& mnt) {
  const std::string m = ShellQuote(mnt);
  return "trap 'umount " + m + " 2>/dev/null || true' EXIT\n"
         "grep -q ' '" + m + "' .* - fuse.slotfs ' /proc/self/mountinfo || "
         "{ echo 'not a fuse.slotfs mount'; grep slotfs /proc/self/mountinfo; exit 3; }\n"
         "head -c 2097161 /dev/urandom > " + m + ".data\n"
         "timeout 20 cp " + m + ".data " + m + "/probe\n"
         "timeout 20 cmp " + m + ".data " + m + "/probe\n"
         "umount " + m + "\n"
         "trap - EXIT\n";
}

// How many mounts /proc/self/mountinfo lists at `dir` (stacked ones count).
int MountsAt(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) n += line.find(" " + dir + " ") != std::string::npos;
  return n;
}

// Waits until no process has `needle` in its command line.
bool WaitNoProcessWithArg(const std::string& needle) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!PidsWithArg(needle).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return PidsWithArg(needle).empty();
}

TEST_F(MountOptionsTest, MountTypeFuseSlotfsWorksThroughMount8) {
  ProcResult r = RunWithSlotfsOnDefaultPath(
      *tmp_, "mount -t fuse.slotfs " + ShellQuote(image_) + " " + ShellQuote(mnt_) +
                 " -o " + ShellQuote("db=" + db_ + ",commit_interval_ms=20,nofail") + "\n" +
                 CheckRoundTripAndUnmount(mnt_));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(WaitNoProcessWithArg(mnt_)) << "the daemon did not exit after umount";
}

TEST_F(MountOptionsTest, FstabLineMountsWithMountFstab) {
  const std::string fstab = tmp_->Join("fstab");
  ASSERT_TRUE(WriteFile(fstab, "# test fstab\n" + image_ + "  " + mnt_ +
                                   "  fuse.slotfs  db=" + db_ + ",noauto,nofail,_netdev  0  0\n"));
  ProcResult r = RunWithSlotfsOnDefaultPath(
      *tmp_, "mount --fstab " + ShellQuote(fstab) + " " + ShellQuote(mnt_) + "\n" +
                 CheckRoundTripAndUnmount(mnt_));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(WaitNoProcessWithArg(mnt_)) << "the daemon did not exit after umount";
}

TEST_F(MountOptionsTest, StaleMountOfAKilledDaemonIsDetachedByTheNextMount) {
  ProcResult r = RunSlotfs({"mount", image_, mnt_}, std::chrono::seconds(30));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  const std::string data = PatternBytes(11, kMiB + 5);
  const std::string kept = P("kept");
  int rc = RunInChild(
      [&] {
        int fd = open(kept.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return 1;
        if (write(fd, data.data(), data.size()) != ssize_t(data.size())) return 2;
        if (fsync(fd) != 0) return 3;
        return close(fd) == 0 ? 0 : 4;
      },
      std::chrono::seconds(20), [&] { for (pid_t p : PidsWithArg(mnt_)) kill(p, SIGKILL); });
  ASSERT_EQ(0, rc) << "writing " << kept << " failed or hung";

  std::vector<pid_t> daemons = PidsWithArg(mnt_);
  ASSERT_EQ(1u, daemons.size()) << "expected one daemon for " << mnt_;
  ASSERT_EQ(0, kill(daemons[0], SIGKILL));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!PidsWithArg(mnt_).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(PidsWithArg(mnt_).empty()) << "the daemon survived SIGKILL";
  // The kernel keeps the mount, and every request on it fails: ENOTCONN, or
  // ECONNABORTED while the connection is still being torn down.
  ASSERT_TRUE(IsFuseMountPoint(mnt_));
  struct statfs sfs;
  errno = 0;
  EXPECT_EQ(-1, statfs(mnt_.c_str(), &sfs));
  EXPECT_TRUE(errno == ENOTCONN || errno == ECONNABORTED) << ErrnoText(errno);

  r = RunSlotfs({"mount", image_, mnt_}, std::chrono::seconds(30));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("stale mount")) << "no log line about the stale mount\n"
                                                          << r.Describe();
  EXPECT_EQ(1, MountsAt(mnt_)) << "the new mount was stacked on the stale one";
  std::string got;
  ASSERT_TRUE(ReadFile(kept, &got));
  EXPECT_SAME_BYTES(data, got);
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  UnmountBackground({"fusermount3", "-u", mnt_});
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  NotifySocket() : name_("@slotfs-itest-notify-" + std::to_string(getpid())) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name_.data() + 1, name_.size() - 1);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr),
                              socklen_t(offsetof(sockaddr_un, sun_path) + name_.size())) == 0;
  }
  ~NotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  // NOTIFY_SOCKET's value.
  const std::string& name() const { return name_; }
  // The next datagram, or "" after `timeout`.
  std::string Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, int(timeout.count())) != 1) return "";
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, size_t(n)) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST_F(MountOptionsTest, ForegroundMountSendsReadyToSystemdOnlyOnceServing) {
  NotifySocket sock;
  ASSERT_TRUE(sock.bound()) << ErrnoText(errno);
  // What the mount looked like when READY=1 arrived, seen from a thread that
  // waits for it while the main thread starts the daemon.
  std::string message;
  bool mounted_at_ready = false;
  int statfs_at_ready = -2;
  std::thread watcher([&] {
    message = sock.Receive(std::chrono::seconds(20));
    if (message.empty()) return;
    mounted_at_ready = IsFuseMountPoint(mnt_);
    // The mount must answer at once; a hang would mean READY came early.
    statfs_at_ready = RunInChild(
        [&] {
          struct statfs sfs;
          return statfs(mnt_.c_str(), &sfs) == 0 && sfs.f_type == kFuseSuperMagic ? 0 : 1;
        },
        std::chrono::seconds(2), nullptr);
  });
  setenv("NOTIFY_SOCKET", sock.name().c_str(), 1);
  SlotfsMount m(image_, mnt_, {}, tmp_->Join("daemon.log"));
  ::testing::AssertionResult started = m.Start(std::chrono::seconds(15));
  unsetenv("NOTIFY_SOCKET");
  watcher.join();
  ASSERT_TRUE(started);
  EXPECT_EQ("READY=1", message) << "no READY=1 within 20 s. Daemon log:\n" << m.Log();
  EXPECT_TRUE(mounted_at_ready) << "READY=1 came before the mount existed";
  EXPECT_EQ(0, statfs_at_ready) << "the mount did not answer statfs at once when READY=1 came";
  ASSERT_NO_FATAL_FAILURE(ExpectServing());
  EXPECT_EQ(0, m.Unmount());
  EXPECT_EQ("STOPPING=1", sock.Receive(std::chrono::seconds(5)));
  EXPECT_EQ("", sock.Receive(std::chrono::milliseconds(200))) << "READY=1 sent more than once?";
}

TEST_F(MountOptionsTest, FailedMountSendsNoReady) {
  NotifySocket sock;
  ASSERT_TRUE(sock.bound()) << ErrnoText(errno);
  ProcResult r = RunProcess({SlotfsBin(), "mount", image_, mnt_, "-f", "--db", tmp_->Join("none.db")},
                            std::chrono::seconds(30), {"NOTIFY_SOCKET=" + sock.name()});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_EQ("", sock.Receive(std::chrono::milliseconds(500)));
}

// ------------------------------------------------ the configuration file

TEST_F(MountOptionsTest, ConfigFileSetsOptionsAndTheCommandLineWins) {
  const std::string cfg = tmp_->Join("slotfs.toml");
  ASSERT_TRUE(WriteFile(cfg, "[mount]\nlog_level = \"warn\"\nengine = \"posix\"\n"));
  {
    // From the file: warn hides the "mounted ..." info line.
    SlotfsMount m(image_, mnt_, {"--config", cfg}, tmp_->Join("file.log"));
    ASSERT_TRUE(m.Start());
    ASSERT_NO_FATAL_FAILURE(ExpectServing());
    EXPECT_EQ(0, m.Unmount());
    EXPECT_EQ(std::string::npos, m.Log().find("] mounted ")) << m.Log();
  }
  {
    // -o beats the file; the file's engine still applies.
    SlotfsMount m(image_, mnt_, {"--config", cfg, "-o", "log_level=info"}, tmp_->Join("o.log"));
    ASSERT_TRUE(m.Start());
    EXPECT_EQ(0, m.Unmount());
    EXPECT_NE(std::string::npos, m.Log().find("engine posix")) << m.Log();
  }
  {
    // --long options beat the file too; -o config= names the file.
    SlotfsMount m(image_, mnt_, {"-o", "config=" + cfg, "--log-level", "info", "--engine", "uring"},
                  tmp_->Join("long.log"));
    ASSERT_TRUE(m.Start());
    EXPECT_EQ(0, m.Unmount());
    EXPECT_NE(std::string::npos, m.Log().find("engine io_uring")) << m.Log();
  }
}

}  // namespace
}  // namespace slotfs::itest
