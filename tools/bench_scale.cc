// slotfs bench scale --files N: the daemon's memory with N files, twice: all
// in one directory ("flat"), then spread round-robin over --dirs directories
// ("spread"). Each layout gets a fresh image populated through the index
// (PopulateIndex; real bytes only for the read sample) and a daemon with
// default options, then these phases, each timed, with the daemon's VmRSS
// after it and its VmHWM during it (reset before each phase):
//   mount    spawn to the first file being stat'able (recovery included)
//   stat     a random sample of files, stat(2) on several threads
//   read     the files with content, whole, O_DIRECT, as many threads as
//            the daemon has FUSE workers; every byte checked (and verified
//            against its checksum by the daemon)
//   readdir  every directory listed with readdir(3), entries counted (the
//            kernel's dentries and inodes dropped first)
//   ls -l    the real `ls -l` (spread: `ls -lR`), output discarded (caches
//            dropped first)
// Reports whether the highest figure stays within kRssBoundMiB.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "tools/bench_pattern.h"
#include "tools/bench_scale.h"
#include "tools/bench_util.h"
#include "tools/cli_util.h"

namespace slotfs::tools::bench {
namespace {

// A process's memory from /proc/PID/status, MiB.
struct Mem {
  double rss = 0, hwm = 0, anon = 0, file = 0, shmem = 0;
};

Mem ReadMem(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  Mem m;
  auto field = [&](const char* key, double* out) {
    size_t n = std::strlen(key);
    if (line.compare(0, n, key) == 0) {
      *out = static_cast<double>(std::strtoull(line.c_str() + n, nullptr, 10)) / 1024;
    }
  };
  while (std::getline(in, line)) {
    field("VmRSS:", &m.rss);
    field("VmHWM:", &m.hwm);
    field("RssAnon:", &m.anon);
    field("RssFile:", &m.file);
    field("RssShmem:", &m.shmem);
  }
  return m;
}

struct PhaseResult {
  std::string layout, phase;
  uint64_t files = 0, bytes = 0, errors = 0;
  double seconds = 0;
  bool rate = true;  // files/s is meaningful
  Mem mem;           // after the phase; mem.hwm is the peak during it
  std::string first_error;
};

struct LayoutRun {
  const ScaleOptions& o;
  PopulateSpec spec;
  std::string name;  // "flat" or "spread"
  std::string work, image, db, mnt, log;
  double populate_s = 0;
  pid_t pid = -1;
  std::vector<PhaseResult>* results;
  bool peak_reset = true;  // clear_refs accepted
};

std::string P(const LayoutRun& r, uint64_t i) { return r.mnt + "/" + ScaleFilePath(r.spec, i); }

// Runs one phase with the daemon's peak reset before it.
void Phase(LayoutRun& r, const char* name, bool rate, const std::function<PhaseSample()>& fn) {
  if (Interrupted()) return;
  Progress("[%s] %s", r.name.c_str(), name);
  if (!ResetPeakRss(r.pid)) r.peak_reset = false;
  PhaseSample s = fn();
  PhaseResult p;
  p.layout = r.name;
  p.phase = name;
  p.files = s.files;
  p.bytes = s.bytes;
  p.errors = s.errors;
  p.seconds = s.seconds;
  p.rate = rate;
  p.first_error = s.first_error;
  p.mem = ReadMem(r.pid);
  r.results->push_back(std::move(p));
}

PhaseSample StatSample(const LayoutRun& r) {
  std::vector<uint64_t> sample(r.o.stat_sample);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, r.spec.files - 1);
  for (uint64_t& i : sample) i = pick(rng);
  std::vector<std::string> paths;
  paths.reserve(sample.size());
  for (uint64_t i : sample) paths.push_back(P(r, i));
  uint64_t size = r.spec.file_size;
  int threads = r.o.stat_threads;
  return RunWorkers(threads, [&](int t, PhaseSample* s) {
    for (size_t k = static_cast<size_t>(t); k < paths.size() && !Interrupted();
         k += static_cast<size_t>(threads)) {
      struct stat st;
      if (::stat(paths[k].c_str(), &st) != 0) {
        s->Fail(ErrnoMessage("stat " + paths[k], errno));
      } else if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size) {
        s->Fail("stat " + paths[k] + ": not a regular file of " + std::to_string(size) + " B");
      } else {
        s->files++;
      }
    }
  });
}

// Reads file i whole with O_DIRECT into `buf` (size + 4096 bytes, aligned)
// and checks its words; "" or what went wrong.
std::string ReadOne(const LayoutRun& r, uint64_t i, uint8_t* buf) {
  std::string path = P(r, i);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
  if (!fd.ok()) return ErrnoMessage("open " + path, errno);
  uint64_t size = r.spec.file_size, got = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf + got, size + 4096 - got);
    if (n < 0) return ErrnoMessage("read " + path, errno);
    if (n == 0) break;
    got += static_cast<uint64_t>(n);
    if (got > size) break;
  }
  if (got != size) {
    return "read " + path + ": " + std::to_string(got) + " bytes, expected " +
           std::to_string(size);
  }
  const auto* words = reinterpret_cast<const uint64_t*>(buf);
  for (uint64_t w = 0; w < size / 8; ++w) {
    if (words[w] != PatternWord(i, w)) {
      return "read " + path + ": wrong bytes at offset " + std::to_string(w * 8);
    }
  }
  return "";
}

PhaseSample ReadSample(const LayoutRun& r) {
  int threads = r.o.read_threads;
  const std::vector<uint64_t>& files = r.spec.content;
  return RunWorkers(threads, [&](int t, PhaseSample* s) {
    void* mem = nullptr;
    if (::posix_memalign(&mem, 4096, r.spec.file_size + 4096) != 0) {
      s->Fail("out of memory");
      return;
    }
    Cleanup release([mem] { std::free(mem); });
    for (size_t k = static_cast<size_t>(t); k < files.size() && !Interrupted();
         k += static_cast<size_t>(threads)) {
      std::string err = ReadOne(r, files[k], static_cast<uint8_t*>(mem));
      if (!err.empty()) {
        s->Fail(err);
      } else {
        s->files++;
        s->bytes += r.spec.file_size;
      }
    }
  });
}

// Entries other than "." and ".." in `dir` (directories listed into
// `subdirs` when given); -1 on error.
int64_t ListDir(const std::string& dir, std::vector<std::string>* subdirs) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int64_t n = 0;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    ++n;
    if (subdirs && e->d_type == DT_DIR) subdirs->push_back(dir + "/" + e->d_name);
  }
  int err = errno;
  ::closedir(d);
  return err ? -1 : n;
}

PhaseSample ReaddirAll(const LayoutRun& r) {
  PhaseSample s;
  auto t0 = Clock::now();
  std::string top = r.mnt + "/kv";
  std::vector<std::string> dirs;
  if (r.spec.dirs > 1) {
    if (ListDir(top, &dirs) != static_cast<int64_t>(r.spec.dirs)) {
      s.Fail("readdir " + top + ": expected " + std::to_string(r.spec.dirs) + " directories");
    }
  } else {
    dirs.push_back(top);
  }
  uint64_t total = 0;
  for (const std::string& d : dirs) {
    if (Interrupted()) break;
    int64_t n = ListDir(d, nullptr);
    if (n < 0) {
      s.Fail(ErrnoMessage("readdir " + d, errno));
    } else {
      total += static_cast<uint64_t>(n);
    }
  }
  s.seconds = Seconds(Clock::now() - t0);
  s.files = total;
  if (total != r.spec.files && !Interrupted()) {
    s.Fail("readdir listed " + std::to_string(total) + " files of " +
           std::to_string(r.spec.files));
  }
  return s;
}

PhaseSample LsAll(const LayoutRun& r) {
  PhaseSample s;
  auto t0 = Clock::now();
  std::string top = r.mnt + "/kv";
  int rc = RunProgram({"ls", r.spec.dirs > 1 ? "-lR" : "-l", top}, r.log, Stdout::kDiscard);
  s.seconds = Seconds(Clock::now() - t0);
  if (rc != 0) {
    s.Fail("ls -l " + top + " exited with " + std::to_string(rc) + "; see " + r.log);
  } else {
    s.files = r.spec.files;
  }
  return s;
}

void DropCaches() {
  bool dropped = false;
  SyncAndDropCaches(&dropped);
}

Status RunLayout(LayoutRun& r) {
  std::error_code ec;
  std::filesystem::remove_all(r.work, ec);
  std::filesystem::create_directories(r.mnt, ec);
  if (ec) return Status::Error(EIO, "cannot create " + r.mnt + ": " + ec.message());
  // One 1 MiB slot per file, with usage at 80 %, below the default
  // eviction watermark (95 %): nothing is evicted while measuring. The
  // image is sparse.
  uint64_t size = (r.spec.files * 5 / 4 + 1024) * (1ull << 20) + (1ull << 20);
  Progress("[%s] format", r.name.c_str());
  if (RunSelf({"format", r.image, "--size", std::to_string(size)}, r.log) != 0) {
    return Status::Error(EIO, "format failed; see " + r.log);
  }
  auto t0 = Clock::now();
  SLOTFS_RETURN_IF_ERROR(PopulateIndex(r.image, r.db, r.spec));
  r.populate_s = Seconds(Clock::now() - t0);
  Cleanup remove([&] {
    std::filesystem::remove(r.image, ec);
    std::filesystem::remove(r.db, ec);
    std::filesystem::remove(r.db + "-wal", ec);
    std::filesystem::remove(r.db + "-shm", ec);
  });

  Progress("[%s] mount", r.name.c_str());
  auto start = Clock::now();
  r.pid = SpawnSelf({"mount", r.image, r.mnt, "-f", "--log-level", "warn"}, r.log);
  Cleanup kill([&] { KillAndDetach(r.pid, r.mnt); });
  if (!WaitReady(r.mnt, P(r, 0), r.pid, std::chrono::seconds(300))) {
    return Status::Error(EIO, "the mount did not come up; see " + r.log);
  }
  PhaseResult m;
  m.layout = r.name;
  m.phase = "mount";
  m.files = r.spec.files;
  m.seconds = Seconds(Clock::now() - start);
  m.rate = false;
  m.mem = ReadMem(r.pid);
  r.results->push_back(m);

  Phase(r, "stat", true, [&] { return StatSample(r); });
  Phase(r, "read", true, [&] { return ReadSample(r); });
  DropCaches();
  Phase(r, "readdir", true, [&] { return ReaddirAll(r); });
  DropCaches();
  Phase(r, "ls -l", true, [&] { return LsAll(r); });
  if (Interrupted()) return Status::Error(EINTR, "interrupted");

  // A clean unmount; the guard kills the daemon if that fails.
  if (RunProgram({"fusermount3", "-u", r.mnt}, r.log) == 0 &&
      WaitExit(r.pid, std::chrono::seconds(60))) {
    kill.Dismiss();
  }
  return Status::Ok();
}

double MaxOf(const std::vector<PhaseResult>& v, double Mem::*field) {
  double m = 0;
  for (const PhaseResult& p : v) m = std::max(m, p.mem.*field);
  return m;
}

void PrintJson(const ScaleOptions& o, const std::vector<LayoutRun>& runs,
               const std::vector<PhaseResult>& results, bool peaks_per_phase) {
  std::printf("{\"benchmark\":\"scale\",\"files\":%llu,\"dirs\":%llu,\"stat_sample\":%llu,"
              "\"read_sample\":%llu,\"read_threads\":%d,\"bound_mib\":%.0f,"
              "\"peaks_per_phase\":%s,\"layouts\":[",
              static_cast<unsigned long long>(o.files), static_cast<unsigned long long>(o.dirs),
              static_cast<unsigned long long>(o.stat_sample),
              static_cast<unsigned long long>(o.read_sample), o.read_threads, kRssBoundMiB,
              peaks_per_phase ? "true" : "false");
  for (size_t l = 0; l < runs.size(); ++l) {
    const LayoutRun& r = runs[l];
    std::printf("%s{\"layout\":\"%s\",\"dirs\":%llu,\"populate_s\":%.2f,\"phases\":[",
                l ? "," : "", r.name.c_str(), static_cast<unsigned long long>(r.spec.dirs),
                r.populate_s);
    bool first = true;
    for (const PhaseResult& p : results) {
      if (p.layout != r.name) continue;
      std::printf("%s{\"phase\":\"%s\",\"files\":%llu,\"bytes\":%llu,\"seconds\":%.4f,",
                  first ? "" : ",", p.phase.c_str(), static_cast<unsigned long long>(p.files),
                  static_cast<unsigned long long>(p.bytes), p.seconds);
      if (p.rate && p.seconds > 0) {
        std::printf("\"files_per_s\":%.0f,", static_cast<double>(p.files) / p.seconds);
      } else {
        std::printf("\"files_per_s\":null,");
      }
      std::printf("\"rss_mib\":%.1f,\"peak_rss_mib\":%.1f,\"rss_anon_mib\":%.1f,"
                  "\"rss_file_mib\":%.1f,\"rss_shmem_mib\":%.1f,\"errors\":%llu}",
                  p.mem.rss, p.mem.hwm, p.mem.anon, p.mem.file, p.mem.shmem,
                  static_cast<unsigned long long>(p.errors));
      first = false;
    }
    std::printf("]}");
  }
  double peak = MaxOf(results, &Mem::hwm);
  std::printf("],\"max_rss_mib\":%.1f,\"max_peak_rss_mib\":%.1f,\"within_bound\":%s}\n",
              MaxOf(results, &Mem::rss), peak, peak <= kRssBoundMiB ? "true" : "false");
}

void PrintTable(const ScaleOptions& o, const std::vector<LayoutRun>& runs,
                const std::vector<PhaseResult>& results, bool peaks_per_phase) {
  std::printf("scale: %llu files, default mount options; stat %llu random files, read %llu "
              "(O_DIRECT, %d threads)\n",
              static_cast<unsigned long long>(o.files),
              static_cast<unsigned long long>(o.stat_sample),
              static_cast<unsigned long long>(o.read_sample), o.read_threads);
  for (const LayoutRun& r : runs) {
    std::printf("\n%s: %llu %s (populated in %.1f s)\n", r.name.c_str(),
                static_cast<unsigned long long>(r.spec.dirs),
                r.spec.dirs > 1 ? "directories" : "directory", r.populate_s);
    std::printf("  %-8s %9s %9s %10s %8s %8s %8s %8s %8s\n", "phase", "files", "seconds",
                "files/s", "RSS MiB", "peak", "anon", "file", "shmem");
    for (const PhaseResult& p : results) {
      if (p.layout != r.name) continue;
      char rate[32] = "-";
      if (p.rate && p.seconds > 0) {
        std::snprintf(rate, sizeof rate, "%.0f", static_cast<double>(p.files) / p.seconds);
      }
      std::printf("  %-8s %9llu %9.2f %10s %8.1f %8.1f %8.1f %8.1f %8.1f\n", p.phase.c_str(),
                  static_cast<unsigned long long>(p.files), p.seconds, rate, p.mem.rss,
                  p.mem.hwm, p.mem.anon, p.mem.file, p.mem.shmem);
    }
  }
  double peak = MaxOf(results, &Mem::hwm);
  std::printf("\nhighest daemon RSS %.1f MiB, peak %.1f MiB: %s the %.0f MiB bound\n",
              MaxOf(results, &Mem::rss), peak, peak <= kRssBoundMiB ? "within" : "ABOVE",
              kRssBoundMiB);
  if (!peaks_per_phase) {
    std::printf("note: clear_refs was refused; peaks are since the daemon started\n");
  }
}

}  // namespace

int RunScale(const ScaleOptions& o) {
  if (o.files == 0 || o.dirs == 0 || o.stat_threads < 1 || o.read_threads < 1) {
    PrintError("--files and --dirs must be positive");
    return kExitUsage;
  }
  std::string dir = o.dir.empty() ? "/var/tmp/slotfs-bench-scale" : AbsolutePath(o.dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    PrintError("cannot create " + dir + ": " + ec.message());
    return kExitFailure;
  }
  std::string log = dir + "/bench.log";
  std::ofstream(log, std::ios::trunc).flush();
  InstallInterruptHandler();

  std::vector<LayoutRun> runs;
  std::vector<PhaseResult> results;
  for (uint64_t dirs : {uint64_t{1}, o.dirs}) {
    if (dirs == 1 && !runs.empty()) break;  // --dirs 1: flat only
    LayoutRun r{o, {}, dirs == 1 ? "flat" : "spread", "", "", "", "", log};
    r.work = dir + "/" + r.name;
    r.image = r.work + "/slotfs.img";
    r.db = r.image + ".db";
    r.mnt = r.work + "/mnt";
    r.results = &results;
    r.spec.files = o.files;
    r.spec.dirs = dirs;
    r.spec.file_size = 1ull << 20;
    // The read sample: evenly spread over the files (and directories).
    uint64_t reads = std::min(o.read_sample, o.files);
    for (uint64_t k = 0; k < reads; ++k) r.spec.content.push_back(k * o.files / reads);
    Status st = RunLayout(r);
    runs.push_back(std::move(r));
    std::filesystem::remove_all(runs.back().work, ec);
    if (!st.ok()) {
      ProgressDone();
      PrintError(runs.back().name + ": " + st.message());
      return kExitFailure;
    }
  }
  ProgressDone();
  bool peaks = std::all_of(runs.begin(), runs.end(), [](const LayoutRun& r) {
    return r.peak_reset;
  });
  if (o.json) {
    PrintJson(o, runs, results, peaks);
  } else {
    PrintTable(o, runs, results, peaks);
    std::printf("log: %s\n", log.c_str());
  }
  uint64_t errors = 0;
  for (const PhaseResult& p : results) {
    errors += p.errors;
    if (p.errors) PrintError(p.layout + " " + p.phase + ": " + p.first_error);
  }
  return errors ? kExitFailure : kExitOk;
}

}  // namespace slotfs::tools::bench
