#!/usr/bin/env bash
# packaging/quickstart.sh — from a fresh Debian bookworm machine (as root) to
# a mounted slotfs: installs what is missing, builds the slotfs binary,
# formats var/slotfs.img (8 GiB, allocated) if it does not exist yet, mounts it
# in the background at ${SLOTFS_MOUNT:-/mnt/slotfs} unless it is already
# mounted, and prints the LMCache configuration to use.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=packaging/deps.sh
source packaging/deps.sh

die() { echo "quickstart: error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and mounts a FUSE filesystem)"
slotfs_install_deps

build=${SLOTFS_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build" --target slotfs -j "$(nproc)"
[[ $build == /* ]] || build=$root/$build
bin=$build/tools/slotfs
[[ -x $bin ]] || die "build did not produce $bin"

mkdir -p var
img=$root/var/slotfs.img
mnt=${SLOTFS_MOUNT:-/mnt/slotfs}
mnt=${mnt%/}
[[ -n $mnt ]] || die "SLOTFS_MOUNT must not be /"

if [[ ! -e $img ]]; then
  echo "quickstart: formatting $img (8 GiB, allocated)"
  "$bin" format "$img" --size 8G
else
  echo "quickstart: using existing $img"
fi

[[ -e /dev/fuse ]] || modprobe fuse 2>/dev/null || true
[[ -e /dev/fuse ]] || die "/dev/fuse does not exist (load the fuse module: modprobe fuse)"

# The type of whatever is mounted at $mnt ("" if nothing).
mount_type() { awk -v m="$mnt" '$2 == m { t = $3 } END { print t }' /proc/self/mounts; }

mkdir -p "$mnt" 2>/dev/null || true
type=$(mount_type)
# statfs (stat -f) always reaches the daemon; plain stat may be answered
# from the kernel's cache even when the daemon is gone.
if [[ $type == fuse.slotfs ]] && ! stat -f "$mnt" >/dev/null 2>&1; then
  echo "quickstart: $mnt is a stale mount (its daemon died); slotfs mount will clear it"
  type=
fi
if [[ -n $type ]]; then
  [[ $type == fuse.slotfs ]] || die "$mnt already holds a $type mount; set SLOTFS_MOUNT to another directory"
  echo "quickstart: $mnt is already mounted"
else
  echo "quickstart: mounting $img at $mnt"
  "$bin" mount "$img" "$mnt"
  [[ $(mount_type) == fuse.slotfs ]] || die "slotfs mount returned but $mnt is not mounted"
  # Make sure the daemon really serves I/O before handing the mount out. A
  # request stuck in FUSE ignores even SIGKILL, so poll instead of waiting.
  probe=$mnt/.slotfs-quickstart-probe
  # shellcheck disable=SC2016  # $1 expands in the inner sh
  sh -c 'echo ok > "$1" && [ "$(cat "$1")" = ok ] && rm -f "$1"' sh "$probe" &
  probe_pid=$!
  for _ in $(seq 200); do
    kill -0 "$probe_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$probe_pid" 2>/dev/null; then
    daemon=$(for d in /proc/[0-9]*; do
      { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -q "slotfs.* $mnt " && echo "${d#/proc/}"
    done | tr '\n' ' ' || true)
    die "the mount at $mnt accepted no write within 20 s: the daemon (pid ${daemon:-?}) is hung. Kill that pid, then run 'fusermount3 -u -z $mnt'"
  fi
  wait "$probe_pid" || die "a test write/read on $mnt failed; unmount it with 'fusermount3 -u $mnt' and check the daemon's syslog lines"
fi

# LMCache's limit: what `slotfs info` recommends (GiB, as LMCache reads
# max_local_disk_size), under which slotfs never has to evict.
read -r cap_gib max_gib < <("$bin" info "$mnt" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
s = j["stats"]
print("%.2f %.2f" % (s["slots"]["total"] * s["slot_size"] / 2**30, j["lmcache"]["max_local_disk_size"]))')

cat <<MSG

slotfs is mounted at $mnt (image $img, ${cap_gib} GiB of slots, database $img.db).

LMCache configuration (local-disk backend, unchanged):

  local_disk: "file://$mnt/"
  max_local_disk_size: $max_gib     # from: slotfs info $mnt (never makes slotfs evict)
  extra_config:
    use_odirect: true

Inspect it with: ls -l $mnt, df $mnt, getfattr -d -m - $mnt/FILE
Unmount with:    fusermount3 -u $mnt     (or: umount $mnt)
Mount it again:  bash packaging/quickstart.sh
MSG
