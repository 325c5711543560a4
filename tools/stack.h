// Opening a formatted device together with its database: the sequence that
// mount and info share.
#pragma once

#include <memory>
#include <string>

#include "blockdev/device.h"
#include "blockdev/superblock_io.h"
#include "common/status.h"
#include "meta/store.h"

namespace slotfs::tools {

struct OpenedDevice {
  std::unique_ptr<blockdev::Device> device;
  blockdev::SuperblockReadResult superblocks;
  std::string db_path;
};

// Opens the device and reads its superblocks; refuses a device smaller than
// its geometry (a truncated image). Messages name the path and what to run.
Result<OpenedDevice> OpenFormattedDevice(const std::string& path,
                                         const blockdev::DeviceOptions& options,
                                         const std::string& db_override);

}  // namespace slotfs::tools
