// core::ActiveInode: the in-memory state of a file that is open or has
// changes not yet committed. Files that are neither live only in SQLite, so
// memory is bounded by open files plus the commit queue, not by file count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "common/types.h"
#include "core/slot_map.h"
#include "meta/store.h"

namespace slotfs::core {

struct ActiveInode {
  ActiveInode(meta::InodeRow r, uint64_t slot_size)
      : ino(r.ino), row(std::move(r)), map(slot_size) {}

  const InodeNo ino;

  // Shared by reads for the whole device I/O; exclusive for every change of
  // content or attributes. Lock order: Filesystem::table_mu_ before mu.
  std::shared_mutex mu;

  // --- guarded by mu ---
  meta::InodeRow row;          // attributes; row.size is the logical size
  SlotMap map;
  // Committed slots replaced since the last commit, oldest first; released
  // (quarantined) once a commit that no longer points at them is durable.
  // Positions are counted from the inode's first replaced slot:
  // freed[0] is position freed_released, so a position stays valid when
  // older entries are released.
  std::vector<SlotId> freed;
  uint64_t freed_released = 0;
  uint64_t freed_end() const { return freed_released + freed.size(); }
  // Unlinked and closed: every slot has been given back. Nothing may use
  // this inode any more.
  bool retired = false;
  // The store's journal holds an entry for this file's in-flight changes.
  bool journaled = false;
  // The version to commit next, frozen when the file was closed or
  // fsync'd: later writes copy its slots instead of changing them, so what
  // commits is exactly what close() saw, never a rewrite in progress.
  struct Frozen {
    meta::FileCommit commit;
    uint64_t gen = 0;
    // This commit lets go of the replaced slots before this position
    // (freed_end() when frozen): the ones its version no longer uses.
    uint64_t freed_end = 0;
  };
  std::optional<Frozen> frozen;
  // Writes whose device I/O runs with mu released. Anything that changes
  // slots other than a write waits (io_done) until it is 0.
  int inflight = 0;
  std::condition_variable_any io_done;

  // Content generation: bumped on every change of content or size. The
  // committer records which generation it made durable.
  std::atomic<uint64_t> gen{0};
  std::atomic<uint64_t> committed_gen{0};

  // --- guarded by Filesystem::table_mu_ ---
  int open_count = 0;
  bool unlinked = false;
  bool queued = false;  // in the commit queue
};

}  // namespace slotfs::core
