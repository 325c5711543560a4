// CLI helpers.
#include "tools/cli_util.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

namespace slotfs::tools {

Result<uint64_t> ParseSize(const std::string& text) {
  if (text.empty()) return Status::Error(EINVAL, "empty size");
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return Status::Error(EINVAL, "size too large: " + text);
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return Status::Error(EINVAL, "not a size: '" + text + "'");
  std::string suffix = text.substr(i);
  int shift = 0;
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else if (suffix == "K" || suffix == "KiB" || suffix == "k") {
    shift = 10;
  } else if (suffix == "M" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "G" || suffix == "GiB") {
    shift = 30;
  } else if (suffix == "T" || suffix == "TiB") {
    shift = 40;
  } else {
    return Status::Error(EINVAL, "not a size: '" + text + "' (use K, M, G or T)");
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return Status::Error(EINVAL, "size too large: " + text);
  return v << shift;
}

std::string FormatSize(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string DefaultDbPath(const std::string& device_path, bool is_block_device,
                          const blockdev::Uuid& uuid) {
  if (is_block_device) return "/var/lib/slotfs/" + blockdev::UuidToString(uuid) + ".db";
  return device_path + ".db";
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  if (ec) return path;
  return p.lexically_normal().string();
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "slotfs: error: %s\n", message.c_str());
}

}  // namespace slotfs::tools
