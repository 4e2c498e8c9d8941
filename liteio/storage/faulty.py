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
``reader_close`` (shard readers) and ``walk_next`` (each walk step): the
names ``DelegatingDrive`` passes its hook, which is all this class overrides
besides ``is_online`` and ``close``. A rule
counts the calls it matches; it fires on calls ``after + 1`` ..
``after + times`` (``times=None``: forever). The first firing rule wins.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from liteio.storage.api import StorageAPI, WalkEntry
from liteio.storage.errors import DriveOffline, StorageError
from liteio.storage.wrapper import DelegatingDrive

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


class FaultyDrive(DelegatingDrive):
    def __init__(self, inner: StorageAPI, faults: list[Fault] | None = None) -> None:
        super().__init__(inner)
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

    async def _forward(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        fault = self._match(name)
        if fault is not None:
            await self._before(name, fault)
        result = await call()
        if fault is not None and fault.action == "corrupt":
            result = _flip(result, fault.corrupt_at)
        return result

    # -- StorageAPI (the rest forwards through ``_forward``) ------------------------

    def is_online(self) -> bool:
        for fault in self.faults:
            if fault.enabled and fault.method == "is_online" and fault.action == "raise":
                return False
        return self.inner.is_online()

    async def close(self) -> None:
        self.release()
        await super().close()

    def __repr__(self) -> str:
        return f"<FaultyDrive {self.endpoint} faults={len(self.faults)}>"
