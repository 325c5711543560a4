// The result rows of `slotfs bench` and their table (see bench_report.h;
// the JSON is in bench_json.cc).
#include "tools/bench_report.h"

#include <algorithm>
#include <tuple>

#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

double Median(const std::vector<double>& v) { return v.empty() ? NAN : Summarize(v).median; }

// A number with `prec` decimals, fewer digits wasted on big values; "-" if NAN.
std::string Num(double v, int prec = 2) {
  if (std::isnan(v)) return "-";
  if (std::fabs(v) >= 1000) return StrPrintf("%.0f", v);
  if (std::fabs(v) < 1 && prec < 3 && v != 0) prec = 3;
  return StrPrintf("%.*f", prec, v);
}

// "median [min-max]", or the median alone for a single run.
std::string Spread(const std::vector<double>& v, int prec = 2) {
  if (v.empty()) return "-";
  Stat3 s = Summarize(v);
  if (v.size() == 1) return Num(s.median, prec);
  return Num(s.median, prec) + " [" + Num(s.min, prec) + "-" + Num(s.max, prec) + "]";
}

std::string SizeLabel(uint64_t bytes) {
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "M";
  return std::to_string(bytes >> 10) + "K";
}

// A run's rate: GB/s if the row moves bytes, else files/s.
double RunRate(const Measurement& m, bool bytes) { return bytes ? m.gbps : m.files_per_s; }

int Order(const std::string& s, std::initializer_list<const char*> names) {
  int i = 0;
  for (const char* n : names) {
    if (s == n) return i;
    ++i;
  }
  return i;
}

}  // namespace

std::vector<double> Row::Values(double Measurement::*field) const {
  std::vector<double> v;
  for (const Measurement& m : runs) {
    if (!std::isnan(m.*field)) v.push_back(m.*field);
  }
  return v;
}

std::vector<double> Row::GbPerDaemonCpu() const {
  std::vector<double> v;
  for (const Measurement& m : runs) {
    if (m.bytes > 0 && m.daemon_cpu_s > 0) {
      v.push_back(static_cast<double>(m.bytes) / 1e9 / m.daemon_cpu_s);
    }
  }
  return v;
}

double Row::Rate() const {
  std::vector<double> gb = Values(&Measurement::gbps);
  return gb.empty() ? Median(Values(&Measurement::files_per_s)) : Median(gb);
}

Measurement Measurement::Of(const PhaseSample& s) {
  Measurement m;
  m.seconds = s.seconds;
  m.files = s.files;
  m.bytes = s.bytes;
  m.errors = s.errors;
  if (s.bytes > 0) m.gbps = s.gbps();
  m.files_per_s = s.files_per_s();
  if (!s.latency_s.empty()) {
    m.p50_ms = Percentile(s.latency_s, 0.50) * 1e3;
    m.p99_ms = Percentile(s.latency_s, 0.99) * 1e3;
  }
  return m;
}

void Report::SetHeadline(const std::string& section, std::string text) {
  headlines_.emplace_back(section, std::move(text));
}

void Report::Add(const RowKey& key, const Measurement& m) {
  for (Row& r : rows_) {
    if (r.key == key) {
      r.runs.push_back(m);
      return;
    }
  }
  rows_.push_back(Row{key, {m}});
}

void Report::AddBacking(BackingInfo b) {
  for (const BackingInfo& x : backings_) {
    if (x.label == b.label) return;
  }
  backings_.push_back(std::move(b));
}

void Report::AddFact(const std::string& label, const Fact& fact) {
  for (BackingInfo& b : backings_) {
    if (b.label != label) continue;
    for (const Fact& f : b.facts) {
      if (f.section == fact.section && f.name == fact.name) return;
    }
    b.facts.push_back(fact);
  }
}

uint64_t Report::TotalErrors() const {
  uint64_t n = 0;
  for (const Row& r : rows_) {
    for (const Measurement& m : r.runs) n += m.errors;
  }
  return n;
}

const Row* Report::Find(const RowKey& key) const {
  for (const Row& r : rows_) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

double Report::RatioTo(const Row& row, const std::string& system, bool same_mode) const {
  if (row.key.system == system) return NAN;
  for (const Row& other : rows_) {
    const RowKey& k = other.key;
    if (k.system != system || k.section != row.key.section || k.backing != row.key.backing ||
        k.file_size != row.key.file_size || k.phase != row.key.phase) {
      continue;
    }
    if (same_mode && k.mode != row.key.mode) continue;
    if (row.runs.size() == other.runs.size()) {
      // Run i of both rows is repetition i: the ratio of runs measured side
      // by side cancels a noisy moment that hit both.
      bool bytes = !row.Values(&Measurement::gbps).empty() &&
                   !other.Values(&Measurement::gbps).empty();
      std::vector<double> ratios;
      for (size_t i = 0; i < row.runs.size(); ++i) {
        double a = RunRate(row.runs[i], bytes), b = RunRate(other.runs[i], bytes);
        if (!std::isnan(a) && !std::isnan(b) && b > 0) ratios.push_back(a / b);
      }
      if (!ratios.empty()) return Median(ratios);
    }
    double base = other.Rate();
    return base > 0 ? row.Rate() / base : NAN;
  }
  return NAN;
}

double Report::CeilingOverFio(const std::string& backing, uint64_t file_size,
                              const std::string& phase) const {
  const Row* c = Find({"throughput", backing, file_size, phase, "ceiling", ""});
  return c ? RatioTo(*c, "fio", false) : NAN;
}

bool Report::HasSystem(const std::string& section, const std::string& system) const {
  for (const Row& r : rows_) {
    if (r.key.section == section && r.key.system == system) return true;
  }
  return false;
}

void Report::PrintThroughput(FILE* out, const BackingInfo& b) const {
  std::vector<const Row*> rows;
  for (const Row& r : rows_) {
    if (r.key.section == "throughput" && r.key.backing == b.label) rows.push_back(&r);
  }
  if (rows.empty()) return;
  std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
    auto rank = [](const RowKey& k) {
      return std::make_tuple(k.file_size, Order(k.phase, {"write", "read", "read qd1", "unlink"}),
                             Order(k.system, {"ceiling", "fio", "slotfs", "hostdir", "ext4"}),
                             Order(k.mode, {"odirect", "buffered"}));
    };
    return rank(a->key) < rank(b->key);
  });
  const bool ext4 = HasSystem("throughput", "ext4");
  std::fprintf(out, "%-5s %-8s %-7s %-8s %-22s %8s %8s %8s %6s %6s %6s", "size", "phase",
               "system", "mode", "GB/s median [min-max]", "files/s", "p50 ms", "p99 ms", "/ceil",
               "/fio", "/host");
  if (ext4) std::fprintf(out, " %6s", "/ext4");
  std::fprintf(out, " %7s %8s %6s\n", "RSS MiB", "GB/CPU-s", "sync s");
  // After each size's rows: is its ceiling trusted?
  auto trust = [&](uint64_t size) {
    std::string line;
    bool any = false, trusted = true;
    for (const char* phase : {"write", "read"}) {
      double v = CeilingOverFio(b.label, size, phase);
      if (std::isnan(v)) continue;
      any = true;
      trusted &= v >= kTrustedCeilingOverFio;
      line += StrPrintf("%s%s %.2f", line.empty() ? "" : ", ", phase, v);
    }
    if (!any) {
      std::fprintf(out, "      ceiling/fio: no fio rows: the ceiling is NOT verified\n");
    } else {
      std::fprintf(out, "      ceiling/fio: %s: %s (>= %.2f required)\n", line.c_str(),
                   trusted ? "trusted" : "NOT trusted, read /fio", kTrustedCeilingOverFio);
    }
  };
  uint64_t last_size = rows.front()->key.file_size;
  for (const Row* r : rows) {
    const RowKey& k = r->key;
    if (k.file_size != last_size) {
      trust(last_size);
      std::fprintf(out, "\n");
    }
    last_size = k.file_size;
    std::fprintf(out, "%-5s %-8s %-7s %-8s %-22s %8s %8s %8s %6s %6s %6s",
                 SizeLabel(k.file_size).c_str(), k.phase.c_str(), k.system.c_str(),
                 k.mode.empty() ? "-" : k.mode.c_str(),
                 Spread(r->Values(&Measurement::gbps)).c_str(),
                 Num(Median(r->Values(&Measurement::files_per_s)), 0).c_str(),
                 Num(Median(r->Values(&Measurement::p50_ms))).c_str(),
                 Num(Median(r->Values(&Measurement::p99_ms))).c_str(),
                 Num(RatioTo(*r, "ceiling", false)).c_str(),
                 Num(RatioTo(*r, "fio", false)).c_str(),
                 Num(RatioTo(*r, "hostdir", true)).c_str());
    if (ext4) std::fprintf(out, " %6s", Num(RatioTo(*r, "ext4", true)).c_str());
    std::fprintf(out, " %7s %8s %6s\n",
                 Num(Median(r->Values(&Measurement::daemon_peak_rss_mib)), 1).c_str(),
                 Num(Median(r->GbPerDaemonCpu())).c_str(),
                 Num(Median(r->Values(&Measurement::sync_s))).c_str());
  }
  trust(last_size);
}

void Report::PrintMetadata(FILE* out, const BackingInfo& b) const {
  bool any = false;
  for (const Row& r : rows_) any |= r.key.section == "metadata" && r.key.backing == b.label;
  if (!any) return;
  const bool ext4 = HasSystem("metadata", "ext4");
  std::fprintf(out, "%-11s %-7s %-24s %8s %8s %8s %6s %6s %7s %7s\n", "phase", "system",
               "files/s median [min-max]", "time s", "p50 us", "p99 us", "/host",
               ext4 ? "/ext4" : "", "RSS MiB", "CPU s");
  for (const char* phase : {"create", "stat", "ls -l cold", "ls -l warm", "unlink"}) {
    for (const char* system : {"slotfs", "hostdir", "ext4"}) {
      const Row* r = Find({"metadata", b.label, 0, phase, system, ""});
      if (!r) continue;
      std::fprintf(out, "%-11s %-7s %-24s %8s %8s %8s %6s %6s %7s %7s\n", phase, system,
                   Spread(r->Values(&Measurement::files_per_s), 0).c_str(),
                   Num(Median(r->Values(&Measurement::seconds))).c_str(),
                   Num(Median(r->Values(&Measurement::p50_ms)) * 1e3, 1).c_str(),
                   Num(Median(r->Values(&Measurement::p99_ms)) * 1e3, 1).c_str(),
                   Num(RatioTo(*r, "hostdir", true)).c_str(),
                   ext4 ? Num(RatioTo(*r, "ext4", true)).c_str() : "",
                   Num(Median(r->Values(&Measurement::daemon_peak_rss_mib)), 1).c_str(),
                   Num(Median(r->Values(&Measurement::daemon_cpu_s))).c_str());
    }
  }
}

void Report::PrintTable(FILE* out) const {
  for (const char* section : {"throughput", "metadata"}) {
    for (const BackingInfo& b : backings_) {
      bool any = false;
      for (const Row& r : rows_) any |= r.key.section == section && r.key.backing == b.label;
      if (!any) continue;
      std::fprintf(out, "\n== %s on %s (%s)", section, b.label.c_str(), b.dir.c_str());
      for (const auto& [s, text] : headlines_) {
        if (s == section) std::fprintf(out, ": %s", text.c_str());
      }
      std::fprintf(out, " ==\n");
      std::string facts;
      for (const Fact& f : b.facts) {
        if (f.section != section) continue;
        if (!facts.empty()) facts += "; ";
        facts += f.name + " " + f.value;
      }
      if (!facts.empty()) std::fprintf(out, "   %s\n", facts.c_str());
      if (std::string(section) == "throughput") {
        PrintThroughput(out, b);
      } else {
        PrintMetadata(out, b);
      }
    }
  }
  if (HasSystem("throughput", "ceiling")) {
    std::fprintf(out,
                 "\nceiling: the project's engine on a preallocated, written file (1 MiB ops, "
                 "QD16 per thread); fio: fio on that file\n(io_uring, O_DIRECT, 1 MiB, "
                 "iodepth 16, one job per thread); hostdir: the same pattern in a plain "
                 "directory of the\nbacking filesystem. read qd1: one reader, whole files "
                 "one after another (time to first token).\nGB/s: 1e9 bytes/s of file data; "
                 "other columns are medians. p50/p99: per file (per op in metadata).\n/ceil, "
                 "/fio, /host, /ext4: this row's rate (GB/s; files/s for unlink and "
                 "metadata) over that system's,\nmedian of the per-run ratios; a ceiling "
                 "below 0.85x fio is not trusted. RSS: slotfs daemon VmHWM.\nGB/CPU-s: GB "
                 "per daemon CPU-second. CPU s: daemon CPU in the phase. sync s: sync() "
                 "after the write phase\n(not in GB/s).\n");
  } else if (!rows_.empty()) {
    std::fprintf(out,
                 "\nhostdir: a plain directory of the backing filesystem. p50/p99: per op. "
                 "/host, /ext4: files/s over that system's,\nmedian of the per-run ratios. "
                 "RSS: slotfs daemon VmHWM. CPU s: daemon CPU in the phase.\n");
  }
  for (const std::string& n : notes_) std::fprintf(out, "note: %s\n", n.c_str());
}

}  // namespace slotfs::tools::bench
