// Module loggers.
#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include <map>
#include <vector>

namespace slotfs {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  std::vector<spdlog::sink_ptr> sinks{
      std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  spdlog::level::level_enum level = spdlog::level::info;
};

Registry& GetRegistry() {
  static Registry* r = new Registry();  // never destroyed: used at exit
  return *r;
}

}  // namespace

std::shared_ptr<spdlog::logger> ModuleLogger(const std::string& module) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(module);
  if (it != r.loggers.end()) return it->second;
  auto logger =
      std::make_shared<spdlog::logger>(module, r.sinks.begin(), r.sinks.end());
  logger->set_level(r.level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  r.loggers.emplace(module, logger);
  return logger;
}

void SetLogLevel(spdlog::level::level_enum level) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  r.level = level;
  for (auto& [name, logger] : r.loggers) logger->set_level(level);
}

void UseSyslog(const std::string& ident) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  r.sinks = {std::make_shared<spdlog::sinks::syslog_sink_mt>(
      ident, LOG_PID, LOG_DAEMON, false)};
  for (auto& [name, logger] : r.loggers) logger->sinks() = r.sinks;
}

bool LogRateLimiter::Allow() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ < per_second_) {
    ++in_window_;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t LogRateLimiter::TakeSuppressed() {
  std::lock_guard lock(mu_);
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace slotfs
