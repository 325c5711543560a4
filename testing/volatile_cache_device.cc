// VolatileCacheDevice: writes go to a per-block cache; Flush() writes it
// through; PowerCut() loses it (or part of it) and turns the device off.
#include "testing/volatile_cache_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

namespace slotfs::blockdev {
namespace {

// Ops handed to the wrapped device per Run() during a write-back.
constexpr size_t kWriteBackBatch = 128;

Status PoweredOff(const std::string& path) {
  return Status::Error(EIO, path + ": device is powered off (simulated power cut)");
}

}  // namespace

std::string CutMode::ToString() const {
  return kind == Kind::kDropAll ? "drop-all" : "tear(" + std::to_string(seed) + ")";
}

VolatileCacheDevice::VolatileCacheDevice(std::unique_ptr<Device> inner)
    : Device(inner->path(), inner->size(), inner->is_block_device(),
             inner->read_only()),
      inner_(std::move(inner)),
      name_(std::string("volatile(") + inner_->engine_name() + ")") {}

size_t VolatileCacheDevice::cached_blocks() const {
  std::shared_lock lock(mu_);
  return cache_.size();
}

bool VolatileCacheDevice::powered_off() const {
  std::shared_lock lock(mu_);
  return off_;
}

Status VolatileCacheDevice::RunImpl(std::span<const IoOp> ops) {
  const bool has_write = std::any_of(ops.begin(), ops.end(), [](const IoOp& op) {
    return op.kind == IoOp::Kind::kWrite;
  });
  // Writes only touch memory; holding the lock exclusively for a batch with
  // a write keeps a read in the same batch simple (it sees the write).
  std::unique_lock<std::shared_mutex> excl(mu_, std::defer_lock);
  std::shared_lock<std::shared_mutex> shared(mu_, std::defer_lock);
  if (has_write) {
    excl.lock();
  } else {
    shared.lock();
  }
  if (off_) return PoweredOff(path());

  // Ops are validated by Run(): kIoAlign-aligned, so a write covers part of
  // a block only when kBlock > kIoAlign; such a block is completed from the
  // wrapped device (or the cache) first.
  for (const IoOp& op : ops) {
    if (op.kind != IoOp::Kind::kWrite) continue;
    const auto* src = static_cast<const uint8_t*>(op.buf);
    uint64_t pos = op.offset.value;
    const uint64_t end = pos + op.len;
    while (pos < end) {
      const uint64_t block = pos / kBlock;
      const uint64_t in_block = pos - block * kBlock;
      const uint64_t n = std::min(end - pos, kBlock - in_block);
      auto it = cache_.find(block);
      if (it == cache_.end()) {
        AlignedBuffer buf(kBlock);
        if (n != kBlock) {
          Status st = inner_->Read(DevOffset(block * kBlock), buf.data(), kBlock);
          if (!st.ok()) return st;
        }
        it = cache_.emplace(block, std::move(buf)).first;
      }
      std::memcpy(it->second.data() + in_block, src, n);
      src += n;
      pos += n;
    }
  }

  std::vector<IoOp> reads;
  for (const IoOp& op : ops) {
    if (op.kind == IoOp::Kind::kRead) reads.push_back(op);
  }
  if (reads.empty()) return Status::Ok();
  Status st = inner_->Run(reads);
  if (!st.ok()) return st;
  for (const IoOp& op : reads) {
    auto* dst = static_cast<uint8_t*>(op.buf);
    const uint64_t begin = op.offset.value;
    const uint64_t end = begin + op.len;
    for (auto it = cache_.lower_bound(begin / kBlock);
         it != cache_.end() && it->first * kBlock < end; ++it) {
      const uint64_t b0 = std::max(begin, it->first * kBlock);
      const uint64_t b1 = std::min(end, (it->first + 1) * kBlock);
      std::memcpy(dst + (b0 - begin), it->second.data() + (b0 - it->first * kBlock),
                  b1 - b0);
    }
  }
  return Status::Ok();
}

template <typename Pred>
Status VolatileCacheDevice::WriteBackLocked(Pred keep, uint64_t* written) {
  std::vector<IoOp> batch;
  batch.reserve(kWriteBackBatch);
  auto run = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    Status st = inner_->Run(batch);
    if (st.ok()) *written += batch.size();
    batch.clear();
    return st;
  };
  for (auto& [block, buf] : cache_) {
    if (!keep(block)) continue;
    batch.push_back({IoOp::Kind::kWrite, DevOffset(block * kBlock), buf.data(), kBlock});
    if (batch.size() == kWriteBackBatch) SLOTFS_RETURN_IF_ERROR(run());
  }
  return run();
}

Status VolatileCacheDevice::FlushImpl() {
  std::unique_lock lock(mu_);
  if (off_) return PoweredOff(path());
  uint64_t written = 0;
  SLOTFS_RETURN_IF_ERROR(WriteBackLocked([](uint64_t) { return true; }, &written));
  SLOTFS_RETURN_IF_ERROR(inner_->Flush());
  cache_.clear();
  return Status::Ok();
}

Result<uint64_t> VolatileCacheDevice::PowerCut(const CutMode& mode) {
  std::unique_lock lock(mu_);
  uint64_t written = 0;
  Status st;
  if (!off_ && mode.kind == CutMode::Kind::kTear && !cache_.empty()) {
    std::mt19937_64 rng(mode.seed);
    st = WriteBackLocked([&](uint64_t) { return (rng() & 1) != 0; }, &written);
    if (st.ok()) st = inner_->Flush();
  }
  cache_.clear();
  off_ = true;
  if (!st.ok()) return st;
  return written;
}

}  // namespace slotfs::blockdev
