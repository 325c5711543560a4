// The JSON form of a `slotfs bench` report (see bench_report.h): the run's
// configuration, its backings and their facts, notes, and one object per
// row with every measured field as {median, min, max, samples}.
#include <cmath>
#include <string>
#include <vector>

#include "common/json.h"
#include "tools/bench_report.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

std::string JsonEscape(const std::string& s) { return JsonQuote(s); }

std::string JsonNum(double v) { return std::isnan(v) ? "null" : StrPrintf("%.6g", v); }

std::string JsonStat(const std::vector<double>& v) {
  if (v.empty()) return "null";
  Stat3 s = Summarize(v);
  std::string samples;
  for (double x : v) {
    if (!samples.empty()) samples += ',';
    samples += JsonNum(x);
  }
  return "{\"median\":" + JsonNum(s.median) + ",\"min\":" + JsonNum(s.min) +
         ",\"max\":" + JsonNum(s.max) + ",\"samples\":[" + samples + "]}";
}

}  // namespace

std::string Report::Json(const std::string& benchmark) const {
  std::string j = "{\"benchmark\":" + JsonEscape(benchmark) + ",\"config\":" + config_json_ +
                  ",\"backings\":[";
  for (size_t i = 0; i < backings_.size(); ++i) {
    const BackingInfo& b = backings_[i];
    j += i ? ",{" : "{";
    j += "\"label\":" + JsonEscape(b.label) + ",\"dir\":" + JsonEscape(b.dir);
    j += ",\"facts\":[";
    for (size_t f = 0; f < b.facts.size(); ++f) {
      if (f) j += ',';
      j += "{\"section\":" + JsonEscape(b.facts[f].section) +
           ",\"name\":" + JsonEscape(b.facts[f].name) +
           ",\"value\":" + JsonEscape(b.facts[f].value) + "}";
    }
    j += "]}";
  }
  j += "],\"notes\":[";
  for (size_t i = 0; i < notes_.size(); ++i) {
    if (i) j += ',';
    j += JsonEscape(notes_[i]);
  }
  j += "],\"results\":[";
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& r = rows_[i];
    const RowKey& k = r.key;
    uint64_t errors = 0;
    for (const Measurement& m : r.runs) errors += m.errors;
    j += i ? ",\n" : "\n";
    j += StrPrintf("{\"section\":%s,\"backing\":%s,\"system\":%s,\"mode\":%s,"
                                  "\"file_size\":%llu,\"phase\":%s,\"runs\":%zu,\"errors\":%llu",
                                  JsonEscape(k.section).c_str(), JsonEscape(k.backing).c_str(),
                                  JsonEscape(k.system).c_str(), JsonEscape(k.mode).c_str(),
                                  static_cast<unsigned long long>(k.file_size),
                                  JsonEscape(k.phase).c_str(), r.runs.size(),
                                  static_cast<unsigned long long>(errors));
    j += StrPrintf(",\"files\":%llu,\"bytes\":%llu",
             static_cast<unsigned long long>(r.runs.front().files),
             static_cast<unsigned long long>(r.runs.front().bytes));
    const std::pair<const char*, double Measurement::*> fields[] = {
        {"seconds", &Measurement::seconds},
        {"gbps", &Measurement::gbps},
        {"files_per_s", &Measurement::files_per_s},
        {"p50_ms", &Measurement::p50_ms},
        {"p99_ms", &Measurement::p99_ms},
        {"daemon_peak_rss_mib", &Measurement::daemon_peak_rss_mib},
        {"daemon_cpu_s", &Measurement::daemon_cpu_s},
        {"client_cpu_s", &Measurement::client_cpu_s},
        {"sync_s", &Measurement::sync_s},
        {"daemon_read_mib", &Measurement::daemon_read_mib},
        {"daemon_write_mib", &Measurement::daemon_write_mib}};
    for (const auto& [name, f] : fields) j += StrPrintf(",\"%s\":", name) + JsonStat(r.Values(f));
    j += ",\"gb_per_daemon_cpu_s\":" + JsonStat(r.GbPerDaemonCpu());
    j += ",\"ratio_vs_ceiling\":" + JsonNum(RatioTo(r, "ceiling", false));
    j += ",\"ratio_vs_fio\":" + JsonNum(RatioTo(r, "fio", false));
    j += ",\"ratio_vs_hostdir\":" + JsonNum(RatioTo(r, "hostdir", true));
    j += ",\"ratio_vs_ext4\":" + JsonNum(RatioTo(r, "ext4", true)) + "}";
  }
  // Per backing, size and phase: the ceiling over fio, and whether that
  // makes the ceiling trusted.
  j += "\n],\"baseline_trust\":[";
  bool first = true;
  for (const Row& r : rows_) {
    if (r.key.section != "throughput" || r.key.system != "ceiling") continue;
    double v = CeilingOverFio(r.key.backing, r.key.file_size, r.key.phase);
    if (std::isnan(v)) continue;
    j += first ? "\n" : ",\n";
    first = false;
    j += StrPrintf("{\"backing\":%s,\"file_size\":%llu,\"phase\":%s,"
                   "\"ceiling_over_fio\":%s,\"trusted\":%s}",
                   JsonEscape(r.key.backing).c_str(),
                   static_cast<unsigned long long>(r.key.file_size),
                   JsonEscape(r.key.phase).c_str(), JsonNum(v).c_str(),
                   v >= kTrustedCeilingOverFio ? "true" : "false");
  }
  return j + "\n]}\n";
}

}  // namespace slotfs::tools::bench
