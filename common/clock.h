// Wall-clock time as stored in inode rows: nanoseconds since the epoch.
#pragma once

#include <cstdint>
#include <ctime>

namespace slotfs {

inline int64_t WallNowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace slotfs
