// slotfs bench recovery --files N: prepares a filesystem holding N
// committed files (rows written directly through meta::Store by
// PopulateIndex; no file bytes are needed to measure recovery), mounts it,
// kills the daemon with SIGKILL, and measures mount-to-ready of fresh daemons after the kill, with their
// RSS. Medians over --repeat runs, min and max shown.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tools/bench_modes.h"
#include "tools/bench_scale.h"
#include "tools/bench_util.h"
#include "tools/cli_util.h"

namespace slotfs::tools::bench {

int RunRecovery(const RecoveryOptions& a) {
  if (a.files == 0 || a.repeat < 1) {
    PrintError("--files and --repeat must be positive");
    return kExitUsage;
  }
  std::string dir = a.dir.empty() ? "/var/tmp/slotfs-bench-recovery" : AbsolutePath(a.dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir + "/mnt", ec);
  std::string image = dir + "/slotfs.img", db = image + ".db", mnt = dir + "/mnt",
              log = dir + "/bench.log";
  // One 1 MiB slot per file, with usage at 80 %, below the default
  // eviction watermark (95 %): nothing is evicted while measuring. The
  // image is sparse.
  uint64_t size = (a.files * 5 / 4 + 1024) * (1ull << 20) + (1ull << 20);
  if (RunSelf({"format", image, "--size", std::to_string(size)}, log) != 0) {
    PrintError("format failed; see " + log);
    return kExitFailure;
  }
  PopulateSpec spec;
  spec.files = a.files;
  auto t0 = Clock::now();
  Status st = PopulateIndex(image, db, spec);
  if (!st.ok()) {
    PrintError("populating the database: " + st.ToString());
    return kExitFailure;
  }
  double populate_s = Seconds(Clock::now() - t0);
  std::string probe_path = mnt + "/" + ScaleFilePath(spec, 0);
  // A first daemon, killed with SIGKILL while it has in-flight writes.
  pid_t pid = SpawnSelf({"mount", image, mnt, "-f", "--log-level", "warn"}, log);
  if (!WaitReady(mnt, probe_path, pid, std::chrono::seconds(120))) {
    PrintError("the first mount did not come up; see " + log);
    KillAndDetach(pid, mnt);
    return kExitFailure;
  }
  for (int i = 0; i < 4; ++i) {
    std::ofstream(mnt + "/kv/inflight" + std::to_string(i)) << std::string(100000, 'x');
  }
  KillAndDetach(pid, mnt);

  std::vector<double> ready, rss_mib, hwm_mib;
  for (int r = 0; r < a.repeat; ++r) {
    auto start = Clock::now();
    pid = SpawnSelf({"mount", image, mnt, "-f", "--log-level", "info"}, log);
    if (!WaitReady(mnt, probe_path, pid, std::chrono::seconds(120))) {
      PrintError("mount did not come up; see " + log);
      KillAndDetach(pid, mnt);
      return kExitFailure;
    }
    ready.push_back(Seconds(Clock::now() - start));
    auto [rss, hwm] = Rss(pid);
    rss_mib.push_back(static_cast<double>(rss) / 1024);
    hwm_mib.push_back(static_cast<double>(hwm) / 1024);
    KillAndDetach(pid, mnt);
  }
  Stat3 rd = Summarize(ready), rs = Summarize(rss_mib), hw = Summarize(hwm_mib);
  if (a.json) {
    std::printf("{\"benchmark\":\"recovery\",\"files\":%llu,\"repeat\":%d,"
                "\"populate_s\":%.2f,\"mount_to_ready_s\":{\"median\":%.4f,\"min\":%.4f,"
                "\"max\":%.4f},\"rss_mib\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},"
                "\"peak_rss_mib\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f}}\n",
                static_cast<unsigned long long>(a.files), a.repeat, populate_s, rd.median,
                rd.min, rd.max, rs.median, rs.min, rs.max, hw.median, hw.min, hw.max);
  } else {
    std::printf("recovery after SIGKILL, %llu files (populated in %.1f s), %d runs\n"
                "  mount-to-ready   median %.3f s   (min %.3f, max %.3f)\n"
                "  daemon RSS       median %.1f MiB (min %.1f, max %.1f)\n"
                "  daemon peak RSS  median %.1f MiB (min %.1f, max %.1f)\n"
                "  log: %s\n",
                static_cast<unsigned long long>(a.files), populate_s, a.repeat, rd.median,
                rd.min, rd.max, rs.median, rs.min, rs.max, hw.median, hw.min, hw.max,
                log.c_str());
  }
  std::filesystem::remove(image, ec);
  std::filesystem::remove(db, ec);
  return kExitOk;
}

}  // namespace slotfs::tools::bench
