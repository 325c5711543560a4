// slotfs format: writes the superblocks and creates the bound database.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "blockdev/aligned_buffer.h"
#include "blockdev/image_file.h"
#include "blockdev/probe.h"
#include "blockdev/superblock_io.h"
#include "meta/claim.h"
#include "tools/bench_util.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace slotfs::tools {
namespace {

struct FormatArgs {
  std::string device;
  std::string size;
  std::string slot_size = "64K";
  std::string db;
  bool force = false;
  bool sparse = false;  // leave a new image's extents unallocated
};

// Makes sure `a.device` may be formatted: creates a missing image file
// (*created = true), refuses an existing regular file that holds data
// unless --force (ProbeFileHead: even one shorter than an I/O block).
Status PrepareImage(const FormatArgs& a, std::optional<uint64_t> size, bool* created) {
  struct stat st;
  bool exists = ::stat(a.device.c_str(), &st) == 0;
  if (!exists) {
    if (!size) {
      return Status::Error(ENOENT, a.device + " does not exist (give --size to create an image file)");
    }
    int fd = ::open(a.device.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno(errno, "cannot create " + a.device);
    *created = true;
    int rc = ::ftruncate(fd, static_cast<off_t>(*size));
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno(err, "cannot size " + a.device);
    if (a.sparse) return Status::Ok();
    // Written extents make every slot write a plain overwrite (image_file.h).
    Status st = blockdev::WriteImageExtents(a.device, *size, [](uint64_t done, uint64_t total) {
      bench::Progress("writing the image's extents: %llu/%llu MiB",
                      static_cast<unsigned long long>(done >> 20),
                      static_cast<unsigned long long>(total >> 20));
    });
    bench::ProgressDone();
    return st;
  }
  if (S_ISBLK(st.st_mode)) {
    if (size) return Status::Error(EINVAL, "--size applies to image files, not block devices");
    return Status::Ok();
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(ENODEV, a.device + " is neither a block device nor a regular file");
  }
  // The device probe (ProbeExistingData) names what a larger file holds;
  // it reads whole I/O blocks only, so a shorter file is checked here.
  if (!a.force && AlignDown(static_cast<uint64_t>(st.st_size), kIoAlign) < 64 * 1024) {
    SLOTFS_ASSIGN_OR_RETURN(std::string held, blockdev::ProbeFileHead(a.device));
    if (!held.empty()) {
      return Status::Error(EEXIST, a.device + " already holds " + held +
                                       "; refusing to format it (use --force to overwrite)");
    }
  }
  return Status::Ok();
}

// Removes, on destruction, the image file format created unless Keep() was
// called: a failed format leaves behind nothing it made, and never removes
// what was there before.
class CreatedFile {
 public:
  explicit CreatedFile(std::string path) : path_(std::move(path)) {}
  ~CreatedFile() {
    if (created_ && !keep_) ::unlink(path_.c_str());
  }
  bool* created() { return &created_; }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool created_ = false;
  bool keep_ = false;
};

int RunFormat(const FormatArgs& a) {
  std::optional<uint64_t> size;
  if (!a.size.empty()) {
    auto s = ParseSize(a.size);
    if (!s.ok()) {
      PrintError("--size: " + s.status().message());
      return kExitUsage;
    }
    size = s.value();
  }
  auto slot_size = ParseSize(a.slot_size);
  if (!slot_size.ok()) {
    PrintError("--slot-size: " + slot_size.status().message());
    return kExitUsage;
  }
  if (size) {
    // Too small for one slot: say so before creating anything.
    auto geo = blockdev::PlanGeometry(AlignDown(*size, kIoAlign), slot_size.value());
    if (!geo.ok()) {
      const uint64_t need = std::max<uint64_t>(blockdev::kHeaderRegionSize, slot_size.value()) +
                            slot_size.value();
      PrintError("--size " + a.size + " is too small: with " + FormatSize(slot_size.value()) +
                 " slots the smallest filesystem is " + std::to_string(need) + " bytes (" +
                 FormatSize(need) + ": the header and one slot)");
      return kExitUsage;
    }
  }
  std::string device_path = AbsolutePath(a.device);
  FormatArgs args = a;
  args.device = device_path;
  CreatedFile image(device_path);
  Status st = PrepareImage(args, size, image.created());
  if (!st.ok()) {
    PrintError(st.message());
    return st.code() == EINVAL ? kExitUsage : kExitFailure;
  }
  blockdev::DeviceOptions dopt;
  auto dev = blockdev::OpenDevice(device_path, dopt);
  if (!dev.ok()) {
    PrintError(dev.status().message());
    return kExitFailure;
  }
  blockdev::Device& device = *dev.value();
  auto found = blockdev::ProbeExistingData(device);
  if (!found.ok()) {
    PrintError("cannot read " + device_path + ": " + found.status().message());
    return kExitFailure;
  }
  if (!found->empty() && !a.force) {
    PrintError(device_path + " already holds " + found.value() +
               "; refusing to format it (use --force to overwrite)");
    return kExitFailure;
  }
  // Nobody may be using what this format replaces: the filesystem now on
  // the device (or any copy of it, by UUID) and the database it will
  // overwrite. --force does not override a running process's claim.
  const meta::ClaimHolder holder{"format", device_path, ""};
  const char* kForceNote = "; --force does not override a filesystem in use";
  std::vector<meta::FileLock> claims;
  if (auto old_sb = blockdev::ReadSuperblocks(device); old_sb.ok()) {
    auto lock = meta::LockIdentity(old_sb->sb.uuid, holder, {});
    if (!lock.ok()) {
      PrintError(lock.status().message() + (lock.status().code() == EBUSY ? kForceNote : ""));
      return kExitFailure;
    }
    claims.push_back(std::move(lock.value()));
  }
  // Resize an existing image only once we know it may be overwritten.
  if (size && !device.is_block_device() && device.size() != AlignDown(*size, kIoAlign)) {
    dev.value().reset();
    if (::truncate(device_path.c_str(), static_cast<off_t>(*size)) != 0) {
      PrintError("cannot resize " + device_path + ": " + std::strerror(errno));
      return kExitFailure;
    }
    dev = blockdev::OpenDevice(device_path, dopt);
    if (!dev.ok()) {
      PrintError(dev.status().message());
      return kExitFailure;
    }
  }
  blockdev::Device& d = *dev.value();
  auto geo = blockdev::PlanGeometry(d.size(), slot_size.value());
  if (!geo.ok()) {
    PrintError(device_path + ": " + geo.status().message());
    return geo.status().code() == EINVAL ? kExitUsage : kExitFailure;
  }
  blockdev::Superblock sb = geo.value();
  sb.uuid = blockdev::NewUuid();
  sb.device_size = d.size();
  sb.created_unix_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());

  std::string db = a.db.empty() ? DefaultDbPath(device_path, d.is_block_device(), sb.uuid)
                                : AbsolutePath(a.db);
  struct stat db_st;
  if (a.force && ::lstat(db.c_str(), &db_st) == 0) {
    auto lock = meta::LockDatabase(db, {});
    if (!lock.ok()) {
      PrintError(lock.status().message() + (lock.status().code() == EBUSY ? kForceNote : ""));
      return kExitFailure;
    }
    claims.push_back(std::move(lock.value()));
  }
  auto identity = meta::LockIdentity(sb.uuid, holder, {});
  if (!identity.ok()) {
    PrintError(identity.status().message());
    return kExitFailure;
  }
  claims.push_back(std::move(identity.value()));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(db).parent_path(), ec);
  auto store = meta::Store::Create(db, sb, ::getuid(), ::getgid(), a.force);
  if (!store.ok()) {
    PrintError(store.status().message());
    return kExitFailure;
  }
  store.value().reset();
  // Wipe the header region (old signatures), then write both superblocks.
  blockdev::AlignedBuffer zeros(sb.data_offset);
  st = d.Write(DevOffset(0), zeros.data(), zeros.size());
  if (st.ok()) st = blockdev::WriteSuperblocks(d, sb);
  if (!st.ok()) {
    PrintError("cannot write the superblock to " + device_path + ": " + st.message());
    std::filesystem::remove(db, ec);
    return kExitFailure;
  }
  std::printf("formatted %s\n  uuid       %s\n  slots      %llu x %s (%s of data)\n"
              "  database   %s\n",
              device_path.c_str(), blockdev::UuidToString(sb.uuid).c_str(),
              static_cast<unsigned long long>(sb.slot_count),
              FormatSize(sb.slot_size).c_str(),
              FormatSize(sb.slot_count * sb.slot_size).c_str(), db.c_str());
  image.Keep();
  return kExitOk;
}

}  // namespace

namespace {

// Sizes are checked while the command line is parsed, so a bad one is a
// usage error (exit 2, with CLI11's hint) before anything is created.
CLI::Validator SizeValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto v = ParseSize(text);
        if (!v.ok()) return v.status().message();
        if (v.value() == 0) return "size must be positive";
        return "";
      },
      "SIZE");
}

CLI::Validator SlotSizeValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto v = ParseSize(text);
        if (!v.ok()) return v.status().message();
        if (!IsPowerOfTwo(v.value()) || v.value() < blockdev::kMinSlotSize ||
            v.value() > blockdev::kMaxSlotSize) {
          return "slot size must be a power of two from 64K to 64M, not '" + text + "'";
        }
        return "";
      },
      "SIZE");
}

}  // namespace

std::function<int()> AddFormatCommand(CLI::App& app) {
  auto args = std::make_shared<FormatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "format", "Create a slotfs filesystem on a block device or image file");
  cmd->add_option("device", args->device, "Block device or image file")->required();
  cmd->add_option("--size", args->size,
                  "Create (or resize) an image file of this size, e.g. 8G")
      ->check(SizeValidator());
  cmd->add_option("--slot-size", args->slot_size,
                  "Slot size, a power of two from 64K to 64M (default 64K: a file's "
                  "last slot wastes at most 60K)")
      ->check(SlotSizeValidator());
  cmd->add_option("--db", args->db,
                  "Database path (default: DEVICE.db for an image, "
                  "/var/lib/slotfs/UUID.db for a block device)");
  cmd->add_flag("--sparse", args->sparse,
                "With --size: leave the new image file sparse (no space reserved; "
                "slot writes into holes are slower on ext4/XFS)");
  cmd->add_flag("--force", args->force,
                "Overwrite a device that holds data and an existing database");
  return [args] { return RunFormat(*args); };
}

}  // namespace slotfs::tools
