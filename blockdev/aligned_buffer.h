// AlignedBuffer: a move-only, kIoAlign-aligned heap buffer for O_DIRECT I/O.
//
// Every buffer handed to a Device comes from here, so no other code does
// alignment arithmetic on addresses. Not thread-safe; owned by one user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "common/types.h"

namespace slotfs::blockdev {

class BufferPool;

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Allocates AlignUp(size, kIoAlign) bytes, zero-filled. Aborts on OOM.
  explicit AlignedBuffer(size_t size);
  // Same, without zero-filling: for buffers every byte of which is about to
  // be read into or written by the caller (zeroing 1 MiB per request was a
  // third of the daemon's CPU on writes).
  static AlignedBuffer Uninitialized(size_t size);
  ~AlignedBuffer();

  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        pool_(std::move(o.pool_)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(pool_, o.pool_);
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  // Capacity in bytes; always a multiple of kIoAlign.
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  void Zero() { if (data_) std::memset(data_, 0, size_); }

 private:
  friend class BufferPool;
  AlignedBuffer(size_t size, bool zero);

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  // Set for a buffer from BufferPool::Get(): the memory goes back there.
  std::shared_ptr<BufferPool> pool_;
};

}  // namespace slotfs::blockdev
