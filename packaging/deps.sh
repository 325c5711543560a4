# shellcheck shell=bash
# packaging/deps.sh — the Debian (bookworm) packages slotfs needs to build,
# test and run, and a function that installs whichever are missing.
# Sourced by packaging/run-tests.sh, packaging/quickstart.sh and .ci/run.

# Build: compiler, CMake/Ninja, libraries. Run: fuse3 (fusermount3,
# mount.fuse3). Tests: GoogleTest/GMock, Google Benchmark, sqlite3 CLI,
# e2fsprogs (mkfs.ext4), mount (losetup, mount, umount), util-linux,
# attr (getfattr/setfattr), kmod (modprobe fuse), python3 with
# prometheus_client (parsing .slotfs/stats and .slotfs/metrics),
# stress-ng (loading the CPUs while the suite runs, to catch timing
# assumptions).
# nlohmann-json3-dev: slotfs info reads .slotfs/stats.
# fio: slotfs bench measures the raw device with it (and checks its own
# device baseline against it).
# libtomlplusplus-dev: the configuration file /etc/slotfs/slotfs.toml.
# Packaging (cpack -G DEB and its test): dpkg-dev (dpkg-shlibdeps), file,
# systemd (systemd-analyze verify of slotfs@.service).
SLOTFS_DEPS=(
  cmake ninja-build g++ pkg-config
  libfuse3-dev fuse3 liburing-dev libsqlite3-dev sqlite3
  libspdlog-dev libcli11-dev libxxhash-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  e2fsprogs mount util-linux attr kmod
  libtomlplusplus-dev dpkg-dev file systemd
  python3 python3-prometheus-client stress-ng fio
)

# True if Debian package $1 is installed (not merely known or removed).
slotfs_pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs the packages of SLOTFS_DEPS that are missing; does not touch apt
# at all when every one is present.
slotfs_install_deps() {
  local missing=() p
  for p in "${SLOTFS_DEPS[@]}"; do
    slotfs_pkg_installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "slotfs: all ${#SLOTFS_DEPS[@]} required packages are installed"
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "slotfs: missing packages: ${missing[*]}; run as root (or install them with apt-get)" >&2
    return 1
  fi
  echo "slotfs: installing ${missing[*]}"
  slotfs_apt_install "${missing[@]}"
}

# apt-get update + install of the given packages, retried on transient
# network failures.
slotfs_apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local try
  for try in 1 2 3; do
    if apt-get update && apt-get install -y --no-install-recommends "$@"; then
      return 0
    fi
    echo "slotfs: apt-get failed (attempt $try of 3)" >&2
    sleep $((try * 5))
  done
  return 1
}
