// tests/integration/shell_tools_test.cc — the ordinary tools an operator uses
// on the cache (ls, cat, cp, cmp, rm, stat, df, mkdir -p, mv, getfattr,
// setfattr, find, du), run through /bin/sh against a live mount.

#include <sys/statvfs.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

class ShellToolsTest : public MountTest {
 protected:
  // Runs `script` with `set -eu` and M / T set to the mount and temp dir.
  ProcResult Sh(const std::string& script) {
    std::string full = "set -eu\nM=" + ShellQuote(mnt_) + "\nT=" + ShellQuote(tmp_->path()) + "\n" + script;
    return RunShell(full, std::chrono::seconds(120));
  }
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST_F(ShellToolsTest, CpTenMiBInAndOutMatchesWithCmp) {
  ProcResult r = Sh(R"(
head -c 10485760 /dev/urandom > "$T/src"
cp "$T/src" "$M/copy"
cmp "$T/src" "$M/copy"
cp "$M/copy" "$T/back"
cmp "$T/src" "$T/back"
cp "$M/copy" "$M/copy2"
cmp "$T/src" "$M/copy2"
cat "$M/copy" | cmp "$T/src" -
echo ok
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("ok\n", r.out) << r.Describe();
}

TEST_F(ShellToolsTest, CatEchoAndAppendRedirections) {
  ProcResult r = Sh(R"(
echo hello > "$M/greeting"
cat "$M/greeting"
echo world >> "$M/greeting"
cat "$M/greeting"
printf 'abc' > "$M/greeting"
cat "$M/greeting"
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("hello\nhello\nworld\nabc", r.out) << r.Describe();
}

TEST_F(ShellToolsTest, LsLongListsNamesAndSizes) {
  ProcResult r = Sh(R"(
mkdir "$M/d"
head -c 4096 /dev/zero > "$M/d/meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt"
head -c 1234567 /dev/zero > "$M/d/-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt"
: > "$M/d/empty"
mkdir "$M/d/sub"
LC_ALL=C ls -l "$M/d"
)");
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(5u, lines.size()) << r.out;  // "total N" + 4 entries
  EXPECT_EQ(0u, lines[0].rfind("total ", 0)) << r.out;
  std::map<std::string, std::pair<char, std::string>> seen;  // name -> (type, size)
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> w = Words(lines[i]);
    ASSERT_GE(w.size(), 9u) << lines[i];
    seen[w.back()] = {w[0][0], w[4]};
  }
  using E = std::pair<char, std::string>;
  EXPECT_EQ(E('-', "4096"), seen["meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt"]);
  EXPECT_EQ(E('-', "1234567"), seen["-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt"]);
  EXPECT_EQ(E('-', "0"), seen["empty"]);
  EXPECT_EQ('d', seen["sub"].first);
}

TEST_F(ShellToolsTest, StatPrintsSizeModeAndType) {
  ProcResult r = Sh(R"(
head -c 3000000 /dev/zero > "$M/f"
chmod 640 "$M/f"
mkdir "$M/dir"
stat -c '%s %a %F' "$M/f"
stat -c '%F' "$M/dir"
)");
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("3000000 640 regular file\ndirectory\n", r.out);
}

TEST_F(ShellToolsTest, RmRemovesFilesAndTrees) {
  ProcResult r = Sh(R"(
mkdir -p "$M/tree/a/b"
echo 1 > "$M/tree/a/b/f1"
echo 2 > "$M/tree/a/f2"
echo 3 > "$M/single"
rm "$M/single"
test ! -e "$M/single"
rm -r "$M/tree"
test ! -e "$M/tree"
ls -A "$M"
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ(".slotfs\n", r.out) << "only the control directory is left\n" << r.Describe();
}

TEST_F(ShellToolsTest, MkdirPAndMvRenameAndMove) {
  ProcResult r = Sh(R"(
mkdir -p "$M/x/y/z"
mkdir -p "$M/x/y/z"
echo payload > "$M/x/y/z/file"
mv "$M/x/y/z/file" "$M/x/renamed"
mv "$M/x/y" "$M/moved"
echo other > "$M/target"
mv -f "$M/x/renamed" "$M/target"
cat "$M/target"
test -d "$M/moved/z"
test ! -e "$M/x/y"
test ! -e "$M/x/renamed"
find "$M" -path "$M/.slotfs" -prune -o -print | sed "s|^$M||" | LC_ALL=C sort
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("payload\n\n/moved\n/moved/z\n/target\n/x\n", r.out) << r.Describe();
}

TEST_F(ShellToolsTest, DfReportsTheSlotCapacity) {
  struct statvfs v;
  ASSERT_TRUE(StatVfs(&v));
  ProcResult w5 = Sh(R"(head -c 5242880 /dev/zero > "$M/five")");
  ASSERT_EQ(0, w5.exit_code) << w5.Describe();
  // head writes 8 KiB at a time; space reserved while writing is handed back
  // by the asynchronous RELEASE, so give df a moment to settle.
  std::vector<std::string> w;
  ProcResult r;
  for (int i = 0; i < 200; ++i) {  // up to 10 s on a loaded machine
    r = Sh(R"(df -P -B 4096 "$M")");
    ASSERT_EQ(0, r.exit_code) << r.Describe();
    std::vector<std::string> lines = Lines(r.out);
    ASSERT_EQ(2u, lines.size()) << r.out;
    w = Words(lines[1]);
    ASSERT_EQ(6u, w.size()) << lines[1];
    if (w[2] == std::to_string(5 * 256)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(std::to_string(v.f_blocks), w[1]) << "df total";
  EXPECT_EQ(std::to_string(5 * 256), w[2]) << "df used: 5 MiB file = 5 slots of 256 blocks\n" << r.out;
  EXPECT_EQ(mnt_, w[5]);
}

TEST_F(ShellToolsTest, GetfattrAndSetfattrShowAndPin) {
  ProcResult r = Sh(R"(
head -c 2097152 /dev/zero > "$M/f"
getfattr --absolute-names -n user.slotfs.size --only-values "$M/f"; echo
getfattr --absolute-names -n user.slotfs.pin --only-values "$M/f"; echo
setfattr -n user.slotfs.pin -v 1 "$M/f"
getfattr --absolute-names -n user.slotfs.pin --only-values "$M/f"; echo
getfattr --absolute-names -d -m - "$M/f" | grep -E '^user\.slotfs\.(slots|size|state|pin)=' | cut -d= -f1 | LC_ALL=C sort
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("2097152\n0\n1\nuser.slotfs.pin\nuser.slotfs.size\nuser.slotfs.slots\nuser.slotfs.state\n", r.out)
      << r.Describe();
}

TEST_F(ShellToolsTest, DuAndFindSeeEveryFile) {
  ProcResult r = Sh(R"(
mkdir -p "$M/a/b"
for i in 1 2 3 4 5; do head -c 1048576 /dev/zero > "$M/a/b/f$i"; done
find "$M" -path "$M/.slotfs" -prune -o -type f -print | wc -l
du -s -b --apparent-size "$M/a" | cut -f1
)");
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(2u, lines.size()) << r.out;
  EXPECT_EQ("5", lines[0]);
  // Apparent size: the five files plus whatever sizes the two directories report.
  EXPECT_GE(std::stoull(lines[1]), 5ull * 1048576) << r.out;
  EXPECT_LE(std::stoull(lines[1]), 5ull * 1048576 + 2 * 65536) << r.out;
}

TEST_F(ShellToolsTest, DdWithSeekAndNotruncPatchesInPlace) {
  ProcResult r = Sh(R"(
head -c 8192 /dev/zero | tr '\0' 'a' > "$M/f"
printf 'XYZ' | dd of="$M/f" bs=1 seek=4095 conv=notrunc status=none
dd if="$M/f" bs=1 skip=4094 count=5 status=none; echo
stat -c %s "$M/f"
)");
  EXPECT_EQ(0, r.exit_code) << r.Describe();
  EXPECT_EQ("aXYZa\n8192\n", r.out) << r.Describe();
}

}  // namespace
}  // namespace slotfs::itest
