"""A writer to be SIGKILLed: overwrites a few keys forever with self-verifying bodies.

    python -m tests.support.crash_writer ROOT DRIVES PARITY SEED BASE_VERSION

Opens the drive folders ROOT/d0..d{DRIVES-1} (already formatted, bucket
``crash`` made) through ``format_drives`` + ``ObjectLayer``, as the server
would, then puts forever. Each body says which version of which key it is
and ends in the MD5 of everything before it (see ``make_body``). Progress
goes to stdout, flushed line by line: ``ready``, then ``start KEY VERSION``
before each put and ``ack KEY VERSION`` once it returned.

``LITEIO_CRASH_AFTER_COMMITS=N`` makes the process SIGKILL itself right after
the N-th ``commit_version`` has returned on a drive. Commits are serialized
(in set order) by the wrapper, so exactly N drive commits have happened: a
deterministic kill in the middle of a put's commit phase. Test-only: the
hook lives in this wrapper, not in the product.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import struct
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from liteio.object.bootstrap import format_drives
from liteio.object.layer import ObjectLayer
from liteio.storage.api import CommitResult, StorageAPI
from liteio.storage.faulty import FaultyDrive
from liteio.storage.local import LocalDrive

if TYPE_CHECKING:
    from liteio.meta.versions import ObjectVersion

BUCKET = "crash"
KEYS = ["alpha", "beta/one", "gamma/two/three"]
MAGIC = b"LIOCRASH"
HEADER = struct.Struct(">8sHII")  # magic, key index, version, total length
MIB = 1 << 20


def make_body(key: int, version: int, size: int) -> bytes:
    """header + bytes seeded by (key, version) + MD5 of the rest: ``size`` bytes in all."""
    filler = random.Random(key * 1_000_003 + version).randbytes(size - HEADER.size - 16)
    head = HEADER.pack(MAGIC, key, version, size) + filler
    return head + hashlib.md5(head).digest()


def parse_body(data: bytes) -> tuple[int, int]:
    """(key index, version) of a complete body; ValueError for anything else."""
    if len(data) < HEADER.size + 16:
        raise ValueError(f"{len(data)} bytes: too short to be a body")
    magic, key, version, size = HEADER.unpack_from(data)
    if magic != MAGIC or size != len(data):
        raise ValueError(f"bad header: {magic!r}, size {size} for {len(data)} bytes")
    if hashlib.md5(data[:-16]).digest() != data[-16:]:
        raise ValueError(f"key {key} version {version}: checksum mismatch (a mixed body)")
    return key, version


def body_size(rng: random.Random) -> int:
    if rng.random() < 0.15:
        return rng.randrange(HEADER.size + 16, 64 << 10)  # inline now and then
    return rng.randrange(MIB + 1, 3 * MIB + 12345)  # two to four blocks


class CrashingDrive(FaultyDrive):
    """Serializes commit_version across the set and dies after the N-th one."""

    commits = 0
    crash_after = int(os.environ.get("LITEIO_CRASH_AFTER_COMMITS", "0"))
    lock: asyncio.Lock | None = None

    async def commit_version(self, volume: str, path: str, version: ObjectVersion,
                             inline: bytes | None, staged_data_dir: tuple[str, str] | None
                             ) -> CommitResult:
        cls = CrashingDrive
        if cls.lock is None:
            cls.lock = asyncio.Lock()
        async with cls.lock:
            result = await super().commit_version(volume, path, version, inline,
                                                  staged_data_dir)
            cls.commits += 1
            if cls.commits == cls.crash_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result


async def _chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run(root: str, drives: int, parity: int, seed: int, base: int) -> None:
    local: list[StorageAPI] = [LocalDrive(os.path.join(root, f"d{i}")) for i in range(drives)]
    wrapped: list[StorageAPI] = [CrashingDrive(d) for d in local]
    deployment, sets = await format_drives(wrapped, 1, drives)
    layer = ObjectLayer(sets, parity, deployment)
    rng = random.Random(seed)
    versions = dict.fromkeys(range(len(KEYS)), base)
    say("ready")
    while True:
        key = rng.randrange(len(KEYS))
        versions[key] += 1
        data = make_body(key, versions[key], body_size(rng))
        say(f"start {key} {versions[key]}")
        await layer.put_object(BUCKET, KEYS[key], _chunks(data), len(data))
        say(f"ack {key} {versions[key]}")


def main(argv: list[str]) -> None:
    root, drives, parity, seed, base = argv
    asyncio.run(run(root, int(drives), int(parity), int(seed), int(base)))


if __name__ == "__main__":
    main(sys.argv[1:])
