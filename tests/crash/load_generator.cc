// tests/crash/load_generator.cc — the load of the kill -9 crash loop
// (crash_loop_test.cc), a separate process so that its death, EIO or
// ENOTCONN when the daemon is killed cannot hurt the test process.
//
//   crash_load_generator --dir MOUNT --log-dir DIR --iteration I --seed S
//                        [--workers 4] [--names 64] [--duration-ms 0]
//
// Each worker thread owns a fixed subset of the names of crash_common.h and
// loops over random operations on them until killed (or --duration-ms):
//   - whole-file buffered write: open(O_WRONLY|O_CREAT|O_TRUNC), one or a
//     few write()s, sometimes fsync(), close()  (LMCache's buffered path)
//   - O_DIRECT write: open(O_WRONLY|O_CREAT|O_DIRECT) without O_TRUNC, one
//     write() from a 4096-aligned buffer of a 4096-multiple size no smaller
//     than the file (so it replaces every byte), close()  (LMCache's path)
//   - partial rewrite: open(O_WRONLY|O_CREAT) without O_TRUNC, the new
//     generation written as several pwrite()s in random order with short
//     pauses (a kill in between leaves a torn *uncommitted* file), then
//     ftruncate() if it shrank, sometimes fsync(), close()
//   - read-and-verify of a whole file (sometimes O_DIRECT), every byte
//   - unlink
//   - write a temp name, close, rename() it over a name; sometimes then
//     open the target read-only and fsync() it
//   - rename one owned name over another
//   - open read-only + fsync() of a file whose generation is known
// and logs every step (format in crash_common.h) with one write(2) per line.
// A worker stops at the first ENOTCONN/ECONNABORTED (the daemon is gone).
//
// Exit status: 0 if no operation failed and every read verified; 1
// otherwise (errors are in the logs); 2 usage.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/crash_common.h"

namespace {

using namespace slotfs::crash;

constexpr uint64_t kAlign = 4096;

struct Options {
  std::string dir;
  std::string log_dir;
  int iteration = 0;
  uint64_t seed = 1;
  int workers = kDefaultWorkers;
  int names = kDefaultNames;
  uint64_t duration_ms = 0;
};

std::atomic<bool> g_failed{false};

// What a worker knows about one of its names.
struct Known {
  enum State { kUnknown, kAbsent, kPresent } state = kUnknown;
  uint64_t gen = 0;
  uint64_t size = 0;
};

struct AlignedBuf {
  uint8_t* p = nullptr;
  size_t cap = 0;
  void Reserve(size_t n) {
    if (n <= cap) return;
    free(p);
    cap = (n + kAlign - 1) / kAlign * kAlign;
    if (posix_memalign(reinterpret_cast<void**>(&p), kAlign, cap) != 0) abort();
  }
  ~AlignedBuf() { free(p); }
};

class Worker {
 public:
  Worker(const Options& o, int id, const std::vector<NameInfo>& all)
      : o_(o), id_(id), rng_(Mix64(o.seed ^ Mix64(uint64_t(id) + 1))) {
    for (const auto& n : all) {
      if (n.owner != id) continue;
      (n.temp ? temps_ : names_).push_back(n);
    }
    known_.resize(names_.size());
    known_temp_.resize(temps_.size());
    std::string path = LogPath(o.log_dir, o.iteration, id);
    log_fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd_ < 0) {
      fprintf(stderr, "crash_load_generator: open(%s): %s\n", path.c_str(), strerror(errno));
      exit(2);
    }
  }
  ~Worker() {
    if (log_fd_ >= 0) close(log_fd_);
  }

  void Run() {
    Log("S %d start iteration %d names %zu temps %zu", id_, o_.iteration, names_.size(), temps_.size());
    // What is on disk now (the checker knows the generations; we only need
    // presence and size).
    for (size_t i = 0; i < names_.size(); ++i) Probe(names_[i], &known_[i]);
    for (size_t i = 0; i < temps_.size(); ++i) Probe(temps_[i], &known_temp_[i]);
    const uint64_t start = MonoNs();
    while (!dead_) {
      if (o_.duration_ms && MonoNs() - start > o_.duration_ms * 1000000ull) break;
      if (errors_ > 2000) break;  // something is badly wrong; the log says what
      size_t i = Pick(names_.size());
      int op = int(Pick(100));
      if (op < 24) WriteTrunc(names_[i], &known_[i]);
      else if (op < 38) WriteDirect(names_[i], &known_[i]);
      else if (op < 52) WritePartial(names_[i], &known_[i]);
      else if (op < 70) Read(names_[i], known_[i]);
      else if (op < 78) Unlink(names_[i], &known_[i]);
      else if (op < 88) WriteTempAndRename(i);
      else if (op < 93) RenameOver(i);
      else FsyncExisting(names_[i], known_[i]);
    }
    Log("S %d stop ops %llu errors %llu%s", id_, (unsigned long long)ops_,
        (unsigned long long)errors_, dead_ ? " (mount gone)" : "");
  }

 private:
  uint64_t Pick(uint64_t n) { return n ? rng_() % n : 0; }
  std::string Path(const NameInfo& n) const { return o_.dir + "/" + n.name; }

  void Log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%llu ", (unsigned long long)MonoNs());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - size_t(n) - 1, fmt, ap);
    va_end(ap);
    if (n > int(sizeof line) - 2) n = int(sizeof line) - 2;
    line[n++] = '\n';
    // One write(2) per line: a SIGKILL leaves whole lines only.
    if (write(log_fd_, line, size_t(n)) != n) {
      fprintf(stderr, "crash_load_generator: log write failed: %s\n", strerror(errno));
      exit(2);
    }
  }

  // Records a failed syscall; marks the worker dead if the mount is gone.
  void Fail(const char* op, const NameInfo& n, int err, const char* what = "") {
    ++errors_;
    g_failed = true;
    Log("E %s %s %d %s%s%s", op, n.name.c_str(), err, strerror(err), *what ? ": " : "", what);
    if (err == ENOTCONN || err == ECONNABORTED) dead_ = true;
  }

  void Probe(const NameInfo& n, Known* k) {
    struct stat st;
    if (stat(Path(n).c_str(), &st) == 0) {
      k->state = Known::kUnknown;  // present, generation unknown until read
      k->size = uint64_t(st.st_size);
    } else if (errno == ENOENT) {
      k->state = Known::kAbsent;
    } else {
      Fail("stat", n, errno);
      k->state = Known::kUnknown;
    }
  }

  uint64_t NextGen() { return MakeGen(o_.iteration, id_, ++counter_); }

  uint64_t PickSize(const NameInfo& n) {
    uint64_t max = n.max_size;
    uint64_t s;
    switch (Pick(4)) {
      case 0: s = kMinSize + Pick(std::min<uint64_t>(max, 64 << 10) - kMinSize); break;
      case 1: s = kMinSize + Pick(max - kMinSize + 1); break;
      default: s = std::max<uint64_t>(kMinSize, max / (1 + Pick(8))); break;
    }
    if (Pick(2) == 0) s = std::max<uint64_t>(kAlign, s / kAlign * kAlign);  // 4096-multiple
    else if (s % kAlign == 0) s += 1 + Pick(kAlign - 1);                    // not a multiple
    return std::min(s, max);
  }

  // Current size on disk (the worker owns the name; nobody else changes it).
  bool CurrentSize(const NameInfo& n, uint64_t* size, bool* exists) {
    struct stat st;
    if (stat(Path(n).c_str(), &st) == 0) {
      *size = uint64_t(st.st_size);
      *exists = true;
      return true;
    }
    if (errno == ENOENT) {
      *size = 0;
      *exists = false;
      return true;
    }
    Fail("stat", n, errno);
    return false;
  }

  bool WriteAll(int fd, const NameInfo& n, const uint8_t* p, size_t len, uint64_t off) {
    size_t done = 0;
    while (done < len) {
      ssize_t w = pwrite(fd, p + done, len - done, off_t(off + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        Fail("write", n, errno);
        return false;
      }
      if (size_t(w) != len - done) {
        char what[96];
        snprintf(what, sizeof what, "short write: %zd of %zu bytes at %llu", w, len - done,
                 (unsigned long long)(off + done));
        Fail("write", n, EIO, what);
        return false;
      }
      done += size_t(w);
    }
    return true;
  }

  // Optional fsync, then close; logs F and C.
  bool Finish(int fd, const NameInfo& n, uint64_t gen, bool do_fsync) {
    if (do_fsync) {
      if (fsync(fd) != 0) {
        Fail("fsync", n, errno);
        close(fd);
        return false;
      }
      Log("F %s %" PRIx64, n.name.c_str(), gen);
    }
    if (close(fd) != 0) {
      Fail("close", n, errno);
      return false;
    }
    Log("C %s %" PRIx64, n.name.c_str(), gen);
    return true;
  }

  // Buffered open(O_TRUNC) + whole-file write(s).
  bool WriteTrunc(const NameInfo& n, Known* k) {
    ++ops_;
    uint64_t gen = NextGen(), size = PickSize(n);
    buf_.Reserve(size);
    FillContent(buf_.p, gen, size, 0, size);
    k->state = Known::kUnknown;
    Log("W %s %" PRIx64 " %" PRIu64 " trunc", n.name.c_str(), gen, size);
    int fd = open(Path(n).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      Fail("open", n, errno);
      return false;
    }
    bool ok;
    if (Pick(3) == 0 && size > 1) {
      // A few write()s of uneven lengths.
      uint64_t off = 0;
      ok = true;
      while (ok && off < size) {
        uint64_t len = std::min<uint64_t>(size - off, 1 + Pick(size / 2 + 1));
        ok = WriteAll(fd, n, buf_.p + off, len, off);
        off += len;
      }
    } else {
      ok = WriteAll(fd, n, buf_.p, size, 0);
    }
    if (!ok) {
      close(fd);
      return false;
    }
    if (!Finish(fd, n, gen, Pick(4) == 0)) return false;
    *k = {Known::kPresent, gen, size};
    return true;
  }

  // O_DIRECT without O_TRUNC: one aligned write() covering the whole file.
  bool WriteDirect(const NameInfo& n, Known* k) {
    ++ops_;
    uint64_t cur = 0;
    bool exists = false;
    if (!CurrentSize(n, &cur, &exists)) return false;
    uint64_t size = std::max(PickSize(n), cur);
    size = std::max<uint64_t>(kAlign, (size + kAlign - 1) / kAlign * kAlign);
    if (size > n.max_size) size = n.max_size / kAlign * kAlign;  // max sizes are 4096-multiples
    if (size < cur) return WriteTrunc(n, k);  // cannot happen; keeps the invariant obvious
    uint64_t gen = NextGen();
    buf_.Reserve(size);
    FillContent(buf_.p, gen, size, 0, size);
    k->state = Known::kUnknown;
    Log("W %s %" PRIx64 " %" PRIu64 " direct", n.name.c_str(), gen, size);
    int fd = open(Path(n).c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    if (fd < 0) {
      Fail("open", n, errno, "O_DIRECT");
      return false;
    }
    ssize_t w = write(fd, buf_.p, size);
    if (w != ssize_t(size)) {
      if (w < 0) Fail("write", n, errno, "O_DIRECT");
      else Fail("write", n, EIO, "short O_DIRECT write");
      close(fd);
      return false;
    }
    if (!Finish(fd, n, gen, Pick(6) == 0)) return false;
    *k = {Known::kPresent, gen, size};
    return true;
  }

  // The new generation as several pwrite()s in random order, no O_TRUNC.
  bool WritePartial(const NameInfo& n, Known* k) {
    ++ops_;
    uint64_t cur = 0;
    bool exists = false;
    if (!CurrentSize(n, &cur, &exists)) return false;
    uint64_t gen = NextGen(), size = PickSize(n);
    buf_.Reserve(size);
    FillContent(buf_.p, gen, size, 0, size);
    // Chunk boundaries: 2..6 pieces, some unaligned.
    std::vector<uint64_t> cuts{0, size};
    int pieces = 2 + int(Pick(5));
    for (int i = 1; i < pieces; ++i) {
      uint64_t c = Pick(size);
      if (Pick(2)) c = c / kAlign * kAlign;
      cuts.push_back(c);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::vector<size_t> order(cuts.size() - 1);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng_);
    k->state = Known::kUnknown;
    Log("W %s %" PRIx64 " %" PRIu64 " partial", n.name.c_str(), gen, size);
    int fd = open(Path(n).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      Fail("open", n, errno, "partial");
      return false;
    }
    for (size_t j : order) {
      if (!WriteAll(fd, n, buf_.p + cuts[j], cuts[j + 1] - cuts[j], cuts[j])) {
        close(fd);
        return false;
      }
      if (Pick(3) == 0) usleep(useconds_t(Pick(3000)));  // widen the torn window
    }
    if (size < cur && ftruncate(fd, off_t(size)) != 0) {
      Fail("ftruncate", n, errno);
      close(fd);
      return false;
    }
    if (!Finish(fd, n, gen, Pick(4) == 0)) return false;
    *k = {Known::kPresent, gen, size};
    return true;
  }

  // Reads and checks every byte; returns the generation read (0 if none).
  uint64_t Read(const NameInfo& n, const Known& k) {
    ++ops_;
    struct stat st;
    if (stat(Path(n).c_str(), &st) != 0) {
      int err = errno;
      if (err == ENOENT && k.state != Known::kPresent) return 0;
      Fail("stat", n, err, k.state == Known::kPresent ? "a file known to be present" : "");
      return 0;
    }
    if (k.state == Known::kAbsent) {
      Fail("stat", n, EEXIST, "a file this worker removed is present");
      return 0;
    }
    uint64_t size = uint64_t(st.st_size);
    bool direct = size % kAlign == 0 && Pick(2) == 0;
    int fd = open(Path(n).c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0) {
      Fail("open", n, errno, direct ? "read O_DIRECT" : "read");
      return 0;
    }
    size_t cap = (size + kAlign) / kAlign * kAlign;  // room to see EOF
    buf_.Reserve(cap);
    // LMCache: one read of the whole file from offset 0.
    ssize_t r = read(fd, buf_.p, size);
    if (r < 0) {
      Fail("read", n, errno);
      close(fd);
      return 0;
    }
    if (uint64_t(r) != size) {
      char what[96];
      snprintf(what, sizeof what, "short read: %zd of %llu bytes", r, (unsigned long long)size);
      Fail("read", n, EIO, what);
      close(fd);
      return 0;
    }
    ssize_t more = direct ? 0 : read(fd, buf_.p + size, kAlign);
    close(fd);
    if (more != 0) {
      char what[96];
      snprintf(what, sizeof what, "read past the stat size %llu returned %zd",
               (unsigned long long)size, more);
      Fail("read", n, more < 0 ? errno : EIO, what);
      return 0;
    }
    uint64_t gen = 0;
    std::string why;
    if (!VerifyContent(buf_.p, size, &gen, &why)) {
      g_failed = true;
      ++errors_;
      Log("M %s %s%s", n.name.c_str(), why.c_str(), direct ? " (O_DIRECT read)" : "");
      return 0;
    }
    if (k.state == Known::kPresent && (gen != k.gen || size != k.size)) {
      g_failed = true;
      ++errors_;
      Log("M %s read generation %" PRIx64 " of %" PRIu64 " bytes, expected %" PRIx64 " of %" PRIu64
          " bytes",
          n.name.c_str(), gen, size, k.gen, k.size);
      return 0;
    }
    Log("V %s %" PRIx64, n.name.c_str(), gen);
    return gen;
  }

  bool Unlink(const NameInfo& n, Known* k) {
    ++ops_;
    if (k->state == Known::kAbsent) return true;
    Log("u %s", n.name.c_str());
    const Known::State before = k->state;
    k->state = Known::kUnknown;
    if (unlink(Path(n).c_str()) != 0) {
      int err = errno;
      if (err == ENOENT && before != Known::kPresent) {
        k->state = Known::kAbsent;
        return false;
      }
      Fail("unlink", n, err);
      return false;
    }
    Log("U %s", n.name.c_str());
    *k = {Known::kAbsent, 0, 0};
    return true;
  }

  void WriteTempAndRename(size_t i) {
    size_t t = Pick(temps_.size());
    const NameInfo& tmp = temps_[t];
    Known* kt = &known_temp_[t];
    if (!WriteTrunc(tmp, kt)) return;
    Known moved = *kt;
    const NameInfo& dst = names_[i];
    Log("r %s %s %" PRIx64, tmp.name.c_str(), dst.name.c_str(), moved.gen);
    kt->state = Known::kUnknown;
    known_[i].state = Known::kUnknown;
    if (rename(Path(tmp).c_str(), Path(dst).c_str()) != 0) {
      Fail("rename", tmp, errno, dst.name.c_str());
      return;
    }
    Log("R %s %s %" PRIx64, tmp.name.c_str(), dst.name.c_str(), moved.gen);
    *kt = {Known::kAbsent, 0, 0};
    known_[i] = moved;
    if (Pick(3) == 0) FsyncExisting(dst, known_[i]);
  }

  void RenameOver(size_t i) {
    ++ops_;
    size_t j = Pick(names_.size());
    if (j == i || known_[i].state != Known::kPresent) return;
    const NameInfo& src = names_[i];
    const NameInfo& dst = names_[j];
    Known moved = known_[i];
    Log("r %s %s %" PRIx64, src.name.c_str(), dst.name.c_str(), moved.gen);
    known_[i].state = Known::kUnknown;
    known_[j].state = Known::kUnknown;
    if (rename(Path(src).c_str(), Path(dst).c_str()) != 0) {
      Fail("rename", src, errno, dst.name.c_str());
      return;
    }
    Log("R %s %s %" PRIx64, src.name.c_str(), dst.name.c_str(), moved.gen);
    known_[i] = {Known::kAbsent, 0, 0};
    known_[j] = moved;
  }

  // open(O_RDONLY) + fsync(): the known generation must then survive.
  void FsyncExisting(const NameInfo& n, const Known& k) {
    ++ops_;
    if (k.state != Known::kPresent) return;
    int fd = open(Path(n).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      Fail("open", n, errno, "for fsync");
      return;
    }
    if (fsync(fd) != 0) {
      Fail("fsync", n, errno, "read-only fd");
      close(fd);
      return;
    }
    Log("F %s %" PRIx64, n.name.c_str(), k.gen);
    close(fd);
  }

  const Options& o_;
  const int id_;
  std::mt19937_64 rng_;
  std::vector<NameInfo> names_, temps_;
  std::vector<Known> known_, known_temp_;
  AlignedBuf buf_;
  int log_fd_ = -1;
  uint64_t counter_ = 0;
  uint64_t ops_ = 0, errors_ = 0;
  bool dead_ = false;
};

[[noreturn]] void Usage(const char* why) {
  fprintf(stderr,
          "crash_load_generator: %s\n"
          "usage: crash_load_generator --dir MOUNT --log-dir DIR --iteration I --seed S\n"
          "                            [--workers N] [--names N] [--duration-ms MS]\n",
          why);
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--dir") o.dir = val();
    else if (a == "--log-dir") o.log_dir = val();
    else if (a == "--iteration") o.iteration = atoi(val().c_str());
    else if (a == "--seed") o.seed = strtoull(val().c_str(), nullptr, 0);
    else if (a == "--workers") o.workers = atoi(val().c_str());
    else if (a == "--names") o.names = atoi(val().c_str());
    else if (a == "--duration-ms") o.duration_ms = strtoull(val().c_str(), nullptr, 0);
    else Usage(("unknown argument " + a).c_str());
  }
  if (o.dir.empty() || o.log_dir.empty()) Usage("--dir and --log-dir are required");
  if (o.workers < 1 || o.workers > 64 || o.names < o.workers || o.iteration < 0) {
    Usage("bad --workers/--names/--iteration");
  }
  // The checker's name set must exist: "kv" is created by it (or by us when
  // run by hand).
  mkdir((o.dir + "/" + kSubDir).c_str(), 0755);

  std::vector<NameInfo> all = NameSet(o.workers, o.names);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < o.workers; ++w) workers.push_back(std::make_unique<Worker>(o, w, all));
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();
  return g_failed ? 1 : 0;
}
