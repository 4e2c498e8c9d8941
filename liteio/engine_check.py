"""``liteio selftest``: prove the engine matches MinIO's format, optionally time it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

from liteio._ext import crc, highwayhash
from liteio.erasure.bitrot import BITROT_KEY, BitrotSelfTestFailed, run_bitrot_selftest
from liteio.erasure.codec import codec_for
from liteio.erasure.selftest import SelfTestFailed, run_erasure_selftest

BLOCK = 1 << 20


def _throughput(work: Callable[[], object], nbytes: int, seconds: float) -> float:
    """Bytes per second of ``work`` (which processes ``nbytes``), best of short runs."""
    work()
    best = 0.0
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        rounds = 0
        while time.perf_counter() - start < 0.05:
            work()
            rounds += 1
        best = max(best, rounds * nbytes / (time.perf_counter() - start))
        if time.perf_counter() >= deadline:
            return best


def _encode_work(k: int, m: int) -> tuple[Callable[[], None], int]:
    size = -(-BLOCK // k)
    shards = [bytearray(os.urandom(size)) for _ in range(k)] + [bytearray(size) for _ in range(m)]
    codec = codec_for(k, m)
    return (lambda: codec.encode(shards)), size * k


def _bench_lines(seconds: float) -> list[str]:
    lines = []
    for k, m in ((4, 2), (8, 4), (12, 4)):
        work, nbytes = _encode_work(k, m)
        rate = _throughput(work, nbytes, seconds)
        lines.append(f"  {f'RS encode {k}+{m}, 1 MiB':31s}{rate / 1e9:7.2f} GB/s")
    block = os.urandom(BLOCK)
    kernels: list[tuple[str, Callable[[], object]]] = [
        ("HighwayHash-256", lambda: highwayhash.hh256(BITROT_KEY, block)),
        ("CRC32C", lambda: crc.crc32c(block)),
        ("CRC64NVME", lambda: crc.crc64nvme(block)),
        ("MD5 (hashlib)", lambda: hashlib.md5(block).digest()),
    ]
    for name, fn in kernels:
        rate = _throughput(fn, BLOCK, seconds)
        lines.append(f"  {name + ', 1 MiB':31s}{rate / 1e9:7.2f} GB/s")
    return lines


def run(bench: bool = False, seconds: float = 0.5) -> int:
    try:
        layouts = run_erasure_selftest()
        run_bitrot_selftest()
    except (SelfTestFailed, BitrotSelfTestFailed) as exc:
        print(f"selftest FAILED: {exc}")
        return 1
    print(f"erasure: MinIO golden hashes match; {layouts} layouts of 2..16 drives round-trip")
    print(f"bitrot: HighwayHash-256 ({highwayhash.implementation()}) matches MinIO's self-test")
    if bench:
        print("throughput (one core):")
        for line in _bench_lines(seconds):
            print(line)
    return 0
