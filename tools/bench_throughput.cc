// slotfs bench throughput: on each backing directory, for each repetition
// and file size, the device ceiling (blockdev engine, no FUSE), then the
// LMCache pattern (write, read, unlink) on a fresh slotfs mount and on a
// fresh ext4-on-loop filesystem, once per mode (buffered, odirect). The page
// cache is synced and dropped between the write and read phases. Repetition
// is the outer loop so that a noisy moment hits one run of every row rather
// than every run of one row.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "tools/bench_ceiling.h"
#include "tools/bench_modes.h"
#include "tools/bench_mounts.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// What one run needs that does not change across it.
struct Run {
  const BenchOptions& o;
  const Backing& b;
  Report* report;
  std::string progress;  // "[disk 1/3] 4M"
  bool* drop_warned;
};

RowKey Key(const Run& r, const PatternOptions& po, const char* phase, const char* system,
           const std::string& mode) {
  return {"throughput", r.b.label, po.file_size, phase, system, mode};
}

// Records `m` under `k`; a note tells its errors, if any.
void Record(const Run& r, const RowKey& k, const Measurement& m, const std::string& err) {
  r.report->Add(k, m);
  if (m.errors == 0) return;
  r.report->AddNote(k.backing + " " + k.system + " " + k.mode + " " +
                    std::to_string(k.file_size >> 20) + "M " + k.phase + ": " +
                    std::to_string(m.errors) + " errors, first: " + err);
}

double SyncDrop(const Run& r) {
  bool dropped = false;
  double s = SyncAndDropCaches(&dropped);
  if (!dropped && !*r.drop_warned) {
    *r.drop_warned = true;
    r.report->AddNote("the page cache could not be dropped (needs root): buffered reads "
                      "may be served from memory");
  }
  return s;
}

Status CheckInterrupted() {
  return Interrupted() ? Status::Error(EINTR, "interrupted") : Status::Ok();
}

Status RunCeiling(const Run& r, const PatternOptions& po) {
  Progress("%s ceiling", r.progress.c_str());
  SLOTFS_ASSIGN_OR_RETURN(auto c, Ceiling::Open(r.b.work + "/ceiling.img", po));
  r.report->AddFact(r.b.label, {"throughput", "ceiling engine", c->engine()});
  std::string err;
  Measurement w = MeasurePhase(-1, [&] { return c->Write(); }, &err);
  Record(r, Key(r, po, "write", "ceiling", ""), w, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  SyncDrop(r);
  Measurement rd = MeasurePhase(-1, [&] { return c->Read(); }, &err);
  Record(r, Key(r, po, "read", "ceiling", ""), rd, err);
  return CheckInterrupted();
}

// The three pattern phases on `dir`, with `daemon` (or -1) watched.
Status RunPattern(const Run& r, const PatternOptions& po, const char* system,
                  const std::string& mode, const std::string& dir, pid_t daemon) {
  if (::mkdir(dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + dir);
  std::string err;
  Progress("%s %s %s write", r.progress.c_str(), system, mode.c_str());
  Measurement w = MeasurePhase(daemon, [&] { return WriteFiles(dir, po); }, &err);
  w.sync_s = SyncDrop(r);
  Record(r, Key(r, po, "write", system, mode), w, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s %s %s read", r.progress.c_str(), system, mode.c_str());
  Measurement rd = MeasurePhase(daemon, [&] { return ReadFiles(dir, po); }, &err);
  Record(r, Key(r, po, "read", system, mode), rd, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s %s %s unlink", r.progress.c_str(), system, mode.c_str());
  Measurement u = MeasurePhase(daemon, [&] { return UnlinkFiles(dir, po); }, &err);
  Record(r, Key(r, po, "unlink", system, mode), u, err);
  return CheckInterrupted();
}

Status RunSlotfs(const Run& r, const PatternOptions& po, const std::string& mode) {
  Progress("%s slotfs %s: mounting", r.progress.c_str(), mode.c_str());
  uint64_t image = po.total_bytes() / 5 * 6 + 64 * kMiB;
  SLOTFS_ASSIGN_OR_RETURN(auto fs, SlotfsInstance::Start(r.b.work + "/slotfs", image, r.o.log));
  SLOTFS_RETURN_IF_ERROR(
      RunPattern(r, po, "slotfs", mode, fs->mountpoint() + "/kv", fs->daemon_pid()));
  return fs->Stop();
}

// ENODEV when ext4 cannot be set up here (no loop devices, no mkfs.ext4).
Status RunExt4(const Run& r, const PatternOptions& po, const std::string& mode) {
  Progress("%s ext4 %s: mkfs", r.progress.c_str(), mode.c_str());
  uint64_t image = po.total_bytes() / 5 * 6 + 512 * kMiB;
  SLOTFS_ASSIGN_OR_RETURN(auto fs, Ext4Instance::Start(r.b.work + "/ext4", image, r.o.log));
  r.report->AddFact(r.b.label,
                    {"throughput", "ext4 loop direct I/O", fs->loop_direct_io() ? "on" : "off"});
  SLOTFS_RETURN_IF_ERROR(RunPattern(r, po, "ext4", mode, fs->mountpoint() + "/kv", -1));
  return fs->Stop();
}

Status CheckSpace(const Backing& b, uint64_t need) {
  struct statvfs v;
  if (::statvfs(b.work.c_str(), &v) != 0) return Status::FromErrno(errno, "statvfs " + b.work);
  uint64_t avail = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  if (avail < need) {
    return Status::Error(ENOSPC, b.work + " has " + std::to_string(avail >> 20) +
                                     " MiB free; the benchmark needs about " +
                                     std::to_string(need >> 20) +
                                     " MiB (use --files-per-writer or --sizes)");
  }
  return Status::Ok();
}

}  // namespace

Status RunThroughput(const BenchOptions& o, const std::vector<Backing>& backings,
                     Report* report) {
  report->SetHeadline("throughput",
                      std::to_string(o.writers) + " writers, " + std::to_string(o.readers) +
                          " readers, " + std::to_string(o.repeat) + " runs");
  bool drop_warned = false;
  for (const Backing& b : backings) {
    report->AddBacking({b.label, b.dir, {}});
    uint64_t need = 0;
    for (uint64_t mib : o.sizes_mib) {
      uint64_t bytes = mib * kMiB * static_cast<uint64_t>(o.writers) *
                       static_cast<uint64_t>(FilesPerWriter(o, mib));
      need = std::max(need, bytes / 5 * 6 + 512 * kMiB);
    }
    SLOTFS_RETURN_IF_ERROR(CheckSpace(b, need));
    bool ext4 = o.ext4;
    for (int rep = 0; rep < o.repeat; ++rep) {
      for (uint64_t mib : o.sizes_mib) {
        PatternOptions po;
        po.file_size = mib * kMiB;
        po.writers = o.writers;
        po.readers = o.readers;
        po.files_per_writer = FilesPerWriter(o, mib);
        report->AddFact(b.label, {"throughput", "files of " + std::to_string(mib) + "M",
                                  std::to_string(po.total_files())});
        Run run{o, b, report,
                "[" + b.label + " run " + std::to_string(rep + 1) + "/" +
                    std::to_string(o.repeat) + "] " + std::to_string(mib) + "M",
                &drop_warned};
        SLOTFS_RETURN_IF_ERROR(RunCeiling(run, po));
        for (const std::string& mode : o.modes) {
          po.odirect = mode == "odirect";
          SLOTFS_RETURN_IF_ERROR(RunSlotfs(run, po, mode));
        }
        for (const std::string& mode : o.modes) {
          if (!ext4) break;
          po.odirect = mode == "odirect";
          Status st = RunExt4(run, po, mode);
          if (st.code() == ENODEV) {
            ext4 = false;
            report->AddNote("ext4 skipped on " + b.label + ": " + st.message());
          } else {
            SLOTFS_RETURN_IF_ERROR(st);
          }
        }
      }
    }
  }
  ProgressDone();
  return Status::Ok();
}

}  // namespace slotfs::tools::bench
