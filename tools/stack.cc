// Opening a formatted device.
#include "tools/stack.h"

#include "tools/cli_util.h"

namespace slotfs::tools {

Result<OpenedDevice> OpenFormattedDevice(const std::string& path,
                                         const blockdev::DeviceOptions& options,
                                         const std::string& db_override) {
  OpenedDevice out;
  SLOTFS_ASSIGN_OR_RETURN(out.device, blockdev::OpenDevice(path, options));
  auto sbs = blockdev::ReadSuperblocks(*out.device);
  if (!sbs.ok()) {
    return Status::Error(sbs.status().code(),
                         path + ": " + sbs.status().message());
  }
  out.superblocks = sbs.value();
  const blockdev::Superblock& sb = out.superblocks.sb;
  uint64_t needed = sb.data_offset + sb.slot_count * sb.slot_size;
  if (out.device->size() < needed) {
    return Status::Error(
        EUCLEAN, path + " is smaller (" + FormatSize(out.device->size()) +
                     ") than the filesystem it holds (" + FormatSize(needed) +
                     "): truncated image or wrong device; restore its size or re-format");
  }
  out.db_path = db_override.empty()
                    ? DefaultDbPath(path, out.device->is_block_device(), sb.uuid)
                    : AbsolutePath(db_override);
  return out;
}

}  // namespace slotfs::tools
