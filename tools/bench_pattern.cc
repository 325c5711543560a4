// The LMCache access pattern as timed phases on a directory (see
// bench_pattern.h).
#include "tools/bench_pattern.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <latch>
#include <thread>

#include "blockdev/aligned_buffer.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

constexpr uint64_t kStampEvery = 1ull << 20;
constexpr uint64_t kStampMagic = 0x736c6f7466736231ull;  // "slotfsb1"

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t StampWord(int writer, int index, uint64_t mib) {
  return kStampMagic ^ Mix((uint64_t(writer) << 40) ^ (uint64_t(index) << 20) ^ mib);
}

std::string PathOf(const std::string& dir, int writer, int index) {
  return dir + "/" + PatternFileName(writer, index);
}

}  // namespace

void PhaseSample::Fail(const std::string& message) {
  if (errors++ == 0) first_error = message;
}

void PhaseSample::Merge(PhaseSample&& o) {
  files += o.files;
  bytes += o.bytes;
  latency_s.insert(latency_s.end(), o.latency_s.begin(), o.latency_s.end());
  if (o.errors > 0 && errors == 0) first_error = std::move(o.first_error);
  errors += o.errors;
}

PhaseSample RunWorkers(int threads, const std::function<void(int, PhaseSample*)>& fn) {
  std::vector<PhaseSample> samples(static_cast<size_t>(threads));
  std::vector<Clock::time_point> start(samples.size()), end(samples.size());
  std::latch go(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      go.arrive_and_wait();
      start[t] = Clock::now();
      fn(t, &samples[t]);
      end[t] = Clock::now();
    });
  }
  for (auto& th : pool) th.join();
  PhaseSample out;
  for (auto& s : samples) out.Merge(std::move(s));
  out.seconds = Seconds(*std::max_element(end.begin(), end.end()) -
                        *std::min_element(start.begin(), start.end()));
  return out;
}

std::string PatternFileName(int writer, int index) {
  char buf[128];
  std::snprintf(buf, sizeof buf,
                "meta-llama-Llama-3.1-8B-Instruct@4@%d@%016" PRIx64 "@bfloat16.pt", writer,
                Mix((uint64_t(writer) << 32) | uint64_t(index)));
  return buf;
}

void FillRandom(uint8_t* buf, uint64_t len, uint64_t seed) {
  uint64_t x = Mix(seed) | 1;
  for (uint64_t i = 0; i + 8 <= len; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(buf + i, &x, 8);
  }
}

void StampFile(uint8_t* buf, uint64_t len, int writer, int index) {
  for (uint64_t off = 0; off < len; off += kStampEvery) {
    uint64_t w = StampWord(writer, index, off / kStampEvery);
    std::memcpy(buf + off, &w, 8);
  }
  uint64_t tail = StampWord(writer, index, ~0ull);  // the last 8 bytes
  std::memcpy(buf + len - 8, &tail, 8);
}

std::string CheckStamps(const uint8_t* buf, uint64_t len, int writer, int index) {
  for (uint64_t off = 0; off < len; off += kStampEvery) {
    uint64_t w;
    std::memcpy(&w, buf + off, 8);
    if (w != StampWord(writer, index, off / kStampEvery)) {
      return "wrong bytes at offset " + std::to_string(off);
    }
  }
  uint64_t tail;
  std::memcpy(&tail, buf + len - 8, 8);
  if (tail != StampWord(writer, index, ~0ull)) return "wrong bytes at the end";
  return "";
}

PhaseSample WriteFiles(const std::string& dir, const PatternOptions& o) {
  const int flags = o.odirect ? O_WRONLY | O_CREAT | O_DIRECT : O_WRONLY | O_CREAT | O_TRUNC;
  return RunWorkers(o.writers, [&](int w, PhaseSample* s) {
    blockdev::AlignedBuffer buf(o.file_size);
    FillRandom(buf.data(), o.file_size, static_cast<uint64_t>(w) + 1);
    for (int i = 0; i < o.files_per_writer && !Interrupted(); ++i) {
      StampFile(buf.data(), o.file_size, w, i);
      std::string path = PathOf(dir, w, i);
      auto t0 = Clock::now();
      UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
      if (!fd.ok()) {
        s->Fail(ErrnoMessage("open " + path, errno));
        continue;
      }
      ssize_t n = ::write(fd.get(), buf.data(), o.file_size);
      int write_err = errno;
      int close_rc = fd.Close();
      int close_err = errno;
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (n != static_cast<ssize_t>(o.file_size)) {
        s->Fail(n < 0 ? ErrnoMessage("write " + path, write_err)
                      : "short write to " + path + ": " + std::to_string(n) + " bytes");
      } else if (close_rc != 0) {
        s->Fail(ErrnoMessage("close " + path, close_err));
      } else {
        s->files++;
        s->bytes += o.file_size;
      }
    }
  });
}

PhaseSample ReadFiles(const std::string& dir, const PatternOptions& o) {
  const int flags = o.odirect ? O_RDONLY | O_DIRECT : O_RDONLY;
  const uint64_t total = o.total_files();
  return RunWorkers(o.readers, [&](int r, PhaseSample* s) {
    blockdev::AlignedBuffer buf(o.file_size);
    // Reader r takes every R-th file, interleaving the writers' files.
    for (uint64_t k = static_cast<uint64_t>(r); k < total && !Interrupted();
         k += static_cast<uint64_t>(o.readers)) {
      int w = static_cast<int>(k % static_cast<uint64_t>(o.writers));
      int i = static_cast<int>(k / static_cast<uint64_t>(o.writers));
      std::string path = PathOf(dir, w, i);
      auto t0 = Clock::now();
      UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
      if (!fd.ok()) {
        s->Fail(ErrnoMessage("open " + path, errno));
        continue;
      }
      ssize_t n = ::read(fd.get(), buf.data(), o.file_size);
      int read_err = errno;
      fd.Close();
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (n != static_cast<ssize_t>(o.file_size)) {
        s->Fail(n < 0 ? ErrnoMessage("read " + path, read_err)
                      : "short read of " + path + ": " + std::to_string(n) + " bytes");
        continue;
      }
      std::string bad = CheckStamps(buf.data(), o.file_size, w, i);
      if (!bad.empty()) {
        s->Fail(path + ": " + bad);
        continue;
      }
      s->files++;
      s->bytes += o.file_size;
    }
  });
}

PhaseSample UnlinkFiles(const std::string& dir, const PatternOptions& o) {
  return RunWorkers(o.writers, [&](int w, PhaseSample* s) {
    for (int i = 0; i < o.files_per_writer && !Interrupted(); ++i) {
      std::string path = PathOf(dir, w, i);
      auto t0 = Clock::now();
      int rc = ::unlink(path.c_str());
      int err = errno;
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (rc != 0 && err != ENOENT) {
        s->Fail(ErrnoMessage("unlink " + path, err));
      } else if (rc == 0) {
        s->files++;
      }
    }
  });
}

uint64_t DropFileCaches(const std::string& dir, const PatternOptions& o) {
  uint64_t failed = 0;
  for (int w = 0; w < o.writers; ++w) {
    for (int i = 0; i < o.files_per_writer; ++i) {
      UniqueFd fd(::open(PathOf(dir, w, i).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.ok() || ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED) != 0) ++failed;
    }
  }
  return failed;
}

}  // namespace slotfs::tools::bench
