// tests/integration/posix_test.cc — POSIX details ordinary tools rely on,
// through a real mount: directory times and link counts (find, make, rsync),
// statvfs inode counts (df -i), fallocate (fallocate(1), preallocating
// writers).

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

constexpr int64_t kOldSec = 1'000'000;  // 1970-01-12: "changed" is unambiguous

class PosixTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 256 * kMiB;
    c.slot_size = "1M";
    // ENOSPC tests must not evict the other files instead.
    c.mount_args = {"--evict", "none"};
    return c;
  }
  void Age(const std::string& path) {
    struct timespec ts[2] = {{kOldSec, 0}, {kOldSec, 0}};
    ASSERT_EQ(0, utimensat(AT_FDCWD, path.c_str(), ts, 0)) << path << ": " << ErrnoText(errno);
  }
  struct stat Stat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(0, stat(path.c_str(), &st)) << path << ": " << ErrnoText(errno);
    return st;
  }
  ::testing::AssertionResult Changed(const std::string& path) {
    struct stat st = Stat(path);
    if (st.st_mtim.tv_sec <= kOldSec) return ::testing::AssertionFailure() << path << ": mtime unchanged";
    if (st.st_ctim.tv_sec < st.st_mtim.tv_sec) return ::testing::AssertionFailure() << path << ": ctime behind mtime";
    return ::testing::AssertionSuccess();
  }
  void Remount() {
    ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
    ASSERT_TRUE(mount_->Remount());
  }
};

TEST_F(PosixTest, DirectoryTimesChangeWithEntriesAndPersist) {
  ASSERT_EQ(0, mkdir(P("a").c_str(), 0755));
  ASSERT_EQ(0, mkdir(P("b").c_str(), 0755));
  Age(P("a"));
  ASSERT_TRUE(WriteFile(P("a/f"), "x"));
  EXPECT_TRUE(Changed(P("a"))) << "create";
  Age(P("a"));
  Age(P("b"));
  ASSERT_EQ(0, rename(P("a/f").c_str(), P("b/g").c_str())) << ErrnoText(errno);
  EXPECT_TRUE(Changed(P("a"))) << "rename: source directory";
  EXPECT_TRUE(Changed(P("b"))) << "rename: target directory";
  Age(P("b"));
  ASSERT_EQ(0, unlink(P("b/g").c_str()));
  EXPECT_TRUE(Changed(P("b"))) << "unlink";
  Age(P("a"));
  ASSERT_EQ(0, mkdir(P("a/sub").c_str(), 0755));
  EXPECT_TRUE(Changed(P("a"))) << "mkdir";
  struct stat before = Stat(P("a"));
  Remount();
  struct stat after = Stat(P("a"));
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(before.st_ctim.tv_sec, after.st_ctim.tv_sec);
  // Only entries change a directory's mtime: a file's write does not.
  Age(P("a"));
  ASSERT_TRUE(WriteFile(P("a/sub/deeper"), "y"));
  EXPECT_EQ(kOldSec, Stat(P("a")).st_mtim.tv_sec) << "a grandchild changed a's mtime";
}

TEST_F(PosixTest, DirectoryLinkCountIsTwoPlusSubdirectories) {
  // The root holds .slotfs, the control directory, too.
  EXPECT_EQ(3u, Stat(mnt_).st_nlink);
  ASSERT_EQ(0, mkdir(P("d").c_str(), 0755));
  ASSERT_EQ(0, mkdir(P("e").c_str(), 0755));
  ASSERT_TRUE(WriteFile(P("d/file"), "x"));
  EXPECT_EQ(2u, Stat(P("d")).st_nlink) << "files do not count";
  for (const char* s : {"d/1", "d/2", "d/3"}) ASSERT_EQ(0, mkdir(P(s).c_str(), 0755));
  EXPECT_EQ(5u, Stat(P("d")).st_nlink);
  EXPECT_EQ(5u, Stat(mnt_).st_nlink);
  ASSERT_EQ(0, rename(P("d/3").c_str(), P("e/3").c_str()));
  EXPECT_EQ(4u, Stat(P("d")).st_nlink);
  EXPECT_EQ(3u, Stat(P("e")).st_nlink);
  ASSERT_EQ(0, rmdir(P("d/1").c_str()));
  EXPECT_EQ(3u, Stat(P("d")).st_nlink);
  // find relies on the count to skip looking for subdirectories.
  ProcResult r = RunShell("cd " + ShellQuote(mnt_) + " && find d e -type d | sort");
  EXPECT_EQ("d\nd/2\ne\ne/3\n", r.out) << r.Describe();
  Remount();
  EXPECT_EQ(3u, Stat(P("d")).st_nlink);
  EXPECT_EQ(3u, Stat(P("e")).st_nlink);
  EXPECT_EQ(5u, Stat(mnt_).st_nlink);
}

TEST_F(PosixTest, StatvfsReportsInodesSoDfMinusIShowsThem) {
  struct statvfs v0;
  ASSERT_TRUE(StatVfs(&v0));
  EXPECT_GT(v0.f_files, 0u);
  EXPECT_EQ(v0.f_ffree, v0.f_favail);
  EXPECT_EQ(1u, v0.f_files - v0.f_ffree) << "only the root is in use";
  EXPECT_EQ(v0.f_ffree, v0.f_bfree / (kMiB / v0.f_frsize)) << "one inode per free slot";
  ASSERT_EQ(0, mkdir(P("d").c_str(), 0755));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(WriteFile(P("d/f" + std::to_string(i)), "x"));
  struct statvfs v1;
  ASSERT_TRUE(StatVfs(&v1));
  EXPECT_EQ(7u, v1.f_files - v1.f_ffree);
  EXPECT_EQ(v1.f_ffree, v1.f_favail);
  // df -i -P: Filesystem Inodes IUsed IFree IUse% Mounted-on.
  ProcResult df = RunProcess({"df", "-i", "-P", mnt_});
  ASSERT_EQ(0, df.exit_code) << df.Describe();
  unsigned long total = 0, used = 0, free = 0;
  size_t nl = df.out.find('\n');
  ASSERT_NE(std::string::npos, nl) << df.Describe();
  ASSERT_EQ(3, sscanf(df.out.c_str() + nl + 1, "%*s %lu %lu %lu", &total, &used, &free))
      << df.Describe();
  EXPECT_EQ(7u, used) << df.out;
  EXPECT_EQ(v1.f_files, total) << df.out;
  EXPECT_EQ(v1.f_ffree, free) << df.out;
}

TEST_F(PosixTest, FallocateReservesKeepsSizeAndPunchesHoles) {
  UniqueFd fd(open(P("f").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  const std::string head = PatternBytes(1, 1000);
  ASSERT_EQ(ssize_t(head.size()), pwrite(fd.get(), head.data(), head.size(), 0));
  // mode 0: reserves and extends; the new range reads as zeros.
  ASSERT_EQ(0, fallocate(fd.get(), 0, 0, 3 * kMiB + 5)) << ErrnoText(errno);
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(off_t(3 * kMiB + 5), st.st_size);
  EXPECT_EQ(blkcnt_t(4 * kMiB / 512), st.st_blocks);
  // KEEP_SIZE: more slots, same size.
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 6 * kMiB)) << ErrnoText(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(off_t(3 * kMiB + 5), st.st_size);
  EXPECT_EQ(blkcnt_t(6 * kMiB / 512), st.st_blocks);
  // Unsupported modes fail cleanly.
  EXPECT_ERRNO(EOPNOTSUPP, fallocate(fd.get(), FALLOC_FL_ZERO_RANGE, 0, kMiB));
  EXPECT_ERRNO(EOPNOTSUPP, fallocate(fd.get(), FALLOC_FL_COLLAPSE_RANGE, 0, kMiB));
  fd.Reset();
  std::string want = head;
  want.resize(3 * kMiB + 5, '\0');
  std::string got;
  ASSERT_TRUE(ReadFile(P("f"), &got));
  EXPECT_SAME_BYTES(want, got);

  // Punch [500, 2 MiB + 10): slot 1 goes, slots 0 and 2 get zeros.
  const std::string body = PatternBytes(2, 3 * kMiB + 5);
  ASSERT_TRUE(WriteFile(P("f"), body));
  fd = UniqueFd(open(P("f").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 500,
                         2 * kMiB + 10 - 500))
      << ErrnoText(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(off_t(body.size()), st.st_size);
  EXPECT_EQ(blkcnt_t(3 * kMiB / 512), st.st_blocks);
  fd.Reset();
  want = body;
  std::fill(want.begin() + 500, want.begin() + 2 * kMiB + 10, '\0');
  ASSERT_TRUE(ReadFile(P("f"), &got));
  EXPECT_SAME_BYTES(want, got);
  // What committed is consistent: no extent past EOF, checksums match.
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  ProcResult check = RunSlotfs({"check", "--scrub", image_});
  EXPECT_EQ(0, check.exit_code) << check.Describe();
  ASSERT_TRUE(mount_->Remount());
  ASSERT_TRUE(ReadFile(P("f"), &got));
  EXPECT_SAME_BYTES(want, got);
  EXPECT_EQ(blkcnt_t(3 * kMiB / 512), Stat(P("f")).st_blocks);
}

TEST_F(PosixTest, FallocateToolPreallocatesAFile) {
  // -l: reserve and extend; -n: reserve the holes of a sparse file; -p:
  // punch 2 MiB out of it. Sizes in bytes, blocks of 512.
  ProcResult r = RunShell("cd " + ShellQuote(mnt_) +
                          " && fallocate -l 5M pre && stat -c '%s %b' pre && "
                          "cmp -n 5242880 pre /dev/zero && echo zeros && "
                          "truncate -s 4M sparse && stat -c '%s %b' sparse && "
                          "fallocate -n -l 4M sparse && stat -c '%s %b' sparse && "
                          "fallocate -p -o 1M -l 2M sparse && stat -c '%s %b' sparse && "
                          "cmp sparse /dev/zero; true");
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("5242880 10240\nzeros\n4194304 0\n4194304 8192\n4194304 4096\n", r.out)
      << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("EOF on sparse")) << "reads as zeros to its end: "
                                                            << r.Describe();
  // No space: ENOSPC, nothing reserved.
  struct statvfs v;
  ASSERT_TRUE(StatVfs(&v));
  UniqueFd fd(open(P("big").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  EXPECT_ERRNO(ENOSPC, fallocate(fd.get(), 0, 0, off_t(v.f_bfree * v.f_frsize + 2 * kMiB)));
  struct statvfs v2;
  ASSERT_TRUE(StatVfs(&v2));
  EXPECT_EQ(v.f_bfree, v2.f_bfree);
}

}  // namespace
}  // namespace slotfs::itest
