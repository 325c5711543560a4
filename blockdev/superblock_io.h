// Reading and writing both superblock copies on a Device.
#pragma once

#include "blockdev/device.h"
#include "blockdev/format.h"
#include "common/status.h"

namespace slotfs::blockdev {

struct SuperblockReadResult {
  Superblock sb;          // from the first valid copy
  bool copy_ok[2] = {false, false};
  Status copy_error[2];   // why a copy is bad
};

// Reads both copies. EUCLEAN naming both faults if neither is valid. If both
// are valid but disagree on identity or geometry, EUCLEAN.
Result<SuperblockReadResult> ReadSuperblocks(Device& device);

// Writes both copies (copy_index set per copy), then flushes.
Status WriteSuperblocks(Device& device, const Superblock& sb);

// Writes one copy (used by repair), then flushes.
Status WriteSuperblockCopy(Device& device, const Superblock& sb, int copy);

}  // namespace slotfs::blockdev
