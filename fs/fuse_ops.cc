// FUSE low-level handlers: each converts arguments, calls core::Filesystem,
// and replies in one place. No lock is held across a reply.
#include "fs/fuse_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "blockdev/format.h"
#include "common/log.h"

namespace slotfs::fs {
namespace {

using core::Attr;

auto Log() {
  static auto logger = ModuleLogger("fs");
  return logger;
}

OpsContext& Ctx(fuse_req_t req) {
  return *static_cast<OpsContext*>(fuse_req_userdata(req));
}
core::Filesystem& Fs(fuse_req_t req) { return *Ctx(req).fs; }

core::OpenFile* Handle(fuse_file_info* fi) {
  return fi ? reinterpret_cast<core::OpenFile*>(fi->fh) : nullptr;
}

// The single place a Status becomes a FUSE error reply.
void ReplyError(fuse_req_t req, const Status& st, const char* op) {
  static LogRateLimiter limiter(10);
  int err = st.ok() ? 0 : st.code();
  if (err == EIO || err == EUCLEAN || err == ENOMEM) {
    if (limiter.Allow()) Log()->error("{}: {}", op, st.ToString());
    if (err == EUCLEAN) err = EIO;
  } else if (err != 0) {
    Log()->debug("{}: {}", op, st.ToString());
  }
  fuse_reply_err(req, err);
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  return ts;
}

void FillStat(const Attr& a, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = a.ino.value;
  st->st_mode = a.mode;
  // The root also holds the control directory .slotfs (fs/control.h),
  // which the core does not know about.
  st->st_nlink = a.nlink + (a.ino == kRootInode ? 1 : 0);
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_size = static_cast<off_t>(a.size);
  st->st_blocks = static_cast<blkcnt_t>(a.blocks);
  st->st_blksize = 1 << 20;
  st->st_atim = ToTimespec(a.atime_ns);
  st->st_mtim = ToTimespec(a.mtime_ns);
  st->st_ctim = ToTimespec(a.ctime_ns);
}

// Records a handler's time, from construction to scope exit (after its
// reply), in the op's latency histogram. Construct it before replying: the
// request is gone after the reply.
class OpTimer {
 public:
  OpTimer(fuse_req_t req, TimedOp op)
      : hist_(&Ctx(req).latencies[op]), start_(std::chrono::steady_clock::now()) {}
  ~OpTimer() {
    if (hist_ == nullptr) return;
    auto d = std::chrono::steady_clock::now() - start_;
    hist_->Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;
  // Leaves this request out (control files are not the cache's latency).
  void Skip() { hist_ = nullptr; }

 private:
  Histogram* hist_;
  std::chrono::steady_clock::time_point start_;
};

fuse_entry_param EntryOf(fuse_req_t req, const Attr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = a.ino.value;
  e.generation = 1;
  FillStat(a, &e.attr);
  e.attr_timeout = Ctx(req).attr_timeout;
  e.entry_timeout = Ctx(req).entry_timeout;
  return e;
}

void ReplyEntry(fuse_req_t req, const Result<Attr>& r, const char* op) {
  if (!r.ok()) return ReplyError(req, r.status(), op);
  fuse_entry_param e = EntryOf(req, r.value());
  fuse_reply_entry(req, &e);
}

// ---------------------------------------------------------------- control files
// MOUNT/.slotfs (fs/control.h): reserved inodes, read-only.

constexpr int kControlReadOnly = EACCES;  // changing a control inode
constexpr int kControlFixed = EPERM;      // removing or renaming .slotfs itself

Result<Attr> RootAttr(fuse_req_t req) { return Fs(req).GetAttr(kRootInode); }

// Refuses to create `name` in `parent` when it is a control name or inside
// the control directory; 0 when the caller may go on.
int ControlCreateCheck(fuse_ino_t parent, const char* name) {
  if (parent == kControlDirIno) return kControlReadOnly;
  if (IsControlName(parent, name)) return EEXIST;
  return 0;
}

// Same for removing or renaming `name` in `parent`.
int ControlRemoveCheck(fuse_ino_t parent, const char* name) {
  if (parent == kControlDirIno) return kControlReadOnly;
  if (IsControlName(parent, name)) return kControlFixed;
  return 0;
}

void ReplyErrno(fuse_req_t req, int err, const char* op) {
  ReplyError(req, Status::Error(err, "control files are read-only"), op);
}

// Renders the content of control file `ino` for one open.
Result<std::string> RenderControl(fuse_req_t req, fuse_ino_t ino) {
  OpsContext& ctx = Ctx(req);
  ControlView v;
  SLOTFS_ASSIGN_OR_RETURN(v.stats, ctx.fs->Stats());
  v.device = ctx.device;
  v.mountpoint = ctx.mountpoint;
  v.uuid = blockdev::UuidToString(ctx.fs->superblock().uuid);
  v.version = SLOTFS_VERSION;
  v.latencies = SummarizeLatencies(ctx.latencies);
  if (ino == kStatsIno) return RenderStatsJson(v);
  return RenderMetrics(v);
}

void ControlOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == kControlDirIno) return ReplyErrno(req, EISDIR, "open");
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
    return ReplyErrno(req, kControlReadOnly, "open");
  }
  Result<std::string> content = RenderControl(req, ino);
  if (!content.ok()) return ReplyError(req, content.status(), "open");
  auto handle = std::make_unique<ControlHandle>();
  handle->content = std::move(content.value());
  fi->fh = reinterpret_cast<uint64_t>(handle.get());
  fi->direct_io = 1;  // st_size is 0: reads must reach us, not the page cache
  fi->keep_cache = 0;
  if (fuse_reply_open(req, fi) == 0) handle.release();
}

void ControlRead(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi) {
  const std::string& c = reinterpret_cast<ControlHandle*>(fi->fh)->content;
  size_t begin = std::min(static_cast<size_t>(off), c.size());
  size_t n = std::min(size, c.size() - begin);
  fuse_reply_buf(req, c.data() + begin, n);
}

// ---------------------------------------------------------------- lifecycle

void OpInit(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_ASYNC_DIO);
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  Log()->info("FUSE session ready: protocol {}.{}, max_write {} bytes",
              conn->proto_major, conn->proto_minor, conn->max_write);
}

void OpDestroy(void* userdata) {
  auto* ctx = static_cast<OpsContext*>(userdata);
  Status st = ctx->fs->Shutdown();
  if (!st.ok()) Log()->error("shutdown: {}", st.ToString());
}

// ---------------------------------------------------------------- namespace

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  OpTimer timer(req, TimedOp::kLookup);
  Result<Attr> r = Status::Error(ENOENT, "");
  if (parent == kControlDirIno || IsControlName(parent, name)) {
    timer.Skip();
    Result<Attr> root = RootAttr(req);
    if (!root.ok()) return ReplyError(req, root.status(), "lookup");
    r = parent == kControlDirIno ? ControlLookup(name, root.value())
                                 : ControlAttr(kControlDirIno, root.value());
  } else {
    r = Fs(req).Lookup(InodeNo(parent), name);
  }
  if (!r.ok() && r.status().code() == ENOENT) {
    // Negative entry, cached by the kernel for entry_timeout.
    fuse_entry_param e;
    std::memset(&e, 0, sizeof e);
    e.entry_timeout = Ctx(req).entry_timeout;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntry(req, r, "lookup");
}

void OpForget(fuse_req_t req, fuse_ino_t, uint64_t) {
  // Inode numbers are never reused, so the kernel's lookup counts need no
  // bookkeeping here: data lifetime follows open files, not lookups.
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t, fuse_forget_data*) {
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Result<Attr> r = Fs(req).GetAttr(IsControlIno(ino) ? kRootInode : InodeNo(ino));
  if (r.ok() && IsControlIno(ino)) r = ControlAttr(ino, r.value());
  if (!r.ok()) return ReplyError(req, r.status(), "getattr");
  struct stat st;
  FillStat(r.value(), &st);
  fuse_reply_attr(req, &st, Ctx(req).attr_timeout);
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) {
  if (IsControlIno(ino)) return ReplyErrno(req, kControlReadOnly, "setattr");
  core::SetAttrRequest sr;
  if (to_set & FUSE_SET_ATTR_MODE) sr.mode = attr->st_mode;
  if (to_set & FUSE_SET_ATTR_UID) sr.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) sr.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) sr.size = static_cast<uint64_t>(attr->st_size);
  auto ns = [](const timespec& ts) {
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  };
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    sr.atime_ns = core::SetAttrRequest::kTimeNow;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    sr.atime_ns = ns(attr->st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    sr.mtime_ns = core::SetAttrRequest::kTimeNow;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    sr.mtime_ns = ns(attr->st_mtim);
  }
  Result<Attr> r = Fs(req).SetAttr(InodeNo(ino), sr, Handle(fi));
  if (!r.ok()) return ReplyError(req, r.status(), "setattr");
  struct stat st;
  FillStat(r.value(), &st);
  fuse_reply_attr(req, &st, Ctx(req).attr_timeout);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (int err = ControlCreateCheck(parent, name)) return ReplyErrno(req, err, "mkdir");
  const fuse_ctx* c = fuse_req_ctx(req);
  ReplyEntry(req, Fs(req).MkDir(InodeNo(parent), name, mode, c->uid, c->gid), "mkdir");
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (int err = ControlRemoveCheck(parent, name)) return ReplyErrno(req, err, "rmdir");
  ReplyError(req, Fs(req).RmDir(InodeNo(parent), name), "rmdir");
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (int err = ControlRemoveCheck(parent, name)) return ReplyErrno(req, err, "unlink");
  OpTimer timer(req, TimedOp::kUnlink);
  ReplyError(req, Fs(req).Unlink(InodeNo(parent), name), "unlink");
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name,
              fuse_ino_t newparent, const char* newname, unsigned int flags) {
  int err = ControlRemoveCheck(parent, name);
  if (err == 0) err = ControlRemoveCheck(newparent, newname);
  if (err != 0) return ReplyErrno(req, err, "rename");
  ReplyError(req,
             Fs(req).Rename(InodeNo(parent), name, InodeNo(newparent), newname, flags),
             "rename");
}

void OpUnsupportedEntry(fuse_req_t req, const char* what) {
  ReplyError(req, Status::Error(ENOTSUP, std::string(what) + " is not supported"), what);
}

void OpSymlink(fuse_req_t req, const char*, fuse_ino_t parent, const char* name) {
  if (int err = ControlCreateCheck(parent, name)) return ReplyErrno(req, err, "symlink");
  OpUnsupportedEntry(req, "symlink");
}

void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t parent, const char* name) {
  if (int err = ControlCreateCheck(parent, name)) return ReplyErrno(req, err, "link");
  OpUnsupportedEntry(req, "link");
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
             dev_t) {
  if (int err = ControlCreateCheck(parent, name)) return ReplyErrno(req, err, "mknod");
  if (!S_ISREG(mode)) return OpUnsupportedEntry(req, "mknod of a special file");
  const fuse_ctx* c = fuse_req_ctx(req);
  Attr attr;
  auto of = Fs(req).Create(InodeNo(parent), name, mode, c->uid, c->gid,
                           O_CREAT | O_EXCL | O_WRONLY, &attr);
  if (!of.ok()) return ReplyError(req, of.status(), "mknod");
  Fs(req).Release(std::move(of.value()));
  ReplyEntry(req, attr, "mknod");
}

// ---------------------------------------------------------------- files

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  if (int err = ControlCreateCheck(parent, name)) return ReplyErrno(req, err, "create");
  OpTimer timer(req, TimedOp::kCreate);
  const fuse_ctx* c = fuse_req_ctx(req);
  Attr attr;
  auto of = Fs(req).Create(InodeNo(parent), name, mode, c->uid, c->gid, fi->flags, &attr);
  if (!of.ok()) return ReplyError(req, of.status(), "create");
  fi->fh = reinterpret_cast<uint64_t>(of.value().release());
  fi->keep_cache = 0;
  fuse_entry_param e = EntryOf(req, attr);
  if (fuse_reply_create(req, &e, fi) != 0) {
    Fs(req).Release(std::unique_ptr<core::OpenFile>(Handle(fi)));
  }
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (IsControlIno(ino)) return ControlOpen(req, ino, fi);
  OpTimer timer(req, TimedOp::kOpen);
  auto of = Fs(req).Open(InodeNo(ino), fi->flags);
  if (!of.ok()) return ReplyError(req, of.status(), "open");
  fi->fh = reinterpret_cast<uint64_t>(of.value().release());
  fi->keep_cache = 0;
  if (fuse_reply_open(req, fi) != 0) {
    Fs(req).Release(std::unique_ptr<core::OpenFile>(Handle(fi)));
  }
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  if (off < 0) return ReplyError(req, Status::Error(EINVAL, "negative offset"), "read");
  if (IsControlIno(ino)) return ControlRead(req, size, off, fi);
  OpTimer timer(req, TimedOp::kRead);
  Result<core::ReadResult> r = Fs(req).Read(*Handle(fi), static_cast<uint64_t>(off), size);
  if (!r.ok()) return ReplyError(req, r.status(), "read");
  fuse_reply_buf(req, reinterpret_cast<const char*>(r->data()), r->length);
}

void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  if (IsControlIno(ino)) return ReplyErrno(req, kControlReadOnly, "write");
  OpTimer timer(req, TimedOp::kWrite);
  if (off < 0) return ReplyError(req, Status::Error(EINVAL, "negative offset"), "write");
  Result<size_t> r = Fs(req).Write(
      *Handle(fi), static_cast<uint64_t>(off),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), size));
  if (!r.ok()) return ReplyError(req, r.status(), "write");
  fuse_reply_write(req, r.value());
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (IsControlIno(ino)) return (void)fuse_reply_err(req, 0);
  OpTimer timer(req, TimedOp::kFlush);
  ReplyError(req, Fs(req).Flush(*Handle(fi)), "flush");
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (IsControlIno(ino)) {
    delete reinterpret_cast<ControlHandle*>(fi->fh);
    fuse_reply_err(req, 0);
    return;
  }
  Fs(req).Release(std::unique_ptr<core::OpenFile>(Handle(fi)));
  fuse_reply_err(req, 0);
}

void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) {
  if (IsControlIno(ino)) return ReplyErrno(req, kControlReadOnly, "fallocate");
  if (offset < 0 || length <= 0) {
    return ReplyError(req, Status::Error(EINVAL, "negative offset or length"), "fallocate");
  }
  ReplyError(req,
             Fs(req).Fallocate(*Handle(fi), mode, static_cast<uint64_t>(offset),
                               static_cast<uint64_t>(length)),
             "fallocate");
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info* fi) {
  if (IsControlIno(ino)) return (void)fuse_reply_err(req, 0);
  OpTimer timer(req, TimedOp::kFsync);
  ReplyError(req, Fs(req).Fsync(*Handle(fi)), "fsync");
}

// ---------------------------------------------------------------- directories

void DoReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  // Roughly how many entries fit; fetching a few too many only costs work.
  size_t max = std::max<size_t>(2, size / 48 + 2);
  Result<std::vector<core::DirEntry>> r = Status::Error(ENOENT, "");
  if (ino == kRootInode.value || IsControlIno(ino)) {
    Result<Attr> root = RootAttr(req);
    if (!root.ok()) return ReplyError(req, root.status(), "readdir");
    if (ino == kControlDirIno) {
      r = ControlReadDir(static_cast<uint64_t>(off), root.value());
    } else if (IsControlIno(ino)) {
      r = Status::Error(ENOTDIR, "not a directory");
    } else {
      r = Fs(req).ReadDir(kRootInode, static_cast<uint64_t>(off), max);
      if (r.ok()) AddControlEntry(static_cast<uint64_t>(off), root.value(), &r.value());
    }
  } else {
    r = Fs(req).ReadDir(InodeNo(ino), static_cast<uint64_t>(off), max);
  }
  if (!r.ok()) return ReplyError(req, r.status(), "readdir");
  std::vector<char> buf(size);
  size_t used = 0;
  for (const core::DirEntry& d : r.value()) {
    size_t n;
    if (plus) {
      fuse_entry_param e = EntryOf(req, d.attr);
      if (d.name == "." || d.name == "..") e.ino = 0;  // no lookup reference
      n = fuse_add_direntry_plus(req, buf.data() + used, size - used, d.name.c_str(),
                                 &e, static_cast<off_t>(d.next_offset));
    } else {
      struct stat st;
      FillStat(d.attr, &st);
      n = fuse_add_direntry(req, buf.data() + used, size - used, d.name.c_str(), &st,
                            static_cast<off_t>(d.next_offset));
    }
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  DoReaddir(req, ino, size, off, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   fuse_file_info*) {
  DoReaddir(req, ino, size, off, true);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  core::FsStats s = Fs(req).StatFs();
  struct statvfs v;
  std::memset(&v, 0, sizeof v);
  v.f_bsize = s.block_size;
  v.f_frsize = s.block_size;
  v.f_blocks = s.blocks;
  v.f_bfree = s.blocks_free;
  v.f_bavail = s.blocks_free;
  v.f_files = s.files;
  v.f_ffree = s.files_free;
  v.f_favail = s.files_free;
  v.f_namemax = s.name_max;
  fuse_reply_statfs(req, &v);
}

// ---------------------------------------------------------------- xattrs

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                size_t size, int flags) {
  if (IsControlIno(ino)) return ReplyErrno(req, kControlReadOnly, "setxattr");
  ReplyError(req, Fs(req).SetXattr(InodeNo(ino), name, std::string_view(value, size), flags),
             "setxattr");
}

void ReplyXattrValue(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (IsControlIno(ino)) return (void)fuse_reply_err(req, ENODATA);
  Result<std::string> r = Fs(req).GetXattr(InodeNo(ino), name);
  if (!r.ok()) return ReplyError(req, r.status(), "getxattr");
  ReplyXattrValue(req, r.value(), size);
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  if (IsControlIno(ino)) return ReplyXattrValue(req, "", size);
  auto r = Fs(req).ListXattr(InodeNo(ino));
  if (!r.ok()) return ReplyError(req, r.status(), "listxattr");
  std::string all;
  for (const std::string& n : r.value()) {
    all += n;
    all.push_back('\0');
  }
  ReplyXattrValue(req, all, size);
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  if (IsControlIno(ino)) return ReplyErrno(req, kControlReadOnly, "removexattr");
  ReplyError(req, Fs(req).RemoveXattr(InodeNo(ino), name), "removexattr");
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.mkdir = OpMkdir;
  ops.rmdir = OpRmdir;
  ops.unlink = OpUnlink;
  ops.rename = OpRename;
  ops.symlink = OpSymlink;
  ops.link = OpLink;
  ops.mknod = OpMknod;
  ops.create = OpCreate;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.fallocate = OpFallocate;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.statfs = OpStatfs;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& SlotfsOps() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace slotfs::fs
