// The device ceiling: the blockdev engine driven directly with the LMCache
// pattern's sizes and concurrency (see bench_ceiling.h).
#include "tools/bench_ceiling.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

uint64_t FileSpan(const PatternOptions& o) { return AlignUp(o.file_size, Ceiling::kOpSize); }

// One op per MiB of a file at `base`, from/to `buf`.
std::vector<blockdev::IoOp> FileOps(blockdev::IoOp::Kind kind, DevOffset base, uint8_t* buf,
                                    uint64_t size) {
  std::vector<blockdev::IoOp> ops;
  for (uint64_t off = 0; off < size; off += Ceiling::kOpSize) {
    ops.push_back({kind, DevOffset(base.value + off), buf + off,
                   static_cast<size_t>(std::min(Ceiling::kOpSize, size - off))});
  }
  return ops;
}

}  // namespace

Result<std::unique_ptr<Ceiling>> Ceiling::Open(const std::string& path,
                                               const PatternOptions& o) {
  std::unique_ptr<Ceiling> c(new Ceiling(path, o));
  uint64_t size = o.total_files() * FileSpan(o) + kOpSize;
  {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.ok()) return Status::FromErrno(errno, "creating " + path);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      return Status::FromErrno(errno, "sizing " + path);
    }
  }
  blockdev::DeviceOptions dopt;
  uint64_t ops_per_file = FileSpan(o) / kOpSize;
  uint64_t depth = ops_per_file * static_cast<uint64_t>(std::max(o.writers, o.readers));
  dopt.queue_depth = static_cast<unsigned>(std::clamp<uint64_t>(depth, 256, 32768));
  SLOTFS_ASSIGN_OR_RETURN(c->device_, blockdev::OpenDevice(path, dopt));
  return c;
}

Ceiling::~Ceiling() {
  device_.reset();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

DevOffset Ceiling::FileOffset(int writer, int index) const {
  uint64_t n = static_cast<uint64_t>(writer) * static_cast<uint64_t>(o_.files_per_writer) +
               static_cast<uint64_t>(index);
  return DevOffset(n * FileSpan(o_));
}

PhaseSample Ceiling::Write() {
  return RunWorkers(o_.writers, [&](int w, PhaseSample* s) {
    blockdev::AlignedBuffer buf(o_.file_size);
    FillRandom(buf.data(), o_.file_size, static_cast<uint64_t>(w) + 1);
    for (int i = 0; i < o_.files_per_writer && !Interrupted(); ++i) {
      StampFile(buf.data(), o_.file_size, w, i);
      auto ops = FileOps(blockdev::IoOp::Kind::kWrite, FileOffset(w, i), buf.data(),
                         o_.file_size);
      auto t0 = Clock::now();
      Status st = device_->Run(ops);
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

PhaseSample Ceiling::Read() {
  const uint64_t total = o_.total_files();
  return RunWorkers(o_.readers, [&](int r, PhaseSample* s) {
    blockdev::AlignedBuffer buf(o_.file_size);
    for (uint64_t k = static_cast<uint64_t>(r); k < total && !Interrupted();
         k += static_cast<uint64_t>(o_.readers)) {
      int w = static_cast<int>(k % static_cast<uint64_t>(o_.writers));
      int i = static_cast<int>(k / static_cast<uint64_t>(o_.writers));
      auto ops = FileOps(blockdev::IoOp::Kind::kRead, FileOffset(w, i), buf.data(),
                         o_.file_size);
      auto t0 = Clock::now();
      Status st = device_->Run(ops);
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

}  // namespace slotfs::tools::bench
