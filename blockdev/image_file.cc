// Image file layout (see image_file.h).
#include "blockdev/image_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "blockdev/aligned_buffer.h"
#include "common/types.h"

namespace slotfs::blockdev {

Status WriteImageExtents(const std::string& path, uint64_t size,
                         const std::function<void(uint64_t, uint64_t)>& progress) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
  if (fd < 0 && errno == EINVAL) fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // no O_DIRECT here
  if (fd < 0) return Status::FromErrno(errno, "cannot open " + path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0 && errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "cannot allocate " + std::to_string(size) + " bytes for " + path);
  }
  constexpr uint64_t kChunk = 8ull << 20;
  AlignedBuffer zeros(kChunk);  // zero-filled
  const uint64_t end = AlignDown(size, kIoAlign);
  for (uint64_t off = 0; off < end;) {
    const uint64_t n = std::min(kChunk, end - off);
    const ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "cannot write " + path + " at byte " + std::to_string(off));
    }
    off += static_cast<uint64_t>(w);
    if (progress) progress(off, end);
  }
  if (::fdatasync(fd) != 0) return Status::FromErrno(errno, "cannot sync " + path);
  return Status::Ok();
}

}  // namespace slotfs::blockdev
