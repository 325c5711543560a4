// Status helpers.
#include "common/status.h"

#include <cstring>

namespace slotfs {

Status Status::FromErrno(int err, std::string_view context) {
  if (err <= 0) err = EIO;
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(err, std::move(msg));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return message_ + " (" + ErrnoName(code_) + ")";
}

std::string ErrnoName(int err) {
  switch (err) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case ESTALE: return "ESTALE";
    case EUCLEAN: return "EUCLEAN";
    default: return "E" + std::to_string(err);
  }
}

}  // namespace slotfs
