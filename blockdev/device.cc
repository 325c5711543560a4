// Device: argument checking and counting around the engines; OpenDevice,
// which opens a block device or image file and picks an engine.
#include "blockdev/device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "blockdev/engines.h"
#include "common/log.h"

namespace slotfs::blockdev {
namespace {

const char* KindName(IoOp::Kind kind) {
  return kind == IoOp::Kind::kRead ? "read" : "write";
}

// Nullopt-like: an empty string when `op` is acceptable on a device of
// `size` bytes, else why not.
std::string OpFault(const IoOp& op, uint64_t size) {
  const uint64_t off = op.offset.value;
  if (op.len == 0) return "zero length";
  if (op.buf == nullptr) return "null buffer";
  if (off % kIoAlign != 0) {
    return "offset not a multiple of " + std::to_string(kIoAlign);
  }
  if (op.len % kIoAlign != 0) {
    return "length not a multiple of " + std::to_string(kIoAlign);
  }
  if (reinterpret_cast<uintptr_t>(op.buf) % kIoAlign != 0) {
    return "buffer address not " + std::to_string(kIoAlign) +
           "-byte aligned (use AlignedBuffer)";
  }
  if (op.len > size || off > size - op.len) {
    return "beyond the end of the device (" + std::to_string(size) + " bytes)";
  }
  return {};
}

LogRateLimiter& ErrorLogLimiter() {
  static LogRateLimiter* limiter = new LogRateLimiter(10);
  return *limiter;
}

void LogFailure(const Status& st) {
  if (!ErrorLogLimiter().Allow()) return;
  const uint64_t dropped = ErrorLogLimiter().TakeSuppressed();
  if (dropped > 0) {
    ModuleLogger("blockdev")
        ->error("{} ({} similar errors suppressed)", st.ToString(), dropped);
  } else {
    ModuleLogger("blockdev")->error("{}", st.ToString());
  }
}

}  // namespace

Status Device::Run(std::span<const IoOp> ops) {
  for (size_t i = 0; i < ops.size(); ++i) {
    const IoOp& op = ops[i];
    std::string fault = OpFault(op, size_);
    int code = EINVAL;
    if (fault.empty() && read_only_ && op.kind == IoOp::Kind::kWrite) {
      fault = "device is open read-only";
      code = EROFS;
    }
    if (!fault.empty()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return Status::Error(
          code, path_ + ": " + KindName(op.kind) + " op " + std::to_string(i) +
                    " of " + std::to_string(ops.size()) + " (offset " +
                    std::to_string(op.offset.value) + ", length " +
                    std::to_string(op.len) + ") rejected: " + fault);
    }
  }
  if (ops.empty()) return Status::Ok();
  uint64_t reads = 0, writes = 0, bytes_read = 0, bytes_written = 0;
  for (const IoOp& op : ops) {
    if (op.kind == IoOp::Kind::kRead) {
      ++reads;
      bytes_read += op.len;
    } else {
      ++writes;
      bytes_written += op.len;
    }
  }
  counters_.reads.fetch_add(reads, std::memory_order_relaxed);
  counters_.writes.fetch_add(writes, std::memory_order_relaxed);
  counters_.bytes_read.fetch_add(bytes_read, std::memory_order_relaxed);
  counters_.bytes_written.fetch_add(bytes_written, std::memory_order_relaxed);
  Status st = RunImpl(ops);
  if (!st.ok()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    LogFailure(st);
  }
  return st;
}

Status Device::Read(DevOffset offset, void* buf, size_t len) {
  const IoOp op{IoOp::Kind::kRead, offset, buf, len};
  return Run({&op, 1});
}

Status Device::Write(DevOffset offset, const void* buf, size_t len) {
  // The engine only reads from `buf` for a write.
  const IoOp op{IoOp::Kind::kWrite, offset, const_cast<void*>(buf), len};
  return Run({&op, 1});
}

Status Device::Flush() {
  counters_.flushes.fetch_add(1, std::memory_order_relaxed);
  Status st = FlushImpl();
  if (!st.ok()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    LogFailure(st);
  }
  return st;
}

const char* EngineName(Engine e) {
  switch (e) {
    case Engine::kAuto:
      return "auto";
    case Engine::kUring:
      return "uring";
    case Engine::kPosix:
      return "posix";
  }
  return "unknown";
}

Result<Engine> ParseEngine(const std::string& text) {
  if (text == "auto") return Engine::kAuto;
  if (text == "uring") return Engine::kUring;
  if (text == "posix") return Engine::kPosix;
  return Status::Error(EINVAL, "unknown I/O engine '" + text +
                                   "' (expected auto, uring or posix)");
}

Result<std::unique_ptr<Device>> OpenDevice(const std::string& path,
                                           const DeviceOptions& options) {
  auto log = ModuleLogger("blockdev");
  if (options.engine != Engine::kPosix &&
      (options.queue_depth == 0 || options.queue_depth > kMaxQueueDepth)) {
    return Status::Error(
        EINVAL, "cannot open device " + path + ": queue depth " +
                    std::to_string(options.queue_depth) + " is not in [1, " +
                    std::to_string(kMaxQueueDepth) + "]");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "cannot open device " + path);
  }
  const bool is_block = S_ISBLK(st.st_mode);
  if (S_ISDIR(st.st_mode)) {
    return Status::Error(EISDIR, "cannot open device " + path +
                                     ": is a directory, not a block device "
                                     "or image file");
  }
  if (!is_block && !S_ISREG(st.st_mode)) {
    return Status::Error(ENODEV, "cannot open device " + path +
                                     ": not a block device or regular image "
                                     "file");
  }

  int flags = (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  // On Linux, O_EXCL without O_CREAT claims a block device exclusively
  // (EBUSY if it is mounted or claimed by another opener).
  if (is_block && options.exclusive) flags |= O_EXCL;
  bool direct = options.direct;
  const auto busy_deadline = std::chrono::steady_clock::now() + options.busy_wait;
  auto retry_busy = [&] {
    if (std::chrono::steady_clock::now() >= busy_deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return true;
  };
  UniqueFd fd(::open(path.c_str(), flags | (direct ? O_DIRECT : 0)));
  while (!fd.valid() && errno == EBUSY && retry_busy()) {
    fd = UniqueFd(::open(path.c_str(), flags | (direct ? O_DIRECT : 0)));
  }
  if (!fd.valid() && direct && errno == EINVAL && !is_block) {
    log->warn(
        "{}: the filesystem holding this image refuses O_DIRECT; "
        "falling back to buffered I/O (page cache in the data path)",
        path);
    direct = false;
    fd = UniqueFd(::open(path.c_str(), flags));
  }
  if (!fd.valid()) {
    const int err = errno;
    if (err == EBUSY) {
      return Status::Error(EBUSY, "cannot open device " + path +
                                      ": already in use (is it mounted?)");
    }
    return Status::FromErrno(err, "cannot open device " + path);
  }

  // Re-check the type on the opened fd: the path may have changed since
  // stat().
  if (::fstat(fd.get(), &st) != 0) {
    return Status::FromErrno(errno, "cannot stat device " + path);
  }
  if (S_ISBLK(st.st_mode) != is_block || (!is_block && !S_ISREG(st.st_mode))) {
    return Status::Error(ENODEV, "cannot open device " + path +
                                     ": changed type while being opened");
  }

  uint64_t size = 0;
  if (is_block) {
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      return Status::FromErrno(errno, "BLKGETSIZE64 on " + path);
    }
    int sector = 0;
    if (::ioctl(fd.get(), BLKSSZGET, &sector) != 0) {
      return Status::FromErrno(errno, "BLKSSZGET on " + path);
    }
    if (sector <= 0 || static_cast<uint64_t>(sector) > kIoAlign) {
      return Status::Error(
          ENOTSUP, path + ": logical sector size " + std::to_string(sector) +
                       " is not supported (slotfs does " +
                       std::to_string(kIoAlign) +
                       "-byte I/O; needs <= " + std::to_string(kIoAlign) + ")");
    }
  } else {
    size = static_cast<uint64_t>(st.st_size);
    int rc = options.exclusive ? ::flock(fd.get(), LOCK_EX | LOCK_NB) : 0;
    while (rc != 0 && errno == EWOULDBLOCK && retry_busy()) {
      rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    }
    if (rc != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        return Status::Error(EBUSY, "cannot open device " + path +
                                        ": already in use (is it mounted?)");
      }
      return Status::FromErrno(err, "flock " + path);
    }
  }

  DeviceFile file{path, AlignDown(size, kIoAlign), is_block, options.read_only};
  std::unique_ptr<Device> device;
  if (options.engine == Engine::kPosix) {
    device = NewPosixDevice(std::move(fd), std::move(file));
  } else {
    auto uring = NewUringDevice(fd, file, options.queue_depth);
    if (uring.ok()) {
      device = std::move(uring).value();
    } else if (options.engine == Engine::kUring) {
      return Status::Error(
          uring.status().code(),
          "cannot use io_uring for " + path + ": " + uring.status().message());
    } else {
      log->warn("{}: io_uring unavailable ({}); using the posix engine", path,
                uring.status().ToString());
      device = NewPosixDevice(std::move(fd), std::move(file));
    }
  }
  log->debug("opened {}: {} of {} bytes, engine {}, {}{}", path,
             is_block ? "block device" : "image file", device->size(),
             device->engine_name(), direct ? "O_DIRECT" : "buffered",
             options.read_only ? ", read-only" : "");
  return device;
}

}  // namespace slotfs::blockdev
