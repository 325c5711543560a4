// slotfs info: what a cache holds.
//
//   slotfs info DEVICE      offline: geometry, usage, entries per model
//   slotfs info MOUNTPOINT  live: the daemon's counters (MOUNT/.slotfs/stats)
//                           and entries per model from a read-only scan of
//                           its database
//
// --json prints one object (fields in the README, "slotfs info").
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json.h"
#include "core/filesystem.h"
#include "core/lmcache_sizing.h"
#include "tools/cache_summary.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/stack.h"

namespace slotfs::tools {
namespace {

using Json = nlohmann::ordered_json;

struct InfoArgs {
  std::string target;
  std::string db;
  bool json = false;
  std::string lmcache_min_entry = "32K";
};

// What `info` says about sizing LMCache and about space use: one source
// (core::RecommendLmcacheSize) for the text and the JSON.
struct SizingView {
  core::LmcacheSizing lmcache;
  unsigned low_pct = 0;
  bool watermarks_assumed = false;  // offline: the mount's defaults
  double space_efficiency = 0;      // logical bytes / bytes held; 0 when empty
};

SizingView Sizing(uint64_t slot_count, uint64_t slot_size, unsigned low_pct, bool assumed,
                  uint64_t min_entry, uint64_t bytes, uint64_t slots_used) {
  SizingView v;
  v.lmcache = core::RecommendLmcacheSize(slot_count, slot_size, low_pct, min_entry);
  v.low_pct = low_pct;
  v.watermarks_assumed = assumed;
  const double held = static_cast<double>(slots_used) * static_cast<double>(slot_size);
  v.space_efficiency = held > 0 ? static_cast<double>(bytes) / held : 0;
  return v;
}

std::string Derivation(const SizingView& v) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%llu slots at or below the %u%% low eviction watermark%s, divided by the worst "
                "slot rounding of entries of at least %s (%.3fx), in GiB (1024^3) as LMCache reads "
                "it, rounded down",
                (unsigned long long)v.lmcache.budget_slots, v.low_pct,
                v.watermarks_assumed ? " (the mount default)" : "",
                FormatSize(v.lmcache.min_entry).c_str(), v.lmcache.worst_ratio);
  return buf;
}

void AddSizingJson(const SizingView& v, Json* j) {
  Json l;
  l["max_local_disk_size"] = v.lmcache.max_local_disk_size_gib;
  l["max_bytes"] = v.lmcache.max_bytes;
  l["min_entry"] = v.lmcache.min_entry;
  l["worst_case_ratio"] = v.lmcache.worst_ratio;
  l["budget_slots"] = v.lmcache.budget_slots;
  l["low_watermark_pct"] = v.low_pct;
  l["derivation"] = Derivation(v);
  (*j)["lmcache"] = l;
  (*j)["space_efficiency"] = v.space_efficiency;
}

void PrintSizing(const SizingView& v) {
  std::printf("lmcache      max_local_disk_size: %.2f  (%s)\n",
              v.lmcache.max_local_disk_size_gib, Derivation(v).c_str());
  if (v.space_efficiency > 0) {
    std::printf("space        %.3f of the space held is file bytes (slot rounding)\n",
                v.space_efficiency);
  }
}

// ------------------------------------------------------------ formatting

std::string TimeText(int64_t ns, bool iso) {
  if (ns <= 0) return "-";
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string Duration(double seconds) {
  auto s = static_cast<uint64_t>(seconds);
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%llud %lluh %llum", (unsigned long long)(s / 86400),
                  (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lluh %llum %llus", (unsigned long long)(s / 3600),
                  (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  }
  return buf;
}

template <typename T>
std::string JoinSet(const std::set<T>& s) {
  std::ostringstream out;
  bool first = true;
  for (const T& v : s) {
    out << (first ? "" : ",") << v;
    first = false;
  }
  return first ? "-" : out.str();
}

// Per-model table, the "other" line and the oldest/newest entries.
void PrintSummary(const CacheSummary& s) {
  size_t w = 5;
  for (const auto& [model, m] : s.models) w = std::max(w, std::min<size_t>(model.size(), 64));
  std::printf("\n%-*s %9s %11s  %-11s %-9s %s\n", static_cast<int>(w), "model", "files", "bytes",
              "world size", "ranks", "dtypes");
  auto row = [&](const std::string& name, const ModelSummary& m) {
    std::string layers;
    if (m.layerwise_files) layers = " (" + std::to_string(m.layerwise_files) + " layer-wise)";
    std::printf("%-*s %9llu %11s  %-11s %-9s %s%s\n", static_cast<int>(w), name.c_str(),
                (unsigned long long)m.files, FormatSize(m.bytes).c_str(),
                JoinSet(m.world_sizes).c_str(), JoinSet(m.ranks).c_str(), JoinSet(m.dtypes).c_str(),
                layers.c_str());
  };
  for (const auto& [model, m] : s.models) row(model, m);
  if (s.other.files > 0 || s.models.empty()) {
    std::printf("%-*s %9llu %11s  (names that are not LMCache keys%s)\n", static_cast<int>(w),
                "other", (unsigned long long)s.other.files, FormatSize(s.other.bytes).c_str(),
                s.models_truncated ? ", and models past the first 1000" : "");
  }
  auto entry = [](const char* label, const EntryRef& e) {
    if (!e.valid) return;
    std::printf("%-20s %s  %s (%s)\n", label, TimeText(e.time_ns, false).c_str(), e.path.c_str(),
                FormatSize(e.size).c_str());
  };
  std::printf("\n");
  entry("oldest (modified)", s.oldest_modified);
  entry("newest (modified)", s.newest_modified);
  entry("least recently read", s.least_recently_accessed);
  entry("most recently read", s.most_recently_accessed);
  if (s.pinned || s.pending) {
    std::printf("%-20s %llu pinned, %llu not yet committed\n", "", (unsigned long long)s.pinned,
                (unsigned long long)s.pending);
  }
}

Json ModelJson(const ModelSummary& m) {
  Json j;
  j["files"] = m.files;
  j["bytes"] = m.bytes;
  j["layerwise_files"] = m.layerwise_files;
  j["world_sizes"] = m.world_sizes;
  j["ranks"] = m.ranks;
  j["dtypes"] = m.dtypes;
  j["oldest_mtime_ns"] = m.oldest_mtime_ns;
  j["newest_mtime_ns"] = m.newest_mtime_ns;
  j["last_access_ns"] = m.last_access_ns;
  return j;
}

Json EntryJson(const EntryRef& e) {
  if (!e.valid) return nullptr;
  return Json{{"path", Utf8Repair(e.path)},
              {"size", e.size},
              {"time_ns", e.time_ns},
              {"time", TimeText(e.time_ns, true)}};
}

// The summary's part of the JSON object (the same in both modes).
void AddSummaryJson(const CacheSummary& s, Json* j) {
  (*j)["pinned_files"] = s.pinned;
  (*j)["pending_files"] = s.pending;
  Json models = Json::array();
  for (const auto& [model, m] : s.models) {
    Json mj = Json{{"model", Utf8Repair(model)}};
    mj.update(ModelJson(m));
    models.push_back(std::move(mj));
  }
  (*j)["models"] = std::move(models);
  (*j)["other"] = ModelJson(s.other);
  (*j)["models_truncated"] = s.models_truncated;
  (*j)["entries"] = Json{{"oldest_modified", EntryJson(s.oldest_modified)},
                         {"newest_modified", EntryJson(s.newest_modified)},
                         {"least_recently_accessed", EntryJson(s.least_recently_accessed)},
                         {"most_recently_accessed", EntryJson(s.most_recently_accessed)}};
}

void PrintJson(const Json& j) {
  // File names are bytes: strings holding names went through Utf8Repair
  // (common/json.h); `replace` repairs anything else the same way.
  std::printf("%s\n", j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
}

// ------------------------------------------------------------ offline

int RunOffline(const InfoArgs& a, uint64_t min_entry) {
  blockdev::DeviceOptions dopt;
  dopt.exclusive = false;
  dopt.read_only = true;
  std::string path = AbsolutePath(a.target);
  auto opened = OpenFormattedDevice(path, dopt, a.db);
  if (!opened.ok()) {
    PrintError(opened.status().message());
    return kExitFailure;
  }
  const blockdev::Superblock& sb = opened->superblocks.sb;
  {
    // Checks that the database belongs to this device.
    meta::StoreOptions sopt;
    sopt.read_only = true;
    auto store = meta::Store::Open(opened->db_path, sb, sopt);
    if (!store.ok()) {
      PrintError(store.status().message());
      return kExitFailure;
    }
  }
  Result<CacheSummary> sum = SummarizeDatabase(opened->db_path);
  if (!sum.ok()) {
    PrintError(sum.status().message());
    return kExitFailure;
  }
  const CacheSummary& s = sum.value();
  std::string uuid = blockdev::UuidToString(sb.uuid);
  const SizingView sizing = Sizing(sb.slot_count, sb.slot_size, core::CoreConfig().evict_low_pct,
                                   /*assumed=*/true, min_entry, s.bytes, s.slots);
  if (a.json) {
    Json j;
    j["mode"] = "offline";
    j["device"] = path;
    j["database"] = opened->db_path;
    j["uuid"] = uuid;
    j["format_version"] = sb.format_version;
    j["slot_size"] = sb.slot_size;
    j["slot_count"] = sb.slot_count;
    j["data_offset"] = sb.data_offset;
    j["files"] = s.files;
    j["directories"] = s.directories;
    j["bytes"] = s.bytes;
    j["slots_used"] = s.slots;
    j["slots_free"] = sb.slot_count - std::min(s.slots, sb.slot_count);
    AddSizingJson(sizing, &j);
    AddSummaryJson(s, &j);
    PrintJson(j);
    return kExitOk;
  }
  std::printf(
      "device       %s\ndatabase     %s\nuuid         %s\nformat       v%u\n"
      "slots        %llu x %s (%s)\nused         %llu slots (%s), %llu free\n"
      "files        %llu (%s)\ndirectories  %llu\n",
      path.c_str(), opened->db_path.c_str(), uuid.c_str(), sb.format_version,
      (unsigned long long)sb.slot_count, FormatSize(sb.slot_size).c_str(),
      FormatSize(sb.slot_count * sb.slot_size).c_str(), (unsigned long long)s.slots,
      FormatSize(s.slots * sb.slot_size).c_str(),
      (unsigned long long)(sb.slot_count - std::min(s.slots, sb.slot_count)),
      (unsigned long long)s.files, FormatSize(s.bytes).c_str(), (unsigned long long)s.directories);
  PrintSizing(sizing);
  PrintSummary(s);
  return kExitOk;
}

// ------------------------------------------------------------ live

// Undoes the octal escapes of /proc/self/mountinfo ("\040" for a space).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// The filesystem type mounted at `dir` (e.g. "fuse.slotfs"), "" if none;
// the last mount at that point wins, as it is the visible one.
std::string MountTypeAt(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, type;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point, field;
    if (!(f >> id >> parent >> devno >> root >> point)) continue;
    while (f >> field && field != "-") {
    }
    std::string fstype;
    if (!(f >> fstype)) continue;
    if (Unescape(point) == dir) type = fstype;
  }
  return type;
}

const Json& At(const Json& j, const char* pointer) {
  static const Json kNull;
  Json::json_pointer p(pointer);
  return j.contains(p) ? j.at(p) : kNull;
}
uint64_t U(const Json& j, const char* pointer) {
  const Json& v = At(j, pointer);
  return v.is_number_unsigned() ? v.get<uint64_t>() : 0;
}
double D(const Json& j, const char* pointer) {
  const Json& v = At(j, pointer);
  return v.is_number() ? v.get<double>() : 0.0;
}
std::string S(const Json& j, const char* pointer) {
  const Json& v = At(j, pointer);
  return v.is_string() ? v.get<std::string>() : std::string();
}

void PrintLiveStats(const std::string& mnt, const Json& st) {
  uint64_t hits = U(st, "/counters/hits"), misses = U(st, "/counters/misses");
  double ratio =
      hits + misses ? 100.0 * static_cast<double>(hits) / static_cast<double>(hits + misses) : 0;
  std::printf(
      "mountpoint   %s (live)\ndevice       %s\ndatabase     %s\nuuid         %s\n"
      "uptime       %s\n",
      mnt.c_str(), S(st, "/device").c_str(), S(st, "/db_path").c_str(), S(st, "/uuid").c_str(),
      Duration(D(st, "/uptime_seconds")).c_str());
  uint64_t slot = U(st, "/slot_size");
  std::printf(
      "slots        %llu x %s: %llu used (%s), %llu free, %llu quarantined\n",
      (unsigned long long)U(st, "/slots/total"), FormatSize(slot).c_str(),
      (unsigned long long)U(st, "/slots/used"), FormatSize(U(st, "/slots/used") * slot).c_str(),
      (unsigned long long)U(st, "/slots/free"), (unsigned long long)U(st, "/slots/quarantined"));
  std::printf("files        %llu (%s), %llu pinned, %llu open or committing\n",
              (unsigned long long)U(st, "/files"), FormatSize(U(st, "/bytes")).c_str(),
              (unsigned long long)U(st, "/pinned_files"),
              (unsigned long long)U(st, "/active_files"));
  std::printf("lookups      %llu hits, %llu misses (hit ratio %.1f%%)\n", (unsigned long long)hits,
              (unsigned long long)misses, ratio);
  std::printf("reads        %llu (%s)\nwrites       %llu (%s)\n",
              (unsigned long long)U(st, "/counters/reads"),
              FormatSize(U(st, "/counters/bytes_read")).c_str(),
              (unsigned long long)U(st, "/counters/writes"),
              FormatSize(U(st, "/counters/bytes_written")).c_str());
  std::printf(
      "eviction     %s, watermarks %llu%%/%llu%%: %llu evicted (%s), %llu on demand, "
      "%llu ENOSPC\n",
      S(st, "/eviction/policy").c_str(), (unsigned long long)U(st, "/eviction/high_watermark_pct"),
      (unsigned long long)U(st, "/eviction/low_watermark_pct"),
      (unsigned long long)U(st, "/counters/evictions"),
      FormatSize(U(st, "/counters/evicted_bytes")).c_str(),
      (unsigned long long)U(st, "/counters/sync_evictions"),
      (unsigned long long)U(st, "/counters/enospc"));
  std::printf("integrity    %llu checksum failures, %llu entries dropped\n",
              (unsigned long long)U(st, "/counters/checksum_failures"),
              (unsigned long long)U(st, "/counters/entries_dropped"));
  std::printf("commits      %llu (%llu files), %llu failed\n",
              (unsigned long long)U(st, "/counters/commits"),
              (unsigned long long)U(st, "/counters/files_committed"),
              (unsigned long long)U(st, "/counters/commit_failures"));
  std::printf("recovery     %llu files kept, %llu in-flight writes discarded, in %.3fs\n",
              (unsigned long long)U(st, "/recovery/files_kept"),
              (unsigned long long)U(st, "/recovery/writes_discarded"), D(st, "/recovery/seconds"));
  const Json& lat = At(st, "/latency");
  if (lat.is_object() && !lat.empty()) {
    std::printf("\n%-8s %10s %10s %10s %10s %10s   (microseconds)\n", "request", "count", "p50",
                "p90", "p99", "max");
    for (const auto& [op, l] : lat.items()) {
      std::printf("%-8s %10llu %10.1f %10.1f %10.1f %10.1f\n", op.c_str(),
                  (unsigned long long)U(l, "/count"), D(l, "/p50_us"), D(l, "/p90_us"),
                  D(l, "/p99_us"), D(l, "/max_us"));
    }
  }
}

int RunLive(const InfoArgs& a, const std::string& mnt, uint64_t min_entry) {
  std::string stats_path = mnt + "/.slotfs/stats";
  std::ifstream in(stats_path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    PrintError("cannot read " + stats_path + ": is the slotfs daemon for " + mnt + " running?");
    return kExitFailure;
  }
  Json stats = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!stats.is_object()) {
    PrintError(stats_path + " is not a JSON object");
    return kExitFailure;
  }
  std::string db = a.db.empty() ? S(stats, "/db_path") : AbsolutePath(a.db);
  if (db.empty()) {
    PrintError(stats_path + " names no database; give it with --db");
    return kExitFailure;
  }
  Result<CacheSummary> sum = SummarizeDatabase(db);
  if (!sum.ok()) {
    PrintError("cannot scan the database of " + mnt + ": " + sum.status().message());
    return kExitFailure;
  }
  const SizingView sizing =
      Sizing(U(stats, "/slots/total"), U(stats, "/slot_size"),
             static_cast<unsigned>(U(stats, "/eviction/low_watermark_pct")), /*assumed=*/false,
             min_entry, sum->bytes, sum->slots);
  if (a.json) {
    Json j;
    j["mode"] = "live";
    j["mountpoint"] = mnt;
    j["device"] = S(stats, "/device");
    j["database"] = db;
    j["uuid"] = S(stats, "/uuid");
    j["files"] = sum->files;
    j["directories"] = sum->directories;
    j["bytes"] = sum->bytes;
    j["stats"] = stats;
    AddSizingJson(sizing, &j);
    AddSummaryJson(sum.value(), &j);
    PrintJson(j);
    return kExitOk;
  }
  PrintLiveStats(mnt, stats);
  PrintSizing(sizing);
  PrintSummary(sum.value());
  return kExitOk;
}

int RunInfo(const InfoArgs& a) {
  auto min_entry = ParseSize(a.lmcache_min_entry);
  if (!min_entry.ok() || min_entry.value() == 0) {
    PrintError("--lmcache-min-entry: " +
               (min_entry.ok() ? std::string("must be > 0") : min_entry.status().message()));
    return kExitUsage;
  }
  std::string path = AbsolutePath(a.target);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string type = MountTypeAt(path);
    struct stat cst;
    bool has_stats = ::stat((path + "/.slotfs/stats").c_str(), &cst) == 0;
    if (type.rfind("fuse", 0) == 0 && (type == "fuse.slotfs" || has_stats)) {
      return RunLive(a, path, min_entry.value());
    }
    PrintError(path + " is a directory but not a slotfs mount point (no " + path +
               "/.slotfs/stats); give the device or image file, or the mount point");
    return kExitFailure;
  }
  return RunOffline(a, min_entry.value());
}

}  // namespace

std::function<int()> AddInfoCommand(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd =
      app.add_subcommand("info",
                         "Show geometry, usage and entries per model of a slotfs device (offline), "
                         "or live counters of a mount point");
  cmd->add_option("target", args->target,
                  "Block device or image file; or the mount point of a running slotfs")
      ->required();
  cmd->add_option("--db", args->db, "Database path");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("--lmcache-min-entry", args->lmcache_min_entry,
                  "Smallest entry LMCache writes, for the max_local_disk_size recommendation "
                  "(default 32K; raise it to your model's smallest chunk for a larger limit)");
  return [args] { return RunInfo(*args); };
}

}  // namespace slotfs::tools
