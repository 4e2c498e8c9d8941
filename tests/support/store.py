"""An object layer over temporary local drives, driven synchronously from tests."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, Generic, TypeVar

from liteio.object.bootstrap import format_drives
from liteio.object.layer import ObjectLayer
from liteio.object.types import ObjectInfo, PutOptions
from liteio.storage.api import StorageAPI
from liteio.storage.local import LocalDrive

T = TypeVar("T")


async def body_of(data: bytes, chunk: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


class _Box(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


class Store:
    """A test harness: ``run`` executes coroutines on one long-lived loop."""

    def __init__(self, root: Path, drives: int = 4, parity: int = 2, sets: int = 1,
                 wrap: Callable[[int, StorageAPI], StorageAPI] | None = None) -> None:
        self.root = root
        self.paths = [root / f"d{i}" for i in range(drives * sets)]
        for p in self.paths:
            p.mkdir(parents=True, exist_ok=True)
        self.runner = asyncio.Runner()
        self.drive_count = drives
        self.parity = parity
        self.set_count = sets
        self.wrap = wrap
        self.layer = self.run(self._open())

    async def _open(self) -> ObjectLayer:
        drives: list[StorageAPI] = [LocalDrive(p) for p in self.paths]
        if self.wrap is not None:
            drives = [self.wrap(i, d) for i, d in enumerate(drives)]
        deployment, sets = await format_drives(drives, self.set_count, self.drive_count)
        return ObjectLayer(sets, self.parity, deployment)

    def reopen(self) -> None:
        self.run(self.layer.close())
        self.layer = self.run(self._open())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        # NOTE: the result travels in a box. Python 3.11's Runner.run formats
        # its SIGINT handler, which holds the task, with %r: a task holding a
        # large bytes result cost ~15 ms per MiB in repr on every call.
        async def boxed() -> _Box[T]:
            return _Box(await coro)

        return self.runner.run(boxed()).value

    def close(self) -> None:
        self.run(self.layer.close())
        self.runner.close()

    # -- conveniences ---------------------------------------------------------
    def put(self, bucket: str, key: str, data: bytes, opts: PutOptions | None = None) -> ObjectInfo:
        return self.run(self.layer.put_object(bucket, key, body_of(data), len(data), opts))

    def get(self, bucket: str, key: str, version_id: str | None = None,
            offset: int = 0, length: int | None = None) -> bytes:
        async def read() -> bytes:
            reader = await self.layer.open_object(bucket, key, version_id)
            return b"".join([c async for c in reader.stream(offset, length)])

        return self.run(read())


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
