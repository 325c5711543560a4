// tests/integration/lmcache_pattern.cc — a standalone driver that reproduces
// the I/O contract of LMCache's local-disk backend (DESIGN.md §1) from
// separate processes, and verifies every byte.
//
// Works on any directory (ext4, tmpfs for buffered mode, a slotfs mount).
// Phases, each separated by a barrier shared by all processes:
//   write      every process writes its own files (generation 1): buffered =
//              open(O_WRONLY|O_CREAT|O_TRUNC) + one write() + close();
//              odirect = open(O_WRONLY|O_CREAT|O_DIRECT) + one write() from
//              a 4096-aligned buffer + close() (no O_TRUNC, as LMCache does).
//   read       readers verify the files of the *next* rank (another process,
//              so close()-to-open visibility across processes is tested):
//              open(O_RDONLY[|O_DIRECT]) + one read() of the whole file from
//              offset 0 into a 4 KiB-aligned buffer, every byte compared.
//   overwrite  writers rewrite every --overwrite-every'th own file with
//              generation 2 while readers concurrently verify the others.
//   read-mixed readers verify all files of the next rank (generation 1 or 2).
//   unlink     writers unlink every --unlink-every'th own file; stat must then
//              say ENOENT.
//   read-after-unlink  unlinked files of the next rank must be ENOENT, every
//              other one still complete and correct.
//   cleanup    (--cleanup) every remaining own file is unlinked.
// Finally the parent lists DIR/sub and checks that exactly the expected names
// of this run are there.
//
// Exit status: 0 every byte matched; 1 a verification or I/O failure (each is
// reported on stderr); 2 usage error; 3 timeout.

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint64_t kAlign = 4096;
constexpr int kMaxProcs = 64;
constexpr int kMaxErrorsPrinted = 20;

enum Phase {
  kWrite,
  kRead,
  kOverwrite,
  kReadMixed,
  kUnlink,
  kReadAfterUnlink,
  kCleanup,
  kNumPhases
};
constexpr const char* kPhaseNames[kNumPhases] = {
    "write", "read", "overwrite", "read-mixed", "unlink", "read-after-unlink",
    "cleanup"};

struct Options {
  std::string dir;
  bool odirect = false;
  uint64_t size = 4ull << 20;
  int files = 16;  // per process
  int writers = 4;
  int readers = 4;
  int procs = 1;
  uint64_t seed = 1;
  int overwrite_every = 3;  // files with index % k == 0 get generation 2
  int unlink_every = 4;     // files with index % k == 1 are unlinked
  int timeout_s = 600;
  bool cleanup = false;
  std::string only;  // "" = all phases; "write" or "verify" = that phase alone
};

// One record per (phase, process), in memory shared by all processes.
struct PhaseRecord {
  int64_t start_ns;
  int64_t end_ns;
  uint64_t files;
  uint64_t bytes;
};

struct Shared {
  pthread_barrier_t barrier;
  std::atomic<uint64_t> failures;
  std::atomic<uint64_t> verified_files;
  std::atomic<uint64_t> verified_bytes;
  PhaseRecord phases[kNumPhases][kMaxProcs];
  // Followed by float latency_ms[kNumPhases][procs * files]; NaN = no op.
};

Options g_opt;
Shared* g_shared = nullptr;
float* g_latency = nullptr;  // in shared memory, see Shared
int g_rank = -1;             // -1 in the parent
std::atomic<int> g_errors_printed{0};
pid_t g_children[kMaxProcs];
int g_num_children = 0;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Reports one failure; every failure counts, the first few are printed.
void Fail(const char* fmt, ...) {
  g_shared->failures.fetch_add(1);
  if (g_errors_printed.fetch_add(1) >= kMaxErrorsPrinted) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "lmcache_pattern: FAIL [rank %d]: %s\n", g_rank, msg);
}

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer: a bijection on uint64_t
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// LMCache key -> file name: key.replace("/", "-") + ".pt". Three in four look
// like a Llama chunk key, one in four like a Qwen key with a negative hash.
std::string FileName(int rank, int index) {
  // Unique per (seed, rank, index) because Mix is a bijection.
  uint64_t h = Mix((g_opt.seed << 36) ^ (uint64_t(rank) << 24) ^ uint64_t(index));
  char buf[160];
  if (index % 4 == 3) {
    snprintf(buf, sizeof buf, "-models-Qwen2.5-7B@%d@%d@-%016" PRIx64 "@half.pt",
             g_opt.procs, rank, h >> 1);
  } else {
    snprintf(buf, sizeof buf,
             "meta-llama-Llama-3.1-8B-Instruct@%d@%d@%016" PRIx64 "@bfloat16.pt",
             g_opt.procs, rank, h);
  }
  return buf;
}

std::string FilePath(int rank, int index) {
  return g_opt.dir + "/sub/" + FileName(rank, index);
}

// Generation a file has after the overwrite phase.
int FinalGeneration(int index) {
  return index % g_opt.overwrite_every == 0 ? 2 : 1;
}
bool IsUnlinked(int index) {
  return g_opt.unlink_every > 0 && index % g_opt.unlink_every == 1 % g_opt.unlink_every;
}

// Content is a deterministic function of (name, seed, generation): 64-bit
// word i of the file is key ^ (i * odd constant), so a byte at the wrong
// offset, from the wrong file or the wrong generation never matches.
uint64_t ContentKey(const std::string& name, int generation) {
  return Fnv1a(name) ^ Mix(g_opt.seed) ^ Mix(0x5107f5ull + uint64_t(generation));
}
constexpr uint64_t kWordStep = 0x9e3779b97f4a7c15ull;

void FillContent(uint8_t* buf, uint64_t size, uint64_t key) {
  uint64_t words = size / 8;
  uint64_t* w = reinterpret_cast<uint64_t*>(buf);
  for (uint64_t i = 0; i < words; ++i) w[i] = key ^ (i * kWordStep);
  if (size % 8) {
    uint64_t last = key ^ (words * kWordStep);
    memcpy(buf + words * 8, &last, size % 8);
  }
}

// Returns the offset of the first byte that differs, or -1 if all match.
int64_t FirstMismatch(const uint8_t* buf, uint64_t size, uint64_t key,
                      uint8_t* expected_byte) {
  uint64_t words = size / 8;
  const uint64_t* w = reinterpret_cast<const uint64_t*>(buf);
  for (uint64_t i = 0; i < words; ++i) {
    uint64_t want = key ^ (i * kWordStep);
    if (w[i] != want) {
      for (int b = 0; b < 8; ++b) {
        uint8_t wb = uint8_t(want >> (8 * b));  // little-endian word layout
        if (buf[i * 8 + b] != wb) {
          *expected_byte = wb;
          return int64_t(i * 8 + b);
        }
      }
    }
  }
  if (size % 8) {
    uint64_t last = key ^ (words * kWordStep);
    uint8_t want[8];
    memcpy(want, &last, 8);
    for (uint64_t b = 0; b < size % 8; ++b) {
      if (buf[words * 8 + b] != want[b]) {
        *expected_byte = want[b];
        return int64_t(words * 8 + b);
      }
    }
  }
  return -1;
}

// A 4 KiB-aligned buffer owned by one thread.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(uint64_t size) {
    uint64_t cap = (size + kAlign - 1) / kAlign * kAlign;
    if (cap == 0) cap = kAlign;
    if (posix_memalign(&p_, kAlign, cap) != 0) {
      fprintf(stderr, "lmcache_pattern: out of memory (%" PRIu64 " bytes)\n", cap);
      _exit(1);
    }
    memset(p_, 0, cap);
  }
  ~AlignedBuffer() { free(p_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data() { return static_cast<uint8_t*>(p_); }

 private:
  void* p_ = nullptr;
};

// LMCache uses O_DIRECT only when the size is a multiple of f_bsize (4096).
bool UseDirect() { return g_opt.odirect && g_opt.size % kAlign == 0; }

void RecordLatency(Phase phase, int rank, int index, int64_t ns) {
  g_latency[size_t(phase) * g_opt.procs * g_opt.files +
            size_t(rank) * g_opt.files + size_t(index)] = float(ns / 1e6);
}

// Writes one whole file exactly as LMCache does. Returns true on success.
bool WriteOne(Phase phase, int index, int generation, AlignedBuffer& buf) {
  std::string name = FileName(g_rank, index);
  std::string path = g_opt.dir + "/sub/" + name;
  FillContent(buf.data(), g_opt.size, ContentKey(name, generation));
  int flags = O_WRONLY | O_CREAT | (UseDirect() ? O_DIRECT : O_TRUNC);
  int64_t t0 = NowNs();
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) {
    Fail("%s: open(%s) failed: %s", kPhaseNames[phase], path.c_str(), strerror(errno));
    return false;
  }
  bool ok = true;
  ssize_t n = write(fd, buf.data(), g_opt.size);
  if (n < 0) {
    Fail("%s: write(%s, %" PRIu64 " bytes) failed: %s", kPhaseNames[phase],
         path.c_str(), g_opt.size, strerror(errno));
    ok = false;
  } else if (uint64_t(n) != g_opt.size) {
    Fail("%s: short write(%s): %zd of %" PRIu64 " bytes", kPhaseNames[phase],
         path.c_str(), n, g_opt.size);
    ok = false;
  }
  if (close(fd) != 0) {
    Fail("%s: close(%s) failed: %s", kPhaseNames[phase], path.c_str(), strerror(errno));
    ok = false;
  }
  RecordLatency(phase, g_rank, index, NowNs() - t0);
  return ok;
}

// Reads one whole file of `rank` exactly as LMCache does and verifies it.
bool ReadOne(Phase phase, int rank, int index, int generation, AlignedBuffer& buf) {
  std::string name = FileName(rank, index);
  std::string path = g_opt.dir + "/sub/" + name;
  int64_t t0 = NowNs();
  int fd = open(path.c_str(), O_RDONLY | (UseDirect() ? O_DIRECT : 0));
  if (fd < 0) {
    Fail("%s: open(%s) failed: %s", kPhaseNames[phase], path.c_str(), strerror(errno));
    return false;
  }
  bool ok = true;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Fail("%s: fstat(%s) failed: %s", kPhaseNames[phase], path.c_str(), strerror(errno));
    ok = false;
  } else if (uint64_t(st.st_size) != g_opt.size) {
    Fail("%s: %s has size %lld, expected %" PRIu64, kPhaseNames[phase], path.c_str(),
         (long long)st.st_size, g_opt.size);
    ok = false;
  }
  ssize_t n = read(fd, buf.data(), g_opt.size);
  int read_errno = errno;
  close(fd);
  RecordLatency(phase, rank, index, NowNs() - t0);
  if (n < 0) {
    Fail("%s: read(%s, %" PRIu64 " bytes) failed: %s", kPhaseNames[phase], path.c_str(),
         g_opt.size, strerror(read_errno));
    return false;
  }
  if (uint64_t(n) != g_opt.size) {
    Fail("%s: short read(%s): %zd of %" PRIu64 " bytes", kPhaseNames[phase],
         path.c_str(), n, g_opt.size);
    return false;
  }
  uint8_t want = 0;
  int64_t bad = FirstMismatch(buf.data(), g_opt.size, ContentKey(name, generation), &want);
  if (bad >= 0) {
    Fail("%s: %s (generation %d): first mismatch at byte offset %" PRId64
         " (expected 0x%02x, got 0x%02x)",
         kPhaseNames[phase], path.c_str(), generation, bad, want, buf.data()[bad]);
    return false;
  }
  g_shared->verified_files.fetch_add(1);
  g_shared->verified_bytes.fetch_add(g_opt.size);
  return ok;
}

bool ExpectGone(Phase phase, int rank, int index) {
  std::string path = FilePath(rank, index);
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    Fail("%s: %s still exists after unlink (size %lld)", kPhaseNames[phase],
         path.c_str(), (long long)st.st_size);
    return false;
  }
  if (errno != ENOENT) {
    Fail("%s: stat(%s) after unlink: %s, expected ENOENT", kPhaseNames[phase],
         path.c_str(), strerror(errno));
    return false;
  }
  return true;
}

bool UnlinkOne(Phase phase, int index) {
  std::string path = FilePath(g_rank, index);
  int64_t t0 = NowNs();
  int rc = unlink(path.c_str());
  RecordLatency(phase, g_rank, index, NowNs() - t0);
  if (rc != 0) {
    Fail("%s: unlink(%s) failed: %s", kPhaseNames[phase], path.c_str(), strerror(errno));
    return false;
  }
  return ExpectGone(phase, g_rank, index);
}

// Runs fn(thread, index) on `threads` threads over every index in `indices`
// (thread t takes indices[t], indices[t + threads], ...).
template <typename Fn>
std::vector<std::thread> Spawn(int threads, const std::vector<int>& indices, Fn fn) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([t, threads, &indices, fn] {
      AlignedBuffer buf(g_opt.size);
      for (size_t k = t; k < indices.size(); k += threads) fn(indices[k], buf);
    });
  }
  return ts;
}

void Join(std::vector<std::thread>& ts) {
  for (auto& t : ts) t.join();
  ts.clear();
}

void Barrier() {
  int rc = pthread_barrier_wait(&g_shared->barrier);
  if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
    fprintf(stderr, "lmcache_pattern: barrier failed: %s\n", strerror(rc));
    _exit(1);
  }
}

// Runs one phase between barriers and records its wall time.
template <typename Body>
void RunPhase(Phase phase, uint64_t files, Body body) {
  Barrier();
  PhaseRecord& rec = g_shared->phases[phase][g_rank];
  rec.start_ns = NowNs();
  body();
  rec.end_ns = NowNs();
  rec.files = files;
  rec.bytes = (phase == kUnlink || phase == kCleanup) ? 0 : files * g_opt.size;
}

void ChildMain(int rank) {
  g_rank = rank;
  alarm(g_opt.timeout_s);  // default action kills a stuck child
  const int next = (rank + 1) % g_opt.procs;
  const int W = g_opt.writers, R = g_opt.readers;

  std::vector<int> all, overwritten, untouched, unlinked, kept;
  for (int i = 0; i < g_opt.files; ++i) {
    all.push_back(i);
    (FinalGeneration(i) == 2 ? overwritten : untouched).push_back(i);
    (IsUnlinked(i) ? unlinked : kept).push_back(i);
  }

  if (g_opt.only != "verify") {
    RunPhase(kWrite, all.size(), [&] {
      auto ws = Spawn(W, all, [](int i, AlignedBuffer& b) { WriteOne(kWrite, i, 1, b); });
      Join(ws);
    });
  }
  if (g_opt.only == "write") {
    Barrier();
    _exit(0);
  }
  RunPhase(kRead, all.size(), [&] {
    auto rs = Spawn(R, all, [next](int i, AlignedBuffer& b) { ReadOne(kRead, next, i, 1, b); });
    Join(rs);
  });
  if (g_opt.only == "verify") {
    Barrier();
    _exit(0);
  }
  // Writers replace some files while readers verify the others concurrently.
  RunPhase(kOverwrite, overwritten.size() + untouched.size(), [&] {
    auto ws = Spawn(W, overwritten,
                    [](int i, AlignedBuffer& b) { WriteOne(kOverwrite, i, 2, b); });
    auto rs = Spawn(R, untouched, [next](int i, AlignedBuffer& b) {
      ReadOne(kOverwrite, next, i, 1, b);
    });
    Join(ws);
    Join(rs);
  });
  RunPhase(kReadMixed, all.size(), [&] {
    auto rs = Spawn(R, all, [next](int i, AlignedBuffer& b) {
      ReadOne(kReadMixed, next, i, FinalGeneration(i), b);
    });
    Join(rs);
  });
  RunPhase(kUnlink, unlinked.size(), [&] {
    // Unlink needs no data buffer; Spawn's buffer is unused but cheap enough
    // only for small sizes, so unlink on plain threads instead.
    std::vector<std::thread> ts;
    for (int t = 0; t < W; ++t) {
      ts.emplace_back([t, W, &unlinked] {
        for (size_t k = t; k < unlinked.size(); k += W) UnlinkOne(kUnlink, unlinked[k]);
      });
    }
    Join(ts);
  });
  RunPhase(kReadAfterUnlink, kept.size(), [&] {
    for (int i : unlinked) ExpectGone(kReadAfterUnlink, next, i);
    auto rs = Spawn(R, kept, [next](int i, AlignedBuffer& b) {
      ReadOne(kReadAfterUnlink, next, i, FinalGeneration(i), b);
    });
    Join(rs);
  });
  RunPhase(kCleanup, g_opt.cleanup ? kept.size() : 0, [&] {
    if (!g_opt.cleanup) return;
    for (int i : kept) UnlinkOne(kCleanup, i);
  });
  Barrier();
  _exit(0);
}

bool ParseSize(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s) return false;
  uint64_t mult = 1;
  if (*end) {
    switch (*end) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: return false;
    }
    if (end[1] != '\0') return false;
  }
  *out = v * mult;
  return true;
}

[[noreturn]] void Usage(const char* why) {
  if (why) fprintf(stderr, "lmcache_pattern: %s\n", why);
  fprintf(stderr,
          "Usage: lmcache_pattern --dir DIR [--mode buffered|odirect] [--size BYTES[K|M|G]]\n"
          "         [--files N (per process)] [--writers W] [--readers R] [--procs P]\n"
          "         [--seed S] [--overwrite-every K] [--unlink-every K] [--timeout SEC]\n"
          "         [--cleanup] [--only write|verify]\n"
          "Writes, verifies, overwrites and unlinks files in DIR/sub the way LMCache's\n"
          "local-disk backend does. Exit 0 only if every byte matched.\n"
          "--files counts files per process. --only write leaves the generation-1\n"
          "files in place; a later --only verify run with the same arguments checks them\n"
          "(e.g. across an unmount and remount).\n");
  exit(why ? 2 : 0);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    bool has_inline = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_inline) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&]() -> const char* {
      if (has_inline) return v.c_str();
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto integer = [&](int lo, int hi) {
      const char* s = value();
      char* end = nullptr;
      long x = strtol(s, &end, 10);
      if (end == s || *end || x < lo || x > hi) {
        Usage((a + " must be an integer in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "]").c_str());
      }
      return int(x);
    };
    if (a == "--help" || a == "-h") {
      Usage(nullptr);
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--mode") {
      std::string m = value();
      if (m == "buffered") o.odirect = false;
      else if (m == "odirect") o.odirect = true;
      else Usage("--mode must be buffered or odirect");
    } else if (a == "--size") {
      if (!ParseSize(value(), &o.size) || o.size == 0) Usage("bad --size");
    } else if (a == "--files") {
      o.files = integer(1, 1 << 20);
    } else if (a == "--writers") {
      o.writers = integer(1, 256);
    } else if (a == "--readers") {
      o.readers = integer(1, 256);
    } else if (a == "--procs") {
      o.procs = integer(1, kMaxProcs);
    } else if (a == "--seed") {
      const char* s = value();
      char* end = nullptr;
      o.seed = strtoull(s, &end, 0);
      if (end == s || *end) Usage("bad --seed");
    } else if (a == "--overwrite-every") {
      o.overwrite_every = integer(1, 1 << 20);
    } else if (a == "--unlink-every") {
      o.unlink_every = integer(0, 1 << 20);
    } else if (a == "--timeout") {
      o.timeout_s = integer(1, 86400);
    } else if (a == "--only") {
      o.only = value();
      if (o.only != "write" && o.only != "verify") Usage("--only must be write or verify");
    } else if (a == "--cleanup") {
      o.cleanup = true;
    } else {
      Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.dir.empty()) Usage("--dir is required");
  if (!o.only.empty() && o.cleanup) Usage("--cleanup cannot be combined with --only");
  while (o.dir.size() > 1 && o.dir.back() == '/') o.dir.pop_back();
  return o;
}

int MkdirP(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    if (!cur.empty() && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return -1;
    pos = next;
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

void OnAlarm(int) {
  static const char msg[] = "lmcache_pattern: FAIL: timeout, killing workers\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  for (int i = 0; i < g_num_children; ++i) kill(g_children[i], SIGKILL);
  _exit(3);
}

double Percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

void Report() {
  const size_t per_phase = size_t(g_opt.procs) * g_opt.files;
  for (int p = 0; p < kNumPhases; ++p) {
    int64_t start = INT64_MAX, end = 0;
    uint64_t files = 0, bytes = 0;
    for (int r = 0; r < g_opt.procs; ++r) {
      const PhaseRecord& rec = g_shared->phases[p][r];
      start = std::min(start, rec.start_ns);
      end = std::max(end, rec.end_ns);
      files += rec.files;
      bytes += rec.bytes;
    }
    if (files == 0) continue;
    std::vector<float> lat;
    for (size_t k = 0; k < per_phase; ++k) {
      float x = g_latency[size_t(p) * per_phase + k];
      if (!std::isnan(x)) lat.push_back(x);
    }
    double secs = std::max(1e-9, (end - start) / 1e9);
    double p50 = Percentile(lat, 0.50), p99 = Percentile(lat, 0.99);
    printf("%-18s %6" PRIu64 " files %10.1f MiB %8.3f s %9.1f files/s %7.3f GB/s"
           "  p50 %7.2f ms  p99 %7.2f ms\n",
           kPhaseNames[p], files, bytes / 1048576.0, secs, files / secs,
           bytes / 1e9 / secs, p50, p99);
  }
}

// Checks that DIR/sub holds exactly the names this run should have left.
void CheckListing() {
  std::set<std::string> present;
  std::string sub = g_opt.dir + "/sub";
  DIR* d = opendir(sub.c_str());
  if (!d) {
    Fail("opendir(%s) failed: %s", sub.c_str(), strerror(errno));
    return;
  }
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (!present.insert(e->d_name).second) Fail("readdir(%s) returned %s twice", sub.c_str(), e->d_name);
  }
  if (errno != 0) Fail("readdir(%s) failed: %s", sub.c_str(), strerror(errno));
  closedir(d);
  for (int r = 0; r < g_opt.procs; ++r) {
    for (int i = 0; i < g_opt.files; ++i) {
      bool expected = !g_opt.only.empty() || (!IsUnlinked(i) && !g_opt.cleanup);
      std::string name = FileName(r, i);
      bool listed = present.count(name) > 0;
      if (expected && !listed) Fail("readdir(%s) does not list %s", sub.c_str(), name.c_str());
      if (!expected && listed) Fail("readdir(%s) still lists deleted %s", sub.c_str(), name.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_opt = ParseArgs(argc, argv);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  // Shared memory: Shared followed by the latency table.
  const size_t lat_count = size_t(kNumPhases) * g_opt.procs * g_opt.files;
  const size_t shm_size = sizeof(Shared) + lat_count * sizeof(float);
  void* shm = mmap(nullptr, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) {
    perror("lmcache_pattern: mmap");
    return 1;
  }
  g_shared = new (shm) Shared();
  g_latency = reinterpret_cast<float*>(static_cast<char*>(shm) + sizeof(Shared));
  std::fill(g_latency, g_latency + lat_count, NAN);
  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&g_shared->barrier, &attr, unsigned(g_opt.procs));

  printf("lmcache_pattern: dir=%s mode=%s size=%" PRIu64 " files/proc=%d procs=%d "
         "writers=%d readers=%d seed=%" PRIu64 "%s\n",
         g_opt.dir.c_str(), g_opt.odirect ? "odirect" : "buffered", g_opt.size,
         g_opt.files, g_opt.procs, g_opt.writers, g_opt.readers, g_opt.seed,
         g_opt.odirect && !UseDirect() ? " (size not a multiple of 4096: buffered I/O, as LMCache)" : "");

  // LMCache: os.makedirs(path, exist_ok=True), then statvfs(path).f_bsize.
  std::string sub = g_opt.dir + "/sub";
  if (MkdirP(sub) != 0) {
    fprintf(stderr, "lmcache_pattern: FAIL: mkdir -p %s: %s\n", sub.c_str(), strerror(errno));
    return 1;
  }
  struct statvfs vfs;
  if (statvfs(sub.c_str(), &vfs) != 0) {
    fprintf(stderr, "lmcache_pattern: FAIL: statvfs(%s): %s\n", sub.c_str(), strerror(errno));
    return 1;
  }
  if (vfs.f_bsize != kAlign) {
    fprintf(stderr, "lmcache_pattern: FAIL: statvfs(%s).f_bsize = %lu, expected 4096\n",
            sub.c_str(), (unsigned long)vfs.f_bsize);
    return 1;
  }

  signal(SIGALRM, OnAlarm);
  for (int r = 0; r < g_opt.procs; ++r) {
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      perror("lmcache_pattern: fork");
      for (int i = 0; i < g_num_children; ++i) kill(g_children[i], SIGKILL);
      return 1;
    }
    if (pid == 0) {
      signal(SIGALRM, SIG_DFL);
      ChildMain(r);
    }
    g_children[g_num_children++] = pid;
  }
  alarm(g_opt.timeout_s + 5);

  // Reap workers in whatever order they finish; if one dies, the others are
  // stuck on the barrier, so kill them.
  bool child_failed = false;
  for (int left = g_num_children; left > 0;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    --left;
    int rank = 0;
    while (rank < g_num_children && g_children[rank] != pid) ++rank;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    if (WIFSIGNALED(status)) {
      if (!child_failed || WTERMSIG(status) != SIGKILL) {
        fprintf(stderr, "lmcache_pattern: FAIL: worker %d killed by signal %d%s\n", rank,
                WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
      }
    } else {
      fprintf(stderr, "lmcache_pattern: FAIL: worker %d exited with %d\n", rank,
              WEXITSTATUS(status));
    }
    if (!child_failed) {
      child_failed = true;
      for (int i = 0; i < g_num_children; ++i) {
        if (g_children[i] != pid) kill(g_children[i], SIGKILL);
      }
    }
  }
  alarm(0);
  if (!child_failed) CheckListing();

  Report();
  uint64_t failures = g_shared->failures.load();
  if (child_failed || failures != 0) {
    fprintf(stderr, "lmcache_pattern: FAIL: %" PRIu64 " failure(s)%s; %" PRIu64
            " file reads verified before that\n",
            failures, child_failed ? " and a worker died" : "",
            g_shared->verified_files.load());
    return 1;
  }
  if (g_opt.only == "write") {
    printf("lmcache_pattern: OK: %d files written\n", g_opt.procs * g_opt.files);
  } else {
    printf("lmcache_pattern: OK: %" PRIu64 " whole-file reads verified (%.1f MiB), every byte matched\n",
           g_shared->verified_files.load(), g_shared->verified_bytes.load() / 1048576.0);
  }
  return 0;
}
