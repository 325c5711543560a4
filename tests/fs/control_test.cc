// fs/control: rendering of .slotfs/stats and .slotfs/metrics from a
// hand-made snapshot, and the control files' namespace (attributes, lookup,
// readdir pages of the control directory and of the root).
#include "fs/control.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/json.h"

namespace slotfs::fs {
namespace {

using nlohmann::json;

ControlView MakeView() {
  ControlView v;
  core::StatsSnapshot& s = v.stats;
  s.space.slots_total = 1000;
  s.space.slots_used = 600;
  s.space.slots_free = 390;
  s.space.slots_quarantined = 10;
  s.stored.files = 42;
  s.stored.dirs = 3;
  s.stored.bytes = 123456789;
  s.pinned_files = 2;
  s.active_inodes = 5;
  s.counters.hits = 11;
  s.counters.misses = 7;
  s.counters.reads = 101;
  s.counters.writes = 202;
  s.counters.bytes_read = 303;
  s.counters.bytes_written = 404;
  s.counters.checksum_failures = 1;
  s.counters.entries_dropped = 1;
  s.counters.commits = 9;
  s.counters.files_committed = 40;
  s.counters.commit_failures = 0;
  s.counters.evictions = 3;
  s.counters.evicted_bytes = 3 << 20;
  s.counters.sync_evictions = 1;
  s.counters.enospc = 2;
  s.mount.recovery.files_kept = 40;
  s.mount.recovery.writes_discarded = 3;
  s.mount.recovery.creates_discarded = 2;
  s.mount.recovery.rewrites_discarded = 1;
  s.mount.recovery.extents_dropped = 4;
  s.mount.slots_used = 580;
  s.mount.seconds = 0.25;
  s.evict_policy = core::EvictPolicy::kLru;
  s.evict_high_pct = 95;
  s.evict_low_pct = 90;
  s.slot_size = 1 << 20;
  // A path with every character the formats must escape.
  s.db_path = "/var/lib/slotfs/we\"ird\\dir\nx.db";
  s.uptime_seconds = 3600.5;
  v.device = "/dev/nvme1n1";
  v.mountpoint = "/mnt/kv cache";
  v.uuid = "e19eb5d5-94d0-4b5b-a32b-175316fd6325";
  v.version = "9.8.7";
  RequestLatencies lat;
  for (int i = 1; i <= 100; ++i) lat[TimedOp::kRead].Record(uint64_t(i) * 1000);
  lat[TimedOp::kWrite].Record(2'000'000);
  v.latencies = SummarizeLatencies(lat);
  return v;
}

TEST(ControlRenderTest, StatsIsJsonWithEveryField) {
  ControlView v = MakeView();
  std::string text = RenderStatsJson(v);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ('\n', text.back());
  json j = json::parse(text);  // throws (fails the test) on malformed JSON
  EXPECT_EQ("9.8.7", j["version"]);
  EXPECT_EQ("/dev/nvme1n1", j["device"]);
  EXPECT_EQ("/mnt/kv cache", j["mountpoint"]);
  EXPECT_EQ(v.stats.db_path, j["db_path"]);
  EXPECT_EQ(v.uuid, j["uuid"]);
  EXPECT_DOUBLE_EQ(3600.5, j["uptime_seconds"].get<double>());
  EXPECT_EQ(1u << 20, j["slot_size"]);
  EXPECT_EQ(42, j["files"]);
  EXPECT_EQ(3, j["directories"]);
  EXPECT_EQ(123456789, j["bytes"]);
  EXPECT_EQ(2, j["pinned_files"]);
  EXPECT_EQ(5, j["active_files"]);
  EXPECT_EQ(json({{"total", 1000}, {"used", 600}, {"free", 390}, {"quarantined", 10}}), j["slots"]);
  const json& c = j["counters"];
  EXPECT_EQ(11, c["hits"]);
  EXPECT_EQ(7, c["misses"]);
  EXPECT_EQ(101, c["reads"]);
  EXPECT_EQ(202, c["writes"]);
  EXPECT_EQ(303, c["bytes_read"]);
  EXPECT_EQ(404, c["bytes_written"]);
  EXPECT_EQ(1, c["checksum_failures"]);
  EXPECT_EQ(1, c["entries_dropped"]);
  EXPECT_EQ(9, c["commits"]);
  EXPECT_EQ(40, c["files_committed"]);
  EXPECT_EQ(0, c["commit_failures"]);
  EXPECT_EQ(3, c["evictions"]);
  EXPECT_EQ(3 << 20, c["evicted_bytes"]);
  EXPECT_EQ(1, c["sync_evictions"]);
  EXPECT_EQ(2, c["enospc"]);
  EXPECT_EQ(15u, c.size()) << "a counter was added or lost: update the README";
  EXPECT_EQ(json({{"policy", "lru"}, {"high_watermark_pct", 95}, {"low_watermark_pct", 90}}),
            j["eviction"]);
  const json& r = j["recovery"];
  EXPECT_DOUBLE_EQ(0.25, r["seconds"].get<double>());
  EXPECT_EQ(580, r["slots_used"]);
  EXPECT_EQ(40, r["files_kept"]);
  EXPECT_EQ(3, r["writes_discarded"]);
  EXPECT_EQ(2, r["creates_discarded"]);
  EXPECT_EQ(1, r["rewrites_discarded"]);
  EXPECT_EQ(4, r["extents_dropped"]);
  const json& l = j["latency"];
  std::set<std::string> ops;
  for (const auto& [op, _] : l.items()) ops.insert(op);
  EXPECT_EQ((std::set<std::string>{"lookup", "open", "create", "read", "write", "flush", "fsync",
                                   "unlink"}),
            ops);
  EXPECT_EQ(100, l["read"]["count"]);
  EXPECT_DOUBLE_EQ(50.5, l["read"]["mean_us"].get<double>());
  EXPECT_GE(l["read"]["p50_us"].get<double>(), 50.0);
  EXPECT_LE(l["read"]["p50_us"].get<double>(), 50.0 * 1.125);
  EXPECT_GE(l["read"]["p99_us"].get<double>(), 99.0);
  EXPECT_DOUBLE_EQ(100.0, l["read"]["max_us"].get<double>());
  EXPECT_EQ(1, l["write"]["count"]);
  EXPECT_DOUBLE_EQ(2000.0, l["write"]["p50_us"].get<double>());
  EXPECT_EQ(0, l["fsync"]["count"]);
  EXPECT_DOUBLE_EQ(0.0, l["fsync"]["p99_us"].get<double>());
}

TEST(ControlRenderTest, StatsOfAnEmptySnapshotIsValidJson) {
  ControlView v;
  json j = json::parse(RenderStatsJson(v));
  EXPECT_EQ(0, j["files"]);
  EXPECT_TRUE(j["latency"].is_object());
  EXPECT_TRUE(j["latency"].empty());
}

TEST(ControlRenderTest, StatsStaysValidJsonForPathsThatAreNotUtf8) {
  ControlView v;
  v.mountpoint = "/mnt/kv\xff\xfe";
  v.device = "/dev/\xc3";  // a truncated sequence
  v.stats.db_path = "/var/lib/slotfs/\x80.db";
  // nlohmann's parser is strict: invalid UTF-8 throws.
  json j = json::parse(RenderStatsJson(v));
  EXPECT_EQ("/mnt/kv\xEF\xBF\xBD\xEF\xBF\xBD", j["mountpoint"].get<std::string>());
  EXPECT_EQ("/dev/\xEF\xBF\xBD", j["device"].get<std::string>());
  // The metrics' info labels are UTF-8 too.
  std::string metrics = RenderMetrics(v);
  EXPECT_TRUE(IsValidUtf8(metrics));
  EXPECT_NE(std::string::npos, metrics.find("mountpoint=\"/mnt/kv\xEF\xBF\xBD\xEF\xBF\xBD\""));
}

// Every sample line of `text` as name -> value, keyed with its labels.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

TEST(ControlRenderTest, MetricsFollowTheTextFormat) {
  std::string text = RenderMetrics(MakeView());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ('\n', text.back());
  // Every family has HELP then TYPE; counters (and only counters) end _total.
  std::istringstream in(text);
  std::string line, family, type;
  std::set<std::string> families;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(family).second) << "family twice: " << family;
      ASSERT_TRUE(std::getline(in, line));
      ASSERT_EQ(0u, line.rfind("# TYPE " + family + " ", 0)) << line;
      type = line.substr(7 + family.size() + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "summary") << line;
      EXPECT_EQ(type == "counter", family.ends_with("_total")) << family << " is a " << type;
      EXPECT_EQ(0u, family.rfind("slotfs_", 0)) << family;
      continue;
    }
    ASSERT_FALSE(family.empty()) << "sample before any family: " << line;
    EXPECT_EQ(0u, line.rfind(family, 0)) << "sample outside its family " << family << ": " << line;
  }
  auto s = Samples(text);
  EXPECT_EQ("11", s["slotfs_lookup_hits_total"]);
  EXPECT_EQ("7", s["slotfs_lookup_misses_total"]);
  EXPECT_EQ("101", s["slotfs_reads_total"]);
  EXPECT_EQ("202", s["slotfs_writes_total"]);
  EXPECT_EQ("3", s["slotfs_evictions_total"]);
  EXPECT_EQ("1", s["slotfs_checksum_failures_total"]);
  EXPECT_EQ("600", s["slotfs_slots_used"]);
  EXPECT_EQ("390", s["slotfs_slots_free"]);
  EXPECT_EQ("10", s["slotfs_slots_quarantined"]);
  EXPECT_EQ("42", s["slotfs_files"]);
  EXPECT_EQ("100", s["slotfs_request_duration_seconds_count{op=\"read\"}"]);
  EXPECT_EQ("0.0001", s["slotfs_request_duration_max_seconds{op=\"read\"}"]);
  EXPECT_EQ("0.002", s["slotfs_request_duration_seconds{op=\"write\",quantile=\"0.99\"}"]);
  // The label value escapes the quote, the backslash and the newline.
  EXPECT_NE(std::string::npos, text.find("db_path=\"/var/lib/slotfs/we\\\"ird\\\\dir\\nx.db\""))
      << text;
}

// Runs Prometheus's Python parser over `text`; returns what it printed
// (one "name value" line per sample) or "ERROR ...".
std::string ParseWithPrometheusClient(const std::string& text) {
  char tmpl[] = "/tmp/slotfs-metrics-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "ERROR mkstemp";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    close(fd);
    return "ERROR write";
  }
  close(fd);
  std::string cmd = std::string(SLOTFS_PYTHON3) +
                    " -c 'import sys\n"
                    "from prometheus_client.parser import text_string_to_metric_families as p\n"
                    "for f in p(open(sys.argv[1]).read()):\n"
                    "  for s in f.samples: print(f.type, s.name, s.labels.get(\"op\", \"\"), "
                    "s.labels.get(\"quantile\", \"\"), s.value)\n"
                    "' " +
                    tmpl + " 2>&1; echo EXIT=$?";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  unlink(tmpl);
  return out;
}

TEST(ControlRenderTest, PrometheusClientParsesTheMetrics) {
  std::string out = ParseWithPrometheusClient(RenderMetrics(MakeView()));
  ASSERT_NE(std::string::npos, out.find("EXIT=0")) << out;
  EXPECT_NE(std::string::npos, out.find("counter slotfs_lookup_misses_total   7.0\n")) << out;
  EXPECT_NE(std::string::npos, out.find("counter slotfs_evictions_total   3.0\n")) << out;
  EXPECT_NE(std::string::npos, out.find("gauge slotfs_slots_used   600.0\n")) << out;
  EXPECT_NE(std::string::npos, out.find("summary slotfs_request_duration_seconds read 0.5 "))
      << out;
  EXPECT_NE(std::string::npos,
            out.find("summary slotfs_request_duration_seconds_count read  100.0"))
      << out;
}

// ------------------------------------------------------------ namespace

core::Attr Root() {
  core::Attr r;
  r.ino = kRootInode;
  r.mode = S_IFDIR | 0755;
  r.ctime_ns = 1'700'000'000'000'000'000;
  return r;
}

TEST(ControlNamespaceTest, ReservedInodesAreAboveEveryRowid) {
  for (uint64_t ino : {kControlDirIno, kStatsIno, kMetricsIno}) {
    EXPECT_GT(ino, static_cast<uint64_t>(INT64_MAX));
    EXPECT_TRUE(IsControlIno(ino));
  }
  EXPECT_FALSE(IsControlIno(1));
  EXPECT_FALSE(IsControlIno(static_cast<uint64_t>(INT64_MAX)));
}

TEST(ControlNamespaceTest, AttributesAreReadOnly) {
  auto dir = ControlAttr(kControlDirIno, Root());
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(static_cast<uint32_t>(S_IFDIR | 0555), dir->mode);
  auto stats = ControlAttr(kStatsIno, Root());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(static_cast<uint32_t>(S_IFREG | 0444), stats->mode);
  EXPECT_EQ(0u, stats->size);
  EXPECT_EQ(kMetricsIno, ControlAttr(kMetricsIno, Root())->ino.value);
  EXPECT_EQ(ENOENT, ControlAttr(kControlDirIno + 3, Root()).status().code());
  EXPECT_EQ(ENOENT, ControlAttr(5, Root()).status().code());
}

TEST(ControlNamespaceTest, LookupFindsOnlyStatsAndMetrics) {
  EXPECT_EQ(kStatsIno, ControlLookup("stats", Root())->ino.value);
  EXPECT_EQ(kMetricsIno, ControlLookup("metrics", Root())->ino.value);
  for (const char* bad : {"", "stat", "stats2", ".slotfs", "STATS"}) {
    EXPECT_EQ(ENOENT, ControlLookup(bad, Root()).status().code()) << bad;
  }
  EXPECT_TRUE(IsControlName(1, ".slotfs"));
  EXPECT_FALSE(IsControlName(2, ".slotfs"));
  EXPECT_FALSE(IsControlName(1, ".slotfs2"));
}

std::vector<std::string> Names(const std::vector<core::DirEntry>& v) {
  std::vector<std::string> out;
  for (const auto& d : v) out.push_back(d.name);
  return out;
}

TEST(ControlNamespaceTest, ControlDirectoryPagesResumeAtEachOffset) {
  EXPECT_EQ((std::vector<std::string>{".", "..", "stats", "metrics"}),
            Names(ControlReadDir(0, Root())));
  EXPECT_EQ((std::vector<std::string>{"stats", "metrics"}), Names(ControlReadDir(2, Root())));
  EXPECT_EQ((std::vector<std::string>{"metrics"}), Names(ControlReadDir(3, Root())));
  EXPECT_TRUE(ControlReadDir(4, Root()).empty());
  EXPECT_TRUE(ControlReadDir(1000, Root()).empty());
}

core::DirEntry E(const std::string& name, uint64_t next) {
  core::DirEntry d;
  d.name = name;
  d.next_offset = next;
  return d;
}

TEST(ControlNamespaceTest, RootListsTheControlDirectoryAfterDotDot) {
  std::vector<core::DirEntry> page = {E(".", 1), E("..", 2), E("a", 7), E("b", 9)};
  AddControlEntry(0, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{".", "..", ".slotfs", "a", "b"}), Names(page));
  EXPECT_EQ(kControlDirOffset, page[2].next_offset);
  EXPECT_EQ(kControlDirIno, page[2].attr.ino.value);
}

TEST(ControlNamespaceTest, RootPageStartingAfterDotDotBeginsWithIt) {
  std::vector<core::DirEntry> page = {E("a", 7)};
  AddControlEntry(2, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{".slotfs", "a"}), Names(page));
  std::vector<core::DirEntry> empty_root;
  AddControlEntry(2, Root(), &empty_root);
  EXPECT_EQ((std::vector<std::string>{".slotfs"}), Names(empty_root));
}

TEST(ControlNamespaceTest, RootPagesPastTheControlOffsetDoNotRepeatIt) {
  std::vector<core::DirEntry> page = {E("b", 9)};
  AddControlEntry(kControlDirOffset, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{"b"}), Names(page));
  page = {E("c", 12)};
  AddControlEntry(9, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{"c"}), Names(page));
}

TEST(ControlNamespaceTest, AStoredEntryNamedDotSlotfsIsShadowed) {
  // A file of that name stored before the name was reserved.
  std::vector<core::DirEntry> page = {E(".", 1), E("..", 2), E(".slotfs", 5), E("a", 7)};
  AddControlEntry(0, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{".", "..", ".slotfs", "a"}), Names(page));
  EXPECT_EQ(kControlDirIno, page[2].attr.ino.value);
  page = {E(".slotfs", 5), E("a", 7)};
  AddControlEntry(4, Root(), &page);
  EXPECT_EQ((std::vector<std::string>{"a"}), Names(page));
}

TEST(ControlNamespaceTest, PagedRootListingHasTheControlDirectoryExactlyOnce) {
  // Simulates core's offsets ("." 1, ".." 2, child i -> i + 2) and pages of
  // every size.
  std::vector<core::DirEntry> all = {E(".", 1), E("..", 2)};
  for (uint64_t ino = 2; ino < 30; ino += 3) all.push_back(E("f" + std::to_string(ino), ino + 2));
  for (size_t page_size = 2; page_size <= all.size() + 1; ++page_size) {
    std::vector<std::string> listed;
    uint64_t off = 0;
    for (int guard = 0; guard < 100; ++guard) {
      std::vector<core::DirEntry> page;
      for (const auto& d : all) {
        if (d.next_offset > off && page.size() < page_size) page.push_back(d);
      }
      AddControlEntry(off, Root(), &page);
      if (page.empty()) break;
      // The kernel may take only part of a page; take one entry at a time.
      listed.push_back(page.front().name);
      off = page.front().next_offset;
    }
    EXPECT_EQ(1, std::count(listed.begin(), listed.end(), ".slotfs")) << "page " << page_size;
    EXPECT_EQ(all.size() + 1, listed.size()) << "page " << page_size;
  }
}

}  // namespace
}  // namespace slotfs::fs
