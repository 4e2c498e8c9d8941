"""Namespace locks: serialize mutations of one object, let readers share.

In-process only (one event loop). Entries exist while someone holds or waits
for them, so memory follows concurrency, not the number of keys ever seen.
Writers are preferred once waiting, so a stream of readers cannot starve a
PUT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class LockTimeout(TimeoutError):
    pass


class _Entry:
    __slots__ = ("cond", "readers", "users", "writer", "writers_waiting")

    def __init__(self) -> None:
        self.cond = asyncio.Condition()
        self.readers = 0
        self.writer = False
        self.writers_waiting = 0
        self.users = 0


class NamespaceLock:
    def __init__(self, timeout: float = 30.0) -> None:
        self._entries: dict[str, _Entry] = {}
        self._timeout = timeout

    def __len__(self) -> int:
        return len(self._entries)

    def _enter(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = _Entry()
        entry.users += 1
        return entry

    def _leave(self, name: str, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0:
            del self._entries[name]

    @asynccontextmanager
    async def write(self, name: str) -> AsyncIterator[None]:
        entry = self._enter(name)
        try:
            async with entry.cond:
                entry.writers_waiting += 1
                try:
                    await self._wait(entry, lambda: not entry.writer and entry.readers == 0, name)
                finally:
                    entry.writers_waiting -= 1
                entry.writer = True
            try:
                yield
            finally:
                async with entry.cond:
                    entry.writer = False
                    entry.cond.notify_all()
        finally:
            self._leave(name, entry)

    @asynccontextmanager
    async def read(self, name: str) -> AsyncIterator[None]:
        entry = self._enter(name)
        try:
            async with entry.cond:
                await self._wait(
                    entry, lambda: not entry.writer and entry.writers_waiting == 0, name
                )
                entry.readers += 1
            try:
                yield
            finally:
                async with entry.cond:
                    entry.readers -= 1
                    entry.cond.notify_all()
        finally:
            self._leave(name, entry)

    async def _wait(self, entry: _Entry, ready: object, name: str) -> None:
        try:
            await asyncio.wait_for(entry.cond.wait_for(ready), self._timeout)  # type: ignore[arg-type]
        except TimeoutError:
            raise LockTimeout(f"timed out waiting for the lock on {name}") from None
