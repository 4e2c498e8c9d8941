"""The shard-level machinery of healing: checking a stream, rebuilding shards.

Streams come from the real encoder (small blocks, so a part spans several
rebuild windows and ends in a short block); rebuilt streams must be
byte-identical to what the encoder wrote, for every choice of lost shards.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from liteio.erasure.codec import codec_for
from liteio.erasure.decode import MemorySource
from liteio.erasure.encode import ErasureEncoder, MemorySink
from liteio.erasure.ranges import StripeGeometry
from liteio.heal.shards import PartRebuilder, TooFewSources, check_stream, windows
from tests.support.store import body_of

BLOCK = 64 << 10
SIZE = 12 * (1 << 20) + 12_345  # 193 blocks, the last one short: several windows


@pytest.fixture(scope="module")
def cpu() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def encode(k: int, m: int, data: bytes, cpu: ThreadPoolExecutor) -> list[bytes]:
    sinks = [MemorySink() for _ in range(k + m)]

    async def run() -> None:
        await ErasureEncoder(codec_for(k, m), BLOCK, sinks, k + m, cpu).encode(
            body_of(data), len(data))

    asyncio.run(run())
    return [bytes(s.data) for s in sinks]


def rebuild(k: int, m: int, streams: list[bytes | None], targets: list[int],
            cpu: ThreadPoolExecutor, size: int = SIZE) -> tuple[PartRebuilder, dict[int, bytes]]:
    geometry = StripeGeometry(size, BLOCK, k)
    sinks = {t: MemorySink() for t in targets}
    sources = [None if s is None else MemorySource(s) for s in streams]
    rebuilder = PartRebuilder(codec_for(k, m), geometry, sources, dict(sinks), cpu)
    asyncio.run(rebuilder.run())
    return rebuilder, {t: bytes(sink.data) for t, sink in sinks.items()}


@pytest.mark.parametrize("k,m", [(2, 2), (4, 2), (3, 3)])
def test_every_choice_of_lost_shards_is_rebuilt_exactly(k: int, m: int,
                                                        cpu: ThreadPoolExecutor) -> None:
    data = random.Random(k * 10 + m).randbytes(SIZE)
    streams = encode(k, m, data, cpu)
    assert len(windows(StripeGeometry(SIZE, BLOCK, k))) >= 2
    for lost in range(1, m + 1):
        for targets in itertools.combinations(range(k + m), lost):
            damaged: list[bytes | None] = [None if i in targets else s
                                           for i, s in enumerate(streams)]
            rebuilder, out = rebuild(k, m, damaged, list(targets), cpu)
            assert not rebuilder.bad and not rebuilder.failed
            for t in targets:
                assert out[t] == streams[t], (k, m, targets, t)
                assert rebuilder.written[t] == len(streams[t])


def test_a_source_rotten_midway_is_replaced_and_reported(cpu: ThreadPoolExecutor) -> None:
    streams = encode(4, 2, random.Random(1).randbytes(SIZE), cpu)
    rotten = bytearray(streams[1])
    rotten[len(rotten) - 5_000] ^= 1  # in the second window: the first one went fine
    short = streams[2][: len(streams[2]) // 3]
    for bad, stream, why in ((1, bytes(rotten), "bitrot"), (2, short, "short")):
        damaged: list[bytes | None] = [*streams[:5], None]
        damaged[bad] = stream
        rebuilder, out = rebuild(4, 2, damaged, [5], cpu)
        assert rebuilder.bad == {bad: why}
        assert out[5] == streams[5]
    with pytest.raises(TooFewSources):
        rebuild(4, 2, [None, bytes(rotten), *streams[2:5], None], [0], cpu)


def test_empty_part_rebuilds_to_an_empty_stream(cpu: ThreadPoolExecutor) -> None:
    rebuilder, out = rebuild(2, 2, [b"", b"", None, None], [2, 3], cpu, size=0)
    assert out == {2: b"", 3: b""} and not rebuilder.bad


def test_check_stream(cpu: ThreadPoolExecutor) -> None:
    streams = encode(2, 2, random.Random(2).randbytes(SIZE), cpu)
    geometry = StripeGeometry(SIZE, BLOCK, 2)
    good = streams[3]
    rotten = bytearray(good)
    rotten[len(good) // 2] ^= 0x10

    def check(stream: bytes, deep: bool, g: StripeGeometry = geometry) -> str | None:
        return asyncio.run(check_stream(MemorySource(stream), g, cpu, deep))

    assert geometry.stream_size == len(good)
    assert check(good, False) is None and check(good, True) is None
    assert check(good[:-1], False) == "short"
    assert check(good + b"\0", False) == "long"
    assert check(bytes(rotten), False) is None  # sizes only
    assert check(bytes(rotten), True) == "bitrot"
    empty = StripeGeometry(0, BLOCK, 2)
    assert check(b"", True, empty) is None and check(b"x", False, empty) == "long"
