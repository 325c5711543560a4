// The slotfs configuration file: TOML, default /etc/slotfs/slotfs.toml.
//
//   [mount]
//   engine = "uring"
//   commit_interval_ms = 100
//   allow_other = true
//
// Its keys are exactly the mount option keys (mount_options.h), each with
// its TOML type (string, integer, number, boolean). `slotfs mount` reads it
// first; the command line (--long options, then -o) overrides it.
//
// Thread safety: the functions keep no state.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "tools/mount_options.h"

namespace slotfs::tools {

inline constexpr char kDefaultConfigPath[] = "/etc/slotfs/slotfs.toml";

// Parses TOML `text` and stores every key of its [mount] table into
// `settings`, leaving the others as they are. `source` names the text in
// messages (the file path). On any problem returns EINVAL with
// "SOURCE:LINE:COLUMN: what", e.g. "slotfs.toml:3:1: unknown key 'thread'
// in [mount]"; bad TOML syntax, an unknown table or key, a value of the
// wrong type or out of range. `settings` may then be partly updated.
Status ParseMountConfig(std::string_view text, const std::string& source,
                        MountSettings& settings);

// A configuration file larger than this is refused.
inline constexpr size_t kMaxConfigBytes = 1024 * 1024;

// Reads the file at `path` and parses it as ParseMountConfig. A file that
// does not exist is no error when `must_exist` is false (the default path:
// nothing is read); otherwise ENOENT "configuration file PATH: ...". Other
// read errors (EACCES) are always errors; so are a path that is not a
// regular file (EINVAL: a directory, /dev/zero, a FIFO) and a file larger
// than kMaxConfigBytes (EFBIG).
Status LoadMountConfig(const std::string& path, bool must_exist, MountSettings& settings);

}  // namespace slotfs::tools
