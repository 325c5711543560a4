// The on-disk format: every byte slotfs owns on the device.
//
// Device layout (all offsets absolute, little-endian, see docs/format.md):
//
//   [0, 4096)                      superblock copy 0
//   [kSuperblockCopy1Offset, +4096) superblock copy 1
//   everything else below data_offset: zero, reserved
//   [data_offset + i*slot_size, +slot_size)  slot i, i < slot_count
//
// Superblock record (kSuperblockSize bytes; unnamed bytes are zero):
//   off  size  field
//     0     8  magic            kSuperblockMagic ("SLOTFS\0\1" read as LE u64)
//     8     4  format_version   kFormatVersion; never 0
//    12     4  copy_index       0 or 1: which copy this is
//    16    16  uuid             filesystem UUID (random v4)
//    32     8  slot_size        bytes; power of two, >= kMinSlotSize
//    40     8  slot_count       number of slots in the data region
//    48     8  data_offset      byte offset of slot 0; multiple of kIoAlign
//    56     8  device_size      device size in bytes when formatted
//    64     8  created_unix_ns  creation time
//    72  4016  reserved         zero
//  4088     8  checksum         XXH3-64 (seed 0) of bytes [0, 4088)
//
// Bump kFormatVersion if any of this changes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"
#include "common/types.h"

namespace slotfs::blockdev {

inline constexpr uint64_t kSuperblockMagic = 0x0100'5346'544f'4c53ULL;  // "SLOTFS\0\1"
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kSuperblockSize = 4096;
inline constexpr uint64_t kSuperblockCopy0Offset = 0;
inline constexpr uint64_t kSuperblockCopy1Offset = 512 * 1024;
// Header region reserved ahead of the data region; data_offset is
// max(kHeaderRegionSize, slot_size) so slot 0 is slot-size aligned.
inline constexpr uint64_t kHeaderRegionSize = 1024 * 1024;
inline constexpr uint64_t kMinSlotSize = 64 * 1024;
inline constexpr uint64_t kMaxSlotSize = 64 * 1024 * 1024;
// 64 KiB: a file's last slot wastes at most 60 KiB (LMCache's chunks are
// multiples of 4 KiB), so a cache of 2.6 MB chunks and 40 KB tails holds
// 98% logical bytes; writes and reads of consecutive slots still reach the
// device as one large op.
inline constexpr uint64_t kDefaultSlotSize = 64 * 1024;

namespace sb_offsets {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kFormatVersion = 8;
inline constexpr size_t kCopyIndex = 12;
inline constexpr size_t kUuid = 16;
inline constexpr size_t kSlotSize = 32;
inline constexpr size_t kSlotCount = 40;
inline constexpr size_t kDataOffset = 48;
inline constexpr size_t kDeviceSize = 56;
inline constexpr size_t kCreatedUnixNs = 64;
inline constexpr size_t kReservedStart = 72;
inline constexpr size_t kChecksum = 4088;
}  // namespace sb_offsets
static_assert(sb_offsets::kChecksum + 8 == kSuperblockSize);
static_assert(kSuperblockSize == kIoAlign, "superblock is one aligned block");
static_assert(kSuperblockCopy1Offset + kSuperblockSize <= kHeaderRegionSize);
static_assert(kSuperblockCopy1Offset % kIoAlign == 0);
static_assert(IsPowerOfTwo(kDefaultSlotSize) && kDefaultSlotSize >= kMinSlotSize);

using Uuid = std::array<uint8_t, 16>;

// A new random (v4) UUID.
Uuid NewUuid();
// "8-4-4-4-12" lowercase hex.
std::string UuidToString(const Uuid& uuid);
// Parses UuidToString's output; EINVAL otherwise.
Result<Uuid> UuidFromString(const std::string& text);

// Geometry and identity; the decoded superblock.
struct Superblock {
  uint32_t format_version = kFormatVersion;
  uint32_t copy_index = 0;
  Uuid uuid{};
  uint64_t slot_size = kDefaultSlotSize;
  uint64_t slot_count = 0;
  uint64_t data_offset = kHeaderRegionSize;
  uint64_t device_size = 0;
  uint64_t created_unix_ns = 0;

  bool SameGeometry(const Superblock& o) const {
    return uuid == o.uuid && slot_size == o.slot_size &&
           slot_count == o.slot_count && data_offset == o.data_offset;
  }
};

// Computes the geometry for a device of `device_size` bytes and slot size
// `slot_size`: data_offset = max(kHeaderRegionSize, slot_size), as many
// whole slots as fit after it. The result is ready to write: a fresh uuid,
// created_unix_ns = now, copy_index 0. EINVAL if slot_size is not a power of
// two in [kMinSlotSize, kMaxSlotSize]; ENOSPC if the device holds no slot.
Result<Superblock> PlanGeometry(uint64_t device_size, uint64_t slot_size);

// Encodes `sb` (with its copy_index) into exactly kSuperblockSize bytes,
// checksum included.
void EncodeSuperblock(const Superblock& sb, std::span<uint8_t, kSuperblockSize> out);

// Decodes and validates one copy: EUCLEAN with a message naming the fault
// (bad magic, unsupported version, checksum mismatch, impossible geometry).
Result<Superblock> DecodeSuperblock(std::span<const uint8_t, kSuperblockSize> in);

// What a slot's checksum covers: the one definition, used by the write
// path, commit, read verification, `slotfs check --scrub` and every tool.
//
// Logical slot `lslot` of a file of `file_size` bytes holds the file's bytes
// [lslot * slot_size, min((lslot + 1) * slot_size, file_size)); its checksum
// is XXH3-64 (seed 0) of exactly those bytes, as they sit at the start of the
// physical slot. Nothing past them is covered (the rest of the slot may hold
// anything). So a committed slot's checksum stays true only while the file
// size keeps that slot's payload length: whoever changes the size of a file
// must re-seal (copy-on-write) a committed slot whose payload length changes.
inline uint64_t SlotPayloadBytes(uint64_t file_size, uint64_t lslot, uint64_t slot_size) {
  const uint64_t start = lslot * slot_size;
  if (file_size <= start) return 0;
  return file_size - start < slot_size ? file_size - start : slot_size;
}
// The checksum of a slot payload of `len` bytes at `payload`.
uint64_t SlotChecksum(const uint8_t* payload, uint64_t len);

// SlotChecksum computed incrementally, as a payload's bytes stream in order:
// Update() with consecutive pieces, then Digest() equals SlotChecksum of
// their concatenation. Move-only; not thread-safe.
class SlotHasher {
 public:
  SlotHasher();
  ~SlotHasher();
  SlotHasher(SlotHasher&& o) noexcept;
  SlotHasher& operator=(SlotHasher&& o) noexcept;
  SlotHasher(const SlotHasher&) = delete;
  SlotHasher& operator=(const SlotHasher&) = delete;

  void Update(const uint8_t* data, uint64_t len);
  // Feeds `n` zero bytes (a gap the payload reads as zeros).
  void UpdateZeros(uint64_t n);
  // Checksum of every byte fed so far; the hasher stays usable.
  uint64_t Digest() const;
  // Bytes fed so far.
  uint64_t length() const { return length_; }

 private:
  struct State;
  State* state_;
  uint64_t length_ = 0;
};

// Converts slot numbers to device byte offsets. The only place that does.
class Layout {
 public:
  Layout() = default;
  explicit Layout(const Superblock& sb)
      : slot_size_(sb.slot_size), slot_count_(sb.slot_count),
        data_offset_(sb.data_offset) {}

  uint64_t slot_size() const { return slot_size_; }
  uint64_t slot_count() const { return slot_count_; }
  uint64_t data_offset() const { return data_offset_; }
  // REQUIRES: slot.value < slot_count().
  DevOffset SlotOffset(SlotId slot) const {
    return DevOffset(data_offset_ + slot.value * slot_size_);
  }
  bool Contains(SlotId slot) const { return slot.value < slot_count_; }

 private:
  uint64_t slot_size_ = kDefaultSlotSize;
  uint64_t slot_count_ = 0;
  uint64_t data_offset_ = kHeaderRegionSize;
};

}  // namespace slotfs::blockdev
