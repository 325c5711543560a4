// The device ceiling of `slotfs bench throughput`: the project's own
// blockdev engine (O_DIRECT, io_uring when available) writing and reading a
// fresh image on the same backing store, with slotfs's I/O size (1 MiB ops)
// and the LMCache pattern's concurrency: W writer (R reader) threads, each
// issuing one Device::Run of a whole "file" worth of 1 MiB ops, so up to
// threads × ops-per-file are in flight. No FUSE, no metadata: what the
// backing store can do for this pattern at best.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "blockdev/device.h"
#include "common/status.h"
#include "tools/bench_pattern.h"

namespace slotfs::tools::bench {

class Ceiling {
 public:
  // The size of every op, as slotfs issues them (one slot, one FUSE request).
  static constexpr uint64_t kOpSize = 1ull << 20;

  // Creates a sparse image at `path` large enough for `o`'s files and opens
  // it through blockdev::OpenDevice.
  static Result<std::unique_ptr<Ceiling>> Open(const std::string& path,
                                               const PatternOptions& o);
  // Closes the device and removes the image.
  ~Ceiling();
  Ceiling(const Ceiling&) = delete;
  Ceiling& operator=(const Ceiling&) = delete;

  const char* engine() const { return device_->engine_name(); }
  // Each writer writes its files, one Run per file.
  PhaseSample Write();
  // The readers read every file back, one Run per file, and check stamps.
  PhaseSample Read();

 private:
  Ceiling(std::string path, PatternOptions o) : path_(std::move(path)), o_(o) {}
  DevOffset FileOffset(int writer, int index) const;

  std::string path_;
  PatternOptions o_;
  std::unique_ptr<blockdev::Device> device_;
};

}  // namespace slotfs::tools::bench
