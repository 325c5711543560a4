// core::Filesystem with its database on a filesystem that fills up or turns
// read-only: clear errors, no crash, nothing committed lost.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

// The database lives on a small tmpfs of its own (needs root to mount).
class DatabaseFaultsTest : public FsTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs for the database";
    char tmpl[] = "/tmp/slotfs-dbfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dbfs_ = tmpl;
    ASSERT_EQ(::mount("tmpfs", dbfs_.c_str(), "tmpfs", 0, "size=2m"), 0) << strerror(errno);
    mounted_ = true;
    FsTest::SetUp();
  }
  void TearDown() override {
    FsTest::TearDown();
    if (mounted_) ::umount2(dbfs_.c_str(), MNT_DETACH);
    if (!dbfs_.empty()) ::rmdir(dbfs_.c_str());
  }
  std::string DbPath() override { return dbfs_ + "/img.db"; }

  // Fills the tmpfs to the last byte.
  void FillDbDisk() {
    int fd = ::open((dbfs_ + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::vector<char> buf(4096, 'f');
    while (::write(fd, buf.data(), buf.size()) > 0) {
    }
    ::close(fd);
  }
  void FreeDbDisk() { ::unlink((dbfs_ + "/filler").c_str()); }

  std::string dbfs_;
  bool mounted_ = false;
};

TEST_F(DatabaseFaultsTest, FullDatabaseDiskFailsFsyncAndKeepsCommittedFiles) {
  auto kept = Pattern(2 * kSlot, 1);
  InodeNo k = WriteFile(kRootInode, "kept", kept);
  ASSERT_TRUE(fs_->CommitNow().ok());
  FillDbDisk();
  // Many files: the WAL must grow, and cannot.
  std::vector<std::vector<uint8_t>> datas;
  Status commit;
  for (int i = 0; i < 200 && commit.ok(); ++i) {
    datas.push_back(Pattern(kSlot, 100 + i));
    Attr attr;
    auto of = fs_->Create(kRootInode, "f" + std::to_string(i), 0644, 0, 0,
                          O_WRONLY | O_CREAT, &attr);
    if (!of.ok()) {
      commit = of.status();
      break;
    }
    ASSERT_TRUE(fs_->Write(*of.value(), 0, datas.back()).ok());
    commit = fs_->Fsync(*of.value());
    fs_->Release(std::move(of.value()));
  }
  EXPECT_FALSE(commit.ok()) << "a 2 MiB database disk never filled up";
  EXPECT_TRUE(commit.code() == ENOSPC || commit.code() == EIO) << commit.ToString();
  EXPECT_EQ(ReadAll(k), kept);
  FreeDbDisk();
  EXPECT_TRUE(fs_->CommitNow().ok()) << "commits resume once there is room";
  Remount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "kept")), kept);
}

TEST_F(DatabaseFaultsTest, ReadOnlyDatabaseRefusesToMountWithAClearError) {
  WriteFile(kRootInode, "a", Pattern(kSlot, 2));
  ASSERT_TRUE(fs_->Shutdown().ok());
  fs_.reset();
  ASSERT_EQ(::mount("tmpfs", dbfs_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=2m"), 0)
      << strerror(errno);
  auto store = meta::Store::Open(DbPath(), sb_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), EROFS) << store.status().ToString();
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos)
      << store.status().message();
  ASSERT_EQ(::mount("tmpfs", dbfs_.c_str(), "tmpfs", MS_REMOUNT, "size=2m"), 0);
  Mount();
  EXPECT_EQ(ReadAll(Ino(kRootInode, "a")), Pattern(kSlot, 2));
}

TEST_F(DatabaseFaultsTest, MissingDatabaseFileIsENOENTNamingIt) {
  ASSERT_TRUE(fs_->Shutdown().ok());
  fs_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((DbPath() + suffix).c_str());
  auto store = meta::Store::Open(DbPath(), sb_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ENOENT);
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos);
}

}  // namespace
}  // namespace slotfs::core::testing
