"""Streaming encode/decode over in-memory shard streams, with damage."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio._ext.buffers import BufferPool
from liteio.erasure.bitrot import framed_size
from liteio.erasure.codec import codec_for
from liteio.erasure.decode import ErasureDecoder, MemorySource
from liteio.erasure.encode import ErasureEncoder, MemorySink, block_buffer_size
from liteio.erasure.errors import BodyTooLong, IncompleteBody, ReadQuorumLost, WriteQuorumLost
from liteio.erasure.ranges import StripeGeometry
from tests.fixtures import minio_fixture

CPU = ThreadPoolExecutor(2)
BLOCK = 64 << 10  # small blocks keep the property tests quick


async def chunks(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def encode(data: bytes, k: int, m: int, block: int = BLOCK, pool: BufferPool | None = None,
           chunk: int = 7000) -> tuple[list[bytes], str]:
    sinks = [MemorySink() for _ in range(k + m)]
    md5 = hashlib.md5()
    enc = ErasureEncoder(codec_for(k, m), block, sinks, k, CPU, pool=pool, hashers=[md5])
    alive = asyncio.run(enc.encode(chunks(data, chunk), len(data)))
    assert alive == list(range(k + m))
    return [bytes(s.data) for s in sinks], md5.hexdigest()


def decode(streams: list[Any], k: int, m: int, size: int, offset: int, length: int,
           block: int = BLOCK) -> tuple[bytes, dict[int, BaseException]]:
    sources = [MemorySource(s) if s is not None else None for s in streams]
    dec = ErasureDecoder(codec_for(k, m), block, sources, CPU)

    async def run() -> bytes:
        out = bytearray()
        async for piece in dec.read(StripeGeometry(size, block, k), offset, length):
            out += piece
        return bytes(out)

    return asyncio.run(run()), dec.bad


@settings(max_examples=60, deadline=None)
@given(
    layout=st.sampled_from([(2, 2), (3, 2), (4, 2), (5, 3), (8, 4), (2, 0)]),
    size=st.integers(0, 5 * BLOCK + 3),
    chunk=st.integers(1, 20000),
    data=st.data(),
)
def test_round_trip_with_ranges(layout: tuple[int, int], size: int, chunk: int, data: Any) -> None:
    k, m = layout
    body = random.Random(size).randbytes(size)
    streams, md5 = encode(body, k, m, chunk=chunk)
    assert md5 == hashlib.md5(body).hexdigest()
    assert all(len(s) == framed_size(size, BLOCK, k) for s in streams)
    offset = data.draw(st.integers(0, max(size - 1, 0)))
    length = data.draw(st.integers(0, size - offset))
    got, bad = decode(streams, k, m, size, offset, length)
    assert got == body[offset : offset + length]
    assert not bad


@settings(max_examples=40, deadline=None)
@given(
    layout=st.sampled_from([(2, 2), (4, 2), (5, 3), (8, 4)]),
    size=st.integers(1, 4 * BLOCK),
    seed=st.integers(0, 1000),
)
def test_up_to_m_bad_shards_are_survived(layout: tuple[int, int], size: int, seed: int) -> None:
    k, m = layout
    rng = random.Random(seed)
    body = rng.randbytes(size)
    streams, _ = encode(body, k, m)
    damaged: list[Any] = list(streams)
    victims = rng.sample(range(k + m), m)
    for i in victims:
        how = rng.choice(["missing", "flip", "truncate"])
        if how == "missing":
            damaged[i] = None
        elif how == "flip":
            blob = bytearray(streams[i])
            blob[rng.randrange(len(blob))] ^= 0x40
            damaged[i] = bytes(blob)
        else:
            damaged[i] = streams[i][: rng.randrange(len(streams[i]))]
    got, bad = decode(damaged, k, m, size, 0, size)
    assert got == body
    # Damage in shards that were needed is detected by checksum or length, never missed.
    assert set(bad) <= set(victims)


def test_more_than_m_bad_shards_fail_cleanly() -> None:
    body = os.urandom(3 * BLOCK)
    streams, _ = encode(body, 4, 2)
    damaged: list[Any] = [None, None, *streams[2:]]
    blob = bytearray(streams[3])
    blob[100] ^= 1
    damaged[3] = bytes(blob)
    with pytest.raises(ReadQuorumLost):
        decode(damaged, 4, 2, len(body), 0, len(body))


def test_pooled_buffers_are_returned() -> None:
    pool = BufferPool(block_buffer_size(6, BLOCK, 4), 4)
    body = os.urandom(10 * BLOCK + 17)
    streams, _ = encode(body, 4, 2, pool=pool, chunk=65536)
    assert pool.free == pool.capacity
    got, _ = decode(streams, 4, 2, len(body), 0, len(body))
    assert got == body


class FailingSink(MemorySink):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.writes = 0
        self.fail_after = fail_after

    async def write(self, data: Any) -> None:
        self.writes += 1
        if self.writes > self.fail_after:
            raise OSError("disk went away")
        await super().write(data)


def test_writers_may_fail_down_to_quorum() -> None:
    body = os.urandom(4 * BLOCK)
    sinks: list[Any] = [MemorySink(), FailingSink(1), MemorySink(), MemorySink()]
    enc = ErasureEncoder(codec_for(2, 2), BLOCK, sinks, 3, CPU)
    alive = asyncio.run(enc.encode(chunks(body), len(body)))
    assert alive == [0, 2, 3]
    assert 1 in enc.errors
    streams = [bytes(s.data) if i in alive else None for i, s in enumerate(sinks)]
    assert decode(streams, 2, 2, len(body), 0, len(body))[0] == body


def test_losing_write_quorum_aborts() -> None:
    body = os.urandom(4 * BLOCK)
    sinks: list[Any] = [MemorySink(), FailingSink(1), FailingSink(2), MemorySink()]
    enc = ErasureEncoder(codec_for(2, 2), BLOCK, sinks, 3, CPU)
    with pytest.raises(WriteQuorumLost):
        asyncio.run(enc.encode(chunks(body), len(body)))
    assert all(len(s.data) == 0 for s in sinks)  # aborted sinks drop what they had


def test_body_length_mismatch() -> None:
    enc = ErasureEncoder(codec_for(2, 2), BLOCK, [MemorySink() for _ in range(4)], 3, CPU)
    with pytest.raises(IncompleteBody):
        asyncio.run(enc.encode(chunks(b"x" * 100), 101))
    enc = ErasureEncoder(codec_for(2, 2), BLOCK, [MemorySink() for _ in range(4)], 3, CPU)
    with pytest.raises(BodyTooLong):
        asyncio.run(enc.encode(chunks(b"x" * 100), 99))
    enc = ErasureEncoder(codec_for(2, 2), BLOCK, [MemorySink() for _ in range(4)], 3, CPU)
    with pytest.raises(BodyTooLong):
        asyncio.run(enc.encode(chunks(b"x" * (2 * BLOCK)), BLOCK))


def test_decodes_minio_cicd_corpus_shards() -> None:
    """MinIO wrote these part.1 files (3+2, 1 MiB blocks); EcDist [3,4,5,1,2]."""
    ddir = "2b4f7e41-df82-4a5e-a3c1-8df87f83332f"
    dist = [3, 4, 5, 1, 2]
    streams: list[Any] = [None] * 5
    for drive, shard in enumerate(dist, start=1):
        path = minio_fixture("minio-cicd-corpus", f"disk{drive}", "bucket", "testobj", ddir, "part.1")
        streams[shard - 1] = path.read_bytes()
    size = 644_520
    got, bad = decode(streams, 3, 2, size, 0, size, block=1 << 20)
    assert hashlib.md5(got).hexdigest() == "9587ddd31fead633830366f45d221d56"
    assert not bad
    for lost in ([0, 1], [2, 4], [0, 3]):
        partial = [None if i in lost else s for i, s in enumerate(streams)]
        got, _ = decode(partial, 3, 2, size, 1000, 300_000, block=1 << 20)
        full, _ = decode(streams, 3, 2, size, 1000, 300_000, block=1 << 20)
        assert got == full
