// meta::Checker: offline consistency check and repair of a slotfs database
// (`slotfs check`). FUSE-free and device-free; all of its SQL lives in
// meta/checker*.cc.
//
// Check() verifies, without writing anything: SQLite integrity, that the
// database is a slotfs database bound to the given superblock (UUID and
// geometry), the root directory, the namespace (every inode's parent exists,
// is a directory, and leads to the root), each file's extents (within the
// data region, logical slots sane and not overlapping, none past the file's
// size, checksum blobs of 8 bytes per slot), that no slot is owned twice,
// the per-inode slot counts, orphan extents, and the journal of in-flight
// writes (what a mount's recovery would discard). Each problem is one
// Finding that names what repair would do about it.
//
// The repair methods each run in one durable transaction and report how many
// rows they changed; they need a Checker opened writable.
//
// Thread safety: none; one thread owns a Checker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blockdev/format.h"
#include "common/status.h"
#include "common/types.h"
#include "meta/sqlite.h"
#include "meta/store.h"

namespace slotfs::meta {

// What a finding is about. The device-side kinds (superblock, scrub) are
// produced by tools/, but share this type so one report carries everything.
enum class FindingKind {
  kSuperblock,        // a superblock copy is damaged or disagrees
  kDeviceSize,        // the device is smaller than its geometry
  kDbCorrupt,         // SQLite integrity check failed / unreadable
  kDbBinding,         // not a slotfs database, or bound to another device
  kRoot,              // the root directory is missing or not a directory
  kMissingParent,     // an inode's parent does not exist
  kParentNotDir,      // an inode's parent is not a directory
  kUnreachable,       // an inode's parent chain never reaches the root
  kBadMode,           // neither a regular file nor a directory
  kExtentOutOfRange,  // slot run outside the data region, or bad lslot/count
  kExtentOverlap,     // two extents of one file cover the same logical slot
  kExtentPastEof,     // an extent holds logical slots past the file's size
  kSlotOwnedTwice,    // a device slot is claimed by two extents
  kOrphanExtent,      // extents of an inode that does not exist
  kExtentOnDir,       // extents on a directory
  kBadCsumBlob,       // checksum blob length != 8 * count
  kSlotCount,         // inodes.slots differs from the sum of extent counts
  kJournal,           // an in-flight write a mount would discard
  kChecksumMismatch,  // scrub: a slot's bytes do not match its checksum
  kReadError,         // scrub: a slot could not be read
};
// Stable snake_case name ("slot_owned_twice"), used in JSON output.
const char* FindingKindName(FindingKind kind);

// What --repair does about a finding.
enum class Remedy {
  kNone,               // cannot be repaired safely
  kDropInode,          // DropInodes({ino})
  kDropOrphanExtents,  // DropOrphanExtents()
  kClearCsums,         // ClearBadCsums()
  kFixSlotCount,       // FixSlotCounts()
  kRecoverJournal,     // RunRecovery()
  kRewriteSuperblock,  // tools/: rewrite one copy from a good one
};

struct Finding {
  FindingKind kind;
  Remedy remedy = Remedy::kNone;
  InodeNo ino{0};                // 0: not about one inode
  std::string path;              // the inode's path from the root, if known
  std::optional<uint64_t> slot;  // the device slot concerned, if any
  std::string message;           // one line, self-contained
};

struct CheckReport {
  std::vector<Finding> findings;
  // False if the database could not be checked past integrity or binding:
  // the counts below are then incomplete and repair must not touch it.
  bool usable = true;
  uint64_t files = 0, dirs = 0;
  uint64_t slots_used = 0;  // distinct in-range slots claimed by extents
  uint64_t slots_free = 0;  // slot_count - slots_used
  // File bytes held by in-range extents: what a scrub reads.
  uint64_t stored_bytes = 0;
  uint64_t journal_entries = 0;
  uint64_t incomplete_inodes = 0;  // state <> 0
};

// One file's size and extents, for the scrub. `extents` are in lslot order;
// csums is empty when unknown or when its blob is malformed.
struct FileExtents {
  InodeNo ino;
  uint64_t size = 0;
  std::vector<Extent> extents;
};

class Checker {
 public:
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // Opens the database read-only, or read-write for repair. ENOENT (with
  // the path) if it does not exist; EUCLEAN if SQLite cannot open it as a
  // database at all. Never creates the file.
  static Result<std::unique_ptr<Checker>> Open(const std::string& path,
                                               bool writable);

  const std::string& path() const { return path_; }

  // Runs every check against `sb`. A corrupt database is a finding
  // (kDbCorrupt, report.usable = false), not an error; the Status is an
  // error only when the check itself could not run (I/O, out of memory).
  Result<CheckReport> Check(const blockdev::Superblock& sb);

  // Reconstructs a superblock from the identity the database records
  // (uuid, geometry, creation time) for a device of `device_size` bytes:
  // used when both superblock copies are damaged. EUCLEAN if incomplete.
  Result<blockdev::Superblock> RecordedSuperblock(uint64_t device_size);

  // Calls fn for every regular file that has extents, in inode order;
  // stops at the first error fn returns.
  Status ForEachFileExtents(const std::function<Status(const FileExtents&)>& fn);

  // Path of `ino` from the root ("dir/name"); "?" where a link is broken.
  std::string PathOf(InodeNo ino);

  // --- repair (REQUIRES: opened writable) ---
  // Runs the mount's journal recovery (meta::Store::Recover): discards
  // in-flight creates, keeps the committed version of in-flight rewrites.
  Result<RecoverySummary> RunRecovery(const blockdev::Superblock& sb);
  // Deletes the inodes, everything beneath any directory among them, their
  // extents and journal entries. Never deletes the root. Returns how many
  // inodes were deleted.
  Result<uint64_t> DropInodes(const std::vector<InodeNo>& inos);
  // Deletes extents whose inode does not exist or is a directory.
  Result<uint64_t> DropOrphanExtents();
  // Sets malformed checksum blobs to NULL (checksums unknown).
  Result<uint64_t> ClearBadCsums();
  // Sets inodes.slots to the sum of the inode's extent counts.
  Result<uint64_t> FixSlotCounts();
  // Folds the WAL into the main file (after repairs).
  Status Checkpoint();

 private:
  Checker() = default;
  // The check passes; each appends findings. Defined across checker*.cc.
  Status CheckIntegrity(CheckReport& report);
  Status CheckBinding(const blockdev::Superblock& sb, CheckReport& report);
  Status CheckNamespace(CheckReport& report);
  Status CheckExtents(const blockdev::Superblock& sb, CheckReport& report);
  Status CheckCounts(CheckReport& report);
  Status CheckJournal(CheckReport& report);
  // Runs `sql` (one durable write transaction); returns rows changed.
  Result<uint64_t> RepairExec(const std::string& sql);
  void AddInodeFinding(CheckReport& report, FindingKind kind, Remedy remedy,
                       InodeNo ino, std::optional<uint64_t> slot,
                       const std::string& what);

  std::string path_;
  bool writable_ = false;
  Db db_;
};

}  // namespace slotfs::meta
