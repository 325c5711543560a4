// AlignedBuffer: posix_memalign-backed storage for O_DIRECT I/O.
#include "blockdev/aligned_buffer.h"

#include "blockdev/buffer_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace slotfs::blockdev {

AlignedBuffer::AlignedBuffer(size_t size) : AlignedBuffer(size, true) {}

AlignedBuffer AlignedBuffer::Uninitialized(size_t size) { return AlignedBuffer(size, false); }

AlignedBuffer::AlignedBuffer(size_t size, bool zero) {
  if (size == 0) return;
  const size_t rounded = AlignUp(size, kIoAlign);
  void* p = nullptr;
  const int rc = posix_memalign(&p, kIoAlign, rounded);
  if (rc != 0 || p == nullptr) {
    // Out of memory is not recoverable for an I/O buffer; say so and stop.
    std::fprintf(stderr,
                 "slotfs: out of memory allocating an aligned buffer of %zu "
                 "bytes: %s\n",
                 rounded, std::strerror(rc));
    std::abort();
  }
  if (zero) std::memset(p, 0, rounded);
  data_ = static_cast<uint8_t*>(p);
  size_ = rounded;
}

AlignedBuffer::~AlignedBuffer() {
  if (pool_ != nullptr && data_ != nullptr) {
    pool_->Recycle(data_);
  } else {
    std::free(data_);
  }
}

}  // namespace slotfs::blockdev
