// tests/integration/fsx_test.cc — runs the randomized operation tester
// (slotfs_fsx, see fsx_model.h and fsx_main.cc) for a bounded set of seeds
// in every mode: single process with 64 KiB and 1 MiB slots (mmap,
// O_DIRECT, close/reopen, dup+close, fsync, rename-over, copy_file_range,
// remount and kill -9 included) and several processes with directories.
// Each run ends with `slotfs check --scrub` and a verified remount. A
// failure prints the seed and the shrunk op list.
//
// Long mode: SLOTFS_FSX_SECONDS=N makes Fsx.Long run all modes for N
// seconds from SLOTFS_FSX_SEED (default: the time); otherwise it is skipped.

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/integration/fsx_model.h"
#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

class Fsx : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = MountUnsupportedReason();
    if (!why.empty()) {
      std::cerr << "\n**********************************************************************\n"
                << "** SKIPPING fsx: " << why << "\n"
                << "** This test did NOT run; it is not a pass.\n"
                << "**********************************************************************\n";
      GTEST_SKIP() << "slotfs mount tests cannot run here: " << why;
    }
  }
  void RunFsx(std::vector<std::string> args, seconds timeout = seconds(900)) {
    args.insert(args.begin(), SLOTFS_FSX_BIN);
    ProcResult r = RunProcess(args, timeout);
    std::cout << r.out;
    ASSERT_EQ(0, r.exit_code) << r.Describe();
  }
};


// Budget: about 45 s on an idle 2-core machine for the three seeded tests
// together, under 2 minutes loaded. A failure's shrinking adds up to a few
// minutes (bounded by --shrink-trials).
TEST_F(Fsx, SingleSmallSlots) {
  for (const char* seed : {"1", "2", "3", "4", "5"}) {
    RunFsx({"--seed", seed, "--ops", "1500", "--slot-size", "64K", "--shrink-trials", "80"});
    if (HasFatalFailure()) return;
  }
}

TEST_F(Fsx, SingleDefaultSlots) {
  for (const char* seed : {"11", "12", "13"}) {
    RunFsx({"--seed", seed, "--ops", "800", "--slot-size", "1M", "--shrink-trials", "40"});
    if (HasFatalFailure()) return;
  }
}

TEST_F(Fsx, MultiProcess) {
  for (const char* seed : {"21", "22", "23"}) {
    RunFsx({"--mode", "multi", "--seed", seed, "--procs", "4", "--ops", "2000", "--slot-size", "64K",
            "--shrink-trials", "40"});
    if (HasFatalFailure()) return;
  }
}

// Every shrunk op list kept in tests/integration/fsx_cases/ (failures the
// tester found, one file each) replays clean.
TEST_F(Fsx, FoundCasesReplayClean) {
  std::string dir = SLOTFS_FSX_CASES;
  std::vector<std::string> cases;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".ops") cases.push_back(n);
    }
    closedir(d);
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_FALSE(cases.empty()) << "no .ops files in " << dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    RunFsx({"--slot-size", "64K", "--replay", dir + "/" + c}, seconds(300));
  }
}

// No mount: the op text round-trips, and the shrinker finds the two ops a
// synthetic failure needs.
TEST(FsxModel, OpsRoundTripThroughText) {
  fsx::Config cfg;
  cfg.dirs = 3;
  for (const auto& op : fsx::GenerateOps(5, 500, cfg)) {
    auto back = fsx::ParseOp(fsx::FormatOp(op));
    ASSERT_TRUE(back.has_value()) << fsx::FormatOp(op);
    EXPECT_EQ(fsx::FormatOp(op), fsx::FormatOp(*back));
  }
}

TEST(FsxModel, ShrinkKeepsOnlyTheOpsAFailureNeeds) {
  std::vector<fsx::Op> ops = fsx::GenerateOps(9, 200, fsx::Config());
  ops[37].seed = 1111;
  ops[150].seed = 2222;
  auto fails = [](const std::vector<fsx::Op>& l) {
    bool a = false, b = false;
    for (const auto& op : l) {
      a |= op.seed == 1111;
      b |= op.seed == 2222;
    }
    return a && b;
  };
  auto small = fsx::Shrink(ops, fails, 500, [](const std::string&) {});
  ASSERT_EQ(2u, small.size());
  EXPECT_EQ(1111u, small[0].seed);
  EXPECT_EQ(2222u, small[1].seed);
}

TEST_F(Fsx, Long) {
  const char* secs = getenv("SLOTFS_FSX_SECONDS");
  if (!secs || !*secs) GTEST_SKIP() << "long mode runs only with SLOTFS_FSX_SECONDS=N";
  std::vector<std::string> args{"--mode", "all", "--duration", secs};
  if (const char* seed = getenv("SLOTFS_FSX_SEED"); seed && *seed) {
    args.push_back("--seed");
    args.push_back(seed);
  }
  RunFsx(args, seconds(atol(secs) + 1800));
}

}  // namespace
}  // namespace slotfs::itest
