// tests/meta/claim_test.cc — meta::Claim on real files: the database lock
// meets every path to the same file and refuses links; the identity lock
// names its holder and is gone on release; a lock held by a process killed
// with SIGKILL is released by the kernel (and waited out); the database and
// its side files are created private whatever the umask.
#include "meta/claim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "meta/store.h"

namespace slotfs::meta {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

blockdev::Uuid SomeUuid() { return blockdev::NewUuid(); }

blockdev::Superblock MakeSuperblock() {
  blockdev::Superblock sb;
  sb.uuid = blockdev::NewUuid();
  sb.slot_size = 1 << 20;
  sb.slot_count = 64;
  sb.data_offset = 1 << 20;
  sb.device_size = sb.data_offset + sb.slot_count * sb.slot_size;
  return sb;
}

class ClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slotfs-claim-XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
    options_.lock_dir = dir_ + "/locks";
    ASSERT_EQ(0, mkdir(options_.lock_dir.c_str(), 0755));
    db_ = dir_ + "/fs.db";
    int fd = open(db_.c_str(), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  }
  static bool Exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }

  // Forks a child that runs `take` (which must hold a lock on return), tells
  // us over a pipe that it holds it, then waits to be killed. Returns its pid.
  pid_t ChildHolding(const std::function<bool()>& take) {
    int p[2];
    EXPECT_EQ(0, pipe(p));
    pid_t pid = fork();
    if (pid == 0) {
      close(p[0]);
      char c = take() ? 'L' : 'F';
      if (write(p[1], &c, 1) != 1) _exit(3);
      for (;;) pause();
    }
    close(p[1]);
    char c = 0;
    EXPECT_EQ(1, read(p[0], &c, 1));
    close(p[0]);
    EXPECT_EQ('L', c) << "the child could not take its lock";
    return pid;
  }

  std::string dir_, db_;
  ClaimOptions options_;
};

TEST_F(ClaimTest, SecondDatabaseLockIsBusyAndNamesTheHolder) {
  auto first = LockDatabase(db_, options_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = LockDatabase(db_, options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(EBUSY, second.status().code());
  EXPECT_NE(std::string::npos,
            second.status().message().find("pid " + std::to_string(getpid())))
      << second.status().message();
  first.value().Release();
  EXPECT_TRUE(LockDatabase(db_, options_).ok()) << "released lock still refuses";
}

TEST_F(ClaimTest, HardLinkToTheDatabaseMeetsTheSameLock) {
  const std::string other = dir_ + "/other-name.db";
  ASSERT_EQ(0, link(db_.c_str(), other.c_str()));
  auto first = LockDatabase(db_, options_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = LockDatabase(other, options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(EBUSY, second.status().code());
}

TEST_F(ClaimTest, SymlinkAtTheDatabasePathIsRefused) {
  const std::string link_path = dir_ + "/link.db";
  ASSERT_EQ(0, symlink(db_.c_str(), link_path.c_str()));
  auto lock = LockDatabase(link_path, options_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(ELOOP, lock.status().code());
  EXPECT_NE(std::string::npos, lock.status().message().find("symbolic link"));
}

TEST_F(ClaimTest, MissingDatabaseIsEnoent) {
  auto lock = LockDatabase(dir_ + "/none.db", options_);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(ENOENT, lock.status().code());
}

TEST_F(ClaimTest, IdentityLockRecordsTheHolderAndIsRemovedOnRelease) {
  const blockdev::Uuid uuid = SomeUuid();
  const std::string path = options_.lock_dir + "/" + blockdev::UuidToString(uuid) + ".lock";
  {
    auto first = LockIdentity(uuid, {"mount", "/dev/x", "/mnt/kv"}, options_);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    auto second = LockIdentity(uuid, {"check --repair", "/tmp/clone.img", ""}, options_);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(EBUSY, second.status().code());
    const std::string& m = second.status().message();
    EXPECT_NE(std::string::npos, m.find("pid " + std::to_string(getpid()))) << m;
    EXPECT_NE(std::string::npos, m.find("slotfs mount /dev/x on /mnt/kv")) << m;
    EXPECT_TRUE(Exists(path));
  }
  EXPECT_FALSE(Exists(path)) << "the identity lock file outlived its claim";
  EXPECT_TRUE(LockIdentity(uuid, {"mount", "", ""}, options_).ok());
}

TEST_F(ClaimTest, DifferentUuidsDoNotConflict) {
  auto a = LockIdentity(SomeUuid(), {"mount", "", ""}, options_);
  auto b = LockIdentity(SomeUuid(), {"mount", "", ""}, options_);
  EXPECT_TRUE(a.ok() && b.ok());
}

TEST_F(ClaimTest, SymlinkAsIdentityLockFileIsRefused) {
  const blockdev::Uuid uuid = SomeUuid();
  const std::string path = options_.lock_dir + "/" + blockdev::UuidToString(uuid) + ".lock";
  ASSERT_EQ(0, symlink((dir_ + "/victim").c_str(), path.c_str()));
  auto lock = LockIdentity(uuid, {"mount", "", ""}, options_);
  EXPECT_FALSE(lock.ok());
  EXPECT_FALSE(Exists(dir_ + "/victim")) << "the lock followed a planted symlink";
}

TEST_F(ClaimTest, ClaimOfAKilledHolderIsReleasedByTheKernel) {
  const blockdev::Uuid uuid = SomeUuid();
  pid_t child = ChildHolding([&] {
    auto c = ClaimFilesystem(db_, uuid, {"mount", "img", "mnt"}, options_);
    if (!c.ok()) return false;
    new Claim(std::move(c.value()));  // held until the child dies
    return true;
  });
  auto busy = ClaimFilesystem(db_, uuid, {"check", "img", ""}, options_);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(EBUSY, busy.status().code());
  EXPECT_NE(std::string::npos, busy.status().message().find("pid " + std::to_string(child)))
      << busy.status().message();

  ASSERT_EQ(0, kill(child, SIGKILL));
  // Not reaped yet: the claim is waited out, not raced.
  ClaimOptions waiting = options_;
  waiting.wait = seconds(60);
  auto after = ClaimFilesystem(db_, uuid, {"mount", "img", "mnt"}, waiting);
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  int status = 0;
  ASSERT_EQ(child, waitpid(child, &status, 0));
}

TEST_F(ClaimTest, BusyClaimWithoutWaitFailsAtOnce) {
  pid_t child = ChildHolding([&] {
    auto c = LockDatabase(db_, options_);
    if (!c.ok()) return false;
    new FileLock(std::move(c.value()));
    return true;
  });
  auto start = std::chrono::steady_clock::now();
  auto busy = LockDatabase(db_, options_);
  EXPECT_FALSE(busy.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST_F(ClaimTest, NewDatabaseAndSideFilesArePrivateUnderUmask0) {
  const std::string path = dir_ + "/new.db";
  mode_t old = umask(0);
  auto store = Store::Create(path, MakeSuperblock(), 0, 0, false);
  umask(old);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(store.value()->CreateInode(InodeNo(1), "f", S_IFREG | 0644, 0, 0, 1,
                                         InodeState::kComplete).ok());
  EXPECT_EQ(0600u, ModeOf(path));
  for (const char* side : {"-wal", "-shm"}) {
    if (Exists(path + side)) {
      EXPECT_EQ(0600u, ModeOf(path + side)) << side;
    }
  }
}

TEST_F(ClaimTest, StoreCreateRefusesADanglingSymlink) {
  const std::string link_path = dir_ + "/dangling.db";
  const std::string target = dir_ + "/chosen-by-someone-else";
  ASSERT_EQ(0, symlink(target.c_str(), link_path.c_str()));
  for (bool overwrite : {false, true}) {
    auto store = Store::Create(link_path, MakeSuperblock(), 0, 0, overwrite);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(ELOOP, store.status().code()) << store.status().ToString();
  }
  EXPECT_FALSE(Exists(target)) << "a file was created through the link";
  EXPECT_TRUE(Exists(link_path)) << "--force removed the link";
}

TEST_F(ClaimTest, RestrictDatabaseModeNeverLeavesItWiderThanTheDevice) {
  for (const char* side : {"", "-wal", "-shm"}) {
    const std::string p = db_ + side;
    int fd = open(p.c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
    ASSERT_EQ(0, chmod(p.c_str(), 0664));
  }
  auto n = RestrictDatabaseMode(db_, 0640);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(3, n.value());
  for (const char* side : {"", "-wal", "-shm"}) EXPECT_EQ(0640u, ModeOf(db_ + side)) << side;
  n = RestrictDatabaseMode(db_, 0600);
  ASSERT_TRUE(n.ok());
  for (const char* side : {"", "-wal", "-shm"}) EXPECT_EQ(0600u, ModeOf(db_ + side)) << side;
  n = RestrictDatabaseMode(db_, 0666);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(0, n.value()) << "never widened";
}

}  // namespace
}  // namespace slotfs::meta
