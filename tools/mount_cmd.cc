// slotfs mount: settles the mount options (mount_options.h: defaults,
// configuration file, command line), clears a stale mount, opens device,
// database and filesystem, then serves FUSE; tells the parent (daemon mode)
// and systemd (sd_notify) once the mount serves requests.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

#include "common/log.h"
#include "core/filesystem.h"
#include "fs/session.h"
#include "meta/claim.h"
#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/mount_config.h"
#include "tools/mount_options.h"
#include "tools/sd_notify.h"
#include "tools/stack.h"

namespace slotfs::tools {
namespace {

struct MountArgs {
  std::string device;
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> options;  // -o, each possibly comma-separated
  std::string config;                // --config; "" = kDefaultConfigPath if present
  // The --long mount options given, in command-line order, as written.
  std::vector<std::pair<const MountOption*, std::string>> long_options;
};

// Settles every setting: defaults, then the configuration file, then the
// --long options, then -o (slotfs's keys; mount(8)'s generic ones are
// dropped; the rest are FUSE's and go to `fuse`). EINVAL naming the bad
// key and where it came from.
Status ResolveSettings(MountArgs& a, MountSettings& s, std::vector<std::string>& fuse) {
  std::vector<std::string> items;
  for (const std::string& group : a.options) {
    for (std::string& o : SplitMountOptions(group)) items.push_back(std::move(o));
  }
  std::string config = a.config;
  for (const std::string& o : items) {
    if (o.rfind("config=", 0) == 0) config = o.substr(7);
  }
  Status st = config.empty() ? LoadMountConfig(kDefaultConfigPath, false, s)
                             : LoadMountConfig(config, true, s);
  SLOTFS_RETURN_IF_ERROR(st);
  for (const auto& [option, text] : a.long_options) {
    st = SetMountOptionFromText(s, *option, text);
    if (!st.ok()) return Status::Error(EINVAL, LongFlag(*option) + " " + text + ": " + st.message());
  }
  for (const std::string& o : items) {
    auto eq = o.find('=');
    std::string key = o.substr(0, eq);
    std::string val = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (const MountOption* option = FindMountOption(key)) {
      st = SetMountOptionFromText(s, *option, val);
      if (!st.ok()) return Status::Error(EINVAL, "-o " + o + ": " + st.message());
    } else if (key == "foreground") {
      a.foreground = true;
    } else if (key == "config" || IsGenericMountOption(key)) {
      // config: read above. Generic: nothing for slotfs or FUSE to do.
    } else {
      fuse.push_back(o);
    }
  }
  if (s.allow_other) fuse.push_back("allow_other");
  return Status::Ok();
}

// Detaches the mount at `mountpoint` whose daemon died (statfs gives
// ENOTCONN): umount2(MNT_DETACH) as root, `fusermount3 -u -z` (setuid) for
// a user's own mount.
Status DetachStaleMount(const std::string& mountpoint) {
  if (::umount2(mountpoint.c_str(), MNT_DETACH) == 0) return Status::Ok();
  if (errno != EPERM) return Status::FromErrno(errno, "umount2 " + mountpoint);
  std::vector<std::string> argv_store = {"fusermount3", "-u", "-z", mountpoint};
  std::vector<char*> argv;
  for (std::string& x : argv_store) argv.push_back(x.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) return Status::FromErrno(rc, "fusermount3");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Error(EPERM, "fusermount3 -u -z " + mountpoint + " failed");
  }
  return Status::Ok();
}

// Signals readiness once the mount serves requests: a statfs() of the mount
// point (made by a child process) goes through the kernel to this daemon (FUSE INIT, then STATFS,
// which the kernel never answers from a cache), so when it returns a FUSE
// filesystem on a device other than the directory's the request loop is
// live. Then writes "1" to `ready_fd` (daemon mode: the waiting parent) and
// sends READY=1 to systemd. If the session ends first the statfs fails and
// nothing is signalled. Closes `ready_fd` either way. Runs on its own
// thread during Session::Run().
void SignalWhenServing(const std::string& mountpoint, dev_t unmounted_dev, int ready_fd) {
  constexpr uint64_t kFuseSuperMagic = 0x65735546;
  // From a child process: see fs::ProbeMountFromChild.
  fs::MountProbe probe = fs::ProbeMountFromChild(mountpoint);
  bool serving = probe.ok && probe.f_type == kFuseSuperMagic && probe.dev != unmounted_dev;
  if (serving) {
    if (ready_fd >= 0) {
      ssize_t w = ::write(ready_fd, "1", 1);
      (void)w;
    }
    Status n = NotifyServiceManager("READY=1");
    if (!n.ok()) ModuleLogger("tools")->warn("cannot tell systemd the mount is ready: {}", n.message());
  }
  if (ready_fd >= 0) ::close(ready_fd);
}

int RunMount(MountArgs args) {
  MountSettings a;
  std::vector<std::string> fuse_opts;
  Status st = ResolveSettings(args, a, fuse_opts);
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
  config.evict_high_pct = static_cast<unsigned>(a.evict_high);
  config.evict_low_pct = static_cast<unsigned>(a.evict_low);
  st = config.Validate();
  if (!st.ok()) {
    PrintError(st.message());
    return kExitUsage;
  }
  std::string device_path = AbsolutePath(args.device);
  std::string mountpoint = AbsolutePath(args.mountpoint);
  fs::SessionOptions so;
  so.mountpoint = mountpoint;
  so.fsname = device_path;
  so.fuse_options = fuse_opts;
  so.max_threads = static_cast<unsigned>(a.threads);
  so.read_ahead_kb = static_cast<unsigned>(a.read_ahead_kb);
  so.attr_timeout = a.cache_timeout;
  so.entry_timeout = a.cache_timeout;
  // An -o option libfuse does not know is a bad command line: say so now,
  // before forking or opening anything.
  st = fs::ValidateFuseOptions(so);
  if (!st.ok()) {
    PrintError(st.message());
    return kExitUsage;
  }
  // A FUSE mount whose daemon died (kill -9, crash) answers every request
  // with ENOTCONN (ECONNABORTED while the kernel is still tearing the
  // connection down, or after an abort through /sys/fs/fuse/connections);
  // nothing can use it, so clear it instead of making the operator do it.
  // statfs, unlike stat, is never answered from the kernel's cache.
  struct statfs sfs;
  if (::statfs(mountpoint.c_str(), &sfs) != 0 && (errno == ENOTCONN || errno == ECONNABORTED)) {
    st = DetachStaleMount(mountpoint);
    if (!st.ok()) {
      PrintError(mountpoint + " is a stale mount (its daemon died) and cannot be detached (" +
                 st.message() + "); run 'fusermount3 -u -z " + mountpoint + "'");
      return kExitFailure;
    }
    ModuleLogger("tools")->warn("{} was a stale mount (its daemon died); detached it", mountpoint);
  }
  struct stat mst;
  if (::stat(mountpoint.c_str(), &mst) != 0) {
    PrintError("mount point " + mountpoint + ": " + std::strerror(errno));
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
  if (!args.foreground) {
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
  // The filesystem is this process's alone — whatever path, copy or clone
  // another claimant comes through — until it exits; the kernel releases
  // the claim even after kill -9. Taken after the fork, by the daemon that
  // serves; like the device's, a claim a killed daemon still holds is
  // waited out.
  meta::ClaimOptions copt;
  copt.wait = dopt.busy_wait;
  auto claim = meta::ClaimFilesystem(od.db_path, od.superblocks.sb.uuid,
                                     {"mount", device_path, mountpoint}, copt);
  if (!claim.ok()) {
    std::string msg = claim.status().message();
    if (claim.status().code() == ENOENT) {
      msg = "database " + od.db_path + " not found for " + device_path + " (uuid " +
            blockdev::UuidToString(od.superblocks.sb.uuid) + "); pass --db with its path";
    } else if (claim.status().code() == EBUSY) {
      msg = "cannot mount " + device_path + ": " + msg;
    }
    PrintError(msg);
    return kExitFailure;
  }
  struct stat dst;
  if (::stat(device_path.c_str(), &dst) == 0) {
    auto narrowed = meta::RestrictDatabaseMode(od.db_path, dst.st_mode);
    if (!narrowed.ok()) {
      ModuleLogger("tools")->warn("cannot narrow the permissions of {}: {}", od.db_path,
                                  narrowed.status().message());
    } else if (narrowed.value() > 0) {
      ModuleLogger("tools")->warn(
          "{}: database files were readable by users the device is not; narrowed them",
          od.db_path);
    }
  }
  meta::StoreOptions sopt;
  sopt.cache_kib = a.db_cache_mb * 1024;
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
  }
  fs.value()->Start();
  std::thread ready(SignalWhenServing, mountpoint, mst.st_dev, ready_fd);
  int rc = session.value()->Run();
  (void)NotifyServiceManager("STOPPING=1");
  session.value().reset();  // unmounts: a statfs still waiting fails now
  ready.join();
  fs.value().reset();
  return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? kExitOk : kExitFailure;
}

}  // namespace

std::function<int()> AddMountCommand(CLI::App& app) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand("mount", "Mount a slotfs device and serve it");
  cmd->add_option("device", args->device, "Block device or image file")->required();
  cmd->add_option("mountpoint", args->mountpoint, "Directory to mount on")->required();
  cmd->add_flag("-f,--foreground", args->foreground,
                "Stay in the foreground and log to stderr (otherwise detach and "
                "log to syslog)");
  std::string keys;
  for (const MountOption& o : MountOptionTable()) keys += (keys.empty() ? "" : ", ") + std::string(o.key);
  cmd->add_option("-o", args->options,
                  "Mount options, comma-separated KEY[=VALUE]: slotfs's own (" + keys +
                      ", config=PATH, foreground); mount(8)'s generic ones are ignored; "
                      "any other goes to FUSE (default_permissions, ...)")
      ->allow_extra_args(false);
  cmd->add_option("--config", args->config,
                  std::string("Configuration file (TOML, [mount] table; default ") +
                      kDefaultConfigPath + " if it exists)");
  // One --long option per table entry; values are checked by the table
  // (usage error on a bad one) and applied after the configuration file.
  for (const MountOption& o : MountOptionTable()) {
    std::string help = HelpText(o);
    const MountOption* option = &o;
    if (std::holds_alternative<bool MountSettings::*>(o.field)) {
      cmd->add_flag_callback(
          LongFlag(o), [args, option] { args->long_options.emplace_back(option, "true"); }, help);
      continue;
    }
    CLI::Validator check(
        [option](std::string& text) {
          MountSettings scratch;
          Status st = SetMountOptionFromText(scratch, *option, text);
          return st.ok() ? std::string() : st.message();
        },
        "");
    cmd->add_option_function<std::string>(
           LongFlag(o),
           [args, option](const std::string& text) {
             args->long_options.emplace_back(option, text);
           },
           help)
        ->type_name(ValueName(o))
        ->check(check);
  }
  cmd->footer(std::string("Settings come from, lowest first: the defaults, the [mount] table of ") +
              kDefaultConfigPath + " (or --config), the --long options, then -o. "
              "See slotfs(8).");
  return [args] { return RunMount(*args); };
}

}  // namespace slotfs::tools
