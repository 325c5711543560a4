// Superblock encoding, decoding and validation; UUIDs; geometry planning.
#include "blockdev/format.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace slotfs::blockdev {
namespace {

// Explicit little-endian field access; the on-disk format never depends on
// the host's byte order or struct layout.
void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t SuperblockChecksum(const uint8_t* p) {
  return XXH3_64bits(p, sb_offsets::kChecksum);
}

bool ValidSlotSize(uint64_t slot_size) {
  return IsPowerOfTwo(slot_size) && slot_size >= kMinSlotSize &&
         slot_size <= kMaxSlotSize;
}

// Fills `out` with random bytes; false if no source of randomness works.
bool FillRandom(uint8_t* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = getrandom(out + done, len - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  if (done == len) return true;
  const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  while (done < len) {
    const ssize_t n = read(fd, out + done, len - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(fd);
  return done == len;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Why `sb` cannot describe a real device, or nullopt if it can.
std::optional<std::string> GeometryFault(const Superblock& sb) {
  const std::string ss = std::to_string(sb.slot_size);
  if (!ValidSlotSize(sb.slot_size)) {
    return "slot size " + ss + " is not a power of two in [" +
           std::to_string(kMinSlotSize) + ", " + std::to_string(kMaxSlotSize) +
           "]";
  }
  if (sb.copy_index > 1) {
    return "copy index " + std::to_string(sb.copy_index) + " is not 0 or 1";
  }
  if (sb.data_offset % kIoAlign != 0) {
    return "data offset " + std::to_string(sb.data_offset) +
           " is not a multiple of " + std::to_string(kIoAlign);
  }
  if (sb.data_offset < kHeaderRegionSize) {
    return "data offset " + std::to_string(sb.data_offset) +
           " overlaps the header region (< " +
           std::to_string(kHeaderRegionSize) + ")";
  }
  if (sb.slot_count == 0) return std::string("slot count is 0");
  if (sb.device_size < sb.data_offset ||
      sb.slot_count > (sb.device_size - sb.data_offset) / sb.slot_size) {
    return std::to_string(sb.slot_count) + " slots of " + ss +
           " bytes from offset " + std::to_string(sb.data_offset) +
           " do not fit in a device of " + std::to_string(sb.device_size) +
           " bytes";
  }
  return std::nullopt;
}

Status Corrupt(std::string what) {
  return Status::Error(EUCLEAN, std::move(what));
}

}  // namespace

Uuid NewUuid() {
  Uuid u{};
  if (!FillRandom(u.data(), u.size())) {
    // A non-random UUID would defeat the superblock/database identity check.
    std::fprintf(stderr, "slotfs: no source of randomness for a UUID: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

std::string UuidToString(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[uuid[i] >> 4]);
    s.push_back(kHex[uuid[i] & 0xf]);
  }
  return s;
}

Result<Uuid> UuidFromString(const std::string& text) {
  auto bad = [&text](const char* why) {
    return Status::Error(EINVAL, "invalid UUID '" + text + "': " + why +
                                     " (expected 8-4-4-4-12 hex digits)");
  };
  if (text.size() != 36) return bad("wrong length");
  Uuid u{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad("dash expected");
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return bad("non-hex character");
    u[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return u;
}

Result<Superblock> PlanGeometry(uint64_t device_size, uint64_t slot_size) {
  if (!ValidSlotSize(slot_size)) {
    return Status::Error(
        EINVAL, "invalid slot size " + std::to_string(slot_size) +
                    ": must be a power of two between " +
                    std::to_string(kMinSlotSize / 1024) + " KiB and " +
                    std::to_string(kMaxSlotSize / (1024 * 1024)) + " MiB");
  }
  Superblock sb;
  sb.slot_size = slot_size;
  sb.data_offset = std::max(kHeaderRegionSize, slot_size);
  sb.device_size = device_size;
  sb.slot_count = device_size > sb.data_offset
                      ? (device_size - sb.data_offset) / slot_size
                      : 0;
  if (sb.slot_count == 0) {
    return Status::Error(
        ENOSPC, "device of " + std::to_string(device_size) +
                    " bytes is too small: slot size " +
                    std::to_string(slot_size) + " needs at least " +
                    std::to_string(sb.data_offset + slot_size) + " bytes");
  }
  sb.uuid = NewUuid();
  sb.created_unix_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  return sb;
}

void EncodeSuperblock(const Superblock& sb,
                      std::span<uint8_t, kSuperblockSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kSuperblockSize);
  PutU64(p + sb_offsets::kMagic, kSuperblockMagic);
  PutU32(p + sb_offsets::kFormatVersion, sb.format_version);
  PutU32(p + sb_offsets::kCopyIndex, sb.copy_index);
  std::memcpy(p + sb_offsets::kUuid, sb.uuid.data(), sb.uuid.size());
  PutU64(p + sb_offsets::kSlotSize, sb.slot_size);
  PutU64(p + sb_offsets::kSlotCount, sb.slot_count);
  PutU64(p + sb_offsets::kDataOffset, sb.data_offset);
  PutU64(p + sb_offsets::kDeviceSize, sb.device_size);
  PutU64(p + sb_offsets::kCreatedUnixNs, sb.created_unix_ns);
  PutU64(p + sb_offsets::kChecksum, SuperblockChecksum(p));
}

Result<Superblock> DecodeSuperblock(
    std::span<const uint8_t, kSuperblockSize> in) {
  const uint8_t* p = in.data();
  const uint64_t magic = GetU64(p + sb_offsets::kMagic);
  if (magic != kSuperblockMagic) {
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%016llx",
                  static_cast<unsigned long long>(magic));
    return Corrupt(std::string("bad magic ") + hex);
  }
  Superblock sb;
  sb.format_version = GetU32(p + sb_offsets::kFormatVersion);
  // Checked before the checksum: another version may checksum differently.
  if (sb.format_version != kFormatVersion) {
    return Corrupt("unsupported format version " +
                   std::to_string(sb.format_version) + " (this slotfs reads " +
                   std::to_string(kFormatVersion) + ")");
  }
  const uint64_t stored = GetU64(p + sb_offsets::kChecksum);
  const uint64_t computed = SuperblockChecksum(p);
  if (stored != computed) {
    char buf[96];
    std::snprintf(buf, sizeof(buf),
                  "checksum mismatch (stored 0x%016llx, computed 0x%016llx)",
                  static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(computed));
    return Corrupt(buf);
  }
  sb.copy_index = GetU32(p + sb_offsets::kCopyIndex);
  std::memcpy(sb.uuid.data(), p + sb_offsets::kUuid, sb.uuid.size());
  sb.slot_size = GetU64(p + sb_offsets::kSlotSize);
  sb.slot_count = GetU64(p + sb_offsets::kSlotCount);
  sb.data_offset = GetU64(p + sb_offsets::kDataOffset);
  sb.device_size = GetU64(p + sb_offsets::kDeviceSize);
  sb.created_unix_ns = GetU64(p + sb_offsets::kCreatedUnixNs);
  if (auto fault = GeometryFault(sb)) {
    return Corrupt("impossible geometry (" + *fault + ")");
  }
  return sb;
}

// ---------------------------------------------------------------- slot checksums

uint64_t SlotChecksum(const uint8_t* payload, uint64_t len) {
  return XXH3_64bits(payload, len);
}

struct SlotHasher::State {
  XXH3_state_t* xxh = XXH3_createState();
  State() { XXH3_64bits_reset(xxh); }
  ~State() { XXH3_freeState(xxh); }
};

SlotHasher::SlotHasher() : state_(new State) {}
SlotHasher::~SlotHasher() { delete state_; }
SlotHasher::SlotHasher(SlotHasher&& o) noexcept : state_(o.state_), length_(o.length_) {
  o.state_ = nullptr;
  o.length_ = 0;
}
SlotHasher& SlotHasher::operator=(SlotHasher&& o) noexcept {
  if (this != &o) {
    delete state_;
    state_ = o.state_;
    length_ = o.length_;
    o.state_ = nullptr;
    o.length_ = 0;
  }
  return *this;
}

void SlotHasher::Update(const uint8_t* data, uint64_t len) {
  XXH3_64bits_update(state_->xxh, data, len);
  length_ += len;
}

void SlotHasher::UpdateZeros(uint64_t n) {
  static const std::vector<uint8_t> zeros(64 * 1024, 0);
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, zeros.size());
    Update(zeros.data(), k);
    n -= k;
  }
}

uint64_t SlotHasher::Digest() const { return XXH3_64bits_digest(state_->xxh); }

}  // namespace slotfs::blockdev
