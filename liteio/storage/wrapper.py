"""``DelegatingDrive``: the base of ``StorageAPI`` wrappers (health, fault injection).

A wrapper adds one behaviour around every call of the drive it wraps. Here
each ``StorageAPI`` method forwards to ``inner`` through one hook,
``_forward(name, call)``, so a wrapper overrides the hook rather than every
method, and a method added to ``StorageAPI`` is wrapped once for all of them.
``name`` is the method's name (fault rules match it, health messages show it);
``call()`` starts the inner call, so the hook decides whether, when and under
what deadline it runs.

Shard streams and walks pass the hook call by call too: each shard ``write``,
``read_at`` and close, and each step of a walk, is a call of its own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from liteio.storage.api import (
    CommitResult,
    DiskInfo,
    ShardReader,
    ShardWriter,
    StorageAPI,
    VolumeInfo,
    WalkEntry,
)

if TYPE_CHECKING:
    from liteio.meta.versions import DeleteMarker, ObjectVersion

T = TypeVar("T")
U = TypeVar("U")


async def _nothing() -> None:
    return None


class DelegatingWriter(ShardWriter):
    """A shard writer whose calls go through its drive's hook."""

    __slots__ = ("_drive", "_inner")

    # The names the hook sees; FaultyDrive's rules match these.
    WRITE = "write"
    CLOSE = "writer_close"
    ABORT = "writer_abort"

    def __init__(self, drive: DelegatingDrive, inner: ShardWriter) -> None:
        self._drive = drive
        self._inner = inner

    async def write(self, data: Any) -> None:
        await self._drive._forward(self.WRITE, lambda: self._inner.write(data))

    async def close(self) -> None:
        await self._drive._forward(self.CLOSE, self._inner.close)

    async def abort(self) -> None:
        await self._drive._forward_cleanup(self.ABORT, self._inner.abort)


class DelegatingReader(ShardReader):
    """A shard reader whose calls go through its drive's hook."""

    __slots__ = ("_drive", "_inner")

    READ_AT = "read_at"
    CLOSE = "reader_close"

    def __init__(self, drive: DelegatingDrive, inner: ShardReader) -> None:
        self._drive = drive
        self._inner = inner

    async def read_at(self, offset: int, length: int) -> memoryview:
        return await self._drive._forward(self.READ_AT, lambda: self._inner.read_at(offset, length))

    async def close(self) -> None:
        await self._drive._forward_cleanup(self.CLOSE, self._inner.close)


class DelegatingDrive(StorageAPI):
    """Forwards every ``StorageAPI`` call to ``inner`` through ``_forward``.

    ``walk_batches`` stays ``StorageAPI``'s default (batches of one over
    ``walk``), so every entry passes the hook; a wrapper whose hook costs
    something per call (a deadline) forwards the inner drive's batches instead.
    """

    # The proxies around the inner drive's shard streams; a subclass names its
    # own to give their calls other names.
    writer_type: type[DelegatingWriter] = DelegatingWriter
    reader_type: type[DelegatingReader] = DelegatingReader

    def __init__(self, inner: StorageAPI) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint

    # -- hooks ------------------------------------------------------------------

    async def _forward(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one call of the inner drive; the base just awaits it."""
        return await call()

    async def _forward_cleanup(self, name: str, call: Callable[[], Awaitable[None]]) -> None:
        """A call that only releases a shard stream (``writer_abort``,
        ``reader_close``). It runs on error paths, so a wrapper may make it
        best effort; by default it is a call like any other."""
        await self._forward(name, call)

    async def _open_steps(self, name: str) -> None:
        """Runs before a walk opens the inner iterator: by default a no-op call
        of its own, so that the start of a walk passes the hook as ``name``."""
        await self._forward(name, _nothing)

    async def _close_steps(self, aclose: Callable[[], Awaitable[object]]) -> None:
        """Close the inner iterator of a walk that stopped (ended, failed or
        was abandoned by its consumer)."""
        await aclose()

    async def _forward_steps(
        self, opening: str, step: str, open_inner: Callable[[], AsyncIterator[U]]
    ) -> AsyncGenerator[U, None]:
        """Pull an inner iterator one step at a time through the hook, so a
        deadline or a fault applies to each step the drive takes, never to the
        time the consumer spends between steps."""
        await self._open_steps(opening)
        it = open_inner()
        try:
            while True:
                try:
                    item = await self._forward(step, it.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await self._close_steps(aclose)

    # -- StorageAPI -------------------------------------------------------------

    def is_online(self) -> bool:
        return self.inner.is_online()

    async def reconnect(self) -> bool:
        return await self._forward("reconnect", self.inner.reconnect)

    async def disk_info(self) -> DiskInfo:
        return await self._forward("disk_info", self.inner.disk_info)

    async def make_volume(self, volume: str) -> None:
        await self._forward("make_volume", lambda: self.inner.make_volume(volume))

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._forward("list_volumes", self.inner.list_volumes)

    async def stat_volume(self, volume: str) -> VolumeInfo:
        return await self._forward("stat_volume", lambda: self.inner.stat_volume(volume))

    async def delete_volume(self, volume: str, force: bool = False) -> None:
        await self._forward("delete_volume", lambda: self.inner.delete_volume(volume, force))

    async def read_all(self, volume: str, path: str) -> bytes:
        return await self._forward("read_all", lambda: self.inner.read_all(volume, path))

    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        await self._forward("write_all", lambda: self.inner.write_all(volume, path, data))

    async def delete(self, volume: str, path: str, recursive: bool = False) -> None:
        await self._forward("delete", lambda: self.inner.delete(volume, path, recursive))

    async def list_dir(self, volume: str, path: str) -> list[str]:
        return await self._forward("list_dir", lambda: self.inner.list_dir(volume, path))

    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        await self._forward(
            "rename", lambda: self.inner.rename(src_volume, src_path, dst_volume, dst_path)
        )

    async def create_shard(self, volume: str, path: str) -> ShardWriter:
        inner = await self._forward("create_shard", lambda: self.inner.create_shard(volume, path))
        return self.writer_type(self, inner)

    async def open_shard(self, volume: str, path: str) -> ShardReader:
        inner = await self._forward("open_shard", lambda: self.inner.open_shard(volume, path))
        return self.reader_type(self, inner)

    async def read_xl(self, volume: str, path: str) -> bytes:
        return await self._forward("read_xl", lambda: self.inner.read_xl(volume, path))

    async def write_xl(self, volume: str, path: str, data: bytes) -> None:
        await self._forward("write_xl", lambda: self.inner.write_xl(volume, path, data))

    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        return await self._forward(
            "commit_version",
            lambda: self.inner.commit_version(volume, path, version, inline, staged_data_dir),
        )

    async def add_delete_marker(self, volume: str, path: str, marker: DeleteMarker) -> CommitResult:
        return await self._forward(
            "add_delete_marker", lambda: self.inner.add_delete_marker(volume, path, marker)
        )

    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        return await self._forward(
            "delete_version", lambda: self.inner.delete_version(volume, path, version_id)
        )

    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        await self._forward(
            "update_version", lambda: self.inner.update_version(volume, path, version)
        )

    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        await self._forward(
            "restore_xl",
            lambda: self.inner.restore_xl(volume, path, previous_xl, new_data_dir),
        )

    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        await self._forward(
            "discard_data_dir", lambda: self.inner.discard_data_dir(volume, path, data_dir)
        )

    def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncGenerator[WalkEntry, None]:
        return self._forward_steps(
            "walk",
            "walk_next",
            lambda: self.inner.walk(volume, prefix, recursive=recursive, start_after=start_after),
        )

    async def clean_tmp(self) -> None:
        await self._forward("clean_tmp", self.inner.clean_tmp)

    async def close(self) -> None:
        await self.inner.close()
