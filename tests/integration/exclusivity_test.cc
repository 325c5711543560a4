// tests/integration/exclusivity_test.cc — a mounted filesystem is its
// daemon's alone, whatever path, copy or clone another command comes
// through: a clone mounted on the live database, a clone with its own copy
// of the database, format --force over the live database and check --repair
// through a clone are all refused with the holder named, and no file of the
// mounted filesystem changes. Claimants racing each other: exactly one of
// two mounts wins; check --repair racing a mount never edits a live
// filesystem. A mount killed with SIGKILL never blocks the next one, and
// the database files are private (0600) under umask 022.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <dirent.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

constexpr uint64_t kSlotSize = kMiB;    // format default
constexpr uint64_t kDataOffset = kMiB;  // format default

using Files = std::map<std::string, std::string>;

class ExclusivityTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 256 * kMiB;
    return c;
  }
  void SetUp() override {
    old_umask_ = umask(022);
    MountTest::SetUp();
    if (IsSkipped()) return;
    std::smatch m;
    const std::string out = format_result_.out;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("[0-9a-f]{8}-[0-9a-f-]{27}")))
        << format_result_.Describe();
    uuid_ = m.str();
  }
  void TearDown() override {
    // Mounts started by the race scripts, if a test failed before it could
    // unmount them.
    for (const std::string& m : extra_mounts_) {
      if (IsFuseMountPoint(m)) RunProcess({"fusermount3", "-u", "-z", m});
    }
    MountTest::TearDown();
    umask(old_umask_);
  }

  void WriteSample() {
    uint64_t seed = 11;
    for (const auto& [name, size] : std::vector<std::pair<std::string, size_t>>{
             {"a.pt", 3 * kMiB}, {"b.pt", 2 * kMiB + 777}, {"c.pt", 4096}}) {
      sample_[name] = PatternBytes(seed++, size);
      ASSERT_TRUE(WriteFile(P(name), sample_[name]));
    }
  }
  // Every regular file under `dir` (not recursive, control dir skipped).
  static Files Snapshot(const std::string& dir) {
    Files out;
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n == ".slotfs") continue;
      std::string bytes;
      if (!ReadFile(dir + "/" + n, &bytes)) bytes = "<unreadable>";
      out[n] = bytes;
    }
    closedir(d);
    return out;
  }
  static std::string Names(const Files& f) {
    std::string s;
    for (const auto& [n, b] : f) s += n + "(" + std::to_string(b.size()) + ") ";
    return s;
  }
  uint64_t FirstSlot(const std::string& name) {
    char buf[256] = {};
    ssize_t n = getxattr(P(name).c_str(), "user.slotfs.slots", buf, sizeof buf - 1);
    EXPECT_GT(n, 0) << "getxattr " << name << ": " << ErrnoText(errno);
    return n > 0 ? std::stoull(buf) : 0;
  }
  // cp --sparse=always IMAGE DEST.
  void Clone(const std::string& dest) {
    ProcResult r = RunProcess({"cp", "--sparse=always", image_, dest});
    ASSERT_EQ(0, r.exit_code) << r.Describe();
  }
  // Inverts 4 KiB of `image` at device slot `slot`.
  static void Damage(const std::string& image, uint64_t slot) {
    int fd = open(image.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << ErrnoText(errno);
    std::string bytes(4096, '\0');
    const off_t at = static_cast<off_t>(kDataOffset + slot * kSlotSize);
    ASSERT_EQ(4096, pread(fd, bytes.data(), bytes.size(), at));
    for (char& c : bytes) c = static_cast<char>(~c);
    ASSERT_EQ(4096, pwrite(fd, bytes.data(), bytes.size(), at));
    ASSERT_EQ(0, fsync(fd));
    close(fd);
  }
  static void ExpectRefusedInUse(const ProcResult& r, int code) {
    EXPECT_EQ(code, r.exit_code) << r.Describe();
    EXPECT_NE(std::string::npos, r.err.find("in use by")) << r.Describe();
    EXPECT_NE(std::string::npos, r.err.find("pid ")) << "the holder is not named\n" << r.Describe();
  }
  std::string LockFile() const { return "/run/slotfs/" + uuid_ + ".lock"; }
  static bool Exists(const std::string& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0;
  }
  // Polls (no fixed sleeps) until `pred` holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& pred, milliseconds timeout = seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      usleep(20 * 1000);
    }
    return true;
  }
  // Unmounts a daemon-mode mount and waits until its daemon has released
  // the filesystem (its identity lock file is gone).
  void UnmountDaemon(const std::string& mnt) {
    ProcResult r = RunProcess({"fusermount3", "-u", mnt});
    EXPECT_EQ(0, r.exit_code) << r.Describe();
    EXPECT_TRUE(WaitFor([&] { return !Exists(LockFile()); }))
        << "the daemon did not release " << LockFile();
  }
  // Runs the commands at once (each as one background job of one shell),
  // waits for all; returns each one's result in order.
  std::vector<ProcResult> RunConcurrently(const std::vector<std::vector<std::string>>& cmds) {
    std::string script;
    for (size_t i = 0; i < cmds.size(); ++i) {
      std::string c;
      for (const std::string& a : cmds[i]) c += ShellQuote(a) + " ";
      const std::string base = tmp_->Join("job" + std::to_string(i));
      script += "( " + c + ">" + ShellQuote(base + ".out") + " 2>" + ShellQuote(base + ".err") +
                " </dev/null; echo $? >" + ShellQuote(base + ".rc") + " ) &\n";
    }
    script += "wait\n";
    ProcResult all = RunShell(script, seconds(240));
    EXPECT_EQ(0, all.exit_code) << all.Describe();
    std::vector<ProcResult> out(cmds.size());
    for (size_t i = 0; i < cmds.size(); ++i) {
      const std::string base = tmp_->Join("job" + std::to_string(i));
      std::string rc;
      ReadFile(base + ".rc", &rc);
      out[i].exit_code = rc.empty() ? -1 : std::stoi(rc);
      ReadFile(base + ".out", &out[i].out);
      ReadFile(base + ".err", &out[i].err);
      for (const std::string& a : cmds[i]) out[i].command += a + " ";
    }
    return out;
  }
  std::string Dir(const std::string& name) {
    std::string d = tmp_->Join(name);
    EXPECT_EQ(0, mkdir(d.c_str(), 0755)) << ErrnoText(errno);
    extra_mounts_.push_back(d);
    return d;
  }

  std::string uuid_;
  Files sample_;
  std::vector<std::string> extra_mounts_;
  mode_t old_umask_ = 022;
};

TEST_F(ExclusivityTest, CloneOnTheLiveDatabaseIsRefused) {
  WriteSample();
  const std::string clone = tmp_->Join("clone.img"), m2 = Dir("m2");
  Clone(clone);
  ProcResult r = RunSlotfs({"mount", "--db", db_, clone, m2});
  ExpectRefusedInUse(r, 1);
  EXPECT_NE(std::string::npos, r.err.find(db_)) << r.Describe();
  EXPECT_FALSE(IsFuseMountPoint(m2));
  EXPECT_EQ(sample_, Snapshot(mnt_)) << Names(Snapshot(mnt_));
}

TEST_F(ExclusivityTest, CloneWithItsOwnDatabaseCopyIsRefusedByUuid) {
  WriteSample();
  const std::string clone = tmp_->Join("clone.img"), m2 = Dir("m2");
  Clone(clone);
  ASSERT_EQ(0, RunProcess({"cp", db_, clone + ".db"}).exit_code);
  ProcResult r = RunSlotfs({"mount", clone, m2});
  ExpectRefusedInUse(r, 1);
  EXPECT_NE(std::string::npos, r.err.find(uuid_)) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find(mnt_)) << "the holder's mount point is not named\n"
                                                  << r.Describe();
  EXPECT_FALSE(IsFuseMountPoint(m2));
  EXPECT_EQ(sample_, Snapshot(mnt_));
}

TEST_F(ExclusivityTest, ForcedFormatOverTheLiveDatabaseIsRefused) {
  WriteSample();
  const std::string c = tmp_->Join("c.img");
  ProcResult r = RunSlotfs({"format", "--size", "256M", "--force", "--db", db_, c});
  ExpectRefusedInUse(r, 1);
  EXPECT_NE(std::string::npos, r.err.find("--force does not override")) << r.Describe();
  EXPECT_FALSE(Exists(c)) << "the refused format left the image it created";
  EXPECT_EQ(sample_, Snapshot(mnt_));
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  ProcResult check = RunSlotfs({"check", "--scrub", image_});
  EXPECT_EQ(0, check.exit_code) << "the live database was touched\n" << check.Describe();
}

TEST_F(ExclusivityTest, RepairThroughACloneIsRefused) {
  WriteSample();
  const uint64_t slot = FirstSlot("a.pt");
  const std::string clone = tmp_->Join("clone.img");
  Clone(clone);
  Damage(clone, slot);  // a repair through the clone would drop a.pt
  ProcResult r = RunSlotfs({"check", "--scrub", "--repair", "--db", db_, clone}, seconds(120));
  ExpectRefusedInUse(r, 8);
  EXPECT_EQ(sample_, Snapshot(mnt_));
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  ASSERT_TRUE(mount_->Remount());
  EXPECT_EQ(sample_, Snapshot(mnt_)) << "a file went missing after a remount";
}

TEST_F(ExclusivityTest, KilledMountIsRemountedWithoutWaitingForAnyone) {
  WriteSample();
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  ASSERT_TRUE(mount_->Kill9());
  // The kernel has not necessarily torn the daemon down yet: the remount
  // waits out the claim it still holds.
  ASSERT_TRUE(mount_->Remount()) << mount_->Log();
  EXPECT_EQ(sample_, Snapshot(mnt_));
}

TEST_F(ExclusivityTest, DatabaseFilesArePrivateUnderUmask022) {
  WriteSample();  // the WAL and shared-memory files exist while mounted
  for (const char* side : {"", "-wal", "-shm"}) {
    struct stat st;
    ASSERT_EQ(0, stat((db_ + side).c_str(), &st)) << db_ << side << ": " << ErrnoText(errno);
    EXPECT_EQ(0600u, st.st_mode & 07777) << db_ << side;
  }
  ASSERT_EQ(0, mount_->Unmount());
  // A database left readable by everyone (as formats before this one made
  // them) is narrowed to the image's mode at mount.
  ASSERT_EQ(0, chmod(db_.c_str(), 0644));
  ASSERT_TRUE(mount_->Remount());
  struct stat st;
  ASSERT_EQ(0, stat(db_.c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 07777);
}

TEST_F(ExclusivityTest, ProbesAgainstALiveMountAreAllRefusedTogether) {
  WriteSample();
  const uint64_t slot = FirstSlot("a.pt");
  // Three copies, so that no two probes meet at the same image file (whose
  // own lock, taken first, would then refuse one of them earlier).
  const std::string clone = tmp_->Join("clone.img"), clone2 = tmp_->Join("clone2.img"),
                    clone3 = tmp_->Join("clone3.img"), clone4 = tmp_->Join("clone4.img");
  Clone(clone);
  Clone(clone2);
  Clone(clone3);
  Clone(clone4);
  Damage(clone4, slot);
  ASSERT_EQ(0, RunProcess({"cp", db_, clone2 + ".db"}).exit_code);
  const std::string m2 = Dir("m2"), m3 = Dir("m3"), c = tmp_->Join("c.img");
  std::vector<ProcResult> rs = RunConcurrently({
      {SlotfsBin(), "mount", "--db", db_, clone, m2},
      {SlotfsBin(), "mount", clone2, m3},
      {SlotfsBin(), "format", "--size", "256M", "--force", "--db", db_, c},
      {SlotfsBin(), "check", "--scrub", "--repair", "--db", db_, clone4},
      {SlotfsBin(), "format", "--force", clone3},
  });
  const int want[] = {1, 1, 1, 8, 1};
  for (size_t i = 0; i < rs.size(); ++i) ExpectRefusedInUse(rs[i], want[i]);
  EXPECT_FALSE(IsFuseMountPoint(m2));
  EXPECT_FALSE(IsFuseMountPoint(m3));
  EXPECT_FALSE(Exists(c));
  EXPECT_EQ(sample_, Snapshot(mnt_));
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  EXPECT_EQ(0, RunSlotfs({"check", "--scrub", image_}).exit_code);
  ASSERT_TRUE(mount_->Remount());
  EXPECT_EQ(sample_, Snapshot(mnt_));
}

TEST_F(ExclusivityTest, TwoMountsOfOneFilesystemRacingExactlyOneWins) {
  WriteSample();
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  const std::string clone = tmp_->Join("clone.img");
  Clone(clone);
  const std::string m1 = Dir("m1"), m2 = Dir("m2");
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<ProcResult> rs = RunConcurrently({
        {SlotfsBin(), "mount", image_, m1},
        {SlotfsBin(), "mount", "--db", db_, clone, m2},
    });
    const bool first = rs[0].exit_code == 0, second = rs[1].exit_code == 0;
    ASSERT_NE(first, second) << "exactly one mount must win\n"
                             << rs[0].Describe() << rs[1].Describe();
    const ProcResult& loser = first ? rs[1] : rs[0];
    ExpectRefusedInUse(loser, 1);
    EXPECT_TRUE(IsFuseMountPoint(first ? m1 : m2));
    EXPECT_FALSE(IsFuseMountPoint(first ? m2 : m1));
    // The clone has the same bytes: either mount serves the same files.
    EXPECT_EQ(sample_, Snapshot(first ? m1 : m2));
    UnmountDaemon(first ? m1 : m2);
  }
}

TEST_F(ExclusivityTest, RepairRacingAMountNeverEditsALiveFilesystem) {
  WriteSample();
  const uint64_t slot = FirstSlot("a.pt");
  ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  const std::string clone = tmp_->Join("clone.img");
  Clone(clone);
  Damage(clone, slot);  // the repair drops a.pt from the database it is given
  const std::string m1 = Dir("m1");
  std::vector<ProcResult> rs = RunConcurrently({
      {SlotfsBin(), "mount", image_, m1},
      {SlotfsBin(), "check", "--scrub", "--repair", "--db", db_, clone},
  });
  const ProcResult& mount = rs[0];
  const ProcResult& check = rs[1];
  Files others = sample_;
  others.erase("a.pt");
  if (check.exit_code == 8) {
    // The mount claimed first: the repair touched nothing.
    ExpectRefusedInUse(check, 8);
    ASSERT_EQ(0, mount.exit_code) << mount.Describe();
    EXPECT_EQ(sample_, Snapshot(m1)) << Names(Snapshot(m1));
  } else {
    // The repair claimed first and finished before the mount read anything:
    // the mount either waited it out (and serves the repaired index) or
    // gave up, refused.
    ASSERT_EQ(1, check.exit_code) << check.Describe();
    if (mount.exit_code == 0) {
      EXPECT_EQ(others, Snapshot(m1)) << Names(Snapshot(m1));
    } else {
      ExpectRefusedInUse(mount, 1);
      EXPECT_FALSE(IsFuseMountPoint(m1));
    }
  }
  if (IsFuseMountPoint(m1)) UnmountDaemon(m1);
  ProcResult after = RunSlotfs({"check", image_});
  EXPECT_EQ(0, after.exit_code) << after.Describe();
}

}  // namespace
}  // namespace slotfs::itest
