// FaultInjectingDevice: a Device wrapper for tests that fails chosen ops.
//
// Armed faults fail an op with EIO without issuing it to the inner device;
// the other ops of the same batch are issued and complete normally. Every
// method is thread-safe; faults may be armed while I/O is running.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blockdev/device.h"
#include "common/status.h"
#include "common/types.h"

namespace slotfs::blockdev {

class FaultInjectingDevice final : public Device {
 public:
  // REQUIRES: inner != nullptr. Same path, size and kind as `inner`.
  explicit FaultInjectingDevice(std::unique_ptr<Device> inner);

  // "fault(<inner engine>)".
  const char* engine_name() const override { return name_.c_str(); }
  // The wrapped device, for checking what really reached it.
  Device& inner() { return *inner_; }

  // Every later read op overlapping [offset, offset + len) fails.
  void FailReadsIn(DevOffset offset, uint64_t len);
  // Every later write op overlapping [offset, offset + len) fails.
  void FailWritesIn(DevOffset offset, uint64_t len);
  // The next `n` Flush() calls fail (without flushing the inner device).
  void FailNextFlush(int n = 1);
  // The next `n` write ops (not already failed by a range) go through;
  // every write op after them fails until ClearFaults().
  void FailAfterNWrites(uint64_t n);
  // Disarms every fault.
  void ClearFaults();
  // Runs `hook` once, at the start of the next Flush(), on the flushing
  // thread and with no lock of this device held: lets a test act at the
  // exact moment a group commit flushes.
  void OnNextFlush(std::function<void()> hook);

  // Ops and flushes failed by injection so far.
  uint64_t injected_failures() const;

 protected:
  Status RunImpl(std::span<const IoOp> ops) override;
  Status FlushImpl() override;

 private:
  struct Range {
    uint64_t begin;
    uint64_t end;  // exclusive
  };
  // REQUIRES: mu_ held. Whether `op` is to fail; consumes the write budget.
  bool ShouldFailLocked(const IoOp& op);

  std::unique_ptr<Device> inner_;
  const std::string name_;

  mutable std::mutex mu_;  // guards everything below; never held across I/O
  std::vector<Range> read_faults_;
  std::vector<Range> write_faults_;
  int flush_faults_ = 0;
  bool write_budget_armed_ = false;
  uint64_t write_budget_ = 0;
  uint64_t injected_ = 0;
  std::function<void()> flush_hook_;
};

}  // namespace slotfs::blockdev
