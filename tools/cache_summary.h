// CacheSummary: what `slotfs info` reports about the entries of a cache —
// files and bytes per model (from LMCache file names), and the oldest and
// newest entries — built from a streaming scan of the database.
//
// Memory is bounded whatever the number of files: per-model figures (at most
// kMaxModels models, each with at most kMaxValues distinct world sizes,
// ranks and dtypes) and four entry references; rows are not kept.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "meta/scan.h"

namespace slotfs::tools {

struct ModelSummary {
  uint64_t files = 0, bytes = 0, layerwise_files = 0;
  std::set<uint32_t> world_sizes, ranks;
  std::set<std::string> dtypes;
  int64_t oldest_mtime_ns = 0, newest_mtime_ns = 0, last_access_ns = 0;
};

// One entry picked out by a time (oldest, newest, ...).
struct EntryRef {
  bool valid = false;
  std::string path;  // relative to the mount root
  uint64_t size = 0;
  int64_t time_ns = 0;
};

struct CacheSummary {
  static constexpr size_t kMaxModels = 1000;
  static constexpr size_t kMaxValues = 64;

  uint64_t files = 0, bytes = 0, slots = 0, directories = 0;
  uint64_t pinned = 0;
  uint64_t pending = 0;  // created, content not yet committed
  std::map<std::string, ModelSummary> models;
  // Files whose names are not LMCache keys; and keys of models past
  // kMaxModels (models_truncated is then set).
  ModelSummary other;
  bool models_truncated = false;
  EntryRef oldest_modified, newest_modified, least_recently_accessed, most_recently_accessed;
};

// Feeds a CacheSummary from meta::ScanDatabase's callbacks.
class CacheSummarizer {
 public:
  void AddDirectory(const meta::ScannedEntry& d);
  void AddFile(const meta::ScannedEntry& f);
  // Resolves entry paths; call once, after the scan.
  CacheSummary Finish();

 private:
  struct Pick {
    bool valid = false;
    InodeNo parent;
    std::string name;
    uint64_t size = 0;
    int64_t time_ns = 0;
  };
  void Consider(Pick* p, const meta::ScannedEntry& f, int64_t t, bool earlier);
  EntryRef Resolve(const Pick& p) const;

  CacheSummary s_;
  Pick oldest_, newest_, lra_, mra_;
  std::unordered_map<uint64_t, std::pair<uint64_t, std::string>> dirs_;  // ino -> (parent, name)
};

// Scans the database at `db_path` into a summary.
Result<CacheSummary> SummarizeDatabase(const std::string& db_path);

}  // namespace slotfs::tools
