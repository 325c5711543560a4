// The operator's view: read-only control files under MOUNT/.slotfs/.
//
//   .slotfs/          directory, mode 0555, listed in the root directory
//   .slotfs/stats     JSON: usage, counters, latencies, configuration
//   .slotfs/metrics   Prometheus text exposition format 0.0.4, same data
//
// They live on reserved inode numbers above INT64_MAX, which SQLite rowids
// (the inode numbers of everything else) can never reach. A file's content
// is rendered once, when it is opened, and served from the open handle
// (direct_io), so every read of one open sees one consistent snapshot while
// st_size stays 0, as for /proc files.
//
// This file holds no FUSE types: fuse_ops.cc calls these helpers and
// replies. Rendering takes plain snapshots, so unit tests need no mount.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "common/status.h"
#include "core/filesystem.h"

namespace slotfs::fs {

inline constexpr std::string_view kControlDirName = ".slotfs";
inline constexpr uint64_t kControlDirIno = 0xFFFF'FFFF'FFFF'FF00ull;
inline constexpr uint64_t kStatsIno = kControlDirIno + 1;
inline constexpr uint64_t kMetricsIno = kControlDirIno + 2;
static_assert(kControlDirIno > static_cast<uint64_t>(INT64_MAX),
              "reserved inodes must lie above every SQLite rowid");
// Offset of the .slotfs entry in root readdir: core gives "." 1, ".." 2 and
// a child with inode i (i >= 2) the offset i + 2 >= 4, so 3 is free.
inline constexpr uint64_t kControlDirOffset = 3;

inline bool IsControlIno(uint64_t ino) { return ino >= kControlDirIno; }
// True for the name ".slotfs" in the root directory.
inline bool IsControlName(uint64_t parent, std::string_view name) {
  return parent == kRootInode.value && name == kControlDirName;
}

// FUSE requests timed for the latency percentiles.
enum class TimedOp : int { kLookup, kOpen, kCreate, kRead, kWrite, kFlush, kFsync, kUnlink };
inline constexpr int kTimedOps = 8;
std::string_view TimedOpName(TimedOp op);

// Handler latencies (entry to reply), one histogram per TimedOp, in ns.
// Thread-safe.
struct RequestLatencies {
  Histogram ops[kTimedOps];
  Histogram& operator[](TimedOp op) { return ops[static_cast<int>(op)]; }
};

// One op's latency summary.
struct LatencySummary {
  std::string op;
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
};
std::vector<LatencySummary> SummarizeLatencies(const RequestLatencies& lat);

// Everything the control files show.
struct ControlView {
  core::StatsSnapshot stats;
  std::string device;  // the device or image (the mount source)
  std::string mountpoint;
  std::string uuid;     // filesystem UUID
  std::string version;  // slotfs version
  std::vector<LatencySummary> latencies;
};

// Renders `.slotfs/stats` (one JSON object, newline-terminated).
std::string RenderStatsJson(const ControlView& v);
// Renders `.slotfs/metrics` (Prometheus text format 0.0.4).
std::string RenderMetrics(const ControlView& v);

// --- the namespace of the control inodes ---

// Attributes of a reserved inode; ENOENT for any other number. `root` gives
// owner and times of the directory.
Result<core::Attr> ControlAttr(uint64_t ino, const core::Attr& root);
// Looks `name` up in the control directory: ENOENT unless stats or metrics.
Result<core::Attr> ControlLookup(std::string_view name, const core::Attr& root);
// Entries of the control directory from `offset` (0 = start); offsets are
// 1 ".", 2 "..", 3 stats, 4 metrics.
std::vector<core::DirEntry> ControlReadDir(uint64_t offset, const core::Attr& root);
// Adds the .slotfs entry to a page of root entries read from core at
// `offset`, and drops any stored entry that the name shadows, so a
// paged readdir lists it exactly once.
void AddControlEntry(uint64_t offset, const core::Attr& root, std::vector<core::DirEntry>* entries);

// The content of an opened control file.
struct ControlHandle {
  std::string content;
};

}  // namespace slotfs::fs
