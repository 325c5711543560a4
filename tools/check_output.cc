// slotfs check: printing the outcome, as text (one line per finding, then a
// summary line) or as one JSON object.
#include <cstdio>
#include <set>
#include <string>

#include "common/json.h"
#include "tools/check.h"
#include "tools/cli_util.h"

namespace slotfs::tools {
namespace {

const char* RemedyName(meta::Remedy r) {
  switch (r) {
    case meta::Remedy::kNone: return "none";
    case meta::Remedy::kDropInode: return "drop_inode";
    case meta::Remedy::kDropOrphanExtents: return "drop_orphan_extents";
    case meta::Remedy::kClearCsums: return "clear_checksums";
    case meta::Remedy::kFixSlotCount: return "fix_slot_count";
    case meta::Remedy::kRecoverJournal: return "recover_journal";
    case meta::Remedy::kRewriteSuperblock: return "rewrite_superblock";
  }
  return "none";
}

// What --repair does, as the end of a finding's line.
const char* RemedyText(meta::Remedy r) {
  switch (r) {
    case meta::Remedy::kNone: return "cannot be repaired safely";
    case meta::Remedy::kDropInode: return "--repair drops it";
    case meta::Remedy::kDropOrphanExtents: return "--repair deletes the extents";
    case meta::Remedy::kClearCsums: return "--repair clears the checksums";
    case meta::Remedy::kFixSlotCount: return "--repair recounts";
    case meta::Remedy::kRecoverJournal: return "--repair runs recovery";
    case meta::Remedy::kRewriteSuperblock: return "--repair rewrites it";
  }
  return "";
}

// Paths are bytes: JsonQuote repairs what is not UTF-8 (common/json.h).
std::string Json(const std::string& s) { return JsonQuote(s); }

std::string U(uint64_t v) { return std::to_string(v); }

std::string FindingJson(const meta::Finding& f, const char* corrected) {
  return std::string("{\"kind\":") + Json(meta::FindingKindName(f.kind)) +
         ",\"ino\":" + U(f.ino.value) + ",\"path\":" + Json(f.path) +
         ",\"slot\":" + (f.slot ? U(*f.slot) : "null") + ",\"message\":" + Json(f.message) +
         ",\"remedy\":" + Json(RemedyName(f.remedy)) + ",\"corrected\":" + corrected + "}";
}

}  // namespace

void PrintText(const CheckOutcome& o) {
  for (size_t i = 0; i < o.findings.size(); ++i) {
    const meta::Finding& f = o.findings[i];
    const char* tail = !o.repaired                   ? RemedyText(f.remedy)
                       : o.corrected[i]              ? "corrected"
                       : f.remedy == meta::Remedy::kNone ? "not corrected: cannot be repaired safely"
                                                         : "not corrected";
    std::printf("%s: %s [%s]\n", meta::FindingKindName(f.kind), f.message.c_str(), tail);
  }
  for (const std::string& r : o.repairs) std::printf("repair: %s\n", r.c_str());
  // Left after repair: only what was not on the lines above already.
  std::set<std::string> seen;
  for (const meta::Finding& f : o.findings) seen.insert(f.message);
  for (const meta::Finding& f : o.left) {
    if (seen.count(f.message)) continue;
    std::printf("%s: %s [found after repair]\n", meta::FindingKindName(f.kind), f.message.c_str());
  }
  if (o.scrub) {
    const ScrubStats& s = *o.scrub;
    std::printf("scrub: %llu slots (%s) in %.1f s, %.1f MiB/s: %llu verified, %llu without "
                "checksums, %llu mismatched, %llu unreadable\n",
                (unsigned long long)s.slots_read, FormatSize(s.bytes_read).c_str(), s.seconds,
                s.seconds > 0 ? static_cast<double>(s.bytes_read) / s.seconds / (1 << 20) : 0.0,
                (unsigned long long)s.slots_verified, (unsigned long long)s.slots_unverified,
                (unsigned long long)s.mismatches, (unsigned long long)s.read_errors);
  }
  const meta::CheckReport& c = o.counts;
  const std::string usage = U(c.files) + " files, " + U(c.slots_used) + " slots used, " +
                            U(c.slots_free) + " free";
  if (o.findings.empty()) {
    std::printf("clean: %s\n", usage.c_str());
    return;
  }
  size_t corrected = 0;
  for (bool b : o.corrected) corrected += b;
  const std::string left = o.left.empty() ? "" : ", " + U(o.left.size()) + " left";
  std::printf("%zu errors found, %zu corrected%s; %s\n", o.findings.size(), corrected,
              left.c_str(), usage.c_str());
}

void PrintJson(const CheckOutcome& o) {
  size_t corrected = 0;
  for (bool b : o.corrected) corrected += b;
  const meta::CheckReport& c = o.counts;
  std::string out = "{\"device\":" + Json(o.device) + ",\"database\":" + Json(o.database) +
                    ",\"clean\":" + (o.findings.empty() ? "true" : "false") +
                    ",\"repaired\":" + (o.repaired ? "true" : "false") +
                    ",\"errors_found\":" + U(o.findings.size()) +
                    ",\"errors_corrected\":" + U(corrected) +
                    ",\"errors_left\":" + U(o.repaired ? o.left.size() : o.findings.size()) +
                    ",\"files\":" + U(c.files) + ",\"directories\":" + U(c.dirs) +
                    ",\"slot_count\":" + U(o.slot_count) + ",\"slots_used\":" + U(c.slots_used) +
                    ",\"slots_free\":" + U(c.slots_free) +
                    ",\"journal_entries\":" + U(c.journal_entries) + ",\"scrub\":";
  if (o.scrub) {
    const ScrubStats& s = *o.scrub;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f", s.seconds);
    out += "{\"slots_read\":" + U(s.slots_read) + ",\"bytes_read\":" + U(s.bytes_read) +
           ",\"slots_verified\":" + U(s.slots_verified) +
           ",\"slots_unverified\":" + U(s.slots_unverified) + ",\"mismatches\":" +
           U(s.mismatches) + ",\"read_errors\":" + U(s.read_errors) + ",\"seconds\":" + secs +
           "}";
  } else {
    out += "null";
  }
  out += ",\"findings\":[";
  for (size_t i = 0; i < o.findings.size(); ++i) {
    out += (i ? "," : "") + FindingJson(o.findings[i], o.corrected[i] ? "true" : "false");
  }
  out += "],\"repairs\":[";
  for (size_t i = 0; i < o.repairs.size(); ++i) out += (i ? "," : "") + Json(o.repairs[i]);
  out += "],\"left\":[";
  for (size_t i = 0; i < o.left.size(); ++i) out += (i ? "," : "") + FindingJson(o.left[i], "false");
  out += "],\"exit_code\":" + std::to_string(o.exit_code) + "}";
  std::puts(out.c_str());
}

}  // namespace slotfs::tools
