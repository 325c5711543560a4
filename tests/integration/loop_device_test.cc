// tests/integration/loop_device_test.cc — slotfs on a real block device (a
// loop device over a sparse file): format with --db, the default database
// location under /var/lib/slotfs, refusal of a device holding ext4, mount,
// the LMCache pattern, cp/cat/cmp, unmount and remount.

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = MountUnsupportedReason();
    if (!why.empty()) {
      std::cerr << "\n** SKIPPING slotfs loop device test: " << why << " -- this test did NOT run **\n";
      GTEST_SKIP() << "slotfs loop device tests cannot run here: " << why;
    }
    ASSERT_EQ(0, access(SlotfsBin(), X_OK)) << "slotfs binary " << SlotfsBin() << " is missing";
    tmp_ = std::make_unique<TempDir>();
    backing_ = tmp_->Join("backing.img");
    mnt_ = tmp_->Join("mnt");
    ASSERT_EQ(0, mkdir(mnt_.c_str(), 0755));
    ASSERT_TRUE(WriteFile(backing_, ""));
    ASSERT_EQ(0, truncate(backing_.c_str(), 1 * kGiB)) << ErrnoText(errno);
    ProcResult r = RunProcess({"losetup", "-f", "--show", backing_}, std::chrono::seconds(30));
    if (r.exit_code != 0 || r.out.empty()) {
      std::cerr << "\n** SKIPPING slotfs loop device test: losetup failed -- this test did NOT run **\n"
                << r.Describe() << "\n";
      GTEST_SKIP() << "losetup -f --show failed (no loop devices here?):\n" << r.Describe();
    }
    loop_ = r.out.substr(0, r.out.find('\n'));
  }

  void TearDown() override {
    mount_.reset();  // unmounts
    if (!loop_.empty()) {
      ProcResult r = RunProcess({"losetup", "-d", loop_}, std::chrono::seconds(30));
      EXPECT_EQ(0, r.exit_code) << "losetup -d " << loop_ << ":\n" << r.Describe();
    }
    for (const auto& p : cleanup_files_) unlink(p.c_str());
    tmp_.reset();
  }

  ::testing::AssertionResult Mount(const std::vector<std::string>& args) {
    mount_ = std::make_unique<SlotfsMount>(loop_, mnt_, args, tmp_->Join("daemon.log"));
    return mount_->Start();
  }
  std::string P(const std::string& rel) const { return mnt_ + "/" + rel; }

  std::unique_ptr<TempDir> tmp_;
  std::string backing_, mnt_, loop_;
  std::unique_ptr<SlotfsMount> mount_;
  std::vector<std::string> cleanup_files_;
};

TEST_F(LoopDeviceTest, FormatMountRunLmcachePatternAndCopyFiles) {
  std::string db = tmp_->Join("x.db");
  ProcResult f = RunSlotfs({"format", loop_, "--db", db});
  EXPECT_EQ(0, f.exit_code) << "format of an all-zero loop device should not need --force\n" << f.Describe();
  if (f.exit_code != 0) {
    f = RunSlotfs({"format", loop_, "--db", db, "--force"});
    ASSERT_EQ(0, f.exit_code) << f.Describe();
  }
  ASSERT_TRUE(Mount({"--db", db}));

  struct statvfs v;
  ASSERT_EQ(0, statvfs(mnt_.c_str(), &v));
  EXPECT_EQ(4096u, v.f_bsize);
  uint64_t capacity = uint64_t(v.f_blocks) * 4096;
  EXPECT_LE(capacity, 1 * kGiB);
  EXPECT_GE(capacity, 1 * kGiB - 8 * kMiB) << "capacity does not match the 1 GiB device";

  for (const char* mode : {"odirect", "buffered"}) {
    ProcResult p = RunProcess({LmcachePatternBin(), "--dir", P("kv"), "--mode", mode, "--size", "4M",
                               "--files", "8", "--writers", "4", "--readers", "4", "--procs", "2",
                               "--seed", "21", "--cleanup", "--timeout", "240"},
                              std::chrono::seconds(280));
    std::cout << p.out;
    EXPECT_EQ(0, p.exit_code) << p.Describe();
  }

  ProcResult sh = RunShell("set -eu\nT=" + ShellQuote(tmp_->path()) + "\nM=" + ShellQuote(mnt_) + R"(
head -c 10485760 /dev/urandom > "$T/src"
cp "$T/src" "$M/copy"
cmp "$T/src" "$M/copy"
cat "$M/copy" > "$T/back"
cmp "$T/src" "$T/back"
)");
  ASSERT_EQ(0, sh.exit_code) << sh.Describe();
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  ProcResult again = RunShell("cmp " + ShellQuote(tmp_->Join("src")) + " " + ShellQuote(P("copy")));
  EXPECT_EQ(0, again.exit_code) << again.Describe();
}

TEST_F(LoopDeviceTest, FormatWithSizeOnABlockDeviceIsUsageError) {
  ProcResult r = RunSlotfs({"format", loop_, "--size", "64M", "--db", tmp_->Join("y.db")});
  EXPECT_EQ(2, r.exit_code) << r.Describe();
}

TEST_F(LoopDeviceTest, DefaultDatabaseLivesUnderVarLibSlotfsByUuid) {
  ProcResult f = RunSlotfs({"format", loop_, "--force"});
  ASSERT_EQ(0, f.exit_code) << f.Describe();
  std::smatch m;
  std::string out = f.out + f.err;
  ASSERT_TRUE(std::regex_search(out, m, std::regex(
      "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")))
      << "format does not print the UUID\n" << f.Describe();
  std::string db = "/var/lib/slotfs/" + std::string(m[0]) + ".db";
  for (const char* sfx : {"", "-wal", "-shm", "-journal"}) cleanup_files_.push_back(db + sfx);
  struct stat st;
  EXPECT_EQ(0, stat(db.c_str(), &st)) << db << " not created: " << ErrnoText(errno);
  ASSERT_TRUE(Mount({}));
  ASSERT_TRUE(WriteFile(P("f"), "on the loop device"));
  EXPECT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  std::string got;
  ASSERT_TRUE(ReadFile(P("f"), &got));
  EXPECT_EQ("on the loop device", got);
}

TEST_F(LoopDeviceTest, FormatRefusesADeviceHoldingExt4UnlessForced) {
  ProcResult mk = RunProcess({"mkfs.ext4", "-q", "-F", loop_}, std::chrono::seconds(120));
  ASSERT_EQ(0, mk.exit_code) << mk.Describe();
  std::string db = tmp_->Join("z.db");
  ProcResult r = RunSlotfs({"format", loop_, "--db", db});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("--force")) << r.Describe();
  ProcResult forced = RunSlotfs({"format", loop_, "--db", db, "--force"});
  EXPECT_EQ(0, forced.exit_code) << forced.Describe();
}

}  // namespace
}  // namespace slotfs::itest
