// tests/tools/sd_notify_test.cc — NotifyServiceManager (tools/sd_notify.h)
// against a real datagram socket, abstract and path-named, as systemd
// creates them; and its behaviour without or with a bad NOTIFY_SOCKET.

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "tools/sd_notify.h"

namespace slotfs::tools {
namespace {

// Sets NOTIFY_SOCKET for one test and restores it after.
class NotifySocketEnv {
 public:
  explicit NotifySocketEnv(const char* value) {
    if (const char* old = getenv("NOTIFY_SOCKET")) old_ = old, had_ = true;
    if (value) setenv("NOTIFY_SOCKET", value, 1);
    else unsetenv("NOTIFY_SOCKET");
  }
  ~NotifySocketEnv() {
    if (had_) setenv("NOTIFY_SOCKET", old_.c_str(), 1);
    else unsetenv("NOTIFY_SOCKET");
  }

 private:
  std::string old_;
  bool had_ = false;
};

// A bound AF_UNIX datagram socket; `name` is a path or "@abstract".
class Receiver {
 public:
  explicit Receiver(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@') addr.sun_path[0] = '\0';
    else len += 1;
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Receiver() {
    if (fd_ >= 0) close(fd_);
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" after 5 s.
  std::string Receive() {
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, size_t(n)) : "";
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotifyTest, WithoutNotifySocketDoesNothing) {
  NotifySocketEnv env(nullptr);
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
  NotifySocketEnv empty("");
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
}

TEST(SdNotifyTest, AbstractSocketReceivesTheState) {
  std::string name = "@slotfs-sd-notify-test-" + std::to_string(getpid());
  Receiver r(name);
  ASSERT_TRUE(r.bound()) << strerror(errno);
  NotifySocketEnv env(name.c_str());
  ASSERT_TRUE(NotifyServiceManager("READY=1").ok());
  EXPECT_EQ("READY=1", r.Receive());
  ASSERT_TRUE(NotifyServiceManager("STATUS=serving\nSTOPPING=1").ok());
  EXPECT_EQ("STATUS=serving\nSTOPPING=1", r.Receive());
}

TEST(SdNotifyTest, PathSocketReceivesTheState) {
  char dir[] = "/tmp/slotfs-sd-notify.XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(dir));
  std::string path = std::string(dir) + "/notify";
  {
    Receiver r(path);
    ASSERT_TRUE(r.bound()) << strerror(errno);
    NotifySocketEnv env(path.c_str());
    ASSERT_TRUE(NotifyServiceManager("READY=1").ok());
    EXPECT_EQ("READY=1", r.Receive());
  }
  unlink(path.c_str());
  rmdir(dir);
}

TEST(SdNotifyTest, RelativeNameIsRejected) {
  NotifySocketEnv env("relative/socket");
  Status st = NotifyServiceManager("READY=1");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(EINVAL, st.code());
}

TEST(SdNotifyTest, NobodyListeningIsAnError) {
  NotifySocketEnv env("/nonexistent/slotfs-notify");
  Status st = NotifyServiceManager("READY=1");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string::npos, st.message().find("/nonexistent/slotfs-notify")) << st.message();
}

}  // namespace
}  // namespace slotfs::tools
