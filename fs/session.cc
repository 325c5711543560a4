// fs::Session: FUSE session set-up, mount, daemonizing and the request loop.
#include "fs/session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "fs/fuse_ops.h"

namespace slotfs::fs {
namespace {

auto Log() {
  static auto logger = ModuleLogger("fs");
  return logger;
}

// Escapes commas and backslashes for a -o value.
std::string EscapeOption(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// The -o string handed to libfuse for `options`.
std::string FuseOptionString(const SessionOptions& options) {
  std::string opts = "default_permissions,subtype=slotfs,fsname=" +
                     EscapeOption(options.fsname);
  for (const std::string& o : options.fuse_options) {
    if (o == "no_default_permissions") continue;
    opts += "," + o;
  }
  if (std::find(options.fuse_options.begin(), options.fuse_options.end(),
                "no_default_permissions") != options.fuse_options.end()) {
    opts.erase(0, std::string("default_permissions,").size());
  }
  return opts;
}

// fuse_session_new on `options`' -o string: parses (and on failure prints
// why to stderr) without mounting anything. Null on a bad option.
fuse_session* NewFuseSession(const SessionOptions& options, const fuse_lowlevel_ops* ops,
                             void* userdata) {
  std::vector<std::string> argv_store = {"slotfs", "-o", FuseOptionString(options)};
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, ops, sizeof(fuse_lowlevel_ops), userdata);
  fuse_opt_free_args(&args);  // libfuse may have copied them; ours stay
  return se;
}

}  // namespace

Status ValidateFuseOptions(const SessionOptions& options) {
  static const fuse_lowlevel_ops kNoOps{};
  fuse_session* se = NewFuseSession(options, &kNoOps, nullptr);
  if (!se) {
    return Status::Error(EINVAL, "bad -o option for FUSE (libfuse says which above)");
  }
  fuse_session_destroy(se);
  return Status::Ok();
}

struct Session::Context {
  OpsContext ops;
};

Result<std::unique_ptr<Session>> Session::Mount(core::Filesystem* fs,
                                                const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->options_ = options;
  s->ctx_ = std::make_unique<Context>();
  s->ctx_->ops.fs = fs;
  s->ctx_->ops.attr_timeout = options.attr_timeout;
  s->ctx_->ops.entry_timeout = options.entry_timeout;
  s->ctx_->ops.device = options.fsname;
  s->ctx_->ops.mountpoint = options.mountpoint;

  s->se_ = NewFuseSession(options, &SlotfsOps(), &s->ctx_->ops);
  if (!s->se_) {
    return Status::Error(EINVAL, "cannot create the FUSE session (bad -o option? "
                                 "libfuse says why above)");
  }
  if (fuse_session_mount(s->se_, options.mountpoint.c_str()) != 0) {
    return Status::Error(EIO, "cannot mount on " + options.mountpoint +
                                  " (libfuse says why above)");
  }
  s->mounted_ = true;
  // Names dropped behind the kernel's back (corrupt entries, evictions)
  // leave its dentry cache at once.
  fuse_session* se = s->se_;
  fs->SetEntryDroppedHook([se](InodeNo parent, const std::string& name) {
    int rc = fuse_lowlevel_notify_inval_entry(se, parent.value, name.data(), name.size());
    if (rc != 0 && rc != -ENOENT) {
      Log()->warn("cannot invalidate the kernel's entry for '{}': {}", name, strerror(-rc));
    }
  });
  if (fuse_set_signal_handlers(s->se_) != 0) {
    return Status::Error(EIO, "cannot install signal handlers");
  }
  s->signals_ = true;
  return s;
}

Session::~Session() {
  if (se_) {
    if (signals_) fuse_remove_signal_handlers(se_);
    if (mounted_) fuse_session_unmount(se_);
    fuse_session_destroy(se_);
  }
}

namespace {

// Sets /sys/class/bdi/MAJ:MIN/read_ahead_kb for the mount. Runs on its own
// thread: stat() of the mount point completes only once the kernel has
// processed INIT (and applied its own readahead cap), which needs the
// request loop running.
void RaiseReadahead(std::string mountpoint, unsigned kb) {
  MountProbe probe = ProbeMountFromChild(mountpoint);
  if (!probe.ok) return;
  std::string path = "/sys/class/bdi/" + std::to_string(major(probe.dev)) + ":" +
                     std::to_string(minor(probe.dev)) + "/read_ahead_kb";
  FILE* f = std::fopen(path.c_str(), "w");
  bool ok = f != nullptr && std::fprintf(f, "%u\n", kb) > 0;
  if (f != nullptr && std::fclose(f) != 0) ok = false;
  if (!ok) {
    Log()->warn("cannot set {} to {} (buffered reads will use the kernel's 128 KiB "
                "readahead): {}", path, kb, std::strerror(errno));
    return;
  }
  Log()->info("readahead for {} set to {} KiB", mountpoint, kb);
}

}  // namespace

MountProbe ProbeMountFromChild(const std::string& mountpoint) {
  MountProbe out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return out;
  const char* path = mountpoint.c_str();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    // Async-signal-safe calls only. Keep nothing but the pipe: holding the
    // daemon's /dev/fuse descriptor would keep a dead daemon's mount alive.
    if (fds[1] != 3 && ::dup2(fds[1], 3) < 0) ::_exit(1);
    ::close_range(4, ~0U, 0);
    MountProbe p;
    struct statfs sfs;
    struct stat st;
    if (::statfs(path, &sfs) == 0 && ::stat(path, &st) == 0) {
      p.ok = true;
      p.f_type = static_cast<uint64_t>(sfs.f_type);
      p.dev = st.st_dev;
    }
    ssize_t w = ::write(3, &p, sizeof p);
    ::_exit(w == static_cast<ssize_t>(sizeof p) ? 0 : 1);
  }
  ::close(fds[1]);
  MountProbe p;
  size_t got = 0;
  while (got < sizeof p) {
    ssize_t n = ::read(fds[0], reinterpret_cast<char*>(&p) + got, sizeof p - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == sizeof p) out = p;
  return out;
}

int Session::Run() {
  if (options_.read_ahead_kb > 0) {
    std::thread(RaiseReadahead, options_.mountpoint, options_.read_ahead_kb).detach();
  }
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options_.max_threads);
  // Workers are never retired: each holds a request buffer (max_write plus
  // headers) for its lifetime, so memory stays bounded by the thread count
  // and no request pays for a new thread and a freshly mapped buffer.
  fuse_loop_cfg_set_idle_threads(cfg, options_.max_threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  int rc = fuse_session_loop_mt(se_, cfg);
  fuse_loop_cfg_destroy(cfg);
  Status st = ctx_->ops.fs->Shutdown();
  if (!st.ok()) {
    Log()->error("shutdown: {}", st.ToString());
    if (rc == 0) rc = 1;
  }
  if (signals_) {
    fuse_remove_signal_handlers(se_);
    signals_ = false;
  }
  if (mounted_) {
    fuse_session_unmount(se_);
    mounted_ = false;
  }
  return rc < 0 ? 1 : rc;
}

}  // namespace slotfs::fs
