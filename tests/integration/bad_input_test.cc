// tests/integration/bad_input_test.cc — bad input gets a clear error and
// loses nothing (DESIGN §7): long names, writes past the maximum size, a full
// filesystem, unsupported operations, a mismatched database, corrupt
// superblocks.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Overwrites [off, off + len) of `path` with a junk pattern.
::testing::AssertionResult Scribble(const std::string& path, off_t off, size_t len) {
  UniqueFd fd(open(path.c_str(), O_WRONLY));
  if (!fd.ok()) return ::testing::AssertionFailure() << "open(" << path << "): " << ErrnoText(errno);
  std::string junk = PatternBytes(uint64_t(off) + 77, len);
  if (pwrite(fd.get(), junk.data(), len, off) != ssize_t(len)) {
    return ::testing::AssertionFailure() << "pwrite(" << path << "): " << ErrnoText(errno);
  }
  if (fsync(fd.get()) != 0) return ::testing::AssertionFailure() << "fsync: " << ErrnoText(errno);
  return ::testing::AssertionSuccess();
}

constexpr off_t kSuperblock0 = 0;
constexpr off_t kSuperblock1 = 524288;
constexpr size_t kSuperblockLen = 4096;

class BadInputTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 64 * kMiB;  // small: filling it is quick
    return c;
  }
  void SetUp() override {
    signal(SIGXFSZ, SIG_IGN);  // EFBIG must come back as an errno
    MountTest::SetUp();
  }
  uint64_t Capacity() {
    struct statvfs v {};
    EXPECT_TRUE(StatVfs(&v));
    return uint64_t(v.f_blocks) * v.f_frsize;
  }
  // The daemon still serves requests: it is alive and a file round-trips.
  void ExpectDaemonServing(const std::string& after) {
    EXPECT_TRUE(mount_->Alive()) << "the daemon died after " << after;
    std::string probe = P("probe-" + std::to_string(probe_++));
    EXPECT_TRUE(WriteFile(probe, "still here")) << "after " << after;
    std::string got;
    EXPECT_TRUE(ReadFile(probe, &got)) << "after " << after;
    EXPECT_EQ("still here", got) << "after " << after;
  }
  int probe_ = 0;
};

TEST_F(BadInputTest, NameOf255BytesWorksAnd256FailsWithEnametoolong) {
  std::string n255(255, 'k'), n256(256, 'k');
  ASSERT_TRUE(WriteFile(P(n255), "ok"));
  struct stat st;
  EXPECT_EQ(0, stat(P(n255).c_str(), &st)) << ErrnoText(errno);
  EXPECT_ERRNO(ENAMETOOLONG, open(P(n256).c_str(), O_WRONLY | O_CREAT, 0644));
  EXPECT_ERRNO(ENAMETOOLONG, stat(P(n256).c_str(), &st));
  EXPECT_ERRNO(ENAMETOOLONG, mkdir(P(n256).c_str(), 0755));
  EXPECT_ERRNO(ENAMETOOLONG, rename(P(n255).c_str(), P(n256).c_str()));
  // 255 bytes of a multi-byte name (85 three-byte characters) is fine too.
  std::string utf8;
  for (int i = 0; i < 85; ++i) utf8 += "\xe2\x82\xac";  // U+20AC
  ASSERT_EQ(255u, utf8.size());
  EXPECT_EQ(0, mkdir(P(utf8).c_str(), 0755)) << ErrnoText(errno);
  EXPECT_ERRNO(ENAMETOOLONG, mkdir(P(utf8 + "x").c_str(), 0755));
  ExpectDaemonServing("ENAMETOOLONG");
}

TEST_F(BadInputTest, PwriteAtOrBeyondCapacityFailsWithEfbig) {
  const uint64_t cap = Capacity();
  ASSERT_GT(cap, 0u);
  UniqueFd fd(open(P("big").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  EXPECT_ERRNO(EFBIG, pwrite(fd.get(), "x", 1, off_t(cap)));
  EXPECT_ERRNO(EFBIG, pwrite(fd.get(), "x", 1, off_t(cap) + 12345));
  EXPECT_ERRNO(EFBIG, pwrite(fd.get(), "x", 1, off_t(1) << 50));
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0, st.st_size) << "a failed write changed the size";
  // A write inside the capacity still works.
  EXPECT_EQ(1, pwrite(fd.get(), "y", 1, 4096)) << ErrnoText(errno);
  ExpectDaemonServing("EFBIG from pwrite");
}

TEST_F(BadInputTest, TruncateBeyondCapacityFailsWithEfbig) {
  const uint64_t cap = Capacity();
  ASSERT_TRUE(WriteFile(P("t"), "abc"));
  UniqueFd fd(open(P("t").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  EXPECT_ERRNO(EFBIG, ftruncate(fd.get(), off_t(cap) + 1));
  EXPECT_ERRNO(EFBIG, truncate(P("t").c_str(), off_t(cap) + kMiB));
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(3, st.st_size) << "a failed truncate changed the size";
  // Exactly the capacity is the largest allowed size.
  EXPECT_EQ(0, ftruncate(fd.get(), off_t(cap))) << ErrnoText(errno);
  EXPECT_EQ(0, ftruncate(fd.get(), 3)) << ErrnoText(errno);
  std::string got;
  ASSERT_TRUE(ReadFile(P("t"), &got));
  EXPECT_EQ("abc", got);
  ExpectDaemonServing("EFBIG from truncate");
}

TEST_F(BadInputTest, FillingTheFilesystemGivesEnospcAndKeepsStoredFiles) {
  // Pinned files are never evicted, and the open filler is not evictable.
  const std::string a = PatternBytes(1, 4 * kMiB), b = PatternBytes(2, 3 * kMiB + 5);
  ASSERT_TRUE(WriteFile(P("a"), a));
  ASSERT_TRUE(WriteFile(P("b"), b));
  ASSERT_EQ(0, setxattr(P("a").c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);
  ASSERT_EQ(0, setxattr(P("b").c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);

  const uint64_t cap = Capacity();
  UniqueFd fd(open(P("filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  // Pinned while still open: once closed, the background evictor (the
  // cache is above its high watermark) must not remove it before the
  // statvfs and unlink below, however late this thread gets the CPU.
  ASSERT_EQ(0, setxattr(P("filler").c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);
  const std::string chunk = PatternBytes(3, kMiB);
  int first_errno = 0;
  uint64_t written = 0;
  for (uint64_t i = 0; i < cap / kMiB + 8; ++i) {
    ssize_t n = write(fd.get(), chunk.data(), chunk.size());
    if (n < 0) {
      first_errno = errno;
      break;
    }
    ASSERT_EQ(ssize_t(chunk.size()), n) << "short write at " << written << " (never return a short WRITE)";
    written += uint64_t(n);
  }
  if (first_errno == 0) {
    // The error may surface at fsync/close if writes are staged.
    if (fsync(fd.get()) != 0) first_errno = errno;
  }
  int close_rc = fd.Reset();
  int close_errno = errno;
  if (first_errno == 0 && close_rc != 0) first_errno = close_errno;
  EXPECT_EQ(ENOSPC, first_errno) << "filling a " << cap << "-byte filesystem: first error was "
                                 << ErrnoText(first_errno) << " after " << written << " bytes";
  EXPECT_LE(written + a.size() + b.size(), cap);

  std::string got;
  ASSERT_TRUE(ReadFile(P("a"), &got));
  EXPECT_SAME_BYTES(a, got);
  ASSERT_TRUE(ReadFile(P("b"), &got));
  EXPECT_SAME_BYTES(b, got);
  struct statvfs v;
  ASSERT_TRUE(StatVfs(&v));
  EXPECT_LE(v.f_bfree, 256u) << "ENOSPC although more than one slot is free";

  // Removing the filler gives the space back at once: a write that finds
  // no free slot makes the quarantined slots durable-free itself.
  ASSERT_EQ(0, unlink(P("filler").c_str())) << ErrnoText(errno);
  const std::string c = PatternBytes(4, 8 * kMiB);
  EXPECT_TRUE(WriteFile(P("c"), c)) << "an 8 MiB file does not fit right after unlinking the filler";
  ASSERT_TRUE(ReadFile(P("c"), &got));
  EXPECT_SAME_BYTES(c, got);
  ASSERT_TRUE(ReadFile(P("a"), &got));
  EXPECT_SAME_BYTES(a, got);
  ExpectDaemonServing("ENOSPC");
}

bool IsUnsupported(int e) { return e == ENOTSUP || e == ENOSYS; }

TEST_F(BadInputTest, SymlinkLinkAndMknodFailWithEnotsupAndDaemonSurvives) {
  ASSERT_TRUE(WriteFile(P("f"), "data"));
  errno = 0;
  EXPECT_EQ(-1, symlink("f", P("sym").c_str()));
  EXPECT_TRUE(IsUnsupported(errno)) << "symlink: " << ErrnoText(errno);
  ExpectDaemonServing("symlink");

  errno = 0;
  EXPECT_EQ(-1, link(P("f").c_str(), P("hard").c_str()));
  EXPECT_TRUE(IsUnsupported(errno)) << "link: " << ErrnoText(errno);
  ExpectDaemonServing("link");

  errno = 0;
  EXPECT_EQ(-1, mkfifo(P("fifo").c_str(), 0644));
  EXPECT_TRUE(IsUnsupported(errno)) << "mkfifo: " << ErrnoText(errno);
  ExpectDaemonServing("mkfifo");

  errno = 0;
  EXPECT_EQ(-1, mknod(P("null").c_str(), S_IFCHR | 0644, makedev(1, 3)));
  EXPECT_TRUE(IsUnsupported(errno)) << "mknod S_IFCHR: " << ErrnoText(errno);
  ExpectDaemonServing("mknod");

  struct stat st;
  for (const char* n : {"sym", "hard", "fifo", "null"}) {
    EXPECT_ERRNO(ENOENT, lstat(P(n).c_str(), &st));
  }
  std::string got;
  ASSERT_TRUE(ReadFile(P("f"), &got));
  EXPECT_EQ("data", got);
}

// Tests that mount something other than the fixture's image.
class BadMountTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 64 * kMiB;
    return c;
  }
  // Runs `slotfs mount ... -f`, expecting it to refuse quickly.
  ProcResult MountExpectingRefusal(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"mount", image_, mnt_, "-f"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcResult r = RunSlotfs(args, std::chrono::seconds(20));
    EXPECT_FALSE(IsMountPoint(mnt_)) << "a refused mount left " << mnt_ << " mounted";
    if (IsMountPoint(mnt_)) DetachMountsUnder(mnt_);
    return r;
  }
  // Puts a file on the fixture mount, then unmounts it.
  void StoreFileAndUnmount() {
    ASSERT_TRUE(WriteFile(P("keep"), PatternBytes(5, 3 * kMiB)));
    ASSERT_EQ(0, mount_->Unmount());
  }
  void ExpectFileKept() {
    ASSERT_TRUE(mount_->Remount());
    std::string got;
    ASSERT_TRUE(ReadFile(P("keep"), &got));
    EXPECT_SAME_BYTES(PatternBytes(5, 3 * kMiB), got);
  }
};

TEST_F(BadMountTest, MountWithDatabaseOfAnotherImageFailsNamingUuid) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  std::string other = tmp_->Join("other.img");
  ProcResult f = Format(other, 64 * kMiB);
  ASSERT_EQ(0, f.exit_code) << f.Describe();
  ProcResult r = MountExpectingRefusal({"--db", other + ".db"});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, Lower(r.err).find("uuid")) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
  // Both images are untouched by the refusal.
  ExpectFileKept();
}

TEST_F(BadMountTest, MountWithMissingDatabaseFails) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  ASSERT_EQ(0, rename(db_.c_str(), (db_ + ".moved").c_str())) << ErrnoText(errno);
  ProcResult r = MountExpectingRefusal({});
  EXPECT_EQ(1, r.exit_code) << "mounting an image whose database is missing must refuse, not start empty\n"
                            << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
  ASSERT_EQ(0, rename((db_ + ".moved").c_str(), db_.c_str()));
  for (const char* sfx : {"-wal", "-shm"}) unlink((db_ + sfx).c_str());
  ExpectFileKept();
}

TEST_F(BadMountTest, MountWithBothSuperblocksCorruptFailsNamingSuperblock) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  ASSERT_TRUE(Scribble(image_, kSuperblock0, kSuperblockLen));
  ASSERT_TRUE(Scribble(image_, kSuperblock1, kSuperblockLen));
  ProcResult r = MountExpectingRefusal({});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, Lower(r.err).find("superblock")) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
  ProcResult info = RunSlotfs({"info", image_});
  EXPECT_EQ(1, info.exit_code) << info.Describe();
}

TEST_F(BadMountTest, MountWithPrimarySuperblockCorruptUsesTheBackupCopy) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  ASSERT_TRUE(Scribble(image_, kSuperblock0, kSuperblockLen));
  ExpectFileKept();
}

TEST_F(BadMountTest, MountWithBackupSuperblockCorruptUsesThePrimaryCopy) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  ASSERT_TRUE(Scribble(image_, kSuperblock1, kSuperblockLen));
  ExpectFileKept();
}

TEST_F(BadMountTest, MountOfAnImageTruncatedBelowItsGeometryFails) {
  ASSERT_NO_FATAL_FAILURE(StoreFileAndUnmount());
  ASSERT_EQ(0, truncate(image_.c_str(), 32 * kMiB)) << ErrnoText(errno);
  ProcResult r = MountExpectingRefusal({});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
}

TEST_F(BadMountTest, MountOfAFileThatIsNotSlotfsFails) {
  mount_->Unmount();
  std::string junk = tmp_->Join("junk.img");
  ASSERT_TRUE(WriteFile(junk, PatternBytes(6, 8 * kMiB)));
  ProcResult r = RunSlotfs({"mount", junk, mnt_, "-f", "--db", db_}, std::chrono::seconds(20));
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
  EXPECT_FALSE(IsMountPoint(mnt_));
  if (IsMountPoint(mnt_)) DetachMountsUnder(mnt_);
}

TEST_F(BadMountTest, MountOfMissingDeviceOrMountpointFails) {
  mount_->Unmount();
  ProcResult r = RunSlotfs({"mount", tmp_->Join("nope.img"), mnt_, "-f"}, std::chrono::seconds(20));
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
  r = RunSlotfs({"mount", image_, tmp_->Join("no-such-dir"), "-f"}, std::chrono::seconds(20));
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("slotfs: error:")) << r.Describe();
}

}  // namespace
}  // namespace slotfs::itest
