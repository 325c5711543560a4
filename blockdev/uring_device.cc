// The io_uring engine: one ring per device shared by every thread.
//
// Submissions are serialized under sq_mu_; a dedicated completion thread
// reaps CQEs and completes requests. Internally every request carries a
// Completion to notify, so an asynchronous API can reuse Enqueue(); the
// synchronous RunImpl() is Enqueue() plus a per-batch latch. In-flight
// requests are bounded by the ring size so the CQ never overflows.
#include <liburing.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "blockdev/device.h"
#include "blockdev/engines.h"
#include "common/log.h"

namespace slotfs::blockdev {
namespace {

// user_data of the NOP that tells the completion thread to exit.
constexpr uint64_t kStopToken = ~uint64_t{0};
// Largest transfer handed to one SQE (its length field is 32-bit); larger
// ops continue as short transfers.
constexpr size_t kMaxChunk = size_t{1} << 30;
// Resubmissions of a request after -EAGAIN/-EINTR before giving up.
constexpr int kMaxRetries = 64;

// Told when a request finishes, successfully or not, exactly once per
// request. Runs on the completion thread: must be quick and never block on
// device I/O.
class Completion {
 public:
  virtual void Done(size_t index, Status status) = 0;

 protected:
  ~Completion() = default;
};

// One op in flight, or the remainder of one after a short transfer.
struct Request {
  IoOp::Kind kind = IoOp::Kind::kRead;
  uint64_t offset = 0;     // of the next byte to transfer
  uint8_t* buf = nullptr;  // next byte to transfer
  size_t remaining = 0;
  uint64_t op_offset = 0;  // the op as issued, for messages
  size_t op_len = 0;
  int retries = 0;
  size_t index = 0;  // passed back to `completion`
  Completion* completion = nullptr;
};

// Counts a synchronous batch down; Wait() returns the failure of the
// lowest-indexed failed op, or OK.
class BatchLatch final : public Completion {
 public:
  explicit BatchLatch(size_t count) : remaining_(count) {}

  void Done(size_t index, Status status) override {
    std::lock_guard lock(mu_);
    if (!status.ok() && index < error_index_) {
      error_index_ = index;
      error_ = std::move(status);
    }
    if (--remaining_ == 0) cv_.notify_all();
  }

  Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return remaining_ == 0; });
    return std::move(error_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t remaining_;
  size_t error_index_ = SIZE_MAX;
  Status error_;
};

const char* KindName(IoOp::Kind kind) {
  return kind == IoOp::Kind::kRead ? "read" : "write";
}

class UringDevice final : public Device {
 public:
  explicit UringDevice(DeviceFile file)
      : Device(std::move(file.path), file.size, file.is_block, file.read_only) {
  }
  ~UringDevice() override;

  // Sets up the ring. On failure the destructor cleans up.
  Status Init(unsigned queue_depth);
  // Takes ownership of the fd and starts the completion thread.
  void Start(UniqueFd fd);

  const char* engine_name() const override { return "io_uring"; }

 protected:
  Status RunImpl(std::span<const IoOp> ops) override;
  Status FlushImpl() override { return SyncFd(fd_.get(), path()); }

 private:
  // Submits `n` requests, blocking while the ring is full; each later
  // reports to its Completion on the completion thread.
  // REQUIRES: requests stay valid until their Completion is told.
  void Enqueue(Request* reqs, size_t n);
  // REQUIRES: sq_mu_ held. Returns a free SQE, submitting to make room.
  io_uring_sqe* GetSqeLocked();
  // REQUIRES: sq_mu_ held. Prepares the next chunk of `r`.
  void PrepLocked(Request* r);
  // REQUIRES: sq_mu_ held. Hands every prepared SQE to the kernel.
  void SubmitLocked();
  void CompletionLoop();
  // Decides what each reaped (request, result) pair means.
  void HandleReaped();

  UniqueFd fd_;
  io_uring ring_{};
  bool ring_ready_ = false;
  // Most requests in flight at once; <= SQ and CQ entries.
  size_t capacity_ = 0;
  std::thread completer_;

  // Lock order: sq_mu_ is a leaf; no Completion is called while holding it.
  std::mutex sq_mu_;
  std::condition_variable sq_cv_;  // in_flight_ dropped below capacity_
  size_t in_flight_ = 0;           // guarded by sq_mu_

  // Completion thread only.
  std::vector<std::pair<Request*, int>> reaped_;
  std::vector<Request*> resubmit_;
  std::vector<std::pair<Request*, Status>> done_;
};

UringDevice::~UringDevice() {
  // REQUIRES (Device contract): no call in progress, so nothing in flight.
  if (completer_.joinable()) {
    {
      std::lock_guard lock(sq_mu_);
      io_uring_sqe* sqe = GetSqeLocked();
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, kStopToken);
      SubmitLocked();
    }
    completer_.join();
  }
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

Status UringDevice::Init(unsigned queue_depth) {
  if (queue_depth == 0 || queue_depth > kMaxQueueDepth) {
    return Status::Error(EINVAL, "queue depth " + std::to_string(queue_depth) +
                                     " is not in [1, " +
                                     std::to_string(kMaxQueueDepth) + "]");
  }
  io_uring_params params{};
  const int rc = io_uring_queue_init_params(queue_depth, &ring_, &params);
  if (rc < 0) return Status::FromErrno(-rc, "io_uring_queue_init");
  ring_ready_ = true;

  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  const bool has_rw = probe != nullptr &&
                      io_uring_opcode_supported(probe, IORING_OP_READ) &&
                      io_uring_opcode_supported(probe, IORING_OP_WRITE);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!has_rw) {
    return Status::Error(ENOTSUP, "kernel io_uring lacks IORING_OP_READ/WRITE");
  }

  capacity_ = std::min(params.sq_entries, params.cq_entries);
  // The fd is deliberately not registered as a fixed file: the ring would
  // hold a reference that its asynchronous teardown drops late, keeping the
  // flock / O_EXCL claim alive after the device is destroyed.
  return Status::Ok();
}

void UringDevice::Start(UniqueFd fd) {
  fd_ = std::move(fd);
  completer_ = std::thread([this] { CompletionLoop(); });
  pthread_setname_np(completer_.native_handle(), "slotfs-uring");
}

Status UringDevice::RunImpl(std::span<const IoOp> ops) {
  std::vector<Request> reqs(ops.size());
  BatchLatch latch(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    Request& r = reqs[i];
    r.kind = ops[i].kind;
    r.offset = r.op_offset = ops[i].offset.value;
    r.buf = static_cast<uint8_t*>(ops[i].buf);
    r.remaining = r.op_len = ops[i].len;
    r.index = i;
    r.completion = &latch;
  }
  Enqueue(reqs.data(), reqs.size());
  return latch.Wait();
}

void UringDevice::Enqueue(Request* reqs, size_t n) {
  size_t next = 0;
  while (next < n) {
    std::unique_lock lock(sq_mu_);
    sq_cv_.wait(lock, [this] { return in_flight_ < capacity_; });
    const size_t count = std::min(capacity_ - in_flight_, n - next);
    for (size_t i = 0; i < count; ++i) PrepLocked(&reqs[next + i]);
    in_flight_ += count;
    next += count;
    SubmitLocked();
  }
}

io_uring_sqe* UringDevice::GetSqeLocked() {
  for (;;) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    SubmitLocked();
  }
}

void UringDevice::PrepLocked(Request* r) {
  io_uring_sqe* sqe = GetSqeLocked();
  const auto len = static_cast<unsigned>(std::min(r->remaining, kMaxChunk));
  if (r->kind == IoOp::Kind::kRead) {
    io_uring_prep_read(sqe, fd_.get(), r->buf, len, r->offset);
  } else {
    io_uring_prep_write(sqe, fd_.get(), r->buf, len, r->offset);
  }
  io_uring_sqe_set_data(sqe, r);
}

void UringDevice::SubmitLocked() {
  while (io_uring_sq_ready(&ring_) > 0) {
    const int rc = io_uring_submit(&ring_);
    if (rc > 0 || rc == -EINTR) continue;
    if (rc == 0 || rc == -EAGAIN || rc == -EBUSY) {
      // Transient shortage of kernel resources. Not a CQ backlog: the
      // in-flight bound keeps every CQE we can be owed within the CQ, so
      // the completion thread is never needed to make room.
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    // Prepared SQEs cannot be withdrawn and still point at callers'
    // buffers; carrying on could let the kernel write into freed memory.
    ModuleLogger("blockdev")
        ->critical("{}: io_uring_submit failed: {}; aborting", path(),
                   Status::FromErrno(-rc, "submit").message());
    std::abort();
  }
}

void UringDevice::CompletionLoop() {
  bool stop = false;
  while (!stop) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR || rc == -EAGAIN || rc == -ETIME) continue;
    if (rc < 0) {
      ModuleLogger("blockdev")
          ->critical("{}: io_uring_wait_cqe failed: {}; aborting", path(),
                     Status::FromErrno(-rc, "wait").message());
      std::abort();
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t data = io_uring_cqe_get_data64(cqe);
      if (data == kStopToken) {
        stop = true;
      } else {
        reaped_.emplace_back(reinterpret_cast<Request*>(data), cqe->res);
      }
    }
    io_uring_cq_advance(&ring_, seen);
    HandleReaped();
  }
}

void UringDevice::HandleReaped() {
  if (reaped_.empty()) return;
  {
    // Under sq_mu_: the submitter filled each Request before unlocking it,
    // so this lock also orders those writes before the reads below.
    std::lock_guard lock(sq_mu_);
    for (auto [r, res] : reaped_) {
      if (res > 0) {
        const auto n = static_cast<size_t>(res);
        r->offset += n;
        r->buf += n;
        r->remaining -= std::min(n, r->remaining);
        if (r->remaining == 0) {
          done_.emplace_back(r, Status::Ok());
        } else {
          resubmit_.push_back(r);  // short transfer: continue from here
        }
      } else if ((res == -EAGAIN || res == -EINTR) &&
                 ++r->retries <= kMaxRetries) {
        resubmit_.push_back(r);
      } else {
        const std::string what = path() + ": " + KindName(r->kind) +
                                 " at offset " + std::to_string(r->offset) +
                                 " (op offset " + std::to_string(r->op_offset) +
                                 ", length " + std::to_string(r->op_len) + ")";
        done_.emplace_back(r, res == 0 ? Status::Error(EIO, what + " made no "
                                                                   "progress")
                                       : Status::FromErrno(-res, what));
      }
    }
    // A resubmitted request keeps the in-flight slot it already holds.
    for (Request* r : resubmit_) PrepLocked(r);
    if (!resubmit_.empty()) SubmitLocked();
    in_flight_ -= done_.size();
  }
  reaped_.clear();
  resubmit_.clear();
  if (!done_.empty()) sq_cv_.notify_all();

  for (auto& [r, status] : done_) {
    // `r` may be freed once its Completion hears the last of its batch.
    Completion* completion = r->completion;
    const size_t index = r->index;
    completion->Done(index, std::move(status));
  }
  done_.clear();
}

}  // namespace

Result<std::unique_ptr<Device>> NewUringDevice(UniqueFd& fd, DeviceFile file,
                                               unsigned queue_depth) {
  auto device = std::make_unique<UringDevice>(std::move(file));
  SLOTFS_RETURN_IF_ERROR(device->Init(queue_depth));
  device->Start(std::move(fd));
  return std::unique_ptr<Device>(std::move(device));
}

}  // namespace slotfs::blockdev
