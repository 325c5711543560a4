// BufferPool: posix_memalign-backed buffers kept on a bounded free list.
#include "blockdev/buffer_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace slotfs::blockdev {

std::shared_ptr<BufferPool> BufferPool::Create(size_t buffer_size, size_t max_idle) {
  return std::shared_ptr<BufferPool>(new BufferPool(buffer_size, max_idle));
}

BufferPool::BufferPool(size_t buffer_size, size_t max_idle)
    : buffer_size_(AlignUp(buffer_size, kIoAlign)), max_idle_(max_idle) {
  idle_.reserve(max_idle_);
}

BufferPool::~BufferPool() {
  for (uint8_t* p : idle_) std::free(p);
}

size_t BufferPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

AlignedBuffer BufferPool::Get(size_t size) {
  if (size == 0) return AlignedBuffer();
  if (size > buffer_size_) return AlignedBuffer::Uninitialized(size);
  uint8_t* data = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      data = idle_.back();
      idle_.pop_back();
    }
  }
  if (data == nullptr) {
    void* p = nullptr;
    const int rc = posix_memalign(&p, kIoAlign, buffer_size_);
    if (rc != 0 || p == nullptr) {
      std::fprintf(stderr,
                   "slotfs: out of memory allocating a pooled buffer of %zu bytes: %s\n",
                   buffer_size_, std::strerror(rc));
      std::abort();
    }
    data = static_cast<uint8_t*>(p);
  }
  AlignedBuffer b;
  b.data_ = data;
  b.size_ = AlignUp(size, kIoAlign);
  b.pool_ = shared_from_this();
  return b;
}

void BufferPool::Recycle(uint8_t* data) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(data);
      return;
    }
  }
  std::free(data);
}

}  // namespace slotfs::blockdev
