// tests/integration/committed_slot_test.cc — a file whose last slot was
// committed (by close, by closing a duplicate, by msync) and which then grows
// from a later slot stays readable and byte-exact, through a remount and a
// scrub. slotfs once kept the committed slot's checksum of its old length
// and dropped such files as corrupt on the next read.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

constexpr uint64_t kSlot = 64 * kKiB;  // the format default

class CommittedSlotTest : public MountTest {
 protected:
  std::string ReadFile(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY));
    if (!fd.ok()) {
      ADD_FAILURE() << "open " << path << ": " << ErrnoText(errno);
      return {};
    }
    std::string out, buf(256 * 1024, '\0');
    for (;;) {
      ssize_t n = read(fd.get(), buf.data(), buf.size());
      if (n < 0) {
        ADD_FAILURE() << "read " << path << " at " << out.size() << ": " << ErrnoText(errno);
        return out;
      }
      if (n == 0) return out;
      out.append(buf.data(), size_t(n));
    }
  }

  // The file reads as `want` now, after a remount, and the image scrubs
  // clean.
  void ExpectKept(const std::string& name, const std::string& want) {
    EXPECT_SAME_BYTES(want, ReadFile(P(name)));
    ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
    ProcResult check = RunSlotfs({"check", "--scrub", image_});
    EXPECT_EQ(0, check.exit_code) << check.Describe();
    ASSERT_TRUE(mount_->Start()) << mount_->Log();
    EXPECT_SAME_BYTES(want, ReadFile(P(name)));
  }
};

TEST_F(CommittedSlotTest, OneByteWrittenOneSlotLaterAfterCloseKeepsTheFile) {
  ProcResult r = RunShell("cd " + ShellQuote(mnt_) +
                          " && printf hello > f"
                          " && dd if=/dev/zero of=f bs=1 count=1 seek=" + std::to_string(kSlot) + " conv=notrunc"
                          " status=none && cat f > /dev/null");
  ASSERT_EQ(0, r.exit_code) << r.Describe() << mount_->Log();
  std::string want = "hello" + std::string(kSlot + 1 - 5, '\0');
  ExpectKept("f", want);
}

TEST_F(CommittedSlotTest, ClosingADuplicateThenWritingALaterSlotKeepsTheFile) {
  std::string path = P("dup");
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok());
  std::string head = PatternBytes(1, 3000);
  ASSERT_EQ(ssize_t(head.size()), pwrite(fd.get(), head.data(), head.size(), 0));
  int dup_fd = dup(fd.get());
  ASSERT_GE(dup_fd, 0);
  ASSERT_EQ(0, close(dup_fd));  // FLUSH: freezes the version to commit
  std::string tail = PatternBytes(2, 100);
  ASSERT_EQ(ssize_t(tail.size()), pwrite(fd.get(), tail.data(), tail.size(), 2 * kSlot + 7));
  ASSERT_EQ(0, fd.Reset());
  std::string want = head + std::string(2 * kSlot + 7 - head.size(), '\0') + tail;
  ExpectKept("dup", want);
}

TEST_F(CommittedSlotTest, MsyncOfAMappingThenPwriteOfALaterSlotKeepsTheFile) {
  std::string path = P("mm");
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, ftruncate(fd.get(), 10000));
  void* m = mmap(nullptr, 10000, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(MAP_FAILED, m) << ErrnoText(errno);
  std::string mapped = PatternBytes(3, 10000);
  memcpy(m, mapped.data(), mapped.size());
  ASSERT_EQ(0, msync(m, 10000, MS_SYNC)) << ErrnoText(errno);
  ASSERT_EQ(0, munmap(m, 10000));
  ASSERT_EQ(0, fsync(fd.get()));  // the 10000-byte version is durable
  std::string tail = PatternBytes(4, 5000);
  ASSERT_EQ(ssize_t(tail.size()), pwrite(fd.get(), tail.data(), tail.size(), kSlot + 123));
  ASSERT_EQ(0, fd.Reset());
  std::string want = mapped + std::string(kSlot + 123 - mapped.size(), '\0') + tail;
  ExpectKept("mm", want);
}

}  // namespace
}  // namespace slotfs::itest
