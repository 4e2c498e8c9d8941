"""Streaming erasure encoder: a body of known size -> N framed shard streams.

The body is copied once, straight from the network chunks into the data
slots of a block buffer laid out as N frames::

    block buffer: | hash 0 | shard 0 | hash 1 | shard 1 | ... | hash N-1 | shard N-1 |
                  '---- frame 0 -----'  each frame is 32 + ceil(B/K) bytes

Parity is computed in place, the hashes written in front of each shard, and
frame i is handed to sink i as one contiguous write. Up to ``depth`` blocks
are in flight at once, each on its own buffer, while their stages overlap:
filling (event loop), hashing the body (MD5, checksums; one CPU thread, in
block order), sealing (encode, bitrot hashes; another CPU thread) and writing
(each sink in order on its drive's threads, never waiting for other drives).
Memory per stream is therefore at most ``depth`` block buffers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol

from liteio._ext.buffers import BufferPool
from liteio._ext.highwayhash import hash_shards
from liteio.erasure.bitrot import BITROT_KEY, HASH_SIZE, ceil_div
from liteio.erasure.codec import ReedSolomon
from liteio.erasure.errors import BodyTooLong, IncompleteBody, WriteQuorumLost
from liteio.erasure.ranges import StripeGeometry


class ShardSink(Protocol):
    async def write(self, data: Any) -> None: ...
    async def close(self) -> None: ...
    async def abort(self) -> None: ...


class Hasher(Protocol):
    def update(self, data: Any, /) -> None: ...


class MemorySink:
    """Collects a shard stream in memory (inline objects live in xl.meta)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, data: Any) -> None:
        self.data += data

    async def close(self) -> None:
        return None

    async def abort(self) -> None:
        self.data.clear()


def block_buffer_size(total_shards: int, block_size: int, data_shards: int) -> int:
    return total_shards * (HASH_SIZE + ceil_div(block_size, data_shards))


class _Block:
    """One block buffer and where its frames sit."""

    __slots__ = ("buf", "frame", "length", "shard")

    def __init__(self, buf: Any, frame: int, length: int, shard: int) -> None:
        self.buf = buf
        self.frame = frame  # stride between frames
        self.length = length  # body bytes in this block
        self.shard = shard  # shard bytes of this block

    def payload(self, i: int) -> memoryview:
        start = i * self.frame + HASH_SIZE
        return memoryview(self.buf)[start : start + self.shard]

    def framed(self, i: int) -> memoryview:
        start = i * self.frame
        return memoryview(self.buf)[start : start + HASH_SIZE + self.shard]


class _Job:
    """One block on its way through hashing, sealing and writing."""

    __slots__ = ("block", "hashed", "written")

    def __init__(self, block: _Block, hashed: asyncio.Future[None],
                 written: asyncio.Future[None]) -> None:
        self.block = block
        self.hashed = hashed
        self.written = written

    def tasks(self) -> list[asyncio.Future[None]]:
        return [self.hashed, self.written]


class ErasureEncoder:
    """Encodes one part into ``sinks[i]`` for shard i; ``None`` sinks are skipped.

    ``write_quorum`` sinks must survive to the end, else ``WriteQuorumLost``.
    ``hashers`` (MD5 for the ETag, S3 checksums) see the body bytes in order,
    on the CPU executor.
    """

    def __init__(
        self,
        codec: ReedSolomon,
        block_size: int,
        sinks: Sequence[ShardSink | None],
        write_quorum: int,
        cpu: Executor,
        pool: BufferPool | None = None,
        hashers: Sequence[Hasher] = (),
        depth: int = 3,
    ) -> None:
        if len(sinks) != codec.total_shards:
            raise ValueError(f"{len(sinks)} sinks for {codec.total_shards} shards")
        self.codec = codec
        self.block_size = block_size
        self.sinks: list[ShardSink | None] = list(sinks)
        self.write_quorum = write_quorum
        self.errors: dict[int, BaseException] = {}
        self._cpu = cpu
        self._pool = pool
        self._hashers = tuple(hashers)
        self._frame = HASH_SIZE + ceil_div(block_size, codec.data_shards)
        self._leftover: memoryview | None = None
        self._received = 0
        self.depth = depth
        self._last_hash: asyncio.Future[None] | None = None
        self._last_write: dict[int, asyncio.Task[None]] = {}

    @property
    def alive(self) -> list[int]:
        return [i for i, sink in enumerate(self.sinks) if sink is not None]

    async def encode(self, body: AsyncIterator[Any], size: int) -> list[int]:
        """Stream ``size`` body bytes into the sinks; returns the surviving shard indices."""
        geometry = StripeGeometry(size, self.block_size, self.codec.data_shards)
        source = aiter(body)
        inflight: deque[_Job] = deque()
        try:
            for index in range(geometry.block_count):
                if len(inflight) >= self.depth:
                    await self._retire(inflight.popleft())
                block = await self._new_block(geometry, index)
                await self._fill(source, block, size)
                inflight.append(self._start(block))
            await self._expect_end(source, size)
            while inflight:
                await self._retire(inflight.popleft())
            await self._close_all()
        except BaseException:
            pending = [t for job in inflight for t in job.tasks() if not t.done()]
            pending += [t for t in self._last_write.values() if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.abort()
            raise
        return self.alive

    def _start(self, block: _Block) -> _Job:
        """Hash the body (in order, block after block), seal and write, all in the background."""
        loop = asyncio.get_running_loop()
        hashed = asyncio.ensure_future(self._hash_after(self._last_hash, block))
        self._last_hash = hashed
        sealed = loop.run_in_executor(self._cpu, self._seal, block)
        # Queue each sink's write now, in block order, even though it waits for the seal:
        # seals run in parallel and may finish out of order.
        writes = {i: self._chain_write(i, block, sealed) for i in self.alive}
        written = asyncio.ensure_future(self._settle_writes(sealed, writes))
        return _Job(block, hashed, written)

    async def _retire(self, job: _Job) -> None:
        await job.hashed
        await job.written
        self._recycle(job.block)

    async def abort(self) -> None:
        sinks = [s for s in self.sinks if s is not None]
        await asyncio.gather(*(s.abort() for s in sinks), return_exceptions=True)

    # -- stages -----------------------------------------------------------------

    async def _new_block(self, geometry: StripeGeometry, index: int) -> _Block:
        length = geometry.block_length(index)
        shard = geometry.shard_length(index)
        if self._pool is not None and geometry.block_count > 1:
            buf: Any = await self._pool.acquire_async()
            return _Block(buf, self._frame, length, shard)
        # Single-block bodies (small objects) get an exact-size buffer.
        return _Block(bytearray(self.codec.total_shards * (HASH_SIZE + shard)),
                      HASH_SIZE + shard, length, shard)

    def _recycle(self, block: _Block | None) -> None:
        if block is None or self._pool is None or isinstance(block.buf, bytearray):
            return
        try:
            self._pool.release(block.buf)
        except BufferError:
            # A view is still alive somewhere (e.g. in a traceback); the buffer
            # returns itself to the pool when that last view is collected.
            pass

    async def _fill(self, source: AsyncIterator[Any], block: _Block, size: int) -> None:
        """Copy body bytes into the block's data slots (the one copy of the body)."""
        filled = 0
        shard = block.shard
        mv = memoryview(block.buf)
        while filled < block.length:
            chunk = self._leftover
            self._leftover = None
            if chunk is None or not len(chunk):
                try:
                    raw = await anext(source)
                except StopAsyncIteration:
                    raise IncompleteBody(size, self._received) from None
                chunk = memoryview(raw).cast("B") if not isinstance(raw, memoryview) else raw
                self._received += len(chunk)
                if self._received > size:
                    raise BodyTooLong(f"body is longer than the declared {size} bytes")
            take = min(len(chunk), block.length - filled)
            pos = 0
            while pos < take:
                slot, offset = divmod(filled, shard)
                n = min(shard - offset, take - pos)
                start = slot * block.frame + HASH_SIZE + offset
                mv[start : start + n] = chunk[pos : pos + n]
                pos += n
                filled += n
            if take < len(chunk):
                self._leftover = chunk[take:]

    async def _expect_end(self, source: AsyncIterator[Any], size: int) -> None:
        if self._leftover is not None and len(self._leftover):
            raise BodyTooLong(f"body is longer than the declared {size} bytes")
        while True:
            try:
                extra = await anext(source)
            except StopAsyncIteration:
                return
            if len(extra):
                raise BodyTooLong(f"body is longer than the declared {size} bytes")

    async def _hash_after(self, previous: asyncio.Future[None] | None, block: _Block) -> None:
        if previous is not None:
            await previous  # hashers must see the blocks in order
        if self._hashers:
            await asyncio.get_running_loop().run_in_executor(self._cpu, self._hash_body, block)

    def _hash_body(self, block: _Block) -> None:
        """CPU stage (executor thread, beside _seal): MD5 and checksums of the body bytes."""
        shard = block.shard
        for i in range(self.codec.data_shards):
            valid = min(shard, max(0, block.length - i * shard))
            if valid:
                payload = block.payload(i)[:valid]
                for hasher in self._hashers:
                    hasher.update(payload)

    def _seal(self, block: _Block) -> _Block:
        """CPU stage (executor thread): zero padding, parity, bitrot hashes."""
        k = self.codec.data_shards
        shard = block.shard
        payloads = [block.payload(i) for i in range(self.codec.total_shards)]
        for i in range(k):
            valid = min(shard, max(0, block.length - i * shard))
            if valid < shard:
                payloads[i][valid:] = bytes(shard - valid)
        self.codec.encode(payloads)
        hashes = [memoryview(block.buf)[i * block.frame : i * block.frame + HASH_SIZE]
                  for i in range(self.codec.total_shards)]
        hash_shards(BITROT_KEY, payloads, hashes)
        return block

    async def _settle_writes(self, sealed: asyncio.Future[_Block],
                             writes: dict[int, asyncio.Task[None]]) -> None:
        await sealed  # a failed seal is our error, not the drives'
        results = await asyncio.gather(*writes.values(), return_exceptions=True)
        for i, result in zip(writes, results):
            if isinstance(result, BaseException):
                await self._drop(i, result)
        self._check_quorum()

    def _chain_write(self, i: int, block: _Block,
                     sealed: asyncio.Future[_Block]) -> asyncio.Task[None]:
        """Sink i's write of this block, after its write of the previous block: each
        drive keeps its own pace instead of every block waiting for the slowest."""
        previous = self._last_write.get(i)

        async def write() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await sealed
            sink = self.sinks[i]
            if sink is not None:  # dropped while this write was queued
                await sink.write(block.framed(i))

        task = asyncio.ensure_future(write())
        self._last_write[i] = task
        return task

    async def _close_all(self) -> None:
        targets = self.alive
        results = await asyncio.gather(
            *(self._sink(i).close() for i in targets), return_exceptions=True
        )
        for i, result in zip(targets, results):
            if isinstance(result, BaseException):
                await self._drop(i, result)
        self._check_quorum()

    def _sink(self, i: int) -> ShardSink:
        sink = self.sinks[i]
        assert sink is not None
        return sink

    async def _drop(self, i: int, error: BaseException) -> None:
        if isinstance(error, asyncio.CancelledError):
            raise error
        sink = self.sinks[i]
        self.sinks[i] = None
        self.errors[i] = error
        if sink is not None:
            await asyncio.gather(sink.abort(), return_exceptions=True)

    def _check_quorum(self) -> None:
        alive = len(self.alive)
        if alive < self.write_quorum:
            raise WriteQuorumLost(alive, self.write_quorum, dict(self.errors))
