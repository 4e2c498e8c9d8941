"""Namespace locks: serialize mutations of one object, let readers share.

One process: an asyncio reader/writer lock per name; entries exist while
someone holds or waits for them, so memory follows concurrency, not the
number of keys ever seen. Writers are preferred once waiting, so a stream of
readers cannot starve a PUT.

Several worker processes (``ProcessLockTable``): names hash onto a fixed
table of stripes, and a stripe is held across processes with a POSIX record
lock on one byte of a shared file (shared for readers, exclusive for writers).
POSIX locks belong to the process, not the task, so inside a process the
asyncio lock is taken per stripe, and only the first reader of a stripe takes
(and the last releases) the process's shared lock.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path


class LockTimeout(TimeoutError):
    pass


class ProcessLockTable:
    """A file of ``stripes`` bytes whose byte locks are shared by every worker."""

    def __init__(self, path: str | Path, stripes: int = 4096) -> None:
        self.path = str(path)
        self.stripes = stripes
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(self._fd).st_size < stripes:
            os.ftruncate(self._fd, stripes)

    def stripe_of(self, name: str) -> int:
        return zlib.crc32(name.encode("utf-8", "surrogatepass")) % self.stripes

    def try_lock(self, stripe: int, exclusive: bool) -> bool:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.lockf(self._fd, mode | fcntl.LOCK_NB, 1, stripe, os.SEEK_SET)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def unlock(self, stripe: int) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, stripe, os.SEEK_SET)

    def close(self) -> None:
        os.close(self._fd)


class _Entry:
    __slots__ = ("cond", "readers", "shared_error", "shared_ready", "users", "writer",
                 "writers_waiting")

    def __init__(self) -> None:
        self.cond = asyncio.Condition()
        self.readers = 0
        self.writer = False
        self.writers_waiting = 0
        self.users = 0
        # Cross-process only: set once the first reader holds the stripe's shared lock.
        self.shared_ready = asyncio.Event()
        self.shared_error: BaseException | None = None


class NamespaceLock:
    def __init__(self, timeout: float = 30.0, table: ProcessLockTable | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self._timeout = timeout
        self._table = table

    def __len__(self) -> int:
        return len(self._entries)

    def _slot(self, name: str) -> tuple[str, int | None]:
        if self._table is None:
            return name, None
        stripe = self._table.stripe_of(name)
        return f"#{stripe}", stripe

    def _enter(self, slot: str) -> _Entry:
        entry = self._entries.get(slot)
        if entry is None:
            entry = self._entries[slot] = _Entry()
        entry.users += 1
        return entry

    def _leave(self, slot: str, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0:
            del self._entries[slot]

    @asynccontextmanager
    async def write(self, name: str) -> AsyncIterator[None]:
        slot, stripe = self._slot(name)
        entry = self._enter(slot)
        try:
            async with entry.cond:
                entry.writers_waiting += 1
                try:
                    await self._wait(entry, lambda: not entry.writer and entry.readers == 0, name)
                finally:
                    entry.writers_waiting -= 1
                entry.writer = True
            try:
                if stripe is not None:
                    await self._os_lock(stripe, True, name)
                try:
                    yield
                finally:
                    if stripe is not None:
                        self._os_unlock(stripe)
            finally:
                async with entry.cond:
                    entry.writer = False
                    entry.cond.notify_all()
        finally:
            self._leave(slot, entry)

    @asynccontextmanager
    async def read(self, name: str) -> AsyncIterator[None]:
        slot, stripe = self._slot(name)
        entry = self._enter(slot)
        try:
            async with entry.cond:
                await self._wait(
                    entry, lambda: not entry.writer and entry.writers_waiting == 0, name
                )
                entry.readers += 1
                first = entry.readers == 1
            try:
                if stripe is not None:
                    await self._share(entry, stripe, first, name)
                yield
            finally:
                async with entry.cond:
                    entry.readers -= 1
                    if entry.readers == 0:
                        held = entry.shared_ready.is_set() and entry.shared_error is None
                        if stripe is not None and held:
                            self._os_unlock(stripe)
                        entry.shared_ready.clear()
                        entry.shared_error = None
                    entry.cond.notify_all()
        finally:
            self._leave(slot, entry)

    async def _share(self, entry: _Entry, stripe: int, first: bool, name: str) -> None:
        """The first local reader takes the process's shared lock; the others wait for it."""
        if first:
            try:
                await self._os_lock(stripe, False, name)
            except BaseException as exc:
                entry.shared_error = exc
                entry.shared_ready.set()  # wake the others so they fail too
                raise
            entry.shared_ready.set()
            return
        await entry.shared_ready.wait()
        if entry.shared_error is not None:
            raise LockTimeout(f"timed out waiting for the lock on {name}")

    async def _os_lock(self, stripe: int, exclusive: bool, name: str) -> None:
        assert self._table is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        delay = 0.0005
        # NOTE: non-blocking attempts with backoff: a blocking F_SETLKW would hold an
        # executor thread per waiter; contention between workers is rare and short.
        while not self._table.try_lock(stripe, exclusive):
            if loop.time() >= deadline:
                raise LockTimeout(f"timed out waiting for the lock on {name}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.02)

    def _os_unlock(self, stripe: int) -> None:
        assert self._table is not None
        self._table.unlock(stripe)

    async def _wait(self, entry: _Entry, ready: Callable[[], bool], name: str) -> None:
        try:
            await asyncio.wait_for(entry.cond.wait_for(ready), self._timeout)
        except TimeoutError:
            raise LockTimeout(f"timed out waiting for the lock on {name}") from None
