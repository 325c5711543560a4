// The control files under MOUNT/.slotfs/: their namespace and the
// rendering of stats (JSON) and metrics (Prometheus text format 0.0.4).
#include "fs/control.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iterator>

#include "common/clock.h"
#include "common/json.h"

namespace slotfs::fs {
namespace {

std::string Printf(const char* fmt, auto... args) {
  char buf[128];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Paths (mount point, device, database) are bytes: JsonQuote repairs what
// is not UTF-8 (common/json.h).
std::string JsonString(std::string_view s) { return JsonQuote(s); }

std::string U64(uint64_t v) { return std::to_string(v); }
std::string Fixed3(double v) { return Printf("%.3f", v); }
std::string Us(uint64_t ns) { return Printf("%.1f", static_cast<double>(ns) / 1000.0); }

// Builds a pretty-printed JSON object: nested objects indent by two; an
// inline object stays on one line.
class JsonObject {
 public:
  static constexpr int kInline = -1;
  explicit JsonObject(int depth = 0) : depth_(depth) {}
  // `raw` is already JSON (a number, a string from JsonString, an object).
  JsonObject& Add(std::string_view key, const std::string& raw) {
    if (depth_ == kInline) {
      out_ += first_ ? "{" : ", ";
    } else {
      out_ += first_ ? "{\n" : ",\n";
      out_.append(2 * (depth_ + 1), ' ');
    }
    first_ = false;
    out_ += JsonString(key) + ": " + raw;
    return *this;
  }
  std::string Done() {
    if (first_) return "{}";
    if (depth_ != kInline) {
      out_ += "\n";
      out_.append(2 * depth_, ' ');
    }
    return out_ + "}";
  }

 private:
  int depth_;
  bool first_ = true;
  std::string out_;
};

// Prometheus text format: a label value is UTF-8 (repaired like JSON,
// common/json.h) and escapes \, " and newline.
std::string LabelValue(std::string_view raw) {
  const std::string s = Utf8Repair(raw);
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text escapes \ and newline.
std::string HelpText(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PromFloat(double v) { return Printf("%.9g", v); }

class MetricsWriter {
 public:
  // A family with one unlabelled sample. Counters get the _total suffix.
  void Counter(std::string_view name, std::string_view help, uint64_t v) {
    Family(std::string(name) + "_total", "counter", help);
    out_ += "slotfs_" + std::string(name) + "_total " + U64(v) + "\n";
  }
  void Gauge(std::string_view name, std::string_view help, double v) {
    Family(name, "gauge", help);
    out_ += "slotfs_" + std::string(name) + " " + PromFloat(v) + "\n";
  }
  void GaugeU(std::string_view name, std::string_view help, uint64_t v) {
    Family(name, "gauge", help);
    out_ += "slotfs_" + std::string(name) + " " + U64(v) + "\n";
  }
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    std::string full = "slotfs_" + std::string(name);
    out_ += "# HELP " + full + " " + HelpText(help) + "\n";
    out_ += "# TYPE " + full + " " + std::string(type) + "\n";
  }
  // One sample of the current family: `labels` is `a="x",b="y"` or empty.
  void Sample(std::string_view name, const std::string& labels, const std::string& value) {
    out_ += "slotfs_" + std::string(name);
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

core::Attr ControlBase(uint64_t ino, uint32_t mode, const core::Attr& root) {
  core::Attr a;
  a.ino = InodeNo(ino);
  a.mode = mode;
  a.nlink = S_ISDIR(mode) ? 2 : 1;
  a.uid = 0;
  a.gid = 0;
  a.size = 0;
  a.blocks = 0;
  if (S_ISDIR(mode)) {
    a.atime_ns = a.mtime_ns = a.ctime_ns = root.ctime_ns;
  } else {
    // The content is generated at each open: it is always new.
    a.atime_ns = a.mtime_ns = a.ctime_ns = WallNowNs();
  }
  return a;
}

}  // namespace

std::string_view TimedOpName(TimedOp op) {
  switch (op) {
    case TimedOp::kLookup:
      return "lookup";
    case TimedOp::kOpen:
      return "open";
    case TimedOp::kCreate:
      return "create";
    case TimedOp::kRead:
      return "read";
    case TimedOp::kWrite:
      return "write";
    case TimedOp::kFlush:
      return "flush";
    case TimedOp::kFsync:
      return "fsync";
    case TimedOp::kUnlink:
      return "unlink";
  }
  return "unknown";
}

std::vector<LatencySummary> SummarizeLatencies(const RequestLatencies& lat) {
  std::vector<LatencySummary> out;
  for (int i = 0; i < kTimedOps; ++i) {
    Histogram::Snapshot s = lat.ops[i].Take();
    LatencySummary l;
    l.op = std::string(TimedOpName(static_cast<TimedOp>(i)));
    l.count = s.count;
    l.sum_ns = s.sum;
    l.p50_ns = s.Percentile(0.50);
    l.p90_ns = s.Percentile(0.90);
    l.p99_ns = s.Percentile(0.99);
    l.max_ns = s.max;
    out.push_back(std::move(l));
  }
  return out;
}

std::string RenderStatsJson(const ControlView& v) {
  const core::StatsSnapshot& s = v.stats;
  const core::CounterValues& c = s.counters;
  JsonObject slots(1);
  slots.Add("total", U64(s.space.slots_total))
      .Add("used", U64(s.space.slots_used))
      .Add("free", U64(s.space.slots_free))
      .Add("quarantined", U64(s.space.slots_quarantined));
  JsonObject counters(1);
  counters.Add("hits", U64(c.hits))
      .Add("misses", U64(c.misses))
      .Add("reads", U64(c.reads))
      .Add("writes", U64(c.writes))
      .Add("bytes_read", U64(c.bytes_read))
      .Add("bytes_written", U64(c.bytes_written))
      .Add("checksum_failures", U64(c.checksum_failures))
      .Add("entries_dropped", U64(c.entries_dropped))
      .Add("commits", U64(c.commits))
      .Add("files_committed", U64(c.files_committed))
      .Add("commit_failures", U64(c.commit_failures))
      .Add("evictions", U64(c.evictions))
      .Add("evicted_bytes", U64(c.evicted_bytes))
      .Add("sync_evictions", U64(c.sync_evictions))
      .Add("enospc", U64(c.enospc));
  JsonObject eviction(1);
  eviction.Add("policy", JsonString(core::EvictPolicyName(s.evict_policy)))
      .Add("high_watermark_pct", U64(s.evict_high_pct))
      .Add("low_watermark_pct", U64(s.evict_low_pct));
  const meta::RecoverySummary& r = s.mount.recovery;
  JsonObject recovery(1);
  recovery.Add("seconds", Fixed3(s.mount.seconds))
      .Add("slots_used", U64(s.mount.slots_used))
      .Add("files_kept", U64(r.files_kept))
      .Add("writes_discarded", U64(r.writes_discarded))
      .Add("creates_discarded", U64(r.creates_discarded))
      .Add("rewrites_discarded", U64(r.rewrites_discarded))
      .Add("extents_dropped", U64(r.extents_dropped));
  JsonObject latency(1);
  for (const LatencySummary& l : v.latencies) {
    JsonObject op(JsonObject::kInline);
    op.Add("count", U64(l.count))
        .Add("mean_us", Us(l.count ? l.sum_ns / l.count : 0))
        .Add("p50_us", Us(l.p50_ns))
        .Add("p90_us", Us(l.p90_ns))
        .Add("p99_us", Us(l.p99_ns))
        .Add("max_us", Us(l.max_ns));
    latency.Add(l.op, op.Done());
  }
  JsonObject top;
  top.Add("version", JsonString(v.version))
      .Add("device", JsonString(v.device))
      .Add("mountpoint", JsonString(v.mountpoint))
      .Add("db_path", JsonString(s.db_path))
      .Add("uuid", JsonString(v.uuid))
      .Add("uptime_seconds", Fixed3(s.uptime_seconds))
      .Add("slot_size", U64(s.slot_size))
      .Add("files", U64(s.stored.files))
      .Add("directories", U64(s.stored.dirs))
      .Add("bytes", U64(s.stored.bytes))
      .Add("pinned_files", U64(s.pinned_files))
      .Add("active_files", U64(s.active_inodes))
      .Add("slots", slots.Done())
      .Add("counters", counters.Done())
      .Add("eviction", eviction.Done())
      .Add("recovery", recovery.Done())
      .Add("latency", latency.Done());
  return top.Done() + "\n";
}

std::string RenderMetrics(const ControlView& v) {
  const core::StatsSnapshot& s = v.stats;
  const core::CounterValues& c = s.counters;
  MetricsWriter w;
  w.Family("info", "gauge", "Constant 1; labels describe the mounted filesystem.");
  w.Sample("info",
           "version=\"" + LabelValue(v.version) + "\",device=\"" + LabelValue(v.device) +
               "\",mountpoint=\"" + LabelValue(v.mountpoint) + "\",db_path=\"" +
               LabelValue(s.db_path) + "\",uuid=\"" + LabelValue(v.uuid) + "\",evict_policy=\"" +
               LabelValue(core::EvictPolicyName(s.evict_policy)) + "\"",
           "1");
  w.Gauge("uptime_seconds", "Seconds since the filesystem was opened.", s.uptime_seconds);
  w.GaugeU("slot_size_bytes", "Size of one slot.", s.slot_size);
  w.GaugeU("slots", "Slots in the data region.", s.space.slots_total);
  w.GaugeU("slots_used", "Slots holding file data.", s.space.slots_used);
  w.GaugeU("slots_free", "Slots free for new data.", s.space.slots_free);
  w.GaugeU("slots_quarantined", "Freed slots waiting for the commit that frees them to be durable.",
           s.space.slots_quarantined);
  w.GaugeU("files", "Regular files in the index (refreshed at most once a second).",
           s.stored.files);
  w.GaugeU("directories", "Directories in the index, the root included.", s.stored.dirs);
  w.GaugeU("stored_bytes", "Sum of the sizes of the files in the index.", s.stored.bytes);
  w.GaugeU("pinned_files", "Files pinned against eviction.", s.pinned_files);
  w.GaugeU("active_files", "Files open or waiting for their group commit.", s.active_inodes);
  w.Counter("lookup_hits", "Name lookups that found an entry.", c.hits);
  w.Counter("lookup_misses", "Name lookups that found nothing.", c.misses);
  w.Counter("reads", "Read requests served by the core.", c.reads);
  w.Counter("writes", "Write requests served by the core.", c.writes);
  w.Counter("read_bytes", "Bytes returned by reads.", c.bytes_read);
  w.Counter("written_bytes", "Bytes accepted by writes.", c.bytes_written);
  w.Counter("checksum_failures", "Slot reads whose checksum did not match.", c.checksum_failures);
  w.Counter("entries_dropped", "Entries removed because their stored bytes were damaged.",
            c.entries_dropped);
  w.Counter("commits", "Group commits completed.", c.commits);
  w.Counter("files_committed", "File versions made durable by group commits.", c.files_committed);
  w.Counter("commit_failures", "Group commits that failed.", c.commit_failures);
  w.Counter("evictions", "Files evicted to make room.", c.evictions);
  w.Counter("evicted_bytes", "Bytes of the files evicted.", c.evicted_bytes);
  w.Counter("sync_evictions", "Writes that found no free slot and evicted first.",
            c.sync_evictions);
  w.Counter("enospc", "Writes that failed with ENOSPC.", c.enospc);
  w.GaugeU("evict_high_watermark_percent", "Slot usage above which eviction starts.",
           s.evict_high_pct);
  w.GaugeU("evict_low_watermark_percent", "Slot usage eviction brings the cache down to.",
           s.evict_low_pct);
  const meta::RecoverySummary& r = s.mount.recovery;
  w.Gauge("recovery_seconds", "Time the mount-time recovery took.", s.mount.seconds);
  w.GaugeU("recovery_files_kept", "Files kept by the mount-time recovery.", r.files_kept);
  w.GaugeU("recovery_creates_discarded",
           "New files whose content never committed, removed at mount.", r.creates_discarded);
  w.GaugeU("recovery_rewrites_discarded",
           "In-flight rewrites discarded at mount (the committed version kept).",
           r.rewrites_discarded);
  w.GaugeU("recovery_extents_dropped", "Extents dropped by the mount-time recovery.",
           r.extents_dropped);

  w.Family("request_duration_seconds", "summary",
           "FUSE request handling time, from handler entry to reply.");
  for (const LatencySummary& l : v.latencies) {
    std::string op = "op=\"" + LabelValue(l.op) + "\"";
    w.Sample("request_duration_seconds", op + ",quantile=\"0.5\"", PromFloat(l.p50_ns / 1e9));
    w.Sample("request_duration_seconds", op + ",quantile=\"0.9\"", PromFloat(l.p90_ns / 1e9));
    w.Sample("request_duration_seconds", op + ",quantile=\"0.99\"", PromFloat(l.p99_ns / 1e9));
    w.Sample("request_duration_seconds_sum", op, PromFloat(l.sum_ns / 1e9));
    w.Sample("request_duration_seconds_count", op, U64(l.count));
  }
  w.Family("request_duration_max_seconds", "gauge", "Longest FUSE request since mount.");
  for (const LatencySummary& l : v.latencies) {
    w.Sample("request_duration_max_seconds", "op=\"" + LabelValue(l.op) + "\"",
             PromFloat(l.max_ns / 1e9));
  }
  return w.Take();
}

Result<core::Attr> ControlAttr(uint64_t ino, const core::Attr& root) {
  switch (ino) {
    case kControlDirIno:
      return ControlBase(ino, S_IFDIR | 0555, root);
    case kStatsIno:
    case kMetricsIno:
      return ControlBase(ino, S_IFREG | 0444, root);
    default:
      return Status::Error(ENOENT, "no such control file");
  }
}

Result<core::Attr> ControlLookup(std::string_view name, const core::Attr& root) {
  if (name == "stats") return ControlAttr(kStatsIno, root);
  if (name == "metrics") return ControlAttr(kMetricsIno, root);
  return Status::Error(ENOENT, "no such control file");
}

std::vector<core::DirEntry> ControlReadDir(uint64_t offset, const core::Attr& root) {
  std::vector<core::DirEntry> all = {
      {".", ControlAttr(kControlDirIno, root).value(), 1},
      {"..", root, 2},
      {"stats", ControlAttr(kStatsIno, root).value(), 3},
      {"metrics", ControlAttr(kMetricsIno, root).value(), 4},
  };
  std::vector<core::DirEntry> out;
  for (core::DirEntry& d : all) {
    if (d.next_offset > offset) out.push_back(std::move(d));
  }
  return out;
}

void AddControlEntry(uint64_t offset, const core::Attr& root,
                     std::vector<core::DirEntry>* entries) {
  std::erase_if(*entries, [](const core::DirEntry& d) { return d.name == kControlDirName; });
  if (offset >= kControlDirOffset) return;
  // Goes right after "..": at the front when the page starts past it.
  auto pos = entries->begin();
  if (offset < 2) {
    while (pos != entries->end() && pos->next_offset <= 2) ++pos;
    // The page ended before ".." (a tiny page): the next page adds it.
    if (pos == entries->begin() || std::prev(pos)->next_offset != 2) return;
  }
  entries->insert(pos, {std::string(kControlDirName), ControlAttr(kControlDirIno, root).value(),
                        kControlDirOffset});
}

}  // namespace slotfs::fs
