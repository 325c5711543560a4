// PowerLossVfs: a SQLite VFS for power-loss tests (test support; never used
// by a mount). It makes a database lose exactly what a real power cut would
// lose: every write not yet made durable by an xSync.
//
// The VFS wraps the default "unix" VFS and is registered under kName, not as
// the default; open a database through it with sqlite3_open_v2(..., kName)
// or meta::StoreOptions::vfs. For the database, its rollback journal and its
// WAL, each file's writes since its last xSync are held in memory — an
// overlay of 4 KiB blocks, standing for the OS page cache and the drive's
// cache — and reach the real file only when SQLite syncs that file. Reads
// merge the overlay over the real file; xTruncate and xFileSize act on the
// overlay's logical size, and a truncation reaches the real file at the
// next sync too. What SQLite relies on to be durable (synchronous=FULL
// commits, the WAL sync before a checkpoint, the database sync after it) is
// therefore durable, and nothing else is: in WAL mode with
// synchronous=NORMAL, a commit stays in the overlay until a later sync.
//
// PowerCut() then throws away (kDropAll) or partly applies (kTear) every
// file's unsynced writes and turns the machine off: every later I/O on any
// handle fails with SQLITE_IOERR until Reset(). A tear writes each unsynced
// 4 KiB block to the real file with probability 1/2 (and applies a pending
// truncation with probability 1/2): 4 KiB is the sector size the unix VFS
// reports, i.e. the unit SQLite assumes a drive writes atomically.
//
// What is not modelled, and why that is sound:
//  - The -shm file is shared memory (xShm* are passed to the unix VFS
//    unchanged). It is not durable state: SQLite rebuilds it from the WAL
//    when the first connection opens the database. PowerCut() unlinks the
//    -shm of every database opened through this VFS, as a reboot would
//    leave it stale, so the next open must run WAL recovery.
//  - Creating and deleting files, and directory syncs, are durable at once.
//  - Temporary files (no name, or temp/sub-journal/transient types) are
//    passed through: they never need to survive a crash.
//  - Only the POWERSAFE_OVERWRITE device characteristic is reported; the
//    atomic-write and safe-append ones the unix VFS may report are not
//    honoured by the model and are removed. mmap is refused (xFetch
//    returns no page), so every read goes through the overlay.
//
// Unsynced writes are kept per path, shared by every handle on the file and
// kept after the last handle closes (a closed file's dirty pages stay in the
// page cache until written back).
//
// Thread safety: every method, and every VFS call SQLite makes, is
// serialised by one global mutex; SQLite's own locking (xLock, xShmLock) is
// passed through without it.
#pragma once

#include <cstdint>

#include "testing/volatile_cache_device.h"
#include "common/status.h"

namespace slotfs::meta {

using blockdev::CutMode;

class PowerLossVfs {
 public:
  static constexpr const char* kName = "slotfs-powerloss";

  // What a power cut did.
  struct CutReport {
    uint64_t files = 0;            // files holding unsynced writes
    uint64_t blocks_dropped = 0;   // unsynced 4 KiB blocks lost
    uint64_t blocks_applied = 0;   // unsynced blocks that reached the file (kTear)
    uint64_t shm_removed = 0;      // -shm files unlinked
  };

  // Registers the VFS under kName (not as the default), wrapping the VFS
  // that is the default at the first call. Idempotent; thread-safe. EIO if
  // SQLite has no default VFS or refuses the registration.
  static Status Register();

  // Cuts the power (see the file comment). A second cut before Reset() does
  // nothing. Errors writing torn blocks to the real files are ignored (the
  // block counts as dropped).
  static CutReport PowerCut(const CutMode& mode);

  // Turns the machine back on with nothing unsynced (without a cut first,
  // unsynced writes are dropped as by kDropAll, the -shm files kept).
  // Handles opened before keep failing (close them); new opens work.
  static void Reset();

  static bool powered_off();
  // Bytes currently held unsynced, over all files (for tests).
  static uint64_t unsynced_bytes();
  // xSync calls that reached a real file since Register() (for tests).
  static uint64_t syncs();
};

}  // namespace slotfs::meta
