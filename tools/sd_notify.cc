// sd_notify protocol (see sd_notify.h).
#include "tools/sd_notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace slotfs::tools {

Status NotifyServiceManager(const std::string& state) {
  const char* name = ::getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0') return Status::Ok();
  const size_t len = std::strlen(name);

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || len < 2 || len > sizeof(addr.sun_path) - 1) {
    return Status::Error(EINVAL, std::string("NOTIFY_SOCKET=") + name +
                                     " is neither an absolute path nor an abstract name");
  }
  std::memcpy(addr.sun_path, name, len);
  socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (name[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract: no terminating NUL counted
  } else {
    addr_len += 1;  // a path includes its NUL
  }

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "notify socket");
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) return Status::FromErrno(err, std::string("notify ") + name);
  if (static_cast<size_t>(n) != state.size()) {
    return Status::Error(EIO, std::string("notify ") + name + ": short send");
  }
  return Status::Ok();
}

}  // namespace slotfs::tools
