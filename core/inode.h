// core::ActiveInode: the in-memory state of a file that is open or has
// changes not yet committed. Files that are neither live only in SQLite, so
// memory is bounded by open files plus the commit queue, not by file count.
#pragma once

#include <xxhash.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "common/types.h"
#include "meta/store.h"

namespace slotfs::core {

// Where logical slot L of a file lives.
struct SlotRef {
  static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  uint64_t phys = kNone;  // SlotId value, or kNone for a hole (reads zero)
  // Dirty slots: bytes [0, valid) of the slot hold file data; bytes beyond
  // read as zero. Committed slots hold data for every byte below the file
  // size, and `valid` is unused.
  uint64_t valid = 0;
  // True while no durable row can point at this slot: it may be written in
  // place and, if dropped, freed at once. A committed slot (dirty == false)
  // is never written again: changes go to a copy (copy-on-write).
  bool dirty = false;
  // Committed slots: XXH3-64 of the slot's file bytes, if known.
  bool csum_known = false;
  uint64_t csum = 0;
  // Dirty slots: a hash of bytes [0, valid) fed in order as they were
  // written, or null once bytes were rewritten out of order (the commit then
  // reads the slot back to hash it).
  std::shared_ptr<XXH3_state_t> hasher;
  // A write's device I/O for this slot is in flight (the inode lock is
  // released meanwhile); other writes to the slot wait for it.
  bool busy = false;

  bool mapped() const { return phys != kNone; }
};

// A fresh streaming XXH3-64 state (seed 0).
std::shared_ptr<XXH3_state_t> NewHasher();

struct ActiveInode {
  explicit ActiveInode(meta::InodeRow r) : ino(r.ino), row(std::move(r)) {}

  const InodeNo ino;

  // Shared by reads for the whole device I/O; exclusive for every change of
  // content or attributes. Lock order: Filesystem::table_mu_ before mu.
  std::shared_mutex mu;

  // --- guarded by mu ---
  meta::InodeRow row;          // attributes; row.size is the logical size
  std::vector<SlotRef> map;    // index: logical slot
  // Committed slots replaced since the last commit; released (quarantined)
  // once a commit that no longer points at them is durable.
  std::vector<SlotId> freed;
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
    size_t freed = 0;  // entries of `freed` that this commit lets go
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
