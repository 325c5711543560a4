// The slotfs subcommands, each registered on a CLI11 app and run after a
// successful parse. Each returns a process exit code (cli_util.h).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace slotfs::tools {

// Adds the subcommand to `app`; the returned function runs it.
std::function<int()> AddFormatCommand(CLI::App& app);
std::function<int()> AddMountCommand(CLI::App& app);
std::function<int()> AddInfoCommand(CLI::App& app);
std::function<int()> AddCheckCommand(CLI::App& app);
std::function<int()> AddBenchCommand(CLI::App& app);

}  // namespace slotfs::tools
