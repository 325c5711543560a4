// tests/integration/control_files_test.cc — MOUNT/.slotfs/stats and
// .slotfs/metrics on a live mount: their counters match what the test did,
// stats parses with Python's json module and metrics with Prometheus's own
// parser (Debian's python3-prometheus-client), every way of reading them
// sees the whole content, they are listed once in the root, and every
// attempt to change them fails.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/py_parsers.h"

namespace slotfs::itest {
namespace {

uint64_t U(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) {
    ADD_FAILURE() << "stats has no field " << key;
    return 0;
  }
  return std::stoull(it->second);
}
double D(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) {
    ADD_FAILURE() << "stats has no field " << key;
    return 0;
  }
  return std::stod(it->second);
}

class ControlFilesTest : public MountTest {
 protected:
  // 1 MiB slots, chosen explicitly: the sizes below count them.
  Config Options() const override {
    Config c;
    c.slot_size = "1M";
    return c;
  }
  std::string Stats() const { return P(".slotfs/stats"); }
  std::string MetricsPath() const { return P(".slotfs/metrics"); }

  std::map<std::string, std::string> ReadStats() {
    std::map<std::string, std::string> kv;
    EXPECT_TRUE(ParseJsonFile(Stats(), &kv));
    return kv;
  }

  // Reads stats until `key` reaches `want` (the file count is refreshed at
  // most once a second and counts committed rows), at most 10 s.
  std::map<std::string, std::string> StatsWhen(const std::string& key, uint64_t want) {
    std::map<std::string, std::string> kv;
    for (int i = 0; i < 100; ++i) {
      kv = ReadStats();
      if (kv.count(key) && std::stoull(kv[key]) == want) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return kv;
  }
};

constexpr int kFiles = 5;
constexpr size_t kFileSize = kMiB + 4096;  // two slots each

TEST_F(ControlFilesTest, StatsCountWhatTheTestDid) {
  // Baseline: a fresh mount has served nothing yet.
  auto s0 = ReadStats();
  EXPECT_EQ(0u, U(s0, "files"));
  EXPECT_EQ(0u, U(s0, "counters.writes"));
  EXPECT_EQ(0u, U(s0, "counters.reads"));
  EXPECT_EQ(db_, s0["db_path"]);
  EXPECT_EQ(image_, s0["device"]);
  EXPECT_EQ(mnt_, s0["mountpoint"]);
  EXPECT_EQ("lru", s0["eviction.policy"]);
  EXPECT_EQ(kMiB, U(s0, "slot_size"));
  EXPECT_GT(D(s0, "uptime_seconds"), 0.0);
  EXPECT_EQ(U(s0, "slots.total"),
            U(s0, "slots.used") + U(s0, "slots.free") + U(s0, "slots.quarantined"));

  for (int i = 0; i < kFiles; ++i) {
    std::string name = P("model@1@0@" + std::to_string(1000 + i) + "@half.pt");
    ASSERT_TRUE(WriteFile(name, PatternBytes(i, kFileSize)));
    std::string back;
    ASSERT_TRUE(ReadFile(name, &back));
    ASSERT_SAME_BYTES(PatternBytes(i, kFileSize), back);
  }
  auto s1 = StatsWhen("files", kFiles);
  ASSERT_EQ(uint64_t(kFiles), U(s1, "files"));
  EXPECT_EQ(kFiles * kFileSize, U(s1, "bytes"));
  EXPECT_GE(U(s1, "slots.used"), uint64_t(2 * kFiles));
  EXPECT_GE(U(s1, "counters.writes"), uint64_t(kFiles));
  EXPECT_GE(U(s1, "counters.bytes_written"), kFiles * kFileSize);
  EXPECT_GE(U(s1, "counters.reads"), uint64_t(kFiles));
  EXPECT_GE(U(s1, "counters.bytes_read"), kFiles * kFileSize);
  EXPECT_GE(U(s1, "counters.files_committed"), uint64_t(kFiles));
  EXPECT_EQ(0u, U(s1, "counters.checksum_failures"));
  EXPECT_EQ(0u, U(s1, "counters.evictions"));
  // Request latencies were recorded, in order.
  for (const char* op : {"write", "read", "create", "open", "flush", "lookup"}) {
    std::string k = std::string("latency.") + op + ".";
    EXPECT_GE(U(s1, k + "count"), uint64_t(kFiles)) << op;
    EXPECT_LE(D(s1, k + "p50_us"), D(s1, k + "p90_us")) << op;
    EXPECT_LE(D(s1, k + "p90_us"), D(s1, k + "p99_us")) << op;
    EXPECT_LE(D(s1, k + "p99_us"), D(s1, k + "max_us")) << op;
    EXPECT_GT(D(s1, k + "max_us"), 0.0) << op;
  }

  // Misses: exactly the lookups of names that do not exist (each a new
  // name, so no negative entry cached by the kernel hides one).
  constexpr int kMisses = 7;
  for (int i = 0; i < kMisses; ++i) {
    struct stat st;
    EXPECT_ERRNO(ENOENT, stat(P("absent-" + std::to_string(i)).c_str(), &st));
  }
  auto s2 = ReadStats();
  EXPECT_EQ(U(s1, "counters.misses") + kMisses, U(s2, "counters.misses"));
  EXPECT_EQ(U(s1, "counters.writes"), U(s2, "counters.writes"))
      << "reading the control files must not count as cache traffic";
  EXPECT_EQ(U(s1, "counters.reads"), U(s2, "counters.reads"));
  EXPECT_EQ(U(s1, "latency.read.count"), U(s2, "latency.read.count"));
  EXPECT_EQ(U(s1, "latency.lookup.count") + kMisses, U(s2, "latency.lookup.count"));
  EXPECT_GE(D(s2, "uptime_seconds"), D(s1, "uptime_seconds"));

  // Hits: after a remount the kernel has no entries cached, so each stat of
  // a stored name is one lookup that hits. Counters start again at mount.
  ASSERT_EQ(0, mount_->Unmount());
  ASSERT_TRUE(mount_->Remount());
  for (int i = 0; i < kFiles; ++i) {
    struct stat st;
    ASSERT_SYS_OK(stat(P("model@1@0@" + std::to_string(1000 + i) + "@half.pt").c_str(), &st));
  }
  auto s3 = ReadStats();
  EXPECT_EQ(uint64_t(kFiles), U(s3, "counters.hits"));
  EXPECT_EQ(0u, U(s3, "counters.misses"));
  EXPECT_EQ(0u, U(s3, "counters.writes"));
  EXPECT_EQ(uint64_t(kFiles), U(s3, "files"));
  EXPECT_EQ(uint64_t(kFiles), U(s3, "latency.lookup.count"));
}

TEST_F(ControlFilesTest, MetricsParseWithPrometheusClientAndMatchStats) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WriteFile(P("f" + std::to_string(i)), PatternBytes(i, 8192)));
  }
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(P("nope").c_str(), &st));
  auto stats = StatsWhen("files", 3);
  Metrics m;
  ASSERT_TRUE(ParseMetricsFile(MetricsPath(), &m));
  // prometheus_client names a counter family without its _total suffix.
  for (const char* c :
       {"slotfs_lookup_hits", "slotfs_lookup_misses", "slotfs_reads", "slotfs_writes",
        "slotfs_read_bytes", "slotfs_written_bytes", "slotfs_checksum_failures", "slotfs_evictions",
        "slotfs_evicted_bytes", "slotfs_commits", "slotfs_enospc"}) {
    EXPECT_EQ("counter", m.families[c]) << c;
    EXPECT_EQ(1u, m.samples.count(std::string(c) + "_total")) << c;
  }
  for (const char* g : {"slotfs_files", "slotfs_slots", "slotfs_slots_used", "slotfs_slots_free",
                        "slotfs_slots_quarantined", "slotfs_uptime_seconds", "slotfs_info",
                        "slotfs_evict_high_watermark_percent", "slotfs_recovery_files_kept"}) {
    EXPECT_EQ("gauge", m.families[g]) << g;
  }
  EXPECT_EQ("summary", m.families["slotfs_request_duration_seconds"]);
  for (const char* op : {"read", "write", "lookup", "open", "create"}) {
    std::string o = std::string("op=") + op;
    EXPECT_EQ(1u, m.samples.count("slotfs_request_duration_seconds{" + o + ",quantile=0.5}")) << op;
    EXPECT_EQ(1u, m.samples.count("slotfs_request_duration_seconds{" + o + ",quantile=0.99}"))
        << op;
    EXPECT_EQ(1u, m.samples.count("slotfs_request_duration_seconds_sum{" + o + "}")) << op;
  }
  EXPECT_GE(m.samples["slotfs_request_duration_seconds_count{op=write}"], 3.0);
  // Nothing ran between the two reads: the figures agree.
  EXPECT_EQ(3.0, m.samples["slotfs_files"]);
  EXPECT_EQ(double(U(stats, "counters.misses")), m.samples["slotfs_lookup_misses_total"]);
  EXPECT_EQ(double(U(stats, "counters.writes")), m.samples["slotfs_writes_total"]);
  EXPECT_EQ(double(U(stats, "counters.bytes_written")), m.samples["slotfs_written_bytes_total"]);
  EXPECT_EQ(double(U(stats, "slots.used")), m.samples["slotfs_slots_used"]);
  EXPECT_EQ(double(U(stats, "slots.total")), m.samples["slotfs_slots"]);
  bool info = false;
  for (const auto& [k, v] : m.samples) {
    if (k.rfind("slotfs_info{", 0) == 0) {
      info = true;
      EXPECT_NE(std::string::npos, k.find("db_path=" + db_)) << k;
      EXPECT_EQ(1.0, v);
    }
  }
  EXPECT_TRUE(info) << "no slotfs_info sample";
}

TEST_F(ControlFilesTest, EveryWayOfReadingSeesTheWholeContent) {
  struct stat st;
  ASSERT_SYS_OK(stat(Stats().c_str(), &st));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(0444u, st.st_mode & 07777);
  EXPECT_EQ(0, st.st_size) << "generated files report size 0, as /proc does";
  ASSERT_SYS_OK(stat(P(".slotfs").c_str(), &st));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(0555u, st.st_mode & 07777);
  EXPECT_GT(st.st_ino, uint64_t(INT64_MAX));

  // cat, head -c, python's json.load.
  ProcResult cat = RunShell("cat " + ShellQuote(Stats()));
  ASSERT_EQ(0, cat.exit_code) << cat.Describe();
  ASSERT_GT(cat.out.size(), 200u);
  EXPECT_EQ('{', cat.out.front());
  EXPECT_EQ("}\n", cat.out.substr(cat.out.size() - 2));
  ProcResult head = RunShell("head -c 10 " + ShellQuote(Stats()));
  ASSERT_EQ(0, head.exit_code) << head.Describe();
  EXPECT_EQ(cat.out.substr(0, 10), head.out);
  ProcResult py =
      RunProcess({kPython, "-c",
                  "import json,sys; d=json.load(open(sys.argv[1])); print(d['db_path'])", Stats()});
  ASSERT_EQ(0, py.exit_code) << py.Describe();
  EXPECT_EQ(db_ + "\n", py.out);
  ProcResult metrics = RunShell("cat " + ShellQuote(MetricsPath()));
  ASSERT_EQ(0, metrics.exit_code) << metrics.Describe();
  EXPECT_NE(std::string::npos, metrics.out.find("# TYPE slotfs_writes_total counter\n"));

  // One open is one snapshot: small reads at every offset, and a second
  // pass, reassemble exactly what one big read returns.
  UniqueFd fd(open(Stats().c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  std::string whole(1 << 20, '\0');
  ssize_t n = pread(fd.get(), whole.data(), whole.size(), 0);
  ASSERT_GT(n, 0) << ErrnoText(errno);
  whole.resize(size_t(n));
  std::string pieces;
  char buf[7];
  for (;;) {
    ssize_t k = pread(fd.get(), buf, sizeof buf, off_t(pieces.size()));
    ASSERT_GE(k, 0) << ErrnoText(errno);
    if (k == 0) break;
    pieces.append(buf, size_t(k));
  }
  EXPECT_EQ(whole, pieces);
  std::string sequential;
  for (;;) {
    ssize_t k = read(fd.get(), buf, 3);
    ASSERT_GE(k, 0) << ErrnoText(errno);
    if (k == 0) break;
    sequential.append(buf, size_t(k));
  }
  EXPECT_EQ(whole, sequential);
  EXPECT_EQ(0, pread(fd.get(), buf, sizeof buf, off_t(whole.size() + 100)));

  // Each open renders afresh: a file written since shows up.
  ASSERT_TRUE(WriteFile(P("new"), "x"));
  auto later = StatsWhen("files", 1);
  EXPECT_EQ(1u, U(later, "files"));
  EXPECT_NE(std::string::npos, whole.find("\"files\": 0,")) << "the old handle changed";
}

// getdents64 with a small buffer: many pages, as a large directory gets.
std::vector<std::string> ListInPages(const std::string& dir, size_t buf_size) {
  std::vector<std::string> names;
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (!fd.ok()) {
    ADD_FAILURE() << "open " << dir << ": " << ErrnoText(errno);
    return names;
  }
  std::vector<char> buf(buf_size);
  for (;;) {
    long n = syscall(SYS_getdents64, fd.get(), buf.data(), buf.size());
    if (n < 0) {
      ADD_FAILURE() << "getdents64: " << ErrnoText(errno);
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf.data() + off);
      names.emplace_back(d->d_name);
      off += d->d_reclen;
    }
  }
  return names;
}

TEST_F(ControlFilesTest, RootListsTheControlDirectoryExactlyOnce) {
  constexpr int kNames = 120;
  for (int i = 0; i < kNames; ++i) {
    UniqueFd fd(open(P("entry-" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(fd.ok()) << ErrnoText(errno);
  }
  for (size_t buf : {size_t(128), size_t(512), size_t(4096), size_t(65536)}) {
    std::vector<std::string> names = ListInPages(mnt_, buf);
    EXPECT_EQ(1, std::count(names.begin(), names.end(), ".slotfs")) << "buffer " << buf;
    EXPECT_EQ(1, std::count(names.begin(), names.end(), ".")) << "buffer " << buf;
    EXPECT_EQ(size_t(kNames + 3), names.size()) << "buffer " << buf;
    for (int i = 0; i < kNames; i += 17) {
      EXPECT_EQ(1, std::count(names.begin(), names.end(), "entry-" + std::to_string(i)));
    }
  }
  ProcResult ls = RunShell("ls -a " + ShellQuote(mnt_) + " | grep -c '^\\.slotfs$'");
  EXPECT_EQ("1\n", ls.out) << ls.Describe();
  std::vector<std::string> inside = ListInPages(P(".slotfs"), 128);
  std::sort(inside.begin(), inside.end());
  EXPECT_EQ((std::vector<std::string>{".", "..", "metrics", "stats"}), inside);
  // A subdirectory has no control directory.
  ASSERT_SYS_OK(mkdir(P("sub").c_str(), 0755));
  std::vector<std::string> sub = ListInPages(P("sub"), 4096);
  EXPECT_EQ(0, std::count(sub.begin(), sub.end(), ".slotfs"));
}

TEST_F(ControlFilesTest, ControlFilesRefuseEveryChange) {
  ASSERT_TRUE(WriteFile(P("user"), "data"));
  const std::string stats = Stats();
  const std::string dir = P(".slotfs");
  EXPECT_ERRNO(EACCES, open(stats.c_str(), O_WRONLY));
  EXPECT_ERRNO(EACCES, open(stats.c_str(), O_RDWR));
  EXPECT_ERRNO(EACCES, open(stats.c_str(), O_RDONLY | O_TRUNC));
  EXPECT_ERRNO(EACCES, open(MetricsPath().c_str(), O_WRONLY | O_APPEND));
  EXPECT_ERRNO(EACCES, truncate(stats.c_str(), 0));
  EXPECT_ERRNO(EACCES, chmod(stats.c_str(), 0644));
  EXPECT_ERRNO(EACCES, utimes(stats.c_str(), nullptr));
  EXPECT_ERRNO(EACCES, setxattr(stats.c_str(), "user.x", "1", 1, 0));
  EXPECT_ERRNO(EACCES, unlink(stats.c_str()));
  EXPECT_ERRNO(EACCES, rename(stats.c_str(), P("stolen").c_str()));
  EXPECT_ERRNO(EACCES, rename(P("user").c_str(), (dir + "/user").c_str()));
  EXPECT_ERRNO(EACCES, rename(P("user").c_str(), stats.c_str()));
  EXPECT_ERRNO(EACCES, open((dir + "/new").c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_ERRNO(EACCES, mkdir((dir + "/d").c_str(), 0755));
  EXPECT_ERRNO(EACCES, mknod((dir + "/n").c_str(), S_IFREG | 0644, 0));
  // The directory itself cannot go or move, and its name cannot be taken.
  EXPECT_ERRNO(EPERM, rmdir(dir.c_str()));
  EXPECT_ERRNO(EPERM, rename(dir.c_str(), P("moved").c_str()));
  ASSERT_SYS_OK(mkdir(P("empty").c_str(), 0755));
  EXPECT_ERRNO(EPERM, rename(P("empty").c_str(), dir.c_str()));
  EXPECT_ERRNO(EEXIST, mkdir(dir.c_str(), 0755));
  EXPECT_ERRNO(EEXIST, open(dir.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
  EXPECT_ERRNO(EEXIST, mknod(dir.c_str(), S_IFREG | 0644, 0));
  EXPECT_ERRNO(EEXIST, symlink("user", dir.c_str()));
  ProcResult echo = RunShell("echo x > " + ShellQuote(stats));
  EXPECT_NE(0, echo.exit_code) << echo.Describe();

  // Nothing changed: the user file is intact, nothing else was created, and
  // the control files still read.
  std::string data;
  ASSERT_TRUE(ReadFile(P("user"), &data));
  EXPECT_EQ("data", data);
  auto s = StatsWhen("directories", 2);  // the root and "empty"
  EXPECT_EQ(2u, U(s, "directories"));
  EXPECT_EQ(1u, U(s, "files"));
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(P("stolen").c_str(), &st));
  EXPECT_ERRNO(ENOENT, stat((dir + "/new").c_str(), &st));
  // `.slotfs` is an ordinary name below the root.
  ASSERT_SYS_OK(mkdir(P("sub").c_str(), 0755));
  ASSERT_TRUE(WriteFile(P("sub/.slotfs"), "mine"));
  ASSERT_TRUE(ReadFile(P("sub/.slotfs"), &data));
  EXPECT_EQ("mine", data);
}

}  // namespace
}  // namespace slotfs::itest
