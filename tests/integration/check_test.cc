// tests/integration/check_test.cc — `slotfs check` on real images written
// through a mount: a clean image exits 0; a damaged superblock copy is
// named (exit 4) and rewritten by --repair (exit 1); a flipped byte in a
// stored slot is invisible to a plain check, found by --scrub and dropped
// by --scrub --repair while the other files stay intact; a mounted image is
// refused as in use (exit 8); --json prints one object.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/py_parsers.h"

namespace slotfs::itest {
namespace {

// Geometry (set in Options): 1 MiB slots, data region from 1 MiB.
constexpr uint64_t kSlotSize = kMiB;
constexpr uint64_t kDataOffset = kMiB;

class CheckTest : public MountTest {
 protected:
  // 1 MiB slots, chosen explicitly: the sizes below count them.
  Config Options() const override {
    Config c;
    c.slot_size = "1M";
    return c;
  }
  // Writes a few files through the mount and remembers their bytes.
  void WriteSample() {
    const std::vector<std::pair<std::string, size_t>> sizes = {
        {"a.pt", 3 * kMiB}, {"b.pt", 2 * kMiB + 12345}, {"c.pt", 4096}};
    uint64_t seed = 7;
    for (const auto& [name, size] : sizes) {
      files_[name] = PatternBytes(seed++, size);
      ASSERT_TRUE(WriteFile(P(name), files_[name]));
    }
  }
  // First device slot of a file, from its user.slotfs.slots xattr ("64-95").
  uint64_t FirstSlot(const std::string& name) {
    char buf[256] = {};
    ssize_t n = getxattr(P(name).c_str(), "user.slotfs.slots", buf, sizeof buf - 1);
    EXPECT_GT(n, 0) << "getxattr user.slotfs.slots " << name << ": " << ErrnoText(errno);
    return n > 0 ? std::stoull(buf) : 0;
  }
  void Unmount() {
    ASSERT_EQ(0, mount_->Unmount()) << mount_->Log();
  }
  // Overwrites `len` bytes of the image at `offset` with `byte` (or, with
  // flip, inverts them).
  void Scribble(uint64_t offset, size_t len, bool flip, char byte = 0) {
    int fd = open(image_.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << ErrnoText(errno);
    std::string bytes(len, byte);
    if (flip) {
      ASSERT_EQ(static_cast<ssize_t>(len), pread(fd, bytes.data(), len, static_cast<off_t>(offset)));
      for (char& c : bytes) c = static_cast<char>(~c);
    }
    ASSERT_EQ(static_cast<ssize_t>(len), pwrite(fd, bytes.data(), len, static_cast<off_t>(offset)));
    ASSERT_EQ(0, fsync(fd));
    close(fd);
  }
  ProcResult Check(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"check", image_};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunSlotfs(args, seconds(120));
  }
  static bool Has(const std::string& s, const std::string& what) {
    return s.find(what) != std::string::npos;
  }

  std::map<std::string, std::string> files_;
};

TEST_F(CheckTest, CleanImageExitsZero) {
  WriteSample();
  Unmount();
  ProcResult r = Check();
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "clean: 3 files, 7 slots used")) << r.Describe();
  r = Check({"--scrub"});
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "7 verified")) << r.Describe();
  EXPECT_TRUE(r.err.empty()) << "progress must not go to a pipe:\n" << r.Describe();
}

TEST_F(CheckTest, DamagedSuperblockCopy0IsRewritten) {
  WriteSample();
  Unmount();
  Scribble(0, 4096, /*flip=*/false, 'Z');
  ProcResult r = Check();
  EXPECT_EQ(4, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "copy 0")) << r.Describe();
  EXPECT_FALSE(Has(r.out, "copy 1")) << r.Describe();
  r = Check({"--repair"});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "rewrote superblock copy 0")) << r.Describe();
  r = Check();
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  ASSERT_TRUE(mount_->Remount());
  std::string got;
  ASSERT_TRUE(ReadFile(P("a.pt"), &got));
  EXPECT_SAME_BYTES(files_["a.pt"], got);
}

TEST_F(CheckTest, ScrubFindsAndRepairDropsAFlippedByte) {
  WriteSample();
  const uint64_t slot = FirstSlot("b.pt");
  Unmount();
  Scribble(kDataOffset + slot * kSlotSize + 1000, 1, /*flip=*/true);

  ProcResult r = Check();
  EXPECT_EQ(0, r.exit_code) << "without --scrub the data is not read\n" << r.Describe();
  r = Check({"--scrub"});
  EXPECT_EQ(4, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "b.pt")) << r.Describe();
  EXPECT_FALSE(Has(r.out, "a.pt")) << r.Describe();
  r = Check({"--scrub", "--repair"});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  r = Check();
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "clean: 2 files")) << r.Describe();

  ASSERT_TRUE(mount_->Remount());
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(P("b.pt").c_str(), &st));
  for (const char* name : {"a.pt", "c.pt"}) {
    std::string got;
    ASSERT_TRUE(ReadFile(P(name), &got)) << name;
    EXPECT_SAME_BYTES(files_[name], got);
  }
}

TEST_F(CheckTest, MountedImageIsInUse) {
  WriteSample();
  ProcResult r = Check();
  EXPECT_EQ(8, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.err, "in use")) << r.Describe();
  r = Check({"--repair"});
  EXPECT_EQ(8, r.exit_code) << r.Describe();
}

TEST_F(CheckTest, JsonOutputIsOneObject) {
  WriteSample();
  Unmount();
  Scribble(512 * kKiB, 4096, /*flip=*/false, 0);
  ProcResult r = Check({"--json"});
  EXPECT_EQ(4, r.exit_code) << r.Describe();
  ASSERT_FALSE(r.out.empty()) << r.Describe();
  EXPECT_EQ('{', r.out.front()) << r.Describe();
  EXPECT_EQ("}\n", r.out.substr(r.out.size() - 2)) << r.Describe();
  for (const char* key : {"\"findings\":[", "\"kind\":\"superblock\"", "\"errors_found\":1",
                          "\"files\":3", "\"slots_used\":7", "\"slots_free\":", "\"exit_code\":4"}) {
    EXPECT_TRUE(Has(r.out, key)) << key << "\n" << r.Describe();
  }
  r = Check({"--json", "--repair"});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.out, "\"errors_corrected\":1")) << r.Describe();
}

// Parses `json` with Python's strict decoder (bytes must be UTF-8) and
// prints the "path" of every finding, and every "path" under "entries".
::testing::AssertionResult StrictJsonPaths(const std::string& json, std::string* paths) {
  TempDir tmp;
  const std::string file = tmp.Join("out.json");
  if (!WriteFile(file, json)) return ::testing::AssertionFailure() << "cannot write " << file;
  ProcResult r = RunProcess(
      {kPython, "-c",
       "import json, sys\n"
       "d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))\n"
       "for f in d.get('findings', []): print(f['path'])\n"
       "for e in (d.get('entries') or {}).values():\n"
       "    if e: print(e['path'])\n",
       file});
  if (r.exit_code != 0) return ::testing::AssertionFailure() << "not valid JSON:\n" << r.Describe();
  *paths = r.out;
  return ::testing::AssertionSuccess();
}

TEST_F(CheckTest, JsonStaysValidForNamesThatAreNotUtf8) {
  const std::string dir = "d\xff", name = "bad\xff\xfe.pt";
  ASSERT_EQ(0, mkdir(P(dir).c_str(), 0755)) << ErrnoText(errno);
  ASSERT_TRUE(WriteFile(P(dir + "/" + name), PatternBytes(3, 4096)));
  const uint64_t slot = FirstSlot(dir + "/" + name);
  Unmount();
  Scribble(kDataOffset + slot * kSlotSize + 10, 1, /*flip=*/true);
  ProcResult r = Check({"--scrub", "--json"});
  EXPECT_EQ(4, r.exit_code) << r.Describe();
  std::string paths;
  ASSERT_TRUE(StrictJsonPaths(r.out, &paths)) << r.Describe();
  // The checker spells non-printable bytes as \xNN in its paths (lossless).
  EXPECT_TRUE(Has(paths, "d\\xff/bad\\xff\\xfe.pt")) << paths;
  ProcResult info = RunSlotfs({"info", "--json", image_});
  EXPECT_EQ(0, info.exit_code) << info.Describe();
  ASSERT_TRUE(StrictJsonPaths(info.out, &paths)) << info.Describe();
  EXPECT_TRUE(Has(paths, "bad\xEF\xBF\xBD\xEF\xBF\xBD.pt")) << paths;
}

TEST_F(CheckTest, MissingDatabaseIsAnOperationalError) {
  Unmount();
  ProcResult r = Check({"--db", tmp_->Join("nope.db")});
  EXPECT_EQ(8, r.exit_code) << r.Describe();
  EXPECT_TRUE(Has(r.err, "slotfs: error:")) << r.Describe();
}

}  // namespace
}  // namespace slotfs::itest
