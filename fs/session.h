// fs::Session: mounts a core::Filesystem through the FUSE low-level API and
// runs the multi-threaded request loop. The only module that includes FUSE
// headers (with fuse_ops.cc).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/filesystem.h"

struct fuse_session;

namespace slotfs::fs {

struct SessionOptions {
  std::string mountpoint;
  std::string fsname;  // shown as the mount source
  // Options for FUSE, each "name" or "name=value" (from -o).
  std::vector<std::string> fuse_options;
  unsigned max_threads = 16;
  // Kernel readahead for the mount (KiB): whole-slot requests for buffered
  // reads. FUSE caps its device at 128 KiB whatever INIT asks; 0 keeps that.
  unsigned read_ahead_kb = 1024;
  double attr_timeout = 1.0;   // seconds
  double entry_timeout = 1.0;  // seconds
};

// Checks the FUSE options of `options` the way Mount will parse them,
// without mounting: EINVAL (libfuse prints which option to stderr) for one
// libfuse does not know. For a usage check before anything is opened.
Status ValidateFuseOptions(const SessionOptions& options);

// What the kernel reports for `mountpoint`: its filesystem type (statfs
// f_type) and device (st_dev); ok is false if either call failed. Asked
// from a child process that holds no other descriptor, never from the
// daemon's own threads: a thread of the serving process waiting on a
// request to its own mount cannot die on SIGKILL until the request is
// answered, and no worker is left to answer it, so the mount would hang.
struct MountProbe {
  bool ok = false;
  uint64_t f_type = 0;
  dev_t dev = 0;
};
MountProbe ProbeMountFromChild(const std::string& mountpoint);

class Session {
 public:
  // Creates the session and mounts it. EINVAL for bad FUSE options, EIO
  // (with libfuse's message on stderr) if the mount fails.
  static Result<std::unique_ptr<Session>> Mount(core::Filesystem* fs,
                                                const SessionOptions& options);
  ~Session();

  // Serves requests until unmounted or signalled; then shuts the filesystem
  // down and unmounts. Returns 0 on a clean end.
  int Run();

 private:
  Session() = default;
  struct Context;
  std::unique_ptr<Context> ctx_;
  fuse_session* se_ = nullptr;
  SessionOptions options_;
  bool mounted_ = false;
  bool signals_ = false;
};

}  // namespace slotfs::fs
