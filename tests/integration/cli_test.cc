// tests/integration/cli_test.cc — the slotfs command line: --version, --help,
// exit codes (0 ok, 1 runtime failure with "slotfs: error:", 2 usage error),
// `slotfs format` on image files (sizes, sparse creation, default DB path,
// refusal to overwrite a filesystem without --force) and `slotfs info`.
// None of these mount anything, so they run without FUSE.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

const std::regex kUuid("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(0, access(SlotfsBin(), X_OK)) << "slotfs binary " << SlotfsBin() << " is missing";
    tmp_ = std::make_unique<TempDir>();
  }
  std::string T(const std::string& name) const { return tmp_->Join(name); }

  // Expects a usage error: exit 2 and CLI11's usage hint.
  static void ExpectUsageError(const ProcResult& r) {
    EXPECT_EQ(2, r.exit_code) << r.Describe();
    std::string all = r.out + r.err;
    EXPECT_TRUE(all.find("Usage") != std::string::npos || all.find("usage") != std::string::npos ||
                all.find("--help") != std::string::npos)
        << "no usage text:\n" << r.Describe();
  }
  // Expects a runtime failure: exit 1 and "slotfs: error:" on stderr.
  static void ExpectRuntimeError(const ProcResult& r, const std::string& mentions = "") {
    EXPECT_EQ(1, r.exit_code) << r.Describe();
    EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
    if (!mentions.empty()) {
      EXPECT_NE(std::string::npos, r.err.find(mentions)) << r.Describe();
    }
  }
  static bool Exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
  }

  std::unique_ptr<TempDir> tmp_;
};

TEST_F(CliTest, VersionPrintsNameAndVersion) {
  ProcResult r = RunSlotfs({"--version"});
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^slotfs \d+\.\d+\.\d+)"))) << r.Describe();
}

TEST_F(CliTest, HelpListsEverySubcommand) {
  ProcResult r = RunSlotfs({"--help"});
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  for (const char* sub : {"format", "mount", "info"}) {
    EXPECT_NE(std::string::npos, r.out.find(sub)) << "--help does not mention " << sub << "\n" << r.Describe();
  }
}

TEST_F(CliTest, EachSubcommandHasHelp) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> subs = {
      {"format", {"--size", "--slot-size", "--db", "--force", "--sparse"}},
      {"mount", {"-f", "-o", "--config", "--db", "--engine", "--log-level", "--commit-interval-ms",
                 "--threads", "--read-ahead-kb", "--evict", "--evict-high", "--evict-low",
                 "--db-cache-mb", "--cache-timeout", "--no-verify", "--allow-other"}},
      {"info", {"--db", "--json"}},
      {"check", {"--db", "--scrub", "--repair", "--json"}},
      {"bench", {"--dir", "--repeat", "--quick", "--json"}},
  };
  for (const auto& [sub, options] : subs) {
    ProcResult r = RunSlotfs({sub, "--help"});
    EXPECT_EQ(0, r.exit_code) << r.Describe();
    for (const auto& o : options) {
      EXPECT_NE(std::string::npos, r.out.find(o)) << sub << " --help does not mention " << o << "\n" << r.Describe();
    }
  }
}

TEST_F(CliTest, ShortHelpNeedsNoSubcommandArguments) {
  for (const char* sub : {"format", "mount", "info", "check", "bench"}) {
    ProcResult r = RunSlotfs({sub, "-h"});
    EXPECT_EQ(0, r.exit_code) << r.Describe();
    EXPECT_NE(std::string::npos, r.out.find("Usage")) << r.Describe();
  }
}

// Configuration errors stop `slotfs mount` with exit 2 before it touches
// the device, naming the file, line and key.
TEST_F(CliTest, BadConfigurationFileIsUsageErrorNamingFileLineAndKey) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  const std::string cfg = T("slotfs.toml");
  ASSERT_TRUE(WriteFile(cfg, "[mount]\nthreads = 4\nthread = 8\n"));
  ProcResult r = RunSlotfs({"mount", T("img"), T("mnt"), "-f", "--config", cfg});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error: " + cfg + ":3:")) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("unknown key 'thread'")) << r.Describe();

  ASSERT_TRUE(WriteFile(cfg, "[mount]\nthreads = \"many\"\n"));
  r = RunSlotfs({"mount", T("img"), T("mnt"), "-f", "-o", "config=" + cfg});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("threads: expected an integer, got a string")) << r.Describe();

  r = RunSlotfs({"mount", T("img"), T("mnt"), "-f", "--config", T("missing.toml")});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find(T("missing.toml"))) << r.Describe();
  EXPECT_FALSE(Exists(T("img"))) << "a configuration error must not create anything";
}

TEST_F(CliTest, BadDashOValueIsUsageErrorNamingTheOption) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  ProcResult r = RunSlotfs({"mount", T("img"), T("mnt"), "-f", "-o", "evict_high=101"});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("-o evict_high=101: must be 1..100")) << r.Describe();
}

TEST_F(CliTest, UnknownSubcommandIsUsageError) { ExpectUsageError(RunSlotfs({"frobnicate"})); }

TEST_F(CliTest, MissingArgumentsAreUsageErrors) {
  ExpectUsageError(RunSlotfs({"format"}));
  ExpectUsageError(RunSlotfs({"mount"}));
  ExpectUsageError(RunSlotfs({"mount", T("img")}));
  ExpectUsageError(RunSlotfs({"info"}));
}

TEST_F(CliTest, UnknownOptionIsUsageError) {
  ExpectUsageError(RunSlotfs({"format", T("img"), "--size", "64M", "--bogus"}));
  EXPECT_FALSE(Exists(T("img"))) << "a usage error must not create anything";
}

TEST_F(CliTest, BadSizeSuffixIsUsageError) {
  ExpectUsageError(RunSlotfs({"format", T("img"), "--size", "12Q"}));
  ExpectUsageError(RunSlotfs({"format", T("img"), "--size", "lots"}));
  ExpectUsageError(RunSlotfs({"format", T("img"), "--size", "-5M"}));
  EXPECT_FALSE(Exists(T("img")));
}

TEST_F(CliTest, NonPowerOfTwoSlotSizeIsUsageError) {
  ExpectUsageError(RunSlotfs({"format", T("img"), "--size", "64M", "--slot-size", "3M"}));
  EXPECT_FALSE(Exists(T("img")));
}

TEST_F(CliTest, BadEngineAndLogLevelAreUsageErrors) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  ExpectUsageError(RunSlotfs({"mount", T("img"), T("mnt"), "-f", "--engine", "bogus"}));
  ExpectUsageError(RunSlotfs({"mount", T("img"), T("mnt"), "-f", "--log-level", "loud"}));
  ExpectUsageError(RunSlotfs({"mount", T("img"), T("mnt"), "-f", "--threads", "many"}));
}

TEST_F(CliTest, FormatCreatesSparseImageWithBinarySizeAndDefaultDb) {
  std::string img = T("slotfs.img");
  ProcResult r = RunSlotfs({"format", img, "--size", "1G", "--sparse"});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(std::regex_search(r.out + r.err, kUuid)) << "format does not print the UUID\n" << r.Describe();
  struct stat st;
  ASSERT_EQ(0, stat(img.c_str(), &st));
  EXPECT_EQ(off_t(kGiB), st.st_size) << "1G must mean 1 GiB";
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 64 * kMiB) << "the image is not sparse";
  EXPECT_TRUE(Exists(img + ".db")) << "default database path is IMAGE.db";

  ProcResult m = RunSlotfs({"format", T("m.img"), "--size", "64M"});
  ASSERT_EQ(0, m.exit_code) << m.Describe();
  ASSERT_EQ(0, stat(T("m.img").c_str(), &st));
  EXPECT_EQ(off_t(64 * kMiB), st.st_size);
}

TEST_F(CliTest, FormatAllocatesAndWritesANewImageByDefault) {
  // Written extents: slot writes are overwrites, not allocating writes.
  std::string img = T("full.img");
  ProcResult r = RunSlotfs({"format", img, "--size", "64M"});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  struct stat st;
  ASSERT_EQ(0, stat(img.c_str(), &st));
  EXPECT_EQ(off_t(64 * kMiB), st.st_size);
  EXPECT_GE(uint64_t(st.st_blocks) * 512, 64 * kMiB) << "the image's space is not allocated";
  ProcResult fiemap = RunShell("filefrag -v " + ShellQuote(img));
  if (fiemap.exit_code == 0) {
    EXPECT_EQ(std::string::npos, fiemap.out.find("unwritten")) << fiemap.out;
  }
  ProcResult check = RunSlotfs({"check", img});
  EXPECT_EQ(0, check.exit_code) << check.Describe();
}

TEST_F(CliTest, FormatWithDbOptionPutsDatabaseThere) {
  ProcResult r = RunSlotfs({"format", T("a.img"), "--size", "64M", "--db", T("elsewhere.db")});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(Exists(T("elsewhere.db")));
  EXPECT_FALSE(Exists(T("a.img.db")));
}

TEST_F(CliTest, FormatResizesAnExistingZeroFilledFile) {
  std::string img = T("existing.img");
  ASSERT_TRUE(WriteFile(img, ""));
  ASSERT_EQ(0, truncate(img.c_str(), 10 * kMiB));
  ProcResult r = RunSlotfs({"format", img, "--size", "64M"});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  struct stat st;
  ASSERT_EQ(0, stat(img.c_str(), &st));
  EXPECT_EQ(off_t(64 * kMiB), st.st_size);
}

TEST_F(CliTest, FormatWithNonDefaultSlotSizeShowsInInfo) {
  std::string img = T("s.img");
  ProcResult r = RunSlotfs({"format", img, "--size", "64M", "--slot-size", "256K"});
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  ProcResult info = RunSlotfs({"info", img, "--json"});
  ASSERT_EQ(0, info.exit_code) << info.Describe();
  EXPECT_NE(std::string::npos, info.out.find("262144")) << "info --json does not show the 256 KiB slot size\n"
                                                        << info.Describe();
}

TEST_F(CliTest, FormatRefusesAnExt4ImageUnlessForced) {
  std::string img = T("ext4.img");
  ASSERT_TRUE(WriteFile(img, ""));
  ASSERT_EQ(0, truncate(img.c_str(), 64 * kMiB));
  ProcResult mk = RunProcess({"mkfs.ext4", "-q", "-F", img});
  ASSERT_EQ(0, mk.exit_code) << "mkfs.ext4 (package e2fsprogs) is needed:\n" << mk.Describe();

  ExpectRuntimeError(RunSlotfs({"format", img}), "--force");
  ExpectRuntimeError(RunSlotfs({"format", img, "--size", "64M"}), "--force");
  // The ext4 superblock magic (0xEF53 at byte 1080) is still there.
  std::string head;
  ASSERT_TRUE(ReadFile(img, &head));
  ASSERT_GT(head.size(), 1082u);
  EXPECT_EQ(0x53, uint8_t(head[1080]));
  EXPECT_EQ(0xEF, uint8_t(head[1081]));
  EXPECT_FALSE(Exists(img + ".db")) << "a refused format must not create the database";

  ProcResult forced = RunSlotfs({"format", img, "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
  EXPECT_EQ(0, RunSlotfs({"info", img}).exit_code);
}

TEST_F(CliTest, FormatRefusesAnExistingSlotfsImageUnlessForced) {
  std::string img = T("twice.img");
  ProcResult first = RunSlotfs({"format", img, "--size", "64M"});
  ASSERT_EQ(0, first.exit_code) << first.Describe();
  ExpectRuntimeError(RunSlotfs({"format", img, "--size", "64M"}), "--force");
  // Even with the database removed, the slotfs superblock is recognised.
  ASSERT_EQ(0, unlink((img + ".db").c_str()));
  ExpectRuntimeError(RunSlotfs({"format", img}), "--force");
  ProcResult forced = RunSlotfs({"format", img, "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
}

TEST_F(CliTest, FormatRefusesWhenTheDatabasePathExistsUnlessForced) {
  ASSERT_TRUE(WriteFile(T("taken.db"), "not a database"));
  ExpectRuntimeError(RunSlotfs({"format", T("new.img"), "--size", "64M", "--db", T("taken.db")}), "--force");
  std::string content;
  ASSERT_TRUE(ReadFile(T("taken.db"), &content));
  EXPECT_EQ("not a database", content) << "a refused format overwrote the existing file";
  ProcResult forced = RunSlotfs({"format", T("new.img"), "--size", "64M", "--db", T("taken.db"), "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
}

TEST_F(CliTest, FormatRefusesAnImageWithAPartitionTableUnlessForced) {
  // A DOS partition table: one Linux partition entry and the 0x55AA signature.
  std::string mbr(512, '\0');
  mbr[446 + 4] = char(0x83);            // partition type: Linux
  mbr[446 + 8] = 2048 & 0xff;           // first LBA = 2048
  mbr[446 + 9] = char(2048 >> 8);
  mbr[446 + 12] = 0x00;                 // sector count = 0x10000
  mbr[446 + 14] = 0x01;
  mbr[510] = 0x55;
  mbr[511] = char(0xAA);
  std::string img = T("parted.img");
  ASSERT_TRUE(WriteFile(img, mbr));
  ASSERT_EQ(0, truncate(img.c_str(), 64 * kMiB));
  ExpectRuntimeError(RunSlotfs({"format", img}), "--force");
  ProcResult forced = RunSlotfs({"format", img, "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
}

TEST_F(CliTest, InfoReportsGeometryOfAFormattedImage) {
  std::string img = T("i.img");
  ProcResult f = RunSlotfs({"format", img, "--size", "256M"});
  ASSERT_EQ(0, f.exit_code) << f.Describe();
  std::smatch m;
  std::string fout = f.out + f.err;
  ASSERT_TRUE(std::regex_search(fout, m, kUuid)) << f.Describe();
  std::string uuid = m[0];

  ProcResult info = RunSlotfs({"info", img});
  ASSERT_EQ(0, info.exit_code) << info.Describe();
  EXPECT_NE(std::string::npos, info.out.find(uuid)) << info.Describe();
  ProcResult json = RunSlotfs({"info", img, "--json"});
  ASSERT_EQ(0, json.exit_code) << json.Describe();
  std::string j = json.out;
  while (!j.empty() && isspace(static_cast<unsigned char>(j.back()))) j.pop_back();
  ASSERT_FALSE(j.empty());
  EXPECT_EQ('{', j.front()) << json.Describe();
  EXPECT_EQ('}', j.back()) << json.Describe();
  EXPECT_NE(std::string::npos, j.find(uuid)) << json.Describe();
  EXPECT_NE(std::string::npos, j.find("1048576")) << "default 1 MiB slot size not in info --json\n" << json.Describe();
}

TEST_F(CliTest, InfoOnAFileThatIsNotSlotfsFails) {
  ASSERT_TRUE(WriteFile(T("junk"), PatternBytes(1, 2 * kMiB)));
  ExpectRuntimeError(RunSlotfs({"info", T("junk"), "--db", T("junk.db")}));
  ExpectRuntimeError(RunSlotfs({"info", T("missing.img")}));
}

TEST_F(CliTest, FormatRefusesAShortFileHoldingDataUnlessForced) {
  const std::string img = T("f.img");
  ASSERT_TRUE(WriteFile(img, "precious\n"));
  ExpectRuntimeError(RunSlotfs({"format", img, "--size", "256M"}), "--force");
  std::string content;
  ASSERT_TRUE(ReadFile(img, &content));
  EXPECT_EQ("precious\n", content) << "a refused format changed the file";
  EXPECT_FALSE(Exists(img + ".db"));
  ProcResult forced = RunSlotfs({"format", img, "--size", "256M", "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
}

TEST_F(CliTest, FormatRefusesASymlinkAtTheDatabasePath) {
  const std::string target = T("chosen-by-someone-else.db");
  ASSERT_EQ(0, symlink(target.c_str(), T("link.db").c_str()));
  for (bool force : {false, true}) {
    std::vector<std::string> args = {"format", T("g.img"), "--size", "256M", "--db", T("link.db")};
    if (force) args.push_back("--force");
    ExpectRuntimeError(RunSlotfs(args), "symbolic link");
    EXPECT_FALSE(Exists(target)) << "a file was created through the link";
    EXPECT_FALSE(Exists(T("g.img"))) << "the failed format left the image it created";
  }
}

TEST_F(CliTest, FailedFormatKeepsAFileThatWasThereBefore) {
  const std::string img = T("kept.img");
  ASSERT_TRUE(WriteFile(img, ""));
  ASSERT_EQ(0, truncate(img.c_str(), 64 * kMiB));
  ASSERT_TRUE(WriteFile(T("taken.db"), "not a database"));
  ExpectRuntimeError(RunSlotfs({"format", img, "--db", T("taken.db")}), "--force");
  EXPECT_TRUE(Exists(img)) << "a failed format removed a file it did not create";
}

TEST_F(CliTest, FormatSizeTooSmallForOneSlotIsAUsageErrorThatCreatesNothing) {
  ProcResult r = RunSlotfs({"format", "--size", "1", T("h.img")});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("too small")) << r.Describe();
  EXPECT_EQ(std::string::npos, r.err.find("0 bytes")) << r.Describe();
  EXPECT_FALSE(Exists(T("h.img")));
  EXPECT_FALSE(Exists(T("h.img.db")));
}

TEST_F(CliTest, ConfigThatIsNotARegularFileIsAUsageErrorAtOnce) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  ASSERT_EQ(0, mkfifo(T("fifo").c_str(), 0600));
  for (const std::string& config : {std::string("/dev/zero"), T("fifo"), tmp_->path()}) {
    ProcResult r = RunSlotfs({"mount", "--config", config, T("img"), T("mnt"), "-f"}, seconds(30));
    EXPECT_FALSE(r.timed_out) << r.Describe();
    EXPECT_EQ(2, r.exit_code) << r.Describe();
    EXPECT_NE(std::string::npos, r.err.find("not a regular file")) << r.Describe();
  }
}

TEST_F(CliTest, ConfigLargerThanOneMebibyteIsAUsageError) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  ASSERT_TRUE(WriteFile(T("big.toml"), "[mount]\n" + std::string(2 * kMiB, '#') + "\n"));
  ProcResult r = RunSlotfs({"mount", "--config", T("big.toml"), T("img"), T("mnt"), "-f"});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("larger than")) << r.Describe();
}

TEST_F(CliTest, UnknownFuseOptionIsAUsageError) {
  ASSERT_EQ(0, mkdir(T("mnt").c_str(), 0755));
  ASSERT_EQ(0, RunSlotfs({"format", T("img"), "--size", "64M"}).exit_code);
  for (bool foreground : {true, false}) {
    std::vector<std::string> args = {"mount", "-o", "frobnicate=1", T("img"), T("mnt")};
    if (foreground) args.push_back("-f");
    ProcResult r = RunSlotfs(args);
    EXPECT_EQ(2, r.exit_code) << r.Describe();
    EXPECT_NE(std::string::npos, r.err.find("frobnicate")) << r.Describe();
  }
}

}  // namespace
}  // namespace slotfs::itest
