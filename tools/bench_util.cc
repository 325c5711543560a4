// Helpers shared by the `slotfs bench` modes (see bench_util.h).
#include "tools/bench_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace slotfs::tools::bench {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;
std::atomic<bool> g_interrupted{false};
bool g_progress_open = false;

void OnSignal(int) { g_interrupted.store(true); }

// In a forked child: stdin from /dev/null, stderr to `log` (or /dev/null),
// stdout as `where` says (kCapture: left for the caller to set).
void RedirectChildOutput(const std::string& log, Stdout where) {
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) dup2(null_fd, 0);
  int fd = log.empty() ? null_fd : ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    if (where == Stdout::kLog) dup2(fd, 1);
    dup2(fd, 2);
  }
  if (where == Stdout::kDiscard && null_fd >= 0) dup2(null_fd, 1);
}

// A NULL-terminated argv pointing into `args`.
std::vector<char*> CArgv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

int StatusToExit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 128;
}

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 128;
  }
  return StatusToExit(status);
}

}  // namespace

Stat3 Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {median, v.front(), v.back()};
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

UniqueFd::~UniqueFd() { Close(); }

int UniqueFd::Close() {
  if (fd_ < 0) return 0;
  return ::close(std::exchange(fd_, -1));
}

pid_t SpawnSelf(const std::vector<std::string>& args, const std::string& log) {
  // Everything the child needs is built before fork(): only async-signal-
  // safe calls may follow it in a multi-threaded process.
  std::vector<std::string> store = args;
  store.insert(store.begin(), "slotfs");
  std::vector<char*> argv = CArgv(store);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    RedirectChildOutput(log, Stdout::kLog);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

int RunSelf(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = SpawnSelf(args, log);
  return pid < 0 ? 127 : Reap(pid);
}

int RunProgram(const std::vector<std::string>& argv, const std::string& log, Stdout where,
               std::string* out) {
  if (where != Stdout::kCapture) out = nullptr;
  if (where == Stdout::kCapture && !out) where = Stdout::kDiscard;
  int pipefd[2] = {-1, -1};
  if (out && pipe2(pipefd, O_CLOEXEC) != 0) return 127;
  std::vector<std::string> store = argv;
  std::vector<char*> cargv = CArgv(store);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    RedirectChildOutput(log, where);
    if (out) dup2(pipefd[1], 1);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  if (out) {
    ::close(pipefd[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      out->append(buf, static_cast<size_t>(n));
    }
    ::close(pipefd[0]);
  }
  return pid < 0 ? 127 : Reap(pid);
}

bool WaitReady(const std::string& mnt, const std::string& probe, pid_t daemon,
               Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    struct statfs sf;
    struct stat st;
    if (::statfs(mnt.c_str(), &sf) == 0 && sf.f_type == kFuseSuperMagic &&
        ::stat(probe.c_str(), &st) == 0) {
      return true;
    }
    int status;
    if (waitpid(daemon, &status, WNOHANG) == daemon) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return false;
}

bool WaitExit(pid_t pid, Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

void KillAndDetach(pid_t pid, const std::string& mnt) {
  kill(pid, SIGKILL);
  Reap(pid);
  ::umount2(mnt.c_str(), MNT_DETACH);
}

std::pair<uint64_t, uint64_t> Rss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  uint64_t rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtoull(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return {rss, hwm};
}

bool ResetPeakRss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5\n";
  out.flush();
  return static_cast<bool>(out);
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name may hold spaces: fields are counted after its ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // Field 3 (state) is the first after ')'; utime is 14, stime 15.
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::pair<uint64_t, uint64_t> ProcessIoBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string line;
  uint64_t rd = 0, wr = 0;
  while (std::getline(in, line)) {
    if (line.rfind("read_bytes:", 0) == 0) rd = std::strtoull(line.c_str() + 11, nullptr, 10);
    if (line.rfind("write_bytes:", 0) == 0) wr = std::strtoull(line.c_str() + 12, nullptr, 10);
  }
  return {rd, wr};
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double SyncAndDropCaches(bool* dropped) {
  auto t0 = Clock::now();
  sync();
  double s = Seconds(Clock::now() - t0);
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  *dropped = fd >= 0 && ::write(fd, "3\n", 2) == 2;
  if (fd >= 0) ::close(fd);
  return s;
}

void Progress(const char* fmt, ...) {
  if (!isatty(2)) return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\r\033[K%s", line);
  std::fflush(stderr);
  g_progress_open = true;
}

void ProgressDone() {
  if (!g_progress_open) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  g_progress_open = false;
}

void InstallInterruptHandler() {
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

std::string StrPrintf(const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(static_cast<size_t>(std::max(n, 0)), '\0');
  vsnprintf(out.data(), out.size() + 1, fmt, ap2);
  va_end(ap2);
  return out;
}

std::string ErrnoMessage(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

}  // namespace slotfs::tools::bench
