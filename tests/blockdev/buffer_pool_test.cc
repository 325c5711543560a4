// Tests for BufferPool: sizes, alignment, reuse, the idle bound, and buffers
// that outlive the pool's owner.
#include "blockdev/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace slotfs::blockdev {
namespace {

constexpr size_t kBuf = 64 * 1024;

TEST(BufferPoolTest, BufferIsAlignedAndSizedAsAsked) {
  auto pool = BufferPool::Create(kBuf, 4);
  AlignedBuffer b = pool->Get(5000);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kIoAlign, 0u);
  EXPECT_EQ(b.size(), 8192u);  // rounded to kIoAlign, not the pool's size
}

TEST(BufferPoolTest, ReleasedBufferIsReused) {
  auto pool = BufferPool::Create(kBuf, 4);
  uint8_t* first;
  {
    AlignedBuffer b = pool->Get(kBuf);
    first = b.data();
  }
  EXPECT_EQ(pool->idle(), 1u);
  AlignedBuffer again = pool->Get(kIoAlign);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(pool->idle(), 0u);
}

TEST(BufferPoolTest, IdleBuffersAreBoundedByMaxIdle) {
  auto pool = BufferPool::Create(kBuf, 2);
  {
    std::vector<AlignedBuffer> held;
    for (int i = 0; i < 5; ++i) held.push_back(pool->Get(kBuf));
  }
  EXPECT_EQ(pool->idle(), 2u);
}

TEST(BufferPoolTest, LargerThanPoolSizeIsAOneOffBuffer) {
  auto pool = BufferPool::Create(kBuf, 2);
  {
    AlignedBuffer big = pool->Get(kBuf + 1);
    EXPECT_EQ(big.size(), kBuf + kIoAlign);
    big.data()[kBuf] = 1;
  }
  EXPECT_EQ(pool->idle(), 0u);
}

TEST(BufferPoolTest, MovedBufferReturnsOnceToThePool) {
  auto pool = BufferPool::Create(kBuf, 4);
  {
    AlignedBuffer a = pool->Get(kBuf);
    AlignedBuffer b = std::move(a);
    AlignedBuffer c = pool->Get(kBuf);
    c = std::move(b);  // c's own buffer goes back when b's old slot dies
  }
  EXPECT_EQ(pool->idle(), 2u);
}

TEST(BufferPoolTest, BufferMayOutliveItsOwnersHandle) {
  auto pool = BufferPool::Create(kBuf, 4);
  AlignedBuffer b = pool->Get(kBuf);
  pool.reset();  // the buffer keeps the pool alive
  b.data()[0] = 7;
  EXPECT_EQ(b.data()[0], 7);
}

TEST(BufferPoolTest, ZeroSizeIsEmpty) {
  auto pool = BufferPool::Create(kBuf, 4);
  AlignedBuffer b = pool->Get(0);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
}

}  // namespace
}  // namespace slotfs::blockdev
