// Options shared by `slotfs bench throughput|metadata|all`, the backing
// directories a run uses, and the entry points of the benchmarks. Throughput
// and metadata add their rows to a Report; bench_cmd.cc parses the command
// line and prints it. Recovery (bench_recovery.cc) prints its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/bench_report.h"

namespace slotfs::tools::bench {

struct BenchOptions {
  std::string dir = "/var/tmp/slotfs-bench";  // disk work directory, log
  std::vector<std::string> backings;          // --backing (replaces the default disk dir)
  bool ram = false;                           // also run on /dev/shm
  bool metadata_on_ram = false;               // ... the metadata benchmark too
  std::vector<uint64_t> sizes_mib = {1, 4, 16, 32};
  int writers = 4;
  int readers = 4;
  int files_per_writer = 0;  // 0: sized from target_mib per file size
  uint64_t target_mib = 384;  // bytes per phase when files_per_writer is 0
  int repeat = 3;
  std::vector<std::string> modes = {"buffered", "odirect"};
  // Also ext4 on a loop device over an image (--ext4-loop). The host
  // directory (a plain directory on the backing filesystem) always runs.
  bool ext4 = false;
  std::string slot_size;  // `slotfs format --slot-size`; "": format's default
  std::string fio_version;  // "" when fio is not installed: no fio rows
  uint64_t meta_files = 100'000;
  int meta_threads = 4;
  std::string log;  // DIR/bench.log
};

// Where one set of measurements runs: `work` is a directory on the backing
// filesystem that holds the images while they exist.
struct Backing {
  std::string label;  // "disk", "ram", "disk2", ...
  std::string dir;    // as given
  std::string work;   // created by the run
  bool remove_work = false;
  bool metadata = true;  // the metadata benchmark runs here too
};

// The backings of a run: --backing dirs (or --dir), plus /dev/shm with
// `ram` (for metadata only with `metadata_on_ram`). Creates their work
// directories.
Result<std::vector<Backing>> PrepareBackings(const BenchOptions& o);
// Removes the work directories the run created.
void RemoveBackings(const std::vector<Backing>& backings);

// Files per writer for one file size (o.files_per_writer, or sized so one
// phase moves about o.target_mib, at least 4 and at most 512).
int FilesPerWriter(const BenchOptions& o, uint64_t size_mib);

// Measures the ceiling, fio (when installed), slotfs, the host directory
// and (with o.ext4) ext4 on every backing; rows go to `report`. A phase's
// I/O errors are counted in its rows and noted, not fatal; a filesystem that
// cannot be set up is an error (ext4 is skipped, with a note, when loop
// devices are unavailable).
Status RunThroughput(const BenchOptions& o, const std::vector<Backing>& backings,
                     Report* report);
// Creates, stats, lists (`ls -l`) and unlinks o.meta_files empty files in one
// directory of slotfs, of the host directory and (with o.ext4) of ext4 on
// every backing.
Status RunMetadata(const BenchOptions& o, const std::vector<Backing>& backings,
                   Report* report);

struct RecoveryOptions {
  uint64_t files = 1'000'000;
  std::string dir;  // default /var/tmp/slotfs-bench-recovery
  int repeat = 5;
  bool json = false;
};
// slotfs bench recovery: mount-to-ready after SIGKILL with `files` files.
// Returns a process exit code.
int RunRecovery(const RecoveryOptions& o);

// Shared by both: runs `fn` as one phase with the daemon `pid` (or -1)
// watched: its CPU time during the phase and its peak RSS after it, and
// this process's CPU time.
Measurement MeasurePhase(pid_t daemon, const std::function<PhaseSample()>& fn,
                         std::string* first_error);

}  // namespace slotfs::tools::bench
