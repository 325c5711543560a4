// tests/integration/fsx_main.cc — `slotfs_fsx`: the randomized operation
// tester (fsx_model.h) as a program. Each run formats a fresh image under
// /tmp, mounts it with the slotfs binary, runs the ops, then closes
// everything, verifies, unmounts, runs `slotfs check --scrub IMAGE` (must
// exit 0), remounts and verifies every file again.
//
//   slotfs_fsx --seed 7 [--ops 500] [--slot-size 64K] [--mode single|multi|all]
//              [--procs 3] [--duration SECONDS] [--no-kill] [--no-remount]
//              [--no-mmap] [--no-direct] [--no-shrink] [--replay FILE] [-v]
//              [--daemon-arg ARG]... [--no-scrub] [--slots-per-file N]
//
// --daemon-arg passes ARG to `slotfs mount` (e.g. --daemon-arg --no-verify
// to look past a known checksum bug for other failures; then add
// --no-scrub, since the scrub would report the same bug).
//
// A failing single-mode run is shrunk (delta debugging over op lists, each
// replayed on a fresh filesystem) and printed as op lines (feed them back
// with --replay) and as syscalls. In multi mode the failing worker's ops
// are replayed and shrunk alone. --duration runs
// seed, seed+1, ... until the time is up; --mode all cycles single mode
// with 64 KiB and 1 MiB slots and multi mode.
//
// Exit codes: 0 pass, 1 a failure was found, 2 usage, 77 mounts impossible here.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fsx_model.h"
#include "tests/integration/mount_fixture.h"

namespace slotfs::fsx {
namespace {

using itest::ProcResult;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t seed = 0;
  bool seed_given = false;
  size_t ops = 500;
  std::string slot_size = "64K";
  std::string mode = "single";
  int procs = 3;
  double duration = 0;
  bool shrink = true;
  int shrink_trials = 150;
  std::string replay;
  bool verbose = false;
  bool scrub = true;
  std::vector<std::string> daemon_args;  // extra `slotfs mount` arguments
  Config cfg;
};

uint64_t ParseSize(const std::string& s) {
  char* end = nullptr;
  uint64_t v = strtoull(s.c_str(), &end, 10);
  std::string unit = end ? end : "";
  if (unit == "K" || unit == "k") v <<= 10;
  else if (unit == "M" || unit == "m") v <<= 20;
  else if (!unit.empty()) return 0;
  return v;
}

// One fresh filesystem: a temp dir, an image formatted with the slot size,
// a foreground daemon with eviction off (an evicted file is not a bug).
class FreshFs : public MountControl {
 public:
  FreshFs(const std::string& slot_size, const Options& o) : scrub_(o.scrub) {
    image_ = tmp_.Join("slotfs.img");
    mnt_ = tmp_.Join("mnt");
    mkdir(mnt_.c_str(), 0755);
    ProcResult r = itest::RunSlotfs({"format", image_, "--size", "512M", "--slot-size", slot_size},
                                    seconds(120));
    if (r.exit_code != 0) {
      error_ = "slotfs format failed:\n" + r.Describe();
      return;
    }
    std::vector<std::string> args{"--evict", "none"};
    args.insert(args.end(), o.daemon_args.begin(), o.daemon_args.end());
    mount_ = std::make_unique<itest::SlotfsMount>(image_, mnt_, args, tmp_.Join("daemon.log"));
    error_ = Mount();
  }
  ~FreshFs() override {
    if (mount_ && mount_->running()) mount_->Unmount();
  }
  const std::string& error() const { return error_; }
  const std::string& mnt() const { return mnt_; }
  const std::string& dir() const { return tmp_.path(); }

  std::string Unmount() override {
    int code = mount_->Unmount(seconds(120));
    if (code != 0) return "daemon exited with " + std::to_string(code) + " after the unmount";
    return "";
  }
  std::string Mount() override {
    auto r = mount_->Start(seconds(60));
    return r ? "" : r.message();
  }
  std::string Kill9() override {
    auto r = mount_->Kill9();
    return r ? "" : r.message();
  }
  std::string DaemonLog() override { return mount_ ? mount_->Log(16 * 1024) : ""; }
  std::string Scrub() {
    if (!scrub_) return "";
    ProcResult r = itest::RunSlotfs({"check", "--scrub", image_}, seconds(300));
    if (r.exit_code != 0) return "`slotfs check --scrub` exited " + std::to_string(r.exit_code) + ":\n" + r.Describe();
    return "";
  }

 private:
  itest::TempDir tmp_;
  bool scrub_;
  std::string image_, mnt_, error_;
  std::unique_ptr<itest::SlotfsMount> mount_;
};

// After the ops: unmount, scrub, remount, verify with `verify` (which
// compares the tree with the model), unmount.
std::string FinalCheck(FreshFs& fs, const std::function<std::string()>& verify) {
  if (auto e = fs.Unmount(); !e.empty()) return "final unmount: " + e;
  if (auto e = fs.Scrub(); !e.empty()) return e;
  if (auto e = fs.Mount(); !e.empty()) return "final mount: " + e;
  if (auto e = verify(); !e.empty()) return "after the final remount: " + e;
  if (auto e = fs.Unmount(); !e.empty()) return "last unmount: " + e;
  return "";
}

// Runs `ops` in single mode on a fresh filesystem; "" or the failure.
std::string RunSingle(const std::vector<Op>& ops, const Options& o, size_t* failed_at,
                      std::string* log) {
  FreshFs fs(o.slot_size, o);
  *failed_at = 0;
  if (!fs.error().empty()) return "setup: " + fs.error();
  Runner runner(fs.mnt(), o.cfg, &fs, o.verbose);
  std::string e = runner.Run(ops, failed_at);
  if (e.empty()) e = FinalCheck(fs, [&] { return runner.VerifyTree(); });
  if (!e.empty() && log) *log = fs.DaemonLog();
  return e;
}

void PrintOps(const std::vector<Op>& ops, const Options& o, const std::string& file) {
  std::ofstream out(file);
  for (const auto& op : ops) out << FormatOp(op) << "\n";
  std::cout << "fsx: ops (replay: slotfs_fsx --slot-size " << o.slot_size << (o.cfg.dirs ? " --dirs" : "");
  for (const auto& a : o.daemon_args) std::cout << " --daemon-arg " << a;
  std::cout << (o.scrub ? "" : " --no-scrub") << " --replay " << file << "):\n";
  for (const auto& op : ops) std::cout << "    " << FormatOp(op) << "\n";
  std::cout << "fsx: as syscalls (Data(seed, off, len) = the tester's pattern; Fd(name) = the "
               "file's O_RDWR|O_CREAT fd, opened on first use, reopened after close):\n";
  for (const auto& op : ops) std::cout << "    " << OpAsCode(op) << "\n";
}

// Shrinks a failing single-mode list and prints it. Returns the shrunk list.
void ShrinkAndReport(std::vector<Op> ops, const Options& o, const std::string& tag) {
  if (!o.shrink) {
    PrintOps(ops, o, "/tmp/fsx-" + tag + ".ops");
    return;
  }
  std::cout << "fsx: shrinking " << ops.size() << " ops (each trial replays on a fresh filesystem)\n"
            << std::flush;
  Options q = o;
  q.verbose = false;
  auto fails = [&](const std::vector<Op>& cand) {
    size_t at = 0;
    return !RunSingle(cand, q, &at, nullptr).empty();
  };
  if (!fails(ops)) {
    std::cout << "fsx: the failing list did not fail on replay (timing-dependent?); printing it unshrunk\n";
    PrintOps(ops, o, "/tmp/fsx-" + tag + ".ops");
    return;
  }
  std::vector<Op> small = Shrink(ops, fails, o.shrink_trials,
                                 [](const std::string& s) { std::cout << "fsx: " << s << "\n" << std::flush; });
  size_t at = 0;
  std::string log;
  std::string e = RunSingle(small, q, &at, &log);
  std::cout << "fsx: shrunk to " << small.size() << " ops; replay fails with:\n  " << e << "\n";
  PrintOps(small, o, "/tmp/fsx-" + tag + ".ops");
}

Config ModeConfig(const Options& o, bool multi) {
  Config c = o.cfg;
  c.slot_size = ParseSize(o.slot_size);
  if (multi) {
    c.dirs = 3;
    c.files = 8;  // two names per directory slot (3 dirs + the worker's root)
    c.remount = false;
    c.kill9 = false;
  }
  return c;
}

// Single mode: one process, one op list. 0 pass, 1 failure.
int SingleMode(const Options& base, uint64_t seed) {
  Options o = base;
  o.cfg = ModeConfig(base, false);
  std::vector<Op> ops = GenerateOps(seed, o.ops, o.cfg);
  std::cout << "fsx: single mode seed=" << seed << " ops=" << ops.size() << " slot=" << o.slot_size
            << (o.cfg.kill9 ? " kill9" : "") << (o.cfg.remount ? " remount" : "")
            << (o.cfg.mmap ? " mmap" : "") << (o.cfg.direct ? " direct" : "") << "\n"
            << std::flush;
  size_t at = 0;
  std::string log;
  auto start = Clock::now();
  std::string e = RunSingle(ops, o, &at, &log);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (e.empty()) {
    std::cout << "fsx: PASS seed=" << seed << " slot=" << o.slot_size << " (" << ops.size() << " ops, " << secs << " s)\n";
    return 0;
  }
  std::cout << "fsx: FAIL seed=" << seed << " slot=" << o.slot_size << " at op #" << at << ":\n  " << e
            << "\n----- daemon log (tail) -----\n" << log << "\n-----------------------------\n"
            << std::flush;
  ops.resize(std::min(ops.size(), at + 1));
  ShrinkAndReport(ops, o, "seed" + std::to_string(seed));
  return 1;
}

// Multi mode: `procs` forked workers, each on MNT/w<i> with its own op list
// (seed * 1000 + i) and its own model; then unmount, scrub, remount and
// compare every worker's tree with the model it dumped.
int MultiMode(const Options& base, uint64_t seed) {
  Options o = base;
  o.cfg = ModeConfig(base, true);
  std::cout << "fsx: multi mode seed=" << seed << " procs=" << o.procs << " ops/proc=" << o.ops
            << " slot=" << o.slot_size << "\n" << std::flush;
  auto start = Clock::now();
  FreshFs fs(o.slot_size, o);
  if (!fs.error().empty()) {
    std::cout << "fsx: FAIL setup: " << fs.error() << "\n";
    return 1;
  }
  std::string models = fs.dir() + "/model";
  mkdir(models.c_str(), 0755);
  std::vector<pid_t> pids;
  std::vector<std::vector<Op>> lists;
  for (int i = 0; i < o.procs; ++i) {
    std::string w = "w" + std::to_string(i);
    if (mkdir((fs.mnt() + "/" + w).c_str(), 0755) != 0 || mkdir((models + "/" + w).c_str(), 0755) != 0) {
      std::cout << "fsx: FAIL mkdir " << w << ": " << strerror(errno) << "\n";
      return 1;
    }
    lists.push_back(GenerateOps(seed * 1000 + uint64_t(i), o.ops, o.cfg));
  }
  std::cout << std::flush;
  for (int i = 0; i < o.procs; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string w = "w" + std::to_string(i);
      Runner runner(fs.mnt() + "/" + w, o.cfg, nullptr, false);
      size_t at = 0;
      std::string e = runner.Run(lists[size_t(i)], &at);
      if (e.empty()) e = runner.DumpModel(models + "/" + w);
      std::ofstream(fs.dir() + "/" + w + ".result") << (e.empty() ? "" : std::to_string(at) + "\n" + e);
      std::cout << std::flush;
      _exit(e.empty() ? 0 : 1);
    }
    pids.push_back(pid);
  }
  int failed_worker = -1;
  std::string failure;
  size_t failed_at = 0;
  for (int i = 0; i < o.procs; ++i) {
    int status = 0;
    auto deadline = Clock::now() + seconds(900);
    while (waitpid(pids[size_t(i)], &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(pids[size_t(i)], SIGKILL);
        waitpid(pids[size_t(i)], &status, 0);
        failure = "worker " + std::to_string(i) + " hung for 900 s (killed)";
        break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    std::ifstream in(fs.dir() + "/w" + std::to_string(i) + ".result");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string r = ss.str();
    if (!r.empty() && failed_worker < 0) {
      failed_worker = i;
      failed_at = size_t(atoll(r.c_str()));
      failure = "worker " + std::to_string(i) + " (seed " + std::to_string(seed * 1000 + uint64_t(i)) +
                "): " + r.substr(r.find('\n') + 1);
    } else if (r.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0) && failure.empty()) {
      failure = "worker " + std::to_string(i) + " died (status " + std::to_string(status) + ")";
    }
  }
  if (failure.empty()) {
    failure = FinalCheck(fs, [&]() -> std::string {
      for (int i = 0; i < o.procs; ++i) {
        std::string w = "/w" + std::to_string(i);
        if (auto e = CompareTrees(fs.mnt() + w, models + w); !e.empty()) return e;
      }
      return "";
    });
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (failure.empty()) {
    std::cout << "fsx: PASS multi seed=" << seed << " (" << o.procs << " x " << o.ops << " ops, " << secs
              << " s)\n";
    return 0;
  }
  std::cout << "fsx: FAIL multi seed=" << seed << " slot=" << o.slot_size << ": " << failure
            << "\n----- daemon log (tail) -----\n" << fs.DaemonLog() << "\n-----------------------------\n"
            << std::flush;
  if (failed_worker >= 0) {
    // Replay the worker alone (dir mode, in the root of a fresh mount).
    std::vector<Op> ops = lists[size_t(failed_worker)];
    ops.resize(std::min(ops.size(), failed_at + 1));
    std::cout << "fsx: replaying worker " << failed_worker << "'s ops alone (--mode single "
              << "--dirs; prints only if it fails alone too)\n";
    Options q = o;
    ShrinkAndReport(ops, q, "multi-seed" + std::to_string(seed) + "-w" + std::to_string(failed_worker));
  }
  return 1;
}

std::vector<Op> ReadOps(const std::string& file, std::string* err) {
  std::vector<Op> ops;
  std::ifstream in(file);
  if (!in) {
    *err = "cannot open " + file;
    return ops;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t s = line.find_first_not_of(" \t");
    if (s == std::string::npos || line[s] == '#') continue;
    auto op = ParseOp(line.substr(s));
    if (!op) {
      *err = file + ":" + std::to_string(n) + ": cannot parse `" + line + "`";
      return {};
    }
    ops.push_back(*op);
  }
  return ops;
}

int Usage(const std::string& why) {
  std::cerr << "slotfs_fsx: " << why
            << "\nusage: slotfs_fsx [--seed N] [--ops N] [--slot-size 64K|1M|...] [--mode single|multi|all]\n"
               "                  [--procs N] [--duration SECONDS] [--no-kill] [--no-remount] [--no-mmap]\n"
               "                  [--no-direct] [--dirs] [--no-shrink] [--shrink-trials N] [--replay FILE] [-v]\n"
               "                  [--daemon-arg ARG]... [--no-scrub] [--slots-per-file N]\n";
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  bool dirs = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seed") { o.seed = strtoull(next().c_str(), nullptr, 10); o.seed_given = true; }
    else if (a == "--ops") o.ops = size_t(atol(next().c_str()));
    else if (a == "--slot-size") o.slot_size = next();
    else if (a == "--mode") o.mode = next();
    else if (a == "--procs") o.procs = atoi(next().c_str());
    else if (a == "--duration") o.duration = atof(next().c_str());
    else if (a == "--no-kill") o.cfg.kill9 = false;
    else if (a == "--no-remount") o.cfg.remount = false;
    else if (a == "--no-mmap") o.cfg.mmap = false;
    else if (a == "--no-direct") o.cfg.direct = false;
    else if (a == "--dirs") dirs = true;
    else if (a == "--no-shrink") o.shrink = false;
    else if (a == "--shrink-trials") o.shrink_trials = atoi(next().c_str());
    else if (a == "--replay") o.replay = next();
    else if (a == "-v" || a == "--verbose") o.verbose = true;
    else if (a == "--daemon-arg") o.daemon_args.push_back(next());
    else if (a == "--no-scrub") o.scrub = false;
    else if (a == "--slots-per-file") o.cfg.slots_per_file = atoi(next().c_str());
    else if (a == "-h" || a == "--help") { Usage("randomized operation tester (see README.md, Testing)"); return 0; }
    else return Usage("unknown argument " + a);
  }
  if (ParseSize(o.slot_size) == 0) return Usage("bad --slot-size " + o.slot_size);
  if (o.mode != "single" && o.mode != "multi" && o.mode != "all") return Usage("bad --mode " + o.mode);
  if (o.procs < 1) return Usage("bad --procs");
  std::string why = itest::MountUnsupportedReason();
  if (!why.empty()) {
    std::cerr << "slotfs_fsx: cannot mount here: " << why << "\n";
    return 77;
  }
  if (access(itest::SlotfsBin(), X_OK) != 0) {
    std::cerr << "slotfs_fsx: " << itest::SlotfsBin() << " is missing\n";
    return 1;
  }
  if (!o.seed_given) o.seed = uint64_t(time(nullptr)) % 100000;

  if (!o.replay.empty()) {
    std::string err;
    std::vector<Op> ops = ReadOps(o.replay, &err);
    if (!err.empty()) return Usage(err);
    o.cfg = ModeConfig(o, dirs);
    size_t at = 0;
    std::string log;
    std::string e = RunSingle(ops, o, &at, &log);
    if (e.empty()) {
      std::cout << "fsx: PASS replay of " << ops.size() << " ops\n";
      return 0;
    }
    std::cout << "fsx: FAIL replay at op #" << at << ":\n  " << e << "\n----- daemon log (tail) -----\n"
              << log << "\n";
    return 1;
  }

  auto run_one = [&](uint64_t seed, int round) -> int {
    if (o.mode == "single") return SingleMode(o, seed);
    if (o.mode == "multi") return MultiMode(o, seed);
    Options q = o;
    switch (round % 3) {
      case 0: q.slot_size = "64K"; return SingleMode(q, seed);
      case 1: q.slot_size = "1M"; return SingleMode(q, seed);
      default: q.slot_size = "64K"; return MultiMode(q, seed);
    }
  };
  if (o.duration <= 0) {
    if (o.mode == "all") {
      for (int r = 0; r < 3; ++r) {
        if (run_one(o.seed, r) != 0) return 1;
      }
      return 0;
    }
    return run_one(o.seed, 0);
  }
  auto deadline = Clock::now() + std::chrono::duration<double>(o.duration);
  int runs = 0, failures = 0;
  for (uint64_t seed = o.seed; Clock::now() < deadline; ++seed) {
    int rounds = o.mode == "all" ? 3 : 1;
    for (int r = 0; r < rounds && Clock::now() < deadline; ++r) {
      ++runs;
      if (run_one(seed, r) != 0) ++failures;
    }
  }
  std::cout << "fsx: " << runs << " runs from seed " << o.seed << ", " << failures << " failed\n";
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace slotfs::fsx

int main(int argc, char** argv) { return slotfs::fsx::Main(argc, argv); }
