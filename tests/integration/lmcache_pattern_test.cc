// tests/integration/lmcache_pattern_test.cc — LMCache's local-disk backend
// contract (DESIGN §1), reproduced by the lmcache_pattern driver running as
// separate processes against a real mount: buffered and O_DIRECT, several
// processes with several writer and reader threads, 1–32 MiB files, and two
// independent "vLLM instances" sharing one directory.

#include <sys/statvfs.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

struct DriverRun {
  std::string mode;
  std::string size;
  int files;  // per process
  int writers;
  int readers;
  int procs;
  int seed;
  std::string subdir = "kv";
};

std::vector<std::string> DriverArgs(const std::string& dir, const DriverRun& r) {
  return {LmcachePatternBin(), "--dir", dir + "/" + r.subdir, "--mode", r.mode,
          "--size", r.size, "--files", std::to_string(r.files),
          "--writers", std::to_string(r.writers), "--readers", std::to_string(r.readers),
          "--procs", std::to_string(r.procs), "--seed", std::to_string(r.seed),
          "--cleanup", "--timeout", "240"};
}

class LmcachePatternTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 2 * kGiB;
    return c;
  }
  void RunDriver(const DriverRun& r) {
    ProcResult p = RunProcess(DriverArgs(mnt_, r), std::chrono::seconds(280));
    std::cout << p.out;  // throughput lines, for the log
    EXPECT_EQ(0, p.exit_code) << p.Describe();
    ExpectEmptyAfterCleanup(r.subdir);
  }
  // After --cleanup every slot must come back (quarantine may take a moment).
  void ExpectEmptyAfterCleanup(const std::string& subdir) {
    struct statvfs v {};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      ASSERT_TRUE(StatVfs(&v));
      if (v.f_bfree == v.f_blocks) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(v.f_blocks, v.f_bfree) << "slots still in use after every file in " << subdir
                                     << " was unlinked";
  }
};

// The driver itself, on a plain directory of the host filesystem: it must
// pass there, or its verdicts on slotfs mean nothing.
TEST(LmcacheDriverTest, PassesOnAPlainHostDirectory) {
  TempDir tmp;
  for (const char* mode : {"buffered", "odirect"}) {
    DriverRun r{mode, "1M", 6, 2, 2, 2, 12};
    ProcResult p = RunProcess(DriverArgs(tmp.path(), r), std::chrono::seconds(120));
    EXPECT_EQ(0, p.exit_code) << p.Describe();
  }
}

TEST(LmcacheDriverTest, DetectsACorruptedByte) {
  TempDir tmp;
  DriverRun r{"buffered", "256K", 2, 1, 1, 1, 13};
  std::vector<std::string> args = DriverArgs(tmp.path(), r);
  args.pop_back();  // drop --timeout 240
  args.pop_back();
  args.pop_back();  // drop --cleanup
  std::vector<std::string> w = args, v = args;
  w.insert(w.end(), {"--only", "write"});
  v.insert(v.end(), {"--only", "verify"});
  ProcResult pw = RunProcess(w);
  ASSERT_EQ(0, pw.exit_code) << pw.Describe();
  ProcResult ls = RunShell("ls " + ShellQuote(tmp.path() + "/kv/sub") + " | head -n 1");
  ASSERT_EQ(0, ls.exit_code);
  std::string victim = tmp.path() + "/kv/sub/" + ls.out.substr(0, ls.out.find('\n'));
  std::string content;
  ASSERT_TRUE(ReadFile(victim, &content));
  ASSERT_GT(content.size(), 100001u);
  content[100001] = char(~content[100001]);  // flip every bit of one byte
  ASSERT_TRUE(WriteFile(victim, content));
  ProcResult pv = RunProcess(v);
  EXPECT_EQ(1, pv.exit_code) << pv.Describe();
  EXPECT_NE(std::string::npos, pv.err.find("first mismatch at byte offset 100001")) << pv.Describe();
}

TEST_F(LmcachePatternTest, Buffered4MiBThreeProcsFourWritersFourReaders) {
  RunDriver({"buffered", "4M", 12, 4, 4, 3, 1});
}

TEST_F(LmcachePatternTest, ODirect4MiBThreeProcsFourWritersFourReaders) {
  RunDriver({"odirect", "4M", 12, 4, 4, 3, 2});
}

TEST_F(LmcachePatternTest, Buffered32MiBTwoProcsTwoWritersTwoReaders) {
  RunDriver({"buffered", "32M", 6, 2, 2, 2, 3});
}

TEST_F(LmcachePatternTest, ODirect32MiBTwoProcsTwoWritersTwoReaders) {
  RunDriver({"odirect", "32M", 6, 2, 2, 2, 4});
}

// DeepSeek-V3 (MLA) chunks: 17,989,632 bytes, a multiple of 4096 but not of
// the 1 MiB slot, so the last slot is partly used.
TEST_F(LmcachePatternTest, ODirectDeepSeekChunkSizeNotAWholeNumberOfSlots) {
  RunDriver({"odirect", "17989632", 4, 2, 2, 2, 5});
}

// Layer-wise chunks: many 1 MiB files from four ranks.
TEST_F(LmcachePatternTest, ODirectLayerwise1MiBFourProcs) {
  RunDriver({"odirect", "1M", 24, 4, 4, 4, 6});
}

// A size that is not a multiple of f_bsize: LMCache falls back to buffered I/O.
TEST_F(LmcachePatternTest, SizeNotMultipleOf4096UsesBufferedPath) {
  RunDriver({"odirect", "4194404", 8, 2, 2, 2, 7});
}

// Two vLLM instances on one node share the cache directory: one buffered,
// one O_DIRECT, running at the same time.
TEST_F(LmcachePatternTest, TwoInstancesShareOneDirectoryConcurrently) {
  DriverRun a{"buffered", "4M", 10, 4, 4, 2, 8, "shared"};
  DriverRun b{"odirect", "4M", 10, 4, 4, 2, 9, "shared"};
  ProcResult pa, pb;
  std::thread ta([&] { pa = RunProcess(DriverArgs(mnt_, a), std::chrono::seconds(280)); });
  pb = RunProcess(DriverArgs(mnt_, b), std::chrono::seconds(280));
  ta.join();
  std::cout << pa.out << pb.out;
  EXPECT_EQ(0, pa.exit_code) << pa.Describe();
  EXPECT_EQ(0, pb.exit_code) << pb.Describe();
  ExpectEmptyAfterCleanup("shared");
}

// The same small run on each I/O engine, chosen explicitly.
class LmcacheEngineTest : public LmcachePatternTest, public ::testing::WithParamInterface<std::string> {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 1 * kGiB;
    c.mount_args = {"--engine", GetParam()};
    return c;
  }
};

TEST_P(LmcacheEngineTest, SmallRunBufferedAndODirect) {
  RunDriver({"odirect", "4M", 8, 4, 4, 2, 10});
  RunDriver({"buffered", "4M", 8, 4, 4, 2, 11});
}

INSTANTIATE_TEST_SUITE_P(Engines, LmcacheEngineTest, ::testing::Values("posix", "uring"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace slotfs::itest
