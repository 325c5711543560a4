// Reading and writing the two superblock copies.
#include "blockdev/superblock_io.h"

#include <cerrno>
#include <string>

#include "blockdev/aligned_buffer.h"

namespace slotfs::blockdev {
namespace {

constexpr uint64_t kCopyOffsets[2] = {kSuperblockCopy0Offset,
                                      kSuperblockCopy1Offset};

std::string Describe(const Superblock& sb) {
  return "uuid " + UuidToString(sb.uuid) + ", " +
         std::to_string(sb.slot_count) + " slots of " +
         std::to_string(sb.slot_size) + " bytes at offset " +
         std::to_string(sb.data_offset);
}

// Reads and decodes copy `copy`; the error says what is wrong with it.
Result<Superblock> ReadCopy(Device& device, int copy) {
  const uint64_t offset = kCopyOffsets[copy];
  if (device.size() < offset + kSuperblockSize) {
    return Status::Error(EUCLEAN, "device of " + std::to_string(device.size()) +
                                      " bytes is too small to hold it");
  }
  AlignedBuffer buf(kSuperblockSize);
  Status st = device.Read(DevOffset(offset), buf.data(), kSuperblockSize);
  if (!st.ok()) return st;
  return DecodeSuperblock(
      std::span<const uint8_t, kSuperblockSize>(buf.data(), kSuperblockSize));
}

}  // namespace

Result<SuperblockReadResult> ReadSuperblocks(Device& device) {
  SuperblockReadResult result;
  Superblock copies[2];
  for (int i = 0; i < 2; ++i) {
    auto sb = ReadCopy(device, i);
    result.copy_ok[i] = sb.ok();
    if (sb.ok()) {
      copies[i] = *sb;
    } else {
      result.copy_error[i] = sb.status();
    }
  }
  if (!result.copy_ok[0] && !result.copy_ok[1]) {
    // Unreadable on both sides is an I/O problem, not a missing filesystem.
    const bool io_only = result.copy_error[0].code() != EUCLEAN &&
                         result.copy_error[1].code() != EUCLEAN;
    return Status::Error(
        io_only ? EIO : EUCLEAN,
        device.path() +
            ": no valid superblock: copy 0: " + result.copy_error[0].message() +
            "; copy 1: " + result.copy_error[1].message() +
            " — is this a slotfs device? run 'slotfs format' or "
            "'slotfs check --repair'");
  }
  if (result.copy_ok[0] && result.copy_ok[1] &&
      !copies[0].SameGeometry(copies[1])) {
    return Status::Error(
        EUCLEAN, device.path() + ": superblock copies disagree (copy 0: " +
                     Describe(copies[0]) + "; copy 1: " + Describe(copies[1]) +
                     ") — run 'slotfs check --repair'");
  }
  result.sb = result.copy_ok[0] ? copies[0] : copies[1];
  const Superblock& sb = result.sb;
  const uint64_t end = sb.data_offset + sb.slot_count * sb.slot_size;
  if (end > device.size()) {
    return Status::Error(
        EUCLEAN, device.path() + ": superblock (" + Describe(sb) + ") needs " +
                     std::to_string(end) + " bytes but the device has only " +
                     std::to_string(device.size()) +
                     " — was the device or image truncated?");
  }
  return result;
}

Status WriteSuperblockCopy(Device& device, const Superblock& sb, int copy) {
  if (copy != 0 && copy != 1) {
    return Status::Error(EINVAL, "superblock copy " + std::to_string(copy) +
                                     " does not exist (0 or 1)");
  }
  AlignedBuffer buf(kSuperblockSize);
  std::span<uint8_t, kSuperblockSize> bytes(buf.data(), kSuperblockSize);
  Superblock copy_sb = sb;
  copy_sb.copy_index = static_cast<uint32_t>(copy);
  EncodeSuperblock(copy_sb, bytes);
  // Never put on disk what the next mount would reject.
  auto check = DecodeSuperblock(bytes);
  if (!check.ok()) {
    return Status::Error(
        EINVAL, device.path() + ": refusing to write superblock copy " +
                    std::to_string(copy) + ": " + check.status().message());
  }
  const uint64_t end = sb.data_offset + sb.slot_count * sb.slot_size;
  if (end > device.size()) {
    return Status::Error(EINVAL, device.path() + ": superblock needs " +
                                     std::to_string(end) +
                                     " bytes but the device has only " +
                                     std::to_string(device.size()));
  }
  SLOTFS_RETURN_IF_ERROR(
      device.Write(DevOffset(kCopyOffsets[copy]), buf.data(), kSuperblockSize));
  return device.Flush();
}

Status WriteSuperblocks(Device& device, const Superblock& sb) {
  // One copy at a time, each flushed, so a crash mid-way tears at most one.
  SLOTFS_RETURN_IF_ERROR(WriteSuperblockCopy(device, sb, 0));
  return WriteSuperblockCopy(device, sb, 1);
}

}  // namespace slotfs::blockdev
