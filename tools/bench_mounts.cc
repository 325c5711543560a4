// Setting up and tearing down the filesystems `slotfs bench` measures (see
// bench_mounts.h).
#include "tools/bench_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tools/bench_util.h"

namespace slotfs::tools::bench {
namespace {

Status MakeDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::Error(EIO, "cannot create " + path + ": " + ec.message());
  return Status::Ok();
}

// A sparse file of `size` bytes at `path`, replacing any old one.
Status MakeSparseFile(const std::string& path, uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.ok()) return Status::FromErrno(errno, "creating " + path);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return Status::FromErrno(errno, "sizing " + path);
  }
  return Status::Ok();
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

Status Unmount(const std::string& mnt, int seconds) {
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (true) {
    if (::umount2(mnt.c_str(), 0) == 0) return Status::Ok();
    int err = errno;
    if (err == EINVAL || err == ENOENT) return Status::Ok();  // not mounted
    if (err != EBUSY || Clock::now() >= deadline) {
      ::umount2(mnt.c_str(), MNT_DETACH);
      return Status::FromErrno(err, "unmounting " + mnt);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// ------------------------------------------------------------------ slotfs

Result<std::unique_ptr<SlotfsInstance>> SlotfsInstance::Start(const std::string& work,
                                                              uint64_t image_size,
                                                              const std::string& slot_size,
                                                              const std::string& log) {
  SLOTFS_RETURN_IF_ERROR(MakeDir(work + "/mnt"));
  std::unique_ptr<SlotfsInstance> s(
      new SlotfsInstance(work + "/slotfs.img", work + "/mnt", log));
  ::umount2(s->mnt_.c_str(), MNT_DETACH);  // a leftover of an interrupted run
  s->RemoveFiles();
  std::vector<std::string> format = {"format", s->image_, "--size", std::to_string(image_size)};
  if (!slot_size.empty()) format.insert(format.end(), {"--slot-size", slot_size});
  if (RunSelf(format, log) != 0) {
    return Status::Error(EIO, "slotfs format " + s->image_ + " failed; see " + log);
  }
  s->pid_ = SpawnSelf({"mount", s->image_, s->mnt_, "-f", "--log-level", "warn"}, log);
  if (s->pid_ < 0) return Status::FromErrno(errno, "fork");
  if (!WaitReady(s->mnt_, s->mnt_, s->pid_, std::chrono::seconds(60))) {
    KillAndDetach(s->pid_, s->mnt_);
    s->pid_ = -1;
    return Status::Error(EIO, "the slotfs daemon did not come up on " + s->mnt_ + "; see " +
                                  log);
  }
  return s;
}

SlotfsInstance::~SlotfsInstance() { (void)Stop(); }

void SlotfsInstance::RemoveFiles() {
  std::error_code ec;
  for (const char* sfx : {"", ".db", ".db-wal", ".db-shm", ".db-journal"}) {
    std::filesystem::remove(image_ + sfx, ec);
  }
}

Status SlotfsInstance::Stop() {
  Status st;
  if (pid_ > 0) {
    st = Unmount(mnt_, 30);
    if (!WaitExit(pid_, std::chrono::seconds(60))) {
      KillAndDetach(pid_, mnt_);
      if (st.ok()) st = Status::Error(ETIMEDOUT, "the slotfs daemon did not exit after unmount");
    }
    pid_ = -1;
  }
  RemoveFiles();
  return st;
}

// -------------------------------------------------------------------- ext4

Result<std::unique_ptr<Ext4Instance>> Ext4Instance::Start(const std::string& work,
                                                          uint64_t image_size,
                                                          const std::string& log) {
  SLOTFS_RETURN_IF_ERROR(MakeDir(work + "/mnt"));
  std::unique_ptr<Ext4Instance> e(new Ext4Instance(work + "/ext4.img", work + "/mnt", log));
  ::umount2(e->mnt_.c_str(), MNT_DETACH);  // a leftover of an interrupted run
  SLOTFS_RETURN_IF_ERROR(MakeSparseFile(e->image_, image_size));
  // From here on, the destructor (Stop) undoes whatever was set up.
  std::string out;
  if (RunProgram({"losetup", "-f", "--show", "--direct-io=on", e->image_}, log,
                 Stdout::kCapture, &out) != 0 ||
      FirstLine(out).empty()) {
    out.clear();
    if (RunProgram({"losetup", "-f", "--show", e->image_}, log,
                 Stdout::kCapture, &out) != 0 ||
        FirstLine(out).empty()) {
      return Status::Error(ENODEV, "losetup -f --show " + e->image_ + " failed; see " + log);
    }
  }
  e->loop_ = FirstLine(out);
  std::ifstream dio("/sys/block/" + std::filesystem::path(e->loop_).filename().string() +
                    "/loop/dio");
  int dio_flag = 0;
  e->direct_io_ = (dio >> dio_flag) && dio_flag == 1;
  if (RunProgram({"mkfs.ext4", "-q", "-F", e->loop_}, log) != 0) {
    return Status::Error(EIO, "mkfs.ext4 -q -F " + e->loop_ + " failed; see " + log);
  }
  if (::mount(e->loop_.c_str(), e->mnt_.c_str(), "ext4", 0, nullptr) != 0) {
    return Status::FromErrno(errno, "mounting ext4 from " + e->loop_ + " on " + e->mnt_);
  }
  e->mounted_ = true;
  return e;
}

Ext4Instance::~Ext4Instance() { (void)Stop(); }

Status Ext4Instance::Stop() {
  Status st;
  if (mounted_) {
    st = Unmount(mnt_, 30);
    mounted_ = false;
  }
  if (!loop_.empty()) {
    if (RunProgram({"losetup", "-d", loop_}, log_) != 0 && st.ok()) {
      st = Status::Error(EIO, "losetup -d " + loop_ + " failed; see " + log_);
    }
    loop_.clear();
  }
  if (!image_.empty()) {
    std::error_code ec;
    std::filesystem::remove(image_, ec);
    image_.clear();
  }
  return st;
}

}  // namespace slotfs::tools::bench
