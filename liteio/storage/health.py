"""``HealthCheckedDrive``: deadlines, failure counting and offline tracking for a drive.

A drive that hangs (dead disk, stuck NFS, lost remote node) must not hang
the request: every call, every shard write/read and every step of a walk
runs under a deadline. A call that misses it, or any ``DriveOffline``,
marks the drive offline; from then on calls fail fast with ``DriveOffline``
(the object layer counts the drive as missing for quorum) until ``check``
finds it healthy again, on demand or from the background monitor.

Every call reaches the inner drive through ``DelegatingDrive``'s hooks, so
this class overrides those (``_forward`` holds the deadline and the failure
counting) and the few methods that really differ. Deadlines use
``asyncio.timeout`` (one timer per call) rather than ``asyncio.wait_for``,
which wraps each call in a new task: shard streams take one deadline per
block and walks one per batch, so that cost matters. A timed-out call is
cancelled where it waits; a thread of the drive's pool stuck in a syscall
stays stuck, which is why the drive is then left alone until a probe succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from liteio.storage.api import StorageAPI, WalkEntry
from liteio.storage.errors import DriveOffline, StorageError
from liteio.storage.wrapper import DelegatingDrive, DelegatingReader, DelegatingWriter

T = TypeVar("T")
log = logging.getLogger("liteio.storage.health")

# Unclassified StorageErrors (EMFILE, EACCES on one file, ...) in a row before
# the drive is declared offline; classified ones (not found, corrupt, full)
# mean the drive answered and reset the count.
DEFAULT_MAX_FAILURES = 8


class _GuardedWriter(DelegatingWriter):
    """Keeps the names health messages have always shown; ``abort`` is a
    best-effort cleanup (``HealthCheckedDrive._forward_cleanup``)."""

    __slots__ = ()
    WRITE = "shard write"
    CLOSE = "shard close"


class _GuardedReader(DelegatingReader):
    __slots__ = ()
    READ_AT = "shard read"


class HealthCheckedDrive(DelegatingDrive):
    writer_type = _GuardedWriter
    reader_type = _GuardedReader

    def __init__(
        self,
        inner: StorageAPI,
        timeout: float = 30.0,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        super().__init__(inner)
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

    # -- hooks (every call of the inner drive comes through here) --------------------

    async def _forward(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one call of the inner drive under the deadline, tracking health."""
        self._ensure_online()
        aw = call()
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

    async def _forward_cleanup(self, name: str, call: Callable[[], Awaitable[None]]) -> None:
        # Best effort even when the drive is offline: it frees a descriptor.
        await self._quietly(call)

    async def _open_steps(self, name: str) -> None:
        # Fail fast, but a walk's start is no call: it proves nothing about the drive.
        self._ensure_online()

    async def _close_steps(self, aclose: Callable[[], Awaitable[object]]) -> None:
        await self._quietly(aclose)

    async def _quietly(self, call: Callable[[], Awaitable[object]]) -> None:
        """Release something of the inner drive, under the deadline, ignoring errors."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timeout):
                await call()

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

    # -- StorageAPI (the rest forwards through ``_forward``) ------------------------

    async def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncGenerator[WalkEntry, None]:
        batches = self.walk_batches(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            async for batch in batches:
                for entry in batch:
                    yield entry
        finally:
            await batches.aclose()

    def walk_batches(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncGenerator[list[WalkEntry], None]:
        # NOTE: one deadline per batch the drive produces (not per entry), and
        # never over the time our consumer spends between batches.
        return self._forward_steps(
            "walk",
            "walk",
            lambda: self.inner.walk_batches(
                volume, prefix, recursive=recursive, start_after=start_after
            ),
        )

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
            self._monitor = None
        await self._quietly(self.inner.close)

    def __repr__(self) -> str:
        state = "online" if self.is_online() else f"offline ({self.last_error})"
        return f"<HealthCheckedDrive {self.endpoint} {state}>"
