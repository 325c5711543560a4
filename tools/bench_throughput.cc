// slotfs bench throughput: on each backing directory, for each repetition
// and file size:
//   ceiling  the project's engine on a preallocated, written baseline file
//            (write, read, read qd1), no FUSE (bench_ceiling.h);
//   fio      fio on the same file with the same pattern, when installed
//            (bench_baseline.h); the ceiling is trusted only when it is
//            >= 0.85x fio;
//   slotfs   the LMCache pattern (write, read, read qd1, unlink) on a fresh
//            mount, once per mode (buffered, odirect);
//   hostdir  the same pattern in a plain directory on the backing
//            filesystem: what users run without slotfs;
//   ext4     with --ext4-loop, the same on ext4 on a loop device.
// The page cache is synced and dropped before each read phase. "read qd1"
// is one reader reading every file whole, one after another: the latency an
// LLM's time-to-first-token feels. Repetition is the outer loop so that a
// noisy moment hits one run of every row rather than every run of one row.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "tools/bench_baseline.h"
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

// sync(), then drops the page cache: all of it when the kernel lets us,
// else the pages of `dir`'s pattern files (posix_fadvise). Says which once
// per backing. Returns the seconds sync() took.
double SyncDrop(const Run& r, const std::string& dir, const PatternOptions& po) {
  bool dropped = false;
  double s = SyncAndDropCaches(&dropped);
  if (dropped) {
    r.report->AddFact(r.b.label, {"throughput", "page cache before reads",
                                  "dropped (sync; echo 3 > /proc/sys/vm/drop_caches)"});
    return s;
  }
  uint64_t failed = DropFileCaches(dir, po);
  r.report->AddFact(r.b.label, {"throughput", "page cache before reads",
                                "posix_fadvise DONTNEED per file (drop_caches refused)"});
  if (failed > 0 && !*r.drop_warned) {
    *r.drop_warned = true;
    r.report->AddNote("the page cache could not be dropped (drop_caches needs root; "
                      "posix_fadvise failed on " + std::to_string(failed) +
                      " files): buffered reads may be served from memory");
  }
  return s;
}

Status CheckInterrupted() {
  return Interrupted() ? Status::Error(EINTR, "interrupted") : Status::Ok();
}

// The ceiling's write, read and read qd1 on `file`.
Status RunCeiling(const Run& r, const PatternOptions& po, const BaselineFile& file) {
  SLOTFS_ASSIGN_OR_RETURN(auto c, Ceiling::Open(file, po));
  r.report->AddFact(r.b.label, {"throughput", "ceiling engine", c->engine()});
  std::string err;
  Progress("%s ceiling write", r.progress.c_str());
  Measurement w = MeasurePhase(-1, [&] { return c->Write(); }, &err);
  Record(r, Key(r, po, "write", "ceiling", ""), w, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s ceiling read", r.progress.c_str());
  Measurement rd = MeasurePhase(-1, [&] { return c->Read(); }, &err);
  Record(r, Key(r, po, "read", "ceiling", ""), rd, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s ceiling read qd1", r.progress.c_str());
  Measurement q = MeasurePhase(-1, [&] { return c->Read(1); }, &err);
  Record(r, Key(r, po, "read qd1", "ceiling", ""), q, err);
  return CheckInterrupted();
}

// fio's write and read on `file`: one job per writer (reader), each on its
// own region, as the ceiling's threads.
Status RunFioPhases(const Run& r, const PatternOptions& po, const BaselineFile& file) {
  struct Phase {
    const char* rw;
    int jobs;
    uint64_t per_job;
  };
  uint64_t read_share = Ceiling::FileBytes(po) / static_cast<uint64_t>(po.readers);
  for (const Phase& p :
       {Phase{"write", po.writers, Ceiling::WriterSpan(po)},
        Phase{"read", po.readers, read_share / kBaselineOpSize * kBaselineOpSize}}) {
    if (p.per_job == 0) continue;
    Progress("%s fio %s", r.progress.c_str(), p.rw);
    auto res = RunFio(file, p.rw, p.jobs, p.per_job, r.o.log);
    if (!res.ok()) return res.status();
    Measurement m;
    m.bytes = res->io_bytes;
    m.gbps = res->bw_bytes / 1e9;
    m.seconds = static_cast<double>(res->io_bytes) / res->bw_bytes;
    m.errors = res->errors;
    Record(r, Key(r, po, p.rw, "fio", ""), m, "fio error " + std::to_string(res->errors));
    SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  }
  return Status::Ok();
}

// The raw-device baselines: one preallocated, written file (the fill pass is
// not timed), the ceiling and fio on it. Which runs first alternates with
// the repetition, so neither always meets the fresher disk.
Status RunBaselines(const Run& r, const PatternOptions& po, int rep) {
  Progress("%s baseline: preallocating and writing %llu MiB (not timed)", r.progress.c_str(),
           static_cast<unsigned long long>(Ceiling::FileBytes(po) >> 20));
  SLOTFS_ASSIGN_OR_RETURN(BaselineFile file,
                          BaselineFile::Create(r.b.work + "/baseline.img", Ceiling::FileBytes(po)));
  r.report->AddFact(r.b.label, {"throughput", "baseline file",
                                file.fallocated() ? "fallocated, then written once (not timed)"
                                                  : "written once (not timed; no fallocate)"});
  const bool fio = !r.o.fio_version.empty();
  if (fio && rep % 2 == 1) SLOTFS_RETURN_IF_ERROR(RunFioPhases(r, po, file));
  SLOTFS_RETURN_IF_ERROR(RunCeiling(r, po, file));
  if (fio && rep % 2 == 0) SLOTFS_RETURN_IF_ERROR(RunFioPhases(r, po, file));
  return Status::Ok();
}

// The pattern's phases on `dir`, with `daemon` (or -1) watched.
Status RunPattern(const Run& r, const PatternOptions& po, const char* system,
                  const std::string& mode, const std::string& dir, pid_t daemon) {
  if (::mkdir(dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + dir);
  std::string err;
  Progress("%s %s %s write", r.progress.c_str(), system, mode.c_str());
  Measurement w = MeasurePhase(daemon, [&] { return WriteFiles(dir, po); }, &err);
  w.sync_s = SyncDrop(r, dir, po);
  Record(r, Key(r, po, "write", system, mode), w, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s %s %s read", r.progress.c_str(), system, mode.c_str());
  Measurement rd = MeasurePhase(daemon, [&] { return ReadFiles(dir, po); }, &err);
  Record(r, Key(r, po, "read", system, mode), rd, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  SyncDrop(r, dir, po);
  Progress("%s %s %s read qd1", r.progress.c_str(), system, mode.c_str());
  PatternOptions one = po;
  one.readers = 1;
  Measurement q = MeasurePhase(daemon, [&] { return ReadFiles(dir, one); }, &err);
  Record(r, Key(r, po, "read qd1", system, mode), q, err);
  SLOTFS_RETURN_IF_ERROR(CheckInterrupted());
  Progress("%s %s %s unlink", r.progress.c_str(), system, mode.c_str());
  Measurement u = MeasurePhase(daemon, [&] { return UnlinkFiles(dir, po); }, &err);
  Record(r, Key(r, po, "unlink", system, mode), u, err);
  return CheckInterrupted();
}

Status RunSlotfs(const Run& r, const PatternOptions& po, const std::string& mode) {
  Progress("%s slotfs %s: mounting", r.progress.c_str(), mode.c_str());
  uint64_t image = po.total_bytes() / 5 * 6 + 64 * kMiB;
  SLOTFS_ASSIGN_OR_RETURN(
      auto fs, SlotfsInstance::Start(r.b.work + "/slotfs", image, r.o.slot_size, r.o.log));
  SLOTFS_RETURN_IF_ERROR(
      RunPattern(r, po, "slotfs", mode, fs->mountpoint() + "/kv", fs->daemon_pid()));
  return fs->Stop();
}

// The pattern in a plain directory of the backing filesystem.
Status RunHostdir(const Run& r, const PatternOptions& po, const std::string& mode) {
  std::string dir = r.b.work + "/hostdir";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // a leftover of an interrupted run
  Cleanup remove([&] { std::filesystem::remove_all(dir, ec); });
  return RunPattern(r, po, "hostdir", mode, dir, -1);
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
    report->AddFact(b.label, {"throughput", "fio", o.fio_version.empty()
                                                      ? "NOT INSTALLED (no fio rows)"
                                                      : o.fio_version});
    report->AddFact(b.label, {"throughput", "slotfs slot size",
                              o.slot_size.empty() ? "format default" : o.slot_size});
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
        SLOTFS_RETURN_IF_ERROR(RunBaselines(run, po, rep));
        for (const std::string& mode : o.modes) {
          po.odirect = mode == "odirect";
          SLOTFS_RETURN_IF_ERROR(RunSlotfs(run, po, mode));
          SLOTFS_RETURN_IF_ERROR(RunHostdir(run, po, mode));
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
