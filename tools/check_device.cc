// slotfs check, device side: both superblock copies, and the scrub that
// reads every stored slot and verifies its checksum.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>

#include "blockdev/aligned_buffer.h"
#include "tools/check.h"

namespace slotfs::tools {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kOffsets[2] = {blockdev::kSuperblockCopy0Offset,
                                  blockdev::kSuperblockCopy1Offset};
// Bytes per Device::Run batch (at least one slot); two batches in flight.
constexpr uint64_t kBatchBytes = 32ull << 20;
// Consecutive slots are merged into ops of up to this many bytes.
constexpr uint64_t kMaxOpBytes = 8ull << 20;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// "scrub  42.0%  812.3 MiB/s  ETA 0:12" on stderr, redrawn at most 4 times
// a second, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(uint64_t total) : tty_(isatty(STDERR_FILENO) == 1), total_(total) {}
  ~Progress() { Finish(); }
  void Update(uint64_t done) {
    if (!tty_ || Seconds(last_) < 0.25) return;
    last_ = Clock::now();
    const double secs = std::max(Seconds(start_), 1e-3);
    const double rate = static_cast<double>(done) / secs;
    const double pct = total_ ? 100.0 * static_cast<double>(std::min(done, total_)) /
                                    static_cast<double>(total_)
                              : 100.0;
    const uint64_t eta = rate > 0 && total_ > done
                             ? static_cast<uint64_t>(static_cast<double>(total_ - done) / rate)
                             : 0;
    std::fprintf(stderr, "\rscrub %5.1f%%  %8.1f MiB/s  ETA %llu:%02llu:%02llu ", pct,
                 rate / (1 << 20), (unsigned long long)(eta / 3600),
                 (unsigned long long)(eta / 60 % 60), (unsigned long long)(eta % 60));
    drawn_ = true;
  }
  void Finish() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool tty_;
  uint64_t total_;
  Clock::time_point start_ = Clock::now(), last_{};
  bool drawn_ = false;
};

// One slot to read: its file bytes are the first `len` of the slot.
struct Job {
  uint64_t ino, lslot, slot, len;
  std::optional<uint64_t> csum;
  size_t off = 0, io_len = 0;  // place in the batch buffer
};
// io: the read's outcome; match: checksum matches (or none recorded).
using JobDone = std::function<void(const Job&, const Status& io, bool match)>;

// Batches slot reads through Device::Run, verifying each as it lands. Two
// batches alternate: one is read by a helper thread while the other is
// filled and, once read, verified here (so done() runs on this thread).
// Physically consecutive whole slots are read as one op.
class SlotReader {
 public:
  SlotReader(blockdev::Device& dev, const blockdev::Superblock& sb, JobDone done)
      : dev_(dev), layout_(sb), done_(std::move(done)) {
    for (Batch& b : batches_) b.buf = blockdev::AlignedBuffer(std::max(kBatchBytes, sb.slot_size));
  }

  Status Add(Job j) {
    j.io_len = AlignUp(j.len, kIoAlign);
    const uint64_t at = layout_.SlotOffset(SlotId(j.slot)).value;
    if (at + j.io_len > dev_.size()) {
      done_(j, Status::Error(EIO, "beyond the end of the device"), false);
      return Status::Ok();
    }
    if (batches_[cur_].used + j.io_len > batches_[cur_].buf.size()) SLOTFS_RETURN_IF_ERROR(Submit());
    Batch& b = batches_[cur_];
    j.off = b.used;
    b.used += j.io_len;
    b.jobs.push_back(j);
    return Status::Ok();
  }

  // Reads and verifies everything added so far.
  Status Flush() {
    SLOTFS_RETURN_IF_ERROR(Submit());
    return Finish(batches_[cur_ ^ 1]);
  }

  // Every stored slot of `f` within the data region and the file's size.
  Status AddFile(const meta::FileExtents& f, bool only_with_csum) {
    const uint64_t ss = layout_.slot_size();
    for (const meta::Extent& e : f.extents) {
      for (uint64_t i = 0; i < e.count; ++i) {
        const uint64_t lslot = e.lslot + i, slot = e.slot.value + i;
        if (!layout_.Contains(SlotId(slot)) || lslot >= f.size / ss + (f.size % ss != 0)) continue;
        if (only_with_csum && e.csums.empty()) continue;
        Job j{f.ino.value, lslot, slot, blockdev::SlotPayloadBytes(f.size, lslot, ss), std::nullopt};
        if (!e.csums.empty()) j.csum = e.csums[i];
        SLOTFS_RETURN_IF_ERROR(Add(j));
      }
    }
    return Status::Ok();
  }

 private:
  struct Batch {
    blockdev::AlignedBuffer buf;
    size_t used = 0;
    std::vector<Job> jobs;
    std::vector<blockdev::IoOp> ops;
    std::vector<Status> io;      // per job, once read
    std::future<Status> read;    // valid while in flight
  };

  blockdev::IoOp OpOf(Batch& b, const Job& j) const {
    return {blockdev::IoOp::Kind::kRead, layout_.SlotOffset(SlotId(j.slot)), b.buf.data() + j.off,
            j.io_len};
  }

  // Runs on the helper thread: touches only the device and `b`.
  Status Read(Batch& b) {
    b.io.assign(b.jobs.size(), Status::Ok());
    Status st = dev_.Run(b.ops);
    if (st.ok() || st.code() == EINVAL) return st;  // EINVAL: misuse, not damage
    // Which op failed is not told: read each slot alone to find out.
    for (size_t i = 0; i < b.jobs.size(); ++i) {
      const blockdev::IoOp op = OpOf(b, b.jobs[i]);
      b.io[i] = dev_.Run({&op, 1});
    }
    return Status::Ok();
  }

  // Starts reading the current batch, then finishes the other one so that
  // it can be filled next.
  Status Submit() {
    Batch& b = batches_[cur_];
    if (!b.jobs.empty()) {
      b.ops.clear();
      for (const Job& j : b.jobs) blockdev::AppendCoalesced(b.ops, OpOf(b, j), kMaxOpBytes);
      b.read = std::async(std::launch::async, [this, &b] { return Read(b); });
    }
    cur_ ^= 1;
    return Finish(batches_[cur_]);
  }

  // Waits for `b`'s read, verifies and reports each job, empties `b`.
  Status Finish(Batch& b) {
    if (!b.read.valid()) return Status::Ok();
    Status st = b.read.get();
    if (!st.ok()) return st;
    for (size_t i = 0; i < b.jobs.size(); ++i) {
      const Job& j = b.jobs[i];
      const bool match =
          b.io[i].ok() && (!j.csum || blockdev::SlotChecksum(b.buf.data() + j.off, j.len) == *j.csum);
      done_(j, b.io[i], match);
    }
    b.jobs.clear();
    b.used = 0;
    return Status::Ok();
  }

  blockdev::Device& dev_;
  blockdev::Layout layout_;
  JobDone done_;
  Batch batches_[2];  // last: destroyed (reads joined) before the rest
  int cur_ = 0;       // the batch being filled
};

}  // namespace

std::string CopyName(int copy) {
  return "superblock copy " + std::to_string(copy) + " (byte " + std::to_string(kOffsets[copy]) + ")";
}

SuperblockCopies ReadSuperblockCopies(blockdev::Device& device) {
  SuperblockCopies out;
  blockdev::AlignedBuffer buf(blockdev::kSuperblockSize);
  for (int i = 0; i < 2; ++i) {
    if (device.size() < kOffsets[i] + blockdev::kSuperblockSize) {
      out.error[i] = "the device is too small to hold it";
      continue;
    }
    Status st = device.Read(DevOffset(kOffsets[i]), buf.data(), blockdev::kSuperblockSize);
    if (!st.ok()) {
      out.error[i] = "cannot be read: " + st.message();
      continue;
    }
    auto sb = blockdev::DecodeSuperblock(
        std::span<const uint8_t, blockdev::kSuperblockSize>(buf.data(), blockdev::kSuperblockSize));
    if (!sb.ok()) {
      out.error[i] = sb.status().message();
    } else if (sb->copy_index != static_cast<uint32_t>(i)) {
      out.error[i] = "it says it is copy " + std::to_string(sb->copy_index);
    } else {
      out.ok[i] = true;
      out.sb[i] = sb.value();
    }
  }
  return out;
}

Result<ScrubStats> Scrub(blockdev::Device& device, const blockdev::Superblock& sb,
                         meta::Checker& checker, const std::unordered_set<uint64_t>& skip,
                         uint64_t total_bytes, std::vector<meta::Finding>& findings) {
  ScrubStats stats;
  Progress progress(total_bytes);
  std::unordered_set<uint64_t> damaged;  // one finding per file
  const auto start = Clock::now();
  SlotReader reader(device, sb, [&](const Job& j, const Status& io, bool match) {
    ++stats.slots_read;
    stats.bytes_read += j.len;
    if (io.ok() && match) ++(j.csum ? stats.slots_verified : stats.slots_unverified);
    if (!io.ok()) ++stats.read_errors;
    if (io.ok() && !match) ++stats.mismatches;
    progress.Update(stats.bytes_read);
    if ((io.ok() && match) || !damaged.insert(j.ino).second) return;
    const std::string where =
        "slot " + std::to_string(j.slot) + " (logical slot " + std::to_string(j.lslot) + ")";
    meta::Finding f{io.ok() ? meta::FindingKind::kChecksumMismatch : meta::FindingKind::kReadError,
                    meta::Remedy::kDropInode, InodeNo(j.ino), checker.PathOf(InodeNo(j.ino)),
                    j.slot, ""};
    f.message = "'" + f.path + "' (ino " + std::to_string(j.ino) + "): " + where +
                (io.ok() ? " does not match its checksum" : " cannot be read: " + io.message());
    findings.push_back(std::move(f));
  });
  SLOTFS_RETURN_IF_ERROR(checker.ForEachFileExtents([&](const meta::FileExtents& f) {
    return skip.count(f.ino.value) ? Status::Ok() : reader.AddFile(f, false);
  }));
  SLOTFS_RETURN_IF_ERROR(reader.Flush());
  progress.Finish();
  stats.seconds = Seconds(start);
  return stats;
}

Result<uint64_t> SampleMismatches(blockdev::Device& device, const blockdev::Superblock& sb,
                                  meta::Checker& checker, uint64_t max_slots) {
  uint64_t queued = 0, sampled = 0, bad = 0;
  SlotReader reader(device, sb, [&](const Job&, const Status&, bool match) {
    ++sampled;
    if (!match) ++bad;
  });
  Status st = checker.ForEachFileExtents([&](const meta::FileExtents& f) {
    if (queued >= max_slots) return Status::Error(ECANCELED, "enough");
    for (const meta::Extent& e : f.extents) queued += e.csums.empty() ? 0 : e.count;
    return reader.AddFile(f, /*only_with_csum=*/true);
  });
  if (!st.ok() && st.code() != ECANCELED) return st;
  SLOTFS_RETURN_IF_ERROR(reader.Flush());
  if (sampled == 0) return Status::Error(ENOENT, "no slot with a checksum to compare");
  return bad;
}

}  // namespace slotfs::tools
