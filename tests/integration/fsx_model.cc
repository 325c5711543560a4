// tests/integration/fsx_model.cc — see fsx_model.h.

#include "tests/integration/fsx_model.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

namespace slotfs::fsx {
namespace {

constexpr uint64_t kDirectAlign = 4096;

struct KindName {
  OpKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {OpKind::kWrite, "write"},         {OpKind::kPwrite, "pwrite"},
    {OpKind::kDirectWrite, "dwrite"},  {OpKind::kRead, "read"},
    {OpKind::kDirectRead, "dread"},    {OpKind::kTruncate, "truncate"},
    {OpKind::kFtruncate, "ftruncate"}, {OpKind::kMmapWrite, "mapwrite"},
    {OpKind::kMmapRead, "mapread"},    {OpKind::kCloseReopen, "close"},
    {OpKind::kDupClose, "dupclose"},   {OpKind::kFsync, "fsync"},
    {OpKind::kRename, "rename"},       {OpKind::kCopyRange, "copyrange"},
    {OpKind::kUnlink, "unlink"},       {OpKind::kVerify, "verify"},
    {OpKind::kMkdir, "mkdir"},         {OpKind::kRmdir, "rmdir"},
    {OpKind::kRenameDir, "renamedir"}, {OpKind::kRemount, "remount"},
    {OpKind::kKill9, "kill9"},
};

const char* KindToName(OpKind k) {
  for (const auto& kn : kKindNames) {
    if (kn.kind == k) return kn.name;
  }
  return "?";
}

std::string Errno(int err) { return std::string(strerror(err)) + " (errno " + std::to_string(err) + ")"; }

uint64_t Mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The bytes a write with `seed` stores: a stream that depends on the seed
// and the absolute file offset, so overlapping writes are told apart and a
// misplaced byte is visible.
std::string DataFor(uint32_t seed, uint64_t off, uint64_t len) {
  std::string out(len, '\0');
  for (uint64_t i = 0; i < len; ++i) {
    uint64_t pos = off + i;
    uint64_t w = Mix64((uint64_t(seed) << 40) ^ (pos >> 3));
    out[i] = char(w >> (8 * (pos & 7)));
  }
  return out;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(Mix64(seed ^ 0x5eed)) {}
  uint64_t Next() { return s_ = Mix64(s_); }
  uint64_t Below(uint64_t n) { return n ? Next() % n : 0; }

 private:
  uint64_t s_;
};

std::string Describe(const std::string& want, const std::string& got) {
  size_t n = std::min(want.size(), got.size());
  size_t i = 0;
  while (i < n && want[i] == got[i]) ++i;
  std::ostringstream os;
  os << "want " << want.size() << " bytes, got " << got.size() << " bytes";
  if (i < n) {
    size_t differing = 0;
    for (size_t j = i; j < n; ++j) differing += want[j] != got[j];
    char b[128];
    snprintf(b, sizeof b, "; first difference at +%zu: want 0x%02x got 0x%02x; %zu differ", i,
             unsigned(uint8_t(want[i])), unsigned(uint8_t(got[i])), differing);
    os << b;
    bool zeros = std::all_of(got.begin() + i, got.begin() + std::min(n, i + 512),
                             [](char c) { return c == 0; });
    if (zeros) os << " (got zeros there)";
  } else if (want.size() != got.size()) {
    os << "; common prefix equal";
  }
  return os.str();
}

std::string VersionText(const std::optional<std::string>& v) {
  if (!v) return "absent";
  char b[64];
  uint64_t h = 0;
  for (char c : *v) h = Mix64(h ^ uint8_t(c));
  snprintf(b, sizeof b, "%zu bytes #%08llx", v->size(), (unsigned long long)(h & 0xffffffff));
  return b;
}

// Reads a whole file by path; nullopt with *err set on a failure other than ENOENT.
std::optional<std::string> ReadWhole(const std::string& path, int* err) {
  *err = 0;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return std::nullopt;
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      *err = errno;
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  close(fd);
  return data;
}

// Lists `dir` recursively: files (rel path -> nothing) and dirs.
std::string ListTree(const std::string& base, const std::string& rel, bool top,
                     std::set<std::string>* files, std::set<std::string>* dirs) {
  std::string path = rel.empty() ? base : base + "/" + rel;
  DIR* d = opendir(path.c_str());
  if (!d) return "opendir(" + path + "): " + Errno(errno);
  std::vector<std::pair<std::string, unsigned char>> entries;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (top && name == ".slotfs") continue;
    entries.emplace_back(name, e->d_type);
  }
  closedir(d);
  for (auto& [name, type] : entries) {
    std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (lstat((base + "/" + r).c_str(), &st) != 0) return "lstat(" + r + "): " + Errno(errno);
    if (S_ISDIR(st.st_mode)) {
      dirs->insert(r);
      std::string e = ListTree(base, r, false, files, dirs);
      if (!e.empty()) return e;
    } else {
      files->insert(r);
    }
  }
  return "";
}

}  // namespace

// ------------------------------------------------------------------ ops

std::string FormatOp(const Op& op) {
  std::ostringstream os;
  os << KindToName(op.kind);
  switch (op.kind) {
    case OpKind::kWrite:
    case OpKind::kPwrite:
    case OpKind::kDirectWrite:
    case OpKind::kMmapWrite:
      os << " f" << op.file << " off=" << op.off << " len=" << op.len << " seed=" << op.seed;
      break;
    case OpKind::kRead:
    case OpKind::kDirectRead:
    case OpKind::kMmapRead:
      os << " f" << op.file << " off=" << op.off << " len=" << op.len;
      break;
    case OpKind::kTruncate:
    case OpKind::kFtruncate:
      os << " f" << op.file << " size=" << op.off;
      break;
    case OpKind::kCloseReopen:
    case OpKind::kDupClose:
    case OpKind::kFsync:
    case OpKind::kUnlink:
    case OpKind::kVerify:
      os << " f" << op.file;
      break;
    case OpKind::kRename:
      os << " f" << op.file << " f" << op.file2;
      break;
    case OpKind::kCopyRange:
      os << " f" << op.file << " f" << op.file2 << " off=" << op.off << " len=" << op.len
         << " src=" << op.off2;
      break;
    case OpKind::kMkdir:
    case OpKind::kRmdir:
      os << " d" << op.file;
      break;
    case OpKind::kRenameDir:
      os << " d" << op.file << " d" << op.file2;
      break;
    case OpKind::kRemount:
    case OpKind::kKill9:
      break;
  }
  return os.str();
}

std::optional<Op> ParseOp(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  if (!(in >> word)) return std::nullopt;
  Op op;
  bool found = false;
  for (const auto& kn : kKindNames) {
    if (word == kn.name) {
      op.kind = kn.kind;
      found = true;
    }
  }
  if (!found) return std::nullopt;
  int nth = 0;
  while (in >> word) {
    if ((word[0] == 'f' || word[0] == 'd') && word.size() > 1 && isdigit(uint8_t(word[1]))) {
      int v = atoi(word.c_str() + 1);
      (nth++ == 0 ? op.file : op.file2) = v;
      continue;
    }
    auto eq = word.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string key = word.substr(0, eq);
    uint64_t v = strtoull(word.c_str() + eq + 1, nullptr, 10);
    if (key == "off" || key == "size") op.off = v;
    else if (key == "len") op.len = v;
    else if (key == "seed") op.seed = uint32_t(v);
    else if (key == "src") op.off2 = v;
    else return std::nullopt;
  }
  return op;
}

std::string OpAsCode(const Op& op) {
  std::ostringstream os;
  std::string f = "\"f" + std::to_string(op.file) + "\"";
  std::string f2 = "\"f" + std::to_string(op.file2) + "\"";
  switch (op.kind) {
    case OpKind::kWrite:
    case OpKind::kPwrite:
      os << "pwrite(Fd(" << f << "), Data(" << op.seed << ", " << op.off << ", " << op.len
         << "), " << op.len << ", " << op.off << ");";
      break;
    case OpKind::kDirectWrite:
      os << "{ int d = open(" << f << ", O_RDWR | O_DIRECT); pwrite(d, Aligned(Data(" << op.seed
         << ", " << op.off << ", " << op.len << ")), " << op.len << ", " << op.off
         << "); close(d); }";
      break;
    case OpKind::kRead:
      os << "pread(Fd(" << f << "), buf, " << op.len << ", " << op.off << ");  // == model";
      break;
    case OpKind::kDirectRead:
      os << "{ int d = open(" << f << ", O_RDONLY | O_DIRECT); pread(d, aligned, " << op.len
         << ", " << op.off << "); close(d); }  // == model";
      break;
    case OpKind::kTruncate: os << "truncate(" << f << ", " << op.off << ");"; break;
    case OpKind::kFtruncate: os << "ftruncate(Fd(" << f << "), " << op.off << ");"; break;
    case OpKind::kMmapWrite:
      os << "MapWrite(Fd(" << f << "), " << op.off << ", Data(" << op.seed << ", " << op.off
         << ", " << op.len << "));  // ftruncate up if needed, MAP_SHARED, memcpy, msync";
      break;
    case OpKind::kMmapRead:
      os << "MapRead(Fd(" << f << "), " << op.off << ", " << op.len << ");  // == model";
      break;
    case OpKind::kCloseReopen: os << "close(Fd(" << f << "));"; break;
    case OpKind::kDupClose: os << "close(dup(Fd(" << f << ")));"; break;
    case OpKind::kFsync: os << "fsync(Fd(" << f << "));"; break;
    case OpKind::kRename: os << "rename(" << f << ", " << f2 << ");"; break;
    case OpKind::kCopyRange:
      os << "copy_file_range(Fd(" << f << "), &(off64_t){" << op.off2 << "}, Fd(" << f2
         << "), &(off64_t){" << op.off << "}, " << op.len << ", 0);";
      break;
    case OpKind::kUnlink: os << "unlink(" << f << ");"; break;
    case OpKind::kVerify: os << "ReadWhole(" << f << ");  // == model"; break;
    case OpKind::kMkdir: os << "mkdir(\"d" << op.file << "\", 0755);"; break;
    case OpKind::kRmdir: os << "rmdir(\"d" << op.file << "\");"; break;
    case OpKind::kRenameDir:
      os << "rename(\"d" << op.file << "\", \"d" << op.file2 << "\");";
      break;
    case OpKind::kRemount: os << "CloseAll(); Unmount(); Mount();  // every file == model"; break;
    case OpKind::kKill9: os << "Kill9(); Mount();  // each file an allowed version"; break;
  }
  return os.str();
}

std::vector<Op> GenerateOps(uint64_t seed, size_t n, const Config& cfg) {
  Rng rng(seed);
  const uint64_t S = cfg.slot_size;
  const uint64_t spf = uint64_t(std::max(1, cfg.slots_per_file));
  auto pos = [&]() -> uint64_t {
    uint64_t k = rng.Below(spf);
    switch (rng.Below(10)) {
      case 0: case 1: case 2: return k * S + rng.Below(64);
      case 3: case 4: case 5: return (k + 1) * S - 1 - rng.Below(64);
      default: return k * S + rng.Below(S);
    }
  };
  auto len = [&]() -> uint64_t {
    switch (rng.Below(10)) {
      case 0: case 1: case 2: case 3: return 1 + rng.Below(64);
      case 4: case 5: case 6: return 1 + rng.Below(4096);
      case 7: case 8: return 1 + rng.Below(S);
      default: return 1 + rng.Below(2 * S);
    }
  };
  auto align_down = [](uint64_t v) { return v / kDirectAlign * kDirectAlign; };
  auto align_up = [](uint64_t v) { return (v + kDirectAlign - 1) / kDirectAlign * kDirectAlign; };

  struct W {
    OpKind kind;
    int weight;
  };
  std::vector<W> table = {
      {OpKind::kWrite, 10},      {OpKind::kPwrite, 12},     {OpKind::kRead, 12},
      {OpKind::kTruncate, 5},    {OpKind::kFtruncate, 5},   {OpKind::kCloseReopen, 8},
      {OpKind::kDupClose, 5},    {OpKind::kFsync, 5},       {OpKind::kRename, 3},
      {OpKind::kCopyRange, 4},   {OpKind::kUnlink, 2},      {OpKind::kVerify, 4},
  };
  if (cfg.direct) {
    table.push_back({OpKind::kDirectWrite, 6});
    table.push_back({OpKind::kDirectRead, 5});
  }
  if (cfg.mmap) {
    table.push_back({OpKind::kMmapWrite, 6});
    table.push_back({OpKind::kMmapRead, 6});
  }
  if (cfg.dirs > 0) {
    table.push_back({OpKind::kMkdir, 4});
    table.push_back({OpKind::kRmdir, 2});
    table.push_back({OpKind::kRenameDir, 2});
  }
  if (cfg.remount) table.push_back({OpKind::kRemount, 1});
  if (cfg.kill9) table.push_back({OpKind::kKill9, 1});
  int total = 0;
  for (auto& w : table) total += w.weight;

  std::vector<Op> ops;
  ops.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int pick = int(rng.Below(uint64_t(total)));
    OpKind kind = table.back().kind;
    for (auto& w : table) {
      if (pick < w.weight) {
        kind = w.kind;
        break;
      }
      pick -= w.weight;
    }
    Op op;
    op.kind = kind;
    op.file = int(rng.Below(uint64_t(cfg.files)));
    op.file2 = int(rng.Below(uint64_t(cfg.files)));
    op.seed = uint32_t(rng.Below(1u << 30)) + 1;
    switch (kind) {
      case OpKind::kWrite:
      case OpKind::kPwrite:
      case OpKind::kMmapWrite:
      case OpKind::kRead:
      case OpKind::kMmapRead:
        op.off = pos();
        op.len = len();
        break;
      case OpKind::kDirectWrite:
      case OpKind::kDirectRead:
        op.off = align_down(pos());
        op.len = align_up(len());
        break;
      case OpKind::kTruncate:
      case OpKind::kFtruncate:
        op.off = rng.Below(6) == 0 ? 0 : pos();
        break;
      case OpKind::kCopyRange:
        op.off = pos();
        op.off2 = pos();
        op.len = len();
        break;
      case OpKind::kMkdir:
      case OpKind::kRmdir:
      case OpKind::kRenameDir:
        op.file = int(rng.Below(uint64_t(std::max(1, cfg.dirs))));
        op.file2 = int(rng.Below(uint64_t(std::max(1, cfg.dirs))));
        break;
      default:
        break;
    }
    ops.push_back(op);
  }
  return ops;
}

// ------------------------------------------------------------------ Runner

struct Runner::Inode {
  std::string data;
  int fd = -1;
  std::string path;  // rel path; "" once unlinked
};

Runner::Runner(std::string root, Config cfg, MountControl* mount, bool verbose)
    : root_(std::move(root)), cfg_(cfg), mount_(mount), verbose_(verbose) {}

Runner::~Runner() {
  for (auto& [p, ino] : files_) {
    if (ino->fd >= 0) close(ino->fd);
  }
}

std::string Runner::DirPath(int dir) const { return "d" + std::to_string(dir); }

// Flat mode: "fN" in the root. Dir mode: name N lives in directory slot
// N % (dirs + 1) (slot `dirs` is the root) as "f(N / (dirs + 1))", so every
// directory holds the same name set and a directory rename maps names to names.
std::string Runner::FilePath(int file) const {
  if (cfg_.dirs <= 0) return "f" + std::to_string(file);
  int slot = file % (cfg_.dirs + 1);
  std::string name = "f" + std::to_string(file / (cfg_.dirs + 1));
  if (slot == cfg_.dirs) return name;
  return DirPath(slot) + "/" + name;
}

bool Runner::DirExists(int file) const {
  if (cfg_.dirs <= 0) return true;
  int slot = file % (cfg_.dirs + 1);
  return slot == cfg_.dirs || dirs_.count(DirPath(slot)) > 0;
}

std::shared_ptr<Runner::Inode> Runner::Lookup(const std::string& rel) const {
  auto it = files_.find(rel);
  return it == files_.end() ? nullptr : it->second;
}

void Runner::AddCandidate(const std::string& rel, const Version& v) {
  auto& c = candidates_[rel];
  if (std::find(c.begin(), c.end(), v) == c.end()) c.push_back(v);
}

void Runner::AddCommitted(Inode& ino) {
  if (!ino.path.empty()) AddCandidate(ino.path, ino.data);
}

std::string Runner::EnsureOpen(int file, std::shared_ptr<Inode>* out) {
  std::string rel = FilePath(file);
  auto ino = Lookup(rel);
  if (ino && ino->fd >= 0) {
    *out = ino;
    return "";
  }
  int fd = open(Abs(rel).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (!DirExists(file)) {
    if (fd >= 0) {
      close(fd);
      return "open(" + rel + ", O_CREAT) succeeded but its directory does not exist";
    }
    if (errno != ENOENT) return "open(" + rel + ") in a missing directory: " + Errno(errno) + ", want ENOENT";
    *out = nullptr;
    return "";
  }
  if (fd < 0) return "open(" + rel + ", O_RDWR|O_CREAT): " + Errno(errno);
  if (!ino) {
    ino = std::make_shared<Inode>();
    ino->path = rel;
    files_[rel] = ino;
    if (!candidates_.count(rel)) candidates_[rel].push_back(std::nullopt);
    AddCandidate(rel, std::string());
  }
  ino->fd = fd;
  struct stat st;
  if (fstat(fd, &st) != 0) return "fstat(" + rel + "): " + Errno(errno);
  if (uint64_t(st.st_size) != ino->data.size()) {
    return "open(" + rel + "): st_size " + std::to_string(st.st_size) + ", model " +
           std::to_string(ino->data.size());
  }
  *out = ino;
  return "";
}

std::string Runner::CloseFd(Inode& ino) {
  if (ino.fd < 0) return "";
  int rc = close(ino.fd);
  int err = errno;
  ino.fd = -1;
  AddCommitted(ino);
  if (rc != 0) return "close(" + ino.path + "): " + Errno(err);
  return "";
}

std::string Runner::CloseAll() {
  for (auto& [p, ino] : files_) {
    std::string e = CloseFd(*ino);
    if (!e.empty()) return e;
  }
  return "";
}

std::string Runner::ReadCompare(const std::string& what, const std::string& got, uint64_t off,
                                const std::string& all, uint64_t len) {
  std::string want = off >= all.size() ? std::string() : all.substr(off, len);
  if (got == want) return "";
  return what + " off=" + std::to_string(off) + " len=" + std::to_string(len) +
         " (file size " + std::to_string(all.size()) + "): " + Describe(want, got);
}

static void ModelWrite(std::string* data, uint64_t off, const std::string& bytes) {
  if (data->size() < off + bytes.size()) data->resize(off + bytes.size(), '\0');
  memcpy(data->data() + off, bytes.data(), bytes.size());
}

std::string Runner::Run(const std::vector<Op>& ops, size_t* failed_at) {
  for (size_t i = 0; i < ops.size(); ++i) {
    if (verbose_) std::cerr << "fsx: #" << i << " " << FormatOp(ops[i]) << "\n";
    std::string e = Apply(ops[i]);
    ++ops_done_;
    if (!e.empty()) {
      *failed_at = i;
      return "op #" + std::to_string(i) + " `" + FormatOp(ops[i]) + "`: " + e;
    }
  }
  *failed_at = ops.size();
  std::string e = CloseAll();
  if (e.empty()) e = VerifyTree();
  return e.empty() ? "" : "after the last op: " + e;
}

std::string Runner::Apply(const Op& op) {
  std::shared_ptr<Inode> ino;
  const std::string rel = FilePath(op.file);
  auto need_open = [&]() -> std::string {
    std::string e = EnsureOpen(op.file, &ino);
    return e;
  };
  switch (op.kind) {
    case OpKind::kWrite:
    case OpKind::kPwrite: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      std::string bytes = DataFor(op.seed, op.off, op.len);
      size_t done = 0;
      if (op.kind == OpKind::kWrite && lseek(ino->fd, off_t(op.off), SEEK_SET) < 0) {
        return "lseek: " + Errno(errno);
      }
      while (done < bytes.size()) {
        ssize_t n = op.kind == OpKind::kWrite
                        ? write(ino->fd, bytes.data() + done, bytes.size() - done)
                        : pwrite(ino->fd, bytes.data() + done, bytes.size() - done,
                                 off_t(op.off + done));
        if (n <= 0) return "write after " + std::to_string(done) + " bytes: " + (n < 0 ? Errno(errno) : "returned 0");
        done += size_t(n);
      }
      ModelWrite(&ino->data, op.off, bytes);
      return "";
    }
    case OpKind::kDirectWrite:
    case OpKind::kDirectRead: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      bool wr = op.kind == OpKind::kDirectWrite;
      int fd = open(Abs(rel).c_str(), (wr ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
      if (fd < 0) return "open(O_DIRECT): " + Errno(errno);
      void* buf = nullptr;
      if (posix_memalign(&buf, kDirectAlign, op.len) != 0) abort();
      std::string result;
      if (wr) {
        std::string bytes = DataFor(op.seed, op.off, op.len);
        memcpy(buf, bytes.data(), op.len);
        ssize_t n = pwrite(fd, buf, op.len, off_t(op.off));
        if (n != ssize_t(op.len)) {
          result = "O_DIRECT pwrite returned " + std::to_string(n) + (n < 0 ? ": " + Errno(errno) : "");
        } else {
          ModelWrite(&ino->data, op.off, bytes);
        }
      } else {
        size_t done = 0;
        while (done < op.len) {
          ssize_t n = pread(fd, static_cast<char*>(buf) + done, op.len - done, off_t(op.off + done));
          if (n < 0) {
            result = "O_DIRECT pread: " + Errno(errno);
            break;
          }
          if (n == 0) break;
          done += size_t(n);
          if (done % kDirectAlign) break;  // EOF mid-block
        }
        if (result.empty()) {
          result = ReadCompare("O_DIRECT pread", std::string(static_cast<char*>(buf), done), op.off,
                               ino->data, op.len);
        }
      }
      free(buf);
      int rc = close(fd);
      int err = errno;
      AddCommitted(*ino);
      if (result.empty() && rc != 0) result = "close(O_DIRECT fd): " + Errno(err);
      return result;
    }
    case OpKind::kRead: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      std::string got(op.len, '\0');
      size_t done = 0;
      while (done < op.len) {
        ssize_t n = pread(ino->fd, got.data() + done, op.len - done, off_t(op.off + done));
        if (n < 0) return "pread: " + Errno(errno);
        if (n == 0) break;
        done += size_t(n);
      }
      got.resize(done);
      return ReadCompare("pread", got, op.off, ino->data, op.len);
    }
    case OpKind::kTruncate: {
      int rc = truncate(Abs(rel).c_str(), off_t(op.off));
      ino = Lookup(rel);
      if (!ino) {
        if (rc == 0) return "truncate of a missing file succeeded";
        if (errno != ENOENT) return "truncate of a missing file: " + Errno(errno) + ", want ENOENT";
        return "";
      }
      if (rc != 0) return "truncate: " + Errno(errno);
      ino->data.resize(op.off, '\0');
      if (ino->fd < 0) AddCommitted(*ino);  // a closed file's size commits at the next group commit
      return "";
    }
    case OpKind::kFtruncate: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      if (ftruncate(ino->fd, off_t(op.off)) != 0) return "ftruncate: " + Errno(errno);
      ino->data.resize(op.off, '\0');
      return "";
    }
    case OpKind::kMmapWrite:
    case OpKind::kMmapRead: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      bool wr = op.kind == OpKind::kMmapWrite;
      uint64_t off = op.off, len = op.len;
      if (wr) {
        if (off + len > ino->data.size()) {
          if (ftruncate(ino->fd, off_t(off + len)) != 0) return "ftruncate before mmap: " + Errno(errno);
          ino->data.resize(off + len, '\0');
        }
      } else {
        if (ino->data.empty()) return "";
        off = off % ino->data.size();
        len = std::min<uint64_t>(len, ino->data.size() - off);
      }
      const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
      uint64_t pg = off / page * page;
      size_t map_len = size_t(off + len - pg);
      void* p = mmap(nullptr, map_len, wr ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                     ino->fd, off_t(pg));
      if (p == MAP_FAILED) return "mmap: " + Errno(errno);
      std::string result;
      char* at = static_cast<char*>(p) + (off - pg);
      if (wr) {
        std::string bytes = DataFor(op.seed, off, len);
        memcpy(at, bytes.data(), len);
        if (msync(p, map_len, MS_SYNC) != 0) result = "msync: " + Errno(errno);
        ModelWrite(&ino->data, off, bytes);
        AddCommitted(*ino);  // msync MS_SYNC sends FSYNC
      } else {
        result = ReadCompare("mmap read", std::string(at, len), off, ino->data, len);
      }
      munmap(p, map_len);
      return result;
    }
    case OpKind::kCloseReopen: {
      ino = Lookup(rel);
      if (!ino) return "";
      return CloseFd(*ino);
    }
    case OpKind::kDupClose: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      int d = dup(ino->fd);
      if (d < 0) return "dup: " + Errno(errno);
      if (close(d) != 0) return "close(dup): " + Errno(errno);
      AddCommitted(*ino);
      return "";
    }
    case OpKind::kFsync: {
      if (auto e = need_open(); !e.empty() || !ino) return e;
      if (fsync(ino->fd) != 0) return "fsync: " + Errno(errno);
      candidates_[rel] = {ino->data};
      return "";
    }
    case OpKind::kUnlink: {
      int rc = unlink(Abs(rel).c_str());
      int err = errno;
      ino = Lookup(rel);
      if (!ino) {
        if (rc == 0) return "unlink of a missing file succeeded";
        if (err != ENOENT) return "unlink of a missing file: " + Errno(err) + ", want ENOENT";
        return "";
      }
      if (rc != 0) return "unlink: " + Errno(err);
      files_.erase(rel);
      AddCandidate(rel, std::nullopt);
      // The open-but-unlinked file keeps its bytes until closed.
      std::string result;
      if (ino->fd >= 0) {
        std::string got(ino->data.size() + 1, '\0');
        ssize_t n = pread(ino->fd, got.data(), got.size(), 0);
        if (n < 0) result = "pread of the unlinked file: " + Errno(errno);
        else result = ReadCompare("pread of the unlinked open file", got.substr(0, size_t(n)), 0, ino->data, got.size());
        ino->path.clear();
        if (close(ino->fd) != 0 && result.empty()) result = "close of the unlinked file: " + Errno(errno);
        ino->fd = -1;
      }
      return result;
    }
    case OpKind::kRename: {
      std::string rel2 = FilePath(op.file2);
      if (rel == rel2) return "";
      int rc = rename(Abs(rel).c_str(), Abs(rel2).c_str());
      int err = errno;
      ino = Lookup(rel);
      if (!ino || !DirExists(op.file2)) {
        if (rc == 0) return "rename of " + rel + " to " + rel2 + " succeeded; the model says ENOENT";
        if (err != ENOENT) return "rename: " + Errno(err) + ", want ENOENT";
        return "";
      }
      if (rc != 0) return "rename: " + Errno(err);
      auto old = Lookup(rel2);
      std::string result;
      if (old && old->fd >= 0) {
        // The replaced file stays readable through its open fd.
        std::string got(old->data.size() + 1, '\0');
        ssize_t n = pread(old->fd, got.data(), got.size(), 0);
        if (n < 0) result = "pread of the renamed-over open file: " + Errno(errno);
        else result = ReadCompare("pread of the renamed-over open file", got.substr(0, size_t(n)), 0, old->data, got.size());
        close(old->fd);
        old->fd = -1;
      }
      if (old) old->path.clear();
      // After kill -9 the target holds its old version or one of the
      // source's; the source name its old version or nothing.
      for (const auto& v : candidates_[rel]) AddCandidate(rel2, v);
      if (ino->fd < 0) AddCandidate(rel2, ino->data);  // rename commits a closed file first
      AddCandidate(rel, std::nullopt);
      files_.erase(rel);
      files_[rel2] = ino;
      ino->path = rel2;
      return result;
    }
    case OpKind::kCopyRange: {
      std::shared_ptr<Inode> dst;
      if (auto e = need_open(); !e.empty() || !ino) return e;
      if (auto e = EnsureOpen(op.file2, &dst); !e.empty() || !dst) return e;
      if (ino == dst) {
        bool overlap = op.off2 < op.off + op.len && op.off < op.off2 + op.len;
        if (overlap) return "";
      }
      uint64_t want = op.off2 >= ino->data.size() ? 0 : std::min<uint64_t>(op.len, ino->data.size() - op.off2);
      // Within one file, a copy whose source runs past EOF while the
      // destination lies beyond it reads back its own extension (the kernel
      // copies in chunks and the file grows between them): not defined
      // enough to model, so such a copy asks only for the bytes before EOF.
      uint64_t ask = ino == dst ? want : op.len;
      if (ask == 0 && ino == dst) return "";
      std::string bytes = ino->data.substr(std::min<uint64_t>(op.off2, ino->data.size()), want);
      off64_t in_off = off64_t(op.off2), out_off = off64_t(op.off);
      uint64_t done = 0;
      while (done < ask) {
        ssize_t n = copy_file_range(ino->fd, &in_off, dst->fd, &out_off, ask - done, 0);
        if (n < 0) return "copy_file_range after " + std::to_string(done) + " bytes: " + Errno(errno);
        if (n == 0) break;
        done += uint64_t(n);
      }
      if (done != want) {
        return "copy_file_range copied " + std::to_string(done) + " bytes, the model says " + std::to_string(want);
      }
      if (want) ModelWrite(&dst->data, op.off, bytes);
      return "";
    }
    case OpKind::kVerify: {
      ino = Lookup(rel);
      int err = 0;
      auto got = ReadWhole(Abs(rel), &err);
      if (!ino) {
        if (got) return "verify: " + rel + " exists (" + std::to_string(got->size()) + " bytes) but the model has no such file";
        if (err != ENOENT) return "verify of a missing file: " + Errno(err) + ", want ENOENT";
        return "";
      }
      if (!got) return "verify: open/read " + rel + ": " + Errno(err);
      AddCommitted(*ino);  // the close of the verifying fd is a FLUSH
      if (*got != ino->data) return "verify " + rel + ": " + Describe(ino->data, *got);
      return "";
    }
    case OpKind::kMkdir:
    case OpKind::kRmdir:
    case OpKind::kRenameDir: {
      std::string d = DirPath(op.file), d2 = DirPath(op.file2);
      bool exists = dirs_.count(d) > 0;
      bool empty = true;
      for (auto& [p, i] : files_) {
        if (p.rfind(d + "/", 0) == 0) empty = false;
      }
      if (op.kind == OpKind::kMkdir) {
        int rc = mkdir(Abs(d).c_str(), 0755);
        if (exists) {
          if (rc == 0 || errno != EEXIST) return "mkdir of an existing dir: " + (rc == 0 ? std::string("succeeded") : Errno(errno)) + ", want EEXIST";
          return "";
        }
        if (rc != 0) return "mkdir: " + Errno(errno);
        dirs_.insert(d);
        return "";
      }
      if (op.kind == OpKind::kRmdir) {
        int rc = rmdir(Abs(d).c_str());
        int err = errno;
        int want = !exists ? ENOENT : !empty ? ENOTEMPTY : 0;
        if (want == 0 && rc != 0) return "rmdir: " + Errno(err);
        if (want != 0 && (rc == 0 || err != want)) return "rmdir: " + (rc == 0 ? std::string("succeeded") : Errno(err)) + ", want " + Errno(want);
        if (want == 0) dirs_.erase(d);
        return "";
      }
      if (d == d2) return "";
      bool exists2 = dirs_.count(d2) > 0;
      bool empty2 = true;
      for (auto& [p, i] : files_) {
        if (p.rfind(d2 + "/", 0) == 0) empty2 = false;
      }
      int rc = rename(Abs(d).c_str(), Abs(d2).c_str());
      int err = errno;
      if (!exists) {
        if (rc == 0 || err != ENOENT) return "rename of a missing dir: " + (rc == 0 ? std::string("succeeded") : Errno(err)) + ", want ENOENT";
        return "";
      }
      if (exists2 && !empty2) {
        if (rc == 0 || (err != ENOTEMPTY && err != EEXIST)) return "rename over a non-empty dir: " + (rc == 0 ? std::string("succeeded") : Errno(err)) + ", want ENOTEMPTY";
        return "";
      }
      if (rc != 0) return "rename dir: " + Errno(err);
      dirs_.erase(d);
      dirs_.insert(d2);
      std::map<std::string, std::shared_ptr<Inode>> moved;
      for (auto it = files_.begin(); it != files_.end();) {
        if (it->first.rfind(d + "/", 0) == 0) {
          std::string np = d2 + it->first.substr(d.size());
          it->second->path = np;
          moved[np] = it->second;
          it = files_.erase(it);
        } else {
          ++it;
        }
      }
      files_.insert(moved.begin(), moved.end());
      return "";
    }
    case OpKind::kRemount:
      return DoRemount();
    case OpKind::kKill9:
      return DoKill9();
  }
  return "unknown op";
}

std::string Runner::DoRemount() {
  if (!mount_) return "";
  if (auto e = CloseAll(); !e.empty()) return e;
  if (auto e = mount_->Unmount(); !e.empty()) return "unmount: " + e;
  if (auto e = mount_->Mount(); !e.empty()) return "mount: " + e;
  if (auto e = VerifyTree(); !e.empty()) return "after remount: " + e;
  candidates_.clear();
  for (auto& [p, ino] : files_) candidates_[p] = {ino->data};
  return "";
}

std::string Runner::DoKill9() {
  if (!mount_) return "";
  if (auto e = mount_->Kill9(); !e.empty()) return "kill -9: " + e;
  for (auto& [p, ino] : files_) {
    if (ino->fd >= 0) close(ino->fd);  // ENOTCONN is expected
    ino->fd = -1;
  }
  if (auto e = mount_->Mount(); !e.empty()) return "mount after kill -9: " + e;
  std::set<std::string> found, found_dirs;
  if (auto e = ListTree(root_, "", true, &found, &found_dirs); !e.empty()) return e;
  std::set<std::string> names = found;
  for (auto& [p, c] : candidates_) names.insert(p);
  for (auto& [p, ino] : files_) names.insert(p);
  std::string result;
  std::map<std::string, std::shared_ptr<Inode>> now;
  for (const auto& name : names) {
    Version got;
    if (found.count(name)) {
      int err = 0;
      got = ReadWhole(Abs(name), &err);
      if (!got) {
        result += "\n  " + name + ": read after kill -9: " + Errno(err);
        continue;
      }
    }
    auto& allowed = candidates_[name];
    if (allowed.empty()) allowed.push_back(std::nullopt);  // never created by us
    if (std::find(allowed.begin(), allowed.end(), got) == allowed.end()) {
      result += "\n  " + name + ": found " + VersionText(got) + ", allowed:";
      for (auto& v : allowed) {
        result += " [" + VersionText(v);
        if (v && got) result += ": " + Describe(*v, *got);
        result += "]";
      }
    }
    if (got) {
      auto ino = std::make_shared<Inode>();
      ino->data = *got;
      ino->path = name;
      now[name] = ino;
    }
  }
  files_ = std::move(now);
  candidates_.clear();
  for (const auto& name : names) {
    auto it = files_.find(name);
    candidates_[name] = {it == files_.end() ? Version() : Version(it->second->data)};
  }
  if (!result.empty()) return "after kill -9 + remount, names hold versions the guarantees do not allow:" + result;
  return "";
}

std::string Runner::VerifyTree() {
  std::set<std::string> found, found_dirs;
  if (auto e = ListTree(root_, "", true, &found, &found_dirs); !e.empty()) return e;
  std::string result;
  for (const auto& d : found_dirs) {
    if (!dirs_.count(d)) result += "\n  unexpected directory " + d;
  }
  for (const auto& d : dirs_) {
    if (!found_dirs.count(d)) result += "\n  missing directory " + d;
  }
  for (const auto& f : found) {
    if (!files_.count(f)) result += "\n  unexpected file " + f;
  }
  for (const auto& [p, ino] : files_) {
    if (!found.count(p)) {
      result += "\n  missing file " + p + " (model: " + std::to_string(ino->data.size()) + " bytes)";
      continue;
    }
    int err = 0;
    auto got = ReadWhole(Abs(p), &err);
    if (!got) {
      result += "\n  " + p + ": " + Errno(err);
      continue;
    }
    if (ino->fd < 0) AddCommitted(*ino);
    if (*got != ino->data) result += "\n  " + p + ": " + Describe(ino->data, *got);
  }
  return result.empty() ? "" : "tree differs from the model:" + result;
}

std::string Runner::DumpModel(const std::string& dir) const {
  for (const auto& d : dirs_) {
    if (mkdir((dir + "/" + d).c_str(), 0755) != 0 && errno != EEXIST) return "mkdir model: " + Errno(errno);
  }
  for (const auto& [p, ino] : files_) {
    std::string path = dir + "/" + p;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return "open model " + path + ": " + Errno(errno);
    size_t done = 0;
    while (done < ino->data.size()) {
      ssize_t n = write(fd, ino->data.data() + done, ino->data.size() - done);
      if (n <= 0) {
        close(fd);
        return "write model: " + Errno(errno);
      }
      done += size_t(n);
    }
    close(fd);
  }
  return "";
}

std::string CompareTrees(const std::string& actual, const std::string& model) {
  std::set<std::string> af, ad, mf, md;
  if (auto e = ListTree(actual, "", true, &af, &ad); !e.empty()) return e;
  if (auto e = ListTree(model, "", true, &mf, &md); !e.empty()) return e;
  std::string result;
  for (const auto& d : ad) {
    if (!md.count(d)) result += "\n  unexpected directory " + d;
  }
  for (const auto& d : md) {
    if (!ad.count(d)) result += "\n  missing directory " + d;
  }
  for (const auto& f : af) {
    if (!mf.count(f)) result += "\n  unexpected file " + f;
  }
  for (const auto& f : mf) {
    if (!af.count(f)) {
      result += "\n  missing file " + f;
      continue;
    }
    int err = 0;
    auto want = ReadWhole(model + "/" + f, &err);
    auto got = ReadWhole(actual + "/" + f, &err);
    if (!got || !want) {
      result += "\n  " + f + ": " + Errno(err);
      continue;
    }
    if (*got != *want) result += "\n  " + f + ": " + Describe(*want, *got);
  }
  return result.empty() ? "" : actual + " differs from the model " + model + ":" + result;
}

// ------------------------------------------------------------------ Shrink

std::vector<Op> Shrink(const std::vector<Op>& ops,
                       const std::function<bool(const std::vector<Op>&)>& fails, int max_trials,
                       const std::function<void(const std::string&)>& log) {
  std::vector<Op> cur = ops;
  int trials = 0;
  size_t n = 2;
  while (cur.size() >= 2 && trials < max_trials) {
    size_t chunk = (cur.size() + n - 1) / n;
    bool reduced = false;
    for (size_t start = 0; start < cur.size() && trials < max_trials; start += chunk) {
      std::vector<Op> cand(cur.begin(), cur.begin() + long(start));
      cand.insert(cand.end(), cur.begin() + long(std::min(cur.size(), start + chunk)), cur.end());
      ++trials;
      if (fails(cand)) {
        cur = std::move(cand);
        n = std::max<size_t>(n - 1, 2);
        reduced = true;
        log("shrink: " + std::to_string(cur.size()) + " ops still fail (trial " + std::to_string(trials) + ")");
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.size()) break;
      n = std::min(cur.size(), n * 2);
    }
  }
  return cur;
}

}  // namespace slotfs::fsx
