// meta::ScanDatabase: a read-only streaming pass over a database, also
// while another connection holds it open and writes (the mounted case).
#include "meta/scan.h"

#include <vector>

#include "tests/meta/store_fixture.h"

namespace slotfs::meta::testing {
namespace {

class ScanTest : public StoreTest {
 protected:
  // Scans path_, collecting directory and file names in callback order.
  Status Scan(std::vector<std::string>* dirs, std::vector<ScannedEntry>* files) {
    ScanCallbacks cb;
    cb.on_directory = [&](const ScannedEntry& e) {
      dirs->push_back(e.name);
      return Status::Ok();
    };
    cb.on_file = [&](const ScannedEntry& e) {
      files->push_back(e);
      return Status::Ok();
    };
    return ScanDatabase(path_, cb);
  }
};

TEST_F(ScanTest, DirectoriesComeBeforeFilesWithTheirRows) {
  CreateStore();
  InodeNo d = MakeDir(kRootInode, "sub");
  InodeNo a = MakeFile(kRootInode, "a.pt");
  InodeNo b = MakeFile(d, "b.pt", InodeState::kWriting);
  CommitExtents(a, {Extent{0, SlotId(10), 2, {}}}, 100000);
  SLOTFS_ASSERT_OK(store_->SetPin(a, 1));
  std::vector<std::string> dirs;
  std::vector<ScannedEntry> files;
  SLOTFS_ASSERT_OK(Scan(&dirs, &files));
  EXPECT_EQ((std::vector<std::string>{"", "sub"}), dirs);
  ASSERT_EQ(2u, files.size());
  EXPECT_EQ(a, files[0].ino);
  EXPECT_EQ("a.pt", files[0].name);
  EXPECT_EQ(kRootInode, files[0].parent);
  EXPECT_EQ(100000u, files[0].size);
  EXPECT_EQ(2u, files[0].slots);
  EXPECT_EQ(1u, files[0].pin);
  EXPECT_EQ(InodeState::kComplete, files[0].state);
  EXPECT_GT(files[0].mtime_ns, 0);
  EXPECT_EQ(b, files[1].ino);
  EXPECT_EQ(d, files[1].parent);
  EXPECT_EQ(InodeState::kWriting, files[1].state);
}

TEST_F(ScanTest, WorksWhileTheDatabaseIsOpenForWriting) {
  CreateStore();
  for (int i = 0; i < 50; ++i) MakeFile(kRootInode, "f" + std::to_string(i));
  // store_ stays open (as the daemon's); the scan has its own connection.
  std::vector<std::string> dirs;
  std::vector<ScannedEntry> files;
  SLOTFS_ASSERT_OK(Scan(&dirs, &files));
  EXPECT_EQ(50u, files.size());
  // And the writer is not blocked afterwards.
  MakeFile(kRootInode, "after");
  files.clear();
  dirs.clear();
  SLOTFS_ASSERT_OK(Scan(&dirs, &files));
  EXPECT_EQ(51u, files.size());
}

TEST_F(ScanTest, ACallbackErrorStopsTheScan) {
  CreateStore();
  for (int i = 0; i < 5; ++i) MakeFile(kRootInode, "f" + std::to_string(i));
  int seen = 0;
  ScanCallbacks cb;
  cb.on_file = [&](const ScannedEntry&) {
    return ++seen == 2 ? Status::Error(ECANCELED, "enough") : Status::Ok();
  };
  Status st = ScanDatabase(path_, cb);
  EXPECT_EQ(ECANCELED, st.code());
  EXPECT_EQ(2, seen);
}

TEST_F(ScanTest, MissingDatabaseIsENOENT) {
  EXPECT_EQ(ENOENT, ScanDatabase(dir_ + "/none.db", {}).code());
}

TEST_F(ScanTest, ForeignDatabaseIsRefused) {
  {
    RawDb raw(path_);
    ASSERT_EQ("", raw.Exec("CREATE TABLE inodes(x)"));
  }
  EXPECT_EQ(EUCLEAN, ScanDatabase(path_, {}).code());
}

}  // namespace
}  // namespace slotfs::meta::testing
