// BufferPool: a bounded free list of equal-sized aligned buffers reused across
// requests, so the data path neither maps fresh memory (page faults) nor
// grows without bound per request.
//
// Get() hands out an AlignedBuffer that returns its memory to the pool when
// destroyed; the pool keeps at most `max_idle` buffers and frees the rest.
// Memory held is therefore at most (buffers in use + max_idle) x
// buffer_size; buffers in use are bounded by the callers (one or two per
// FUSE worker thread). Thread-safe. The pool lives as long as any buffer it
// handed out (shared ownership), so buffers may outlive their Filesystem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "blockdev/aligned_buffer.h"

namespace slotfs::blockdev {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // REQUIRES: buffer_size > 0. Rounded up to kIoAlign.
  static std::shared_ptr<BufferPool> Create(size_t buffer_size, size_t max_idle);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of AlignUp(size, kIoAlign) bytes whose contents are
  // unspecified (the caller sets every byte it uses). From the pool when
  // size <= buffer_size(); a one-off allocation otherwise. Aborts on OOM.
  AlignedBuffer Get(size_t size);

  size_t buffer_size() const { return buffer_size_; }
  size_t max_idle() const { return max_idle_; }
  // Buffers currently idle in the pool.
  size_t idle() const;

 private:
  friend class AlignedBuffer;
  BufferPool(size_t buffer_size, size_t max_idle);
  // Takes back memory handed out by Get() (called by ~AlignedBuffer).
  void Recycle(uint8_t* data);

  const size_t buffer_size_;
  const size_t max_idle_;
  mutable std::mutex mu_;
  std::vector<uint8_t*> idle_;  // guarded by mu_
};

}  // namespace slotfs::blockdev
