// meta::Claim: exclusive use of a filesystem by one mount, check or format,
// whatever path, clone or copy the caller came through.
//
// A claim is two locks, both flock(LOCK_EX|LOCK_NB), which the kernel drops
// when the holder exits or is killed — a crashed mount never blocks the next:
//  - the database lock, on the database file itself (opened O_NOFOLLOW), so
//    every path to that file (hard link, bind mount, other spelling) meets
//    the same lock. SQLite locks with fcntl(); flock is a separate lock on
//    Linux, so the two never interfere. The lock's fd must stay open until
//    SQLite has closed the database: closing any fd of a file drops the
//    process's fcntl locks on it (Claim is destroyed after the Store).
//  - the identity lock, on <lock dir>/<UUID>.lock, so a cloned device (same
//    UUID, other inode, other database copy) meets it too. The file holds
//    one line naming the holder; it is removed on release.
// flock belongs to the open file description: a process forked after the
// claim shares it. Daemons claim after forking, in the process that serves.
//
// Thread safety: a Claim is a value owned by one thread; the functions are
// reentrant.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "blockdev/format.h"
#include "common/status.h"

namespace slotfs::meta {

// What a claimant is doing; written into the identity lock and shown to
// whoever is refused.
struct ClaimHolder {
  std::string command;     // "mount", "check --repair", "format", ...
  std::string device;      // the device path the claimant opened
  std::string mountpoint;  // "" unless mounting
};

struct ClaimOptions {
  // How long to keep retrying a busy lock: a holder killed a moment ago
  // keeps its locks until the kernel has torn the process down.
  std::chrono::milliseconds wait{0};
  // Directory of the identity locks; "" = DefaultLockDir().
  std::string lock_dir;
};

// The identity-lock directory: /run/slotfs (created 01777, like /tmp, so
// every user's claims meet there); if that cannot be created,
// $XDG_RUNTIME_DIR/slotfs, then /tmp/slotfs-locks.
std::string DefaultLockDir();

// One flock held on one file; released (and, for an identity lock, the file
// removed) on destruction. Move-only.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& o) noexcept;
  FileLock& operator=(FileLock&& o) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  bool held() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Releases now (the kernel would at exit).
  void Release();

 private:
  friend Result<FileLock> LockDatabase(const std::string&, const ClaimOptions&);
  friend Result<FileLock> LockIdentity(const blockdev::Uuid&, const ClaimHolder&,
                                       const ClaimOptions&);
  int fd_ = -1;
  std::string path_;
  bool remove_on_release_ = false;
};

// Locks the existing database file at `path`. ELOOP if `path` is a symbolic
// link (never followed), ENOENT if missing, EINVAL if not a regular file,
// EBUSY naming the holder (pid and command line) if another process holds
// it past options.wait.
Result<FileLock> LockDatabase(const std::string& path, const ClaimOptions& options);

// Locks the filesystem identity `uuid` and records `holder` in the lock
// file. EBUSY naming the holder if another process holds it past
// options.wait; the errno of the lock directory or file otherwise.
Result<FileLock> LockIdentity(const blockdev::Uuid& uuid, const ClaimHolder& holder,
                              const ClaimOptions& options);

// Both locks of a filesystem, taken database first (every claimant takes
// them in this order, so of two racing claimants one gets both).
struct Claim {
  FileLock database;
  FileLock identity;
};
Result<Claim> ClaimFilesystem(const std::string& db_path, const blockdev::Uuid& uuid,
                              const ClaimHolder& holder, const ClaimOptions& options);

// Narrows the permissions of the database at `path` and its -wal/-shm files
// so that no group/other bit is set that `device_mode` lacks (the owner's
// bits are kept). Symbolic links are left alone. Returns how many files
// were changed; the errno of a failed chmod.
Result<int> RestrictDatabaseMode(const std::string& path, mode_t device_mode);

}  // namespace slotfs::meta
