// PowerLossVfs: per-file overlays of unsynced writes over the unix VFS.
//
// Layout of a handle: SQLite allocates szOsFile bytes; the first part is a
// PlFile (POD, sqlite3_file first), the rest is the wrapped VFS's file,
// which every call is passed on to. The overlay lives in a FileState keyed
// by the file's full path and owned by the global table, so every handle on
// a path sees the same unsynced bytes.
#include "testing/power_loss_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace slotfs::meta {
namespace {

// Unit of the overlay and of tearing.
constexpr int64_t kBlock = 4096;
constexpr int64_t kNoTrunc = std::numeric_limits<int64_t>::max();

struct PlFile;

// The unsynced state of one file (one path).
struct FileState {
  std::string path;
  dev_t dev = 0;  // identity of the real file, to notice a replaced file
  ino_t ino = 0;
  // Logical size: what xFileSize reports.
  int64_t size = 0;
  // Lowest size the file was truncated to since the last sync: real-file
  // bytes at or past it are gone (read as zero). kNoTrunc if none.
  int64_t trunc_floor = kNoTrunc;
  bool size_changed = false;  // xTruncate since the last sync
  // Block index -> the block's content (kBlock bytes; bytes at or past
  // `size` are zero).
  std::map<int64_t, std::vector<uint8_t>> blocks;
  std::vector<PlFile*> handles;

  bool dirty() const {
    return !blocks.empty() || trunc_floor != kNoTrunc || size_changed;
  }
  void MarkClean() {
    blocks.clear();
    trunc_floor = kNoTrunc;
    size_changed = false;
  }
};

// A handle SQLite holds. POD: SQLite allocates it, xOpen fills it in.
struct PlFile {
  sqlite3_file base;     // must be first: SQLite passes &base
  sqlite3_file* real;    // the wrapped VFS's handle, right after this struct
  FileState* state;      // null: passed through (temporary file)
  uint64_t epoch;        // Global::epoch at open
};

constexpr int kPlFileSize =
    static_cast<int>((sizeof(PlFile) + alignof(std::max_align_t) - 1) /
                     alignof(std::max_align_t) * alignof(std::max_align_t));

struct Global {
  std::mutex mu;
  sqlite3_vfs vfs{};
  sqlite3_vfs* real = nullptr;  // set once by Register()
  sqlite3_io_methods methods{};
  // Everything below: guarded by mu.
  bool off = false;
  uint64_t epoch = 1;  // bumped by Reset(): older handles stay dead
  std::map<std::string, std::unique_ptr<FileState>> files;
  // States no longer reachable by path (file deleted or replaced, or
  // Reset()) that still have handles; freed when the last handle closes.
  std::vector<std::unique_ptr<FileState>> detached;
  std::set<std::string> main_dbs;  // databases opened since Reset()
  uint64_t syncs = 0;
};

Global& G() {
  static Global* g = new Global();  // never destroyed: SQLite may outlive statics
  return *g;
}

PlFile* Pl(sqlite3_file* f) { return reinterpret_cast<PlFile*>(f); }

// REQUIRES: G().mu held.
bool DeadLocked(const PlFile* f) { return G().off || f->epoch != G().epoch; }

// Removes `s` from the path table (or the detached list) and frees it.
// REQUIRES: G().mu held; s has no handles.
void ForgetLocked(FileState* s) {
  Global& g = G();
  auto it = g.files.find(s->path);
  if (it != g.files.end() && it->second.get() == s) {
    g.files.erase(it);
    return;
  }
  std::erase_if(g.detached, [&](const auto& p) { return p.get() == s; });
}

// Moves the state for `path` out of the path table: kept alive for its
// open handles, freed at once if it has none. REQUIRES: G().mu held.
void DetachLocked(const std::string& path) {
  Global& g = G();
  auto it = g.files.find(path);
  if (it == g.files.end()) return;
  std::unique_ptr<FileState> s = std::move(it->second);
  g.files.erase(it);
  if (!s->handles.empty()) g.detached.push_back(std::move(s));
}

// Reads real-file bytes [off, off + n) into buf, zero past the real end of
// file and past the truncation floor. REQUIRES: G().mu held.
int ReadReal(const PlFile* f, uint8_t* buf, int64_t n, int64_t off) {
  std::memset(buf, 0, static_cast<size_t>(n));
  int64_t lim = std::min(off + n, f->state->trunc_floor);
  if (lim <= off) return SQLITE_OK;
  int rc = f->real->pMethods->xRead(f->real, buf, static_cast<int>(lim - off), off);
  return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;  // the rest is zeroed
}

// The overlay block `b`, loaded from the real file if absent (unless the
// caller is about to overwrite it `whole`). REQUIRES: G().mu held.
std::vector<uint8_t>* BlockLocked(PlFile* f, int64_t b, bool whole, int* rc) {
  FileState& s = *f->state;
  auto it = s.blocks.find(b);
  if (it != s.blocks.end()) return &it->second;
  std::vector<uint8_t> v(kBlock, 0);
  int64_t start = b * kBlock;
  int64_t lim = std::min(start + kBlock, s.size);
  if (lim > start && !whole) {
    *rc = ReadReal(f, v.data(), lim - start, start);
    if (*rc != SQLITE_OK) return nullptr;
  }
  return &s.blocks.emplace(b, std::move(v)).first->second;
}

// Where durable (or torn) writes go: a handle's real file, or — for a file
// with no handle left — a plain descriptor.
class RealWriter {
 public:
  explicit RealWriter(FileState& s) {
    if (!s.handles.empty()) {
      file_ = s.handles.front()->real;
    } else {
      fd_ = ::open(s.path.c_str(), O_WRONLY | O_CLOEXEC);
    }
  }
  ~RealWriter() {
    // Closing a descriptor drops this process's POSIX locks on the file;
    // only used when no handle is open, i.e. SQLite holds no lock on it.
    if (fd_ >= 0) ::close(fd_);
  }
  RealWriter(const RealWriter&) = delete;
  RealWriter& operator=(const RealWriter&) = delete;

  int Write(const uint8_t* p, int64_t n, int64_t off) {
    if (file_) return file_->pMethods->xWrite(file_, p, static_cast<int>(n), off);
    if (fd_ < 0) return SQLITE_IOERR_WRITE;
    return ::pwrite(fd_, p, static_cast<size_t>(n), off) == n ? SQLITE_OK : SQLITE_IOERR_WRITE;
  }
  int Truncate(int64_t n) {
    if (file_) return file_->pMethods->xTruncate(file_, n);
    if (fd_ < 0) return SQLITE_IOERR_TRUNCATE;
    return ::ftruncate(fd_, n) == 0 ? SQLITE_OK : SQLITE_IOERR_TRUNCATE;
  }
  int Size(int64_t* n) {
    if (file_) {
      sqlite3_int64 v = 0;
      int rc = file_->pMethods->xFileSize(file_, &v);
      *n = v;
      return rc;
    }
    struct stat st;
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) return SQLITE_IOERR_FSTAT;
    *n = st.st_size;
    return SQLITE_OK;
  }

 private:
  sqlite3_file* file_ = nullptr;
  int fd_ = -1;
};

// Writes the overlay blocks chosen by keep() (and the pending truncation if
// `truncate`) to the real file. With everything chosen, leaves the real file
// exactly the logical file. REQUIRES: G().mu held.
template <typename Keep>
int ApplyLocked(FileState& s, bool truncate, Keep keep, uint64_t* applied,
                uint64_t* dropped) {
  RealWriter w(s);
  int rc = SQLITE_OK;
  if (truncate && s.trunc_floor != kNoTrunc) {
    int64_t real_size = 0;
    rc = w.Size(&real_size);
    if (rc == SQLITE_OK && real_size > s.trunc_floor) rc = w.Truncate(s.trunc_floor);
    if (rc != SQLITE_OK) return rc;
  }
  for (const auto& [b, data] : s.blocks) {
    int64_t start = b * kBlock;
    int64_t n = std::min(kBlock, s.size - start);
    if (n <= 0) continue;
    if (!keep()) {
      ++*dropped;
      continue;
    }
    rc = w.Write(data.data(), n, start);
    if (rc != SQLITE_OK) return rc;
    ++*applied;
  }
  return SQLITE_OK;
}

// --- sqlite3_io_methods -------------------------------------------------

int PlClose(sqlite3_file* file) {
  PlFile* f = Pl(file);
  int rc = SQLITE_OK;
  if (f->real->pMethods) rc = f->real->pMethods->xClose(f->real);
  if (f->state) {
    std::lock_guard lock(G().mu);
    FileState* s = f->state;
    std::erase(s->handles, f);
    if (s->handles.empty()) {
      // A dirty file still in the path table keeps its unsynced writes (the
      // page cache outlives the descriptor); anything else goes.
      auto it = G().files.find(s->path);
      const bool in_table = it != G().files.end() && it->second.get() == s;
      if (!in_table || !s->dirty()) ForgetLocked(s);
    }
  }
  return rc;
}

int PlRead(sqlite3_file* file, void* buf, int amt, sqlite3_int64 off) {
  PlFile* f = Pl(file);
  if (!f->state) return f->real->pMethods->xRead(f->real, buf, amt, off);
  std::lock_guard lock(G().mu);
  if (DeadLocked(f)) return SQLITE_IOERR_READ;
  FileState& s = *f->state;
  auto* out = static_cast<uint8_t*>(buf);
  const int64_t end = off + amt;
  int rc = ReadReal(f, out, amt, off);
  if (rc != SQLITE_OK) return rc;
  for (auto it = s.blocks.lower_bound(off / kBlock);
       it != s.blocks.end() && it->first * kBlock < end; ++it) {
    int64_t b0 = std::max<int64_t>(off, it->first * kBlock);
    int64_t b1 = std::min<int64_t>(end, (it->first + 1) * kBlock);
    std::memcpy(out + (b0 - off), it->second.data() + (b0 - it->first * kBlock),
                static_cast<size_t>(b1 - b0));
  }
  if (end > s.size) {
    int64_t z = std::max<int64_t>(off, s.size);
    std::memset(out + (z - off), 0, static_cast<size_t>(end - z));
    return SQLITE_IOERR_SHORT_READ;  // SQLite's contract: zero-filled
  }
  return SQLITE_OK;
}

int PlWrite(sqlite3_file* file, const void* buf, int amt, sqlite3_int64 off) {
  PlFile* f = Pl(file);
  if (!f->state) return f->real->pMethods->xWrite(f->real, buf, amt, off);
  std::lock_guard lock(G().mu);
  if (DeadLocked(f)) return SQLITE_IOERR_WRITE;
  FileState& s = *f->state;
  const auto* in = static_cast<const uint8_t*>(buf);
  const int64_t end = off + amt;
  for (int64_t pos = off; pos < end;) {
    int64_t b = pos / kBlock;
    int64_t n = std::min(end - pos, (b + 1) * kBlock - pos);
    int rc = SQLITE_OK;
    std::vector<uint8_t>* block = BlockLocked(f, b, n == kBlock, &rc);
    if (!block) return rc;
    std::memcpy(block->data() + (pos - b * kBlock), in + (pos - off), static_cast<size_t>(n));
    pos += n;
  }
  s.size = std::max(s.size, end);
  return SQLITE_OK;
}

int PlTruncate(sqlite3_file* file, sqlite3_int64 size) {
  PlFile* f = Pl(file);
  if (!f->state) return f->real->pMethods->xTruncate(f->real, size);
  std::lock_guard lock(G().mu);
  if (DeadLocked(f)) return SQLITE_IOERR_TRUNCATE;
  FileState& s = *f->state;
  s.size = size;
  s.size_changed = true;
  s.trunc_floor = std::min<int64_t>(s.trunc_floor, size);
  // Blocks wholly past the new end go; the one holding it is zeroed past it.
  s.blocks.erase(s.blocks.lower_bound((size + kBlock - 1) / kBlock), s.blocks.end());
  if (size % kBlock != 0) {
    auto it = s.blocks.find(size / kBlock);
    if (it != s.blocks.end()) {
      std::fill(it->second.begin() + size % kBlock, it->second.end(), 0);
    }
  }
  return SQLITE_OK;
}

int PlSync(sqlite3_file* file, int flags) {
  PlFile* f = Pl(file);
  if (!f->state) return f->real->pMethods->xSync(f->real, flags);
  std::lock_guard lock(G().mu);
  if (DeadLocked(f)) return SQLITE_IOERR_FSYNC;
  FileState& s = *f->state;
  uint64_t applied = 0, dropped = 0;
  int rc = ApplyLocked(s, true, [] { return true; }, &applied, &dropped);
  if (rc != SQLITE_OK) return rc;
  // The real file now holds the logical content; make its size match too
  // (a truncation that extended, or a tail past the last written block).
  sqlite3_int64 real_size = 0;
  rc = f->real->pMethods->xFileSize(f->real, &real_size);
  if (rc == SQLITE_OK && real_size != s.size) rc = f->real->pMethods->xTruncate(f->real, s.size);
  if (rc != SQLITE_OK) return rc;
  rc = f->real->pMethods->xSync(f->real, flags);
  if (rc != SQLITE_OK) return rc;
  s.MarkClean();
  ++G().syncs;
  return SQLITE_OK;
}

int PlFileSize(sqlite3_file* file, sqlite3_int64* out) {
  PlFile* f = Pl(file);
  if (!f->state) return f->real->pMethods->xFileSize(f->real, out);
  std::lock_guard lock(G().mu);
  if (DeadLocked(f)) return SQLITE_IOERR_FSTAT;
  *out = f->state->size;
  return SQLITE_OK;
}

// Locks are the real file's: passed through, also after a cut, so SQLite
// can always release them.
int PlLock(sqlite3_file* file, int level) {
  return Pl(file)->real->pMethods->xLock(Pl(file)->real, level);
}
int PlUnlock(sqlite3_file* file, int level) {
  return Pl(file)->real->pMethods->xUnlock(Pl(file)->real, level);
}
int PlCheckReservedLock(sqlite3_file* file, int* out) {
  return Pl(file)->real->pMethods->xCheckReservedLock(Pl(file)->real, out);
}

int PlFileControl(sqlite3_file* file, int op, void* arg) {
  sqlite3_file* real = Pl(file)->real;
  switch (op) {
    case SQLITE_FCNTL_SIZE_HINT:   // the unix VFS would grow the real file
    case SQLITE_FCNTL_CHUNK_SIZE:  // ... and round truncations up
      return SQLITE_OK;
    case SQLITE_FCNTL_MMAP_SIZE:   // no mmap: reads must see the overlay
      *static_cast<sqlite3_int64*>(arg) = 0;
      return SQLITE_OK;
    case SQLITE_FCNTL_BEGIN_ATOMIC_WRITE:
    case SQLITE_FCNTL_COMMIT_ATOMIC_WRITE:
    case SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE:
      return SQLITE_NOTFOUND;  // batch-atomic writes are not modelled
    case SQLITE_FCNTL_VFSNAME:
      *static_cast<char**>(arg) = sqlite3_mprintf("%s", PowerLossVfs::kName);
      return SQLITE_OK;
    default:
      return real->pMethods->xFileControl(real, op, arg);
  }
}

int PlSectorSize(sqlite3_file* file) {
  return Pl(file)->real->pMethods->xSectorSize(Pl(file)->real);
}

int PlDeviceCharacteristics(sqlite3_file* file) {
  sqlite3_file* real = Pl(file)->real;
  return real->pMethods->xDeviceCharacteristics(real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

// Shared memory: the unix VFS's, unchanged (see the header).
int PlShmMap(sqlite3_file* file, int page, int page_size, int extend, void volatile** pp) {
  return Pl(file)->real->pMethods->xShmMap(Pl(file)->real, page, page_size, extend, pp);
}
int PlShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return Pl(file)->real->pMethods->xShmLock(Pl(file)->real, offset, n, flags);
}
void PlShmBarrier(sqlite3_file* file) {
  Pl(file)->real->pMethods->xShmBarrier(Pl(file)->real);
}
int PlShmUnmap(sqlite3_file* file, int delete_flag) {
  return Pl(file)->real->pMethods->xShmUnmap(Pl(file)->real, delete_flag);
}

int PlFetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
  *pp = nullptr;  // "not available": SQLite falls back to xRead
  return SQLITE_OK;
}
int PlUnfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

// --- sqlite3_vfs ----------------------------------------------------------

sqlite3_vfs* Real() { return G().real; }

bool Modelled(const char* name, int flags) {
  return name != nullptr &&
         (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL |
                   SQLITE_OPEN_SUPER_JOURNAL)) != 0;
}

int PlOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
           int* out_flags) {
  Global& g = G();
  PlFile* f = Pl(file);
  f->base.pMethods = nullptr;  // SQLite must not call xClose on a failed open
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kPlFileSize);
  f->state = nullptr;
  const bool modelled = Modelled(name, flags);
  std::unique_lock lock(g.mu, std::defer_lock);
  if (modelled) {
    lock.lock();
    if (g.off) return SQLITE_CANTOPEN;
  }
  int rc = Real()->xOpen(Real(), name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  f->base.pMethods = &g.methods;
  f->epoch = 0;
  if (!modelled) return SQLITE_OK;
  f->epoch = g.epoch;

  struct stat st{};
  if (::stat(name, &st) != 0) st = {};
  std::string path(name);
  auto it = g.files.find(path);
  if (it != g.files.end() && (it->second->dev != st.st_dev || it->second->ino != st.st_ino)) {
    DetachLocked(path);  // the file was replaced behind our back
    it = g.files.end();
  }
  if (it == g.files.end()) {
    auto s = std::make_unique<FileState>();
    s->path = path;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    sqlite3_int64 size = 0;
    rc = f->real->pMethods->xFileSize(f->real, &size);
    if (rc != SQLITE_OK) {
      f->real->pMethods->xClose(f->real);
      f->base.pMethods = nullptr;
      return rc;
    }
    s->size = size;
    it = g.files.emplace(path, std::move(s)).first;
  }
  FileState* s = it->second.get();
  if (flags & SQLITE_OPEN_MAIN_DB) g.main_dbs.insert(path);
  s->handles.push_back(f);
  f->state = s;
  return SQLITE_OK;
}

int PlDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  {
    std::lock_guard lock(G().mu);
    if (G().off) return SQLITE_IOERR_DELETE;
    DetachLocked(name);  // unsynced writes to a deleted file do not matter
  }
  return Real()->xDelete(Real(), name, sync_dir);
}

int PlAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  if (flags == SQLITE_ACCESS_EXISTS) {
    // The unix VFS reports "exists" only for a non-empty file; an open file's
    // size is the overlay's.
    std::lock_guard lock(G().mu);
    auto it = G().files.find(name);
    if (it != G().files.end() && !it->second->handles.empty()) {
      *out = it->second->size > 0;
      return SQLITE_OK;
    }
  }
  return Real()->xAccess(Real(), name, flags, out);
}

int PlFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return Real()->xFullPathname(Real(), name, n, out);
}
void* PlDlOpen(sqlite3_vfs*, const char* name) { return Real()->xDlOpen(Real(), name); }
void PlDlError(sqlite3_vfs*, int n, char* msg) { Real()->xDlError(Real(), n, msg); }
void (*PlDlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return Real()->xDlSym(Real(), h, sym);
}
void PlDlClose(sqlite3_vfs*, void* h) { Real()->xDlClose(Real(), h); }
int PlRandomness(sqlite3_vfs*, int n, char* out) { return Real()->xRandomness(Real(), n, out); }
int PlSleep(sqlite3_vfs*, int us) { return Real()->xSleep(Real(), us); }
int PlCurrentTime(sqlite3_vfs*, double* t) { return Real()->xCurrentTime(Real(), t); }
int PlGetLastError(sqlite3_vfs*, int n, char* msg) {
  return Real()->xGetLastError ? Real()->xGetLastError(Real(), n, msg) : 0;
}
int PlCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) {
  return Real()->xCurrentTimeInt64(Real(), t);
}
int PlSetSystemCall(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
  return Real()->xSetSystemCall(Real(), name, p);
}
sqlite3_syscall_ptr PlGetSystemCall(sqlite3_vfs*, const char* name) {
  return Real()->xGetSystemCall(Real(), name);
}
const char* PlNextSystemCall(sqlite3_vfs*, const char* name) {
  return Real()->xNextSystemCall(Real(), name);
}

Status DoRegister() {
  Global& g = G();
  if (sqlite3_initialize() != SQLITE_OK) return Status::Error(EIO, "sqlite3_initialize failed");
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (!real) return Status::Error(EIO, "SQLite has no default VFS");
  if (real->iVersion < 3) {
    return Status::Error(EIO, std::string("VFS ") + real->zName + " is older than version 3");
  }
  g.real = real;

  sqlite3_io_methods& m = g.methods;
  m.iVersion = 3;
  m.xClose = PlClose;
  m.xRead = PlRead;
  m.xWrite = PlWrite;
  m.xTruncate = PlTruncate;
  m.xSync = PlSync;
  m.xFileSize = PlFileSize;
  m.xLock = PlLock;
  m.xUnlock = PlUnlock;
  m.xCheckReservedLock = PlCheckReservedLock;
  m.xFileControl = PlFileControl;
  m.xSectorSize = PlSectorSize;
  m.xDeviceCharacteristics = PlDeviceCharacteristics;
  m.xShmMap = PlShmMap;
  m.xShmLock = PlShmLock;
  m.xShmBarrier = PlShmBarrier;
  m.xShmUnmap = PlShmUnmap;
  m.xFetch = PlFetch;
  m.xUnfetch = PlUnfetch;

  sqlite3_vfs& v = g.vfs;
  v.iVersion = 3;
  v.szOsFile = kPlFileSize + real->szOsFile;
  v.mxPathname = real->mxPathname;
  v.zName = PowerLossVfs::kName;
  v.pAppData = nullptr;
  v.xOpen = PlOpen;
  v.xDelete = PlDelete;
  v.xAccess = PlAccess;
  v.xFullPathname = PlFullPathname;
  v.xDlOpen = PlDlOpen;
  v.xDlError = PlDlError;
  v.xDlSym = PlDlSym;
  v.xDlClose = PlDlClose;
  v.xRandomness = PlRandomness;
  v.xSleep = PlSleep;
  v.xCurrentTime = PlCurrentTime;
  v.xGetLastError = PlGetLastError;
  v.xCurrentTimeInt64 = PlCurrentTimeInt64;
  v.xSetSystemCall = PlSetSystemCall;
  v.xGetSystemCall = PlGetSystemCall;
  v.xNextSystemCall = PlNextSystemCall;
  int rc = sqlite3_vfs_register(&v, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    return Status::Error(EIO, std::string("cannot register VFS: ") + sqlite3_errstr(rc));
  }
  return Status::Ok();
}

}  // namespace

Status PowerLossVfs::Register() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] { result = DoRegister(); });
  return result;
}

PowerLossVfs::CutReport PowerLossVfs::PowerCut(const CutMode& mode) {
  Global& g = G();
  std::lock_guard lock(g.mu);
  CutReport report;
  if (g.off) return report;
  std::mt19937_64 rng(mode.seed);
  const bool tear = mode.kind == CutMode::Kind::kTear;
  auto visit = [&](FileState& s) {
    if (!s.dirty()) return;
    ++report.files;
    if (tear) {
      bool truncate = (rng() & 1) != 0;
      uint64_t applied = 0, dropped = 0;
      int rc = ApplyLocked(s, truncate, [&] { return (rng() & 1) != 0; }, &applied, &dropped);
      if (rc != SQLITE_OK) {
        // A failed write: count what did not make it as dropped.
        dropped = s.blocks.size() - applied;
      }
      report.blocks_applied += applied;
      report.blocks_dropped += dropped;
    } else {
      report.blocks_dropped += s.blocks.size();
    }
    s.MarkClean();
  };
  for (auto& [path, s] : g.files) visit(*s);
  for (auto& s : g.detached) visit(*s);
  // Logical sizes are meaningless now: every handle is dead, and a file
  // without handles is forgotten so a reopen after Reset() starts afresh.
  std::erase_if(g.files, [](const auto& kv) { return kv.second->handles.empty(); });
  for (const std::string& db : g.main_dbs) {
    std::string shm = db + "-shm";
    if (::unlink(shm.c_str()) == 0) ++report.shm_removed;
  }
  g.off = true;
  return report;
}

void PowerLossVfs::Reset() {
  Global& g = G();
  std::lock_guard lock(g.mu);
  g.off = false;
  ++g.epoch;
  // What is left in the table belongs to handles opened before (dead from
  // now on) or is a closed file's unsynced writes (dropped): detach it all,
  // so new opens start from the real files.
  std::vector<std::string> paths;
  for (auto& [path, s] : g.files) paths.push_back(path);
  for (const std::string& p : paths) DetachLocked(p);
  g.main_dbs.clear();
}

bool PowerLossVfs::powered_off() {
  std::lock_guard lock(G().mu);
  return G().off;
}

uint64_t PowerLossVfs::unsynced_bytes() {
  std::lock_guard lock(G().mu);
  uint64_t n = 0;
  for (auto& [path, s] : G().files) n += s->blocks.size() * kBlock;
  for (auto& s : G().detached) n += s->blocks.size() * kBlock;
  return n;
}

uint64_t PowerLossVfs::syncs() {
  std::lock_guard lock(G().mu);
  return G().syncs;
}

}  // namespace slotfs::meta
