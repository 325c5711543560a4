// Results of `slotfs bench throughput|metadata`: rows of repeated
// measurements, summarized (median, min, max) and printed as a table for the
// terminal (bench_report.cc) and as JSON (bench_json.cc). Ratios are
// computed here: a row's rate over the ceiling's, fio's, the host
// directory's and ext4's — GB/s for phases that move bytes, files/s for the
// others — as the median of the per-run ratios (runs of one repetition side
// by side), or the ratio of the medians when the rows' run counts differ.
// The ceiling's ratio to fio says whether the ceiling is trusted.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench_pattern.h"

namespace slotfs::tools::bench {

// Identifies a row. section: "throughput" or "metadata"; backing: a label
// ("disk", "ram"); system: "ceiling" (the project's engine on the raw
// baseline file), "fio", "slotfs", "hostdir" (a plain directory of the
// backing filesystem) or "ext4" (on a loop device); mode: "odirect",
// "buffered" or "" (ceiling, fio); phase: "write", "read", "read qd1" (one
// reader), "unlink", "create", "stat", "ls -l cold", "ls -l warm".
struct RowKey {
  std::string section, backing;
  uint64_t file_size = 0;
  std::string phase, system, mode;
  bool operator==(const RowKey&) const = default;
};

// One repetition of one row. NAN marks "not measured".
struct Measurement {
  double seconds = NAN;
  uint64_t files = 0, bytes = 0, errors = 0;
  double gbps = NAN, files_per_s = NAN, p50_ms = NAN, p99_ms = NAN;
  double daemon_peak_rss_mib = NAN;  // VmHWM of the slotfs daemon so far
  double daemon_cpu_s = NAN;         // daemon utime+stime during the phase
  double client_cpu_s = NAN;         // this process's CPU during the phase
  double sync_s = NAN;               // sync() right after a write phase
  double daemon_read_mib = NAN;      // storage bytes the daemon read (/proc/PID/io)
  double daemon_write_mib = NAN;     // ... and wrote

  // Counts, rates and latency percentiles of `s`; gbps only when it moved
  // bytes.
  static Measurement Of(const PhaseSample& s);
};

// A self-built baseline is trusted when it reaches this fraction of fio's
// rate in the same run (DESIGN.md §8).
inline constexpr double kTrustedCeilingOverFio = 0.85;

struct Row {
  RowKey key;
  std::vector<Measurement> runs;

  // The measured (non-NAN) values of `field` over the runs.
  std::vector<double> Values(double Measurement::*field) const;
  // GB moved per daemon CPU-second, for each run that has both.
  std::vector<double> GbPerDaemonCpu() const;
  // Median rate: GB/s if the row moved bytes, else files/s.
  double Rate() const;
};

// A fact about a backing, shown in a section's table header and in the
// JSON, e.g. {"throughput", "ceiling engine", "io_uring"}.
struct Fact {
  std::string section, name, value;
};

// A backing directory the run used.
struct BackingInfo {
  std::string label, dir;
  std::vector<Fact> facts;
};

class Report {
 public:
  // The JSON object describing the run's options (already serialized).
  void SetConfigJson(std::string json) { config_json_ = std::move(json); }
  // Shown in table headers.
  void SetHeadline(const std::string& section, std::string text);
  // Adds a backing unless one with its label is there already.
  void AddBacking(BackingInfo b);
  // Adds a fact to backing `label` unless it already has one so named.
  void AddFact(const std::string& label, const Fact& fact);
  void AddNote(std::string note) { notes_.push_back(std::move(note)); }
  void Add(const RowKey& key, const Measurement& m);

  // Errors summed over every row and run.
  uint64_t TotalErrors() const;

  void PrintTable(FILE* out) const;
  std::string Json(const std::string& benchmark) const;

 private:
  const Row* Find(const RowKey& key) const;
  // `row`'s rate over that of `system`'s row of the same section, backing,
  // size and phase (and mode, with same_mode), or NAN.
  double RatioTo(const Row& row, const std::string& system, bool same_mode) const;
  // The ceiling's rate over fio's for one phase, or NAN.
  double CeilingOverFio(const std::string& backing, uint64_t file_size,
                        const std::string& phase) const;
  bool HasSystem(const std::string& section, const std::string& system) const;
  void PrintThroughput(FILE* out, const BackingInfo& b) const;
  void PrintMetadata(FILE* out, const BackingInfo& b) const;

  std::string config_json_ = "{}";
  std::vector<std::pair<std::string, std::string>> headlines_;
  std::vector<BackingInfo> backings_;
  std::vector<std::string> notes_;
  std::vector<Row> rows_;
};

}  // namespace slotfs::tools::bench
