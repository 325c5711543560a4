// slotfs info: geometry and usage of a formatted device, offline.
#include <cstdio>

#include "tools/cli_util.h"
#include "tools/commands.h"
#include "tools/stack.h"

namespace slotfs::tools {
namespace {

struct InfoArgs {
  std::string device;
  std::string db;
  bool json = false;
};

int RunInfo(const InfoArgs& a) {
  blockdev::DeviceOptions dopt;
  dopt.exclusive = false;
  dopt.read_only = true;
  std::string path = AbsolutePath(a.device);
  auto opened = OpenFormattedDevice(path, dopt, a.db);
  if (!opened.ok()) {
    PrintError(opened.status().message());
    return kExitFailure;
  }
  const blockdev::Superblock& sb = opened->superblocks.sb;
  meta::StoreOptions sopt;
  sopt.read_only = true;
  auto store = meta::Store::Open(opened->db_path, sb, sopt);
  if (!store.ok()) {
    PrintError(store.status().message());
    return kExitFailure;
  }
  auto counts = store.value()->Count();
  if (!counts.ok()) {
    PrintError(counts.status().message());
    return kExitFailure;
  }
  const auto& c = counts.value();
  std::string uuid = blockdev::UuidToString(sb.uuid);
  if (a.json) {
    std::printf(
        "{\"device\":\"%s\",\"database\":\"%s\",\"uuid\":\"%s\",\"format_version\":%u,"
        "\"slot_size\":%llu,\"slot_count\":%llu,\"data_offset\":%llu,"
        "\"files\":%llu,\"directories\":%llu,\"bytes\":%llu,\"slots_used\":%llu,"
        "\"slots_free\":%llu}\n",
        path.c_str(), opened->db_path.c_str(), uuid.c_str(), sb.format_version,
        (unsigned long long)sb.slot_size, (unsigned long long)sb.slot_count,
        (unsigned long long)sb.data_offset, (unsigned long long)c.files,
        (unsigned long long)c.dirs, (unsigned long long)c.bytes,
        (unsigned long long)c.slots, (unsigned long long)(sb.slot_count - c.slots));
    return kExitOk;
  }
  std::printf("device       %s\ndatabase     %s\nuuid         %s\nformat       v%u\n"
              "slots        %llu x %s (%s)\nused         %llu slots (%s), %llu free\n"
              "files        %llu (%s)\ndirectories  %llu\n",
              path.c_str(), opened->db_path.c_str(), uuid.c_str(), sb.format_version,
              (unsigned long long)sb.slot_count, FormatSize(sb.slot_size).c_str(),
              FormatSize(sb.slot_count * sb.slot_size).c_str(),
              (unsigned long long)c.slots, FormatSize(c.slots * sb.slot_size).c_str(),
              (unsigned long long)(sb.slot_count - c.slots), (unsigned long long)c.files,
              FormatSize(c.bytes).c_str(), (unsigned long long)(c.dirs));
  return kExitOk;
}

}  // namespace

std::function<int()> AddInfoCommand(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Show geometry and usage of a slotfs device");
  cmd->add_option("device", args->device, "Block device or image file")->required();
  cmd->add_option("--db", args->db, "Database path");
  cmd->add_flag("--json", args->json, "Print JSON");
  return [args] { return RunInfo(*args); };
}

}  // namespace slotfs::tools
