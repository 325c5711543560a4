// slotfs bench's reader of fio's JSON report: a trimmed fio-3.33 report,
// malformed reports, and (when fio is installed) a real run.
#include "tools/fio_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace slotfs::tools::bench {
namespace {

// What fio --output-format=json --group_reporting prints (fields not read
// are dropped), after a warning line as fio sometimes prints one.
constexpr const char* kReport = R"(fio: note: both iodepth >= 1 and synchronous I/O engine are selected
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "baseline",
      "error" : 0,
      "read" : {
        "io_bytes" : 0, "bw_bytes" : 0, "runtime" : 0
      },
      "write" : {
        "io_bytes" : 536870912,
        "bw_bytes" : 1897070360,
        "runtime" : 283,
        "clat_ns" : {
          "percentile" : { "50.000000" : 8093696, "99.000000" : 21364736 }
        }
      }
    }
  ]
}
)";

TEST(FioOutputTest, ReadsTheGroupsBytesBandwidthAndLatency) {
  auto r = ParseFioJson(kReport, "write");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(536870912u, r->io_bytes);
  EXPECT_DOUBLE_EQ(1897070360.0, r->bw_bytes);
  EXPECT_DOUBLE_EQ(0.283, r->runtime_s);
  EXPECT_NEAR(8.093696, r->clat_p50_ms, 1e-9);
  EXPECT_NEAR(21.364736, r->clat_p99_ms, 1e-9);
  EXPECT_EQ(0u, r->errors);
}

TEST(FioOutputTest, DirectionThatMovedNothingIsAnError) {
  EXPECT_EQ(EINVAL, ParseFioJson(kReport, "read").status().code());
}

TEST(FioOutputTest, UnknownDirectionIsAnError) {
  EXPECT_EQ(EINVAL, ParseFioJson(kReport, "trim").status().code());
}

TEST(FioOutputTest, MissingLatencyPercentilesAreMinusOne) {
  auto r = ParseFioJson(R"({"jobs":[{"write":{"io_bytes":1048576,"bw_bytes":1e9}}]})", "write");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(-1, r->clat_p50_ms);
  EXPECT_EQ(-1, r->clat_p99_ms);
}

TEST(FioOutputTest, MalformedReportsAreErrors) {
  for (const char* text : {"", "fio: failed to open file", "{\"jobs\": [", "{\"jobs\": []}",
                           "{\"jobs\": [{}]}", "[1, 2]"}) {
    EXPECT_EQ(EINVAL, ParseFioJson(text, "write").status().code()) << text;
  }
}

// fio itself, when installed, on a small written file: its report parses and
// counts every byte it was asked to move.
TEST(FioOutputTest, RealFioReportParses) {
  if (system("fio --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "fio is not installed";
  char dir[] = "/var/tmp/fio_output_test.XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(dir));
  std::string file = std::string(dir) + "/f";
  for (const char* rw : {"write", "read"}) {
    std::string cmd = "fio --name=t --filename=" + file + " --rw=" + rw +
                      " --bs=1M --size=4M --ioengine=io_uring --iodepth=4 --numjobs=2"
                      " --offset_increment=4M --group_reporting --output-format=json"
                      " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(nullptr, p);
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int rc = pclose(p);
    if (rc != 0 && std::string(rw) == "write") {
      // No io_uring here (a container's seccomp policy): nothing to parse.
      unlink(file.c_str());
      rmdir(dir);
      GTEST_SKIP() << "fio could not run with io_uring";
    }
    ASSERT_EQ(0, rc) << out;
    auto r = ParseFioJson(out, rw);
    ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << out;
    EXPECT_EQ(8u << 20, r->io_bytes) << rw;
    EXPECT_GT(r->bw_bytes, 0) << rw;
  }
  unlink(file.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace slotfs::tools::bench
