"""Shard streams for healing: check one, rebuild missing ones from K good ones.

Both work a window of blocks at a time (about 1 MiB of each stream), so
memory is bounded by the window, never by the object::

    sources (K verified streams)      targets (the shards to rebuild)
    | h | s0 | h | s0 | ...  \\
    | h | s1 | h | s1 | ...   >-- per block: RS reconstruct --> | h' | t | h' | t | ...
                             /    into the target's window,        (fresh HighwayHash)
                                  then hash, then one write

Three windows overlap: the next one is read while this one is rebuilt, and
the previous one is written meanwhile (two output buffers per target, reused
for the whole part). A source that turns out short or rotten while
rebuilding is dropped for the rest of the part (the next good stream takes
its place) and reported, so the caller can rebuild it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from liteio._ext.buffers import aligned_empty
from liteio._ext.highwayhash import hash_shards, verify_shards
from liteio.erasure.bitrot import BITROT_KEY, HASH_SIZE
from liteio.erasure.codec import ReedSolomon
from liteio.erasure.decode import ShardSource
from liteio.erasure.encode import ShardSink
from liteio.erasure.ranges import StripeGeometry
from liteio.heal.results import SHARD_BITROT, SHARD_LONG, SHARD_SHORT, SHARD_UNREADABLE
from liteio.storage import errors as serr

WINDOW_BYTES = 2 << 20  # per stream; a part's rebuild holds about (2K + 2T) of these
# Verifying less than this is cheaper on the event loop than a hop to the executor.
INLINE_CPU_LIMIT = 256 << 10


class TooFewSources(Exception):
    """Fewer than K intact shard streams remain: the part cannot be rebuilt."""


def windows(geometry: StripeGeometry) -> list[tuple[int, int]]:
    """(first, last) block of each window of a part."""
    count = geometry.block_count
    per = max(1, WINDOW_BYTES // (HASH_SIZE + geometry.full_shard))
    return [(lo, min(lo + per, count) - 1) for lo in range(0, count, per)]


def _frames(geometry: StripeGeometry, lo: int, hi: int, data: Any
            ) -> tuple[list[memoryview], list[memoryview]]:
    """(payloads, hashes) of blocks lo..hi in a window of one stream."""
    view = memoryview(data)
    base = geometry.frame_offset(lo)
    payloads, hashes = [], []
    for block in range(lo, hi + 1):
        at = geometry.frame_offset(block) - base
        hashes.append(view[at : at + HASH_SIZE])
        payloads.append(view[at + HASH_SIZE : at + HASH_SIZE + geometry.shard_length(block)])
    return payloads, hashes


async def _on_cpu(cpu: Executor, size: int, fn: Any, *args: Any) -> Any:
    if size < INLINE_CPU_LIMIT:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(cpu, fn, *args)


def _window_intact(geometry: StripeGeometry, lo: int, hi: int, data: Any) -> bool:
    payloads, hashes = _frames(geometry, lo, hi, data)
    return not verify_shards(BITROT_KEY, payloads, hashes)


async def check_stream(source: ShardSource, geometry: StripeGeometry, cpu: Executor,
                       deep: bool) -> str | None:
    """Why a stream is bad (``results.SHARD_*``), or None if it is intact.

    Always: its length is exactly the framed size. ``deep``: every frame's
    HighwayHash too, reading the whole stream a window at a time.
    """
    size = geometry.stream_size
    try:
        # One read of two bytes across the expected end tells short, exact and long apart.
        tail = await source.read_at(max(size - 1, 0), 1 if size == 0 else 2)
        expect = 0 if size == 0 else 1
        if len(tail) != expect:
            return SHARD_SHORT if len(tail) < expect else SHARD_LONG
        if not deep:
            return None
        for lo, hi in windows(geometry):
            offset, length = geometry.frames_span(lo, hi)
            data = await source.read_at(offset, length)
            if len(data) != length:
                return SHARD_SHORT
            if not await _on_cpu(cpu, length, _window_intact, geometry, lo, hi, data):
                return SHARD_BITROT
    except serr.StorageError:
        return SHARD_UNREADABLE
    return None


def _build_window(codec: ReedSolomon, geometry: StripeGeometry, lo: int, hi: int,
                  sources: dict[int, Any], out: dict[int, Any]) -> dict[int, memoryview]:
    """The framed windows of the targets (``out``'s keys) for blocks lo..hi, built in
    ``out``'s buffers from K verified source windows."""
    _, length = geometry.frames_span(lo, hi)
    targets = sorted(out)
    views = {t: memoryview(buf)[:length] for t, buf in out.items()}
    src = {i: memoryview(data) for i, data in sources.items()}
    base = geometry.frame_offset(lo)
    for block in range(lo, hi + 1):
        at = geometry.frame_offset(block) - base + HASH_SIZE
        n = geometry.shard_length(block)
        payloads: list[Any] = [None] * codec.total_shards
        for i, view in src.items():
            payloads[i] = view[at : at + n]
        for t in targets:
            payloads[t] = views[t][at : at + n]
        codec.reconstruct(payloads, targets)
        hash_shards(BITROT_KEY, [payloads[t] for t in targets],
                    [views[t][at - HASH_SIZE : at] for t in targets])
    return views


class PartRebuilder:
    """Rebuilds the shards ``targets`` of one part from the streams in ``sources``.

    ``sources[i]`` is shard i's stream (None: unusable); targets are never
    read. After ``run``: ``bad`` holds sources found short, unreadable or
    rotten on the way (shard index -> reason), ``failed`` targets whose sink
    failed (index -> error), ``written`` the bytes each surviving target got.
    """

    def __init__(self, codec: ReedSolomon, geometry: StripeGeometry,
                 sources: Sequence[ShardSource | None], targets: dict[int, ShardSink],
                 cpu: Executor) -> None:
        self.codec = codec
        self.geometry = geometry
        self.sources = list(sources)
        self.targets = dict(targets)
        for t in self.targets:
            self.sources[t] = None
        self.cpu = cpu
        self.bad: dict[int, str] = {}
        self.failed: dict[int, BaseException] = {}
        self.written: dict[int, int] = dict.fromkeys(self.targets, 0)

    async def run(self) -> None:
        """Rebuild every window; raises ``TooFewSources`` when K good streams run out."""
        plan = windows(self.geometry) if self.geometry.part_size else []
        if not plan:
            return
        size = self.geometry.frames_span(*plan[0])[1]
        buffers = [{t: aligned_empty(size) for t in self.targets} for _ in range(2)]
        ahead: asyncio.Future[dict[int, Any]] | None = None
        writing: asyncio.Future[None] | None = None
        try:
            for n, (lo, hi) in enumerate(plan):
                loading = ahead or asyncio.ensure_future(self._load(lo, hi))
                ahead = None
                window = await loading
                if n + 1 < len(plan):  # read the next window while this one is built
                    ahead = asyncio.ensure_future(self._load(*plan[n + 1]))
                out = {t: buf for t, buf in buffers[n % 2].items() if t in self.targets}
                built = await _on_cpu(self.cpu, size * len(out), _build_window, self.codec,
                                      self.geometry, lo, hi, window, out)
                if writing is not None:  # the previous window's writes: its buffers are free
                    await writing
                writing = asyncio.ensure_future(self._write(built))
                if not self.targets:
                    return
            if writing is not None:
                await writing
                writing = None
        finally:
            for future in (ahead, writing):
                if future is not None and not future.done():
                    future.cancel()
            await asyncio.gather(*(f for f in (ahead, writing) if f is not None),
                                 return_exceptions=True)

    async def _load(self, lo: int, hi: int) -> dict[int, Any]:
        """Verified windows of K sources (data shards preferred)."""
        k = self.codec.data_shards
        offset, length = self.geometry.frames_span(lo, hi)
        good: dict[int, Any] = {}
        while len(good) < k:
            order = [i for i, s in enumerate(self.sources) if s is not None and i not in good]
            wanted = order[: k - len(good)]
            if len(wanted) < k - len(good):
                raise TooFewSources(f"blocks {lo}..{hi}: {len(good) + len(wanted)} intact "
                                    f"shards, {k} needed")
            reads = await asyncio.gather(
                *(self._read(i, offset, length) for i in wanted), return_exceptions=True)
            for i, data in zip(wanted, reads):
                if isinstance(data, BaseException):
                    if not isinstance(data, serr.StorageError):
                        raise data
                    self._drop(i, SHARD_UNREADABLE)
                elif len(data) != length:
                    self._drop(i, SHARD_SHORT)
                elif not await _on_cpu(self.cpu, length, _window_intact, self.geometry,
                                       lo, hi, data):
                    self._drop(i, SHARD_BITROT)
                else:
                    good[i] = data
        return good

    async def _read(self, index: int, offset: int, length: int) -> Any:
        source = self.sources[index]
        assert source is not None
        return await source.read_at(offset, length)

    def _drop(self, index: int, reason: str) -> None:
        self.sources[index] = None
        self.bad[index] = reason

    async def _write(self, built: dict[int, memoryview]) -> None:
        """One window to every target still alive; a target whose write fails is dropped."""
        targets = [t for t in built if t in self.targets]
        results = await asyncio.gather(
            *(self.targets[t].write(built[t]) for t in targets), return_exceptions=True)
        for t, result in zip(targets, results):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self.failed[t] = result
                sink = self.targets.pop(t)
                await asyncio.gather(sink.abort(), return_exceptions=True)
            else:
                self.written[t] += len(built[t])
