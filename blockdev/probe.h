// Recognises what a device already holds, so format never destroys data
// without --force.
#pragma once

#include <string>

#include "blockdev/device.h"
#include "common/status.h"

namespace slotfs::blockdev {

// Returns "" when the first 64 KiB of the device are all zero; otherwise a
// short description such as "slotfs filesystem (uuid …)", "ext4 filesystem",
// "xfs filesystem", "btrfs filesystem", "swap space", "GPT partition table",
// "MBR partition table", or "unrecognised data in the first 64 KiB".
// Reads at most the first 128 KiB and superblock copy 1; errors are I/O
// errors of those reads.
Result<std::string> ProbeExistingData(Device& device);

// For an existing regular file, before it is opened as a device: "" when its
// first 64 KiB (all of it, if shorter) are zero; otherwise "N bytes of
// data", so even a file shorter than one I/O block (which a Device cannot
// read) is never formatted over without --force. Reads with plain read(2).
Result<std::string> ProbeFileHead(const std::string& path);

}  // namespace slotfs::blockdev
