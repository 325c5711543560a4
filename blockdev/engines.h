// Internal to blockdev: the engine factories OpenDevice chooses between, and
// the owning fd they share. Not part of the module's public interface.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "blockdev/device.h"
#include "common/status.h"

namespace slotfs::blockdev {

// Owns a file descriptor; closes it (dropping any flock on it) when
// destroyed. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// io_uring's limit on submission queue entries.
inline constexpr unsigned kMaxQueueDepth = 32768;

// Where and what an opened device is; passed to the engine factories.
struct DeviceFile {
  std::string path;
  // Usable size, a multiple of kIoAlign.
  uint64_t size = 0;
  bool is_block = false;
  bool read_only = false;
};

// An io_uring engine on `fd` with `queue_depth` submission entries.
// On success the device owns `fd` (it becomes empty); on failure `fd` is
// untouched and the error says why io_uring is unusable (ENOSYS, EPERM, ...).
Result<std::unique_ptr<Device>> NewUringDevice(UniqueFd& fd, DeviceFile file,
                                               unsigned queue_depth);

// A pread/pwrite engine on `fd`; takes ownership of it. Cannot fail.
std::unique_ptr<Device> NewPosixDevice(UniqueFd fd, DeviceFile file);

// fdatasync(fd), retried on EINTR; errors name `path`.
Status SyncFd(int fd, const std::string& path);

}  // namespace slotfs::blockdev
