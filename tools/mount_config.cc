// The configuration file reader (see mount_config.h), on Debian's toml++.
#include "tools/mount_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <toml++/toml.h>

namespace slotfs::tools {
namespace {

// "SOURCE:LINE:COLUMN: " for a node (or "SOURCE: " if it has no position).
std::string Where(const std::string& source, const toml::source_region& region) {
  if (region.begin.line == 0) return source + ": ";
  return source + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column) + ": ";
}

std::string NodeTypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

Status SetFromNode(MountSettings& settings, const MountOption& option, const toml::node& node) {
  MountValue value;
  if (const auto* s = node.as_string()) {
    value = s->get();
  } else if (const auto* i = node.as_integer()) {
    value = i->get();
  } else if (const auto* d = node.as_floating_point()) {
    value = d->get();
  } else if (const auto* b = node.as_boolean()) {
    value = b->get();
  } else {
    std::string_view type = TypeName(option);
    return Status::Error(EINVAL, "expected " + std::string(type == "integer" ? "an " : "a ") +
                                     std::string(type) + ", got " + NodeTypeName(node.type()));
  }
  return SetMountOption(settings, option, value);
}

}  // namespace

Status ParseMountConfig(std::string_view text, const std::string& source,
                        MountSettings& settings) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status::Error(EINVAL, Where(source, e.source()) + std::string(e.description()));
  }
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k != "mount") {
      if (node.is_table()) {
        return Status::Error(EINVAL, Where(source, node.source()) + "unknown table [" + k +
                                         "] (the only table is [mount])");
      }
      return Status::Error(EINVAL, Where(source, node.source()) + "unknown key '" + k +
                                       "' (mount options go in the [mount] table)");
    }
    const toml::table* mount = node.as_table();
    if (!mount) {
      return Status::Error(EINVAL, Where(source, node.source()) +
                                       "'mount' must be a table: write [mount] on a line of its own");
    }
    for (const auto& [okey, onode] : *mount) {
      const std::string ok(okey.str());
      const MountOption* option = FindMountOption(ok);
      if (!option) {
        return Status::Error(EINVAL, Where(source, okey.source()) + "unknown key '" + ok +
                                         "' in [mount] (see slotfs(8) for the keys)");
      }
      Status st = SetFromNode(settings, *option, onode);
      if (!st.ok()) {
        return Status::Error(EINVAL, Where(source, onode.source()) + ok + ": " + st.message());
      }
    }
  }
  return Status::Ok();
}

Status LoadMountConfig(const std::string& path, bool must_exist, MountSettings& settings) {
  // O_NONBLOCK: a FIFO at the path must not hang the open; the type check
  // below refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT && !must_exist) return Status::Ok();
    return Status::FromErrno(errno, "configuration file " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "configuration file " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(EINVAL, "configuration file " + path + " is not a regular file");
  }
  // Read at most one byte past the limit: a file that grows while read
  // is refused too.
  std::string text;
  char buf[4096];
  while (text.size() <= kMaxConfigBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "configuration file " + path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > kMaxConfigBytes) {
    return Status::Error(EFBIG, "configuration file " + path + " is larger than " +
                                    std::to_string(kMaxConfigBytes) + " bytes");
  }
  return ParseMountConfig(text, path, settings);
}

}  // namespace slotfs::tools
