// The settings of `slotfs mount` and the one table that describes them.
//
// Every setting besides the device and the mount point is one entry of
// MountOptionTable(): its key is the `-o KEY=VALUE` key, the key in the
// [mount] table of the configuration file, and (with '_' as '-') the
// `--long-option`. Type, range, allowed values, help and default all come
// from that entry, so the command line, the configuration file and
// `slotfs mount --help` cannot disagree. Adding an option: a field in
// MountSettings, one entry in mount_options.cc, a line in packaging/slotfs.8
// and packaging/slotfs.toml (tests/tools checks both).
//
// Thread safety: the table is immutable; the functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace slotfs::tools {

// Every setting of `slotfs mount` but the device and the mount point, with
// its default.
struct MountSettings {
  std::string db;  // "" = beside the image, or /var/lib/slotfs/UUID.db
  std::string engine = "auto";
  std::string log_level = "info";
  int64_t commit_interval_ms = 50;
  int64_t threads = 16;
  int64_t read_ahead_kb = 1024;
  std::string evict = "lru";
  int64_t evict_high = 95;
  int64_t evict_low = 90;
  int64_t db_cache_mb = 16;
  double cache_timeout = 60;
  bool no_verify = false;
  bool allow_other = false;
};

// Where a setting lives in MountSettings; the alternative also gives its
// type: text, integer, number (integer or decimal) or boolean.
using MountField = std::variant<std::string MountSettings::*, int64_t MountSettings::*,
                                double MountSettings::*, bool MountSettings::*>;

// A value before checking, as it came from a command line (text) or a TOML
// file (typed).
using MountValue = std::variant<std::string, int64_t, double, bool>;

struct MountOption {
  std::string_view key;  // -o key and config key: lower_case
  MountField field;
  std::string_view help;  // one sentence, no default (appended from MountSettings)
  // Integers and numbers: inclusive range.
  double min = 0;
  double max = 0;
  // Text: the allowed values; empty means any.
  std::vector<std::string_view> choices = {};
};

// Every option, in the order --help and the man page list them.
const std::vector<MountOption>& MountOptionTable();

// The entry for `key` ("threads"), or nullptr.
const MountOption* FindMountOption(std::string_view key);

// "--commit-interval-ms" for "commit_interval_ms".
std::string LongFlag(const MountOption& option);
// "INT", "NUM", "TEXT", "BOOL", or the choices joined by '|'.
std::string ValueName(const MountOption& option);
// The default of `option` as text ("50", "auto", "false").
std::string DefaultText(const MountOption& option);
// The help sentence with its range and default: "Maximum FUSE worker
// threads (1..256, default 16)".
std::string HelpText(const MountOption& option);
// "integer", "number", "string" or "boolean".
std::string_view TypeName(const MountOption& option);

// Type-checks `value` against `option` (an integer is accepted where a
// number is wanted), checks range and choices, and stores it in `settings`.
// EINVAL with a message that does not name the option (the caller adds
// where the value came from), e.g. "must be 1..256", "expected an integer,
// got a string".
Status SetMountOption(MountSettings& settings, const MountOption& option,
                      const MountValue& value);

// As SetMountOption for a value written on a command line: integers and
// numbers are parsed (the whole text must be one), booleans accept "" (the
// bare key), true/false, yes/no, on/off and 1/0.
Status SetMountOptionFromText(MountSettings& settings, const MountOption& option,
                              std::string_view text);

// Splits one -o argument "a,b=c" at commas; a backslash escapes the next
// character (a comma in a path: "db=/x\,y").
std::vector<std::string> SplitMountOptions(std::string_view text);

// Whether `key` is one of mount(8)'s and fstab's generic options (rw, auto,
// nofail, _netdev, x-*, …), which neither slotfs nor FUSE acts on.
bool IsGenericMountOption(std::string_view key);

}  // namespace slotfs::tools
