// Strong address and identity types shared by every module.
//
// A slot number is never confused with a byte offset: SlotId counts slots in
// the data region, DevOffset is an absolute byte offset on the device, and
// blockdev::Layout is the one place that converts between them.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace slotfs {

template <typename Tag>
struct StrongU64 {
  uint64_t value = 0;

  constexpr StrongU64() = default;
  constexpr explicit StrongU64(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const StrongU64&) const = default;
};

struct SlotIdTag {};
struct DevOffsetTag {};
struct InodeNoTag {};

// Index of a slot in the data region, 0-based.
using SlotId = StrongU64<SlotIdTag>;
// Absolute byte offset on the device (from byte 0 of the superblock).
using DevOffset = StrongU64<DevOffsetTag>;
// Inode number; SQLite rowid of the inode row. Root is 1. Never reused.
using InodeNo = StrongU64<InodeNoTag>;

inline constexpr InodeNo kRootInode{1};

// Alignment every device I/O obeys (offset, length and buffer address).
inline constexpr uint64_t kIoAlign = 4096;

constexpr uint64_t AlignDown(uint64_t v, uint64_t a) { return v / a * a; }
constexpr uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
constexpr bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace slotfs

template <typename Tag>
struct std::hash<slotfs::StrongU64<Tag>> {
  size_t operator()(const slotfs::StrongU64<Tag>& v) const noexcept {
    return std::hash<uint64_t>()(v.value);
  }
};
