// tests/tools/mount_config_test.cc — the mount option table
// (tools/mount_options.h) and the configuration file reader
// (tools/mount_config.h): types, ranges, choices, bad TOML, unknown keys,
// missing files; and that the shipped packaging/slotfs.toml and the man
// page packaging/slotfs.8 cover every option with its real default.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "tools/mount_config.h"
#include "tools/mount_options.h"

namespace slotfs::tools {
namespace {

std::string ReadSourceFile(const std::string& rel) {
  std::ifstream in(std::string(SLOTFS_SOURCE_DIR) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses `text` as "slotfs.toml"; returns the error message ("" if OK).
std::string ParseError(const std::string& text, MountSettings* out = nullptr) {
  MountSettings s;
  Status st = ParseMountConfig(text, "slotfs.toml", s);
  if (out) *out = s;
  return st.ok() ? "" : st.message();
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/slotfs-config-test.XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(static_cast<ssize_t>(text.size()), write(fd, text.data(), text.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(MountConfigTest, EveryTypeIsReadIntoItsSetting) {
  MountSettings s;
  ASSERT_EQ("", ParseError(R"([mount]
db = "/var/lib/x.db"
engine = "posix"
log_level = "debug"
commit_interval_ms = 120
threads = 4
read_ahead_kb = 0
evict = "none"
evict_high = 80
evict_low = 70
db_cache_mb = 64
cache_timeout = 2.5
no_verify = true
allow_other = true
)",
                           &s));
  EXPECT_EQ("/var/lib/x.db", s.db);
  EXPECT_EQ("posix", s.engine);
  EXPECT_EQ("debug", s.log_level);
  EXPECT_EQ(120, s.commit_interval_ms);
  EXPECT_EQ(4, s.threads);
  EXPECT_EQ(0, s.read_ahead_kb);
  EXPECT_EQ("none", s.evict);
  EXPECT_EQ(80, s.evict_high);
  EXPECT_EQ(70, s.evict_low);
  EXPECT_EQ(64, s.db_cache_mb);
  EXPECT_DOUBLE_EQ(2.5, s.cache_timeout);
  EXPECT_TRUE(s.no_verify);
  EXPECT_TRUE(s.allow_other);
}

TEST(MountConfigTest, KeysNotInTheFileKeepTheirValue) {
  MountSettings s;
  s.threads = 7;
  ASSERT_TRUE(ParseMountConfig("[mount]\nengine = \"uring\"\n", "f", s).ok());
  EXPECT_EQ(7, s.threads);
  EXPECT_EQ("uring", s.engine);
  EXPECT_EQ("info", s.log_level);
}

TEST(MountConfigTest, EmptyFileAndEmptyTableAreFine) {
  EXPECT_EQ("", ParseError(""));
  EXPECT_EQ("", ParseError("# nothing\n\n[mount]\n# threads = 4\n"));
}

TEST(MountConfigTest, UnknownKeyNamesKeyFileAndLine) {
  std::string e = ParseError("[mount]\nthreads = 4\nthread = 4\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:3:")) << e;
  EXPECT_NE(std::string::npos, e.find("unknown key 'thread'")) << e;
}

TEST(MountConfigTest, KeyOutsideTheMountTableIsUnknown) {
  std::string e = ParseError("threads = 4\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:1:")) << e;
  EXPECT_NE(std::string::npos, e.find("unknown key 'threads'")) << e;
  EXPECT_NE(std::string::npos, e.find("[mount]")) << e;
}

TEST(MountConfigTest, UnknownTableIsAnError) {
  std::string e = ParseError("[mount]\nthreads = 4\n\n[format]\nslot_size = 1\n");
  EXPECT_NE(std::string::npos, e.find("unknown table [format]")) << e;
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:4:")) << e;
}

TEST(MountConfigTest, MountThatIsNotATableIsAnError) {
  std::string e = ParseError("mount = 3\n");
  EXPECT_NE(std::string::npos, e.find("'mount' must be a table")) << e;
}

TEST(MountConfigTest, StringForIntegerIsWrongType) {
  std::string e = ParseError("[mount]\nthreads = \"4\"\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:2:")) << e;
  EXPECT_NE(std::string::npos, e.find("threads: expected an integer, got a string")) << e;
}

TEST(MountConfigTest, DecimalForIntegerIsWrongType) {
  std::string e = ParseError("[mount]\ncommit_interval_ms = 1.5\n");
  EXPECT_NE(std::string::npos, e.find("commit_interval_ms: expected an integer, got a number")) << e;
}

TEST(MountConfigTest, IntegerForNumberIsAccepted) {
  MountSettings s;
  EXPECT_EQ("", ParseError("[mount]\ncache_timeout = 30\n", &s));
  EXPECT_DOUBLE_EQ(30, s.cache_timeout);
}

TEST(MountConfigTest, StringForBooleanIsWrongType) {
  std::string e = ParseError("[mount]\nno_verify = \"yes\"\n");
  EXPECT_NE(std::string::npos, e.find("no_verify: expected a boolean, got a string")) << e;
}

TEST(MountConfigTest, ArrayOrTableValueIsWrongType) {
  EXPECT_NE(std::string::npos, ParseError("[mount]\nengine = [\"uring\"]\n").find("got an array"));
  EXPECT_NE(std::string::npos, ParseError("[mount.engine]\nx = 1\n").find("got a table"));
}

TEST(MountConfigTest, OutOfRangeNamesTheRange) {
  std::string e = ParseError("[mount]\nthreads = 0\n");
  EXPECT_NE(std::string::npos, e.find("threads: must be 1..256")) << e;
  e = ParseError("[mount]\ncache_timeout = -1.0\n");
  EXPECT_NE(std::string::npos, e.find("cache_timeout: must be 0..86400")) << e;
}

TEST(MountConfigTest, ValueNotAmongTheChoicesListsThem) {
  std::string e = ParseError("[mount]\nengine = \"fast\"\n");
  EXPECT_NE(std::string::npos, e.find("engine: 'fast' is not one of auto, uring, posix")) << e;
}

TEST(MountConfigTest, BadSyntaxGivesLineAndColumn) {
  std::string e = ParseError("[mount]\nthreads = 4\nengine = uring\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:3:")) << e;
  e = ParseError("[mount\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:1:")) << e;
  e = ParseError("[mount]\nthreads = 4\nthreads = 5\n");
  EXPECT_NE(std::string::npos, e.find("slotfs.toml:3:")) << e;
}

TEST(MountConfigTest, MissingDefaultFileIsFine) {
  MountSettings s;
  EXPECT_TRUE(LoadMountConfig("/nonexistent/slotfs.toml", false, s).ok());
  EXPECT_EQ(16, s.threads);
}

TEST(MountConfigTest, MissingExplicitFileIsAnError) {
  MountSettings s;
  Status st = LoadMountConfig("/nonexistent/slotfs.toml", true, s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(ENOENT, st.code());
  EXPECT_NE(std::string::npos, st.message().find("/nonexistent/slotfs.toml")) << st.message();
}

TEST(MountConfigTest, DirectoryIsAnErrorEvenAsDefault) {
  MountSettings s;
  EXPECT_FALSE(LoadMountConfig("/tmp", false, s).ok());
}

TEST(MountConfigTest, FileErrorsNameThePath) {
  TempFile f("[mount]\nthreads = 999\n");
  MountSettings s;
  Status st = LoadMountConfig(f.path(), true, s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string::npos, st.message().find(f.path() + ":2:")) << st.message();
  TempFile good("[mount]\nthreads = 9\n");
  ASSERT_TRUE(LoadMountConfig(good.path(), true, s).ok());
  EXPECT_EQ(9, s.threads);
}

// ---------------------------------------------------------------- the table

TEST(MountOptionsTest, KeysAreUniqueAndLongFlagsUseDashes) {
  for (const MountOption& a : MountOptionTable()) {
    EXPECT_EQ(&a, FindMountOption(a.key)) << a.key;
    EXPECT_EQ(std::string::npos, LongFlag(a).find('_')) << LongFlag(a);
  }
  EXPECT_EQ("--commit-interval-ms", LongFlag(*FindMountOption("commit_interval_ms")));
  EXPECT_EQ(nullptr, FindMountOption("allow_others"));
}

TEST(MountOptionsTest, EveryDefaultPassesItsOwnCheck) {
  for (const MountOption& o : MountOptionTable()) {
    MountSettings s;
    EXPECT_TRUE(SetMountOptionFromText(s, o, DefaultText(o)).ok()) << o.key << "=" << DefaultText(o);
  }
}

TEST(MountOptionsTest, TextIsParsedWhole) {
  MountSettings s;
  const MountOption& threads = *FindMountOption("threads");
  EXPECT_TRUE(SetMountOptionFromText(s, threads, "8").ok());
  EXPECT_EQ(8, s.threads);
  for (const char* bad : {"", "8x", "x8", "0x10", "8.0", " 8", "99999999999999999999"}) {
    Status st = SetMountOptionFromText(s, threads, bad);
    EXPECT_FALSE(st.ok()) << "'" << bad << "' was accepted";
  }
  EXPECT_EQ(8, s.threads) << "a rejected value must not change the setting";
  const MountOption& timeout = *FindMountOption("cache_timeout");
  EXPECT_TRUE(SetMountOptionFromText(s, timeout, "0.25").ok());
  EXPECT_DOUBLE_EQ(0.25, s.cache_timeout);
  EXPECT_FALSE(SetMountOptionFromText(s, timeout, "nan").ok());
  EXPECT_FALSE(SetMountOptionFromText(s, timeout, "1e9").ok());
}

TEST(MountOptionsTest, BooleanTextForms) {
  const MountOption& nv = *FindMountOption("no_verify");
  for (const char* yes : {"", "true", "yes", "on", "1"}) {
    MountSettings s;
    ASSERT_TRUE(SetMountOptionFromText(s, nv, yes).ok()) << yes;
    EXPECT_TRUE(s.no_verify) << yes;
  }
  for (const char* no : {"false", "no", "off", "0"}) {
    MountSettings s;
    s.no_verify = true;
    ASSERT_TRUE(SetMountOptionFromText(s, nv, no).ok()) << no;
    EXPECT_FALSE(s.no_verify) << no;
  }
  MountSettings s;
  EXPECT_FALSE(SetMountOptionFromText(s, nv, "maybe").ok());
}

TEST(MountOptionsTest, SplitHonoursEscapedCommas) {
  EXPECT_EQ((std::vector<std::string>{"db=/a,b", "threads=2", "allow_other"}),
            SplitMountOptions("db=/a\\,b,threads=2,,allow_other,"));
}

TEST(MountOptionsTest, GenericMountOptionsAreRecognised) {
  for (const char* g : {"rw", "nofail", "_netdev", "noauto", "defaults", "x-systemd.automount"}) {
    EXPECT_TRUE(IsGenericMountOption(g)) << g;
  }
  EXPECT_FALSE(IsGenericMountOption("allow_other"));
  EXPECT_FALSE(IsGenericMountOption("default_permissions"));
}

// ------------------------------------------- the shipped file and man page

// packaging/slotfs.toml shows every key, commented out, with its default:
// uncommenting them all must parse and change nothing.
TEST(ShippedFilesTest, DefaultConfigShowsEveryKeyWithItsDefault) {
  std::string text = ReadSourceFile("packaging/slotfs.toml");
  ASSERT_FALSE(text.empty()) << "packaging/slotfs.toml is missing";
  EXPECT_EQ("", ParseError(text)) << "the shipped file must parse as it is";

  std::string uncommented;
  std::istringstream in(text);
  std::string line;
  const std::regex setting(R"(^# ([a-z_]+) = (.*)$)");
  std::smatch m;
  std::set<std::string> shown;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, setting) && FindMountOption(m[1].str())) {
      shown.insert(m[1].str());
      line = m[1].str() + " = " + m[2].str();
    }
    uncommented += line + "\n";
  }
  for (const MountOption& o : MountOptionTable()) {
    EXPECT_TRUE(shown.count(std::string(o.key))) << "packaging/slotfs.toml does not show '" << o.key << "'";
  }
  MountSettings s;
  ASSERT_EQ("", ParseError(uncommented, &s)) << uncommented;
  for (const MountOption& o : MountOptionTable()) {
    std::visit([&](auto field) { EXPECT_EQ(MountSettings().*field, s.*field) << o.key; }, o.field);
  }
}

TEST(ShippedFilesTest, ManPageDocumentsEveryOption) {
  std::string man = ReadSourceFile("packaging/slotfs.8");
  ASSERT_FALSE(man.empty()) << "packaging/slotfs.8 is missing";
  size_t section = man.find(".SH MOUNT OPTIONS");
  ASSERT_NE(std::string::npos, section);
  std::string options = man.substr(section, man.find(".SH ", section + 4) - section);
  for (const MountOption& o : MountOptionTable()) {
    std::regex entry("\n\\.(B|BI|BR) " + std::string(o.key) + "(=| |\n)");
    EXPECT_TRUE(std::regex_search(options, entry))
        << "slotfs.8 has no MOUNT OPTIONS entry for '" << o.key << "'";
  }
  for (const char* sub : {".SS format", ".SS mount", ".SS info", ".SS check", ".SS bench",
                          ".SH CONFIGURATION FILE", ".SH EXIT STATUS", ".SH FILES",
                          ".SH SYSTEMD", ".SH LOGGING"}) {
    EXPECT_NE(std::string::npos, man.find(sub)) << "slotfs.8 lacks " << sub;
  }
}

}  // namespace
}  // namespace slotfs::tools
