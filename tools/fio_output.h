// What `slotfs bench` reads from fio's JSON output (`fio --output-format=json
// --group_reporting`): the bytes moved and the bandwidth of one direction of
// one group. Apart from the bench so tests/tools can unit-test it without
// running fio.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace slotfs::tools::bench {

struct FioResult {
  uint64_t io_bytes = 0;   // bytes transferred by every job of the group
  double bw_bytes = 0;     // bytes per second
  double runtime_s = 0;    // the group's runtime
  double clat_p50_ms = -1; // completion latency of one I/O; -1 if absent
  double clat_p99_ms = -1;
  uint64_t errors = 0; // the group's "error" field (an errno), 0 when none
};

// Parses fio's JSON report. `rw` is "read" or "write": which direction's
// figures to take. Text before the first '{' (fio prints warnings there) is
// skipped. EINVAL with a reason when the text is not such a report, when it
// holds no job, or when the job moved no bytes in that direction.
Result<FioResult> ParseFioJson(const std::string &text, const std::string &rw);

} // namespace slotfs::tools::bench
