// tests/integration/mount_fixture.cc — see mount_fixture.h.

#include "tests/integration/mount_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

extern char** environ;

namespace slotfs::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::string Truncated(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  return "[... " + std::to_string(s.size() - max) + " bytes cut ...]\n" + s.substr(s.size() - max);
}

// Exit code of a wait status: the exit status, or 128 + signal.
int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Undoes the octal escapes of /proc/self/mountinfo ("\040" for a space).
std::string UnescapeMountField(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() + 0 && isdigit(s[i + 1]) && isdigit(s[i + 2]) &&
        isdigit(s[i + 3])) {
      out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct MountEntry {
  std::string mountpoint;
  std::string fstype;
};

std::vector<MountEntry> ReadMountInfo() {
  std::vector<MountEntry> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string x;
    while (fields >> x) f.push_back(x);
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || sep == f.end() || sep + 1 == f.end()) continue;
    out.push_back({UnescapeMountField(f[4]), *(sep + 1)});
  }
  return out;
}

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (realpath(p.c_str(), buf)) return buf;
  return p;  // e.g. a stale FUSE mount: ENOTCONN
}

std::string SizeArg(uint64_t bytes) {
  if (bytes && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "G";
  if (bytes && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "M";
  if (bytes && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "K";
  return std::to_string(bytes);
}

void SleepMs(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

}  // namespace

std::string ErrnoText(int err) {
  return std::string(strerror(err)) + " (errno " + std::to_string(err) + ")";
}

int UniqueFd::Reset() {
  int rc = 0;
  if (fd_ >= 0) rc = close(fd_);
  fd_ = -1;
  return rc;
}

const char* SlotfsBin() { return SLOTFS_BIN; }
const char* LmcachePatternBin() { return LMCACHE_PATTERN_BIN; }

std::string ProcResult::Describe() const {
  std::ostringstream os;
  os << "command: " << command << "\nexit code: " << exit_code
     << (timed_out ? " (killed after timeout)" : "") << "\n--- stdout ---\n"
     << Truncated(out, 8192) << "\n--- stderr ---\n"
     << Truncated(err, 8192) << "\n--------------";
  return os.str();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

ProcResult RunProcess(const std::vector<std::string>& argv, milliseconds timeout,
                      const std::vector<std::string>& env) {
  ProcResult r;
  for (const auto& a : argv) r.command += (r.command.empty() ? "" : " ") + ShellQuote(a);
  if (argv.empty()) return r;

  // Everything the child needs is built before fork().
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool overridden = std::any_of(env.begin(), env.end(), [&](const std::string& x) {
      return x.substr(0, x.find('=')) == name;
    });
    if (!overridden) env_store.push_back(entry);
  }
  env_store.insert(env_store.end(), env.begin(), env.end());
  std::vector<char*> cenv;
  for (auto& e : env_store) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.err = "pipe2: " + ErrnoText(errno);
    return r;
  }
  pid_t pid = fork();
  if (pid < 0) {
    r.err = "fork: " + ErrnoText(errno);
    return r;
  }
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execvpe(cargv[0], cargv.data(), cenv.data());
    dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  const auto deadline = Clock::now() + timeout;
  Clock::time_point drain_deadline = Clock::time_point::max();
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    poll(fds, 2, 50);
    for (int k = 0; k < 2; ++k) {
      bool& open_flag = k == 0 ? out_open : err_open;
      std::string& sink = k == 0 ? r.out : r.err;
      while (open_flag) {
        ssize_t n = read(fds[k].fd, buf, sizeof buf);
        if (n > 0) {
          sink.append(buf, size_t(n));
        } else if (n == 0) {
          open_flag = false;
        } else {
          if (errno != EAGAIN && errno != EINTR) open_flag = false;
          break;
        }
      }
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      // A daemon it started may hold the pipes open: read what is there, then stop.
      drain_deadline = Clock::now() + milliseconds(300);
    }
    if (exited && Clock::now() > drain_deadline) break;
    if (!exited && Clock::now() > deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.timed_out = true;
      r.exit_code = -1;
      close(out_pipe[0]);
      close(err_pipe[0]);
      return r;
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  if (!exited) {
    // Both pipes closed; wait for the exit itself, still bounded.
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (Clock::now() > deadline) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        r.timed_out = true;
        return r;
      }
      SleepMs(10);
    }
  }
  r.exit_code = DecodeStatus(status);
  return r;
}

ProcResult RunShell(const std::string& script, milliseconds timeout) {
  return RunProcess({"/bin/sh", "-c", script}, timeout);
}

ProcResult RunSlotfs(const std::vector<std::string>& args, milliseconds timeout) {
  std::vector<std::string> argv{SlotfsBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, timeout);
}

int RunInChild(const std::function<int()>& fn, milliseconds timeout,
               const std::function<void()>& on_timeout) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(fn());
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (Clock::now() > deadline) {
      if (on_timeout) on_timeout();
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    SleepMs(10);
  }
  return DecodeStatus(status);
}

std::string MountUnsupportedReason() {
  if (geteuid() != 0) return "not running as root (mount tests need root for FUSE mounts and loop devices)";
  if (access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is not usable: " + ErrnoText(errno);
  ProcResult r = RunProcess({"fusermount3", "-V"}, seconds(10));
  if (r.exit_code != 0) return "fusermount3 is missing or broken (install package fuse3):\n" + r.Describe();
  return "";
}

bool IsFuseMountPoint(const std::string& path) {
  std::string real = RealPath(path);
  for (const auto& m : ReadMountInfo()) {
    if ((m.mountpoint == real || m.mountpoint == path) && m.fstype.rfind("fuse", 0) == 0) return true;
  }
  return false;
}

bool IsMountPoint(const std::string& path) {
  std::string real = RealPath(path);
  for (const auto& m : ReadMountInfo()) {
    if (m.mountpoint == real || m.mountpoint == path) return true;
  }
  return false;
}

void DetachMountsUnder(const std::string& dir) {
  std::string real = RealPath(dir);
  for (int round = 0; round < 8; ++round) {
    std::vector<std::string> found;
    for (const auto& m : ReadMountInfo()) {
      for (const std::string& base : {real, dir}) {
        if (m.mountpoint == base || m.mountpoint.rfind(base + "/", 0) == 0) {
          found.push_back(m.mountpoint);
          break;
        }
      }
    }
    if (found.empty()) return;
    std::sort(found.begin(), found.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& m : found) {
      if (umount2(m.c_str(), MNT_DETACH) != 0) {
        std::cerr << "slotfs itest: umount2(" << m << ", MNT_DETACH): " << ErrnoText(errno) << "\n";
      }
    }
  }
}

::testing::AssertionResult WriteFile(const std::string& path, const std::string& data, int flags,
                                     mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | flags, mode);
  if (fd < 0) return ::testing::AssertionFailure() << "open(" << path << "): " << ErrnoText(errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      int err = errno;
      close(fd);
      return ::testing::AssertionFailure()
             << "write(" << path << ", " << data.size() - done << " bytes at " << done
             << "): " << ErrnoText(err);
    }
    if (n == 0) {
      close(fd);
      return ::testing::AssertionFailure() << "write(" << path << ") returned 0 at " << done;
    }
    done += size_t(n);
  }
  if (close(fd) != 0) {
    return ::testing::AssertionFailure() << "close(" << path << "): " << ErrnoText(errno);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ReadFile(const std::string& path, std::string* data) {
  data->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ::testing::AssertionFailure() << "open(" << path << "): " << ErrnoText(errno);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      int err = errno;
      close(fd);
      return ::testing::AssertionFailure()
             << "read(" << path << ") at offset " << data->size() << ": " << ErrnoText(err);
    }
    if (n == 0) break;
    data->append(buf, size_t(n));
  }
  close(fd);
  return ::testing::AssertionSuccess();
}

std::string PatternBytes(uint64_t seed, size_t size) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  for (size_t i = 0; i < size; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    memcpy(&out[i], &z, std::min<size_t>(8, size - i));
  }
  return out;
}

std::string FirstDifference(const std::string& want, const std::string& got) {
  size_t n = std::min(want.size(), got.size());
  size_t first = n;
  for (size_t i = 0; i < n; ++i) {
    if (want[i] != got[i]) {
      first = i;
      break;
    }
  }
  if (first == n && want.size() == got.size()) return "";
  std::ostringstream os;
  os << "want " << want.size() << " bytes, got " << got.size() << " bytes";
  if (first < n) {
    size_t differing = 0;
    for (size_t i = first; i < n; ++i) differing += want[i] != got[i];
    char b[96];
    snprintf(b, sizeof b, "; first difference at offset %zu: want 0x%02x, got 0x%02x",
             first, unsigned(uint8_t(want[first])), unsigned(uint8_t(got[first])));
    os << b << "; " << differing << " of the common " << n << " bytes differ";
    bool got_zero = std::all_of(got.begin() + first, got.begin() + std::min(n, first + 4096),
                                [](char c) { return c == 0; });
    if (got_zero) os << " (got zeros there)";
  } else {
    os << "; the common prefix is equal";
  }
  return os.str();
}

// ---------------------------------------------------------------- TempDir

TempDir::TempDir() {
  char tmpl[] = "/tmp/slotfs-itest.XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::cerr << "slotfs itest: mkdtemp: " << ErrnoText(errno) << "\n";
    abort();
  }
  chmod(tmpl, 0755);
  path_ = tmpl;
}

TempDir::~TempDir() {
  DetachMountsUnder(path_);
  const char* keep = getenv("SLOTFS_ITEST_KEEP");
  if (keep && *keep && std::string(keep) != "0") {
    std::cerr << "slotfs itest: keeping " << path_ << " (SLOTFS_ITEST_KEEP is set)\n";
    return;
  }
  nftw(
      path_.c_str(),
      [](const char* p, const struct stat*, int type, FTW*) -> int {
        if (type == FTW_DP) rmdir(p);
        else unlink(p);
        return 0;
      },
      64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

// ---------------------------------------------------------------- SlotfsMount

SlotfsMount::SlotfsMount(std::string device, std::string mountpoint,
                         std::vector<std::string> extra_args, std::string log_path)
    : device_(std::move(device)),
      mountpoint_(std::move(mountpoint)),
      extra_args_(std::move(extra_args)),
      log_path_(std::move(log_path)) {}

SlotfsMount::~SlotfsMount() {
  if (pid_ > 0) {
    int code = Unmount();
    if (code != 0) {
      std::cerr << "slotfs itest: daemon for " << mountpoint_ << " exited with " << code
                << " on cleanup\n";
    }
  }
  if (IsMountPoint(mountpoint_)) DetachMountsUnder(mountpoint_);
}

::testing::AssertionResult SlotfsMount::Start(milliseconds timeout) {
  if (pid_ > 0) return ::testing::AssertionFailure() << "daemon already running as pid " << pid_;
  if (IsMountPoint(mountpoint_)) {
    return ::testing::AssertionFailure() << mountpoint_ << " is already a mount point";
  }
  std::vector<std::string> argv{SlotfsBin(), "mount", device_, mountpoint_, "-f"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + ShellQuote(a);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return ::testing::AssertionFailure() << "open(" << log_path_ << "): " << ErrnoText(errno);
  std::string header = "===== " + command + "\n";
  if (write(log, header.data(), header.size()) < 0) {
    // The log is best effort.
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return ::testing::AssertionFailure() << "fork: " << ErrnoText(errno);
  }
  if (pid == 0) {
    // If the test dies, the daemon gets SIGTERM and unmounts cleanly.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(126);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    execv(cargv[0], cargv.data());
    dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  close(log);
  pid_ = pid;

  const auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      last_exit_code_ = DecodeStatus(status);
      if (IsMountPoint(mountpoint_)) DetachMountsUnder(mountpoint_);
      return ::testing::AssertionFailure()
             << "`" << command << "` exited with " << last_exit_code_
             << " before the mount was ready. Daemon log:\n" << Log();
    }
    if (IsFuseMountPoint(mountpoint_)) {
      struct statfs sfs;
      if (statfs(mountpoint_.c_str(), &sfs) == 0 && sfs.f_type == kFuseSuperMagic) {
        return ::testing::AssertionSuccess();
      }
    }
    SleepMs(20);
  }
  std::string log_text = Log();
  (void)Kill9();
  return ::testing::AssertionFailure()
         << "`" << command << "`: " << mountpoint_ << " was not a FUSE mount after "
         << std::chrono::duration_cast<milliseconds>(timeout).count()
         << " ms; daemon killed. Daemon log:\n" << log_text;
}

bool SlotfsMount::Alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    last_exit_code_ = DecodeStatus(status);
    return false;
  }
  return true;
}

int SlotfsMount::WaitExit(milliseconds timeout) {
  const auto start = Clock::now();
  while (pid_ > 0) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      last_exit_code_ = DecodeStatus(status);
      return last_exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return -1;
    }
    if (Clock::now() - start > timeout) return -1;
    SleepMs(10);
  }
  return last_exit_code_;
}

int SlotfsMount::UnmountWith(const std::vector<std::string>& argv, milliseconds timeout) {
  if (pid_ <= 0) {
    if (IsMountPoint(mountpoint_)) DetachMountsUnder(mountpoint_);
    return last_exit_code_;
  }
  bool unmounted = !IsMountPoint(mountpoint_);
  const auto start = Clock::now();
  ProcResult r;
  while (!unmounted) {
    r = RunProcess(argv, seconds(30));
    if (r.exit_code == 0) {
      unmounted = true;
      break;
    }
    bool busy = r.err.find("busy") != std::string::npos || r.err.find("Busy") != std::string::npos;
    if (!busy || Clock::now() - start > seconds(10)) break;
    SleepMs(200);
  }
  if (!unmounted) {
    ADD_FAILURE() << "unmount of " << mountpoint_ << " failed:\n" << r.Describe();
    (void)Kill9();
    return -1;
  }
  int code = WaitExit(timeout);
  if (pid_ > 0) {
    ADD_FAILURE() << "daemon pid " << pid_ << " did not exit within "
                  << std::chrono::duration_cast<milliseconds>(timeout).count()
                  << " ms of the unmount; killing it. Daemon log:\n" << Log();
    (void)Kill9();
    return -1;
  }
  return code;
}

int SlotfsMount::Unmount(milliseconds timeout) {
  return UnmountWith({"fusermount3", "-u", mountpoint_}, timeout);
}

int SlotfsMount::UnmountWithUmount(milliseconds timeout) {
  return UnmountWith({"umount", mountpoint_}, timeout);
}

::testing::AssertionResult SlotfsMount::Kill9() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    const auto start = Clock::now();
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (Clock::now() - start > seconds(20)) {
        return ::testing::AssertionFailure() << "daemon pid " << pid_ << " survived SIGKILL for 20 s";
      }
      SleepMs(10);
    }
    last_exit_code_ = DecodeStatus(status);
    pid_ = -1;
  }
  if (IsMountPoint(mountpoint_)) {
    ProcResult r = RunProcess({"fusermount3", "-u", "-z", mountpoint_}, seconds(30));
    if (IsMountPoint(mountpoint_)) {
      r = RunProcess({"umount", "-l", mountpoint_}, seconds(30));
    }
    if (IsMountPoint(mountpoint_)) {
      return ::testing::AssertionFailure() << "stale mount " << mountpoint_
                                           << " could not be cleared:\n" << r.Describe();
    }
  }
  return ::testing::AssertionSuccess();
}

std::string SlotfsMount::Log(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return Truncated(ss.str(), max_bytes);
}

// ---------------------------------------------------------------- MountTest

ProcResult MountTest::Format(const std::string& image, uint64_t size,
                             const std::vector<std::string>& args) {
  // Sparse: the suite formats hundreds of images; writing their extents
  // (the default) is tested on its own (CliTest).
  std::vector<std::string> a{"format", image, "--size", SizeArg(size), "--sparse"};
  a.insert(a.end(), args.begin(), args.end());
  return RunSlotfs(a, seconds(120));
}

::testing::AssertionResult MountTest::StatVfs(struct statvfs* out) const {
  if (statvfs(mnt_.c_str(), out) != 0) {
    return ::testing::AssertionFailure() << "statvfs(" << mnt_ << "): " << ErrnoText(errno);
  }
  return ::testing::AssertionSuccess();
}

void MountTest::SetUp() {
  std::string why = MountUnsupportedReason();
  if (!why.empty()) {
    std::cerr << "\n**********************************************************************\n"
              << "** SKIPPING slotfs mount test: " << why << "\n"
              << "** This test did NOT run; it is not a pass.\n"
              << "**********************************************************************\n";
    GTEST_SKIP() << "slotfs mount tests cannot run here: " << why;
  }
  ASSERT_EQ(0, access(SlotfsBin(), X_OK))
      << "slotfs binary " << SlotfsBin() << " is missing: " << ErrnoText(errno);

  Config cfg = Options();
  tmp_ = std::make_unique<TempDir>();
  image_ = tmp_->Join("slotfs.img");
  db_ = image_ + ".db";
  mnt_ = tmp_->Join("mnt");
  ASSERT_EQ(0, mkdir(mnt_.c_str(), 0755)) << ErrnoText(errno);

  std::vector<std::string> fargs;
  if (!cfg.slot_size.empty()) fargs = {"--slot-size", cfg.slot_size};
  fargs.insert(fargs.end(), cfg.format_args.begin(), cfg.format_args.end());
  format_result_ = Format(image_, cfg.image_size, fargs);
  ASSERT_EQ(0, format_result_.exit_code) << format_result_.Describe();

  if (cfg.mount) {
    mount_ = std::make_unique<SlotfsMount>(image_, mnt_, cfg.mount_args, tmp_->Join("daemon.log"));
    ASSERT_TRUE(mount_->Start());
  }
}

void MountTest::TearDown() {
  if (mount_) {
    if (mount_->running() && !mount_->Alive()) {
      ADD_FAILURE() << "the slotfs daemon died during the test (exit code "
                    << mount_->last_exit_code() << ")";
    }
    if (mount_->running()) {
      int code = mount_->Unmount();
      EXPECT_EQ(0, code) << "the slotfs daemon did not exit cleanly after fusermount3 -u";
    }
    if (HasFailure()) {
      std::cerr << "----- slotfs daemon log (" << mount_->mountpoint() << ") -----\n"
                << mount_->Log() << "\n----- end of daemon log -----\n";
    }
    mount_.reset();
  }
  tmp_.reset();
}

}  // namespace slotfs::itest
