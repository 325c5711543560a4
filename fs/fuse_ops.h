// The FUSE low-level operation table for slotfs; internal to fs/.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "core/filesystem.h"
#include "fs/control.h"

namespace slotfs::fs {

// Per-session state reached from every handler through fuse_req_userdata.
struct OpsContext {
  core::Filesystem* fs = nullptr;
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
  // Shown in the control files (.slotfs/stats, metrics).
  std::string device;
  std::string mountpoint;
  RequestLatencies latencies;
};

// One table, wired in one place.
const fuse_lowlevel_ops& SlotfsOps();

}  // namespace slotfs::fs
