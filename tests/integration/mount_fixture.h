// tests/integration/mount_fixture.h — helpers for tests that drive a real
// slotfs mount through the `slotfs` binary and plain syscalls.
//
// Nothing here links slotfs code: every test talks to the filesystem the way
// a user does (the CLI, the kernel, /bin/sh tools).
//
// Thread safety: none of these helpers are thread-safe; use them from the
// test's main thread. Children are forked from the calling thread.

#ifndef SLOTFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_
#define SLOTFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_

#include <sys/statvfs.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace slotfs::itest {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr long kFuseSuperMagic = 0x65735546;
inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// "No such file or directory (errno 2)".
std::string ErrnoText(int err);

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.Release();
    }
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now; returns close()'s result (0 if nothing was open).
  int Reset();

 private:
  int fd_ = -1;
};

// Expects `expr` to fail with -1 and errno `err`.
#define EXPECT_ERRNO(err, expr)                                                     \
  do {                                                                              \
    errno = 0;                                                                      \
    long rc_ = static_cast<long>(expr);                                             \
    int errno_ = errno;                                                             \
    EXPECT_EQ(-1, rc_) << #expr << " succeeded, expected " << ::slotfs::itest::ErrnoText(err); \
    if (rc_ == -1) {                                                                \
      EXPECT_EQ(err, errno_) << #expr << " failed with " << ::slotfs::itest::ErrnoText(errno_) \
                             << ", expected " << ::slotfs::itest::ErrnoText(err);   \
    }                                                                               \
  } while (0)
// Expects `expr` to return >= 0; otherwise prints errno.
#define EXPECT_SYS_OK(expr)                                                   \
  do {                                                                        \
    errno = 0;                                                                \
    long rc_ = static_cast<long>(expr);                                       \
    EXPECT_GE(rc_, 0) << #expr << ": " << ::slotfs::itest::ErrnoText(errno);  \
  } while (0)
#define ASSERT_SYS_OK(expr)                                                   \
  do {                                                                        \
    errno = 0;                                                                \
    long rc_ = static_cast<long>(expr);                                       \
    ASSERT_GE(rc_, 0) << #expr << ": " << ::slotfs::itest::ErrnoText(errno);  \
  } while (0)

// Paths baked in at build time (see tests/integration/CMakeLists.txt).
const char* SlotfsBin();
const char* LmcachePatternBin();

// Outcome of a finished child process.
struct ProcResult {
  // Exit status if it exited; 128 + signal if a signal killed it; -1 if it
  // could not be started or was killed for running past its timeout.
  int exit_code = -1;
  bool timed_out = false;
  std::string out;  // captured stdout
  std::string err;  // captured stderr
  // One printable paragraph: command, exit code, stdout and stderr.
  std::string Describe() const;
  std::string command;
};

// Runs argv[0] (searched in PATH) with stdin from /dev/null, capturing stdout
// and stderr. On timeout the child's process group gets SIGKILL.
// `env` entries ("NAME=value") are added to the environment of the child.
ProcResult RunProcess(const std::vector<std::string>& argv,
                      milliseconds timeout = seconds(120),
                      const std::vector<std::string>& env = {});
// Runs `/bin/sh -c script`.
ProcResult RunShell(const std::string& script, milliseconds timeout = seconds(120));
// Runs the slotfs binary with `args`.
ProcResult RunSlotfs(const std::vector<std::string>& args,
                     milliseconds timeout = seconds(60));
// Runs fn() in a forked child (its return value is the child's exit code)
// and waits up to `timeout`. Use it for I/O that may hang on a broken
// daemon. On timeout, calls on_timeout() (which should unblock the child,
// e.g. by killing the daemon), then SIGKILLs and reaps the child and
// returns -1.
int RunInChild(const std::function<int()>& fn, milliseconds timeout,
               const std::function<void()>& on_timeout);
// Quotes s for /bin/sh.
std::string ShellQuote(const std::string& s);

// Why mount tests cannot run on this machine (not root, no /dev/fuse,
// no fusermount3), or "" if they can.
std::string MountUnsupportedReason();

// True if `path` is a mount point whose type is fuse* (from
// /proc/self/mountinfo; never blocks on a hung daemon).
bool IsFuseMountPoint(const std::string& path);
// True if anything is mounted at `path`.
bool IsMountPoint(const std::string& path);
// Detaches every mount at or below `dir` (MNT_DETACH), deepest first.
void DetachMountsUnder(const std::string& dir);

// Whole-file helpers; a failure is reported with the path and errno.
::testing::AssertionResult WriteFile(const std::string& path, const std::string& data,
                                     int flags = 0, mode_t mode = 0644);
::testing::AssertionResult ReadFile(const std::string& path, std::string* data);
// Deterministic pseudo-random bytes: the same (seed, size) gives the same data.
std::string PatternBytes(uint64_t seed, size_t size);
// Describes the first difference between two byte strings ("" if equal).
std::string FirstDifference(const std::string& want, const std::string& got);

// Checks two byte strings for equality, reporting only the first differing
// offset (never dumps megabytes into the log).
#define EXPECT_SAME_BYTES(want, got) \
  EXPECT_EQ("", ::slotfs::itest::FirstDifference((want), (got)))
#define ASSERT_SAME_BYTES(want, got) \
  ASSERT_EQ("", ::slotfs::itest::FirstDifference((want), (got)))

// A fresh directory under /tmp, removed with everything in it on
// destruction (after detaching anything still mounted below it). Set
// SLOTFS_ITEST_KEEP=1 to keep it for a post-mortem.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// One `slotfs mount DEVICE MOUNTPOINT -f ...` daemon run as our child, with
// stdout and stderr appended to `log_path`. The daemon gets SIGTERM if the
// test process dies.
class SlotfsMount {
 public:
  SlotfsMount(std::string device, std::string mountpoint, std::vector<std::string> extra_args,
              std::string log_path);
  // Unmounts if still mounted; kills and detaches if that fails.
  ~SlotfsMount();
  SlotfsMount(const SlotfsMount&) = delete;
  SlotfsMount& operator=(const SlotfsMount&) = delete;

  // Starts the daemon and waits until the mount point is a FUSE mount
  // (statfs f_type == FUSE_SUPER_MAGIC). Fails, with the daemon log, if the
  // daemon exits first or the timeout passes.
  ::testing::AssertionResult Start(milliseconds timeout = seconds(10));
  // fusermount3 -u (retried while busy), then waits for the daemon to exit.
  // Returns its exit code (128 + signal if killed), or -1 if the unmount
  // failed or the daemon did not exit in time (it is then killed).
  int Unmount(milliseconds timeout = seconds(60));
  // Unmounts with `umount MOUNTPOINT` instead of fusermount3.
  int UnmountWithUmount(milliseconds timeout = seconds(60));
  // SIGKILL to the daemon, reaps it, then clears the stale mount with
  // fusermount3 -u -z (or umount -l).
  ::testing::AssertionResult Kill9();
  // Start() again with the same arguments (after Unmount or Kill9).
  ::testing::AssertionResult Remount(milliseconds timeout = seconds(10)) { return Start(timeout); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // True if the daemon is still our live child (polls waitpid).
  bool Alive();
  // The daemon log so far (last `max_bytes`).
  std::string Log(size_t max_bytes = 64 * 1024) const;
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& device() const { return device_; }
  // The most recent exit code of the daemon, -1 if none yet.
  int last_exit_code() const { return last_exit_code_; }

 private:
  int WaitExit(milliseconds timeout);
  int UnmountWith(const std::vector<std::string>& argv, milliseconds timeout);

  std::string device_;
  std::string mountpoint_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  pid_t pid_ = -1;
  int last_exit_code_ = -1;
};

// A gtest fixture: a temp dir with an image formatted by `slotfs format` and
// mounted at TMP/mnt by a foreground daemon. Tests that need another
// geometry or mount options override Options(). If mounting is impossible on
// this machine the test is skipped with a loud reason; any other failure to
// format or mount fails the test.
class MountTest : public ::testing::Test {
 protected:
  struct Config {
    uint64_t image_size = 1 * kGiB;
    std::string slot_size;                 // "" = the format default
    std::vector<std::string> format_args;  // extra `slotfs format` args
    std::vector<std::string> mount_args;   // extra `slotfs mount` args
    bool mount = true;                     // false: format only
  };
  virtual Config Options() const { return Config(); }

  void SetUp() override;
  void TearDown() override;

  // Absolute path of `rel` inside the mount.
  std::string P(const std::string& rel) const { return mnt_ + "/" + rel; }
  // Formats `image` (created sparse with `size`) with extra args.
  static ProcResult Format(const std::string& image, uint64_t size,
                           const std::vector<std::string>& args = {});
  // statvfs of the mount.
  ::testing::AssertionResult StatVfs(struct statvfs* out) const;

  std::unique_ptr<TempDir> tmp_;
  std::string image_;  // TMP/slotfs.img
  std::string db_;     // TMP/slotfs.img.db (the format default)
  std::string mnt_;    // TMP/mnt
  std::unique_ptr<SlotfsMount> mount_;
  ProcResult format_result_;
};

}  // namespace slotfs::itest

#endif  // SLOTFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_
