// meta::Checker: opening, the database-level checks (integrity, binding,
// counts, journal) and finding helpers. Namespace and extent checks are in
// checker_extents.cc, repairs in checker_repair.cc.
#include "meta/checker.h"

#include <sys/stat.h>

#include <cstdio>
#include <unordered_set>

namespace slotfs::meta {
namespace {

constexpr int64_t kJournalCreate = 1;  // as in store.cc
constexpr size_t kMaxIntegrityLines = 8;

bool IsCorruption(const Status& st) { return st.code() == EUCLEAN; }

}  // namespace

const char* FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kSuperblock: return "superblock";
    case FindingKind::kDeviceSize: return "device_size";
    case FindingKind::kDbCorrupt: return "db_corrupt";
    case FindingKind::kDbBinding: return "db_binding";
    case FindingKind::kRoot: return "root";
    case FindingKind::kMissingParent: return "missing_parent";
    case FindingKind::kParentNotDir: return "parent_not_dir";
    case FindingKind::kUnreachable: return "unreachable";
    case FindingKind::kBadMode: return "bad_mode";
    case FindingKind::kExtentOutOfRange: return "extent_out_of_range";
    case FindingKind::kExtentOverlap: return "extent_overlap";
    case FindingKind::kExtentPastEof: return "extent_past_eof";
    case FindingKind::kSlotOwnedTwice: return "slot_owned_twice";
    case FindingKind::kOrphanExtent: return "orphan_extent";
    case FindingKind::kExtentOnDir: return "extent_on_dir";
    case FindingKind::kBadCsumBlob: return "bad_csum_blob";
    case FindingKind::kSlotCount: return "slot_count";
    case FindingKind::kJournal: return "journal";
    case FindingKind::kChecksumMismatch: return "checksum_mismatch";
    case FindingKind::kReadError: return "read_error";
  }
  return "unknown";
}

Checker::~Checker() = default;

Result<std::unique_ptr<Checker>> Checker::Open(const std::string& path,
                                               bool writable) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "database " + path);
  }
  auto c = std::unique_ptr<Checker>(new Checker());
  c->path_ = path;
  c->writable_ = writable;
  SLOTFS_ASSIGN_OR_RETURN(
      c->db_, Db::Open(path, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY));
  // Repairs must be durable before check reports them done. A corrupt
  // file may already fail here; Check() reports that as a finding.
  if (writable) (void)c->db_.Exec("PRAGMA synchronous=FULL");
  return c;
}

Result<CheckReport> Checker::Check(const blockdev::Superblock& sb) {
  CheckReport report;
  auto run = [&](const Status& st) -> Status {
    if (st.ok() || !IsCorruption(st)) return st;
    report.usable = false;
    report.findings.push_back({FindingKind::kDbCorrupt, Remedy::kNone, InodeNo(0), "",
                               std::nullopt,
                               "database " + path_ + " is corrupt: " + st.message() +
                                   " (restore it from a backup or re-format the device)"});
    return Status::Ok();
  };
  SLOTFS_RETURN_IF_ERROR(run(CheckIntegrity(report)));
  if (report.usable) SLOTFS_RETURN_IF_ERROR(run(CheckBinding(sb, report)));
  if (report.usable) SLOTFS_RETURN_IF_ERROR(run(CheckNamespace(report)));
  if (report.usable) SLOTFS_RETURN_IF_ERROR(run(CheckExtents(sb, report)));
  if (report.usable) SLOTFS_RETURN_IF_ERROR(run(CheckCounts(report)));
  if (report.usable) SLOTFS_RETURN_IF_ERROR(run(CheckJournal(report)));
  return report;
}

Status Checker::CheckIntegrity(CheckReport& report) {
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "PRAGMA integrity_check"));
  std::string problems;
  size_t lines = 0;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    std::string line = q.Blob(0);
    if (line == "ok") continue;
    if (++lines <= kMaxIntegrityLines) problems += (problems.empty() ? "" : "; ") + line;
  }
  if (lines == 0) return Status::Ok();
  if (lines > kMaxIntegrityLines) {
    problems += "; and " + std::to_string(lines - kMaxIntegrityLines) + " more";
  }
  report.usable = false;
  report.findings.push_back({FindingKind::kDbCorrupt, Remedy::kNone, InodeNo(0), "",
                             std::nullopt,
                             "database " + path_ + " fails SQLite's integrity check: " +
                                 problems +
                                 " (restore it from a backup or re-format the device)"});
  return Status::Ok();
}

Status Checker::CheckBinding(const blockdev::Superblock& sb, CheckReport& report) {
  auto refuse = [&](const std::string& why) {
    report.usable = false;
    report.findings.push_back({FindingKind::kDbBinding, Remedy::kNone, InodeNo(0), "",
                               std::nullopt, "database " + path_ + " " + why});
    return Status::Ok();
  };
  SLOTFS_ASSIGN_OR_RETURN(Stmt app, Stmt::Prepare(db_, "PRAGMA application_id"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, app.Step());
  if (!row || app.Int(0) != kApplicationId) return refuse("is not a slotfs database");
  SLOTFS_ASSIGN_OR_RETURN(Stmt uv, Stmt::Prepare(db_, "PRAGMA user_version"));
  SLOTFS_ASSIGN_OR_RETURN(row, uv.Step());
  if (!row || uv.Int(0) != kSchemaVersion) {
    return refuse("has schema version " + std::to_string(row ? uv.Int(0) : 0) +
                  "; this slotfs reads " + std::to_string(kSchemaVersion));
  }
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt tables,
      Stmt::Prepare(db_, "SELECT count(*) FROM sqlite_schema WHERE type='table' AND "
                         "name IN ('meta', 'inodes', 'journal', 'extents')"));
  SLOTFS_ASSIGN_OR_RETURN(row, tables.Step());
  if (!row || tables.Int(0) != 4) return refuse("lacks slotfs tables");
  auto rec = RecordedSuperblock(sb.device_size);
  if (!rec.ok()) return refuse("has no usable identity record: " + rec.status().message());
  if (!rec->SameGeometry(sb)) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "belongs to another filesystem: it records uuid %s, %llu slots of %llu "
                  "bytes at %llu; the superblock says uuid %s, %llu slots of %llu bytes "
                  "at %llu (pass --db with this device's database)",
                  blockdev::UuidToString(rec->uuid).c_str(),
                  (unsigned long long)rec->slot_count, (unsigned long long)rec->slot_size,
                  (unsigned long long)rec->data_offset,
                  blockdev::UuidToString(sb.uuid).c_str(), (unsigned long long)sb.slot_count,
                  (unsigned long long)sb.slot_size, (unsigned long long)sb.data_offset);
    return refuse(buf);
  }
  return Status::Ok();
}

Result<blockdev::Superblock> Checker::RecordedSuperblock(uint64_t device_size) {
  blockdev::Superblock sb;
  sb.device_size = device_size;
  SLOTFS_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db_, "SELECT key, value FROM meta"));
  int found = 0;
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    const std::string key = q.Blob(0);
    const uint64_t v = static_cast<uint64_t>(q.Int(1));
    if (key == "uuid") {
      SLOTFS_ASSIGN_OR_RETURN(sb.uuid, blockdev::UuidFromString(q.Blob(1)));
      ++found;
    } else if (key == "slot_size") {
      sb.slot_size = v;
      ++found;
    } else if (key == "slot_count") {
      sb.slot_count = v;
      ++found;
    } else if (key == "data_offset") {
      sb.data_offset = v;
      ++found;
    } else if (key == "format_version") {
      sb.format_version = static_cast<uint32_t>(v);
    } else if (key == "created_unix_ns") {
      sb.created_unix_ns = v;
    }
  }
  if (found != 4) {
    return Status::Error(EUCLEAN, "uuid, slot_size, slot_count or data_offset missing");
  }
  return sb;
}

Status Checker::CheckCounts(CheckReport& report) {
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db_, "SELECT coalesce(sum((mode & 61440) = 32768), 0), "
                                 "coalesce(sum((mode & 61440) = 16384), 0) FROM inodes"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) {
    report.files = static_cast<uint64_t>(q.Int(0));
    report.dirs = static_cast<uint64_t>(q.Int(1));
  }
  std::unordered_set<uint64_t> dropped;
  for (const Finding& f : report.findings) {
    if (f.remedy == Remedy::kDropInode) dropped.insert(f.ino.value);
  }
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db_, "SELECT i.ino, i.slots, coalesce(e.n, 0) FROM inodes i "
                                 "LEFT JOIN (SELECT ino, sum(count) AS n FROM extents "
                                 "GROUP BY ino) e ON e.ino = i.ino "
                                 "WHERE i.slots <> coalesce(e.n, 0)"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(row, s.Step());
    if (!row) break;
    const InodeNo ino(static_cast<uint64_t>(s.Int(0)));
    if (dropped.count(ino.value)) continue;
    AddInodeFinding(report, FindingKind::kSlotCount, Remedy::kFixSlotCount, ino,
                    std::nullopt,
                    "records " + std::to_string(s.Int(1)) + " slots but its extents hold " +
                        std::to_string(s.Int(2)));
  }
  return Status::Ok();
}

Status Checker::CheckJournal(CheckReport& report) {
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt j, Stmt::Prepare(db_, "SELECT j.ino, j.kind, i.ino IS NULL FROM journal j "
                                 "LEFT JOIN inodes i ON i.ino = j.ino ORDER BY j.ino"));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(bool row, j.Step());
    if (!row) break;
    ++report.journal_entries;
    const InodeNo ino(static_cast<uint64_t>(j.Int(0)));
    if (j.Int(2) != 0) {
      report.findings.push_back({FindingKind::kJournal, Remedy::kRecoverJournal, ino, "",
                                 std::nullopt,
                                 "journal entry for inode " + std::to_string(ino.value) +
                                     ", which does not exist"});
    } else if (j.Int(1) == kJournalCreate) {
      AddInodeFinding(report, FindingKind::kJournal, Remedy::kRecoverJournal, ino,
                      std::nullopt,
                      "in-flight create (content never committed): recovery discards it");
    } else {
      AddInodeFinding(report, FindingKind::kJournal, Remedy::kRecoverJournal, ino,
                      std::nullopt,
                      "in-flight rewrite: recovery keeps its committed version");
    }
  }
  SLOTFS_ASSIGN_OR_RETURN(
      Stmt w, Stmt::Prepare(db_, "SELECT ino, state FROM inodes WHERE state <> 0 AND "
                                 "ino NOT IN (SELECT ino FROM journal) ORDER BY ino"));
  SLOTFS_ASSIGN_OR_RETURN(Stmt n, Stmt::Prepare(db_, "SELECT count(*) FROM inodes WHERE state <> 0"));
  SLOTFS_ASSIGN_OR_RETURN(bool row, n.Step());
  if (row) report.incomplete_inodes = static_cast<uint64_t>(n.Int(0));
  for (;;) {
    SLOTFS_ASSIGN_OR_RETURN(row, w.Step());
    if (!row) break;
    AddInodeFinding(report, FindingKind::kJournal, Remedy::kRecoverJournal,
                    InodeNo(static_cast<uint64_t>(w.Int(0))), std::nullopt,
                    "content never committed (state " + std::to_string(w.Int(1)) +
                        "): recovery discards it");
  }
  return Status::Ok();
}

std::string Checker::PathOf(InodeNo ino) {
  auto q = Stmt::Prepare(db_, "SELECT parent, name FROM inodes WHERE ino = ?");
  if (!q.ok()) return "?";
  std::string path;
  uint64_t cur = ino.value;
  for (int depth = 0; cur != kRootInode.value; ++depth) {
    q->Reset();
    q->Bind(1, cur);
    auto row = q->Step();
    if (depth >= 256 || !row.ok() || !row.value()) return "?/" + path;
    std::string name;
    for (unsigned char c : q->Blob(1)) {
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        name += static_cast<char>(c);
      } else {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\x%02x", c);
        name += esc;
      }
    }
    path = path.empty() ? name : name + "/" + path;
    cur = static_cast<uint64_t>(q->Int(0));
  }
  return path.empty() ? "/" : path;
}

void Checker::AddInodeFinding(CheckReport& report, FindingKind kind, Remedy remedy,
                              InodeNo ino, std::optional<uint64_t> slot,
                              const std::string& what) {
  Finding f{kind, remedy, ino, PathOf(ino), slot, ""};
  f.message = "'" + f.path + "' (ino " + std::to_string(ino.value) + "): " + what;
  report.findings.push_back(std::move(f));
}

}  // namespace slotfs::meta
