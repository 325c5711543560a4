// Helpers shared by the blockdev tests: temporary directories and image
// files, deterministic data patterns, running shell commands.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>

#include "blockdev/aligned_buffer.h"
#include "blockdev/device.h"

namespace slotfs::blockdev {

// Lets GoogleTest print an Engine parameter by name.
inline void PrintTo(Engine e, std::ostream* os) { *os << EngineName(e); }

}  // namespace slotfs::blockdev

namespace slotfs::blockdev::testing {

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/slotfs-blockdev-XXXXXX";
    const char* p = mkdtemp(tmpl);
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Creates (or resizes) a sparse image file of `size` bytes; false on error.
inline bool MakeImage(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  ::close(fd);
  return ok;
}

// The byte a pattern with `seed` has at absolute device offset `offset`.
inline uint8_t PatternByte(uint64_t seed, uint64_t offset) {
  uint64_t x =
      (offset / 8) * 0x9E3779B97F4A7C15ULL ^ seed * 0xD6E8FEB86659FD93ULL;
  x ^= x >> 29;
  return static_cast<uint8_t>(x >> (8 * (offset % 8)));
}

// Fills `buf` with the pattern for device range [offset, offset + len).
inline void FillPattern(uint8_t* buf, size_t len, uint64_t seed,
                        uint64_t offset) {
  for (size_t i = 0; i < len; ++i) buf[i] = PatternByte(seed, offset + i);
}

// Index of the first byte of `buf` that differs from the pattern, or -1.
inline int64_t FirstPatternMismatch(const uint8_t* buf, size_t len,
                                    uint64_t seed, uint64_t offset) {
  for (size_t i = 0; i < len; ++i) {
    if (buf[i] != PatternByte(seed, offset + i)) return static_cast<int64_t>(i);
  }
  return -1;
}

// Runs `cmd` through the shell; returns its exit status (-1 if it could not
// run) and puts its stdout (trailing newline removed) in `out`.
inline int RunCommand(const std::string& cmd, std::string* out) {
  out->clear();
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), f) != nullptr) out->append(buf);
  const int status = ::pclose(f);
  while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) {
    out->pop_back();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace slotfs::blockdev::testing
