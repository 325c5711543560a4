// FaultInjectingDevice: decides per op whether to fail it, passes the rest
// to the wrapped device.
#include "testing/fault_device.h"

#include <cerrno>
#include <utility>

namespace slotfs::blockdev {
namespace {

bool Overlaps(uint64_t begin, uint64_t end, uint64_t op_begin,
              uint64_t op_len) {
  return op_begin < end && begin < op_begin + op_len;
}

// [offset, offset + len) clamped so it cannot wrap.
uint64_t RangeEnd(uint64_t offset, uint64_t len) {
  return len > UINT64_MAX - offset ? UINT64_MAX : offset + len;
}

}  // namespace

FaultInjectingDevice::FaultInjectingDevice(std::unique_ptr<Device> inner)
    : Device(inner->path(), inner->size(), inner->is_block_device(),
             inner->read_only()),
      inner_(std::move(inner)),
      name_(std::string("fault(") + inner_->engine_name() + ")") {}

void FaultInjectingDevice::FailReadsIn(DevOffset offset, uint64_t len) {
  std::lock_guard lock(mu_);
  read_faults_.push_back({offset.value, RangeEnd(offset.value, len)});
}

void FaultInjectingDevice::FailWritesIn(DevOffset offset, uint64_t len) {
  std::lock_guard lock(mu_);
  write_faults_.push_back({offset.value, RangeEnd(offset.value, len)});
}

void FaultInjectingDevice::FailNextFlush(int n) {
  std::lock_guard lock(mu_);
  flush_faults_ = n;
}

void FaultInjectingDevice::FailAfterNWrites(uint64_t n) {
  std::lock_guard lock(mu_);
  write_budget_armed_ = true;
  write_budget_ = n;
}

void FaultInjectingDevice::ClearFaults() {
  std::lock_guard lock(mu_);
  read_faults_.clear();
  write_faults_.clear();
  flush_faults_ = 0;
  write_budget_armed_ = false;
  write_budget_ = 0;
}

uint64_t FaultInjectingDevice::injected_failures() const {
  std::lock_guard lock(mu_);
  return injected_;
}

bool FaultInjectingDevice::ShouldFailLocked(const IoOp& op) {
  const bool is_read = op.kind == IoOp::Kind::kRead;
  for (const Range& r : is_read ? read_faults_ : write_faults_) {
    if (Overlaps(r.begin, r.end, op.offset.value, op.len)) return true;
  }
  if (!is_read && write_budget_armed_) {
    if (write_budget_ == 0) return true;
    --write_budget_;
  }
  return false;
}

Status FaultInjectingDevice::RunImpl(std::span<const IoOp> ops) {
  std::vector<IoOp> pass;
  pass.reserve(ops.size());
  Status injected;
  {
    std::lock_guard lock(mu_);
    for (const IoOp& op : ops) {
      if (!ShouldFailLocked(op)) {
        pass.push_back(op);
        continue;
      }
      ++injected_;
      if (injected.ok()) {
        injected = Status::Error(
            EIO, path() + ": injected " +
                     (op.kind == IoOp::Kind::kRead ? "read" : "write") +
                     " fault at offset " + std::to_string(op.offset.value) +
                     ", length " + std::to_string(op.len));
      }
    }
  }
  Status st = pass.empty() ? Status::Ok() : inner_->Run(pass);
  return injected.ok() ? st : injected;
}

void FaultInjectingDevice::OnNextFlush(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  flush_hook_ = std::move(hook);
}

Status FaultInjectingDevice::FlushImpl() {
  std::function<void()> hook;
  {
    std::lock_guard lock(mu_);
    hook.swap(flush_hook_);
  }
  if (hook) hook();
  {
    std::lock_guard lock(mu_);
    if (flush_faults_ > 0) {
      --flush_faults_;
      ++injected_;
      return Status::Error(EIO, path() + ": injected flush fault");
    }
  }
  return inner_->Flush();
}

}  // namespace slotfs::blockdev
