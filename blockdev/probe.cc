// ProbeExistingData: recognises filesystems, partition tables and other
// signatures at the start of a device, so format refuses to destroy them.
#include "blockdev/probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "blockdev/aligned_buffer.h"
#include "blockdev/format.h"

namespace slotfs::blockdev {
namespace {

constexpr size_t kProbeSize = 128 * 1024;
constexpr size_t kZeroCheckSize = 64 * 1024;

// Signature locations (bytes from the start of the device).
constexpr size_t kExtMagicOffset = 1080;            // s_magic, LE u16 0xEF53
constexpr size_t kExtCompatOffset = 1024 + 0x5c;    // s_feature_compat
constexpr size_t kExtIncompatOffset = 1024 + 0x60;  // s_feature_incompat
constexpr size_t kBtrfsMagicOffset = 65536 + 64;
constexpr size_t kSwapMagicOffset = 4096 - 10;
constexpr size_t kMbrSignatureOffset = 510;
constexpr size_t kMbrPartitionTable = 446;  // 4 entries of 16 bytes

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // Whether `sig` is at `offset` (false if it would run past the end).
  bool Has(size_t offset, std::string_view sig) const {
    return offset + sig.size() <= size_ &&
           std::memcmp(data_ + offset, sig.data(), sig.size()) == 0;
  }
  uint16_t U16(size_t offset) const {
    return offset + 2 <= size_
               ? static_cast<uint16_t>(data_[offset] | data_[offset + 1] << 8)
               : 0;
  }
  uint32_t U32(size_t offset) const {
    if (offset + 4 > size_) return 0;
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | data_[offset + i];
    return v;
  }
  bool AnyNonZero(size_t len) const {
    len = std::min(len, size_);
    return std::any_of(data_, data_ + len, [](uint8_t b) { return b != 0; });
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
};

std::string ExtKind(const Bytes& b) {
  constexpr uint32_t kCompatHasJournal = 0x4;
  // extents | 64bit | flex_bg: features only ext4 has.
  constexpr uint32_t kIncompatExt4 = 0x40 | 0x80 | 0x200;
  if (b.U32(kExtIncompatOffset) & kIncompatExt4) return "ext4 filesystem";
  if (b.U32(kExtCompatOffset) & kCompatHasJournal) return "ext3 filesystem";
  return "ext2 filesystem";
}

bool HasMbrPartition(const Bytes& b) {
  if (b.size() < 512 || b.data()[kMbrSignatureOffset] != 0x55 ||
      b.data()[kMbrSignatureOffset + 1] != 0xAA) {
    return false;
  }
  for (int i = 0; i < 4; ++i) {
    const uint8_t* entry = b.data() + kMbrPartitionTable + 16 * i;
    const uint8_t type = entry[4];
    if (type != 0) return true;
  }
  return false;
}

// Describes a slotfs superblock copy at the start of `block`, or "".
std::string SlotfsAt(const uint8_t* block, bool* magic_only) {
  std::span<const uint8_t, kSuperblockSize> sb_bytes(block, kSuperblockSize);
  auto sb = DecodeSuperblock(sb_bytes);
  if (sb.ok()) return "slotfs filesystem (uuid " + UuidToString(sb->uuid) + ")";
  *magic_only = Bytes(block, kSuperblockSize).Has(0, "SLOTFS");
  return "";
}

}  // namespace

Result<std::string> ProbeExistingData(Device& device) {
  const size_t len = static_cast<size_t>(
      AlignDown(std::min<uint64_t>(device.size(), kProbeSize), kIoAlign));
  if (len == 0) return std::string();
  AlignedBuffer buf(len);
  SLOTFS_RETURN_IF_ERROR(device.Read(DevOffset(0), buf.data(), len));
  const Bytes b(buf.data(), len);

  bool copy0_magic = false;
  std::string slotfs = SlotfsAt(buf.data(), &copy0_magic);
  if (!slotfs.empty()) return slotfs;

  // Signatures of other owners come before slotfs copy 1: a filesystem
  // made over slotfs may leave copy 1 intact, and is the newer content.
  if (b.Has(512, "EFI PART") || b.Has(4096, "EFI PART")) {
    return std::string("GPT partition table");
  }
  if (b.Has(0, "LUKS\xba\xbe")) return std::string("LUKS encrypted volume");
  if (b.Has(512, "LABELONE")) return std::string("LVM physical volume");
  if (b.U16(kExtMagicOffset) == 0xEF53) return ExtKind(b);
  if (b.Has(0, "XFSB")) return std::string("xfs filesystem");
  if (b.Has(kBtrfsMagicOffset, "_BHRfS_M")) {
    return std::string("btrfs filesystem");
  }
  if (b.Has(kSwapMagicOffset, "SWAPSPACE2") ||
      b.Has(kSwapMagicOffset, "SWAP-SPACE")) {
    return std::string("swap space");
  }
  if (HasMbrPartition(b)) return std::string("MBR partition table");

  bool copy1_magic = false;
  if (device.size() >= kSuperblockCopy1Offset + kSuperblockSize) {
    AlignedBuffer copy1(kSuperblockSize);
    SLOTFS_RETURN_IF_ERROR(device.Read(DevOffset(kSuperblockCopy1Offset),
                                       copy1.data(), kSuperblockSize));
    slotfs = SlotfsAt(copy1.data(), &copy1_magic);
    if (!slotfs.empty()) {
      slotfs.pop_back();  // the closing parenthesis
      return slotfs + ", superblock copy 0 damaged)";
    }
  }
  if (copy0_magic || copy1_magic) {
    return std::string("slotfs filesystem with damaged superblocks");
  }
  if (b.AnyNonZero(kZeroCheckSize)) {
    return std::string("unrecognised data in the first 64 KiB");
  }
  return std::string();
}

Result<std::string> ProbeFileHead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::FromErrno(errno, "cannot read " + path);
  struct stat st;
  std::string head(kZeroCheckSize, '\0');
  size_t got = 0;
  int err = 0;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else {
    while (got < head.size()) {
      ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  if (err != 0) return Status::FromErrno(err, "cannot read " + path);
  const Bytes b(reinterpret_cast<const uint8_t*>(head.data()), got);
  if (!b.AnyNonZero(got)) return std::string();
  return std::to_string(st.st_size) + " bytes of data";
}

}  // namespace slotfs::blockdev
