"""S3 checksum kernels, beside references measured in the same run.

    python -m pytest benchmarks/test_bench_crc.py --benchmark-columns=min,median,ops

``test_crc_1mib`` times every kernel on one 1 MiB block; each result carries
``GB/s`` (from the median) in ``extra_info``. ``test_crc_beside_references``
puts our CRC32, CRC32C and CRC64NVME next to ISA-L's ``crc32_gzip_refl`` /
``crc32_iscsi`` (the engine's small-input path), zlib.crc32 (what pure-Python
S3 servers use) and a memory copy (the ceiling for one pass over the data) at
three sizes: a 64 KiB request-body chunk (cache-resident), a 1 MiB erasure
block and 8 MiB (beyond L2). Those figures are the best of 50 ms windows of
back-to-back calls, alternated between kernels so machine noise hits all alike.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from benchmarks.timing import best_calls_per_second
from liteio._ext import crc

MIB = 1 << 20
BLOCK = MIB
DATA = os.urandom(BLOCK)
_COPY_TARGET = memoryview(bytearray(BLOCK))


def _memcpy(data: bytes) -> None:
    _COPY_TARGET[:] = data


KERNELS: dict[str, Callable[[bytes], Any]] = {
    "crc32": crc.crc32,
    "crc32c": crc.crc32c,
    "crc64nvme": crc.crc64nvme,
    "crc32_portable": crc.crc32_portable,
    "crc32c_portable": crc.crc32c_portable,
    "crc64nvme_portable": crc.crc64nvme_portable,
    "reference_isal_crc32": crc._isal_crc32,
    "reference_isal_crc32c": crc._isal_crc32c,
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


# Our CRC -> the references that compute the same thing.
REFERENCES: dict[str, dict[str, Callable[[bytes], Any]]] = {
    "crc32": {"isal": crc._isal_crc32, "zlib": zlib.crc32},
    "crc32c": {"isal": crc._isal_crc32c},
    "crc64nvme": {},
}


@pytest.mark.parametrize("size", [64 << 10, MIB, 8 * MIB], ids=["64KiB", "1MiB", "8MiB"])
@pytest.mark.parametrize("name", list(REFERENCES))
def test_crc_beside_references(benchmark: Any, name: str, size: int) -> None:
    data = os.urandom(size)
    target = memoryview(bytearray(size))

    def copy() -> None:
        target[:] = data

    ours: Callable[[bytes], Any] = getattr(crc, name)
    kernels: dict[str, Callable[[], object]] = {name: partial(ours, data)}
    for ref, fn in REFERENCES[name].items():
        assert fn(data) == ours(data)
        kernels[ref] = partial(fn, data)
    kernels["memcpy"] = copy

    benchmark.group = f"crc-vs-references-{size >> 10}KiB"
    benchmark(ours, data)
    rates = dict.fromkeys(kernels, 0.0)
    for _ in range(3):
        for kernel, work in kernels.items():
            rates[kernel] = max(rates[kernel], best_calls_per_second(work) * size)
    info: dict[str, Any] = {"bytes": size, "accelerated": crc.crc64nvme_accelerated()}
    info.update({f"{kernel}_gbps": rate / 1e9 for kernel, rate in rates.items()})
    if "isal" in rates:
        info["ratio_vs_isal"] = rates[name] / rates["isal"]
    info["ratio_vs_memcpy"] = rates[name] / rates["memcpy"]
    benchmark.extra_info.update(info)
