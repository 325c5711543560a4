// The filesystems `slotfs bench` measures, each set up fresh on a backing
// directory and torn down by its destructor whatever happened in between:
//   SlotfsInstance  an image formatted by this binary and mounted by a
//                   foreground daemon of this binary (`slotfs mount -f`);
//   Ext4Instance    a sparse image on a loop device (direct I/O when the
//                   backing filesystem allows it, so no second page cache
//                   sits under ext4), `mkfs.ext4 -q -F`, mounted with
//                   default options.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace slotfs::tools::bench {

class SlotfsInstance {
 public:
  // Formats WORK/slotfs.img (`image_size` bytes; `slot_size` is passed to
  // `slotfs format --slot-size`, "" for its default) and mounts it on
  // WORK/mnt. Format and daemon output go to `log`.
  static Result<std::unique_ptr<SlotfsInstance>> Start(const std::string& work,
                                                       uint64_t image_size,
                                                       const std::string& slot_size,
                                                       const std::string& log);
  ~SlotfsInstance();
  SlotfsInstance(const SlotfsInstance&) = delete;
  SlotfsInstance& operator=(const SlotfsInstance&) = delete;

  const std::string& mountpoint() const { return mnt_; }
  pid_t daemon_pid() const { return pid_; }
  // Unmounts and waits for the daemon; an error if it did not exit cleanly.
  // Removes the image and database. Idempotent.
  Status Stop();

 private:
  SlotfsInstance(std::string image, std::string mnt, std::string log)
      : image_(std::move(image)), mnt_(std::move(mnt)), log_(std::move(log)) {}
  void RemoveFiles();

  std::string image_, mnt_, log_;
  pid_t pid_ = -1;
};

class Ext4Instance {
 public:
  // Creates WORK/ext4.img (`image_size` bytes, sparse), attaches a loop
  // device, makes ext4 on it and mounts it on WORK/mnt. Tool output to `log`.
  static Result<std::unique_ptr<Ext4Instance>> Start(const std::string& work,
                                                     uint64_t image_size,
                                                     const std::string& log);
  ~Ext4Instance();
  Ext4Instance(const Ext4Instance&) = delete;
  Ext4Instance& operator=(const Ext4Instance&) = delete;

  const std::string& mountpoint() const { return mnt_; }
  const std::string& loop_device() const { return loop_; }
  bool loop_direct_io() const { return direct_io_; }
  // Unmounts, detaches the loop device, removes the image. Idempotent.
  Status Stop();

 private:
  Ext4Instance(std::string image, std::string mnt, std::string log)
      : image_(std::move(image)), mnt_(std::move(mnt)), log_(std::move(log)) {}

  std::string image_, mnt_, log_, loop_;
  bool mounted_ = false;
  bool direct_io_ = false;
};

// Unmounts `mnt`, retrying while busy for up to `seconds`, then detaches it
// lazily. OK if nothing was mounted there.
Status Unmount(const std::string& mnt, int seconds);

}  // namespace slotfs::tools::bench
