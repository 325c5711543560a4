// slotfs check: verifies a device and its database offline; --scrub reads
// and verifies every stored slot; --repair fixes what it safely can. Exit
// codes as fsck's, ORed: 0 clean, 1 corrected, 4 left uncorrected, 8
// operational error; 2 for a bad command line.
#include <algorithm>
#include <set>

#include "blockdev/superblock_io.h"
#include "meta/claim.h"
#include "tools/check.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace slotfs::tools {
namespace {

using meta::Finding;
using meta::FindingKind;
using meta::Remedy;

struct CheckArgs {
  std::string device, db;
  bool scrub = false, repair = false, json = false;
};

// The device-side verdict: the superblock to check against and which
// copies --repair rewrites from it.
struct DeviceVerdict {
  std::optional<blockdev::Superblock> sb;
  int finding_of_copy[2] = {-1, -1};  // index into findings, -1: copy fine
  bool from_database = false;         // both copies bad; sb rebuilt from the db
  bool too_small = false;
};

Finding DeviceFinding(FindingKind kind, Remedy remedy, std::string message) {
  return Finding{kind, remedy, InodeNo(0), "", std::nullopt, std::move(message)};
}

// Checks both superblock copies and the device size; appends findings.
DeviceVerdict CheckDevice(blockdev::Device& device, meta::Checker& checker,
                          std::vector<Finding>& findings) {
  DeviceVerdict v;
  const SuperblockCopies c = ReadSuperblockCopies(device);
  auto bad_copy = [&](int k, Remedy remedy, const std::string& why) {
    v.finding_of_copy[k] = static_cast<int>(findings.size());
    findings.push_back(DeviceFinding(FindingKind::kSuperblock, remedy, CopyName(k) + ": " + why));
  };
  auto recorded = checker.RecordedSuperblock(device.size());
  if (c.ok[0] && c.ok[1] && !c.sb[0].SameGeometry(c.sb[1])) {
    int good = -1;
    for (int k = 0; k < 2; ++k) {
      if (recorded.ok() && c.sb[k].SameGeometry(*recorded)) good = k;
    }
    if (good < 0) {
      findings.push_back(DeviceFinding(
          FindingKind::kSuperblock, Remedy::kNone,
          "superblock copies 0 and 1 disagree on identity or geometry and neither matches "
          "the database"));
      v.sb = c.sb[0];
    } else {
      bad_copy(1 - good, Remedy::kRewriteSuperblock,
               "disagrees with copy " + std::to_string(good) + " and the database");
      v.sb = c.sb[good];
    }
  } else if (c.ok[0] || c.ok[1]) {
    for (int k = 0; k < 2; ++k) {
      if (!c.ok[k]) bad_copy(k, Remedy::kRewriteSuperblock, c.error[k]);
    }
    v.sb = c.ok[0] ? c.sb[0] : c.sb[1];
  } else {
    const uint64_t need = recorded.ok() ? recorded->data_offset + recorded->slot_count * recorded->slot_size : 0;
    const bool rebuild = recorded.ok() && need <= device.size();
    for (int k = 0; k < 2; ++k) {
      bad_copy(k, rebuild ? Remedy::kRewriteSuperblock : Remedy::kNone,
               c.error[k] + (rebuild ? " (both copies bad: the database's record can rebuild them)"
                                     : " (both copies bad, and the database records no "
                                       "identity that fits this device)"));
    }
    if (!rebuild) return v;
    v.sb = recorded.value();
    v.from_database = true;
  }
  const uint64_t need = v.sb->data_offset + v.sb->slot_count * v.sb->slot_size;
  if (device.size() < need) {
    v.too_small = true;
    findings.push_back(DeviceFinding(
        FindingKind::kDeviceSize, Remedy::kNone,
        "the device holds " + std::to_string(device.size()) + " bytes but its geometry needs " +
            std::to_string(need) + ": truncated image or wrong device (restore its size)"));
  }
  return v;
}

bool Has(const std::vector<Finding>& fs, Remedy r) {
  return std::any_of(fs.begin(), fs.end(), [r](const Finding& f) { return f.remedy == r; });
}

// Applies every remedy; marks what it corrected; returns false if a step
// failed (an operational error, printed).
bool Repair(blockdev::Device& device, meta::Checker& checker, const DeviceVerdict& v,
            bool db_usable, CheckOutcome& o) {
  bool ok = true;
  auto mark = [&](Remedy r) {
    for (size_t i = 0; i < o.findings.size(); ++i) o.corrected[i] = o.corrected[i] || o.findings[i].remedy == r;
  };
  auto failed = [&](const std::string& what, const Status& st) {
    PrintError(what + ": " + st.message());
    ok = false;
  };
  bool rewrite = v.finding_of_copy[0] >= 0 || v.finding_of_copy[1] >= 0;
  if (rewrite && v.from_database) {
    auto bad = SampleMismatches(device, *v.sb, checker, 64);
    if (bad.ok() && bad.value() > 0) {
      o.repairs.push_back("superblocks not rebuilt: " + std::to_string(bad.value()) +
                          " sampled slots do not match the database's checksums (is --db this "
                          "device's database?)");
      rewrite = false;
    }
  }
  for (int k = 0; rewrite && k < 2; ++k) {
    const int i = v.finding_of_copy[k];
    if (i < 0 || o.findings[i].remedy != Remedy::kRewriteSuperblock) continue;
    Status st = blockdev::WriteSuperblockCopy(device, *v.sb, k);
    if (!st.ok()) {
      failed("rewriting " + CopyName(k), st);
      continue;
    }
    o.corrected[i] = true;
    o.repairs.push_back("rewrote " + CopyName(k) +
                        (v.from_database ? " from the database's record" : " from the good copy"));
  }
  if (!db_usable) return ok;
  if (Has(o.findings, Remedy::kRecoverJournal)) {
    auto r = checker.RunRecovery(*v.sb);
    if (!r.ok()) {
      failed("journal recovery", r.status());
    } else {
      mark(Remedy::kRecoverJournal);
      o.repairs.push_back("journal recovery discarded " + std::to_string(r->creates_discarded) +
                          " in-flight creates and kept the committed version of " +
                          std::to_string(r->rewrites_discarded) + " files being rewritten");
    }
  }
  std::set<uint64_t> drop;
  for (const Finding& f : o.findings) {
    if (f.remedy == Remedy::kDropInode) drop.insert(f.ino.value);
  }
  if (!drop.empty()) {
    std::vector<InodeNo> inos;
    for (uint64_t ino : drop) inos.push_back(InodeNo(ino));
    auto n = checker.DropInodes(inos);
    if (!n.ok()) {
      failed("dropping damaged files", n.status());
    } else {
      mark(Remedy::kDropInode);
      o.repairs.push_back("dropped " + std::to_string(n.value()) + " inodes (" +
                          std::to_string(drop.size()) +
                          " damaged, named above, and anything beneath them)");
    }
  }
  struct Step {
    Remedy remedy;
    Result<uint64_t> (meta::Checker::*fn)();
    const char* what;
  };
  const Step steps[] = {
      {Remedy::kDropOrphanExtents, &meta::Checker::DropOrphanExtents, "deleted %s orphan extents"},
      {Remedy::kClearCsums, &meta::Checker::ClearBadCsums, "cleared %s malformed checksum blobs"},
      {Remedy::kFixSlotCount, &meta::Checker::FixSlotCounts, "recounted the slots of %s inodes"},
  };
  for (const Step& s : steps) {
    if (!Has(o.findings, s.remedy)) continue;
    auto n = (checker.*s.fn)();
    if (!n.ok()) {
      failed("repair step '" + std::string(s.what) + "'", n.status());
      continue;
    }
    mark(s.remedy);
    std::string line = s.what;
    line.replace(line.find("%s"), 2, std::to_string(n.value()));
    o.repairs.push_back(line);
  }
  Status st = checker.Checkpoint();
  if (!st.ok()) failed("checkpointing the database", st);
  return ok;
}

int RunCheck(const CheckArgs& a) {
  CheckOutcome o;
  o.device = AbsolutePath(a.device);
  blockdev::DeviceOptions dopt;  // exclusive: a mounted device is EBUSY
  dopt.read_only = !a.repair;
  auto dev = blockdev::OpenDevice(o.device, dopt);
  if (!dev.ok()) {
    PrintError(dev.status().code() == EBUSY
                   ? o.device + " is in use (mounted?); unmount it before checking"
                   : dev.status().message());
    return kCheckOperational;
  }
  blockdev::Device& device = *dev.value();
  const SuperblockCopies copies = ReadSuperblockCopies(device);
  if (!a.db.empty()) {
    o.database = AbsolutePath(a.db);
  } else {
    const SuperblockCopies& c = copies;
    if (!c.ok[0] && !c.ok[1] && device.is_block_device()) {
      PrintError(o.device + ": both superblock copies are damaged (copy 0: " + c.error[0] +
                 "; copy 1: " + c.error[1] +
                 "); pass --db with this device's database to check and rebuild them");
      return kCheckUncorrected;
    }
    const blockdev::Uuid uuid = c.ok[0] ? c.sb[0].uuid : c.sb[1].uuid;
    o.database = DefaultDbPath(o.device, device.is_block_device(), uuid);
  }
  // Nobody else may use the database or the filesystem (through any copy
  // of the device) while it is checked: a mount would change it under the
  // check, and a repair would change it under the mount.
  const meta::ClaimHolder holder{a.repair ? "check --repair" : "check", o.device, ""};
  auto refused = [&](const Status& st) {
    PrintError(st.message() + "; unmount it (or stop that process) before checking");
    return kCheckOperational;
  };
  meta::FileLock db_lock;
  if (auto lock = meta::LockDatabase(o.database, {}); lock.ok()) {
    db_lock = std::move(lock.value());
  } else if (lock.status().code() != ENOENT) {
    return refused(lock.status());
  }  // a missing database: Checker::Open says what to do
  auto checker = meta::Checker::Open(o.database, a.repair);
  if (!checker.ok()) {
    PrintError(checker.status().message() +
               (checker.status().code() == ENOENT ? " (pass --db with this device's database)" : ""));
    return kCheckOperational;
  }
  meta::Checker& db = *checker.value();
  std::optional<blockdev::Uuid> uuid;
  if (copies.ok[0] || copies.ok[1]) {
    uuid = copies.ok[0] ? copies.sb[0].uuid : copies.sb[1].uuid;
  } else if (auto recorded = db.RecordedSuperblock(device.size()); recorded.ok()) {
    uuid = recorded->uuid;
  }
  meta::FileLock identity_lock;
  if (uuid) {
    auto lock = meta::LockIdentity(*uuid, holder, {});
    if (!lock.ok()) return refused(lock.status());
    identity_lock = std::move(lock.value());
  }

  DeviceVerdict v = CheckDevice(device, db, o.findings);
  bool db_usable = false;
  if (v.sb) {
    o.slot_count = v.sb->slot_count;
    auto report = db.Check(*v.sb);
    if (!report.ok()) {
      PrintError("checking " + o.database + ": " + report.status().message());
      return kCheckOperational;
    }
    db_usable = report->usable;
    o.findings.insert(o.findings.end(), report->findings.begin(), report->findings.end());
    o.counts = report.value();
    if (a.scrub && db_usable && !v.too_small) {
      std::unordered_set<uint64_t> skip;
      for (const Finding& f : o.findings) {
        if (f.remedy == Remedy::kDropInode) skip.insert(f.ino.value);
      }
      auto stats = Scrub(device, *v.sb, db, skip, report->stored_bytes, o.findings);
      if (!stats.ok()) {
        PrintError("scrub: " + stats.status().message());
        return kCheckOperational;
      }
      o.scrub = stats.value();
    }
  }
  o.corrected.assign(o.findings.size(), false);
  if (!a.repair || o.findings.empty()) {
    o.exit_code = o.findings.empty() ? kCheckClean : kCheckUncorrected;
  } else {
    o.repaired = true;
    const bool ok = Repair(device, db, v, db_usable, o);
    // Check again: what is still wrong is left uncorrected.
    DeviceVerdict again = CheckDevice(device, db, o.left);
    if (again.sb) {
      auto report = db.Check(*again.sb);
      if (report.ok()) {
        o.left.insert(o.left.end(), report->findings.begin(), report->findings.end());
        o.counts = report.value();
      } else {
        PrintError("checking " + o.database + " after repair: " + report.status().message());
      }
    }
    const bool any = std::find(o.corrected.begin(), o.corrected.end(), true) != o.corrected.end();
    o.exit_code = (any ? kCheckCorrected : 0) | (o.left.empty() ? 0 : kCheckUncorrected) |
                  (ok ? 0 : kCheckOperational);
  }
  if (a.json) {
    PrintJson(o);
  } else {
    PrintText(o);
  }
  return o.exit_code;
}

}  // namespace

std::function<int()> AddCheckCommand(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Verify an unmounted slotfs device and its database (exit 0 clean, 1 corrected, "
               "4 errors left, 8 operational error)");
  cmd->add_option("device", args->device, "Block device or image file")->required();
  cmd->add_option("--db", args->db, "Database path");
  cmd->add_flag("--scrub", args->scrub, "Also read every stored slot and verify its checksum");
  cmd->add_flag("--repair", args->repair,
                "Fix what can be fixed safely: drop damaged files, run journal recovery, "
                "rewrite a damaged superblock copy");
  cmd->add_flag("--json", args->json, "Print a JSON object");
  return [args] { return RunCheck(*args); };
}

}  // namespace slotfs::tools
