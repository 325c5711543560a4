// core::Filesystem: slotfs's filesystem logic, free of FUSE.
//
// Owns the device, the metadata store, the slot allocator and the committer
// thread. Every operation returns an errno-carrying Status/Result; fs/ turns
// those into FUSE replies. Unit tests drive this class with no mount.
//
// Consistency (DESIGN §4):
//  - File bytes are written to slots before a WRITE is answered, so data is
//    visible to every process as soon as close() returns.
//  - A file's size and extents commit only in a group commit, after the
//    device is flushed; fsync() waits for that commit.
//  - Committed slots are never overwritten: a write to one goes to a fresh
//    slot (copy-on-write), and the old slot is quarantined until the commit
//    that stops pointing at it is durable.
//  - A crash loses at most the uncommitted window: recovery drops files
//    whose first content never committed and rebuilds the free map from
//    committed extents.
//
// Thread safety: every public method may be called concurrently.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "blockdev/buffer_pool.h"
#include "blockdev/device.h"
#include "blockdev/format.h"
#include "common/status.h"
#include "common/types.h"
#include "core/inode.h"
#include "meta/allocator.h"
#include "meta/store.h"

namespace slotfs::core {

inline constexpr size_t kNameMax = 255;

enum class EvictPolicy { kLru, kNone };

// "lru" or "none"; EINVAL otherwise.
Result<EvictPolicy> ParseEvictPolicy(std::string_view name);
std::string_view EvictPolicyName(EvictPolicy policy);

struct CoreConfig {
  // Longest a closed file waits before its commit starts (group commit).
  std::chrono::milliseconds commit_interval{50};
  // Largest file size; 0 means the data capacity (slot_count * slot_size).
  uint64_t max_file_size = 0;
  // Allocator stride: room each new file gets to grow contiguously, in
  // slots; at least kAllocStrideBytes of it whatever the slot size.
  uint64_t alloc_stride = 64;
  static constexpr uint64_t kAllocStrideBytes = 64ull << 20;
  // Verify slot checksums on read. Off only for benchmarking.
  bool verify_checksums = true;
  // Eviction: with kLru, once more than evict_high_pct of the slots are in
  // use a background evictor removes least-recently-used closed, unpinned
  // files until at most evict_low_pct are; a write that finds no free slot
  // evicts synchronously. With kNone a full cache gives ENOSPC.
  EvictPolicy evict_policy = EvictPolicy::kLru;
  unsigned evict_high_pct = 95;
  unsigned evict_low_pct = 90;

  Status Validate() const;
};

struct Attr {
  InodeNo ino;
  uint32_t mode = 0;
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units allocated
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
};

struct SetAttrRequest {
  std::optional<uint32_t> mode;  // permission bits only
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;
  std::optional<int64_t> atime_ns;  // kTimeNow for "now"
  std::optional<int64_t> mtime_ns;
  static constexpr int64_t kTimeNow = -1;
};

struct DirEntry {
  std::string name;
  Attr attr;
  uint64_t next_offset = 0;  // offset to resume after this entry
};

struct FsStats {
  uint64_t block_size = 4096;
  uint64_t blocks = 0;       // in block_size units
  uint64_t blocks_free = 0;
  uint64_t slots_total = 0, slots_free = 0, slots_used = 0, slots_quarantined = 0;
  // Inodes (statvfs f_files, f_ffree = f_favail): files_free is the number
  // of free slots (each new file with content takes at least one), files is
  // the inodes in use (directories and root included) plus files_free.
  uint64_t files = 0, files_free = 0;
  uint64_t name_max = kNameMax;
};

// A read's result: `length` bytes at buffer.data() + offset.
struct ReadResult {
  blockdev::AlignedBuffer buffer;
  size_t offset = 0;
  size_t length = 0;
  const uint8_t* data() const { return buffer.data() + offset; }
};

// One open() of a file.
struct OpenFile {
  std::shared_ptr<ActiveInode> inode;
  int flags = 0;
};

// Counters since mount. Thread-safe (relaxed atomics).
struct FsCounters {
  // Name lookups that found an entry (hits) or not (misses): how LMCache
  // asks whether a key is cached.
  std::atomic<uint64_t> hits{0}, misses{0};
  std::atomic<uint64_t> reads{0}, writes{0};
  std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
  std::atomic<uint64_t> checksum_failures{0};
  std::atomic<uint64_t> entries_dropped{0};
  std::atomic<uint64_t> commits{0}, files_committed{0}, commit_failures{0};
  std::atomic<uint64_t> evictions{0}, evicted_bytes{0};
  // Writes that found no free slot and had to evict first.
  std::atomic<uint64_t> sync_evictions{0};
  // Writes that failed with ENOSPC (nothing left to evict, or policy none).
  std::atomic<uint64_t> enospc{0};
};

// Plain copy of FsCounters.
struct CounterValues {
  uint64_t hits = 0, misses = 0, reads = 0, writes = 0, bytes_read = 0,
           bytes_written = 0, checksum_failures = 0, entries_dropped = 0,
           commits = 0, files_committed = 0, commit_failures = 0, evictions = 0,
           evicted_bytes = 0, sync_evictions = 0, enospc = 0;
};

struct MountSummary {
  meta::RecoverySummary recovery;
  uint64_t slots_used = 0;
  double seconds = 0;
};

// Everything the operator's view (.slotfs/stats, metrics, info) shows.
struct StatsSnapshot {
  FsStats space;                // live
  meta::Store::Counts stored;   // committed files, dirs, bytes; at most ~1 s old
  uint64_t pinned_files = 0;    // at most ~1 s old
  uint64_t active_inodes = 0;   // open or waiting for commit
  CounterValues counters;
  MountSummary mount;
  EvictPolicy evict_policy = EvictPolicy::kLru;
  unsigned evict_high_pct = 0, evict_low_pct = 0;
  uint64_t slot_size = 0;
  std::string db_path;
  double uptime_seconds = 0;
};

class Filesystem {
 public:
  // Recovers the store (drops uncommitted files), rebuilds the free map and
  // logs one summary line. EUCLEAN if the extents are inconsistent (a slot
  // owned twice, out of range). Does not start threads.
  static Result<std::unique_ptr<Filesystem>> Open(
      std::unique_ptr<blockdev::Device> device, const blockdev::Superblock& sb,
      std::unique_ptr<meta::Store> store, const CoreConfig& config);
  ~Filesystem();

  // Starts the committer. Call after any fork (daemonizing).
  void Start();
  // Commits everything, stops the committer, checkpoints the database.
  // Idempotent; also run by the destructor.
  Status Shutdown();

  const MountSummary& mount_summary() const { return mount_summary_; }
  const blockdev::Superblock& superblock() const { return sb_; }
  uint64_t max_file_size() const { return max_file_size_; }
  blockdev::Device& device() { return *device_; }
  const FsCounters& counters() const { return counters_; }
  // Snapshot for the operator's view. Counting committed files scans the
  // index, so that part is cached for a second.
  Result<StatsSnapshot> Stats();

  // Called (outside every lock) when a name disappears other than by a
  // request naming it — a corrupt entry dropped, a file evicted — so fs/
  // can invalidate the kernel's caches. Set before Start().
  void SetEntryDroppedHook(std::function<void(InodeNo parent, const std::string& name)> hook) {
    entry_dropped_ = std::move(hook);
  }

  // --- namespace ---
  Result<Attr> Lookup(InodeNo parent, std::string_view name);
  Result<Attr> GetAttr(InodeNo ino);
  // `of` may be null (setattr by path).
  Result<Attr> SetAttr(InodeNo ino, const SetAttrRequest& req, OpenFile* of);
  Result<Attr> MkDir(InodeNo parent, std::string_view name, uint32_t mode,
                     uint32_t uid, uint32_t gid);
  Status RmDir(InodeNo parent, std::string_view name);
  Status Unlink(InodeNo parent, std::string_view name);
  // flags: 0 or RENAME_NOREPLACE; RENAME_EXCHANGE gives ENOTSUP.
  Status Rename(InodeNo parent, std::string_view name, InodeNo new_parent,
                std::string_view new_name, unsigned flags);
  // Entries from `offset` (0 = start), at most `max` of them.
  Result<std::vector<DirEntry>> ReadDir(InodeNo dir, uint64_t offset, size_t max);
  FsStats StatFs();

  // --- files ---
  // Creates and opens a regular file (O_EXCL honoured: EEXIST).
  Result<std::unique_ptr<OpenFile>> Create(InodeNo parent, std::string_view name,
                                           uint32_t mode, uint32_t uid,
                                           uint32_t gid, int flags, Attr* attr);
  Result<std::unique_ptr<OpenFile>> Open(InodeNo ino, int flags);
  Result<ReadResult> Read(OpenFile& of, uint64_t offset, size_t size);
  // Writes all of `data` or fails (never a short write): EFBIG past the
  // maximum file size, ENOSPC with no free slot, EIO on device failure.
  Result<size_t> Write(OpenFile& of, uint64_t offset, std::span<const uint8_t> data);
  // close(): queues the file's changes for the next group commit.
  Status Flush(OpenFile& of);
  // Returns once the file's content and size are durable.
  Status Fsync(OpenFile& of);
  // fallocate(2) (fallocate.cc): mode 0 reserves slots for the range and
  // extends the size; FALLOC_FL_KEEP_SIZE reserves without extending
  // (slots past EOF only while the file is open or uncommitted);
  // FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE frees the slots wholly inside
  // the range and zeroes the rest of it. EOPNOTSUPP for any other mode,
  // EFBIG past the maximum file size, ENOSPC with no free slot (after
  // eviction, as for writes); a failed reservation reserves nothing.
  Status Fallocate(OpenFile& of, int mode, uint64_t offset, uint64_t length);
  void Release(std::unique_ptr<OpenFile> of);

  // --- extended attributes (user.slotfs.*) ---
  Result<std::string> GetXattr(InodeNo ino, std::string_view name);
  Result<std::vector<std::string>> ListXattr(InodeNo ino);
  Status SetXattr(InodeNo ino, std::string_view name, std::string_view value,
                  int flags);
  Status RemoveXattr(InodeNo ino, std::string_view name);

  // Commits every closed (frozen) file now and waits.
  Status CommitNow();

  // --- cache policy (evictor.cc) ---
  // Runs one background eviction pass now if usage is above the high
  // watermark (what the evictor thread does on its own); returns the
  // number of files evicted.
  Result<uint64_t> EvictToWatermark();
  // Writes batched last-access times to the store.
  Status FlushAccessTimes();

 private:
  Filesystem(std::unique_ptr<blockdev::Device> device,
             const blockdev::Superblock& sb, std::unique_ptr<meta::Store> store,
             const CoreConfig& config);

  // --- filesystem.cc helpers ---
  // SetAttr of a directory: its row in the store is the only copy.
  Result<Attr> SetAttrDir(InodeNo ino, const SetAttrRequest& req);
  Attr AttrFromRow(const meta::InodeRow& row) const;
  // REQUIRES: inode.mu held (any mode).
  Attr AttrFromActive(const ActiveInode& inode) const;
  // Attr of `row`, overlaid by its active inode if any. Takes table_mu_.
  Attr AttrOf(const meta::InodeRow& row);
  // Returns the active inode for `ino`, loading it from the store.
  // REQUIRES: table_mu_ held.
  Result<std::shared_ptr<ActiveInode>> LoadLocked(InodeNo ino);
  // Gives back the slots of a file whose name is gone. `extents` are the
  // deleted row's extents, used when the file is not active.
  // REQUIRES: table_mu_ held.
  void DropInodeLocked(InodeNo ino, const std::vector<meta::Extent>& extents);
  // REQUIRES: table_mu_ held; inode unlinked and closed.
  void RetireLocked(ActiveInode& inode);
  // Removes `inode` from the table if closed and clean. REQUIRES: table_mu_.
  void MaybeForgetLocked(const std::shared_ptr<ActiveInode>& inode);
  void EnqueueLocked(const std::shared_ptr<ActiveInode>& inode, bool urgent);
  static Status CheckName(std::string_view name);

  // Removes a file whose stored bytes failed verification, so the next
  // lookup misses. Takes ns_mu_ and table_mu_.
  void DropCorruptFile(InodeNo ino);

  // --- data_path.cc ---
  // Journals the first change of a committed file. REQUIRES: inode.mu
  // held exclusively.
  void JournalLocked(ActiveInode& inode);
  // One slot's share of a write (see WriteLocked in data_path.cc).
  struct SlotWrite {
    uint64_t lslot = 0, begin = 0, end = 0;
    const uint8_t* src = nullptr;
    SlotRef before;         // the mapping before this write
    uint64_t phys = 0;      // the slot written
    uint64_t valid = 0;     // its valid mark when the write began
    // The slot's running hash when this write extends it (begin >= valid):
    // updated during the device part, while the slot is busy and so owned
    // by this write alone. Null otherwise.
    blockdev::SlotHasher* hasher = nullptr;
    bool done = false;      // bytes reached the device
    Status status;
  };
  // REQUIRES: `lock` holds inode.mu exclusively; it is released while the
  // device I/O runs and held again on return.
  Status WriteLocked(ActiveInode& inode, std::unique_lock<std::shared_mutex>& lock,
                     uint64_t offset, std::span<const uint8_t> data);
  // Device part of a write: every piece's bytes, staged in one buffer and
  // written in as few ops as the slots allow; sets `done` on success.
  // Touches no inode state.
  Status WriteIo(InodeNo ino, std::vector<SlotWrite>& pieces);
  // Undoes the mapping change of a failed slot write. REQUIRES: inode.mu.
  void RollBackSlotLocked(ActiveInode& inode, const SlotWrite& p);
  // Waits until no write's I/O is in flight. REQUIRES: `lock` holds inode.mu.
  static void WaitForWrites(ActiveInode& inode, std::unique_lock<std::shared_mutex>& lock) {
    inode.io_done.wait(lock, [&] { return inode.inflight == 0; });
  }
  Status TruncateLocked(ActiveInode& inode, uint64_t new_size);
  // Before the file's size changes to `new_size`: copies every committed
  // slot below `skip_from` whose payload length changes
  // (SlotMap::ResealOnResize), so its checksum stays true. REQUIRES:
  // inode.mu held exclusively.
  Status ResizeSlotsLocked(ActiveInode& inode, uint64_t new_size, uint64_t skip_from);
  // Makes logical slot `lslot` writable for bytes [begin, end) of the slot:
  // allocates a hole, or copies a committed slot to a fresh one.
  Status PrepareSlotLocked(ActiveInode& inode, uint64_t lslot, uint64_t begin, uint64_t end);
  // Copy-on-write of committed logical slot `lslot`, keeping its first
  // `keep` bytes.
  Status CopySlotLocked(ActiveInode& inode, uint64_t lslot, uint64_t keep);
  // Zero-fills dirty slot bytes [valid, upto). 
  Status ZeroTailLocked(ActiveInode& inode, uint64_t lslot, uint64_t upto);
  // Sets the checksum of dirty slot `lslot` holding `len` file bytes, from
  // its hasher or by reading the slot back.
  Status SealSlotLocked(ActiveInode& inode, uint64_t lslot, uint64_t len);
  DevOffset SlotByte(uint64_t phys, uint64_t byte_in_slot) const;

  // --- fallocate.cc ---
  // Maps a fresh slot to every hole of [offset, end); with `extend`, grows
  // the size to `end`. `wanted`: slots it needs. REQUIRES: inode.mu held
  // exclusively, no write in flight.
  Status ReserveLocked(ActiveInode& inode, uint64_t offset, uint64_t end, bool extend,
                       uint64_t* wanted);
  // REQUIRES: `lock` holds inode.mu exclusively, no write in flight; it is
  // released while zeros are written.
  Status PunchHoleLocked(ActiveInode& inode, std::unique_lock<std::shared_mutex>& lock,
                         uint64_t offset, uint64_t end);

  // --- evictor.cc ---
  void EvictorLoop();
  // Records an access to `ino` for the LRU order (batched; no store write).
  void Touch(InodeNo ino);
  // Last access not yet flushed, or 0. Takes touch_mu_.
  int64_t PendingAccess(InodeNo ino);
  // Drops an unflushed access (the access time was set explicitly).
  void ForgetAccess(InodeNo ino);
  // Evicts least-recently-used closed, unpinned files until `slots_wanted`
  // slots are freed (into quarantine) or none is left; appends the names
  // removed to `dropped`. REQUIRES: evict_mu_ held; no other lock.
  struct DroppedName {
    InodeNo parent;
    std::string name;
  };
  Result<uint64_t> EvictLocked(uint64_t slots_wanted, std::vector<DroppedName>* dropped);
  // Makes quarantined slots reusable: a durable sync of the store.
  Status ReleaseQuarantine();
  // For a write that found no free slot: releases quarantine and, with
  // policy lru, evicts. False when nothing could be freed. REQUIRES: no
  // lock held.
  Result<bool> MakeRoom(uint64_t slots);
  // Invalidates the kernel's entries for `names` (evictor thread).
  void NotifyDropped(std::vector<DroppedName> names);
  // The first eviction of an LMCache entry in this mount logs a warning
  // naming the LMCache setting that prevents it.
  void WarnLmcacheEvictionOnce(const std::string& name);
  uint64_t HighWatermarkSlots() const;
  uint64_t LowWatermarkSlots() const;

  // --- committer.cc ---
  void CommitterLoop();
  // One group commit of the frozen versions of `batch`'s files (and, with
  // freeze_unfrozen, of whatever else changed: unmount). Returns the
  // round's status.
  Status CommitBatch(const std::vector<std::shared_ptr<ActiveInode>>& batch,
                     bool freeze_unfrozen);
  // Snapshot for commit. REQUIRES: inode.mu held exclusively.
  Result<meta::FileCommit> SnapshotLocked(ActiveInode& inode);
  // Freezes the current version as the next to commit (no-op when it is
  // committed or already frozen). REQUIRES: inode.mu held exclusively, no
  // write in flight.
  Status FreezeLocked(ActiveInode& inode);
  // Freezes `inode` under its own lock.
  Status Freeze(ActiveInode& inode);

  const blockdev::Superblock sb_;
  const blockdev::Layout layout_;
  const CoreConfig config_;
  const uint64_t slot_size_;
  uint64_t max_file_size_;
  std::unique_ptr<blockdev::Device> device_;
  // I/O buffers of the data path (one request or one slot each), reused.
  std::shared_ptr<blockdev::BufferPool> buffers_;
  std::unique_ptr<meta::Store> store_;
  meta::Allocator allocator_;
  MountSummary mount_summary_;
  FsCounters counters_;
  std::function<void(InodeNo, const std::string&)> entry_dropped_;

  // Lock order: ns_mu_ -> table_mu_ -> ActiveInode::mu -> (store, allocator
  // internal locks). No lock is held across a FUSE reply.
  std::mutex ns_mu_;  // serializes namespace changes (create/unlink/rename/...)
  std::mutex table_mu_;
  std::unordered_map<InodeNo, std::shared_ptr<ActiveInode>> active_;  // table_mu_
  std::vector<std::shared_ptr<ActiveInode>> queue_;                  // table_mu_
  bool urgent_ = false;                                              // table_mu_
  bool stop_ = false;                                                // table_mu_
  uint64_t rounds_begun_ = 0, rounds_done_ = 0, last_failed_round_ = 0;  // table_mu_
  std::condition_variable commit_cv_;  // wakes the committer
  std::condition_variable done_cv_;    // wakes fsync waiters
  std::mutex commit_run_mu_;           // one CommitBatch at a time
  std::thread committer_;
  bool shut_down_ = false;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // Eviction. Lock order: evict_mu_ -> ns_mu_ -> ...; touch_mu_ and
  // drop_mu_ are leaves.
  std::mutex evict_mu_;  // one eviction pass at a time
  std::mutex touch_mu_;
  std::unordered_map<InodeNo, int64_t> touched_;  // touch_mu_: unflushed accesses
  std::mutex drop_mu_;
  std::vector<DroppedName> to_invalidate_;  // drop_mu_: for the evictor thread
  std::condition_variable evict_cv_;        // with drop_mu_
  bool evict_kick_ = false, evict_stop_ = false;  // drop_mu_
  std::thread evictor_;
  std::atomic<bool> lmcache_warned_{false};

  std::mutex stats_mu_;  // guards the cached counts below
  std::chrono::steady_clock::time_point counted_at_{};
  meta::Store::Counts stored_counts_;
  uint64_t pinned_count_ = 0;
};

}  // namespace slotfs::core
