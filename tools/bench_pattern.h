// The LMCache local-disk access pattern (DESIGN.md §1) as timed phases on
// any directory — a slotfs mount or ext4 alike:
//   write   W writer threads, each creating its K files: open(O_WRONLY|
//           O_CREAT|O_TRUNC) (buffered) or open(O_WRONLY|O_CREAT|O_DIRECT)
//           (odirect, no O_TRUNC), one write() of the whole file from a
//           4 KiB-aligned buffer, close();
//   read    R reader threads sharing all W*K files: open(O_RDONLY[|O_DIRECT]),
//           one read() of the whole file into an aligned buffer, close();
//           a short read or wrong bytes is an error;
//   unlink  the writer threads unlink their own files.
// Each file carries a stamp (writer, index, MiB) at every MiB so a reader
// catches bytes from the wrong file or offset at almost no cost.
//
// PhaseSample and RunWorkers are the timing primitives every bench phase
// uses (the ceiling and the metadata phases too).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace slotfs::tools::bench {

// What one phase of one run measured.
struct PhaseSample {
  double seconds = 0;  // first worker start to last worker end
  uint64_t files = 0;  // files (or operations) completed
  uint64_t bytes = 0;
  std::vector<double> latency_s;  // one per file or operation
  uint64_t errors = 0;
  std::string first_error;

  double gbps() const { return seconds > 0 ? static_cast<double>(bytes) / 1e9 / seconds : 0; }
  double files_per_s() const {
    return seconds > 0 ? static_cast<double>(files) / seconds : 0;
  }
  // Records a failure; the first message is kept.
  void Fail(const std::string& message);
  // Adds a worker's counts and latencies (not its time).
  void Merge(PhaseSample&& other);
};

// Runs `fn(t, &sample)` on `threads` threads started together and merges
// their samples; `seconds` spans the earliest start to the latest end.
PhaseSample RunWorkers(int threads, const std::function<void(int, PhaseSample*)>& fn);

struct PatternOptions {
  uint64_t file_size = 4ull << 20;  // a multiple of 4096
  int writers = 4;
  int readers = 4;
  int files_per_writer = 8;
  bool odirect = false;

  uint64_t total_files() const {
    return static_cast<uint64_t>(writers) * static_cast<uint64_t>(files_per_writer);
  }
  uint64_t total_bytes() const { return total_files() * file_size; }
};

// An LMCache-style file name ("<model>@<world>@<rank>@<hash>@<dtype>.pt").
std::string PatternFileName(int writer, int index);

PhaseSample WriteFiles(const std::string& dir, const PatternOptions& o);
PhaseSample ReadFiles(const std::string& dir, const PatternOptions& o);
PhaseSample UnlinkFiles(const std::string& dir, const PatternOptions& o);
// Asks the kernel to drop the cached pages of every file of `o` in `dir`
// (posix_fadvise DONTNEED; clean pages only, so sync first). The number of
// files it could not open or advise.
uint64_t DropFileCaches(const std::string& dir, const PatternOptions& o);

// Fills `buf` with the stamps of file (writer, index); the bytes between
// stamps are left as they are. REQUIRES: len is a multiple of 4096.
void StampFile(uint8_t* buf, uint64_t len, int writer, int index);
// "" when every stamp of file (writer, index) is in place; else what's wrong.
std::string CheckStamps(const uint8_t* buf, uint64_t len, int writer, int index);
// Fills `buf` with pseudo-random bytes (incompressible, cheap).
void FillRandom(uint8_t* buf, uint64_t len, uint64_t seed);

}  // namespace slotfs::tools::bench
