// VolatileCacheDevice: a Device wrapper for power-loss tests that models a
// drive's volatile write cache.
//
// Writes land in an in-memory cache, one entry per 4 KiB block, the latest
// version winning; nothing reaches the wrapped device until Flush(), which
// writes the whole cache through, flushes the wrapped device and empties the
// cache. Reads see cached blocks over the wrapped device. So the wrapped
// device holds exactly what a real drive is guaranteed to hold: what was
// written before the last completed flush.
//
// PowerCut() is the power failing: the cache is lost (kDropAll), or a random
// subset of its blocks reaches the medium first (kTear), as a drive that had
// written back part of its cache in arbitrary order — half of a multi-block
// write included. After a cut the machine is off: every op fails with EIO.
//
// Thread safety: every method may be called from any thread concurrently.
// Reads run in parallel with each other; writes, flushes and cuts are
// serialised against everything (reads included), so a read never sees a
// block halfway between the cache and the wrapped device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "blockdev/aligned_buffer.h"
#include "blockdev/device.h"
#include "common/status.h"

namespace slotfs::blockdev {

// How a power cut treats data that was written but not made durable; shared
// by the device model and the SQLite model (meta/power_loss_vfs.h).
struct CutMode {
  enum class Kind { kDropAll, kTear };
  Kind kind = Kind::kDropAll;
  // kTear: chooses which blocks survive; the same seed, the same choice.
  uint64_t seed = 0;

  static CutMode DropAll() { return {}; }
  static CutMode Tear(uint64_t seed) { return {Kind::kTear, seed}; }
  // "drop-all" or "tear(<seed>)".
  std::string ToString() const;
};

class VolatileCacheDevice final : public Device {
 public:
  // Unit of caching and of tearing: one cache entry per block.
  static constexpr uint64_t kBlock = 4096;
  static_assert(kBlock % kIoAlign == 0, "a block is whole aligned units");

  // REQUIRES: inner != nullptr. Same path, size and kind as `inner`.
  explicit VolatileCacheDevice(std::unique_ptr<Device> inner);

  // "volatile(<inner engine>)".
  const char* engine_name() const override { return name_.c_str(); }
  // The wrapped device: what would survive a power cut right now.
  // Writing to it directly bypasses the model.
  Device& inner() { return *inner_; }

  // Blocks written but not yet flushed.
  size_t cached_blocks() const;

  // Cuts the power: kDropAll loses every cached block; kTear writes a
  // random subset of them (each with probability 1/2, chosen by the seed)
  // to the wrapped device and flushes it. Afterwards every Run() and
  // Flush() fails with EIO. Returns how many blocks reached the wrapped
  // device, or the wrapped device's error. Idempotent: a second cut finds
  // an empty cache.
  Result<uint64_t> PowerCut(const CutMode& mode);
  bool powered_off() const;

 protected:
  Status RunImpl(std::span<const IoOp> ops) override;
  // Writes the cache through in block order, flushes the wrapped device,
  // then empties the cache. On failure the cache is kept (a later Flush
  // retries) and the wrapped device's error is returned.
  Status FlushImpl() override;

 private:
  // Writes every cached block for which keep(block index) is true to the
  // wrapped device, in block order (no flush); counts them in *written.
  // REQUIRES: mu_ held exclusively.
  template <typename Pred>
  Status WriteBackLocked(Pred keep, uint64_t* written);

  std::unique_ptr<Device> inner_;
  const std::string name_;

  // Guards cache_ and off_. Held (shared for reads, exclusive otherwise)
  // across the wrapped device's I/O, so a read cannot interleave with a
  // write-back.
  mutable std::shared_mutex mu_;
  // Block index (byte offset / kBlock) -> the block's latest content.
  std::map<uint64_t, AlignedBuffer> cache_;
  bool off_ = false;
};

}  // namespace slotfs::blockdev
