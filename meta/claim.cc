// meta::Claim: the database and identity locks (see claim.h).
#include "meta/claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace slotfs::meta {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRetryEvery = std::chrono::milliseconds(20);
// A holder line longer than this is cut (the file is ours to read, not
// trusted to be small).
constexpr size_t kMaxHolderText = 1024;

// Retries while `busy()` holds and the deadline has not passed.
bool KeepWaiting(Clock::time_point deadline) {
  if (Clock::now() >= deadline) return false;
  std::this_thread::sleep_for(kRetryEvery);
  return true;
}

// "slotfs mount --db x a.img /mnt" from /proc/PID/cmdline; "" if gone.
std::string CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text;
  char c;
  while (text.size() < kMaxHolderText && in.get(c)) text += c == '\0' ? ' ' : c;
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The pid holding a flock on (dev, ino), from /proc/locks; 0 if none found.
pid_t FlockHolder(dev_t dev, ino_t ino) {
  std::ifstream in("/proc/locks");
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%llu", major(dev), minor(dev),
                static_cast<unsigned long long>(ino));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, kind, advisory, mode, where;
    long pid = 0;
    if (!(f >> id >> kind) || kind == "->") continue;  // "->": a waiter
    if (kind != "FLOCK" || !(f >> advisory >> mode >> pid >> where)) continue;
    if (where == want && pid > 0) return static_cast<pid_t>(pid);
  }
  return 0;
}

std::string DescribePid(pid_t pid) {
  if (pid <= 0) return "another process";
  std::string cmd = CommandLineOf(pid);
  return "pid " + std::to_string(pid) + (cmd.empty() ? "" : " (" + cmd + ")");
}

std::string HolderLine(const ClaimHolder& h) {
  std::string line = "pid " + std::to_string(::getpid()) + ": slotfs " + h.command;
  if (!h.device.empty()) line += " " + h.device;
  if (!h.mountpoint.empty()) line += " on " + h.mountpoint;
  return line + "\n";
}

// The first line of the identity lock file at `fd`; "" if empty.
std::string ReadHolderLine(int fd) {
  char buf[kMaxHolderText];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return "";
  std::string text(buf, static_cast<size_t>(n));
  text = text.substr(0, text.find('\n'));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return text;
}

Status EnsureDir(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) {
    // mkdir's mode is cut by the umask; the sticky world-writable bits are
    // the point of a shared lock directory.
    if (::chmod(dir.c_str(), mode) != 0) return Status::FromErrno(errno, "chmod " + dir);
    return Status::Ok();
  }
  if (errno != EEXIST) return Status::FromErrno(errno, "cannot create " + dir);
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, dir);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return Status::FromErrno(errno, dir);
  return Status::Ok();
}

}  // namespace

std::string DefaultLockDir() {
  const std::string run = "/run/slotfs";
  if (EnsureDir(run, 01777).ok()) return run;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg == '/') {
    const std::string dir = std::string(xdg) + "/slotfs";
    if (EnsureDir(dir, 0700).ok()) return dir;
  }
  return "/tmp/slotfs-locks";
}

FileLock::~FileLock() { Release(); }

FileLock::FileLock(FileLock&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      remove_on_release_(o.remove_on_release_) {}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    remove_on_release_ = o.remove_on_release_;
  }
  return *this;
}

void FileLock::Release() {
  if (fd_ < 0) return;
  if (remove_on_release_) {
    // Removed while still locked: a claimant that opened this inode before
    // the unlink sees, after locking, that the path no longer leads to it
    // and starts over (LockIdentity).
    struct stat mine, named;
    if (::fstat(fd_, &mine) == 0 && ::lstat(path_.c_str(), &named) == 0 &&
        mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
      ::unlink(path_.c_str());
    }
  }
  ::close(fd_);
  fd_ = -1;
}

Result<FileLock> LockDatabase(const std::string& path, const ClaimOptions& options) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "database " + path);
  if (S_ISLNK(st.st_mode)) {
    return Status::Error(ELOOP, "database " + path +
                                    " is a symbolic link; slotfs does not follow links "
                                    "at the database path (give the real path)");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(EINVAL, "database " + path + " is not a regular file");
  }
  FileLock lock;
  lock.fd_ = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (lock.fd_ < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return Status::Error(ELOOP, "database " + path + " is a symbolic link; slotfs does not "
                                                       "follow links at the database path");
    }
    return Status::FromErrno(err, "database " + path);
  }
  lock.path_ = path;
  if (::fstat(lock.fd_, &st) != 0) return Status::FromErrno(errno, "database " + path);
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(EINVAL, "database " + path + " is not a regular file");
  }
  const auto deadline = Clock::now() + options.wait;
  int rc;
  while ((rc = ::flock(lock.fd_, LOCK_EX | LOCK_NB)) != 0 && errno == EWOULDBLOCK &&
         KeepWaiting(deadline)) {
  }
  if (rc != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) return Status::FromErrno(err, "flock " + path);
    return Status::Error(EBUSY, "database " + path + " is in use by " +
                                    DescribePid(FlockHolder(st.st_dev, st.st_ino)));
  }
  return lock;
}

Result<FileLock> LockIdentity(const blockdev::Uuid& uuid, const ClaimHolder& holder,
                              const ClaimOptions& options) {
  const std::string dir = options.lock_dir.empty() ? DefaultLockDir() : options.lock_dir;
  if (options.lock_dir.empty() && dir.rfind("/tmp/", 0) == 0) {
    SLOTFS_RETURN_IF_ERROR(EnsureDir(dir, 01777));
  }
  const std::string id = blockdev::UuidToString(uuid);
  const std::string path = dir + "/" + id + ".lock";
  const auto deadline = Clock::now() + options.wait;
  for (;;) {
    FileLock lock;
    lock.path_ = path;
    bool writable = true;
    // Open before create: in a sticky world-writable directory
    // (fs.protected_regular) O_CREAT on another user's file is refused even
    // to root. Another user's file is locked read-only.
    lock.fd_ = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (lock.fd_ < 0 && errno == ENOENT) {
      lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (lock.fd_ < 0 && errno == EEXIST) continue;  // lost a race to create it
    }
    if (lock.fd_ < 0 && errno == EACCES) {
      writable = false;
      lock.fd_ = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    }
    if (lock.fd_ < 0) {
      if (errno == ENOENT) continue;  // removed by a releasing holder
      return Status::FromErrno(errno, "identity lock " + path);
    }
    struct stat st;
    if (::fstat(lock.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::Error(EINVAL, "identity lock " + path + " is not a regular file");
    }
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err != EWOULDBLOCK) return Status::FromErrno(err, "flock " + path);
      if (KeepWaiting(deadline)) continue;
      std::string who = ReadHolderLine(lock.fd_);
      if (who.empty()) who = DescribePid(FlockHolder(st.st_dev, st.st_ino));
      return Status::Error(EBUSY, "filesystem " + id + " is in use by " + who +
                                      " (a copy of a device shares its UUID, and only one "
                                      "copy may be in use at a time)");
    }
    // Locked; but if the holder we waited for removed the file meanwhile, we
    // hold an orphan inode: start over on whatever the path names now.
    struct stat named;
    if (::lstat(path.c_str(), &named) != 0 || named.st_dev != st.st_dev ||
        named.st_ino != st.st_ino) {
      continue;
    }
    lock.remove_on_release_ = writable;
    if (writable) {
      const std::string line = HolderLine(holder);
      if (::ftruncate(lock.fd_, 0) != 0 ||
          ::pwrite(lock.fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
        // The lock holds without the note; a refused claimant then names
        // the holder from /proc/locks.
      }
    }
    return lock;
  }
}

Result<Claim> ClaimFilesystem(const std::string& db_path, const blockdev::Uuid& uuid,
                              const ClaimHolder& holder, const ClaimOptions& options) {
  Claim claim;
  SLOTFS_ASSIGN_OR_RETURN(claim.database, LockDatabase(db_path, options));
  SLOTFS_ASSIGN_OR_RETURN(claim.identity, LockIdentity(uuid, holder, options));
  return claim;
}

Result<int> RestrictDatabaseMode(const std::string& path, mode_t device_mode) {
  int changed = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string p = path + suffix;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const mode_t keep = (st.st_mode & 07700) | (st.st_mode & device_mode & 0077);
    if ((st.st_mode & 07777) == keep) continue;
    if (::chmod(p.c_str(), keep) != 0) return Status::FromErrno(errno, "chmod " + p);
    ++changed;
  }
  return changed;
}

}  // namespace slotfs::meta
