// The raw-device baselines of `slotfs bench throughput`, both on one file of
// the backing filesystem that is preallocated and written before anything
// is timed, so every timed write is an overwrite of written extents (an
// O_DIRECT write into a hole or an unwritten extent allocates or converts
// extents, which serializes it on ext4):
//   BaselineFile  that file, removed on destruction;
//   fio           fio itself (ioengine=io_uring, direct=1, bs=1M, iodepth=16,
//                 one job per writer/reader thread, each on its own region
//                 of the file), when it is installed.
// The ceiling (bench_ceiling.h) drives the project's engine on the same
// file; it is trusted only when it matches fio in the same run.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/fio_output.h"

namespace slotfs::tools::bench {

// fio's queue depth per job, and the ceiling's per thread.
inline constexpr unsigned kBaselineQueueDepth = 16;
// The size of every baseline I/O (one slotfs FUSE request at most).
inline constexpr uint64_t kBaselineOpSize = 1ull << 20;

class BaselineFile {
public:
  // Creates `path` (replacing any old file), fallocates `size` bytes and
  // writes all of them once (O_DIRECT where the filesystem allows it), then
  // fdatasyncs. `size` is rounded up to kBaselineOpSize.
  static Result<BaselineFile> Create(const std::string &path, uint64_t size);
  BaselineFile(BaselineFile &&o) noexcept;
  BaselineFile &operator=(BaselineFile &&) = delete;
  ~BaselineFile();

  const std::string &path() const { return path_; }
  uint64_t size() const { return size_; }
  // False when the filesystem refused fallocate (the fill pass still wrote
  // every byte).
  bool fallocated() const { return fallocated_; }

private:
  BaselineFile(std::string path, uint64_t size)
      : path_(std::move(path)), size_(size) {}
  std::string path_;
  uint64_t size_ = 0;
  bool fallocated_ = false;
};

// "fio-3.33", or "" when fio cannot be run.
std::string FioVersion();

// Runs fio on `file`: `jobs` jobs, job j reading or writing (`rw`: "read"
// or "write") bytes [j * per_job, (j + 1) * per_job) in 1 MiB O_DIRECT
// io_uring ops at queue depth 16. fio's stderr goes to `log`.
// REQUIRES: jobs * per_job <= file.size(); per_job a multiple of 1 MiB.
Result<FioResult> RunFio(const BaselineFile &file, const std::string &rw,
                         int jobs, uint64_t per_job, const std::string &log);

} // namespace slotfs::tools::bench
