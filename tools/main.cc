// slotfs: command-line entry point. Wires the subcommands; owns no logic.
#include <cstring>
#include <string>
#include <vector>

#include "tools/cli_util.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace slotfs::tools;
  // Mount-helper form (mount.fuse3, /etc/fstab): slotfs DEVICE MOUNTPOINT -o …
  std::vector<char*> args(argv, argv + argc);
  static char kMount[] = "mount";
  if (argc >= 3 && argv[1][0] != '-' &&
      std::strcmp(argv[1], "format") != 0 && std::strcmp(argv[1], "mount") != 0 &&
      std::strcmp(argv[1], "info") != 0 && std::strcmp(argv[1], "check") != 0 && std::strcmp(argv[1], "bench") != 0 && std::strcmp(argv[1], "help") != 0 &&
      std::strchr(argv[1], '/') != nullptr) {
    args.insert(args.begin() + 1, kMount);
  }

  CLI::App app{"slotfs: a FUSE filesystem serving an LLM KV-cache from fixed "
               "slots on a block device or image file"};
  app.set_version_flag("--version", std::string("slotfs ") + SLOTFS_VERSION);
  app.require_subcommand(1);
  auto run_format = AddFormatCommand(app);
  auto run_mount = AddMountCommand(app);
  auto run_info = AddInfoCommand(app);
  auto run_check = AddCheckCommand(app);
  auto run_bench = AddBenchCommand(app);
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  for (CLI::App* sub : app.get_subcommands()) {
    if (sub->get_name() == "format") return run_format();
    if (sub->get_name() == "mount") return run_mount();
    if (sub->get_name() == "info") return run_info();
    if (sub->get_name() == "check") return run_check();
    if (sub->get_name() == "bench") return run_bench();
  }
  return kExitUsage;
}
