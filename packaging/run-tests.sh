#!/usr/bin/env bash
# packaging/run-tests.sh — installs what is missing, builds slotfs with
# CMake/Ninja into build/, and runs the whole test suite with ctest. Exits
# with ctest's status.
#
# Environment: SLOTFS_BUILD_DIR (default build), SLOTFS_TEST_JOBS (ctest -j,
# default 1; mount tests are RUN_SERIAL anyway), CMAKE_BUILD_TYPE (default
# RelWithDebInfo). SLOTFS_SANITIZE=1 instead builds a Debug build with
# AddressSanitizer and UndefinedBehaviorSanitizer (assertions live) into
# build-asan and runs the unit tests (label "unit") under it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=packaging/deps.sh
source packaging/deps.sh
slotfs_install_deps

if [[ "${SLOTFS_SANITIZE:-0}" == 1 ]]; then
  build=${SLOTFS_BUILD_DIR:-build-asan}
  san="-fsanitize=address,undefined -fno-omit-frame-pointer"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="$san" -DCMAKE_C_FLAGS="$san" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
  cmake --build "$build" -j "$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir "$build" --output-on-failure -L unit -j "$(nproc)" --timeout 900
  exit $?
fi

build=${SLOTFS_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
cmake --build "$build" -j "$(nproc)"

# The integration tests mount FUSE filesystems; without /dev/fuse they skip
# (loudly), so try to make it exist first.
if [[ ! -e /dev/fuse ]]; then
  modprobe fuse 2>/dev/null || echo "slotfs: warning: /dev/fuse is missing; mount tests will be SKIPPED" >&2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "slotfs: warning: not root; mount and loop-device tests will be SKIPPED" >&2
fi

status=0
ctest --test-dir "$build" --output-on-failure -j "${SLOTFS_TEST_JOBS:-1}" --timeout 900 || status=$?
exit "$status"
