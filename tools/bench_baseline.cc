// The preallocated, written baseline file and the fio runs on it (see
// bench_baseline.h).
#include "tools/bench_baseline.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "blockdev/aligned_buffer.h"
#include "tools/bench_pattern.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

constexpr uint64_t kFillChunk = 8ull << 20;

std::string FirstLine(const std::string &s) {
  return s.substr(0, s.find('\n'));
}

} // namespace

Result<BaselineFile> BaselineFile::Create(const std::string &path,
                                          uint64_t size) {
  size = (size + kBaselineOpSize - 1) / kBaselineOpSize * kBaselineOpSize;
  BaselineFile f(path, size);
  UniqueFd fd(::open(path.c_str(),
                     O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644));
  if (!fd.ok() &&
      errno == EINVAL) { // no O_DIRECT here: fill through the page cache
    fd = UniqueFd(
        ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  }
  if (!fd.ok())
    return Status::FromErrno(errno, "creating " + path);
  f.fallocated_ = ::fallocate(fd.get(), 0, 0, static_cast<off_t>(size)) == 0;
  if (!f.fallocated_ && errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "fallocate " + path);
  }
  blockdev::AlignedBuffer buf(kFillChunk);
  FillRandom(buf.data(), kFillChunk, 0x6261736531ull);
  for (uint64_t off = 0; off < size;) {
    if (Interrupted())
      return Status::Error(EINTR, "interrupted");
    size_t n = static_cast<size_t>(std::min(kFillChunk, size - off));
    ssize_t w = ::pwrite(fd.get(), buf.data(), n, static_cast<off_t>(off));
    if (w <= 0)
      return Status::FromErrno(w < 0 ? errno : EIO, "writing " + path);
    off += static_cast<uint64_t>(w);
  }
  if (::fdatasync(fd.get()) != 0)
    return Status::FromErrno(errno, "fdatasync " + path);
  return f;
}

BaselineFile::BaselineFile(BaselineFile &&o) noexcept
    : path_(std::exchange(o.path_, std::string())), size_(o.size_),
      fallocated_(o.fallocated_) {}

BaselineFile::~BaselineFile() {
  if (path_.empty())
    return;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

std::string FioVersion() {
  std::string out;
  if (RunProgram({"fio", "--version"}, "", Stdout::kCapture, &out) != 0)
    return "";
  return FirstLine(out);
}

Result<FioResult> RunFio(const BaselineFile &file, const std::string &rw,
                         int jobs, uint64_t per_job, const std::string &log) {
  std::string out;
  std::vector<std::string> argv = {
      "fio",
      "--name=baseline",
      "--filename=" + file.path(),
      "--rw=" + rw,
      "--bs=" + std::to_string(kBaselineOpSize),
      "--ioengine=io_uring",
      "--direct=1",
      "--iodepth=" + std::to_string(kBaselineQueueDepth),
      "--numjobs=" + std::to_string(jobs),
      "--size=" + std::to_string(per_job),
      "--offset_increment=" + std::to_string(per_job),
      "--fallocate=none", // the file is already allocated and written
      "--group_reporting",
      "--output-format=json",
  };
  int rc = RunProgram(argv, log, Stdout::kCapture, &out);
  if (rc != 0) {
    return Status::Error(EIO, "fio --rw=" + rw + " exited with " +
                                  std::to_string(rc) + "; see " + log);
  }
  auto r = ParseFioJson(out, rw);
  if (!r.ok())
    return Status::Error(EIO, r.status().message() + "; see " + log);
  return r;
}

} // namespace slotfs::tools::bench
