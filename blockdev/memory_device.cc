// A Device held in RAM, for tests: reads share a lock, writes take it
// exclusively, so concurrent callers see whole ops.
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "blockdev/aligned_buffer.h"
#include "blockdev/device.h"

namespace slotfs::blockdev {
namespace {

class MemoryDevice final : public Device {
 public:
  explicit MemoryDevice(uint64_t size)
      : Device("memory", AlignDown(size, kIoAlign), false),
        data_(AlignDown(size, kIoAlign)) {}

  const char* engine_name() const override { return "memory"; }

 protected:
  Status RunImpl(std::span<const IoOp> ops) override {
    for (const IoOp& op : ops) {
      uint8_t* at = data_.data() + op.offset.value;
      if (op.kind == IoOp::Kind::kRead) {
        std::shared_lock lock(mu_);
        std::memcpy(op.buf, at, op.len);
      } else {
        std::unique_lock lock(mu_);
        std::memcpy(at, op.buf, op.len);
      }
    }
    return Status::Ok();
  }

  Status FlushImpl() override { return Status::Ok(); }

 private:
  std::shared_mutex mu_;
  AlignedBuffer data_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<Device> NewMemoryDevice(uint64_t size) {
  return std::make_unique<MemoryDevice>(size);
}

}  // namespace slotfs::blockdev
