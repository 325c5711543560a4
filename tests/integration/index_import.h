// tests/integration/index_import.h — fills the index of a formatted,
// unmounted image with many files at once, for tests that need 10^5 entries
// in seconds (creating them through a mount takes minutes on a small
// machine). The rows go straight into the database through
// meta::Store::ImportFiles, the way `slotfs bench recovery` prepares its
// filesystems; everything after that goes through the mount.

#ifndef SLOTFS_TESTS_INTEGRATION_INDEX_IMPORT_H_
#define SLOTFS_TESTS_INTEGRATION_INDEX_IMPORT_H_

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace slotfs::itest {

// Creates directory `dir` in the root of `image`'s filesystem (database
// `db`) holding complete, empty regular files named `names`.
// REQUIRES: the image is not mounted; `dir` does not exist; names are
// distinct.
::testing::AssertionResult ImportEmptyFiles(const std::string& image, const std::string& db,
                                             const std::string& dir,
                                             const std::vector<std::string>& names);

// An LMCache-like name for file i of a set tagged `tag` (distinct for
// distinct (tag, i)).
std::string ImportName(const std::string& tag, uint64_t i);

}  // namespace slotfs::itest

#endif  // SLOTFS_TESTS_INTEGRATION_INDEX_IMPORT_H_
