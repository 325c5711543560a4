// core::Filesystem: lifecycle, namespace operations, attributes, xattrs.
// The data path is in data_path.cc, group commit in committer.cc.
#include "core/filesystem.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "common/clock.h"
#include "common/log.h"

namespace slotfs::core {
namespace {

// The allocator's stride in slots: CoreConfig::kAllocStrideBytes of room
// per new file (at least config.alloc_stride slots), but at most a
// sixteenth of the device, so that a small device still spreads new files
// instead of packing each one at the first free slot.
uint64_t AllocStride(const CoreConfig& config, const blockdev::Superblock& sb) {
  const uint64_t want = std::max(config.alloc_stride, CoreConfig::kAllocStrideBytes / sb.slot_size);
  return std::max<uint64_t>(1, std::min(want, std::max(config.alloc_stride, sb.slot_count / 16)));
}

auto Log() {
  static auto logger = ModuleLogger("core");
  return logger;
}

constexpr std::string_view kXattrPrefix = "user.slotfs.";

// Data-path buffers: one FUSE request (at most 1 MiB, plus the edge blocks
// of an unaligned one) or one whole slot, whichever is larger. At most
// kIdleBufferBytes of them are kept for reuse when idle.
constexpr uint64_t kMaxRequestBytes = 1 << 20;
constexpr uint64_t kIdleBufferBytes = 32 << 20;

uint64_t PoolBufferSize(uint64_t slot_size) {
  return std::max(slot_size, kMaxRequestBytes) + 2 * kIoAlign;
}
constexpr std::string_view kXattrNames[] = {
    "user.slotfs.slots", "user.slotfs.extents", "user.slotfs.size",
    "user.slotfs.state", "user.slotfs.pin",     "user.slotfs.slot_size",
    "user.slotfs.checksums", "user.slotfs.last_access"};

// "2026-11-25T01:02:03.123456789Z"
std::string FormatUtcNs(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09" PRId64 "Z", ns % 1'000'000'000);
  return buf;
}

bool IsDir(uint32_t mode) { return S_ISDIR(mode); }

}  // namespace

Result<EvictPolicy> ParseEvictPolicy(std::string_view name) {
  if (name == "lru") return EvictPolicy::kLru;
  if (name == "none") return EvictPolicy::kNone;
  return Status::Error(EINVAL, "unknown eviction policy '" + std::string(name) +
                                   "' (lru or none)");
}

std::string_view EvictPolicyName(EvictPolicy policy) {
  return policy == EvictPolicy::kLru ? "lru" : "none";
}

Status CoreConfig::Validate() const {
  if (evict_high_pct < 1 || evict_high_pct > 100 || evict_low_pct >= evict_high_pct) {
    return Status::Error(EINVAL, "eviction watermarks must satisfy 0 <= evict_low < "
                                 "evict_high <= 100 (percent of slots in use)");
  }
  if (commit_interval.count() < 1 || commit_interval.count() > 60'000) {
    return Status::Error(EINVAL, "commit interval must be 1..60000 ms");
  }
  if (alloc_stride == 0) return Status::Error(EINVAL, "alloc stride must be > 0");
  return Status::Ok();
}

Filesystem::Filesystem(std::unique_ptr<blockdev::Device> device,
                       const blockdev::Superblock& sb,
                       std::unique_ptr<meta::Store> store,
                       const CoreConfig& config)
    : sb_(sb),
      layout_(sb),
      config_(config),
      slot_size_(sb.slot_size),
      device_(std::move(device)),
      buffers_(blockdev::BufferPool::Create(
          PoolBufferSize(sb.slot_size),
          std::max<uint64_t>(2, kIdleBufferBytes / PoolBufferSize(sb.slot_size)))),
      store_(std::move(store)),
      allocator_(sb.slot_count,
                 AllocStride(config, sb)) {
  uint64_t capacity = sb.slot_count * sb.slot_size;
  max_file_size_ = config.max_file_size == 0
                       ? capacity
                       : std::min(config.max_file_size, capacity);
}

Result<std::unique_ptr<Filesystem>> Filesystem::Open(
    std::unique_ptr<blockdev::Device> device, const blockdev::Superblock& sb,
    std::unique_ptr<meta::Store> store, const CoreConfig& config) {
  SLOTFS_RETURN_IF_ERROR(config.Validate());
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Filesystem> fs(
      new Filesystem(std::move(device), sb, std::move(store), config));
  SLOTFS_ASSIGN_OR_RETURN(fs->mount_summary_.recovery, fs->store_->Recover());
  Status st = fs->store_->ForEachSlotRun([&](SlotId first, uint64_t count) -> Status {
    Status s = fs->allocator_.MarkUsed(first, count);
    if (!s.ok()) {
      return Status::Error(EUCLEAN, "the database's extents are inconsistent: " +
                                        s.message() + "; run 'slotfs check --repair'");
    }
    return s;
  });
  SLOTFS_RETURN_IF_ERROR(st);
  fs->mount_summary_.slots_used = fs->allocator_.usage().used;
  fs->mount_summary_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& r = fs->mount_summary_.recovery;
  Log()->info(
      "mounted {}: uuid {}, {} slots of {} KiB, engine {}; recovery: {} files "
      "kept, {} in-flight writes discarded ({} new files removed, {} rewrites "
      "rolled back to the committed version), {} slots in use, {} free, {:.3f} s",
      fs->device_->path(), blockdev::UuidToString(sb.uuid), sb.slot_count,
      sb.slot_size / 1024, fs->device_->engine_name(), r.files_kept,
      r.writes_discarded, r.creates_discarded, r.rewrites_discarded,
      fs->mount_summary_.slots_used, sb.slot_count - fs->mount_summary_.slots_used,
      fs->mount_summary_.seconds);
  return fs;
}

Filesystem::~Filesystem() { (void)Shutdown(); }

void Filesystem::Start() {
  std::lock_guard lock(table_mu_);
  if (committer_.joinable() || shut_down_) return;
  stop_ = false;
  committer_ = std::thread([this] { CommitterLoop(); });
  pthread_setname_np(committer_.native_handle(), "slotfs-commit");
  std::lock_guard drop(drop_mu_);
  evict_stop_ = false;
  evictor_ = std::thread([this] { EvictorLoop(); });
  pthread_setname_np(evictor_.native_handle(), "slotfs-evict");
}

Status Filesystem::Shutdown() {
  {
    std::lock_guard lock(table_mu_);
    if (shut_down_) return Status::Ok();
    shut_down_ = true;
    stop_ = true;
  }
  {
    std::lock_guard drop(drop_mu_);
    evict_stop_ = true;
  }
  evict_cv_.notify_all();
  if (evictor_.joinable()) evictor_.join();
  Status ft = FlushAccessTimes();
  if (!ft.ok()) Log()->warn("cannot record access times at unmount: {}", ft.ToString());
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  // Commit what is left: queued files and any file still holding changes.
  std::vector<std::shared_ptr<ActiveInode>> batch;
  {
    std::lock_guard lock(table_mu_);
    for (auto& [ino, inode] : active_) {
      if (inode->gen.load() != inode->committed_gen.load()) batch.push_back(inode);
    }
    queue_.clear();
  }
  Status st = CommitBatch(batch, /*freeze_unfrozen=*/true);
  if (!st.ok()) Log()->error("final commit failed: {}", st.ToString());
  Status cp = store_->Checkpoint();
  if (!cp.ok()) Log()->warn("database checkpoint at unmount failed: {}", cp.ToString());
  auto u = allocator_.usage();
  Log()->info("unmounted {}: {} slots used, {} free", device_->path(), u.used,
              u.free + u.quarantined);
  return st;
}

// ---------------------------------------------------------------- attributes

Attr Filesystem::AttrFromRow(const meta::InodeRow& row) const {
  Attr a;
  a.ino = row.ino;
  a.mode = row.mode;
  a.nlink = 1;
  if (IsDir(row.mode)) {
    // "." and its entry in the parent, plus each subdirectory's "..".
    // find(1) and fts rely on it to stop looking for subdirectories.
    Result<uint64_t> subdirs = store_->CountSubdirs(row.ino);
    a.nlink = 2 + static_cast<uint32_t>(subdirs.ok() ? subdirs.value() : 0);
  }
  a.uid = row.uid;
  a.gid = row.gid;
  a.size = IsDir(row.mode) ? 0 : row.size;
  a.blocks = row.slots * (slot_size_ / 512);
  a.atime_ns = row.atime_ns;
  a.mtime_ns = row.mtime_ns;
  a.ctime_ns = row.ctime_ns;
  return a;
}

Attr Filesystem::AttrFromActive(const ActiveInode& inode) const {
  Attr a = AttrFromRow(inode.row);
  uint64_t slots = 0;
  for (const SlotRef& r : inode.map) slots += r.mapped() ? 1 : 0;
  a.blocks = slots * (slot_size_ / 512);
  return a;
}

Attr Filesystem::AttrOf(const meta::InodeRow& row) {
  // A directory's attributes live in the store only (its times change with
  // its entries); an active inode of one (opendir) holds a stale copy.
  if (IsDir(row.mode)) return AttrFromRow(row);
  std::shared_ptr<ActiveInode> inode;
  {
    std::lock_guard lock(table_mu_);
    auto it = active_.find(row.ino);
    if (it != active_.end()) inode = it->second;
  }
  if (!inode) return AttrFromRow(row);
  std::shared_lock lock(inode->mu);
  return AttrFromActive(*inode);
}

Result<Attr> Filesystem::Lookup(InodeNo parent, std::string_view name) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  auto row = store_->Lookup(parent, name);
  if (!row.ok()) {
    if (row.status().code() == ENOENT) counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return row.status();
  }
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  return AttrOf(row.value());
}

Result<Attr> Filesystem::GetAttr(InodeNo ino) {
  // An open file keeps its attributes after its name is gone (the kernel
  // revalidates them through an open fd).
  std::shared_ptr<ActiveInode> inode;
  bool unlinked = false;
  {
    std::lock_guard lock(table_mu_);
    auto it = active_.find(ino);
    if (it != active_.end()) {
      inode = it->second;
      unlinked = inode->unlinked;
    }
  }
  if (inode && !IsDir(inode->row.mode)) {
    std::shared_lock lock(inode->mu);
    if (!inode->retired) {
      Attr a = AttrFromActive(*inode);
      if (unlinked) a.nlink = 0;
      return a;
    }
  }
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  return AttrOf(row);
}

Result<Attr> Filesystem::SetAttrDir(InodeNo ino, const SetAttrRequest& req) {
  // Under ns_mu_: entry changes also write the directory's times, and the
  // row written back here must not undo one.
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  if (req.size) return Status::Error(EISDIR, "truncate of a directory");
  int64_t now = WallNowNs();
  if (req.mode) row.mode = (row.mode & S_IFMT) | (*req.mode & 07777);
  if (req.uid) row.uid = *req.uid;
  if (req.gid) row.gid = *req.gid;
  if (req.atime_ns) row.atime_ns = *req.atime_ns == SetAttrRequest::kTimeNow ? now : *req.atime_ns;
  if (req.mtime_ns) row.mtime_ns = *req.mtime_ns == SetAttrRequest::kTimeNow ? now : *req.mtime_ns;
  if (req.mode || req.uid || req.gid || req.atime_ns || req.mtime_ns) {
    row.ctime_ns = now;
    SLOTFS_RETURN_IF_ERROR(store_->UpdateAttrs(row));
  }
  return AttrFromRow(row);
}

Result<Attr> Filesystem::SetAttr(InodeNo ino, const SetAttrRequest& req,
                                 OpenFile* of) {
  bool dir;
  if (of) {
    std::shared_lock lock(of->inode->mu);
    dir = IsDir(of->inode->row.mode);
  } else {
    Result<meta::InodeRow> row = store_->GetInode(ino);
    dir = row.ok() && IsDir(row->mode);
  }
  if (dir) return SetAttrDir(ino, req);
  std::shared_ptr<ActiveInode> inode;
  bool closed = false;  // by path, and nobody has the file open
  if (of) {
    inode = of->inode;
  } else {
    std::lock_guard lock(table_mu_);
    SLOTFS_ASSIGN_OR_RETURN(inode, LoadLocked(ino));
    closed = inode->open_count == 0;
  }
  Result<Attr> out = [&]() -> Result<Attr> {
    std::unique_lock lock(inode->mu);
    WaitForWrites(*inode, lock);
    if (inode->retired) return Status::Error(ENOENT, "file was removed");
    meta::InodeRow row = inode->row;
    int64_t now = WallNowNs();
    if (req.size) {
      if (IsDir(row.mode)) return Status::Error(EISDIR, "truncate of a directory");
      SLOTFS_RETURN_IF_ERROR(TruncateLocked(*inode, *req.size));
      // truncate(2) of a closed file has no close to follow it: this
      // version is complete now, and commits in the next round (even when
      // a version frozen by the last close is committing meanwhile). An
      // open file's next close freezes it.
      if (closed) SLOTFS_RETURN_IF_ERROR(FreezeLocked(*inode));
      row.mtime_ns = inode->row.mtime_ns;
      row.ctime_ns = inode->row.ctime_ns;
    }
    if (req.mode) row.mode = (row.mode & S_IFMT) | (*req.mode & 07777);
    if (req.uid) row.uid = *req.uid;
    if (req.gid) row.gid = *req.gid;
    if (req.atime_ns) {
      row.atime_ns = *req.atime_ns == SetAttrRequest::kTimeNow ? now : *req.atime_ns;
      ForgetAccess(ino);  // an explicit time wins over a batched access
    }
    if (req.mtime_ns) row.mtime_ns = *req.mtime_ns == SetAttrRequest::kTimeNow ? now : *req.mtime_ns;
    if (req.mode || req.uid || req.gid || req.atime_ns || req.mtime_ns) row.ctime_ns = now;
    if (req.mode || req.uid || req.gid || req.atime_ns || req.mtime_ns) {
      // ENOENT here means the name is gone but the file is still open: the
      // change applies to the open file only.
      Status st = store_->UpdateAttrs(row);
      if (!st.ok() && st.code() != ENOENT) return st;
    }
    inode->row.mode = row.mode;
    inode->row.uid = row.uid;
    inode->row.gid = row.gid;
    inode->row.atime_ns = row.atime_ns;
    inode->row.mtime_ns = row.mtime_ns;
    inode->row.ctime_ns = row.ctime_ns;
    return AttrFromActive(*inode);
  }();
  if (!of) {
    std::lock_guard lock(table_mu_);
    if (inode->gen.load() != inode->committed_gen.load()) {
      EnqueueLocked(inode, false);
    } else {
      MaybeForgetLocked(inode);
    }
  }
  return out;
}

// ---------------------------------------------------------------- namespace

Status Filesystem::CheckName(std::string_view name) {
  if (name.size() > kNameMax) {
    return Status::Error(ENAMETOOLONG, "name longer than 255 bytes");
  }
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::Error(EINVAL, "invalid name");
  }
  return Status::Ok();
}

Result<Attr> Filesystem::MkDir(InodeNo parent, std::string_view name,
                               uint32_t mode, uint32_t uid, uint32_t gid) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow dir, store_->GetInode(parent));
  if (!IsDir(dir.mode)) return Status::Error(ENOTDIR, "parent is not a directory");
  SLOTFS_ASSIGN_OR_RETURN(
      meta::InodeRow row,
      store_->CreateInode(parent, name, S_IFDIR | (mode & 07777), uid, gid,
                          WallNowNs(), meta::InodeState::kComplete));
  return AttrFromRow(row);
}

Status Filesystem::RmDir(InodeNo parent, std::string_view name) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->Lookup(parent, name));
  if (!IsDir(row.mode)) return Status::Error(ENOTDIR, "not a directory");
  SLOTFS_ASSIGN_OR_RETURN(bool children, store_->HasChildren(row.ino));
  if (children) return Status::Error(ENOTEMPTY, "directory not empty");
  return store_->DeleteInode(row.ino).status();
}

Status Filesystem::Unlink(InodeNo parent, std::string_view name) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->Lookup(parent, name));
  if (IsDir(row.mode)) return Status::Error(EISDIR, "is a directory");
  std::lock_guard table(table_mu_);
  SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::Extent> ext, store_->DeleteInode(row.ino));
  DropInodeLocked(row.ino, ext);
  return Status::Ok();
}

void Filesystem::DropInodeLocked(InodeNo ino,
                                 const std::vector<meta::Extent>& extents) {
  auto it = active_.find(ino);
  if (it == active_.end()) {
    std::vector<SlotId> slots;
    for (const meta::Extent& e : extents) {
      for (uint64_t i = 0; i < e.count; ++i) slots.push_back(SlotId(e.slot.value + i));
    }
    allocator_.Free(slots, store_->last_seq());
    return;
  }
  // The active inode owns every slot the row had (its map was loaded from
  // it, or replaced it); it gives them back when the last open goes.
  std::shared_ptr<ActiveInode> inode = it->second;
  inode->unlinked = true;
  if (inode->open_count == 0) RetireLocked(*inode);
}

void Filesystem::DropCorruptFile(InodeNo ino) {
  meta::InodeRow row;
  {
    std::lock_guard ns(ns_mu_);
    Result<meta::InodeRow> r = store_->GetInode(ino);
    if (!r.ok()) return;  // already gone
    row = r.value();
    std::lock_guard table(table_mu_);
    auto ext = store_->DeleteInode(ino);
    if (!ext.ok()) {
      Log()->error("inode {}: cannot drop the corrupt entry: {}", ino.value,
                   ext.status().ToString());
      return;
    }
    DropInodeLocked(ino, ext.value());
  }
  counters_.entries_dropped.fetch_add(1, std::memory_order_relaxed);
  if (entry_dropped_) entry_dropped_(row.parent, row.name);
}

void Filesystem::RetireLocked(ActiveInode& inode) {
  std::unique_lock lock(inode.mu);
  WaitForWrites(inode, lock);
  if (inode.retired) return;
  inode.retired = true;
  std::vector<SlotId> dirty, committed;
  for (const SlotRef& r : inode.map) {
    if (!r.mapped()) continue;
    (r.dirty ? dirty : committed).push_back(SlotId(r.phys));
  }
  committed.insert(committed.end(), inode.freed.begin(), inode.freed.end());
  inode.map.clear();
  inode.freed_released += inode.freed.size();
  inode.freed.clear();
  allocator_.FreeNow(dirty);
  allocator_.Free(committed, store_->last_seq());
  lock.unlock();
  active_.erase(inode.ino);
}

Status Filesystem::Rename(InodeNo parent, std::string_view name,
                          InodeNo new_parent, std::string_view new_name,
                          unsigned flags) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  SLOTFS_RETURN_IF_ERROR(CheckName(new_name));
  if (flags & RENAME_EXCHANGE) return Status::Error(ENOTSUP, "RENAME_EXCHANGE");
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) {
    return Status::Error(EINVAL, "unsupported rename flags");
  }
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow src, store_->Lookup(parent, name));
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow dst_dir, store_->GetInode(new_parent));
  if (!IsDir(dst_dir.mode)) return Status::Error(ENOTDIR, "target parent is not a directory");
  if (IsDir(src.mode)) {
    // A directory may not move below itself.
    for (InodeNo p = new_parent; p.value != 0 && p != kRootInode;) {
      if (p == src.ino) return Status::Error(EINVAL, "cannot move a directory into itself");
      SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow pr, store_->GetInode(p));
      p = pr.parent;
    }
  }
  InodeNo replaced(0);
  Result<meta::InodeRow> dst = store_->Lookup(new_parent, new_name);
  if (dst.ok()) {
    if (dst->ino == src.ino) return Status::Ok();
    if (flags & RENAME_NOREPLACE) return Status::Error(EEXIST, "target exists");
    if (IsDir(src.mode) && !IsDir(dst->mode)) return Status::Error(ENOTDIR, "target is not a directory");
    if (!IsDir(src.mode) && IsDir(dst->mode)) return Status::Error(EISDIR, "target is a directory");
    if (IsDir(dst->mode)) {
      SLOTFS_ASSIGN_OR_RETURN(bool children, store_->HasChildren(dst->ino));
      if (children) return Status::Error(ENOTEMPTY, "target directory not empty");
    }
    replaced = dst->ino;
  } else if (dst.status().code() != ENOENT) {
    return dst.status();
  }
  if (replaced.value != 0) {
    // Replacing a name with a file whose closed version has not committed
    // yet: commit it first, so a crash cannot keep the removal of the old
    // file and lose the new one (write-to-temp-then-rename stays atomic).
    std::shared_ptr<ActiveInode> source;
    {
      std::lock_guard table(table_mu_);
      auto it = active_.find(src.ino);
      if (it != active_.end()) source = it->second;
    }
    bool frozen = false;
    if (source) {
      std::shared_lock lock(source->mu);
      frozen = source->frozen.has_value();
    }
    if (frozen) SLOTFS_RETURN_IF_ERROR(CommitBatch({source}, /*freeze_unfrozen=*/false));
  }
  std::lock_guard table(table_mu_);
  SLOTFS_ASSIGN_OR_RETURN(
      std::vector<meta::Extent> ext,
      store_->Rename(src.ino, new_parent, new_name, replaced, WallNowNs()));
  if (replaced.value != 0) DropInodeLocked(replaced, ext);
  return Status::Ok();
}

Result<std::vector<DirEntry>> Filesystem::ReadDir(InodeNo dir, uint64_t offset,
                                                  size_t max) {
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow self, store_->GetInode(dir));
  if (!IsDir(self.mode)) return Status::Error(ENOTDIR, "not a directory");
  std::vector<DirEntry> out;
  // Offsets: "." -> 1, ".." -> 2, child with inode i -> i + 2. Inode numbers
  // are never reused, so offsets stay valid while entries come and go.
  if (offset < 1 && out.size() < max) {
    out.push_back({".", AttrFromRow(self), 1});
  }
  if (offset < 2 && out.size() < max) {
    meta::InodeRow parent = self;
    if (self.ino != kRootInode) {
      Result<meta::InodeRow> p = store_->GetInode(self.parent);
      if (p.ok()) parent = p.value();
    }
    out.push_back({"..", AttrFromRow(parent), 2});
  }
  if (out.size() >= max) return out;
  InodeNo after(offset >= 2 ? offset - 2 : 0);
  SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::InodeRow> rows,
                          store_->ListChildren(dir, after, max - out.size()));
  for (meta::InodeRow& r : rows) {
    uint64_t next = r.ino.value + 2;
    Attr a = AttrOf(r);
    out.push_back({std::move(r.name), a, next});
  }
  return out;
}

FsStats Filesystem::StatFs() {
  FsStats s;
  auto u = allocator_.usage();
  s.slots_total = sb_.slot_count;
  s.slots_free = u.free;
  s.slots_used = u.used;
  s.slots_quarantined = u.quarantined;
  uint64_t per_slot = slot_size_ / s.block_size;
  s.blocks = sb_.slot_count * per_slot;
  s.blocks_free = u.free * per_slot;
  // Inodes: every file with content needs a slot of its own, so at most
  // one new file per free slot. (Empty files need none; the bound is the
  // one a tool planning to store data can rely on.)
  Result<uint64_t> used = store_->InodeCount();
  s.files_free = u.free;
  s.files = (used.ok() ? used.value() : 0) + s.files_free;
  return s;
}

Result<StatsSnapshot> Filesystem::Stats() {
  StatsSnapshot s;
  s.space = StatFs();
  {
    std::lock_guard lock(table_mu_);
    s.active_inodes = active_.size();
  }
  {
    std::lock_guard lock(stats_mu_);
    auto now = std::chrono::steady_clock::now();
    if (counted_at_ == std::chrono::steady_clock::time_point{} ||
        now - counted_at_ > std::chrono::seconds(1)) {
      SLOTFS_ASSIGN_OR_RETURN(stored_counts_, store_->Count());
      SLOTFS_ASSIGN_OR_RETURN(pinned_count_, store_->CountPinned());
      counted_at_ = now;
    }
    s.stored = stored_counts_;
    s.pinned_files = pinned_count_;
  }
  const FsCounters& c = counters_;
  auto v = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.counters = {v(c.hits), v(c.misses), v(c.reads), v(c.writes), v(c.bytes_read),
                v(c.bytes_written), v(c.checksum_failures), v(c.entries_dropped),
                v(c.commits), v(c.files_committed), v(c.commit_failures),
                v(c.evictions), v(c.evicted_bytes), v(c.sync_evictions), v(c.enospc)};
  s.mount = mount_summary_;
  s.evict_policy = config_.evict_policy;
  s.evict_high_pct = config_.evict_high_pct;
  s.evict_low_pct = config_.evict_low_pct;
  s.slot_size = slot_size_;
  s.db_path = store_->path();
  s.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return s;
}

// ---------------------------------------------------------------- open files

Result<std::shared_ptr<ActiveInode>> Filesystem::LoadLocked(InodeNo ino) {
  auto it = active_.find(ino);
  if (it != active_.end()) return it->second;
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  auto inode = std::make_shared<ActiveInode>(std::move(row), slot_size_);
  if (!IsDir(inode->row.mode)) {
    SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::Extent> ext, store_->GetExtents(ino));
    inode->map = SlotMap::FromExtents(slot_size_, inode->row.size, ext);
  }
  active_.emplace(ino, inode);
  return inode;
}

void Filesystem::MaybeForgetLocked(const std::shared_ptr<ActiveInode>& inode) {
  if (inode->open_count == 0 && !inode->queued && !inode->unlinked &&
      inode->gen.load() == inode->committed_gen.load()) {
    auto it = active_.find(inode->ino);
    if (it != active_.end() && it->second == inode) {
      // Everything below EOF is committed now; dirty slots left are
      // fallocate(KEEP_SIZE) reservations past EOF, in no row: free them.
      std::unique_lock lock(inode->mu);
      std::vector<SlotId> reserved;
      for (SlotRef& r : inode->map) {
        if (r.mapped() && r.dirty) {
          reserved.push_back(SlotId(r.phys));
          r = SlotRef{};
        }
      }
      allocator_.FreeNow(reserved);
      lock.unlock();
      active_.erase(it);
    }
  }
}

void Filesystem::EnqueueLocked(const std::shared_ptr<ActiveInode>& inode,
                               bool urgent) {
  if (!inode->queued && !inode->unlinked) {
    inode->queued = true;
    queue_.push_back(inode);
  }
  if (urgent) urgent_ = true;
  commit_cv_.notify_one();
}

Result<std::unique_ptr<OpenFile>> Filesystem::Create(
    InodeNo parent, std::string_view name, uint32_t mode, uint32_t uid,
    uint32_t gid, int flags, Attr* attr) {
  SLOTFS_RETURN_IF_ERROR(CheckName(name));
  std::shared_ptr<ActiveInode> inode;
  {
    std::lock_guard ns(ns_mu_);
    SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow dir, store_->GetInode(parent));
    if (!IsDir(dir.mode)) return Status::Error(ENOTDIR, "parent is not a directory");
    Result<meta::InodeRow> existing = store_->Lookup(parent, name);
    if (existing.ok()) {
      if (flags & O_EXCL) return Status::Error(EEXIST, "file exists");
      if (IsDir(existing->mode)) return Status::Error(EISDIR, "is a directory");
      InodeNo ino = existing->ino;
      // O_CREAT without O_EXCL on an existing file: a plain open.
      auto of = Open(ino, flags);
      if (of.ok() && attr) {
        std::shared_lock lock((*of)->inode->mu);
        *attr = AttrFromActive(*(*of)->inode);
      }
      return of;
    }
    SLOTFS_ASSIGN_OR_RETURN(
        meta::InodeRow row,
        store_->CreateInode(parent, name, S_IFREG | (mode & 07777), uid, gid,
                            WallNowNs(), meta::InodeState::kWriting));
    inode = std::make_shared<ActiveInode>(std::move(row), slot_size_);
    // Never committed: the first flush must commit it even if empty.
    inode->gen.store(1);
    inode->journaled = true;  // CreateInode journaled it
    std::lock_guard table(table_mu_);
    inode->open_count = 1;
    active_.emplace(inode->ino, inode);
  }
  Touch(inode->ino);
  if (attr) *attr = AttrFromRow(inode->row);
  auto of = std::make_unique<OpenFile>();
  of->inode = std::move(inode);
  of->flags = flags;
  return of;
}

Result<std::unique_ptr<OpenFile>> Filesystem::Open(InodeNo ino, int flags) {
  std::shared_ptr<ActiveInode> inode;
  {
    std::lock_guard table(table_mu_);
    SLOTFS_ASSIGN_OR_RETURN(inode, LoadLocked(ino));
    if (inode->unlinked) return Status::Error(ENOENT, "file was removed");
    ++inode->open_count;
  }
  auto of = std::make_unique<OpenFile>();
  of->inode = inode;
  of->flags = flags;
  if (IsDir(inode->row.mode) && (flags & O_ACCMODE) != O_RDONLY) {
    Release(std::move(of));
    return Status::Error(EISDIR, "is a directory");
  }
  if (!IsDir(inode->row.mode)) Touch(ino);
  if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
    Status st;
    {
      std::unique_lock lock(inode->mu);
      WaitForWrites(*inode, lock);
      st = TruncateLocked(*inode, 0);
    }
    if (!st.ok()) {
      Release(std::move(of));
      return st;
    }
  }
  return of;
}

Status Filesystem::Flush(OpenFile& of) {
  // close(): what commits is this version, whatever happens to the file
  // before the group commit runs.
  SLOTFS_RETURN_IF_ERROR(Freeze(*of.inode));
  std::lock_guard table(table_mu_);
  if (of.inode->gen.load() != of.inode->committed_gen.load()) {
    EnqueueLocked(of.inode, false);
  }
  return Status::Ok();
}

void Filesystem::Release(std::unique_ptr<OpenFile> of) {
  std::lock_guard table(table_mu_);
  std::shared_ptr<ActiveInode> inode = std::move(of->inode);
  --inode->open_count;
  assert(inode->open_count >= 0);  // more releases than opens is a fs/ bug
  if (inode->open_count > 0) return;
  if (inode->unlinked) {
    RetireLocked(*inode);
    return;
  }
  if (inode->gen.load() != inode->committed_gen.load()) {
    Status st = Freeze(*inode);
    if (!st.ok()) Log()->error("inode {}: {}", inode->ino.value, st.ToString());
    EnqueueLocked(inode, false);
    return;
  }
  MaybeForgetLocked(inode);
}

// ---------------------------------------------------------------- xattrs

Result<std::string> Filesystem::GetXattr(InodeNo ino, std::string_view name) {
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  if (IsDir(row.mode) || name.substr(0, kXattrPrefix.size()) != kXattrPrefix) {
    return Status::Error(ENODATA, "no such attribute");
  }
  std::string key(name.substr(kXattrPrefix.size()));
  if (key == "pin") return std::to_string(row.pin);
  if (key == "slot_size") return std::to_string(slot_size_);
  if (key == "last_access") return FormatUtcNs(std::max(row.atime_ns, PendingAccess(ino)));
  // The rest describe content: take it from the active inode if any.
  SlotMap map(slot_size_);
  uint64_t size = row.size;
  std::string state = "committed";
  std::shared_ptr<ActiveInode> inode;
  {
    std::lock_guard table(table_mu_);
    auto it = active_.find(ino);
    if (it != active_.end()) inode = it->second;
  }
  if (inode) {
    std::shared_lock lock(inode->mu);
    map = inode->map;
    size = inode->row.size;
    for (SlotRef& r : map) r.csum_known = r.csum_known && !r.dirty;
    if (inode->gen.load() != inode->committed_gen.load()) state = "pending";
  } else {
    SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::Extent> ext, store_->GetExtents(ino));
    map = SlotMap::FromExtents(slot_size_, size, ext);
  }
  if (key == "size") return std::to_string(size);
  if (key == "state") return state;
  if (key == "checksums") {
    // Slots whose committed checksum is known, of the slots mapped.
    uint64_t mapped = 0, known = 0;
    for (const SlotRef& r : map) {
      mapped += r.mapped() ? 1 : 0;
      known += r.mapped() && r.csum_known ? 1 : 0;
    }
    return "xxh3-64 " + std::to_string(known) + "/" + std::to_string(mapped) +
           (config_.verify_checksums ? " verified-on-read" : " not-verified");
  }
  // Runs of physically consecutive slots, in logical order.
  std::string slots;
  uint64_t extents = 0;
  for (size_t i = 0; i < map.size();) {
    if (!map[i].mapped()) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < map.size() && map[j].mapped() && map[j].phys == map[j - 1].phys + 1) ++j;
    if (!slots.empty()) slots += ',';
    slots += std::to_string(map[i].phys);
    if (j - i > 1) slots += '-' + std::to_string(map[j - 1].phys);
    ++extents;
    i = j;
  }
  if (key == "slots") return slots;
  if (key == "extents") return std::to_string(extents);
  return Status::Error(ENODATA, "no such attribute");
}

Result<std::vector<std::string>> Filesystem::ListXattr(InodeNo ino) {
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  std::vector<std::string> out;
  if (IsDir(row.mode)) return out;
  for (std::string_view n : kXattrNames) out.emplace_back(n);
  return out;
}

Status Filesystem::SetXattr(InodeNo ino, std::string_view name,
                            std::string_view value, int flags) {
  // ns_mu_ orders a pin against eviction, which checks pins under it.
  std::lock_guard ns(ns_mu_);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  if (name != "user.slotfs.pin") {
    return Status::Error(ENOTSUP, "only user.slotfs.pin can be set; slotfs stores "
                                  "no other extended attributes");
  }
  if (IsDir(row.mode)) return Status::Error(ENOTSUP, "directories cannot be pinned");
  if (flags & XATTR_CREATE) return Status::Error(EEXIST, "attribute exists");
  uint32_t pin;
  if (value == "1") {
    pin = 1;
  } else if (value == "0") {
    pin = 0;
  } else {
    return Status::Error(EINVAL, "user.slotfs.pin takes 0 or 1");
  }
  SLOTFS_RETURN_IF_ERROR(store_->SetPin(ino, pin));
  std::lock_guard table(table_mu_);
  auto it = active_.find(ino);
  if (it != active_.end()) {
    std::unique_lock lock(it->second->mu);
    it->second->row.pin = pin;
  }
  return Status::Ok();
}

Status Filesystem::RemoveXattr(InodeNo ino, std::string_view name) {
  if (name == "user.slotfs.pin") return SetXattr(ino, name, "0", 0);
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow row, store_->GetInode(ino));
  (void)row;
  if (name.substr(0, kXattrPrefix.size()) == kXattrPrefix) {
    return Status::Error(EPERM, "read-only slotfs attribute");
  }
  return Status::Error(ENODATA, "no such attribute");
}

}  // namespace slotfs::core
