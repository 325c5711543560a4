// Device: aligned, asynchronous byte-range I/O on a block device or image.
//
// blockdev knows nothing of files or keys. A Device reads and writes byte
// ranges at absolute offsets and flushes the device's volatile cache.
// Public methods are non-virtual: they check alignment and bounds, count
// bytes, then call the engine's *Impl. Engines: io_uring (default) and POSIX
// pread/pwrite (fallback), both on one O_DIRECT fd; an in-memory device and a
// fault-injecting wrapper for tests.
//
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace slotfs::blockdev {

struct IoOp {
  enum class Kind : uint8_t { kRead, kWrite };
  Kind kind = Kind::kRead;
  DevOffset offset;
  // REQUIRES: kIoAlign-aligned address; len bytes valid until the op completes.
  void* buf = nullptr;
  // REQUIRES: multiple of kIoAlign.
  size_t len = 0;
};

// Appends `op` to `ops`, merged into the last op when it continues it on
// the device and in memory (same kind) and the merged op stays within
// `max_len` bytes: physically consecutive slots become one large I/O.
inline void AppendCoalesced(std::vector<IoOp>& ops, const IoOp& op,
                            size_t max_len = size_t{64} << 20) {
  if (!ops.empty()) {
    IoOp& last = ops.back();
    if (last.kind == op.kind && last.offset.value + last.len == op.offset.value &&
        static_cast<uint8_t*>(last.buf) + last.len == op.buf && last.len + op.len <= max_len) {
      last.len += op.len;
      return;
    }
  }
  ops.push_back(op);
}

enum class Engine { kAuto, kUring, kPosix };
const char* EngineName(Engine e);
// "auto" | "uring" | "posix"; EINVAL otherwise.
Result<Engine> ParseEngine(const std::string& text);

struct DeviceOptions {
  Engine engine = Engine::kAuto;
  // Open with O_DIRECT. If the filesystem under an image file refuses
  // O_DIRECT (EINVAL), the open falls back to buffered I/O with a warning.
  bool direct = true;
  // Block devices: O_EXCL; image files: flock(LOCK_EX|LOCK_NB). EBUSY if held.
  bool exclusive = true;
  bool read_only = false;
  // How long to keep retrying an exclusive claim that is busy. A daemon
  // killed a moment ago holds its claim until the kernel has torn down its
  // in-flight io_uring requests (tens of ms); mount waits that out.
  std::chrono::milliseconds busy_wait{0};
  // io_uring submission queue depth.
  unsigned queue_depth = 256;
};

// Counts ops and bytes issued through Run/Read/Write/Flush (whether or not
// they then succeed) and failed calls (rejected ones included).
struct DeviceCounters {
  std::atomic<uint64_t> reads{0}, writes{0}, flushes{0};
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
  std::atomic<uint64_t> errors{0};
};

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Usable size in bytes (BLKGETSIZE64 or st_size), multiple of kIoAlign.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_block_device() const { return is_block_device_; }
  // Opened with DeviceOptions::read_only: Run() rejects writes with EROFS.
  bool read_only() const { return read_only_; }
  // "io_uring", "posix", "memory", ...
  virtual const char* engine_name() const = 0;

  // Issues all ops concurrently and returns when every one has completed.
  // EINVAL (nothing issued) if any op is misaligned, empty (len 0 or null
  // buf) or out of bounds; EROFS (nothing issued) for a write on a read-only
  // device; else
  // the first failure (EIO with offset in the message) — the others still
  // ran to completion. A short transfer is retried for its remainder; a
  // transfer that makes no progress is EIO.
  Status Run(std::span<const IoOp> ops);
  Status Read(DevOffset offset, void* buf, size_t len);
  Status Write(DevOffset offset, const void* buf, size_t len);
  // Makes every completed write durable (fdatasync / cache flush).
  Status Flush();

  const DeviceCounters& counters() const { return counters_; }

 protected:
  // REQUIRES: size is a multiple of kIoAlign.
  Device(std::string path, uint64_t size, bool is_block_device,
         bool read_only = false)
      : path_(std::move(path)),
        size_(size),
        is_block_device_(is_block_device),
        read_only_(read_only) {}
  // REQUIRES: ops validated by Run().
  virtual Status RunImpl(std::span<const IoOp> ops) = 0;
  virtual Status FlushImpl() = 0;

 private:
  std::string path_;
  uint64_t size_;
  bool is_block_device_;
  bool read_only_;
  DeviceCounters counters_;
};

// Opens a block device or image file. ENOENT/EACCES/EBUSY/ENOTBLK... with the
// path in the message. With Engine::kAuto, io_uring is tried first and the
// POSIX engine used (with one log line saying why) if it is unavailable.
Result<std::unique_ptr<Device>> OpenDevice(const std::string& path,
                                           const DeviceOptions& options);

// A device held in RAM (tests), AlignDown(size, kIoAlign) bytes, zero-filled.
// Flush() is a no-op; path() is "memory".
std::unique_ptr<Device> NewMemoryDevice(uint64_t size);

}  // namespace slotfs::blockdev
