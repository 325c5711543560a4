// One spdlog logger per module, created on first use, all writing to the
// same sinks (stderr by default; tools/ may redirect to syslog).
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace slotfs {

// Returns the logger for a module ("blockdev", "meta", "core", "fs", "tools").
// Thread-safe.
std::shared_ptr<spdlog::logger> ModuleLogger(const std::string& module);

// Sets the level of every module logger, present and future.
void SetLogLevel(spdlog::level::level_enum level);

// Sends every module logger to syslog (daemon mode) instead of stderr.
void UseSyslog(const std::string& ident);

// Rate limiter for error logs: Allow() is true at most `per_second` times a
// second; suppressed() tells how many were dropped since the last allowed one.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(int per_second = 10) : per_second_(per_second) {}
  bool Allow();
  uint64_t TakeSuppressed();

 private:
  std::mutex mu_;
  int per_second_;
  std::chrono::steady_clock::time_point window_start_{};
  int in_window_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace slotfs
