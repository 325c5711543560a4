// Readiness notification to systemd (the sd_notify protocol), without
// libsystemd: one datagram of "KEY=VALUE" lines sent to the AF_UNIX socket
// named by $NOTIFY_SOCKET. A name starting with '@' is in the abstract
// namespace (the '@' becomes a NUL byte); otherwise it is a file path.
//
// Thread safety: safe from any thread (no shared state).
#pragma once

#include <string>

#include "common/status.h"

namespace slotfs::tools {

// Sends `state` (e.g. "READY=1", "STOPPING=1", "STATUS=...") to the service
// manager. When $NOTIFY_SOCKET is unset or empty (not started by systemd
// with Type=notify) does nothing and returns OK. EINVAL for a socket name
// that is neither absolute nor abstract or is too long; the errno of
// socket()/sendto() otherwise.
Status NotifyServiceManager(const std::string& state);

}  // namespace slotfs::tools
