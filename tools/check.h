// Internals of `slotfs check` shared by tools/check_*.cc: the device side
// (superblock copies, scrub) and the output (text or JSON). The database
// side is meta::Checker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "blockdev/device.h"
#include "blockdev/format.h"
#include "common/status.h"
#include "meta/checker.h"

namespace slotfs::tools {

// fsck's exit codes, ORed together.
inline constexpr int kCheckClean = 0;
inline constexpr int kCheckCorrected = 1;
inline constexpr int kCheckUncorrected = 4;
inline constexpr int kCheckOperational = 8;

// Both superblock copies as found on the device.
struct SuperblockCopies {
  bool ok[2] = {false, false};
  blockdev::Superblock sb[2];
  std::string error[2];  // why a copy is bad
};
// Reads and decodes both copies; a copy that cannot be read or decoded, or
// whose copy-index field names the other copy, is bad. Never fails.
SuperblockCopies ReadSuperblockCopies(blockdev::Device& device);
// "superblock copy 1 (byte 524288)".
std::string CopyName(int copy);

struct ScrubStats {
  uint64_t slots_read = 0, bytes_read = 0;
  uint64_t slots_verified = 0;    // had a checksum, and matched
  uint64_t slots_unverified = 0;  // no checksum recorded
  uint64_t mismatches = 0, read_errors = 0;
  double seconds = 0;
};

// Reads every stored slot of every file (not in `skip`) with O_DIRECT in
// large batches and verifies its checksum. Appends one finding per damaged
// file (kChecksumMismatch or kReadError, remedy kDropInode) to `findings`.
// Progress (percent, MiB/s, ETA) goes to stderr only if it is a terminal;
// `total_bytes` is the expected amount (meta::CheckReport::stored_bytes).
// Errors: only what stops the scrub itself (database, misuse).
Result<ScrubStats> Scrub(blockdev::Device& device, const blockdev::Superblock& sb,
                         meta::Checker& checker, const std::unordered_set<uint64_t>& skip,
                         uint64_t total_bytes, std::vector<meta::Finding>& findings);

// Reads up to `max_slots` slots that have checksums; returns how many did
// not match (ENOENT if there was none to sample). Used before rebuilding
// both superblock copies from the database: a database whose checksums do
// not match the device is not this device's.
Result<uint64_t> SampleMismatches(blockdev::Device& device, const blockdev::Superblock& sb,
                                  meta::Checker& checker, uint64_t max_slots);

// Everything check prints.
struct CheckOutcome {
  std::string device, database;
  std::vector<meta::Finding> findings;  // in the order found
  std::vector<bool> corrected;          // parallel to findings
  std::vector<std::string> repairs;     // what --repair did, one line each
  std::vector<meta::Finding> left;      // found again after repair
  bool repaired = false;                // --repair ran
  meta::CheckReport counts;             // final state (after repair)
  uint64_t slot_count = 0;
  std::optional<ScrubStats> scrub;
  int exit_code = 0;
};
void PrintText(const CheckOutcome& o);
void PrintJson(const CheckOutcome& o);

}  // namespace slotfs::tools
