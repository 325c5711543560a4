// slotfs bench: the command line of the benchmarks shipped with slotfs.
//
//   slotfs bench recovery    mount-to-ready after SIGKILL (bench_recovery.cc)
//   slotfs bench scale       daemon RSS and files/s with a million files
//                            (bench_scale.cc)
//   slotfs bench throughput  LMCache pattern: slotfs vs the raw device (fio
//                            and the project's engine) vs a host directory
//                            (bench_throughput.cc)
//   slotfs bench metadata    create/stat/ls -l/unlink of many files
//                            (bench_metadata.cc)
//   slotfs bench all         throughput (on disk and in RAM) and metadata
//
// Results go to stdout as a table, or as JSON with --json; --json-out FILE
// writes the JSON too. Progress lines go to stderr when it is a terminal.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "tools/bench_baseline.h"
#include "tools/bench_modes.h"
#include "tools/bench_scale.h"
#include "tools/bench_util.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace slotfs::tools {
namespace {

struct BenchArgs {
  std::string mode;
  uint64_t files = 0;  // 0: the mode's default
  uint64_t dirs = 0;   // scale: 0 is the default
  std::string dir;
  std::vector<std::string> backings;
  bool ram = false, no_ram = false;
  std::string sizes, modes;
  int writers = 0, readers = 0, files_per_writer = 0, repeat = 0;
  bool no_ext4 = false, ext4_loop = false, quick = false, json = false;
  std::string slot_size;
  std::string json_out;
};

// "1,4,16,32" (MiB) into `out`; false on anything else.
bool ParseList(const std::string& text, std::vector<std::string>* out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) return false;
    out->push_back(item);
  }
  return !out->empty();
}

// Applies the command line (and --quick's smaller defaults) to `o`; a usage
// message on error.
std::string Configure(const BenchArgs& a, bench::BenchOptions* o) {
  if (a.quick) {
    o->sizes_mib = {4, 32};
    o->repeat = 1;
    o->writers = o->readers = o->meta_threads = 2;
    o->target_mib = 128;
    o->meta_files = 10'000;
  }
  if (!a.dir.empty()) o->dir = AbsolutePath(a.dir);
  for (const std::string& b : a.backings) o->backings.push_back(AbsolutePath(b));
  // Throughput and metadata run on disk only unless asked; `all` adds RAM
  // for throughput (metadata there with an explicit --ram: it is bound by
  // the daemon, not the device, and takes minutes).
  o->ram = !a.no_ram && (a.ram || a.mode == "all");
  o->metadata_on_ram = o->ram && a.ram;
  if (!a.sizes.empty()) {
    std::vector<std::string> items;
    o->sizes_mib.clear();
    if (!ParseList(a.sizes, &items)) return "--sizes wants MiB values like 1,4,16,32";
    for (const std::string& s : items) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(s.c_str(), &end, 10);
      if (*end != '\0' || v == 0 || v > 1024) return "--sizes: '" + s + "' is not 1..1024 (MiB)";
      o->sizes_mib.push_back(v);
    }
  }
  if (!a.modes.empty()) {
    o->modes.clear();
    if (!ParseList(a.modes, &o->modes)) return "--modes wants buffered,odirect";
    for (const std::string& m : o->modes) {
      if (m != "buffered" && m != "odirect") return "--modes: unknown mode '" + m + "'";
    }
  }
  if (a.writers) o->writers = o->meta_threads = a.writers;
  if (a.readers) o->readers = a.readers;
  if (a.files_per_writer) o->files_per_writer = a.files_per_writer;
  if (a.repeat) o->repeat = a.repeat;
  if (a.files) o->meta_files = a.files;
  if (o->writers < 1 || o->readers < 1 || o->repeat < 1 || o->files_per_writer < 0 ||
      o->writers > 256 || o->readers > 256) {
    return "--writers, --readers (1..256) and --repeat must be positive";
  }
  o->ext4 = a.ext4_loop && !a.no_ext4;
  if (!a.slot_size.empty()) {
    auto v = ParseSize(a.slot_size);
    if (!v.ok()) return "--slot-size: " + v.status().message();
    o->slot_size = a.slot_size;
  }
  o->log = o->dir + "/bench.log";
  return "";
}

int RunBench(const BenchArgs& a) {
  bench::BenchOptions o;
  std::string usage = Configure(a, &o);
  if (!usage.empty()) {
    PrintError(usage);
    return kExitUsage;
  }
  SetLogLevel(spdlog::level::warn);
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) {
    PrintError("cannot create " + o.dir + ": " + ec.message());
    return kExitFailure;
  }
  std::ofstream(o.log, std::ios::trunc).flush();
  bench::Report report;
  if (a.mode != "metadata") {
    o.fio_version = bench::FioVersion();
    if (o.fio_version.empty()) {
      std::string warning =
          "fio is NOT installed: no fio rows, and the ceiling is not checked against fio "
          "(apt-get install fio)";
      std::fprintf(stderr, "slotfs bench: WARNING: %s\n", warning.c_str());
      report.AddNote(warning);
    }
  }
  if (geteuid() != 0 && o.ext4) {
    o.ext4 = false;
    report.AddNote("ext4 skipped: loop devices and mount need root");
  }
  auto backings = bench::PrepareBackings(o);
  if (!backings.ok()) {
    PrintError(backings.status().message());
    return kExitFailure;
  }
  bench::InstallInterruptHandler();
  std::string modes;
  for (const std::string& m : o.modes) {
    if (!modes.empty()) modes += ',';
    modes += "\"" + m + "\"";
  }
  std::string sizes;
  for (uint64_t s : o.sizes_mib) {
    if (!sizes.empty()) sizes += ',';
    sizes += std::to_string(s);
  }
  // Option values are plain numbers or sizes ("64K": checked by ParseSize);
  // the fio version is fio's own "fio-X.Y".
  std::string config = bench::StrPrintf(
      "{\"sizes_mib\":[%s],\"writers\":%d,\"readers\":%d,\"files_per_writer\":%d,"
      "\"target_mib\":%llu,\"repeat\":%d,\"modes\":[%s],\"ext4_loop\":%s,"
      "\"slot_size\":%s,\"fio\":%s,\"metadata_files\":%llu,\"metadata_threads\":%d,"
      "\"quick\":%s}",
      sizes.c_str(), o.writers, o.readers, o.files_per_writer,
      static_cast<unsigned long long>(o.target_mib), o.repeat, modes.c_str(),
      o.ext4 ? "true" : "false",
      o.slot_size.empty() ? "null" : ("\"" + o.slot_size + "\"").c_str(),
      o.fio_version.empty() ? "null" : ("\"" + o.fio_version + "\"").c_str(),
      static_cast<unsigned long long>(o.meta_files), o.meta_threads, a.quick ? "true" : "false");
  report.SetConfigJson(config);

  Status st;
  if (a.mode == "throughput" || a.mode == "all") st = bench::RunThroughput(o, *backings, &report);
  if (st.ok() && (a.mode == "metadata" || a.mode == "all")) {
    st = bench::RunMetadata(o, *backings, &report);
  }
  bench::ProgressDone();
  bench::RemoveBackings(*backings);
  if (!st.ok()) report.AddNote("stopped early: " + st.message());

  std::string json = report.Json(a.mode);
  if (a.json) {
    std::fputs(json.c_str(), stdout);
  } else {
    report.PrintTable(stdout);
    std::printf("log: %s\n", o.log.c_str());
  }
  if (!a.json_out.empty()) {
    std::ofstream out(a.json_out, std::ios::trunc);
    out << json;
    if (!out) {
      PrintError("cannot write " + a.json_out);
      return kExitFailure;
    }
  }
  if (!st.ok()) {
    PrintError(st.message());
    return kExitFailure;
  }
  if (report.TotalErrors() > 0) {
    PrintError(std::to_string(report.TotalErrors()) + " I/O errors or wrong bytes; see notes");
    return kExitFailure;
  }
  return kExitOk;
}

// slotfs bench scale: --quick scales the files and samples down tenfold.
int RunScaleBench(const BenchArgs& a) {
  bench::ScaleOptions s;
  if (a.quick) {
    s.files = 100'000;
    s.dirs = 100;
    s.stat_sample = 20'000;
    s.read_sample = 200;
  }
  if (a.files) s.files = a.files;
  if (a.dirs) s.dirs = a.dirs;
  s.stat_sample = std::min(s.stat_sample, s.files);
  s.dir = a.dir;
  s.json = a.json;
  return bench::RunScale(s);
}

}  // namespace

std::function<int()> AddBenchCommand(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Run slotfs's benchmarks");
  cmd->add_option("mode", a->mode, "recovery, scale, throughput, metadata, or all "
                                   "(throughput on disk and in RAM, metadata on disk)")
      ->required()
      ->check(CLI::IsMember({"recovery", "scale", "throughput", "metadata", "all"}));
  cmd->add_option("--dir", a->dir,
                  "Working directory on disk, holds images and bench.log (default "
                  "/var/tmp/slotfs-bench; recovery: /var/tmp/slotfs-bench-recovery; scale: "
                  "/var/tmp/slotfs-bench-scale)");
  cmd->add_option("--backing", a->backings,
                  "Run on this directory's filesystem instead of --dir; repeatable");
  cmd->add_flag("--ram,--also-ram", a->ram,
                "Also run on an image in /dev/shm (RAM), where the device is not the limit "
                "('all' does for throughput)");
  cmd->add_flag("--no-ram", a->no_ram, "Do not run on /dev/shm");
  cmd->add_option("--sizes", a->sizes, "File sizes in MiB (default 1,4,16,32)");
  cmd->add_option("--writers", a->writers, "Writer threads; metadata threads (default 4)");
  cmd->add_option("--readers", a->readers, "Reader threads (default 4)");
  cmd->add_option("--files-per-writer", a->files_per_writer,
                  "Files each writer writes (default: about 384 MiB per phase, 4..512)");
  cmd->add_option("--repeat", a->repeat, "Runs of everything; medians reported (default 3; "
                                         "recovery 5)");
  cmd->add_option("--modes", a->modes, "buffered,odirect (default both)");
  cmd->add_flag("--ext4-loop", a->ext4_loop,
                "Also compare with ext4 on a loop device over an image on the backing "
                "filesystem (the host directory always runs)");
  cmd->add_flag("--no-ext4", a->no_ext4, "Do not run ext4 on a loop device (the default)");
  cmd->add_option("--slot-size", a->slot_size,
                  "Slot size of the slotfs instances, passed to `slotfs format --slot-size` "
                  "(default: format's default)");
  cmd->add_option("--files", a->files,
                  "metadata: files in the directory (default 100000); recovery, scale: "
                  "files in the filesystem (default 1000000)");
  cmd->add_option("--dirs", a->dirs,
                  "scale: directories the second layout spreads the files over (default "
                  "1000)");
  cmd->add_flag("--quick", a->quick,
                "Sizes 4,32, 1 run, 2 writers/readers, ~128 MiB per phase, 10000 "
                "metadata files; scale: 100000 files over 100 directories");
  cmd->add_flag("--json", a->json, "Print JSON instead of the table");
  cmd->add_option("--json-out", a->json_out, "Also write the JSON to this file");
  return [a] {
    if (a->mode == "scale") return RunScaleBench(*a);
    if (a->mode != "recovery") return RunBench(*a);
    bench::RecoveryOptions r;
    if (a->files) r.files = a->files;
    r.dir = a->dir;
    if (a->repeat) r.repeat = a->repeat;
    r.json = a->json;
    return bench::RunRecovery(r);
  };
}

}  // namespace slotfs::tools
