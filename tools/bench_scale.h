// slotfs bench scale: the daemon's memory and speed with a million files
// (bench_scale.cc), and the index population it shares with bench recovery
// (bench_scale_populate.cc): files written as rows straight into the
// database, with real bytes only for the few a benchmark reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace slotfs::tools::bench {

// What PopulateIndex creates: `files` complete files of `file_size` bytes
// (at most one slot each; file i in slot i), under the root directory `kv`,
// or spread round-robin over `dirs` sub-directories kv/d0000, kv/d0001, ...
// when dirs > 1. Files whose index is in `content` get real bytes (a pattern
// PatternWord() describes) and checksums; the others point at slots never
// written, so reading them fails verification (or, with no_verify, returns
// whatever the device holds).
struct PopulateSpec {
  uint64_t files = 0;
  uint64_t dirs = 1;
  uint64_t file_size = 0;          // 0: one whole slot
  std::vector<uint64_t> content;   // file indices, ascending
};

// The 8-byte word at byte offset 8*w of file i's content.
inline uint64_t PatternWord(uint64_t i, uint64_t w) {
  return (i + 1) * 0x9E3779B97F4A7C15ULL ^ (w * 0xC2B2AE3D27D4EB4FULL);
}

// File i's name (an LMCache local-disk key) and its path below the root.
std::string ScaleFileName(uint64_t i);
std::string ScaleFilePath(const PopulateSpec& spec, uint64_t i);

// Fills the database `db` of the formatted (unmounted) `image` per `spec`.
// Progress on a terminal. REQUIRES: image has at least spec.files slots and
// holds no files yet.
Status PopulateIndex(const std::string& image, const std::string& db,
                     const PopulateSpec& spec);

struct ScaleOptions {
  uint64_t files = 1'000'000;
  uint64_t dirs = 1000;            // the spread layout's directories
  uint64_t stat_sample = 100'000;  // random files stat'ed
  uint64_t read_sample = 1000;     // files with content, read whole
  int stat_threads = 4;
  int read_threads = 16;           // as many as the daemon's FUSE threads
  std::string dir;                 // default /var/tmp/slotfs-bench-scale
  bool json = false;
};
// The RSS bound slotfs claims with default mount options.
inline constexpr double kRssBoundMiB = 128;

// slotfs bench scale: for a flat directory of o.files files, then the same
// spread over o.dirs directories, the daemon's RSS and peak RSS after
// mounting, stat'ing a random sample, reading a sample, readdir and `ls -l`
// of everything, with each phase's files/s. Returns a process exit code.
int RunScale(const ScaleOptions& o);

}  // namespace slotfs::tools::bench
