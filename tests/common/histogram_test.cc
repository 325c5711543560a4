// slotfs::Histogram: bucket layout, percentile accuracy, concurrency.
#include "common/histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace slotfs {
namespace {

TEST(HistogramTest, BucketsTileTheWholeRangeWithoutGaps) {
  EXPECT_EQ(0u, Histogram::BucketLow(0));
  for (int b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_LE(Histogram::BucketLow(b), Histogram::BucketHigh(b)) << "bucket " << b;
    ASSERT_EQ(Histogram::BucketHigh(b) + 1, Histogram::BucketLow(b + 1)) << "bucket " << b;
    ASSERT_EQ(b, Histogram::BucketOf(Histogram::BucketLow(b)));
    ASSERT_EQ(b, Histogram::BucketOf(Histogram::BucketHigh(b)));
  }
  EXPECT_EQ(UINT64_MAX, Histogram::BucketHigh(Histogram::kBuckets - 1));
  EXPECT_EQ(Histogram::kBuckets - 1, Histogram::BucketOf(UINT64_MAX));
}

TEST(HistogramTest, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 16; ++v) {
    int b = Histogram::BucketOf(v);
    EXPECT_EQ(v, Histogram::BucketLow(b));
    EXPECT_EQ(v, Histogram::BucketHigh(b));
  }
}

TEST(HistogramTest, BucketWidthIsAtMostAnEighthOfTheValue) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    int b = Histogram::BucketOf(v);
    ASSERT_LE(Histogram::BucketLow(b), v);
    ASSERT_GE(Histogram::BucketHigh(b), v);
    ASSERT_LE(Histogram::BucketHigh(b) - Histogram::BucketLow(b), v / 8) << v;
  }
}

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  Histogram::Snapshot s = h.Take();
  EXPECT_EQ(0u, s.count);
  EXPECT_EQ(0u, s.Percentile(0.5));
  EXPECT_EQ(0u, s.Percentile(0.99));
  EXPECT_EQ(0u, s.max);
}

TEST(HistogramTest, PercentilesOfUniformValuesAreWithinOneBucket) {
  Histogram h;
  for (uint64_t v = 1; v <= 10000; ++v) h.Record(v * 1000);  // 1 us .. 10 ms
  Histogram::Snapshot s = h.Take();
  EXPECT_EQ(10000u, s.count);
  EXPECT_EQ(uint64_t{1000} * 10000 * 10001 / 2, s.sum);
  EXPECT_EQ(10'000'000u, s.max);
  struct Case {
    double q;
    uint64_t exact;
  };
  for (Case c :
       {Case{0.5, 5'000'000}, Case{0.9, 9'000'000}, Case{0.99, 9'900'000}, Case{1.0, 10'000'000}}) {
    uint64_t p = s.Percentile(c.q);
    EXPECT_GE(p, c.exact) << "q=" << c.q;
    EXPECT_LE(p, c.exact + c.exact / 8) << "q=" << c.q;
  }
}

TEST(HistogramTest, PercentileNeverExceedsTheMaximum) {
  Histogram h;
  h.Record(1000);  // its bucket reaches 1023
  Histogram::Snapshot s = h.Take();
  EXPECT_EQ(1000u, s.Percentile(0.5));
  EXPECT_EQ(1000u, s.Percentile(0.99));
}

TEST(HistogramTest, OneSlowRequestShowsInP99ButNotP50) {
  Histogram h;
  for (int i = 0; i < 99; ++i) h.Record(10'000);
  h.Record(50'000'000);
  Histogram::Snapshot s = h.Take();
  EXPECT_LE(s.Percentile(0.5), 11'250u);
  EXPECT_LE(s.Percentile(0.99), 11'250u);  // the 99th of 100 values is fast
  EXPECT_EQ(50'000'000u, s.Percentile(1.0));
  EXPECT_EQ(50'000'000u, s.max);
}

TEST(HistogramTest, ConcurrentRecordsAreAllCounted) {
  Histogram h;
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 200'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) h.Record(i % 5000 + static_cast<uint64_t>(t));
    });
  }
  for (auto& th : threads) th.join();
  Histogram::Snapshot s = h.Take();
  EXPECT_EQ(kThreads * kPerThread, s.count);
  uint64_t want_sum = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t i = 0; i < kPerThread; ++i) want_sum += i % 5000 + static_cast<uint64_t>(t);
  }
  EXPECT_EQ(want_sum, s.sum);
  EXPECT_EQ(4999u + kThreads - 1, s.max);
}

}  // namespace
}  // namespace slotfs
