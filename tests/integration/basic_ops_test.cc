// tests/integration/basic_ops_test.cc — POSIX file and directory operations
// on a live slotfs mount, through plain syscalls.

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace slotfs::itest {
namespace {

constexpr uint64_t kSlot = 64 * kKiB;  // the format default
constexpr uint64_t kBlocksPerSlot = kSlot / 4096;

class BasicOpsTest : public MountTest {
 protected:
  // Model-checked pwrite: applies the write to `model` too.
  void PWrite(int fd, std::string* model, const std::string& data, uint64_t off) {
    ssize_t n = pwrite(fd, data.data(), data.size(), off);
    ASSERT_EQ(ssize_t(data.size()), n) << "pwrite(" << data.size() << " bytes at " << off
                                       << "): " << ErrnoText(errno);
    if (model->size() < off + data.size()) model->resize(off + data.size(), '\0');
    model->replace(off, data.size(), data);
  }

  // Reads the whole file through `fd` with pread in `chunk`-byte pieces.
  std::string PReadAll(int fd, size_t chunk) {
    std::string out;
    std::string buf(chunk, '\0');
    for (;;) {
      ssize_t n = pread(fd, buf.data(), chunk, off_t(out.size()));
      if (n < 0) {
        ADD_FAILURE() << "pread at " << out.size() << ": " << ErrnoText(errno);
        break;
      }
      if (n == 0) break;
      out.append(buf.data(), size_t(n));
    }
    return out;
  }

  std::set<std::string> ListDir(const std::string& dir, std::map<std::string, int>* counts = nullptr) {
    std::set<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d) {
      ADD_FAILURE() << "opendir(" << dir << "): " << ErrnoText(errno);
      return names;
    }
    errno = 0;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (dir == mnt_ && n == ".slotfs") continue;  // the control directory
      names.insert(n);
      if (counts) ++(*counts)[n];
    }
    EXPECT_EQ(0, errno) << "readdir(" << dir << "): " << ErrnoText(errno);
    closedir(d);
    return names;
  }

  // Polls statvfs until f_bfree == want (slot frees may be deferred until
  // the freeing transaction is durable). Returns the last value seen.
  uint64_t WaitForBfree(uint64_t want, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto start = std::chrono::steady_clock::now();
    struct statvfs v {};
    do {
      if (statvfs(mnt_.c_str(), &v) != 0) return 0;
      if (v.f_bfree == want) return v.f_bfree;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() - start < timeout);
    return v.f_bfree;
  }
};

TEST_F(BasicOpsTest, UnalignedWritesAtOddOffsetsReadBackExactly) {
  std::string path = P("unaligned");
  std::string model;
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  PWrite(fd.get(), &model, "X", 4097);                                  // 1 byte at 4097
  PWrite(fd.get(), &model, PatternBytes(1, 5000), 123);                 // 5000 bytes at 123
  PWrite(fd.get(), &model, PatternBytes(2, 3000), kSlot - 1000);        // across a slot boundary
  PWrite(fd.get(), &model, PatternBytes(3, 10), 2 * kSlot + 3);         // leaves a hole
  PWrite(fd.get(), &model, PatternBytes(4, 1), 0);                      // first byte
  PWrite(fd.get(), &model, PatternBytes(5, 4096), 8192);                // an aligned page among them
  ASSERT_EQ(0, fd.Reset()) << "close: " << ErrnoText(errno);

  // Append through O_APPEND.
  UniqueFd app(open(path.c_str(), O_WRONLY | O_APPEND));
  ASSERT_TRUE(app.ok()) << ErrnoText(errno);
  std::string tail = PatternBytes(6, 777);
  ASSERT_EQ(ssize_t(tail.size()), write(app.get(), tail.data(), tail.size())) << ErrnoText(errno);
  model += tail;
  ASSERT_EQ(0, app.Reset());

  struct stat st;
  ASSERT_EQ(0, stat(path.c_str(), &st)) << ErrnoText(errno);
  EXPECT_EQ(off_t(model.size()), st.st_size);

  UniqueFd rd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(rd.ok()) << ErrnoText(errno);
  EXPECT_SAME_BYTES(model, PReadAll(rd.get(), 333));
  EXPECT_SAME_BYTES(model, PReadAll(rd.get(), 1 << 20));
  // A few reads that start and end at odd places.
  for (auto [off, len] : std::vector<std::pair<size_t, size_t>>{
           {4096, 2}, {122, 5002}, {kSlot - 1, 2}, {2 * kSlot, 13}, {model.size() - 5, 100}}) {
    std::string buf(len, '\0');
    ssize_t n = pread(rd.get(), buf.data(), len, off_t(off));
    size_t want_len = std::min(len, model.size() - off);
    ASSERT_EQ(ssize_t(want_len), n) << "pread(" << len << " at " << off << "): " << ErrnoText(errno);
    buf.resize(size_t(n));
    EXPECT_SAME_BYTES(model.substr(off, want_len), buf) << "pread at " << off;
  }
}

TEST_F(BasicOpsTest, HolesReadAsZeros) {
  std::string path = P("sparse");
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  ASSERT_EQ(0, ftruncate(fd.get(), 5 * kMiB + 11)) << ErrnoText(errno);
  std::string model(5 * kMiB + 11, '\0');
  EXPECT_SAME_BYTES(model, PReadAll(fd.get(), 1 << 20));
  PWrite(fd.get(), &model, PatternBytes(7, 100), 3 * kMiB + 5);
  ASSERT_EQ(0, fd.Reset());
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(model, got);
}

TEST_F(BasicOpsTest, TruncateDownThenUpReadsZerosBeyondOldSize) {
  std::string path = P("trunc");
  std::string data = PatternBytes(8, 2 * kMiB + 512 * kKiB);
  ASSERT_TRUE(WriteFile(path, data));
  UniqueFd fd(open(path.c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  ASSERT_EQ(0, ftruncate(fd.get(), 10000)) << ErrnoText(errno);
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(10000, st.st_size);
  ASSERT_EQ(0, ftruncate(fd.get(), 3 * kMiB)) << ErrnoText(errno);
  ASSERT_EQ(0, fd.Reset());

  std::string model = data.substr(0, 10000);
  model.resize(3 * kMiB, '\0');  // the old bytes past 10000 must not come back
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(model, got);

  // truncate(2) by path, down into the middle of a page.
  ASSERT_EQ(0, truncate(path.c_str(), 4097)) << ErrnoText(errno);
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(model.substr(0, 4097), got);
  // O_TRUNC empties it.
  UniqueFd t(open(path.c_str(), O_WRONLY | O_TRUNC));
  ASSERT_TRUE(t.ok()) << ErrnoText(errno);
  ASSERT_EQ(0, t.Reset());
  ASSERT_EQ(0, stat(path.c_str(), &st));
  EXPECT_EQ(0, st.st_size);
}

TEST_F(BasicOpsTest, OverwriteWithOTruncShrinksAndReplacesContent) {
  std::string path = P("overwrite");
  ASSERT_TRUE(WriteFile(path, PatternBytes(9, 6 * kMiB)));
  std::string small = PatternBytes(10, 100);
  ASSERT_TRUE(WriteFile(path, small));
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(small, got);
}

TEST_F(BasicOpsTest, EmptyFileHasSizeZeroAndReadsNothing) {
  std::string path = P("empty");
  ASSERT_TRUE(WriteFile(path, ""));
  struct stat st;
  ASSERT_EQ(0, stat(path.c_str(), &st)) << ErrnoText(errno);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(0, st.st_size);
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  char c;
  EXPECT_EQ(0, read(fd.get(), &c, 1));
}

TEST_F(BasicOpsTest, ReadAtOrPastEndOfFileReturnsZeroBytes) {
  std::string path = P("eof");
  ASSERT_TRUE(WriteFile(path, PatternBytes(11, 5000)));
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  char buf[100];
  EXPECT_EQ(0, pread(fd.get(), buf, sizeof buf, 5000));
  EXPECT_EQ(0, pread(fd.get(), buf, sizeof buf, 3 * kMiB));
  EXPECT_EQ(8, pread(fd.get(), buf, sizeof buf, 4992));
}

TEST_F(BasicOpsTest, LargeFileWrittenInOddChunksRoundTrips) {
  std::string path = P("large");
  std::string data = PatternBytes(12, 40 * kMiB + 123);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min<size_t>(kMiB + 17, data.size() - off);
    ssize_t w = write(fd.get(), data.data() + off, n);
    ASSERT_EQ(ssize_t(n), w) << "write at " << off << ": " << ErrnoText(errno);
    off += n;
  }
  ASSERT_EQ(0, fd.Reset()) << ErrnoText(errno);
  UniqueFd rd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(rd.ok());
  EXPECT_SAME_BYTES(data, PReadAll(rd.get(), 999999));

  // O_DIRECT read of an aligned range into an aligned buffer.
  UniqueFd d(open(path.c_str(), O_RDONLY | O_DIRECT));
  ASSERT_TRUE(d.ok()) << "open O_DIRECT: " << ErrnoText(errno);
  void* raw = nullptr;
  ASSERT_EQ(0, posix_memalign(&raw, 4096, 4 * kMiB));
  std::unique_ptr<void, decltype(&free)> buf(raw, &free);
  ssize_t n = pread(d.get(), raw, 4 * kMiB, 4096);
  ASSERT_EQ(ssize_t(4 * kMiB), n) << ErrnoText(errno);
  EXPECT_SAME_BYTES(data.substr(4096, 4 * kMiB), std::string(static_cast<char*>(raw), 4 * kMiB));
}

TEST_F(BasicOpsTest, ChmodChownUtimensatAreReflectedInStat) {
  std::string path = P("attrs");
  ASSERT_TRUE(WriteFile(path, "hello", 0, 0644));
  ASSERT_EQ(0, chmod(path.c_str(), 0600)) << ErrnoText(errno);
  ASSERT_EQ(0, chown(path.c_str(), 1234, 5678)) << ErrnoText(errno);
  struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 500000000}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path.c_str(), ts, 0)) << ErrnoText(errno);
  struct stat st;
  ASSERT_EQ(0, stat(path.c_str(), &st)) << ErrnoText(errno);
  EXPECT_EQ(0600u, st.st_mode & 07777);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(1234u, st.st_uid);
  EXPECT_EQ(5678u, st.st_gid);
  EXPECT_EQ(1000000000, st.st_atim.tv_sec);
  EXPECT_EQ(123456789, st.st_atim.tv_nsec);
  EXPECT_EQ(1200000000, st.st_mtim.tv_sec);
  EXPECT_EQ(500000000, st.st_mtim.tv_nsec);
  EXPECT_EQ(5, st.st_size);

  // Directories too.
  ASSERT_EQ(0, mkdir(P("d").c_str(), 0755));
  ASSERT_EQ(0, chmod(P("d").c_str(), 0711)) << ErrnoText(errno);
  ASSERT_EQ(0, stat(P("d").c_str(), &st));
  EXPECT_EQ(0711u, st.st_mode & 07777);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  // fchmod through an open fd.
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, fchmod(fd.get(), 0640)) << ErrnoText(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0640u, st.st_mode & 07777);
}

TEST_F(BasicOpsTest, WriteAdvancesMtime) {
  std::string path = P("mtime");
  ASSERT_TRUE(WriteFile(path, "a"));
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path.c_str(), old, 0)) << ErrnoText(errno);
  ASSERT_TRUE(WriteFile(path, "bb"));
  struct stat st;
  ASSERT_EQ(0, stat(path.c_str(), &st));
  EXPECT_GT(st.st_mtim.tv_sec, 1000) << "mtime not updated by a write";
}

TEST_F(BasicOpsTest, CreatedFilesGetRequestedModeAndCallerOwner) {
  std::string path = P("mode");
  mode_t old = umask(0);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640));
  umask(old);
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0640u, st.st_mode & 07777);
  EXPECT_EQ(geteuid(), st.st_uid);
  EXPECT_EQ(getegid(), st.st_gid);
  EXPECT_ERRNO(EEXIST, open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0640));
  EXPECT_ERRNO(ENOENT, open(P("missing").c_str(), O_RDONLY));
  EXPECT_ERRNO(ENOENT, open(P("nodir/x").c_str(), O_WRONLY | O_CREAT, 0644));
}

TEST_F(BasicOpsTest, MkdirNestedThenRmdirRefusesNonEmpty) {
  std::string a = P("a"), b = a + "/b", c = b + "/c", d = c + "/d";
  for (const auto& dir : {a, b, c, d}) {
    ASSERT_EQ(0, mkdir(dir.c_str(), 0755)) << dir << ": " << ErrnoText(errno);
  }
  EXPECT_ERRNO(EEXIST, mkdir(b.c_str(), 0755));
  ASSERT_TRUE(WriteFile(d + "/f", "payload"));
  struct stat st;
  ASSERT_EQ(0, stat(d.c_str(), &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  EXPECT_ERRNO(ENOTEMPTY, rmdir(a.c_str()));
  EXPECT_ERRNO(ENOTEMPTY, rmdir(d.c_str()));
  EXPECT_ERRNO(ENOTDIR, rmdir((d + "/f").c_str()));
  EXPECT_ERRNO(EISDIR, unlink(d.c_str()));
  EXPECT_ERRNO(ENOTDIR, mkdir((d + "/f/x").c_str(), 0755));

  ASSERT_EQ(0, unlink((d + "/f").c_str())) << ErrnoText(errno);
  for (const auto& dir : {d, c, b, a}) {
    EXPECT_EQ(0, rmdir(dir.c_str())) << dir << ": " << ErrnoText(errno);
  }
  EXPECT_ERRNO(ENOENT, stat(a.c_str(), &st));
  EXPECT_TRUE(ListDir(mnt_).empty());
}

TEST_F(BasicOpsTest, RenameOverExistingFileReplacesTargetAtomically) {
  std::string src = P("src"), dst = P("dst");
  std::string src_data = PatternBytes(13, 3 * kMiB + 7), dst_data = PatternBytes(14, kMiB);
  ASSERT_TRUE(WriteFile(src, src_data));
  ASSERT_TRUE(WriteFile(dst, dst_data));
  ASSERT_EQ(0, rename(src.c_str(), dst.c_str())) << ErrnoText(errno);
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(src.c_str(), &st));
  std::string got;
  ASSERT_TRUE(ReadFile(dst, &got));
  EXPECT_SAME_BYTES(src_data, got);
  EXPECT_EQ(std::set<std::string>{"dst"}, ListDir(mnt_));
}

TEST_F(BasicOpsTest, OpenFdOfReplacedRenameTargetStillReadsOldContent) {
  std::string src = P("src"), dst = P("dst");
  std::string src_data = PatternBytes(15, 2 * kMiB), dst_data = PatternBytes(16, 2 * kMiB + 1);
  ASSERT_TRUE(WriteFile(src, src_data));
  ASSERT_TRUE(WriteFile(dst, dst_data));
  UniqueFd old(open(dst.c_str(), O_RDONLY));
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(0, rename(src.c_str(), dst.c_str())) << ErrnoText(errno);
  // New writes must not land in the replaced file's slots while it is open.
  ASSERT_TRUE(WriteFile(P("other"), PatternBytes(17, 4 * kMiB)));
  EXPECT_SAME_BYTES(dst_data, PReadAll(old.get(), 1 << 20));
  std::string got;
  ASSERT_TRUE(ReadFile(dst, &got));
  EXPECT_SAME_BYTES(src_data, got);
}

TEST_F(BasicOpsTest, RenameNoreplaceOntoExistingNameFailsWithEexist) {
  std::string a = P("a"), b = P("b"), c = P("c");
  ASSERT_TRUE(WriteFile(a, "AAAA"));
  ASSERT_TRUE(WriteFile(b, "BBBBBB"));
  EXPECT_ERRNO(EEXIST, syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_NOREPLACE));
  std::string got;
  ASSERT_TRUE(ReadFile(a, &got));
  EXPECT_EQ("AAAA", got);
  ASSERT_TRUE(ReadFile(b, &got));
  EXPECT_EQ("BBBBBB", got);
  // Onto a free name it works.
  EXPECT_EQ(0, syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, c.c_str(), RENAME_NOREPLACE))
      << ErrnoText(errno);
  ASSERT_TRUE(ReadFile(c, &got));
  EXPECT_EQ("AAAA", got);
  EXPECT_EQ((std::set<std::string>{"b", "c"}), ListDir(mnt_));
}

TEST_F(BasicOpsTest, RenameMovesFilesAndDirectoriesBetweenDirectories) {
  ASSERT_EQ(0, mkdir(P("d1").c_str(), 0755));
  ASSERT_EQ(0, mkdir(P("d2").c_str(), 0755));
  ASSERT_EQ(0, mkdir(P("d1/sub").c_str(), 0755));
  std::string data = PatternBytes(18, 12345);
  ASSERT_TRUE(WriteFile(P("d1/sub/f"), data));
  ASSERT_TRUE(WriteFile(P("d1/g"), "g"));
  ASSERT_EQ(0, rename(P("d1/g").c_str(), P("d2/g2").c_str())) << ErrnoText(errno);
  ASSERT_EQ(0, rename(P("d1/sub").c_str(), P("d2/moved").c_str())) << ErrnoText(errno);
  std::string got;
  ASSERT_TRUE(ReadFile(P("d2/moved/f"), &got));
  EXPECT_SAME_BYTES(data, got);
  ASSERT_TRUE(ReadFile(P("d2/g2"), &got));
  EXPECT_EQ("g", got);
  EXPECT_TRUE(ListDir(P("d1")).empty());
  EXPECT_EQ((std::set<std::string>{"g2", "moved"}), ListDir(P("d2")));
}

TEST_F(BasicOpsTest, RenameErrorsFollowPosix) {
  ASSERT_EQ(0, mkdir(P("full").c_str(), 0755));
  ASSERT_TRUE(WriteFile(P("full/x"), "x"));
  ASSERT_EQ(0, mkdir(P("empty").c_str(), 0755));
  ASSERT_EQ(0, mkdir(P("other").c_str(), 0755));
  ASSERT_TRUE(WriteFile(P("file"), "f"));
  EXPECT_ERRNO(ENOTEMPTY, rename(P("other").c_str(), P("full").c_str()));
  EXPECT_ERRNO(EISDIR, rename(P("file").c_str(), P("empty").c_str()));
  EXPECT_ERRNO(ENOTDIR, rename(P("empty").c_str(), P("file").c_str()));
  EXPECT_ERRNO(ENOENT, rename(P("nothing").c_str(), P("x").c_str()));
  // A directory onto an empty directory replaces it.
  EXPECT_EQ(0, rename(P("other").c_str(), P("empty").c_str())) << ErrnoText(errno);
  EXPECT_EQ((std::set<std::string>{"empty", "file", "full"}), ListDir(mnt_));
}

TEST_F(BasicOpsTest, ReaddirListsExactlyTheCreatedNames) {
  std::set<std::string> want = {
      "meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt",
      "-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt",
      "a", "B", "with space", "per%cent", "dots.in.name", "unicode-\xc3\xbc\xc3\xa9", "...x",
  };
  for (const auto& n : want) {
    ASSERT_TRUE(WriteFile(P(n), n));
  }
  ASSERT_EQ(0, mkdir(P("subdir").c_str(), 0755));
  want.insert("subdir");
  EXPECT_EQ(want, ListDir(mnt_));

  // d_type is right (or DT_UNKNOWN) for every entry.
  DIR* d = opendir(mnt_.c_str());
  ASSERT_NE(nullptr, d);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type == DT_UNKNOWN) continue;
    EXPECT_EQ(n == "subdir" || n == ".slotfs" ? DT_DIR : DT_REG, e->d_type) << n;
  }
  closedir(d);
  for (const auto& n : want) {
    if (n == "subdir") continue;
    std::string got;
    ASSERT_TRUE(ReadFile(P(n), &got));
    EXPECT_EQ(n, got);
  }
}

TEST_F(BasicOpsTest, ReaddirOfTwoThousandFilesListsEachExactlyOnce) {
  ASSERT_EQ(0, mkdir(P("many").c_str(), 0755));
  std::set<std::string> want;
  for (int i = 0; i < 2000; ++i) {
    char name[128];
    snprintf(name, sizeof name, "meta-llama-Llama-3.1-8B-Instruct@1@0@%016x@bfloat16.pt", i * 2654435761u);
    want.insert(name);
    UniqueFd fd(open(P(std::string("many/") + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.ok()) << name << ": " << ErrnoText(errno);
    if (i % 100 == 0) {
      ASSERT_EQ(ssize_t(strlen(name)), write(fd.get(), name, strlen(name))) << ErrnoText(errno);
    }
  }
  std::map<std::string, int> counts;
  std::set<std::string> got = ListDir(P("many"), &counts);
  EXPECT_EQ(want.size(), got.size());
  EXPECT_TRUE(want == got) << "listing differs from the created names";
  for (const auto& [n, c] : counts) {
    EXPECT_EQ(1, c) << n << " listed " << c << " times";
  }

  // Remove half, list again.
  int k = 0;
  for (auto it = want.begin(); it != want.end(); ++k) {
    if (k % 2 == 0) {
      ASSERT_EQ(0, unlink(P("many/" + *it).c_str())) << ErrnoText(errno);
      it = want.erase(it);
    } else {
      ++it;
    }
  }
  counts.clear();
  got = ListDir(P("many"), &counts);
  EXPECT_EQ(want.size(), got.size());
  EXPECT_TRUE(want == got) << "listing after unlinking half differs";
  for (const auto& [n, c] : counts) {
    EXPECT_EQ(1, c) << n << " listed " << c << " times";
  }
}

TEST_F(BasicOpsTest, StatfsReportsSlotGeometryAndFileUsage) {
  struct statvfs v0;
  ASSERT_TRUE(StatVfs(&v0));
  EXPECT_EQ(4096u, v0.f_bsize);
  EXPECT_EQ(4096u, v0.f_frsize);
  EXPECT_GE(v0.f_namemax, 255u);
  // Data capacity = slot_count * slot size fits in the 1 GiB image, minus at most
  // a few MiB for the superblocks and alignment.
  uint64_t capacity = uint64_t(v0.f_blocks) * 4096;
  EXPECT_EQ(0u, capacity % kSlot) << "f_blocks is not a whole number of slots";
  EXPECT_LE(capacity, 1 * kGiB);
  EXPECT_GE(capacity, 1 * kGiB - 8 * kMiB);
  EXPECT_EQ(v0.f_blocks, v0.f_bfree) << "a fresh filesystem should have every slot free";
  EXPECT_LE(v0.f_bavail, v0.f_bfree);

  // If the format output names the slot count, f_blocks must match it.
  std::smatch m;
  std::string out = format_result_.out + format_result_.err;
  static const std::regex kSlots(R"((?:slot[_ ]?count|slots)\s*[:=]?\s*(\d+))", std::regex::icase);
  if (std::regex_search(out, m, kSlots)) {
    uint64_t slots = std::stoull(m[1]);
    EXPECT_EQ(slots * kBlocksPerSlot, v0.f_blocks) << "format said: " << out;
  } else {
    std::cerr << "note: no slot count found in the format output, checked f_blocks by bounds only:\n"
              << out << "\n";
  }

  // A file of 3.5 slots takes 4 slots.
  ASSERT_TRUE(WriteFile(P("f"), PatternBytes(19, 3 * kSlot + kSlot / 2)));
  struct statvfs v1;
  ASSERT_TRUE(StatVfs(&v1));
  EXPECT_EQ(v0.f_blocks, v1.f_blocks);
  EXPECT_EQ(4 * kBlocksPerSlot, v0.f_bfree - v1.f_bfree);
  // A 1-byte file takes one slot, an empty file none.
  ASSERT_TRUE(WriteFile(P("g"), "1"));
  ASSERT_TRUE(WriteFile(P("h"), ""));
  struct statvfs v2;
  ASSERT_TRUE(StatVfs(&v2));
  EXPECT_EQ(1 * kBlocksPerSlot, v1.f_bfree - v2.f_bfree);

  // Unlinking gives the slots back (possibly after the commit interval).
  ASSERT_EQ(0, unlink(P("f").c_str()));
  ASSERT_EQ(0, unlink(P("g").c_str()));
  ASSERT_EQ(0, unlink(P("h").c_str()));
  EXPECT_EQ(v0.f_bfree, WaitForBfree(v0.f_bfree)) << "slots not returned after unlink";
}

TEST_F(BasicOpsTest, RenameOverTargetAndOverwriteReleaseOldSlots) {
  struct statvfs v0;
  ASSERT_TRUE(StatVfs(&v0));
  ASSERT_TRUE(WriteFile(P("a"), PatternBytes(20, 2 * kSlot)));
  ASSERT_TRUE(WriteFile(P("b"), PatternBytes(21, 3 * kSlot)));
  ASSERT_EQ(0, rename(P("a").c_str(), P("b").c_str()));
  EXPECT_EQ(v0.f_bfree - 2 * kBlocksPerSlot, WaitForBfree(v0.f_bfree - 2 * kBlocksPerSlot))
      << "the replaced target's 3 slots were not released";
  ASSERT_TRUE(WriteFile(P("b"), PatternBytes(22, 1 * kSlot)));  // O_TRUNC overwrite
  EXPECT_EQ(v0.f_bfree - 1 * kBlocksPerSlot, WaitForBfree(v0.f_bfree - 1 * kBlocksPerSlot))
      << "O_TRUNC + smaller rewrite did not release the old slots";
  std::string got;
  ASSERT_TRUE(ReadFile(P("b"), &got));
  EXPECT_SAME_BYTES(PatternBytes(22, 1 * kSlot), got);
}

std::vector<std::string> ListXattrs(const std::string& path) {
  std::vector<std::string> names;
  ssize_t n = listxattr(path.c_str(), nullptr, 0);
  if (n < 0) {
    ADD_FAILURE() << "listxattr(" << path << "): " << ErrnoText(errno);
    return names;
  }
  std::string buf(size_t(n) + 1, '\0');
  n = listxattr(path.c_str(), buf.data(), buf.size());
  if (n < 0) {
    ADD_FAILURE() << "listxattr(" << path << "): " << ErrnoText(errno);
    return names;
  }
  for (size_t i = 0; i < size_t(n);) {
    std::string name(buf.data() + i);
    names.push_back(name);
    i += name.size() + 1;
  }
  return names;
}

std::string GetXattr(const std::string& path, const std::string& name) {
  char buf[4096];
  ssize_t n = getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  if (n < 0) {
    ADD_FAILURE() << "getxattr(" << path << ", " << name << "): " << ErrnoText(errno);
    return "<error>";
  }
  std::string v(buf, size_t(n));
  while (!v.empty() && (v.back() == '\n' || v.back() == '\0')) v.pop_back();
  return v;
}

// "12-43,50" -> number of slots named.
int CountSlots(const std::string& ranges) {
  static const std::regex kRanges(R"(^\d+(-\d+)?(,\d+(-\d+)?)*$)");
  if (!std::regex_match(ranges, kRanges)) return -1;
  int count = 0;
  size_t pos = 0;
  while (pos < ranges.size()) {
    size_t comma = ranges.find(',', pos);
    std::string part = ranges.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t dash = part.find('-');
    if (dash == std::string::npos) {
      count += 1;
    } else {
      count += std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return count;
}

TEST_F(BasicOpsTest, XattrsDescribeSlotsSizeStateAndPin) {
  std::string path = P("x");
  const uint64_t size = 3 * kSlot + 1;
  ASSERT_TRUE(WriteFile(path, PatternBytes(23, size)));
  std::vector<std::string> names = ListXattrs(path);
  for (const char* want : {"user.slotfs.slots", "user.slotfs.size", "user.slotfs.state", "user.slotfs.pin"}) {
    EXPECT_NE(names.end(), std::find(names.begin(), names.end(), want)) << "listxattr lacks " << want;
  }
  std::string slots = GetXattr(path, "user.slotfs.slots");
  EXPECT_EQ(4, CountSlots(slots)) << "user.slotfs.slots = \"" << slots << "\" for a 3-slot + 1 byte file";
  EXPECT_EQ(std::to_string(size), GetXattr(path, "user.slotfs.size"));
  EXPECT_FALSE(GetXattr(path, "user.slotfs.state").empty());
  EXPECT_EQ("0", GetXattr(path, "user.slotfs.pin"));

  ASSERT_EQ(0, setxattr(path.c_str(), "user.slotfs.pin", "1", 1, 0)) << ErrnoText(errno);
  EXPECT_EQ("1", GetXattr(path, "user.slotfs.pin"));
  ASSERT_EQ(0, setxattr(path.c_str(), "user.slotfs.pin", "0", 1, 0)) << ErrnoText(errno);
  EXPECT_EQ("0", GetXattr(path, "user.slotfs.pin"));

  // Anything else is not supported; unknown names read as absent.
  EXPECT_ERRNO(ENOTSUP, setxattr(path.c_str(), "user.other", "v", 1, 0));
  EXPECT_ERRNO(ENOTSUP, setxattr(path.c_str(), "user.slotfs.size", "5", 1, 0));
  char buf[64];
  EXPECT_ERRNO(ENODATA, getxattr(path.c_str(), "user.other", buf, sizeof buf));
  // A size probe works like everywhere else.
  ssize_t n = getxattr(path.c_str(), "user.slotfs.size", nullptr, 0);
  EXPECT_EQ(ssize_t(std::to_string(size).size()), n) << ErrnoText(errno);
  // The file content is untouched by all this.
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(PatternBytes(23, size), got);
}

TEST_F(BasicOpsTest, FsyncAndFdatasyncSucceed) {
  std::string path = P("sync");
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  std::string data = PatternBytes(24, 2 * kMiB + 5);
  ASSERT_EQ(ssize_t(data.size()), write(fd.get(), data.data(), data.size())) << ErrnoText(errno);
  EXPECT_EQ(0, fsync(fd.get())) << ErrnoText(errno);
  ASSERT_EQ(ssize_t(5), pwrite(fd.get(), "hello", 5, 100));
  EXPECT_EQ(0, fdatasync(fd.get())) << ErrnoText(errno);
  EXPECT_EQ(0, fsync(fd.get())) << "fsync with nothing dirty: " << ErrnoText(errno);
  ASSERT_EQ(0, fd.Reset());
  data.replace(100, 5, "hello");
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(data, got);

  UniqueFd ro(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(0, fsync(ro.get())) << "fsync on a read-only fd: " << ErrnoText(errno);
  UniqueFd dir(open(mnt_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(0, fsync(dir.get())) << "fsync on the directory: " << ErrnoText(errno);
}

TEST_F(BasicOpsTest, ContentIsVisibleToOtherProcessesOnceCloseReturns) {
  std::string data = PatternBytes(25, 4 * kMiB);
  // A child writes and closes; the parent reads right after it exits.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = open(P("from-child").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(10);
    if (write(fd, data.data(), data.size()) != ssize_t(data.size())) _exit(11);
    if (close(fd) != 0) _exit(12);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child writer status " << status;
  std::string got;
  ASSERT_TRUE(ReadFile(P("from-child"), &got));
  EXPECT_SAME_BYTES(data, got);

  // The parent writes and closes; a child reads and compares.
  std::string data2 = PatternBytes(26, 3 * kMiB + 3);
  ASSERT_TRUE(WriteFile(P("from-parent"), data2));
  pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string in;
    int fd = open(P("from-parent").c_str(), O_RDONLY);
    if (fd < 0) _exit(10);
    char buf[1 << 16];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) in.append(buf, size_t(n));
    close(fd);
    _exit(in == data2 ? 0 : 1);
  }
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child did not read back exactly what the parent wrote (status " << status << ")";
}

TEST_F(BasicOpsTest, UnlinkedFileStaysReadableThroughOpenFd) {
  std::string path = P("doomed");
  std::string data = PatternBytes(27, 2 * kMiB + 100);
  ASSERT_TRUE(WriteFile(path, data));
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, unlink(path.c_str())) << ErrnoText(errno);
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(path.c_str(), &st));
  // Reuse the name and fill more space while the old fd is open.
  std::string data2 = PatternBytes(28, 3 * kMiB);
  ASSERT_TRUE(WriteFile(path, data2));
  ASSERT_TRUE(WriteFile(P("filler"), PatternBytes(29, 8 * kMiB)));
  EXPECT_SAME_BYTES(data, PReadAll(fd.get(), 1 << 20));
  std::string got;
  ASSERT_TRUE(ReadFile(path, &got));
  EXPECT_SAME_BYTES(data2, got);
}

TEST_F(BasicOpsTest, TwoDescriptorsOfOneFileSeeEachOthersWrites) {
  std::string path = P("shared");
  UniqueFd w(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(w.ok());
  UniqueFd r(open(path.c_str(), O_RDONLY));
  ASSERT_TRUE(r.ok());
  std::string data = PatternBytes(30, 100000);
  ASSERT_EQ(ssize_t(data.size()), pwrite(w.get(), data.data(), data.size(), 0));
  EXPECT_SAME_BYTES(data, PReadAll(r.get(), 4096));
}

}  // namespace
}  // namespace slotfs::itest
