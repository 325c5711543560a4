// slotfs mount: opens device, database and filesystem, then serves FUSE.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>

#include "common/log.h"
#include "core/filesystem.h"
#include "fs/session.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/stack.h"

namespace slotfs::tools {
namespace {

struct MountArgs {
  std::string device;
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> options;  // -o, each possibly comma-separated
  std::string db;
  std::string engine = "auto";
  std::string log_level = "info";
  int commit_interval_ms = 50;
  unsigned threads = 16;
  bool no_verify = false;
  unsigned read_ahead_kb = 1024;
  std::string evict = "lru";
  unsigned evict_high = 95;
  unsigned evict_low = 90;
  unsigned db_cache_mb = 16;
  double cache_timeout = 60;
};

// Splits "a,b=c" honouring backslash-escaped commas.
std::vector<std::string> SplitOptions(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      cur.push_back(s[++i]);
    } else if (s[i] == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(s[i]);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Moves slotfs's own -o keys into `a`; leaves FUSE's in `fuse`.
Status TakeSlotfsOptions(MountArgs& a, std::vector<std::string>& fuse) {
  for (const std::string& group : a.options) {
    for (const std::string& o : SplitOptions(group)) {
      auto eq = o.find('=');
      std::string key = o.substr(0, eq);
      std::string val = eq == std::string::npos ? "" : o.substr(eq + 1);
      try {
        if (key == "db") {
          a.db = val;
        } else if (key == "engine") {
          a.engine = val;
        } else if (key == "log_level") {
          a.log_level = val;
        } else if (key == "commit_interval_ms") {
          a.commit_interval_ms = std::stoi(val);
        } else if (key == "threads") {
          a.threads = static_cast<unsigned>(std::stoul(val));
        } else if (key == "read_ahead_kb") {
          a.read_ahead_kb = static_cast<unsigned>(std::stoul(val));
        } else if (key == "evict") {
          a.evict = val;
        } else if (key == "evict_high") {
          a.evict_high = static_cast<unsigned>(std::stoul(val));
        } else if (key == "evict_low") {
          a.evict_low = static_cast<unsigned>(std::stoul(val));
        } else if (key == "db_cache_mb") {
          a.db_cache_mb = static_cast<unsigned>(std::stoul(val));
        } else if (key == "cache_timeout") {
          a.cache_timeout = std::stod(val);
        } else if (key == "no_verify") {
          a.no_verify = true;
        } else if (key == "foreground") {
          a.foreground = true;
        } else if (key == "rw" || key == "dev" || key == "suid" || key == "exec" ||
                   key == "nodev" || key == "nosuid" || key == "noexec" ||
                   key == "auto" || key == "noauto" || key == "user" ||
                   key == "nouser" || key == "nofail" || key == "_netdev" ||
                   key == "defaults" || key.rfind("x-", 0) == 0) {
          // mount(8)/fstab generic options: nothing for slotfs or FUSE to do.
        } else {
          fuse.push_back(o);
        }
      } catch (const std::exception&) {
        return Status::Error(EINVAL, "bad value in -o " + o);
      }
    }
  }
  return Status::Ok();
}

int RunMount(MountArgs a) {
  std::vector<std::string> fuse_opts;
  Status st = TakeSlotfsOptions(a, fuse_opts);
  if (!st.ok()) {
    PrintError(st.message());
    return kExitUsage;
  }
  auto level = spdlog::level::from_str(a.log_level);
  if (level == spdlog::level::off && a.log_level != "off") {
    PrintError("unknown log level '" + a.log_level + "'");
    return kExitUsage;
  }
  SetLogLevel(level);
  auto engine = blockdev::ParseEngine(a.engine);
  if (!engine.ok()) {
    PrintError(engine.status().message());
    return kExitUsage;
  }
  core::CoreConfig config;
  config.commit_interval = std::chrono::milliseconds(a.commit_interval_ms);
  config.verify_checksums = !a.no_verify;
  auto policy = core::ParseEvictPolicy(a.evict);
  if (!policy.ok()) {
    PrintError(policy.status().message());
    return kExitUsage;
  }
  config.evict_policy = policy.value();
  config.evict_high_pct = a.evict_high;
  config.evict_low_pct = a.evict_low;
  st = config.Validate();
  if (!st.ok()) {
    PrintError(st.message());
    return kExitUsage;
  }
  if (a.db_cache_mb < 1 || a.db_cache_mb > 65536) {
    PrintError("--db-cache-mb must be 1..65536");
    return kExitUsage;
  }
  if (!(a.cache_timeout >= 0 && a.cache_timeout <= 86400)) {
    PrintError("--cache-timeout must be 0..86400 seconds");
    return kExitUsage;
  }
  if (a.threads < 1 || a.threads > 256) {
    PrintError("--threads must be 1..256");
    return kExitUsage;
  }
  std::string device_path = AbsolutePath(a.device);
  std::string mountpoint = AbsolutePath(a.mountpoint);
  struct stat mst;
  if (::stat(mountpoint.c_str(), &mst) != 0) {
    if (errno == ENOTCONN) {
      PrintError(mountpoint + " is a stale mount (its daemon died); run 'fusermount3 -u " +
                 mountpoint + "' first");
    } else {
      PrintError("mount point " + mountpoint + ": " + std::strerror(errno));
    }
    return kExitFailure;
  }
  if (!S_ISDIR(mst.st_mode)) {
    PrintError("mount point " + mountpoint + " is not a directory");
    return kExitFailure;
  }

  // Daemon mode forks before anything opens the device or starts a thread
  // (a fork keeps only the calling thread). The child does the work and
  // reports over a pipe once the mount is live; until then its errors still
  // reach the terminal, and the parent exits with the outcome.
  int ready_fd = -1;
  if (!a.foreground) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      PrintError(std::string("pipe: ") + std::strerror(errno));
      return kExitFailure;
    }
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) {
      PrintError(std::string("fork: ") + std::strerror(errno));
      return kExitFailure;
    }
    if (pid > 0) {
      ::close(pipefd[1]);
      char ok = 0;
      ssize_t n;
      do {
        n = ::read(pipefd[0], &ok, 1);
      } while (n < 0 && errno == EINTR);
      ::close(pipefd[0]);
      return n == 1 && ok == '1' ? kExitOk : kExitFailure;  // child said why
    }
    ::close(pipefd[0]);
    ready_fd = pipefd[1];
    ::setsid();
  }

  blockdev::DeviceOptions dopt;
  dopt.engine = engine.value();
  dopt.busy_wait = std::chrono::seconds(3);
  auto opened = OpenFormattedDevice(device_path, dopt, a.db);
  if (!opened.ok()) {
    PrintError(opened.status().message());
    return kExitFailure;
  }
  OpenedDevice od = std::move(opened.value());
  for (int c = 0; c < 2; ++c) {
    if (!od.superblocks.copy_ok[c]) {
      ModuleLogger("tools")->warn(
          "{}: superblock copy {} is damaged ({}); mounting from the other copy. "
          "Run 'slotfs check --repair' to rewrite it.",
          device_path, c, od.superblocks.copy_error[c].message());
    }
  }
  meta::StoreOptions sopt;
  sopt.cache_kib = int64_t{a.db_cache_mb} * 1024;
  auto store = meta::Store::Open(od.db_path, od.superblocks.sb, sopt);
  if (!store.ok()) {
    std::string msg = store.status().message();
    if (store.status().code() == ENOENT) {
      msg = "database " + od.db_path + " not found for " + device_path +
            " (uuid " + blockdev::UuidToString(od.superblocks.sb.uuid) +
            "); pass --db with its path";
    }
    PrintError(msg);
    return kExitFailure;
  }
  auto fs = core::Filesystem::Open(std::move(od.device), od.superblocks.sb,
                                   std::move(store.value()), config);
  if (!fs.ok()) {
    PrintError(fs.status().message());
    return kExitFailure;
  }
  fs::SessionOptions so;
  so.mountpoint = mountpoint;
  so.fsname = device_path;
  so.fuse_options = fuse_opts;
  so.max_threads = a.threads;
  so.read_ahead_kb = a.read_ahead_kb;
  so.attr_timeout = a.cache_timeout;
  so.entry_timeout = a.cache_timeout;
  auto session = fs::Session::Mount(fs.value().get(), so);
  if (!session.ok()) {
    PrintError(session.status().message());
    return kExitFailure;
  }
  if (ready_fd >= 0) {
    UseSyslog("slotfs");
    int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      ::close(null_fd);
    }
    if (::chdir("/") != 0) {
      // Paths are absolute already; staying put only pins a directory.
    }
    ssize_t w = ::write(ready_fd, "1", 1);
    (void)w;
    ::close(ready_fd);
  }
  fs.value()->Start();
  int rc = session.value()->Run();
  session.value().reset();
  fs.value().reset();
  return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? kExitOk : kExitFailure;
}

}  // namespace

std::function<int()> AddMountCommand(CLI::App& app) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand("mount", "Mount a slotfs device and serve it");
  cmd->add_option("device", args->device, "Block device or image file")->required();
  cmd->add_option("mountpoint", args->mountpoint, "Directory to mount on")->required();
  cmd->add_flag("-f,--foreground", args->foreground, "Stay in the foreground");
  cmd->add_option("-o", args->options,
                  "Mount options, comma-separated: FUSE options (allow_other, "
                  "...) and slotfs ones (db=, engine=, log_level=, "
                  "commit_interval_ms=, threads=, read_ahead_kb=, evict=, "
                  "evict_high=, evict_low=, db_cache_mb=, cache_timeout=, "
                  "no_verify)")
      ->allow_extra_args(false);
  cmd->add_option("--db", args->db, "Database path (default: beside the image, or "
                                    "/var/lib/slotfs/UUID.db)");
  cmd->add_option("--engine", args->engine, "I/O engine: auto, uring or posix")
      ->check(CLI::IsMember({"auto", "uring", "posix"}));
  cmd->add_option("--log-level", args->log_level,
                  "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}));
  cmd->add_option("--commit-interval-ms", args->commit_interval_ms,
                  "Group commit interval: the most a closed file waits to become "
                  "durable without fsync (default 50)")
      ->check(CLI::Range(1, 60000));
  cmd->add_option("--threads", args->threads, "Maximum FUSE worker threads (default 16)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--read-ahead-kb", args->read_ahead_kb,
                  "Kernel readahead for buffered reads, KiB (default 1024, one "
                  "slot; 0 keeps FUSE's 128)")
      ->check(CLI::Range(0, 65536));
  cmd->add_option("--evict", args->evict,
                  "Eviction policy: lru (default) evicts least-recently-used "
                  "closed, unpinned files; none gives ENOSPC when full")
      ->check(CLI::IsMember({"lru", "none"}));
  cmd->add_option("--evict-high", args->evict_high,
                  "Percent of slots in use that starts background eviction "
                  "(default 95)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--evict-low", args->evict_low,
                  "Percent of slots in use that background eviction brings "
                  "usage down to (default 90)")
      ->check(CLI::Range(0, 99));
  cmd->add_option("--db-cache-mb", args->db_cache_mb,
                  "SQLite page cache bound, MiB (default 16)")
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--cache-timeout", args->cache_timeout,
                  "Seconds the kernel caches names and attributes (default 60; "
                  "evictions invalidate at once)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_flag("--no-verify", args->no_verify,
                "Do not verify slot checksums on read (benchmarking only)");
  return [args] { return RunMount(*args); };
}

}  // namespace slotfs::tools
