// The device ceiling of `slotfs bench throughput`: the project's own
// blockdev engine (O_DIRECT, io_uring when available) writing and reading a
// BaselineFile (preallocated and written, so the timed writes are
// overwrites) on the same backing store, with fio's pattern: 1 MiB ops, W
// writer (R reader) threads, each with its own device (ring) and at most
// kBaselineQueueDepth ops in flight: one Device::Run per 16 ops. (Run waits
// for its whole batch while fio refills its queue as each op completes, so
// the ceiling can trail fio; the report says by how much. A Run holds one
// file's ops, so with files under 16 MiB a thread has fewer than 16 in
// flight, e.g. 4 with 4 MiB files.) Thread t's files lie
// one after another in region t of the file, as fio's job t does. No FUSE, no
// metadata: what the backing store can do for this pattern at best, trusted
// once it matches fio in the same run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "blockdev/device.h"
#include "common/status.h"
#include "tools/bench_baseline.h"
#include "tools/bench_pattern.h"

namespace slotfs::tools::bench {

class Ceiling {
public:
  // The bytes of the baseline file `o`'s files need: each file starts on a
  // 1 MiB boundary.
  static uint64_t FileBytes(const PatternOptions &o);
  // The bytes one writer's files span (its region, fio's per-job size).
  static uint64_t WriterSpan(const PatternOptions &o);

  // Opens `file` through blockdev::OpenDevice.
  // REQUIRES: file.size() >= FileBytes(o).
  static Result<std::unique_ptr<Ceiling>> Open(const BaselineFile &file,
                                               const PatternOptions &o);
  // Closes the device; the file stays.
  ~Ceiling() = default;
  Ceiling(const Ceiling &) = delete;
  Ceiling &operator=(const Ceiling &) = delete;

  const char *engine() const { return devices_.front()->engine_name(); }
  // Each writer writes its files in order; one latency per file.
  PhaseSample Write();
  // `readers` threads (default: o.readers) read every file back and check
  // stamps; reader r takes every R-th file, interleaving the writers'.
  // With one reader, this is the QD1 phase: whole files one after another.
  PhaseSample Read(int readers = 0);

private:
  explicit Ceiling(PatternOptions o) : o_(o) {}
  DevOffset FileOffset(int writer, int index) const;
  // The ops of one file, issued kBaselineQueueDepth at a time.
  Status RunFile(blockdev::Device &device, blockdev::IoOp::Kind kind,
                 DevOffset base, uint8_t *buf);

  PatternOptions o_;
  // One per thread, as fio has one ring per job: threads sharing one ring
  // serialize their submissions (each inline O_DIRECT submit pins and maps
  // 1 MiB per op) behind its lock, and share one completion thread.
  std::vector<std::unique_ptr<blockdev::Device>> devices_;
};

} // namespace slotfs::tools::bench
