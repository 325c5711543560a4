// The mount option table and its type checking (see mount_options.h).
#include "tools/mount_options.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace slotfs::tools {
namespace {

using S = MountSettings;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::string_view ValueTypeName(const MountValue& v) {
  return std::visit(Overloaded{[](const std::string&) { return std::string_view("a string"); },
                               [](int64_t) { return std::string_view("an integer"); },
                               [](double) { return std::string_view("a number"); },
                               [](bool) { return std::string_view("a boolean"); }},
                    v);
}

// "1..256" (integers print without a fraction).
std::string RangeText(const MountOption& o) {
  auto num = [](double d) {
    std::ostringstream os;
    os << d;
    return os.str();
  };
  return num(o.min) + ".." + num(o.max);
}

std::string Join(const std::vector<std::string_view>& items, std::string_view sep) {
  std::string out;
  for (std::string_view s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

const std::vector<MountOption>& MountOptionTable() {
  static const std::vector<MountOption> kTable = {
      {"db", &S::db,
       "Database path (default: IMAGE.db beside an image file, "
       "/var/lib/slotfs/UUID.db for a block device)"},
      {"engine", &S::engine,
       "I/O engine: auto uses io_uring and falls back to pread/pwrite where "
       "io_uring is unavailable",
       0, 0, {"auto", "uring", "posix"}},
      {"log_level", &S::log_level, "Log level",
       0, 0, {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"}},
      {"commit_interval_ms", &S::commit_interval_ms,
       "Group commit interval, ms: the most a closed file waits to become "
       "durable without fsync",
       1, 60000},
      {"threads", &S::threads, "Maximum FUSE worker threads", 1, 256},
      {"read_ahead_kb", &S::read_ahead_kb,
       "Kernel readahead for buffered reads, KiB (0 keeps FUSE's 128)", 0, 65536},
      {"evict", &S::evict,
       "Eviction policy: lru evicts least-recently-used closed, unpinned "
       "files; none gives ENOSPC when full",
       0, 0, {"lru", "none"}},
      {"evict_high", &S::evict_high,
       "Percent of slots in use that starts background eviction", 1, 100},
      {"evict_low", &S::evict_low,
       "Percent of slots in use that background eviction brings usage down to", 0, 99},
      {"db_cache_mb", &S::db_cache_mb, "SQLite page cache bound, MiB", 1, 65536},
      {"cache_timeout", &S::cache_timeout,
       "Seconds the kernel caches names and attributes (evictions invalidate "
       "at once)",
       0, 86400},
      {"no_verify", &S::no_verify,
       "Do not verify slot checksums on read (benchmarking only)"},
      {"allow_other", &S::allow_other,
       "Let users other than the one who mounted access the mount (FUSE's "
       "allow_other; needs user_allow_other in /etc/fuse.conf when not root)"},
  };
  return kTable;
}

const MountOption* FindMountOption(std::string_view key) {
  for (const MountOption& o : MountOptionTable()) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

std::string LongFlag(const MountOption& option) {
  std::string flag = "--" + std::string(option.key);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

std::string_view TypeName(const MountOption& option) {
  return std::visit(Overloaded{[](std::string S::*) { return std::string_view("string"); },
                               [](int64_t S::*) { return std::string_view("integer"); },
                               [](double S::*) { return std::string_view("number"); },
                               [](bool S::*) { return std::string_view("boolean"); }},
                    option.field);
}

std::string ValueName(const MountOption& option) {
  if (!option.choices.empty()) return Join(option.choices, "|");
  return std::visit(Overloaded{[](std::string S::*) { return std::string("TEXT"); },
                               [](int64_t S::*) { return std::string("INT"); },
                               [](double S::*) { return std::string("NUM"); },
                               [](bool S::*) { return std::string("BOOL"); }},
                    option.field);
}

std::string DefaultText(const MountOption& option) {
  static const MountSettings kDefaults;
  return std::visit(Overloaded{[](std::string S::*f) { return kDefaults.*f; },
                               [](int64_t S::*f) { return std::to_string(kDefaults.*f); },
                               [](double S::*f) {
                                 std::ostringstream os;
                                 os << kDefaults.*f;
                                 return os.str();
                               },
                               [](bool S::*f) { return std::string(kDefaults.*f ? "true" : "false"); }},
                    option.field);
}

std::string HelpText(const MountOption& option) {
  std::string extra;
  if (TypeName(option) == "integer" || TypeName(option) == "number") extra = RangeText(option);
  if (TypeName(option) != "boolean" && !DefaultText(option).empty()) {
    extra += (extra.empty() ? "default " : ", default ") + DefaultText(option);
  }
  return std::string(option.help) + (extra.empty() ? "" : " (" + extra + ")");
}

Status SetMountOption(MountSettings& settings, const MountOption& option,
                      const MountValue& value) {
  auto wrong_type = [&] {
    return Status::Error(EINVAL, "expected " +
                                     std::string(TypeName(option) == "integer" ? "an " : "a ") +
                                     std::string(TypeName(option)) + ", got " +
                                     std::string(ValueTypeName(value)));
  };
  auto out_of_range = [&] { return Status::Error(EINVAL, "must be " + RangeText(option)); };
  return std::visit(
      Overloaded{
          [&](std::string S::*f) -> Status {
            const auto* s = std::get_if<std::string>(&value);
            if (!s) return wrong_type();
            if (!option.choices.empty()) {
              bool known = false;
              for (std::string_view c : option.choices) known = known || c == *s;
              if (!known) {
                return Status::Error(EINVAL, "'" + *s + "' is not one of " +
                                                 Join(option.choices, ", "));
              }
            }
            settings.*f = *s;
            return Status::Ok();
          },
          [&](int64_t S::*f) -> Status {
            const auto* i = std::get_if<int64_t>(&value);
            if (!i) return wrong_type();
            if (static_cast<double>(*i) < option.min || static_cast<double>(*i) > option.max) {
              return out_of_range();
            }
            settings.*f = *i;
            return Status::Ok();
          },
          [&](double S::*f) -> Status {
            double d;
            if (const auto* i = std::get_if<int64_t>(&value)) {
              d = static_cast<double>(*i);
            } else if (const auto* x = std::get_if<double>(&value)) {
              d = *x;
            } else {
              return wrong_type();
            }
            if (!(d >= option.min && d <= option.max)) return out_of_range();
            settings.*f = d;
            return Status::Ok();
          },
          [&](bool S::*f) -> Status {
            const auto* b = std::get_if<bool>(&value);
            if (!b) return wrong_type();
            settings.*f = *b;
            return Status::Ok();
          }},
      option.field);
}

Status SetMountOptionFromText(MountSettings& settings, const MountOption& option,
                              std::string_view text) {
  const std::string t(text);
  return std::visit(
      Overloaded{
          [&](std::string S::*) { return SetMountOption(settings, option, t); },
          [&](int64_t S::*) {
            int64_t v = 0;
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
              return Status::Error(EINVAL, "'" + t + "' is not an integer");
            }
            return SetMountOption(settings, option, v);
          },
          [&](double S::*) {
            char* end = nullptr;
            double v = t.empty() ? 0 : std::strtod(t.c_str(), &end);
            if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v)) {
              return Status::Error(EINVAL, "'" + t + "' is not a number");
            }
            return SetMountOption(settings, option, v);
          },
          [&](bool S::*) {
            if (t.empty() || t == "true" || t == "yes" || t == "on" || t == "1") {
              return SetMountOption(settings, option, true);
            }
            if (t == "false" || t == "no" || t == "off" || t == "0") {
              return SetMountOption(settings, option, false);
            }
            return Status::Error(EINVAL, "'" + t + "' is not a boolean (true or false)");
          }},
      option.field);
}

std::vector<std::string> SplitMountOptions(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      cur.push_back(text[++i]);
    } else if (text[i] == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(text[i]);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool IsGenericMountOption(std::string_view key) {
  static const std::vector<std::string_view> kGeneric = {
      "rw",   "dev",    "suid", "exec",   "nodev",  "nosuid",  "noexec",  "auto",
      "noauto", "user", "nouser", "users", "nofail", "_netdev", "defaults", "owner",
      "group", "comment"};
  if (key.rfind("x-", 0) == 0) return true;
  for (std::string_view g : kGeneric) {
    if (g == key) return true;
  }
  return false;
}

}  // namespace slotfs::tools
