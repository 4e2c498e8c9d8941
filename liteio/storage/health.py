"""``HealthCheckedDrive``: deadlines, failure counting and offline tracking for a drive.

A drive that hangs (dead disk, stuck NFS, lost remote node) must not hang
the request: every call, every shard write/read and every step of a walk
runs under a deadline. A call that misses it, or any ``DriveOffline``,
marks the drive offline; from then on calls fail fast with ``DriveOffline``
(the object layer counts the drive as missing for quorum) until ``check``
finds it healthy again, on demand or from the background monitor.

Deadlines use ``asyncio.timeout`` (one timer per call) rather than
``asyncio.wait_for``, which wraps each call in a new task: walks take one
deadline per entry, so that cost matters. A timed-out call is cancelled
where it waits; a thread of the drive's pool stuck in a syscall stays stuck,
which is why the drive is then left alone until a probe succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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
from liteio.storage.errors import DriveOffline, StorageError

if TYPE_CHECKING:
    from liteio.meta.versions import DeleteMarker, ObjectVersion

T = TypeVar("T")
log = logging.getLogger("liteio.storage.health")

# Unclassified StorageErrors (EMFILE, EACCES on one file, ...) in a row before
# the drive is declared offline; classified ones (not found, corrupt, full)
# mean the drive answered and reset the count.
DEFAULT_MAX_FAILURES = 8


class HealthCheckedDrive(StorageAPI):
    def __init__(
        self,
        inner: StorageAPI,
        timeout: float = 30.0,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.timeout = timeout
        self.max_failures = max_failures
        self.consecutive_failures = 0
        self.last_error = ""
        self._online = inner.is_online()
        self._monitor: asyncio.Task[None] | None = None
        self._checking: asyncio.Lock | None = None

    # -- state ------------------------------------------------------------------

    def is_online(self) -> bool:
        return self._online and self.inner.is_online()

    def _mark_offline(self, reason: str) -> DriveOffline:
        if self._online:
            log.warning("event=drive_offline endpoint=%s reason=%r", self.endpoint, reason)
        self._online = False
        self.last_error = reason
        return DriveOffline(f"{self.endpoint}: {reason}")

    def _ensure_online(self) -> None:
        if not self.is_online():
            raise DriveOffline(f"{self.endpoint}: offline ({self.last_error or 'drive down'})")

    async def _guard(self, name: str, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        """Run one call of the inner drive under the deadline, tracking health."""
        self._ensure_online()
        return await self._deadline(name, fn(*args, **kw))

    async def _deadline(self, name: str, aw: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                result = await aw
        except TimeoutError:
            self.consecutive_failures += 1
            raise self._mark_offline(f"{name} timed out after {self.timeout:g}s") from None
        except DriveOffline as exc:
            self.consecutive_failures += 1
            raise self._mark_offline(f"{name}: {exc}") from None
        except StorageError as exc:
            if type(exc) is StorageError:
                self._count_failure(name, exc)
            else:
                self.consecutive_failures = 0
            raise
        except (asyncio.CancelledError, StopAsyncIteration):
            raise
        except Exception as exc:  # a misbehaving inner drive: never let it escape raw
            self._count_failure(name, exc)
            raise StorageError(f"{name}: {type(exc).__name__}: {exc}") from exc
        self.consecutive_failures = 0
        return result

    def _count_failure(self, name: str, exc: BaseException) -> None:
        self.consecutive_failures += 1
        self.last_error = f"{name}: {exc}"
        if self.consecutive_failures >= self.max_failures:
            self._mark_offline(f"{self.consecutive_failures} failures in a row, last {name}: {exc}")

    async def check(self) -> bool:
        """Probe the drive (reconnect, then disk_info under the deadline); bring
        it back online on success. Concurrent checks share one probe."""
        if self._checking is None:
            self._checking = asyncio.Lock()
        async with self._checking:
            try:
                async with asyncio.timeout(self.timeout):
                    ok = await self.inner.reconnect()
                    if ok:
                        await self.inner.disk_info()
            except (StorageError, TimeoutError) as exc:
                self.last_error = f"probe: {exc or type(exc).__name__}"
                ok = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any probe failure means "still down"
                self.last_error = f"probe: {type(exc).__name__}: {exc}"
                ok = False
            if ok and not self._online:
                log.info("event=drive_online endpoint=%s", self.endpoint)
            self._online = ok
            if ok:
                self.consecutive_failures = 0
            return ok

    def start_monitor(self, interval: float = 5.0) -> None:
        """Probe an offline drive every ``interval`` seconds in the background."""
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._monitor_loop(interval))

    async def _monitor_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.is_online():
                await self.check()

    async def reconnect(self) -> bool:
        return await self.check()

    # -- StorageAPI -----------------------------------------------------------------

    async def disk_info(self) -> DiskInfo:
        return await self._guard("disk_info", self.inner.disk_info)

    async def make_volume(self, volume: str) -> None:
        await self._guard("make_volume", self.inner.make_volume, volume)

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._guard("list_volumes", self.inner.list_volumes)

    async def stat_volume(self, volume: str) -> VolumeInfo:
        return await self._guard("stat_volume", self.inner.stat_volume, volume)

    async def delete_volume(self, volume: str, force: bool = False) -> None:
        await self._guard("delete_volume", self.inner.delete_volume, volume, force)

    async def read_all(self, volume: str, path: str) -> bytes:
        return await self._guard("read_all", self.inner.read_all, volume, path)

    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        await self._guard("write_all", self.inner.write_all, volume, path, data)

    async def delete(self, volume: str, path: str, recursive: bool = False) -> None:
        await self._guard("delete", self.inner.delete, volume, path, recursive)

    async def list_dir(self, volume: str, path: str) -> list[str]:
        return await self._guard("list_dir", self.inner.list_dir, volume, path)

    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        await self._guard("rename", self.inner.rename, src_volume, src_path, dst_volume, dst_path)

    async def create_shard(self, volume: str, path: str) -> ShardWriter:
        inner = await self._guard("create_shard", self.inner.create_shard, volume, path)
        return _GuardedWriter(self, inner)

    async def open_shard(self, volume: str, path: str) -> ShardReader:
        inner = await self._guard("open_shard", self.inner.open_shard, volume, path)
        return _GuardedReader(self, inner)

    async def read_xl(self, volume: str, path: str) -> bytes:
        return await self._guard("read_xl", self.inner.read_xl, volume, path)

    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        return await self._guard(
            "commit_version", self.inner.commit_version, volume, path, version, inline,
            staged_data_dir,
        )

    async def add_delete_marker(
        self, volume: str, path: str, marker: DeleteMarker
    ) -> CommitResult:
        return await self._guard("add_delete_marker", self.inner.add_delete_marker, volume, path,
                                 marker)

    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        return await self._guard("delete_version", self.inner.delete_version, volume, path,
                                 version_id)

    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        await self._guard("update_version", self.inner.update_version, volume, path, version)

    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        await self._guard("restore_xl", self.inner.restore_xl, volume, path, previous_xl,
                          new_data_dir)

    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        await self._guard("discard_data_dir", self.inner.discard_data_dir, volume, path, data_dir)

    async def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[WalkEntry]:
        batches = self.walk_batches(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            async for batch in batches:
                for entry in batch:
                    yield entry
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    async def walk_batches(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[list[WalkEntry]]:
        self._ensure_online()
        it = self.inner.walk_batches(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            while True:
                # NOTE: the deadline covers each batch the drive produces, never
                # the time our consumer spends between batches.
                self._ensure_online()
                try:
                    batch = await self._deadline("walk", anext(it))
                except StopAsyncIteration:
                    return
                yield batch
        finally:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await aclose()

    async def clean_tmp(self) -> None:
        await self._guard("clean_tmp", self.inner.clean_tmp)

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
            self._monitor = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeout):
                await self.inner.close()

    def __repr__(self) -> str:
        state = "online" if self.is_online() else f"offline ({self.last_error})"
        return f"<HealthCheckedDrive {self.endpoint} {state}>"


class _GuardedWriter(ShardWriter):
    __slots__ = ("_drive", "_inner")

    def __init__(self, drive: HealthCheckedDrive, inner: ShardWriter) -> None:
        self._drive = drive
        self._inner = inner

    async def write(self, data: Any) -> None:
        await self._drive._guard("shard write", self._inner.write, data)

    async def close(self) -> None:
        await self._drive._guard("shard close", self._inner.close)

    async def abort(self) -> None:
        # Best effort even when the drive is offline: it frees a descriptor.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._drive.timeout):
                await self._inner.abort()


class _GuardedReader(ShardReader):
    __slots__ = ("_drive", "_inner")

    def __init__(self, drive: HealthCheckedDrive, inner: ShardReader) -> None:
        self._drive = drive
        self._inner = inner

    async def read_at(self, offset: int, length: int) -> memoryview:
        return await self._drive._guard("shard read", self._inner.read_at, offset, length)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._drive.timeout):
                await self._inner.close()
