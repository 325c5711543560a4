// tests/integration/fsx_model.h — a randomized operation tester in the spirit
// of xfstests' fsx and fsstress, run against a real slotfs mount and checked
// against a reference model (a plain byte buffer per file).
//
// Ops. An op names its file(s) by index into a fixed name table and carries
// absolute offsets, lengths and a data seed, so it means the same thing in
// any op list: a failing list can be shrunk by replaying prefixes and
// subsets on a fresh filesystem (Shrink). An op that makes no sense in the
// current state (an mmap of an empty file, a rename of a missing name) is
// adapted or expected to fail with the errno the model predicts.
//
// Checks. Every read (pread, O_DIRECT pread, mmap read, whole-file verify)
// is compared with the model byte for byte; any unexpected error (EIO above
// all) is a failure. After a remount every file equals the model and no
// other name exists. After kill -9 + remount each name holds one of the
// versions the README's guarantees allow (Candidates below).
//
// Thread safety: none; one Runner per process. Multi-process mode forks one
// child per worker, each with its own Runner on its own sub-directory.
#ifndef SLOTFS_TESTS_INTEGRATION_FSX_MODEL_H_
#define SLOTFS_TESTS_INTEGRATION_FSX_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace slotfs::fsx {

enum class OpKind {
  kWrite,        // lseek + write (buffered)
  kPwrite,       // pwrite (buffered)
  kDirectWrite,  // pwrite through an O_DIRECT fd, 4 KiB aligned buffer/offset/length
  kRead,         // pread, compared with the model
  kDirectRead,   // pread through an O_DIRECT fd
  kTruncate,     // truncate(path)
  kFtruncate,    // ftruncate(fd)
  kMmapWrite,    // MAP_SHARED store (extends with ftruncate first) + msync
  kMmapRead,     // MAP_SHARED load, compared with the model
  kCloseReopen,  // close the file's fd (FLUSH + RELEASE); reopened lazily
  kDupClose,     // dup + close of the dup (FLUSH only)
  kFsync,        // fsync(fd)
  kRename,       // rename(file, file2): over an existing name or to a free one
  kCopyRange,    // copy_file_range(file @off2 -> file2 @off)
  kUnlink,       // unlink(path)
  kVerify,       // open, read the whole file, compare, close
  kMkdir,        // mkdir(dir)
  kRmdir,        // rmdir(dir)
  kRenameDir,    // rename(dir, dir2)
  kRemount,      // close everything, unmount, remount; all files must equal the model
  kKill9,        // kill -9 the daemon, remount; each name must be an allowed version
};

// One operation. `file`/`file2` index the Runner's name table (Config::files
// names "f0".. in the root; in dir mode, name i lives in directory
// i / files_per_dir_slot), `dir`/`dir2` the directory table.
struct Op {
  OpKind kind = OpKind::kVerify;
  int file = 0;
  int file2 = 0;
  uint64_t off = 0;   // offset, or the new size for truncates
  uint64_t len = 0;
  uint64_t off2 = 0;  // source offset of copy_file_range
  uint32_t seed = 0;  // data seed of writes
};

// "pwrite f1 off=1048576 len=300 seed=7": one line, parsed back by ParseOp.
std::string FormatOp(const Op& op);
std::optional<Op> ParseOp(const std::string& line);
// The op as the syscalls it performs, for pasting into a unit test.
std::string OpAsCode(const Op& op);

struct Config {
  uint64_t slot_size = 1 << 20;
  int files = 6;           // names in the table
  int dirs = 0;            // 0: flat (single mode); >0: names spread over dirs (multi mode)
  int slots_per_file = 4;  // files grow to about this many slots
  bool remount = true;     // generate kRemount
  bool kill9 = true;       // generate kKill9
  bool direct = true;      // generate O_DIRECT ops
  bool mmap = true;        // generate mmap ops
};

// `n` ops from `seed`, weighted like fsx (mostly data ops, some namespace,
// few remounts/kills).
std::vector<Op> GenerateOps(uint64_t seed, size_t n, const Config& cfg);

// How the Runner controls the daemon. Each returns "" on success or a
// description of what failed.
class MountControl {
 public:
  virtual ~MountControl() = default;
  virtual std::string Unmount() = 0;
  virtual std::string Mount() = 0;
  virtual std::string Kill9() = 0;  // SIGKILL + clear the stale mount (not remounted)
  virtual std::string DaemonLog() = 0;
};

// Applies ops to the directory `root` (inside the mount) and to the model.
class Runner {
 public:
  Runner(std::string root, Config cfg, MountControl* mount, bool verbose);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs ops in order. Returns "" or the first failure; *failed_at is the
  // index of the op that failed (ops.size() for the final check).
  std::string Run(const std::vector<Op>& ops, size_t* failed_at);
  // Closes every fd (each close is a FLUSH: a commit point).
  std::string CloseAll();
  // Every file and directory under root equals the model; nothing else exists.
  std::string VerifyTree();
  // Writes the model as a plain tree under `dir` (host filesystem).
  std::string DumpModel(const std::string& dir) const;
  size_t ops_done() const { return ops_done_; }

 private:
  struct Inode;
  // The versions a name may show after kill -9 (nullopt = absent).
  using Version = std::optional<std::string>;

  std::string Apply(const Op& op);
  std::string FilePath(int file) const;       // relative to root
  std::string DirPath(int dir) const;         // relative to root
  std::string Abs(const std::string& rel) const { return root_ + "/" + rel; }
  bool DirExists(int file) const;              // the file's directory exists
  std::shared_ptr<Inode> Lookup(const std::string& rel) const;
  // Opens (creating if needed) the file for I/O; "" or an error.
  std::string EnsureOpen(int file, std::shared_ptr<Inode>* out);
  std::string CloseFd(Inode& ino);
  void AddCandidate(const std::string& rel, const Version& v);
  void AddCommitted(Inode& ino);
  std::string ReadCompare(const std::string& what, const std::string& got, uint64_t off,
                          const std::string& want_all, uint64_t len);
  std::string DoKill9();
  std::string DoRemount();

  std::string root_;
  Config cfg_;
  MountControl* mount_;
  bool verbose_;
  std::map<std::string, std::shared_ptr<Inode>> files_;  // rel path -> inode
  std::set<std::string> dirs_;                            // rel paths of existing dirs
  std::map<std::string, std::vector<Version>> candidates_;
  size_t ops_done_ = 0;
};

// "" if the tree under `actual` (skipping a top-level .slotfs) holds
// exactly the directories and files under `model`, with equal bytes.
std::string CompareTrees(const std::string& actual, const std::string& model);

// Delta debugging: the smallest op list (found within `max_trials` replays)
// for which `fails` still returns true. `fails` runs a list on a fresh
// filesystem. `log` receives progress lines.
std::vector<Op> Shrink(const std::vector<Op>& ops,
                       const std::function<bool(const std::vector<Op>&)>& fails, int max_trials,
                       const std::function<void(const std::string&)>& log);

}  // namespace slotfs::fsx

#endif  // SLOTFS_TESTS_INTEGRATION_FSX_MODEL_H_
