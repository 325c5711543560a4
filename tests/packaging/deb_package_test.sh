#!/usr/bin/env bash
# tests/packaging/deb_package_test.sh BUILD_DIR VERSION — the Debian package
# as an operator meets it: builds slotfs_VERSION_amd64.deb with cpack,
# checks its contents, dependencies and conffiles, installs it with dpkg,
# runs the installed /usr/bin/slotfs, formats an image and mounts it with
# `mount -t fuse.slotfs` through the installed files only, writes and reads
# a file, unmounts, checks the systemd unit with systemd-analyze, then
# purges the package so the machine is left as it was.
#
# Exit 0 pass, 1 fail, 77 skipped (ctest shows it as skipped, not passed):
# not root, no dpkg/cpack/FUSE, or a slotfs already installed on this
# machine (never replaced or removed by a test).
set -uo pipefail

build=${1:?usage: deb_package_test.sh BUILD_DIR VERSION}
version=${2:?usage: deb_package_test.sh BUILD_DIR VERSION}

skip() {
  echo "**********************************************************************"
  echo "** SKIPPING the Debian package test: $*"
  echo "** This test did NOT run; it is not a pass."
  echo "**********************************************************************"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

[[ $(id -u) -eq 0 ]] || skip "not root (dpkg -i and mount need root)"
for tool in dpkg dpkg-deb dpkg-query cpack mount umount timeout; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[[ -e /dev/fuse ]] || modprobe fuse 2>/dev/null || true
[[ -r /dev/fuse && -w /dev/fuse ]] || skip "/dev/fuse is not usable"
[[ -x /sbin/mount.fuse3 ]] || skip "mount.fuse3 is missing (install package fuse3)"
[[ -f $build/CPackConfig.cmake ]] || fail "$build/CPackConfig.cmake is missing (configure the build first)"
if dpkg-query -W -f='${Status}' slotfs 2>/dev/null | grep -q 'ok installed'; then
  skip "a slotfs package is already installed here; the test will not replace or remove it"
fi
for f in /usr/bin/slotfs /sbin/mount.fuse.slotfs /etc/slotfs/slotfs.toml; do
  [[ -e $f || -L $f ]] && skip "$f exists (not from a package); the test will not overwrite it"
done

tmp=$(mktemp -d /tmp/slotfs-pkgtest.XXXXXX)
installed=0
cleanup() {
  if grep -q " $tmp/" /proc/self/mountinfo 2>/dev/null; then
    umount "$tmp/mnt" 2>/dev/null || umount -l "$tmp/mnt" 2>/dev/null
  fi
  if ((installed)); then
    dpkg -P slotfs >/dev/null 2>&1 || echo "WARNING: dpkg -P slotfs failed; remove it by hand" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# dpkg fails at once while apt or another dpkg holds its lock: retry a while.
dpkg_retry() {
  local try out
  for try in $(seq 60); do
    if out=$(dpkg "$@" 2>&1); then
      echo "$out"
      return 0
    fi
    if ! grep -qi 'lock' <<<"$out"; then
      echo "$out" >&2
      return 1
    fi
    sleep 2
  done
  echo "$out" >&2
  return 1
}

step "cpack -G DEB"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb=$tmp/pkg/slotfs_${version}_amd64.deb
[[ -f $deb ]] || { ls -l "$tmp/pkg"; fail "cpack did not produce $(basename "$deb")"; }

step "package contents"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/slotfs ./sbin/mount.fuse.slotfs ./usr/share/man/man8/slotfs.8.gz \
  ./lib/systemd/system/slotfs@.service ./etc/slotfs/slotfs.toml ./var/lib/slotfs/; do
  grep -qF " $path" <<<"$contents" || { echo "$contents"; fail "$path is not in the package"; }
done
grep -qF './sbin/mount.fuse.slotfs -> mount.fuse3' <<<"$contents" ||
  fail "mount.fuse.slotfs is not a link to mount.fuse3"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# The package names in Depends, one a line, without versions.
dep_names=$(sed 's/ *([^)]*)//g; s/ *| */\n/g; s/, */\n/g' <<<"$depends")
depends_on() { grep -qxF "$1" <<<"$dep_names"; }
for pkg in fuse3 libfuse3-3 liburing2 libsqlite3-0 libfmt9 libtomlplusplus3 libxxhash0; do
  depends_on "$pkg" || fail "Depends lacks $pkg"
done
grep -q '^libspdlog1\.10' <<<"$dep_names" || fail "Depends lacks libspdlog1.10"
[[ $(dpkg-deb -f "$deb" Package) == slotfs && $(dpkg-deb -f "$deb" Version) == "$version" ]] ||
  fail "control fields Package/Version are not slotfs/$version"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/slotfs/slotfs.toml ||
  fail "/etc/slotfs/slotfs.toml is not a conffile"

step "dpkg -i"
dpkg_retry -i "$deb" >"$tmp/dpkg.log" || { cat "$tmp/dpkg.log"; fail "dpkg -i failed"; }
installed=1
dpkg-query -W -f='${Status}' slotfs | grep -q 'ok installed' || fail "slotfs is not installed after dpkg -i"

# Every library the installed binary loads comes from a package it depends on.
while read -r lib; do
  owner=$(dpkg -S "*/$(basename "$(dirname "$lib")")/$(basename "$lib")" 2>/dev/null | head -1 | cut -d: -f1)
  [[ -n $owner ]] || fail "no package owns $lib"
  # The dependency may name the package or a virtual one it provides
  # (libspdlog1.10 provides libspdlog1.10-fmt9).
  found=0
  for name in "$owner" $(dpkg-query -W -f='${Provides}' "$owner" | sed 's/([^)]*)//g; s/,/ /g'); do
    depends_on "$name" && found=1
  done
  ((found)) || fail "$lib comes from $owner, which Depends lacks"
done < <(ldd /usr/bin/slotfs | awk '/=> \// { print $3 }')

step "/usr/bin/slotfs --version"
out=$(/usr/bin/slotfs --version) || fail "/usr/bin/slotfs --version failed"
[[ $out == "slotfs $version" ]] || fail "--version printed '$out', want 'slotfs $version'"
[[ -s /usr/share/man/man8/slotfs.8.gz ]] || fail "man page missing"
if command -v groff >/dev/null; then
  warnings=$(zcat /usr/share/man/man8/slotfs.8.gz | groff -man -ww -z 2>&1)
  [[ -z $warnings ]] || fail "groff warns about slotfs.8: $warnings"
fi

step "systemd-analyze verify slotfs@.service"
if command -v systemd-analyze >/dev/null; then
  # The template is verified through an instance; its EnvironmentFile is
  # only read when the unit starts.
  out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "slotfs@mnt-kvcache.service" 2>&1)
  rc=$?
  echo "$out"
  if ((rc != 0)) || grep -i 'slotfs@' <<<"$out" | grep -qiE 'unknown|invalid|not executable|failed|warning|ignoring'; then
    fail "systemd-analyze verify found problems in slotfs@.service"
  fi
else
  echo "**********************************************************************"
  echo "** WARNING: systemd-analyze is missing (package systemd): the unit file"
  echo "** was NOT verified. The rest of this test ran."
  echo "**********************************************************************"
fi

step "format and mount -t fuse.slotfs with the installed files"
# A PATH without any build tree: mount.fuse3 must find /usr/bin/slotfs.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
img=$tmp/kv.img
mkdir "$tmp/mnt"
timeout 120 slotfs format "$img" --size 256M >"$tmp/format.log" 2>&1 ||
  { cat "$tmp/format.log"; fail "slotfs format failed"; }
timeout 60 mount -t fuse.slotfs "$img" "$tmp/mnt" -o "db=$img.db,commit_interval_ms=20" \
  >"$tmp/mount.log" 2>&1 || { cat "$tmp/mount.log"; fail "mount -t fuse.slotfs failed"; }
grep -qE " $tmp/mnt .* - fuse\.slotfs $img " /proc/self/mountinfo ||
  { grep "$tmp" /proc/self/mountinfo; fail "$tmp/mnt is not a fuse.slotfs mount of $img"; }
daemon=$(pgrep -f "slotfs $img $tmp/mnt" | head -1)
[[ -n $daemon ]] || fail "no slotfs daemon found for $tmp/mnt"
[[ $(readlink "/proc/$daemon/exe") == /usr/bin/slotfs ]] ||
  fail "the daemon runs $(readlink "/proc/$daemon/exe"), not /usr/bin/slotfs"

head -c 3145728 /dev/urandom >"$tmp/data"
timeout 30 cp "$tmp/data" "$tmp/mnt/entry.pt" || fail "writing into the mount failed"
timeout 30 cmp "$tmp/data" "$tmp/mnt/entry.pt" || fail "the file read back differs"

step "umount"
timeout 60 umount "$tmp/mnt" || fail "umount failed"
for _ in $(seq 300); do
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$daemon" 2>/dev/null && fail "the daemon (pid $daemon) did not exit after umount"
grep -q " $tmp/mnt " /proc/self/mountinfo && fail "$tmp/mnt is still mounted"
timeout 120 slotfs check "$img" >"$tmp/check.log" 2>&1 || { cat "$tmp/check.log"; fail "slotfs check is not clean"; }

step "dpkg -P slotfs"
dpkg_retry -P slotfs >"$tmp/dpkg.log" || { cat "$tmp/dpkg.log"; fail "dpkg -P failed"; }
installed=0
for f in /usr/bin/slotfs /sbin/mount.fuse.slotfs /etc/slotfs/slotfs.toml \
  /lib/systemd/system/slotfs@.service /usr/share/man/man8/slotfs.8.gz; do
  [[ -e $f || -L $f ]] && fail "$f is still there after dpkg -P"
done
echo "PASS: slotfs_${version}_amd64.deb builds, installs, mounts through mount(8) and purges cleanly"
