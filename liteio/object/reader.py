"""Streaming one resolved object version: parts -> blocks -> bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from liteio.erasure import errors as eerr
from liteio.erasure.codec import codec_for
from liteio.erasure.decode import ErasureDecoder, MemorySource, ShardSource
from liteio.erasure.ranges import StripeGeometry, slice_parts
from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.object.quorum import Resolved
from liteio.object.types import ObjectInfo
from liteio.storage.api import ShardReader, StorageAPI
from liteio.storage.paths import encode_key

if TYPE_CHECKING:
    from liteio.object.erasure_set import ErasureSet


class LazyShardSource:
    """Opens a part file on first read, so parity files are opened only when needed."""

    __slots__ = ("_drive", "_path", "_reader", "_volume")

    def __init__(self, drive: StorageAPI, volume: str, path: str) -> None:
        self._drive = drive
        self._volume = volume
        self._path = path
        self._reader: ShardReader | None = None

    async def open(self) -> None:
        if self._reader is None:
            self._reader = await self._drive.open_shard(self._volume, self._path)

    async def read_at(self, offset: int, length: int) -> Any:
        if self._reader is None:
            self._reader = await self._drive.open_shard(self._volume, self._path)
        return await self._reader.read_at(offset, length)

    async def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.close()


class ObjectReader:
    """An object version ready to stream; ``info`` says what it is."""

    def __init__(self, erasure_set: ErasureSet, bucket: str, key: str, info: ObjectInfo,
                 resolved: Resolved, metas: Sequence[XLMeta | None]) -> None:
        self.set = erasure_set
        self.bucket = bucket
        self.key = key
        self.info = info
        self._resolved = resolved
        self._metas = metas
        version = resolved.version
        assert isinstance(version, ObjectVersion)
        self._version = version
        self._pinned: dict[int, tuple[list[ShardSource | None], list[LazyShardSource]]] = {}

    async def pin(self) -> None:
        """Open the first part's data shards now, while the caller holds the read lock.

        An overwrite or delete committed after the lock is released removes this
        version's data dir; open files keep their bytes, so the stream still
        reads the version it was opened for. (Parity, needed only when a data
        shard is bad, and later parts are still opened lazily.)
        """
        v = self._version
        if v.size == 0 or not v.parts:
            return
        number = v.parts[0].number
        sources, opened = self._sources(number, v.ec_m + v.ec_n)
        self._pinned[number] = (sources, opened)
        data = [s for s in sources[: v.ec_m] if isinstance(s, LazyShardSource)]
        # A shard that fails to open is left to the decoder, which retries and reports it.
        await asyncio.gather(*(s.open() for s in data), return_exceptions=True)

    async def close(self) -> None:
        """Release what ``pin`` opened, for a reader that is not streamed to the end."""
        pinned, self._pinned = self._pinned, {}
        await asyncio.gather(*(s.close() for _, opened in pinned.values() for s in opened),
                             return_exceptions=True)

    async def stream(self, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Yield [offset, offset + length) of the object (default: all of it)."""
        try:
            async for chunk in self._stream(offset, length):
                yield chunk
        finally:
            await self.close()

    async def _stream(self, offset: int, length: int | None) -> AsyncIterator[bytes]:
        v = self._version
        total = v.size
        length = total - offset if length is None else length
        codec = codec_for(v.ec_m, v.ec_n)
        sizes = [p.size for p in v.parts]
        for piece in slice_parts(sizes, offset, length):
            part = v.parts[piece.index]
            pinned = self._pinned.pop(part.number, None)
            sources, opened = pinned or self._sources(part.number, codec.total_shards)
            decoder = ErasureDecoder(
                codec, v.ec_block_size, sources, self.set.cpu,
                on_bad=lambda shard, _err: self._report_bad(shard),
            )
            geometry = StripeGeometry(part.size, v.ec_block_size, v.ec_m)
            try:
                async for chunk in decoder.read(geometry, piece.offset, piece.length):
                    yield chunk
            except eerr.ReadQuorumLost as exc:
                raise oerr.InsufficientReadQuorum(str(exc), bucket=self.bucket, key=self.key) from None
            finally:
                await asyncio.gather(*(s.close() for s in opened), return_exceptions=True)

    def _sources(self, part_number: int, total: int) -> tuple[list[ShardSource | None], list[LazyShardSource]]:
        """Shard index -> where to read it, for every drive that holds this version."""
        vid = self._resolved.header.version_id
        sources: list[ShardSource | None] = [None] * total
        opened: list[LazyShardSource] = []
        path = encode_key(self.key)
        for position in self._resolved.drives:
            xl = self._metas[position]
            if xl is None:
                continue
            version = xl.find(vid)
            if not isinstance(version, ObjectVersion) or not 1 <= version.ec_index <= total:
                continue
            shard = version.ec_index - 1
            inline = xl.inline_data(vid) if part_number == 1 else None
            if inline is not None:
                sources[shard] = MemorySource(inline)
            else:
                lazy = LazyShardSource(
                    self.set.drives[position], self.bucket,
                    f"{path}/{version.data_dir_text}/part.{part_number}")
                sources[shard] = lazy
                opened.append(lazy)
        return sources, opened

    def _report_bad(self, shard: int) -> None:
        dist = self._version.ec_dist
        position = dist.index(shard + 1) if shard + 1 in dist else -1
        self.set.note_bad_shard(self.bucket, self.key, position)
