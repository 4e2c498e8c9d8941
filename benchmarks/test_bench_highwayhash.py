"""HighwayHash-256 throughput per kernel, beside references measured in the same run.

References: ``hashlib.md5`` (another one-pass hash, OpenSSL assembly) and a
1 MiB memory copy (the ceiling for any single pass over cache-resident data).
Every figure is the best of 50 ms windows of back-to-back calls, alternated
with the references so machine noise hits both alike.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from benchmarks.timing import best_calls_per_second
from liteio._ext import highwayhash as hh

MIB = 1 << 20
KEY = hh.MINIO_BITROT_KEY
KERNELS = [
    "portable",
    pytest.param(
        "avx2",
        marks=pytest.mark.skipif(
            "avx2" not in hh.available_implementations(), reason="CPU has no AVX2"
        ),
    ),
]


@pytest.fixture(params=KERNELS)
def kernel(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    before = hh.implementation()
    hh.set_implementation(request.param)
    yield request.param
    hh.set_implementation(before)


def random_buffer(size: int, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def test_hh256_1mib(benchmark, kernel: str) -> None:  # type: ignore[no-untyped-def]
    data = random_buffer(MIB)
    source = np.frombuffer(data, dtype=np.uint8)
    dest = np.empty_like(source)
    work = lambda: hh.hh256(KEY, data)
    benchmark(work)
    ours = md5 = copy = 0.0
    for _ in range(3):
        md5 = max(md5, best_calls_per_second(lambda: hashlib.md5(data).digest()) * MIB)
        copy = max(copy, best_calls_per_second(lambda: np.copyto(dest, source)) * MIB)
        ours = max(ours, best_calls_per_second(work) * MIB)
    benchmark.extra_info.update(
        kernel=kernel,
        hh256_gbps=ours / 1e9,
        md5_gbps=md5 / 1e9,
        memcpy_gbps=copy / 1e9,
        ratio_vs_md5=ours / md5,
    )


def test_hash_shards_8p4_block(benchmark, kernel: str) -> None:  # type: ignore[no-untyped-def]
    """One 1 MiB erasure block as 8+4 shards: all 12 hashed in one call."""
    size = -(-MIB // 8)
    shards = [random_buffer(size, seed) for seed in range(12)]
    outs = [bytearray(32) for _ in shards]
    work = lambda: hh.hash_shards(KEY, shards, outs)
    single = lambda: [hh.hh256(KEY, s) for s in shards]
    benchmark(work)
    ours = loop = 0.0
    for _ in range(3):
        loop = max(loop, best_calls_per_second(single) * size * 12)
        ours = max(ours, best_calls_per_second(work) * size * 12)
    benchmark.extra_info.update(
        kernel=kernel, hash_shards_gbps=ours / 1e9, hh256_loop_gbps=loop / 1e9, ratio=ours / loop
    )


def test_hh256_64_bytes_call_overhead(benchmark) -> None:  # type: ignore[no-untyped-def]
    """Per-call cost on a tiny input, beside hashlib.md5 on the same bytes."""
    data = bytes(64)
    work = lambda: hh.hh256(KEY, data)
    benchmark(work)
    ours = md5 = 0.0
    for _ in range(3):
        md5 = max(md5, best_calls_per_second(lambda: hashlib.md5(data).digest()))
        ours = max(ours, best_calls_per_second(work))
    benchmark.extra_info.update(hh256_ns=1e9 / ours, md5_ns=1e9 / md5, ratio=md5 / ours)
