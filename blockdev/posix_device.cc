// The POSIX engine: pread/pwrite in the calling thread. The fallback when
// io_uring is unavailable, and the reference the io_uring engine is tested
// against.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "blockdev/device.h"
#include "blockdev/engines.h"

namespace slotfs::blockdev {
namespace {

// Largest single pread/pwrite; the kernel caps a transfer near 2 GiB anyway.
constexpr size_t kMaxChunk = size_t{1} << 30;

class PosixDevice final : public Device {
 public:
  PosixDevice(UniqueFd fd, DeviceFile file)
      : Device(std::move(file.path), file.size, file.is_block, file.read_only),
        fd_(std::move(fd)) {}

  const char* engine_name() const override { return "posix"; }

 protected:
  // Runs the ops one after another; every op runs even after a failure.
  Status RunImpl(std::span<const IoOp> ops) override {
    Status first;
    for (const IoOp& op : ops) {
      Status st = Transfer(op);
      if (!st.ok() && first.ok()) first = std::move(st);
    }
    return first;
  }

  Status FlushImpl() override { return SyncFd(fd_.get(), path()); }

 private:
  Status Transfer(const IoOp& op) {
    const bool is_read = op.kind == IoOp::Kind::kRead;
    auto* buf = static_cast<uint8_t*>(op.buf);
    uint64_t offset = op.offset.value;
    size_t remaining = op.len;
    while (remaining > 0) {
      const size_t chunk = std::min(remaining, kMaxChunk);
      const auto off = static_cast<off_t>(offset);
      const ssize_t n = is_read ? ::pread(fd_.get(), buf, chunk, off)
                                : ::pwrite(fd_.get(), buf, chunk, off);
      if (n < 0 && errno == EINTR) continue;
      const std::string what = path() + ": " + (is_read ? "read" : "write") +
                               " at offset " + std::to_string(offset) +
                               " (op offset " +
                               std::to_string(op.offset.value) + ", length " +
                               std::to_string(op.len) + ")";
      if (n < 0) return Status::FromErrno(errno, what);
      if (n == 0) return Status::Error(EIO, what + " made no progress");
      buf += n;
      offset += static_cast<uint64_t>(n);
      remaining -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  UniqueFd fd_;
};

}  // namespace

std::unique_ptr<Device> NewPosixDevice(UniqueFd fd, DeviceFile file) {
  return std::make_unique<PosixDevice>(std::move(fd), std::move(file));
}

Status SyncFd(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "fdatasync " + path);
  }
  return Status::Ok();
}

}  // namespace slotfs::blockdev
