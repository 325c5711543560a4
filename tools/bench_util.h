// Helpers shared by the `slotfs bench` modes: timing and statistics,
// process spawning (this binary, or an external program), waiting for a
// mount, a daemon's peak RSS and CPU time, dropping the page cache, a scope
// guard, progress lines, and the interrupt flag set by SIGINT/SIGTERM.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace slotfs::tools::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Median, minimum and maximum of a set of samples.
struct Stat3 {
  double median = 0, min = 0, max = 0;
};
// REQUIRES: !v.empty().
Stat3 Summarize(std::vector<double> v);
// The q-quantile (0..1, nearest rank) of `v`; 0 when empty.
double Percentile(std::vector<double> v, double q);

// Runs `fn` when it goes out of scope, unless dismissed.
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Cleanup() {
    if (fn_) fn_();
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  void Dismiss() { fn_ = nullptr; }

 private:
  std::function<void()> fn_;
};

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  // Closes now; returns close()'s result (0 when there was nothing to close).
  int Close();

 private:
  int fd_ = -1;
};

// Runs this binary (/proc/self/exe) with `args` in its own process group
// (so a terminal's ^C reaches only the bench, which cleans up); stdout and
// stderr are appended to `log`. Returns the child's pid, or -1.
pid_t SpawnSelf(const std::vector<std::string>& args, const std::string& log);
// SpawnSelf and wait; the exit status, or 128 + signal.
int RunSelf(const std::vector<std::string>& args, const std::string& log);
// Where an external program's stdout goes.
enum class Stdout { kLog, kDiscard, kCapture };
// Runs an external program (PATH lookup) and waits for it. Its stdout goes
// to `log`, /dev/null, or `*out` (kCapture); stderr goes to `log` (or
// /dev/null when `log` is empty). Returns the exit status, 128 + signal, or
// 127 when it could not be run.
int RunProgram(const std::vector<std::string>& argv, const std::string& log,
               Stdout where = Stdout::kLog, std::string* out = nullptr);

// Waits until `mnt` is a FUSE mount on which `probe` can be stat'ed. False
// when `daemon` exits first or `limit` passes.
bool WaitReady(const std::string& mnt, const std::string& probe, pid_t daemon,
               Clock::duration limit);
// Waits for `pid` to exit for up to `limit`; true if it did (and was reaped).
bool WaitExit(pid_t pid, Clock::duration limit);
// SIGKILLs `pid`, reaps it and lazily detaches `mnt`.
void KillAndDetach(pid_t pid, const std::string& mnt);

// VmRSS and VmHWM (peak) of `pid` in KiB; zeros if unreadable.
std::pair<uint64_t, uint64_t> Rss(pid_t pid);
// Resets `pid`'s VmHWM to its current RSS (clear_refs 5). False if refused.
bool ResetPeakRss(pid_t pid);
// utime + stime of every thread of `pid`, past and present, in seconds.
// Negative if unreadable.
double ProcessCpuSeconds(pid_t pid);
// Bytes `pid` caused to be read from / written to storage (read_bytes and
// write_bytes of /proc/PID/io); zeros if unreadable.
std::pair<uint64_t, uint64_t> ProcessIoBytes(pid_t pid);
// This process's user + system CPU time in seconds.
double SelfCpuSeconds();

// sync(), then drops clean page cache, dentries and inodes. Returns the
// seconds sync() took. *dropped is false when the kernel refused the drop.
double SyncAndDropCaches(bool* dropped);

// Prints a progress line on stderr, overwriting the previous one, only when
// stderr is a terminal. ProgressDone() ends the line.
void Progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void ProgressDone();

// Set by SIGINT/SIGTERM once InstallInterruptHandler() ran; long loops poll
// it and unwind, so every guard cleans up.
void InstallInterruptHandler();
bool Interrupted();

// printf into a std::string.
std::string StrPrintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// errno text with a context: "<what>: <strerror(err)>".
std::string ErrnoMessage(const std::string& what, int err);

}  // namespace slotfs::tools::bench
