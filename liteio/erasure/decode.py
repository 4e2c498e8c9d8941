"""Streaming erasure decoder: K framed shard streams -> the bytes of a range.

Reads only the blocks a range touches, in windows of about 1 MiB per shard,
prefetching the next two windows while the current one is consumed. Data shards
are read first; a shard that errors, comes back short or fails its
HighwayHash check is dropped for the rest of the read (and reported through
``on_bad``), and the next parity shard takes its place.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol

from liteio._ext.highwayhash import verify_shards
from liteio.erasure.bitrot import BITROT_KEY, HASH_SIZE
from liteio.erasure.codec import ReedSolomon
from liteio.erasure.errors import ReadQuorumLost
from liteio.erasure.ranges import StripeGeometry, block_span

WINDOW_BYTES = 1 << 20
PREFETCH = 2  # windows read ahead of the one being consumed
# Verifying this many bytes or more goes to the CPU executor; less is cheaper inline.
INLINE_VERIFY_LIMIT = 256 << 10


class ShardSource(Protocol):
    async def read_at(self, offset: int, length: int) -> Any: ...


class MemorySource:
    """A shard stream already in memory (inline data from xl.meta)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)

    async def read_at(self, offset: int, length: int) -> memoryview:
        return self.data[offset : offset + length]


class ShardCorrupt(Exception):
    """A frame failed its bitrot check or the stream was short."""


BadShardCallback = Callable[[int, BaseException], None]


class ErasureDecoder:
    def __init__(
        self,
        codec: ReedSolomon,
        block_size: int,
        sources: Sequence[ShardSource | None],
        cpu: Executor,
        on_bad: BadShardCallback | None = None,
    ) -> None:
        if len(sources) != codec.total_shards:
            raise ValueError(f"{len(sources)} sources for {codec.total_shards} shards")
        self.codec = codec
        self.block_size = block_size
        self.sources: list[ShardSource | None] = list(sources)
        self.bad: dict[int, BaseException] = {}
        self._cpu = cpu
        self._on_bad = on_bad

    async def read(self, geometry: StripeGeometry, offset: int, length: int) -> AsyncIterator[bytes]:
        """Yield the part's bytes [offset, offset + length), about one block per item."""
        if length <= 0:
            return
        first, last = block_span(offset, length, self.block_size)
        frame = HASH_SIZE + geometry.full_shard
        per_window = max(1, WINDOW_BYTES // frame)
        windows = [(b, min(b + per_window - 1, last)) for b in range(first, last + 1, per_window)]
        loading: deque[asyncio.Future[dict[int, Any]]] = deque()
        following = 0
        try:
            for lo, hi in windows:
                # Keep PREFETCH windows reading ahead while this one is consumed.
                while following < len(windows) and len(loading) <= PREFETCH:
                    loading.append(asyncio.ensure_future(self._load_window(geometry, *windows[following])))
                    following += 1
                shards = await loading.popleft()
                for block in range(lo, hi + 1):
                    start = block * self.block_size
                    cut_lo = max(offset, start) - start
                    cut_hi = min(offset + length, start + geometry.block_length(block)) - start
                    yield self._assemble(geometry, shards, block - lo, block, cut_lo, cut_hi)
        finally:
            pending = [f for f in loading if not f.done()]
            for future in pending:
                future.cancel()
            await asyncio.gather(*loading, return_exceptions=True)

    # -- loading and verifying one window of blocks ------------------------------

    async def _load_window(self, geometry: StripeGeometry, lo: int, hi: int) -> dict[int, Any]:
        """Frames of blocks lo..hi from K good shards: {shard index: window bytes}."""
        k = self.codec.data_shards
        span = geometry.frames_span(lo, hi)
        good: dict[int, Any] = {}
        while len(good) < k:
            wanted = self._candidates(k - len(good), exclude=good)
            if len(wanted) < k - len(good):
                raise ReadQuorumLost(lo, len(good) + len(wanted), k)
            results = await asyncio.gather(
                *(self._read_shard(i, *span) for i in wanted), return_exceptions=True
            )
            fresh = {}
            for i, result in zip(wanted, results):
                if isinstance(result, BaseException):
                    if isinstance(result, asyncio.CancelledError):
                        raise result
                    self._mark_bad(i, result)
                else:
                    fresh[i] = result
            for i in await self._verify(geometry, lo, hi, fresh):
                self._mark_bad(i, ShardCorrupt(f"shard {i}: bitrot hash mismatch in blocks {lo}..{hi}"))
                del fresh[i]
            good.update(fresh)
        return good

    def _candidates(self, count: int, exclude: dict[int, Any]) -> list[int]:
        order = [i for i, s in enumerate(self.sources) if s is not None and i not in exclude]
        return order[:count]

    async def _read_shard(self, index: int, offset: int, length: int) -> Any:
        source = self.sources[index]
        assert source is not None
        data = await source.read_at(offset, length)
        if len(data) != length:
            raise ShardCorrupt(f"shard {index}: {len(data)} of {length} bytes at {offset}")
        return data

    async def _verify(self, geometry: StripeGeometry, lo: int, hi: int, fresh: dict[int, Any]) -> set[int]:
        if not fresh:
            return set()
        owners, payloads, hashes = [], [], []
        base = geometry.frame_offset(lo)
        for i, data in fresh.items():
            view = memoryview(data)
            for block in range(lo, hi + 1):
                at = geometry.frame_offset(block) - base
                owners.append(i)
                hashes.append(view[at : at + HASH_SIZE])
                payloads.append(view[at + HASH_SIZE : at + HASH_SIZE + geometry.shard_length(block)])
        total = sum(len(p) for p in payloads)
        if total >= INLINE_VERIFY_LIMIT:
            loop = asyncio.get_running_loop()
            mismatched = await loop.run_in_executor(
                self._cpu, verify_shards, BITROT_KEY, payloads, hashes
            )
        else:
            mismatched = verify_shards(BITROT_KEY, payloads, hashes)
        return {owners[j] for j in mismatched}

    def _mark_bad(self, index: int, error: BaseException) -> None:
        self.sources[index] = None
        self.bad[index] = error
        if self._on_bad is not None:
            self._on_bad(index, error)

    # -- turning K shards of a block into its bytes ---------------------------------

    def _assemble(
        self, geometry: StripeGeometry, window: dict[int, Any], position: int, block: int,
        cut_lo: int, cut_hi: int,
    ) -> bytes:
        k = self.codec.data_shards
        shard = geometry.shard_length(block)
        at = position * (HASH_SIZE + geometry.full_shard) + HASH_SIZE
        payloads: list[Any] = [None] * self.codec.total_shards
        for i, data in window.items():
            payloads[i] = memoryview(data)[at : at + shard]
        missing = [i for i in range(k) if payloads[i] is None]
        if missing:
            for i in missing:
                payloads[i] = bytearray(shard)
            self.codec.reconstruct(payloads, missing)
        pieces = []
        for i in range(cut_lo // shard, (cut_hi - 1) // shard + 1):
            lo = max(cut_lo - i * shard, 0)
            hi = min(cut_hi - i * shard, shard)
            pieces.append(memoryview(payloads[i])[lo:hi])
        return b"".join(pieces)
