"""xl.meta loading: the compiled scan and canonical body decoder against the Python paths.

GET/HEAD load every drive's xl.meta and decode the latest version; listing
does it for every key. Each benchmark times one path (``path`` = fast or
slow) and records both, measured alternately in the same run, as µs per call
in ``extra_info`` (best of 50 ms windows, ``benchmarks/timing.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from benchmarks.timing import best_calls_per_second
from liteio.meta import DeleteMarker, ObjectVersion, XLMeta, bodydec, xlmeta
from liteio.meta.versions import INLINE_DATA_KEY


@contextmanager
def fast_paths(enabled: bool) -> Iterator[None]:
    before = xlmeta.FAST_SCAN, bodydec.FAST_BODY
    xlmeta.FAST_SCAN = bodydec.FAST_BODY = enabled
    try:
        yield
    finally:
        xlmeta.FAST_SCAN, bodydec.FAST_BODY = before


@pytest.fixture(params=["fast", "slow"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    with fast_paths(request.param == "fast"):
        yield request.param


def an_object(n: int, inline: bool) -> ObjectVersion:
    """What our PUT writes for a small object on a 2+2 set."""
    return ObjectVersion(
        version_id=bytes([n + 1]) * 16,
        data_dir=bytes([n + 101]) * 16,
        ec_m=2,
        ec_n=2,
        ec_index=1,
        ec_dist=[1, 2, 3, 4],
        part_numbers=[1],
        part_sizes=[4096],
        part_actual_sizes=[4096],
        size=4096,
        mod_time=1_767_225_600_000_000_000 + n,
        meta_sys={INLINE_DATA_KEY: b"true"} if inline else {},
        meta_usr={"etag": f"{n:032x}", "content-type": "application/octet-stream"},
    )


def xl_meta(versions: int) -> bytes:
    xl = XLMeta()
    for n in range(versions):
        if n % 5 == 4:
            xl.add_version(DeleteMarker(version_id=bytes([n + 1]) * 16, mod_time=n))
        else:
            xl.add_version(an_object(n, inline=True), inline_data=bytes(2048 + 32))
    return xl.dump()


def both_paths_us(work: Callable[[], object]) -> dict[str, float]:
    fast = slow = float("inf")
    for _ in range(3):
        with fast_paths(True):
            fast = min(fast, 1e6 / best_calls_per_second(work, seconds=0.3))
        with fast_paths(False):
            slow = min(slow, 1e6 / best_calls_per_second(work, seconds=0.3))
    return {"fast_us": fast, "slow_us": slow, "speedup": slow / fast}


@pytest.mark.parametrize("versions", [1, 3, 10])
def test_load_latest(benchmark, path: str, versions: int) -> None:  # type: ignore[no-untyped-def]
    """XLMeta.load(data).latest() of an inline object's xl.meta (GET/HEAD, one drive)."""
    data = xl_meta(versions)
    work = lambda: XLMeta.load(data).latest()
    assert isinstance(work(), ObjectVersion)
    benchmark(work)
    benchmark.extra_info.update(path=path, versions=versions, bytes=len(data))
    benchmark.extra_info.update(both_paths_us(work))


@pytest.mark.parametrize("versions", [1, 3, 10])
def test_load_only(benchmark, path: str, versions: int) -> None:  # type: ignore[no-untyped-def]
    """XLMeta.load alone: envelope, CRC and headers (what a listing pays per key)."""
    data = xl_meta(versions)
    work = lambda: XLMeta.load(data)
    benchmark(work)
    benchmark.extra_info.update(path=path, versions=versions, bytes=len(data))
    benchmark.extra_info.update(both_paths_us(work))


@pytest.mark.parametrize("kind", ["object", "delete-marker"])
def test_decode_body(benchmark, path: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    """One version body to its record (the lazy part of ``latest()``)."""
    rec = an_object(0, inline=True) if kind == "object" else DeleteMarker(bytes([7]) * 16, 5)
    body = rec.to_msgpack()
    work = lambda: bodydec.decode_version(body)
    assert work() == rec
    benchmark(work)
    benchmark.extra_info.update(path=path, kind=kind, bytes=len(body))
    benchmark.extra_info.update(both_paths_us(work))
