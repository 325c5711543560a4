// Histogram: a lock-free log-linear histogram of non-negative integers
// (latencies in nanoseconds), with percentiles.
//
// Buckets: values below kSub are exact; above, every power of two [2^e,
// 2^(e+1)) is split into kSub equal buckets, so a bucket's width is at most
// 1/kSub of its lower bound (12.5% with kSub = 8). 496 buckets cover the
// whole uint64 range: no value is ever clamped.
//
// Thread safety: Record() may run concurrently from any number of threads
// (relaxed atomics, no locks); Take() may run concurrently with Record() and
// returns a snapshot that is consistent per bucket (counts recorded while it
// runs may or may not be in it).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>

namespace slotfs {

class Histogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr int kSub = 1 << kSubBits;
  // Group 0 holds the exact values [0, kSub); group g >= 1 holds
  // [kSub << (g-1), kSub << g) in kSub buckets of width 2^(g-1).
  static constexpr int kGroups = 64 - kSubBits + 1;
  static constexpr int kBuckets = kGroups * kSub;
  static_assert(kBuckets == 496, "bucket layout changed: update the comment above");

  // Index of the bucket holding `v`.
  static constexpr int BucketOf(uint64_t v) {
    if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
    int e = 63 - std::countl_zero(v);  // kSubBits <= e <= 63
    int shift = e - kSubBits;
    int mantissa = static_cast<int>((v >> shift) & (kSub - 1));
    return (shift + 1) * kSub + mantissa;
  }
  // Smallest and largest value bucket `b` holds (inclusive).
  static constexpr uint64_t BucketLow(int b) {
    int g = b / kSub, m = b % kSub;
    if (g == 0) return static_cast<uint64_t>(m);
    return static_cast<uint64_t>(kSub + m) << (g - 1);
  }
  static constexpr uint64_t BucketHigh(int b) {
    int g = b / kSub;
    if (g == 0) return BucketLow(b);
    return BucketLow(b) + ((uint64_t{1} << (g - 1)) - 1);
  }

  void Record(uint64_t v) {
    buckets_[BucketOf(v)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (v > seen && !max_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
  }

  // A plain copy of the histogram at one moment.
  struct Snapshot {
    std::array<uint64_t, kBuckets> buckets{};
    uint64_t count = 0;  // sum of buckets
    uint64_t sum = 0;    // sum of recorded values (wraps after 2^64 ns ~ 584 years)
    uint64_t max = 0;

    // The value at quantile q (0 < q <= 1): the upper bound of the bucket
    // holding the ceil(q * count)-th smallest value, never above max; 0 when
    // empty. It overstates the true value by at most one bucket width.
    uint64_t Percentile(double q) const {
      if (count == 0) return 0;
      double want = std::ceil(q * static_cast<double>(count));
      uint64_t rank = want < 1 ? 1 : static_cast<uint64_t>(want);
      if (rank > count) rank = count;
      uint64_t seen = 0;
      for (int b = 0; b < kBuckets; ++b) {
        seen += buckets[b];
        if (seen >= rank) return BucketHigh(b) < max ? BucketHigh(b) : max;
      }
      return max;
    }
  };

  Snapshot Take() const {
    Snapshot s;
    for (int b = 0; b < kBuckets; ++b) {
      s.buckets[b] = buckets_[b].load(std::memory_order_relaxed);
      s.count += s.buckets[b];
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    s.max = max_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace slotfs
