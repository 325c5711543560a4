// slotfs bench metadata: in one flat directory of a fresh slotfs mount, of
// a plain directory on the backing filesystem (the host directory) and, with
// --ext4-loop, of a fresh ext4-on-loop filesystem, on each backing: T
// threads create N empty files (open O_CREAT|O_TRUNC + close), stat them all
// (cold: the caches dropped first), the real `ls -l` of the directory run
// twice (cold, then warm; output to /dev/null), and the threads unlink them.
// Files/s, per-operation p50/p99, and the daemon's peak RSS with N files
// present.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tools/bench_modes.h"
#include "tools/bench_mounts.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

struct MetaRun {
  const BenchOptions& o;
  const Backing& b;
  Report* report;
  std::string progress;
};

// Thread t's share of the files: [begin, end).
std::pair<uint64_t, uint64_t> Slice(const BenchOptions& o, int t) {
  uint64_t n = o.meta_files, threads = static_cast<uint64_t>(o.meta_threads);
  return {n * static_cast<uint64_t>(t) / threads, n * static_cast<uint64_t>(t + 1) / threads};
}

std::string MetaPath(const std::string& dir, uint64_t i) {
  return dir + "/" + PatternFileName(static_cast<int>(i % 64), static_cast<int>(i));
}

// Runs `op(path)` (0 or an errno) on every file, on o.meta_threads threads.
PhaseSample EachFile(const BenchOptions& o, const std::string& dir, const char* what,
                     const std::function<int(const std::string&)>& op) {
  return RunWorkers(o.meta_threads, [&](int t, PhaseSample* s) {
    auto [begin, end] = Slice(o, t);
    for (uint64_t i = begin; i < end && !Interrupted(); ++i) {
      std::string path = MetaPath(dir, i);
      auto t0 = Clock::now();
      int err = op(path);
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (err != 0) {
        s->Fail(ErrnoMessage(std::string(what) + " " + path, err));
      } else {
        s->files++;
      }
    }
  });
}

int CreateOne(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  return ::close(fd) == 0 ? 0 : errno;
}

int StatOne(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  return S_ISREG(st.st_mode) && st.st_size == 0 ? 0 : EBADMSG;
}

int UnlinkOne(const std::string& path) { return ::unlink(path.c_str()) == 0 ? 0 : errno; }

// One `ls -l DIR >/dev/null`, timed; an error unless it exits 0.
PhaseSample ListOnce(const MetaRun& r, const std::string& dir) {
  PhaseSample s;
  auto t0 = Clock::now();
  int rc = RunProgram({"ls", "-l", dir}, r.o.log, Stdout::kDiscard);
  s.seconds = Seconds(Clock::now() - t0);
  if (rc != 0) {
    s.Fail("ls -l " + dir + " exited with " + std::to_string(rc) + "; see " + r.o.log);
  } else {
    s.files = r.o.meta_files;
  }
  return s;
}

uint64_t CountEntries(const std::string& dir) {
  uint64_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

Status Phases(const MetaRun& r, const char* system, const std::string& dir, pid_t daemon) {
  if (::mkdir(dir.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + dir);
  auto phase = [&](const char* name, const std::function<PhaseSample()>& fn) {
    if (Interrupted()) return;
    Progress("%s %s %s", r.progress.c_str(), system, name);
    std::string err;
    Measurement m = MeasurePhase(daemon, fn, &err);
    r.report->Add({"metadata", r.b.label, 0, name, system, ""}, m);
    if (m.errors > 0) {
      r.report->AddNote(r.b.label + " " + system + " " + name + ": " +
                        std::to_string(m.errors) + " errors, first: " + err);
    }
  };
  bool dropped = false;
  phase("create", [&] { return EachFile(r.o, dir, "create", CreateOne); });
  SyncAndDropCaches(&dropped);
  phase("stat", [&] { return EachFile(r.o, dir, "stat", StatOne); });
  SyncAndDropCaches(&dropped);
  phase("ls -l cold", [&] { return ListOnce(r, dir); });
  phase("ls -l warm", [&] { return ListOnce(r, dir); });
  uint64_t listed = CountEntries(dir);
  if (listed != r.o.meta_files && !Interrupted()) {
    r.report->AddNote(r.b.label + " " + system + ": readdir listed " + std::to_string(listed) +
                      " of " + std::to_string(r.o.meta_files) + " files");
  }
  phase("unlink", [&] { return EachFile(r.o, dir, "unlink", UnlinkOne); });
  return Interrupted() ? Status::Error(EINTR, "interrupted") : Status::Ok();
}

}  // namespace

Status RunMetadata(const BenchOptions& o, const std::vector<Backing>& backings,
                   Report* report) {
  report->SetHeadline("metadata", std::to_string(o.meta_files) + " empty files, " +
                                      std::to_string(o.meta_threads) + " threads, " +
                                      std::to_string(o.repeat) + " runs");
  for (const Backing& b : backings) {
    if (!b.metadata) continue;
    report->AddBacking({b.label, b.dir, {}});
    bool ext4 = o.ext4;
    for (int rep = 0; rep < o.repeat; ++rep) {
      MetaRun r{o, b, report,
                "[" + b.label + " metadata run " + std::to_string(rep + 1) + "/" +
                    std::to_string(o.repeat) + "]"};
      {
        Progress("%s slotfs: mounting", r.progress.c_str());
        SLOTFS_ASSIGN_OR_RETURN(auto fs,
                                SlotfsInstance::Start(b.work + "/slotfs", 256 * kMiB, o.slot_size, o.log));
        SLOTFS_RETURN_IF_ERROR(Phases(r, "slotfs", fs->mountpoint() + "/meta", fs->daemon_pid()));
        SLOTFS_RETURN_IF_ERROR(fs->Stop());
      }
      {
        std::string host = b.work + "/hostdir-meta";
        std::error_code ec;
        std::filesystem::remove_all(host, ec);  // a leftover of an interrupted run
        Cleanup remove([&] { std::filesystem::remove_all(host, ec); });
        SLOTFS_RETURN_IF_ERROR(Phases(r, "hostdir", host, -1));
      }
      if (!ext4) continue;
      Progress("%s ext4: mkfs", r.progress.c_str());
      // Room for the inodes: mkfs.ext4 makes one per 16 KiB.
      uint64_t image = o.meta_files * 32 * 1024 + 512 * kMiB;
      auto fs = Ext4Instance::Start(b.work + "/ext4", image, o.log);
      if (!fs.ok() && fs.status().code() == ENODEV) {
        ext4 = false;
        report->AddNote("ext4 skipped on " + b.label + ": " + fs.status().message());
        continue;
      }
      if (!fs.ok()) return fs.status();
      report->AddFact(b.label, {"metadata", "ext4 loop direct I/O",
                                (*fs)->loop_direct_io() ? "on" : "off"});
      SLOTFS_RETURN_IF_ERROR(Phases(r, "ext4", (*fs)->mountpoint() + "/meta", -1));
      SLOTFS_RETURN_IF_ERROR((*fs)->Stop());
    }
  }
  ProgressDone();
  return Status::Ok();
}

}  // namespace slotfs::tools::bench
