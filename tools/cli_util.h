// Small helpers shared by the slotfs subcommands: size parsing, default
// database paths, and opening a formatted device with its database.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "blockdev/device.h"
#include "blockdev/format.h"
#include "blockdev/superblock_io.h"
#include "common/status.h"
#include "meta/store.h"

namespace slotfs::tools {

// Exit codes (documented in the README and the man page).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// "64M", "8G", "1048576", "512K", "1T" (binary units). EINVAL otherwise.
Result<uint64_t> ParseSize(const std::string& text);
std::string FormatSize(uint64_t bytes);

// The database path used when --db is not given: "<image>.db" beside an
// image file; /var/lib/slotfs/<uuid>.db for a block device.
std::string DefaultDbPath(const std::string& device_path, bool is_block_device,
                          const blockdev::Uuid& uuid);

// Absolute form of a path (the daemon changes directory to /).
std::string AbsolutePath(const std::string& path);

// Prints "slotfs: error: <message>" to stderr.
void PrintError(const std::string& message);

}  // namespace slotfs::tools
