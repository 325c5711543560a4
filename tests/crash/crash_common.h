// tests/crash/crash_common.h — what the kill -9 crash loop's load generator
// (load_generator.cc) and its checker (crash_loop_test.cc) must agree on:
// the name set, who owns which name, the size classes, the content of a
// generation and the event log format.
//
// Content. A generation is a globally unique 64-bit number; generation g of
// size s is the bytes Content(g, s): a 32-byte header (magic, g, s, a check
// word) followed by a pseudo-random stream seeded by g. A file therefore
// says which generation it claims to be, and every byte of it can be checked
// against that claim: a file mixing two generations, cut short, extended,
// or holding zeros is caught. Generation numbers are
//   (iteration + 1) << 40 | worker << 32 | per-worker counter
// so they grow along each worker's history and across iterations.
//
// Names. kNames regular names (LMCache-style keys, some in the "kv"
// sub-directory, some short) plus two temp names per worker used for
// write-then-rename. Every name is owned by exactly one worker, so a name's
// history is that worker's log, in order.
//
// Log. One file per worker and iteration, one line per event, each written
// with a single write(2) to the host filesystem (which outlives the daemon):
//   <mono_ns> W <name> <gen> <size> <how>   about to open <name> to write gen
//                                          (how: trunc | direct | partial)
//   <mono_ns> F <name> <gen>                fsync() returned, <name> holds gen
//   <mono_ns> C <name> <gen>                close() returned after writing gen
//   <mono_ns> u <name>                      about to unlink
//   <mono_ns> U <name>                      unlink() returned 0
//   <mono_ns> r <src> <dst> <gen>           about to rename src (holding gen)
//   <mono_ns> R <src> <dst> <gen>           rename() returned 0
//   <mono_ns> V <name> <gen>                a read verified every byte of gen
//   <mono_ns> E <op> <name> <errno> <text>  an operation failed
//   <mono_ns> M <name> <text>               a read returned wrong bytes
//   <mono_ns> S <worker> <text>             worker start/stop notes
// Lower-case events are intents, logged *before* the syscall: anything the
// syscall can change on disk has its intent line in the log.
#ifndef SLOTFS_TESTS_CRASH_CRASH_COMMON_H_
#define SLOTFS_TESTS_CRASH_CRASH_COMMON_H_

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace slotfs::crash {

inline constexpr int kDefaultWorkers = 4;
inline constexpr int kDefaultNames = 64;
inline constexpr uint64_t kHeaderSize = 32;
inline constexpr uint64_t kMinSize = 64;
inline constexpr uint64_t kMagic = 0x48534152434c5453ull;  // "STLCRASH" little-endian
inline constexpr const char* kSubDir = "kv";

inline uint64_t Mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline uint64_t MakeGen(int iteration, int worker, uint64_t counter) {
  return (uint64_t(iteration) + 1) << 40 | uint64_t(worker) << 32 | (counter & 0xffffffffull);
}
inline int GenIteration(uint64_t gen) { return int(gen >> 40) - 1; }

// The 8-byte word at word index `w` of generation `gen` (before the header).
inline uint64_t ContentWord(uint64_t gen, uint64_t w) {
  return Mix64(gen * 0xd6e8feb86659fd93ull ^ Mix64(w));
}

inline uint64_t HeaderCheck(uint64_t gen, uint64_t size) { return Mix64(gen ^ Mix64(size) ^ kMagic); }

// Writes bytes [off, off + len) of generation `gen` of size `size` into dst.
inline void FillContent(uint8_t* dst, uint64_t gen, uint64_t size, uint64_t off, size_t len) {
  uint64_t header[4] = {kMagic, gen, size, HeaderCheck(gen, size)};
  uint64_t pos = off;
  const uint64_t end = off + len;
  while (pos < end) {
    uint64_t w = pos / 8;
    uint64_t word = w < 4 ? header[w] : ContentWord(gen, w);
    uint64_t in = pos % 8;
    uint64_t n = std::min<uint64_t>(8 - in, end - pos);
    memcpy(dst + (pos - off), reinterpret_cast<const uint8_t*>(&word) + in, n);
    pos += n;
  }
}

// What a file's first bytes claim. False if there is no valid header.
inline bool ParseHeader(const uint8_t* data, size_t len, uint64_t* gen, uint64_t* size) {
  if (len < kHeaderSize) return false;
  uint64_t h[4];
  memcpy(h, data, sizeof h);
  if (h[0] != kMagic || h[3] != HeaderCheck(h[1], h[2])) return false;
  *gen = h[1];
  *size = h[2];
  return true;
}

// Checks that data[0, len) is exactly one complete generation, explaining
// in *why if not. Sets *gen to the generation the header claims (0 if there
// is no valid header).
inline bool VerifyContent(const uint8_t* data, size_t len, uint64_t* gen, std::string* why) {
  uint64_t g = 0, s = 0;
  *gen = 0;
  if (!ParseHeader(data, len, &g, &s)) {
    char b[160];
    uint64_t first = 0;
    memcpy(&first, data, std::min<size_t>(8, len));
    bool zero = std::all_of(data, data + std::min<size_t>(len, 4096), [](uint8_t c) { return c == 0; });
    snprintf(b, sizeof b, "no valid generation header (size %zu, first word 0x%016llx%s)", len,
             (unsigned long long)first, zero ? ", first 4 KiB all zero" : "");
    *why = b;
    return false;
  }
  *gen = g;
  if (s != len) {
    char b[160];
    snprintf(b, sizeof b, "header says generation %#llx of %llu bytes, file has %zu bytes",
             (unsigned long long)g, (unsigned long long)s, len);
    *why = b;
    return false;
  }
  // Compare word by word from the header on.
  uint8_t want[8];
  for (uint64_t pos = kHeaderSize; pos < len; pos += 8) {
    size_t n = std::min<uint64_t>(8, len - pos);
    FillContent(want, g, s, pos, n);
    if (memcmp(want, data + pos, n) != 0) {
      size_t at = pos;
      while (at < pos + n && want[at - pos] == data[at]) ++at;
      // Which generation do the bytes at the mismatch belong to, if it is
      // recognisably one (a torn mix)? We cannot know without candidates;
      // report zeros specially.
      bool zero = std::all_of(data + at, data + std::min<size_t>(len, at + 4096),
                              [](uint8_t c) { return c == 0; });
      size_t bad = 0;
      for (uint64_t p = pos; p < len; p += 8) {
        size_t m = std::min<uint64_t>(8, len - p);
        FillContent(want, g, s, p, m);
        bad += memcmp(want, data + p, m) != 0;
      }
      char b[256];
      snprintf(b, sizeof b,
               "claims generation %#llx of %llu bytes but differs from it at offset %zu "
               "(%zu of %llu 8-byte words after it differ%s)",
               (unsigned long long)g, (unsigned long long)s, at, bad,
               (unsigned long long)((len - pos + 7) / 8), zero ? "; zeros there" : "");
      *why = b;
      *gen = g;
      return false;
    }
  }
  *gen = g;
  return true;
}

// Does data[0, len) equal generation `gen` of `size` bytes? (Used to name
// the source of torn bytes in a report.)
inline bool MatchesAt(const uint8_t* data, size_t len, uint64_t gen, uint64_t size, uint64_t off,
                      size_t n) {
  if (off + n > len || off + n > size) return false;
  std::vector<uint8_t> want(n);
  FillContent(want.data(), gen, size, off, n);
  return memcmp(want.data(), data + off, n) == 0;
}

struct NameInfo {
  std::string name;  // path relative to the mount root
  int owner = 0;     // worker index
  uint64_t max_size = 0;
  bool temp = false;  // a write-then-rename temp name
};

// The fixed name set for `workers` workers and `names` regular names.
inline std::vector<NameInfo> NameSet(int workers, int names) {
  std::vector<NameInfo> out;
  for (int i = 0; i < names; ++i) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)Mix64(uint64_t(i) + 7));
    std::string n;
    switch (i % 4) {
      case 0: n = "meta-llama-Llama-3.1-8B-Instruct@1@0@" + std::string(hex) + "@bfloat16.pt"; break;
      case 1: n = std::string(kSubDir) + "/-models-Qwen2.5-7B@4@" + std::to_string(i % 3) + "@-" +
                  std::string(hex + 1) + "@half.pt"; break;
      case 2: n = "model@1@0@" + std::string(hex) + "@bfloat16.pt"; break;
      default: n = "f" + std::to_string(i) + ".bin"; break;
    }
    NameInfo ni;
    ni.name = n;
    ni.owner = (i + i / 4) % workers;
    // A few large (up to 8 MiB), a few tiny, most up to 2 MiB: bounded
    // total so the image never fills (no ENOSPC, no eviction).
    ni.max_size = i % 8 == 0 ? 8ull << 20 : i % 8 == 4 ? 16ull << 10 : 2ull << 20;
    out.push_back(ni);
  }
  for (int w = 0; w < workers; ++w) {
    out.push_back({".tmp-w" + std::to_string(w), w, 4ull << 20, true});
    out.push_back({std::string(kSubDir) + "/.tmp-w" + std::to_string(w), w, 2ull << 20, true});
  }
  return out;
}

// One parsed log line.
struct Event {
  uint64_t t_ns = 0;
  char type = 0;
  std::string a, b;  // names (or op/name for E, worker/text for S)
  uint64_t gen = 0;
  uint64_t size = 0;
  int err = 0;
  std::string text;  // the whole line, for reports
};

// Parses one log line (without '\n'). False for a malformed line.
inline bool ParseEvent(const std::string& line, Event* e) {
  e->text = line;
  char type = 0;
  unsigned long long t = 0;
  int consumed = 0;
  if (sscanf(line.c_str(), "%llu %c %n", &t, &type, &consumed) < 2) return false;
  e->t_ns = t;
  e->type = type;
  const char* rest = line.c_str() + consumed;
  char a[512] = {0}, b[512] = {0};
  unsigned long long g = 0, s = 0;
  int err = 0;
  switch (type) {
    case 'W':
      if (sscanf(rest, "%511s %llx %llu %511s", a, &g, &s, b) != 4) return false;
      e->a = a; e->gen = g; e->size = s; e->b = b;
      return true;
    case 'F': case 'C': case 'V':
      if (sscanf(rest, "%511s %llx", a, &g) != 2) return false;
      e->a = a; e->gen = g;
      return true;
    case 'u': case 'U':
      if (sscanf(rest, "%511s", a) != 1) return false;
      e->a = a;
      return true;
    case 'r': case 'R':
      if (sscanf(rest, "%511s %511s %llx", a, b, &g) != 3) return false;
      e->a = a; e->b = b; e->gen = g;
      return true;
    case 'E':
      if (sscanf(rest, "%511s %511s %d", a, b, &err) != 3) return false;
      e->a = a; e->b = b; e->err = err;
      return true;
    case 'M':
      if (sscanf(rest, "%511s", a) != 1) return false;
      e->a = a;
      return true;
    case 'S':
      return true;
    default:
      return false;
  }
}

inline std::string LogPath(const std::string& log_dir, int iteration, int worker) {
  return log_dir + "/iter" + std::to_string(iteration) + ".w" + std::to_string(worker) + ".log";
}

}  // namespace slotfs::crash

#endif  // SLOTFS_TESTS_CRASH_CRASH_COMMON_H_
