"""O_DIRECT shard I/O in 1 MiB blocks vs plain Python file I/O and dd, same run, same disk.

Each figure moves 256 MiB: writes end with fdatasync (so the page cache cannot
flatter the buffered reference), reads start with the file evicted from the
page cache (so every side reads the disk). References:
- ``python_buffered``: os.write / os.read of 1 MiB in a loop, page cache on;
- ``dd_direct``: ``dd bs=1M count=256 oflag=direct conv=fdatasync`` of the
  same random bytes (from RAM), or ``iflag=direct`` to read; dd's own time.
Every write goes to a fresh file, since truncating the last round's 256 MiB
(with online discard) is slow and dd would not count it.
The directory is a temp dir under /var/tmp, or ``LITEIO_BENCH_DIR``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable

import pytest

from liteio._ext.buffers import BufferPool
from liteio._ext.directio import DirectFile, probe_direct

BLOCK = 1 << 20
COUNT = 256
TOTAL = BLOCK * COUNT
ROUNDS = 3
SHARD_CHUNK = BLOCK // 2 + 32  # a 2+2 shard chunk with its 32-byte bitrot hash


@pytest.fixture(scope="module")
def bench_dir():
    base = os.environ.get("LITEIO_BENCH_DIR", "/var/tmp")
    path = tempfile.mkdtemp(prefix="liteio-bench-directio-", dir=base)
    if not probe_direct(path):
        shutil.rmtree(path)
        pytest.skip(f"{path} does not take O_DIRECT")
    yield path
    shutil.rmtree(path, ignore_errors=True)
    remove(f"/dev/shm/liteio-bench-source-{os.getpid()}")


@pytest.fixture(scope="module")
def block():
    pool = BufferPool(BLOCK, 1)
    buf = pool.acquire()
    memoryview(buf)[:] = os.urandom(BLOCK)
    yield buf
    buf.release()


def mibps(seconds: float, nbytes: int = TOTAL) -> float:
    return nbytes / (1 << 20) / seconds


def timed(work: Callable[[], None], before: Callable[[], None] = lambda: None) -> float:
    before()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def evict(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def remove(*paths: str) -> None:
    """Writes go to fresh files: truncating 256 MiB (with discards) would be timed too."""
    for path in paths:
        if os.path.exists(path):
            os.unlink(path)


def dd_seconds(*args: str) -> float:
    """dd's own reported time (it excludes process start-up)."""
    out = subprocess.run(["dd", *args], capture_output=True, text=True, check=True)
    match = re.search(r"copied, ([0-9.]+) s", out.stderr)
    assert match, out.stderr
    return float(match.group(1))


def best_interleaved(
    sides: dict[str, Callable[[], float]], nbytes: int = TOTAL
) -> dict[str, float]:
    """Best MiB/s of each side over ROUNDS, taking turns so drift in the
    (virtual) disk's speed hits every side alike."""
    if shutil.which("dd") is None:
        pytest.skip("no dd")
    best = dict.fromkeys(sides, 0.0)
    for _ in range(ROUNDS):
        for name, seconds in sides.items():
            best[name] = max(best[name], mibps(seconds(), nbytes))
    return best


def random_source(bench_dir: str, block: bytes) -> str:
    """The bytes dd writes: the same 1 MiB of random data (a virtual disk may
    shortcut zeros), kept in RAM when /dev/shm exists so dd reads it for free."""
    where = "/dev/shm" if os.path.isdir("/dev/shm") else bench_dir
    path = os.path.join(where, f"liteio-bench-source-{os.getpid()}")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.writelines(block for _ in range(COUNT))
    return path


def dd_write_seconds(source: str, path: str) -> float:
    remove(path)
    return dd_seconds(
        f"if={source}", f"of={path}", "bs=1M", f"count={COUNT}", "oflag=direct", "conv=fdatasync"
    )


def liteio_write(path: str, block, chunk: int = BLOCK) -> None:
    view = memoryview(block)
    with DirectFile(path, "w", direct=True) as f:
        if chunk == BLOCK:
            for _ in range(COUNT):
                f.write(view)
        else:
            for _ in range(TOTAL // chunk):
                f.write(view[:chunk])
        f.fdatasync()


def python_write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(COUNT):
            os.write(fd, data)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def report(benchmark, figures: dict[str, float]) -> None:
    benchmark.extra_info.update(figures)
    benchmark.extra_info["ratio"] = figures["liteio_direct_mibps"] / figures["dd_direct_mibps"]


def test_direct_write_1mib_blocks(benchmark, bench_dir, block) -> None:
    path = os.path.join(bench_dir, "write")
    data = bytes(memoryview(block))
    source = random_source(bench_dir, data)
    benchmark.pedantic(
        liteio_write, args=(path, block), setup=lambda: remove(path), rounds=1, iterations=1
    )
    assert os.stat(path).st_size == TOTAL
    report(
        benchmark,
        best_interleaved(
            {
                "liteio_direct_mibps": lambda: timed(
                    lambda: liteio_write(path, block), before=lambda: remove(path)
                ),
                "python_buffered_mibps": lambda: timed(
                    lambda: python_write(path + ".py", data), before=lambda: remove(path + ".py")
                ),
                "dd_direct_mibps": lambda: dd_write_seconds(source, path + ".dd"),
            }
        ),
    )
    remove(path, path + ".py", path + ".dd")


def test_direct_write_shard_chunks(benchmark, bench_dir, block) -> None:
    """Unaligned 512 KiB + 32 B appends: every byte goes through the staging buffer."""
    path = os.path.join(bench_dir, "chunks")
    nbytes = TOTAL // SHARD_CHUNK * SHARD_CHUNK
    source = random_source(bench_dir, bytes(memoryview(block)))
    benchmark.pedantic(
        liteio_write,
        args=(path, block, SHARD_CHUNK),
        setup=lambda: remove(path),
        rounds=1,
        iterations=1,
    )
    assert os.stat(path).st_size == nbytes
    report(
        benchmark,
        best_interleaved(
            {
                "liteio_direct_mibps": lambda: (
                    timed(
                        lambda: liteio_write(path, block, SHARD_CHUNK), before=lambda: remove(path)
                    )
                    * TOTAL
                    / nbytes
                ),
                "dd_direct_mibps": lambda: dd_write_seconds(source, path + ".dd"),
            }
        ),
    )
    remove(path, path + ".dd")


def test_direct_read_1mib_blocks(benchmark, bench_dir, block) -> None:
    path = os.path.join(bench_dir, "read")
    liteio_write(path, block)

    def liteio_read() -> None:
        with DirectFile(path, "r", direct=True) as f:
            for i in range(COUNT):
                assert f.pread_into(block, i * BLOCK) == BLOCK

    def python_read() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            while os.read(fd, BLOCK):
                pass
        finally:
            os.close(fd)

    def cold() -> None:
        evict(path)

    benchmark.pedantic(liteio_read, setup=cold, rounds=1, iterations=1)
    report(
        benchmark,
        best_interleaved(
            {
                "liteio_direct_mibps": lambda: timed(liteio_read, before=cold),
                "python_buffered_mibps": lambda: timed(python_read, before=cold),
                "dd_direct_mibps": lambda: dd_seconds(
                    f"if={path}", "of=/dev/null", "bs=1M", "iflag=direct"
                ),
            }
        ),
    )
    os.unlink(path)
