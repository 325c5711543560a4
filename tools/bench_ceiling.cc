// The device ceiling: the blockdev engine driven directly with fio's pattern
// on the baseline file (see bench_ceiling.h).
#include "tools/bench_ceiling.h"

#include <algorithm>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

uint64_t FileSpan(const PatternOptions &o) {
  return AlignUp(o.file_size, kBaselineOpSize);
}

} // namespace

uint64_t Ceiling::WriterSpan(const PatternOptions &o) {
  return static_cast<uint64_t>(o.files_per_writer) * FileSpan(o);
}

uint64_t Ceiling::FileBytes(const PatternOptions &o) {
  return static_cast<uint64_t>(o.writers) * WriterSpan(o);
}

Result<std::unique_ptr<Ceiling>> Ceiling::Open(const BaselineFile &file,
                                               const PatternOptions &o) {
  std::unique_ptr<Ceiling> c(new Ceiling(o));
  blockdev::DeviceOptions dopt;
  dopt.queue_depth = kBaselineQueueDepth;
  dopt.exclusive = false; // every thread opens the file
  for (int t = 0; t < std::max(o.writers, o.readers); ++t) {
    SLOTFS_ASSIGN_OR_RETURN(auto d, blockdev::OpenDevice(file.path(), dopt));
    c->devices_.push_back(std::move(d));
  }
  return c;
}

DevOffset Ceiling::FileOffset(int writer, int index) const {
  return DevOffset(static_cast<uint64_t>(writer) * WriterSpan(o_) +
                   static_cast<uint64_t>(index) * FileSpan(o_));
}

Status Ceiling::RunFile(blockdev::Device &device, blockdev::IoOp::Kind kind,
                        DevOffset base, uint8_t *buf) {
  std::vector<blockdev::IoOp> ops;
  for (uint64_t off = 0; off < o_.file_size;) {
    ops.clear();
    for (unsigned q = 0; q < kBaselineQueueDepth && off < o_.file_size; ++q) {
      size_t len =
          static_cast<size_t>(std::min(kBaselineOpSize, o_.file_size - off));
      ops.push_back({kind, DevOffset(base.value + off), buf + off, len});
      off += len;
    }
    SLOTFS_RETURN_IF_ERROR(device.Run(ops));
  }
  return Status::Ok();
}

PhaseSample Ceiling::Write() {
  return RunWorkers(o_.writers, [&](int w, PhaseSample *s) {
    blockdev::AlignedBuffer buf(o_.file_size);
    FillRandom(buf.data(), o_.file_size, static_cast<uint64_t>(w) + 1);
    for (int i = 0; i < o_.files_per_writer && !Interrupted(); ++i) {
      StampFile(buf.data(), o_.file_size, w, i);
      auto t0 = Clock::now();
      Status st =
          RunFile(*devices_[static_cast<size_t>(w)],
                  blockdev::IoOp::Kind::kWrite, FileOffset(w, i), buf.data());
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (!st.ok()) {
        s->Fail("device write: " + st.ToString());
        continue;
      }
      s->files++;
      s->bytes += o_.file_size;
    }
  });
}

PhaseSample Ceiling::Read(int readers) {
  if (readers <= 0)
    readers = o_.readers;
  const uint64_t total = o_.total_files();
  return RunWorkers(readers, [&](int r, PhaseSample *s) {
    blockdev::AlignedBuffer buf(o_.file_size);
    for (uint64_t k = static_cast<uint64_t>(r); k < total && !Interrupted();
         k += static_cast<uint64_t>(readers)) {
      int w = static_cast<int>(k % static_cast<uint64_t>(o_.writers));
      int i = static_cast<int>(k / static_cast<uint64_t>(o_.writers));
      auto t0 = Clock::now();
      Status st =
          RunFile(*devices_[static_cast<size_t>(r)],
                  blockdev::IoOp::Kind::kRead, FileOffset(w, i), buf.data());
      s->latency_s.push_back(Seconds(Clock::now() - t0));
      if (!st.ok()) {
        s->Fail("device read: " + st.ToString());
        continue;
      }
      std::string bad = CheckStamps(buf.data(), o_.file_size, w, i);
      if (!bad.empty()) {
        s->Fail("device read: " + bad);
        continue;
      }
      s->files++;
      s->bytes += o_.file_size;
    }
  });
}

} // namespace slotfs::tools::bench
