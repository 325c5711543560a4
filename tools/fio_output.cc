// Parsing fio's JSON report (see fio_output.h).
#include "tools/fio_output.h"

#include <nlohmann/json.hpp>

namespace slotfs::tools::bench {
namespace {

// clat_ns.percentile["50.000000"] in ms, or -1.
double PercentileMs(const nlohmann::json &dir, const char *key) {
  auto clat = dir.find("clat_ns");
  if (clat == dir.end() || !clat->is_object())
    return -1;
  auto pct = clat->find("percentile");
  if (pct == clat->end() || !pct->is_object())
    return -1;
  auto v = pct->find(key);
  if (v == pct->end() || !v->is_number())
    return -1;
  return v->get<double>() / 1e6;
}

} // namespace

Result<FioResult> ParseFioJson(const std::string &text, const std::string &rw) {
  if (rw != "read" && rw != "write")
    return Status::Error(EINVAL, "fio: no direction " + rw);
  size_t start = text.find('{');
  if (start == std::string::npos)
    return Status::Error(EINVAL, "fio printed no JSON");
  nlohmann::json j =
      nlohmann::json::parse(text.begin() + static_cast<long>(start), text.end(),
                            nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Error(EINVAL, "fio's output is not valid JSON");
  }
  auto jobs = j.find("jobs");
  if (jobs == j.end() || !jobs->is_array() || jobs->empty() ||
      !(*jobs)[0].is_object()) {
    return Status::Error(EINVAL, "fio's JSON holds no job");
  }
  // With --group_reporting every job of the group is summed into the first.
  const nlohmann::json &job = (*jobs)[0];
  auto dir = job.find(rw);
  if (dir == job.end() || !dir->is_object()) {
    return Status::Error(EINVAL, "fio's JSON job has no '" + rw + "' figures");
  }
  FioResult r;
  r.io_bytes = dir->value("io_bytes", uint64_t{0});
  r.bw_bytes = dir->value("bw_bytes", 0.0);
  r.runtime_s = dir->value("runtime", 0.0) / 1e3;
  r.clat_p50_ms = PercentileMs(*dir, "50.000000");
  r.clat_p99_ms = PercentileMs(*dir, "99.000000");
  r.errors = job.value("error", uint64_t{0});
  if (r.io_bytes == 0 || r.bw_bytes <= 0) {
    return Status::Error(EINVAL, "fio moved no bytes in its " + rw + " phase");
  }
  return r;
}

} // namespace slotfs::tools::bench
