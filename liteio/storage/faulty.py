"""``FaultyDrive``: a ``StorageAPI`` wrapper that injects failures, for tests.

Faults are rules matched by call name and call count, changeable at run time:

    drive = FaultyDrive(LocalDrive(tmp))
    drive.add(Fault("commit_version", after=2, times=1))        # the 3rd commit fails
    drive.add(Fault("read_xl", error=FileCorrupt))              # every read_xl fails
    hang = drive.add(Fault("create_shard", action="hang"))      # blocks until release()
    drive.add(Fault("read_at", action="corrupt"))               # flips a byte of each read
    ...
    drive.release()        # wake every hung call (they then go on normally)
    drive.remove(hang)     # or hang.enabled = False; drive.clear() drops all rules

Call names are the ``StorageAPI`` method names, plus ``write``,
``writer_close``, ``writer_abort`` (shard writers), ``read_at``,
``reader_close`` (shard readers) and ``walk_next`` (each walk step). A rule
counts the calls it matches; it fires on calls ``after + 1`` ..
``after + times`` (``times=None``: forever). The first firing rule wins.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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
Action = Literal["raise", "hang", "corrupt", "delay"]


@dataclass(eq=False)
class Fault:
    """One injection rule (see the module docstring)."""

    method: str
    after: int = 0
    times: int | None = None
    action: Action = "raise"
    error: type[StorageError] | StorageError = DriveOffline
    delay: float = 0.0  # seconds, for action "delay"
    corrupt_at: int | None = None  # byte to flip for "corrupt" (default: the middle)
    enabled: bool = True
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def _matches(self, name: str) -> bool:
        if not self.enabled or self.method != name:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def make_error(self, name: str, n: int) -> StorageError:
        if isinstance(self.error, StorageError):
            return self.error
        return self.error(f"injected fault: {name} call #{n}")


def _flip(data: Any, at: int | None) -> Any:
    """A copy of bytes-like ``data`` (or a walk entry's xl.meta) with one byte
    inverted, same type back; anything else unchanged."""
    if isinstance(data, WalkEntry):
        return data if data.xl is None else WalkEntry(data.key, _flip(data.xl, at))
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        return data
    buf = bytearray(data)
    i = len(buf) // 2 if at is None else at % len(buf)
    buf[i] ^= 0xFF
    if isinstance(data, memoryview):
        return memoryview(buf)
    return bytes(buf) if isinstance(data, bytes) else buf


class FaultyDrive(StorageAPI):
    def __init__(self, inner: StorageAPI, faults: list[Fault] | None = None) -> None:
        self.inner = inner
        self.endpoint = inner.endpoint
        self.faults: list[Fault] = list(faults or [])
        self.calls: Counter[str] = Counter()
        self._release: asyncio.Event | None = None
        self.hanging = 0  # calls blocked in a "hang" right now

    # -- rules ------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        self.faults = [f for f in self.faults if f is not fault]

    def clear(self) -> None:
        """Drop every rule and wake hung calls."""
        self.faults = []
        self.release()

    def release(self) -> None:
        """Let every call hung so far go on (later matching calls hang again)."""
        if self._release is not None:
            self._release.set()
            self._release = None

    def _match(self, name: str) -> Fault | None:
        self.calls[name] += 1
        hit = None
        for fault in self.faults:
            # Every rule for this name counts the call, even behind a firing one.
            if fault._matches(name) and hit is None:
                hit = fault
        return hit

    async def _before(self, name: str, fault: Fault) -> None:
        if fault.action == "raise":
            raise fault.make_error(name, self.calls[name])
        if fault.action == "delay":
            await asyncio.sleep(fault.delay)
        elif fault.action == "hang":
            if self._release is None:
                self._release = asyncio.Event()
            event = self._release
            self.hanging += 1
            try:
                await event.wait()
            finally:
                self.hanging -= 1

    async def _call(self, name: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        fault = self._match(name)
        if fault is not None:
            await self._before(name, fault)
        result = await fn(*args)
        if fault is not None and fault.action == "corrupt":
            result = _flip(result, fault.corrupt_at)
        return result

    # -- StorageAPI -----------------------------------------------------------------

    def is_online(self) -> bool:
        for fault in self.faults:
            if fault.enabled and fault.method == "is_online" and fault.action == "raise":
                return False
        return self.inner.is_online()

    async def reconnect(self) -> bool:
        return await self._call("reconnect", self.inner.reconnect)

    async def disk_info(self) -> DiskInfo:
        return await self._call("disk_info", self.inner.disk_info)

    async def make_volume(self, volume: str) -> None:
        await self._call("make_volume", self.inner.make_volume, volume)

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._call("list_volumes", self.inner.list_volumes)

    async def stat_volume(self, volume: str) -> VolumeInfo:
        return await self._call("stat_volume", self.inner.stat_volume, volume)

    async def delete_volume(self, volume: str, force: bool = False) -> None:
        await self._call("delete_volume", self.inner.delete_volume, volume, force)

    async def read_all(self, volume: str, path: str) -> bytes:
        return await self._call("read_all", self.inner.read_all, volume, path)

    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        await self._call("write_all", self.inner.write_all, volume, path, data)

    async def delete(self, volume: str, path: str, recursive: bool = False) -> None:
        await self._call("delete", self.inner.delete, volume, path, recursive)

    async def list_dir(self, volume: str, path: str) -> list[str]:
        return await self._call("list_dir", self.inner.list_dir, volume, path)

    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        await self._call("rename", self.inner.rename, src_volume, src_path, dst_volume, dst_path)

    async def create_shard(self, volume: str, path: str) -> ShardWriter:
        inner = await self._call("create_shard", self.inner.create_shard, volume, path)
        return _FaultyWriter(self, inner)

    async def open_shard(self, volume: str, path: str) -> ShardReader:
        inner = await self._call("open_shard", self.inner.open_shard, volume, path)
        return _FaultyReader(self, inner)

    async def read_xl(self, volume: str, path: str) -> bytes:
        return await self._call("read_xl", self.inner.read_xl, volume, path)

    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        return await self._call(
            "commit_version", self.inner.commit_version, volume, path, version, inline,
            staged_data_dir,
        )

    async def add_delete_marker(
        self, volume: str, path: str, marker: DeleteMarker
    ) -> CommitResult:
        return await self._call("add_delete_marker", self.inner.add_delete_marker, volume, path,
                                marker)

    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        return await self._call("delete_version", self.inner.delete_version, volume, path,
                                version_id)

    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        await self._call("update_version", self.inner.update_version, volume, path, version)

    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        await self._call("restore_xl", self.inner.restore_xl, volume, path, previous_xl,
                         new_data_dir)

    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        await self._call("discard_data_dir", self.inner.discard_data_dir, volume, path, data_dir)

    async def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[WalkEntry]:
        async def start() -> None:
            return None

        await self._call("walk", start)
        it = self.inner.walk(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            while True:
                try:
                    entry = await self._call("walk_next", anext, it)
                except StopAsyncIteration:
                    return
                yield entry
        finally:
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()

    async def clean_tmp(self) -> None:
        await self._call("clean_tmp", self.inner.clean_tmp)

    async def close(self) -> None:
        self.release()
        await self.inner.close()

    def __repr__(self) -> str:
        return f"<FaultyDrive {self.endpoint} faults={len(self.faults)}>"


class _FaultyWriter(ShardWriter):
    __slots__ = ("_drive", "_inner")

    def __init__(self, drive: FaultyDrive, inner: ShardWriter) -> None:
        self._drive = drive
        self._inner = inner

    async def write(self, data: Any) -> None:
        await self._drive._call("write", self._inner.write, data)

    async def close(self) -> None:
        await self._drive._call("writer_close", self._inner.close)

    async def abort(self) -> None:
        await self._drive._call("writer_abort", self._inner.abort)


class _FaultyReader(ShardReader):
    __slots__ = ("_drive", "_inner")

    def __init__(self, drive: FaultyDrive, inner: ShardReader) -> None:
        self._drive = drive
        self._inner = inner

    async def read_at(self, offset: int, length: int) -> memoryview:
        return await self._drive._call("read_at", self._inner.read_at, offset, length)

    async def close(self) -> None:
        await self._drive._call("reader_close", self._inner.close)
