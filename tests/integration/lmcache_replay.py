#!/usr/bin/env python3
"""Replays the sequence LMCache's local-disk backend runs against a directory.

What LMCache does, and this replay with it:
  - file names MODEL@WORLD@WORKER@HEXHASH@DTYPE.pt, flat in one directory;
  - its own index and LRU, bounded by max_local_disk_size * 1024**3 bytes of
    logical file sizes; evicting a key removes the file with os.remove from
    a thread pool (asynchronously), so the next write may start first;
  - a write is open(path, "wb").write(buf), or, when the size is a multiple
    of statvfs(dir).f_bsize, os.open(O_CREAT|O_WRONLY|O_DIRECT) and one
    os.write of a page-aligned buffer;
  - a read is open + readinto of the whole file into a preallocated buffer.
It fills the directory to --fill-bytes with a mix of full chunks and partial
(tail) chunks, reading tracked keys back as it goes, and fails if any key its
LRU still tracks is gone or reads back wrong: the filesystem evicted behind
LMCache's back, or served wrong bytes.

Prints one JSON line of counts; exit 0 on success, 1 on a lost or wrong
entry, 2 on bad usage.
"""

import argparse
import collections
import concurrent.futures
import hashlib
import json
import mmap
import os
import random
import sys

FULL_CHUNKS = [2_600_064, 4 * 1024 * 1024]
PARTIAL_CHUNKS = [40_960, 42_042, 32_768, 45_056]


def content(key: str, size: int) -> bytes:
    """Bytes derived from the key: any misplaced or stale byte shows."""
    seed = hashlib.blake2b(key.encode(), digest_size=16).digest()
    block = hashlib.blake2b(seed, digest_size=64).digest() * 64  # 4 KiB
    reps = size // len(block) + 1
    return (block * reps)[:size]


def aligned(data: bytes) -> mmap.mmap:
    buf = mmap.mmap(-1, max(len(data), 1))
    buf.write(data)
    return buf


def write_entry(path: str, data: bytes, bsize: int) -> None:
    if len(data) % bsize == 0:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o644)
        try:
            buf = aligned(data)
            try:
                os.write(fd, buf)
            finally:
                buf.close()
        finally:
            os.close(fd)
    else:
        with open(path, "wb") as f:
            f.write(data)


def read_entry(path: str, size: int, bsize: int) -> bytes:
    buf = mmap.mmap(-1, ((size + bsize - 1) // bsize) * bsize)
    try:
        flags = os.O_RDONLY | (os.O_DIRECT if size % bsize == 0 else 0)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb", buffering=0) as f:
            n = f.readinto(memoryview(buf)[:size] if size % bsize else buf)
        return bytes(buf[:n])
    finally:
        buf.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--max-local-disk-size", type=float, required=True,
                    help="GiB, as in LMCache's configuration")
    ap.add_argument("--fill-bytes", type=int, required=True,
                    help="logical bytes to write in all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partial-share", type=float, default=0.5,
                    help="fraction of chunks that are partial (tails)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    bsize = os.statvfs(args.dir).f_bsize
    if bsize == 0:
        print("f_bsize is 0", file=sys.stderr)
        return 1
    capacity = int(args.max_local_disk_size * 1024 ** 3)
    lru = collections.OrderedDict()  # key -> size
    used = 0
    removers = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    pending = []
    counts = collections.Counter()
    failures = []

    def path_of(key: str) -> str:
        return os.path.join(args.dir, key.replace("/", "-") + ".pt")

    def check(key: str) -> None:
        size = lru[key]
        try:
            got = read_entry(path_of(key), size, bsize)
        except FileNotFoundError:
            failures.append(f"{key}: tracked by the LRU but its file is gone")
            return
        counts["reads"] += 1
        if got != content(key, size):
            failures.append(f"{key}: read back {len(got)} bytes that differ from what was written")
        lru.move_to_end(key)

    written = 0
    n = 0
    while written < args.fill_bytes and not failures:
        partial = rng.random() < args.partial_share
        size = rng.choice(PARTIAL_CHUNKS) if partial else rng.choice(FULL_CHUNKS)
        if partial and rng.random() < 0.5:
            size = rng.randrange(32 * 1024, 300 * 1024)  # any tail, aligned or not
        model = rng.choice(["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B"])
        key = f"{model}@{rng.choice([1, 2])}@{rng.choice([0, 1])}@{n:016x}@bfloat16"
        n += 1
        while used + size > capacity and lru:
            old, old_size = lru.popitem(last=False)
            used -= old_size
            pending.append(removers.submit(os.remove, path_of(old)))
            counts["lru_evictions"] += 1
        write_entry(path_of(key), content(key, size), bsize)
        lru[key] = size
        used += size
        written += size
        counts["writes"] += 1
        counts["partial" if partial else "full"] += 1
        if lru and rng.random() < 0.3:
            check(rng.choice(list(lru.keys())))
    for f in pending:
        f.result()
    removers.shutdown()
    for key in list(lru.keys()):
        check(key)
    counts["tracked"] = len(lru)
    counts["tracked_bytes"] = used
    counts["written_bytes"] = written
    print(json.dumps({"counts": counts, "failures": failures[:20]}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
