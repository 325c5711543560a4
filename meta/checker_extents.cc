// meta::Checker: namespace and extent checks, and the scrub's file walk.
#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "meta/checker.h"

namespace slotfs::meta {
namespace {

constexpr int64_t kTypeMask = 0170000;
constexpr int64_t kTypeReg = 0100000;
constexpr int64_t kTypeDir = 0040000;

// A JSON array of inode numbers, for json_each().
std::string JsonArray(const std::vector<uint64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Logical slots a file of `size` bytes spans: ceil(size / slot_size).
uint64_t SpanSlots(int64_t size, uint64_t slot_size) {
  if (size <= 0) return 0;
  const uint64_t s = static_cast<uint64_t>(size);
  return s / slot_size + (s % slot_size != 0);
}

// One extent row joined with its inode.
struct Row {
  uint64_t ino;
  int64_t lslot, slot, count, csum_len;
  bool csum_null, inode_exists;
  int64_t mode, size;
};

}  // namespace

Status Checker::CheckNamespace(CheckReport& report) {
  SLOTFS_ASSIGN_OR_RETURN(Stmt root, Stmt::Prepare(db_, "SELECT mode FROM inodes WHERE ino = 1"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, root.Step());
  if (!row || (root.Int(0) & kTypeMask) != kTypeDir) {
    report.findings.push_back({FindingKind::kRoot, Remedy::kNone, kRootInode, "/", std::nullopt,
                               row ? "the root inode is not a directory (re-format the device)"
                                   : "the root directory is missing (re-format the device)"});
  }
  // Each query yields inode numbers; every one found is dropped by repair.
  struct Pass {
    FindingKind kind;
    const char* sql;
    const char* what;
  };
  const Pass passes[] = {
      {FindingKind::kBadMode,
       "SELECT ino FROM inodes WHERE ino <> 1 AND (mode & 61440) NOT IN (32768, 16384)",
       "neither a regular file nor a directory"},
      {FindingKind::kMissingParent,
       "SELECT c.ino FROM inodes c LEFT JOIN inodes p ON p.ino = c.parent "
       "WHERE c.ino <> 1 AND p.ino IS NULL",
       "its parent directory does not exist"},
      {FindingKind::kParentNotDir,
       "SELECT c.ino FROM inodes c JOIN inodes p ON p.ino = c.parent "
       "WHERE c.ino <> 1 AND (p.mode & 61440) <> 16384",
       "its parent is not a directory"},
  };
  std::vector<uint64_t> flagged;
  for (const Pass& p : passes) {
    SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, p.sql));
    std::vector<uint64_t> found;
    for (;;) {
      SLOTFS_ASSIGN_OR_RETURN(row, q.Step());
      if (!row) break;
      found.push_back(static_cast<uint64_t>(q.Int(0)));
    }
    for (uint64_t ino : found) {
      AddInodeFinding(report, p.kind, Remedy::kDropInode, InodeNo(ino), std::nullopt, p.what);
      flagged.push_back(ino);
    }
  }
  // Inodes whose parent chain never reaches the root (a cycle), leaving
  // out those beneath an inode already flagged: dropping it drops them.
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt lost,
      Stmt::Prepare(db_,
                    "WITH RECURSIVE reach(ino) AS (SELECT 1 UNION SELECT i.ino FROM "
                    "inodes i JOIN reach r ON i.parent = r.ino), "
                    "doomed(ino) AS (SELECT value FROM json_each(?1) UNION SELECT i.ino "
                    "FROM inodes i JOIN doomed d ON i.parent = d.ino) "
                    "SELECT ino FROM inodes WHERE ino NOT IN reach AND "
                    "ino NOT IN doomed ORDER BY ino"));
  const std::string json = JsonArray(flagged);
  lost.BindText(1, json);
  std::vector<uint64_t> cycle;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(row, lost.Step());
    if (!row) break;
    cycle.push_back(static_cast<uint64_t>(lost.Int(0)));
  }
  for (uint64_t ino : cycle) {
    AddInodeFinding(report, FindingKind::kUnreachable, Remedy::kDropInode, InodeNo(ino),
                    std::nullopt, "its chain of parents never reaches the root");
  }
  return Status::Ok();
}

Status Checker::CheckExtents(const blockdev::Superblock& sb, CheckReport& report) {
  const uint64_t nslots = sb.slot_count;
  const uint64_t slot_size = sb.slot_size;
  constexpr const char* kSql =
      "SELECT e.ino, e.lslot, e.slot, e.count, length(e.csums), e.csums IS NULL, "
      "i.ino IS NOT NULL, i.mode, i.size FROM extents e "
      "LEFT JOIN inodes i ON i.ino = e.ino ORDER BY e.ino, e.lslot";
  // Calls fn for each extent row; `valid` tells whether it is a well-formed,
  // in-range run of a regular file (the only ones that claim slots).
  auto walk = [&](auto&& fn) -> Status {
    SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, kSql));
    for (;;) {
      SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::Ok();
      Row r{static_cast<uint64_t>(q.Int(0)), q.Int(1), q.Int(2), q.Int(3), q.Int(4),
            q.Int(5) != 0, q.Int(6) != 0, q.Int(7), q.Int(8)};
      const bool in_range = r.lslot >= 0 && r.slot >= 0 && r.count > 0 &&
                            static_cast<uint64_t>(r.slot) <= nslots &&
                            static_cast<uint64_t>(r.count) <= nslots - static_cast<uint64_t>(r.slot) &&
                            r.lslot <= std::numeric_limits<int64_t>::max() - r.count;
      const bool file = r.inode_exists && (r.mode & kTypeMask) == kTypeReg;
      fn(r, file && in_range, in_range);
    }
  };

  std::vector<uint64_t> bits((nslots + 63) / 64);
  std::vector<uint64_t> dups;  // slots claimed more than once
  uint64_t cur_ino = 0;
  int64_t prev_end = 0;
  std::unordered_set<int> kinds;  // finding kinds already given to cur_ino
  uint64_t orphan_extents = 0;
  auto flush_orphans = [&] {
    if (orphan_extents == 0) return;
    report.findings.push_back({FindingKind::kOrphanExtent, Remedy::kDropOrphanExtents,
                               InodeNo(cur_ino), "", std::nullopt,
                               std::to_string(orphan_extents) + " extent(s) of inode " +
                                   std::to_string(cur_ino) + ", which does not exist"});
    orphan_extents = 0;
  };
  auto once = [&](FindingKind k, Remedy remedy, std::optional<uint64_t> slot,
                  const std::string& what) {
    if (kinds.insert(static_cast<int>(k)).second) {
      AddInodeFinding(report, k, remedy, InodeNo(cur_ino), slot, what);
    }
  };
  SLOTFS_RETURN_IF_ERROR(walk([&](const Row& r, bool /*valid*/, bool in_range) {
    if (r.ino != cur_ino) {
      flush_orphans();
      cur_ino = r.ino;
      prev_end = 0;
      kinds.clear();
    }
    // Built only for a finding: this loop runs once per extent.
    auto run = [&r] {
      return "extent lslot " + std::to_string(r.lslot) + " -> slots " + std::to_string(r.slot) +
             "+" + std::to_string(r.count);
    };
    if (!r.inode_exists) {
      ++orphan_extents;
      return;
    }
    if ((r.mode & kTypeMask) == kTypeDir) {
      once(FindingKind::kExtentOnDir, Remedy::kDropOrphanExtents, std::nullopt,
           "a directory with extents (" + run() + ")");
      return;
    }
    if ((r.mode & kTypeMask) != kTypeReg) return;  // dropped by CheckNamespace's finding
    if (!in_range) {
      once(FindingKind::kExtentOutOfRange, Remedy::kDropInode, std::nullopt,
           run() + " is outside the data region of " + std::to_string(nslots) + " slots");
      return;
    }
    if (r.lslot < prev_end) {
      once(FindingKind::kExtentOverlap, Remedy::kDropInode, std::nullopt,
           run() + " overlaps the previous extent's logical slots");
    }
    prev_end = std::max(prev_end, r.lslot + r.count);
    const uint64_t span = SpanSlots(r.size, slot_size);
    const uint64_t lslot = static_cast<uint64_t>(r.lslot), count = static_cast<uint64_t>(r.count);
    if (lslot > span || count > span - lslot) {
      once(FindingKind::kExtentPastEof, Remedy::kDropInode, std::nullopt,
           run() + " lies past the file's size of " + std::to_string(r.size) + " bytes");
    } else {
      const uint64_t begin = lslot * slot_size;
      report.stored_bytes += std::min(count * slot_size, static_cast<uint64_t>(r.size) - begin);
    }
    if (!r.csum_null && r.csum_len != 0 && r.csum_len != 8 * r.count) {
      once(FindingKind::kBadCsumBlob, Remedy::kClearCsums, std::nullopt,
           run() + " has a checksum blob of " + std::to_string(r.csum_len) + " bytes, not " +
               std::to_string(8 * r.count));
    }
    for (uint64_t s = static_cast<uint64_t>(r.slot); s < static_cast<uint64_t>(r.slot) + count; ++s) {
      uint64_t& w = bits[s >> 6];
      const uint64_t m = uint64_t{1} << (s & 63);
      if (w & m) {
        dups.push_back(s);
      } else {
        w |= m;
        ++report.slots_used;
      }
    }
  }));
  flush_orphans();
  report.slots_free = nslots - report.slots_used;
  if (dups.empty()) return Status::Ok();

  // Second pass: every file claiming a doubly-owned slot; all are dropped.
  std::sort(dups.begin(), dups.end());
  dups.erase(std::unique(dups.begin(), dups.end()), dups.end());
  std::unordered_map<uint64_t, std::vector<uint64_t>> owners;  // slot -> inos
  std::vector<std::pair<uint64_t, uint64_t>> claims;           // (ino, first dup slot)
  SLOTFS_RETURN_IF_ERROR(walk([&](const Row& r, bool valid, bool) {
    if (!valid) return;
    const uint64_t begin = static_cast<uint64_t>(r.slot), end = begin + static_cast<uint64_t>(r.count);
    for (auto it = std::lower_bound(dups.begin(), dups.end(), begin); it != dups.end() && *it < end; ++it) {
      owners[*it].push_back(r.ino);
      if (claims.empty() || claims.back().first != r.ino) claims.emplace_back(r.ino, *it);
    }
  }));
  for (const auto& [ino, slot] : claims) {
    std::string others;
    for (uint64_t o : owners[slot]) {
      if (o == ino) continue;
      others += (others.empty() ? "" : ", ") + ("'" + PathOf(InodeNo(o)) + "' (ino " +
                                                std::to_string(o) + ")");
    }
    AddInodeFinding(report, FindingKind::kSlotOwnedTwice, Remedy::kDropInode, InodeNo(ino), slot,
                    "slot " + std::to_string(slot) + " is also claimed by " +
                        (others.empty() ? std::string("another extent of this file") : others));
  }
  return Status::Ok();
}

Status Checker::ForEachFileExtents(const std::function<Status(const FileExtents&)>& fn) {
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db_, "SELECT i.ino, i.size, e.lslot, e.slot, e.count, e.csums "
                                 "FROM inodes i JOIN extents e ON e.ino = i.ino "
                                 "WHERE (i.mode & 61440) = 32768 ORDER BY i.ino, e.lslot"));
  FileExtents file;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    const uint64_t ino = row ? static_cast<uint64_t>(q.Int(0)) : 0;
    if (!file.extents.empty() && (!row || ino != file.ino.value)) {
      SLOTFS_RETURN_IF_ERROR(fn(file));
      file.extents.clear();
    }
    if (!row) return Status::Ok();
    file.ino = InodeNo(ino);
    file.size = static_cast<uint64_t>(std::max<int64_t>(q.Int(1), 0));
    Extent e{static_cast<uint64_t>(q.Int(2)), SlotId(static_cast<uint64_t>(q.Int(3))),
             static_cast<uint64_t>(q.Int(4)), {}};
    // 8-byte little-endian XXH3-64 per slot (see meta/store.h); a blob of
    // the wrong length is unknown, as ClearBadCsums would make it.
    const std::string blob = q.Blob(5);
    if (e.count <= (uint64_t{1} << 32) && blob.size() == 8 * e.count) {
      e.csums.resize(e.count);
      for (size_t i = 0; i < e.count; ++i) {
        uint64_t x = 0;
        for (int b = 0; b < 8; ++b) {
          x |= uint64_t{static_cast<uint8_t>(blob[i * 8 + b])} << (8 * b);
        }
        e.csums[i] = x;
      }
    }
    file.extents.push_back(std::move(e));
  }
}

}  // namespace slotfs::meta
