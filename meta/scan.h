// meta::ScanDatabase: streams the rows of a slotfs database to callbacks,
// from a read-only connection of its own, for reports (`slotfs info`).
//
// The scan opens the database with SQLITE_OPEN_READONLY and reads in one
// transaction, so it sees one consistent snapshot and works while a daemon
// has the database open (WAL mode): it never blocks the daemon's writers.
// Rows are handed over one at a time and not kept, so memory stays bounded
// whatever the number of files.
//
// Thread safety: independent calls may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "common/types.h"
#include "meta/store.h"

namespace slotfs::meta {

// One inode row. `name` is valid only during the callback.
struct ScannedEntry {
  InodeNo ino;
  InodeNo parent;
  std::string name;
  uint32_t mode = 0;
  uint64_t size = 0;
  uint64_t slots = 0;
  int64_t atime_ns = 0, mtime_ns = 0;
  InodeState state = InodeState::kComplete;
  uint32_t pin = 0;
};

struct ScanCallbacks {
  // Every directory (the root included), in inode order, before any file.
  std::function<Status(const ScannedEntry&)> on_directory;
  // Every regular file, in inode order. Either callback may be empty.
  std::function<Status(const ScannedEntry&)> on_file;
};

// Scans the database at `path`. ENOENT if it is missing, EUCLEAN if it is
// not a slotfs database (application id), EBUSY if it stays locked past a
// 5 s busy timeout; stops at a callback's first error and returns it.
Status ScanDatabase(const std::string& path, const ScanCallbacks& callbacks);

}  // namespace slotfs::meta
