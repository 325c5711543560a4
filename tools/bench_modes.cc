// What `slotfs bench throughput` and `metadata` share (see bench_modes.h):
// choosing and preparing the backing directories, sizing the working set,
// and measuring one phase with the daemon watched.
#include "tools/bench_modes.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr long kRamfsMagic = 0x858458f6;
constexpr const char* kRamDir = "/dev/shm";

bool IsRam(const std::string& dir) {
  struct statfs sf;
  return ::statfs(dir.c_str(), &sf) == 0 &&
         (sf.f_type == kTmpfsMagic || sf.f_type == kRamfsMagic);
}

}  // namespace

Result<std::vector<Backing>> PrepareBackings(const BenchOptions& o) {
  std::vector<std::string> dirs = o.backings.empty() ? std::vector<std::string>{o.dir}
                                                     : o.backings;
  size_t explicit_dirs = dirs.size();
  if (o.ram && std::find(dirs.begin(), dirs.end(), kRamDir) == dirs.end()) {
    dirs.push_back(kRamDir);
  }
  std::vector<Backing> out;
  for (const std::string& dir : dirs) {
    Backing b;
    b.dir = dir;
    b.metadata = out.size() < explicit_dirs || o.metadata_on_ram;
    if (dir == o.dir) {
      b.work = dir;
    } else {
      b.work = dir + "/slotfs-bench-" + std::to_string(getpid());
      b.remove_work = true;
    }
    std::error_code ec;
    std::filesystem::create_directories(b.work, ec);
    if (ec) return Status::Error(EIO, "cannot create " + b.work + ": " + ec.message());
    std::string base = IsRam(b.work) ? "ram" : "disk";
    b.label = base;
    for (int n = 2; std::any_of(out.begin(), out.end(),
                                [&](const Backing& x) { return x.label == b.label; });
         ++n) {
      b.label = base + std::to_string(n);
    }
    out.push_back(std::move(b));
  }
  return out;
}

void RemoveBackings(const std::vector<Backing>& backings) {
  for (const Backing& b : backings) {
    std::error_code ec;
    if (b.remove_work) std::filesystem::remove_all(b.work, ec);
  }
}

int FilesPerWriter(const BenchOptions& o, uint64_t size_mib) {
  if (o.files_per_writer > 0) return o.files_per_writer;
  uint64_t k = o.target_mib / (size_mib * static_cast<uint64_t>(std::max(o.writers, 1)));
  return static_cast<int>(std::clamp<uint64_t>(k, 4, 512));
}

Measurement MeasurePhase(pid_t daemon, const std::function<PhaseSample()>& fn,
                         std::string* first_error) {
  double cpu0 = daemon > 0 ? ProcessCpuSeconds(daemon) : NAN;
  auto io0 = daemon > 0 ? ProcessIoBytes(daemon) : std::pair<uint64_t, uint64_t>{};
  double self0 = SelfCpuSeconds();
  PhaseSample s = fn();
  Measurement m = Measurement::Of(s);
  m.client_cpu_s = SelfCpuSeconds() - self0;
  if (daemon > 0) {
    double cpu1 = ProcessCpuSeconds(daemon);
    if (cpu0 >= 0 && cpu1 >= 0) m.daemon_cpu_s = cpu1 - cpu0;
    auto io1 = ProcessIoBytes(daemon);
    m.daemon_read_mib = static_cast<double>(io1.first - io0.first) / (1 << 20);
    m.daemon_write_mib = static_cast<double>(io1.second - io0.second) / (1 << 20);
    auto [rss, hwm] = Rss(daemon);
    if (hwm > 0) m.daemon_peak_rss_mib = static_cast<double>(hwm) / 1024;
  }
  if (s.errors > 0) *first_error = s.first_error;
  return m;
}

}  // namespace slotfs::tools::bench
