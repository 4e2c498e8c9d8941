"""S3 checksum kernels over one 1 MiB block, beside references from the same run.

    python -m pytest benchmarks/test_bench_crc.py --benchmark-columns=min,median,ops

Each result carries ``GB/s`` (from the median) in ``extra_info``. The
references are zlib.crc32 (the stdlib's CRC32, what pure-Python S3 servers
use) and a 1 MiB memcpy into a preallocated buffer (the memory-bandwidth
ceiling on this machine).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from liteio._ext import crc

BLOCK = 1 << 20
DATA = os.urandom(BLOCK)
_COPY_TARGET = memoryview(bytearray(BLOCK))


def _memcpy(data: bytes) -> None:
    _COPY_TARGET[:] = data


KERNELS: dict[str, Callable[[bytes], Any]] = {
    "crc32": crc.crc32,
    "crc32c": crc.crc32c,
    "crc64nvme": crc.crc64nvme,
    "crc64nvme_portable": crc.crc64nvme_portable,
    "reference_zlib_crc32": zlib.crc32,
    "reference_memcpy": _memcpy,
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_crc_1mib(benchmark: Any, name: str) -> None:
    benchmark.group = "crc-1MiB"
    benchmark.extra_info["bytes"] = BLOCK
    benchmark.extra_info["crc64nvme_accelerated"] = crc.crc64nvme_accelerated()
    benchmark(KERNELS[name], DATA)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["GB/s"] = round(BLOCK / benchmark.stats.stats.median / 1e9, 2)
