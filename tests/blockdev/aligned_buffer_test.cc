// Tests for AlignedBuffer: alignment, rounding, zero-fill and moves.
#include "blockdev/aligned_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

namespace slotfs::blockdev {
namespace {

bool AllZero(const AlignedBuffer& b) {
  return std::all_of(b.data(), b.data() + b.size(),
                     [](uint8_t x) { return x == 0; });
}

TEST(AlignedBufferTest, AddressIsIoAlignedForEverySize) {
  for (size_t size : {size_t{1}, size_t{512}, size_t{4096}, size_t{4097},
                      size_t{65536}, size_t{1} << 20, (size_t{1} << 20) + 1}) {
    AlignedBuffer b(size);
    ASSERT_NE(b.data(), nullptr) << size;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kIoAlign, 0u) << size;
  }
}

TEST(AlignedBufferTest, SizeIsRoundedUpToIoAlign) {
  EXPECT_EQ(AlignedBuffer(1).size(), kIoAlign);
  EXPECT_EQ(AlignedBuffer(4096).size(), 4096u);
  EXPECT_EQ(AlignedBuffer(4097).size(), 8192u);
}

TEST(AlignedBufferTest, NewBufferIsZeroFilled) {
  AlignedBuffer b(3 * kIoAlign + 5);
  EXPECT_TRUE(AllZero(b));
}

TEST(AlignedBufferTest, ZeroClearsContents) {
  AlignedBuffer b(kIoAlign);
  std::fill(b.data(), b.data() + b.size(), 0xAB);
  b.Zero();
  EXPECT_TRUE(AllZero(b));
}

TEST(AlignedBufferTest, DefaultAndZeroSizeAreEmpty) {
  AlignedBuffer a;
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  AlignedBuffer z(0);
  EXPECT_EQ(z.data(), nullptr);
  EXPECT_EQ(z.size(), 0u);
  z.Zero();  // no-op on an empty buffer
}

TEST(AlignedBufferTest, MoveTransfersOwnershipAndEmptiesSource) {
  AlignedBuffer a(kIoAlign);
  a.data()[0] = 7;
  uint8_t* p = a.data();
  AlignedBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), kIoAlign);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);

  AlignedBuffer c(2 * kIoAlign);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.data()[0], 7);
  EXPECT_EQ(c.span().size(), kIoAlign);
}

}  // namespace
}  // namespace slotfs::blockdev
