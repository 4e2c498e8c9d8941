"""FaultyDrive rules and HealthCheckedDrive deadlines, offline marking and recovery."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from liteio.meta import NULL_VERSION_ID, ObjectVersion
from liteio.storage.errors import (
    DriveOffline,
    FileCorrupt,
    FileNotFound,
    StorageError,
    VolumeNotFound,
)
from liteio.storage.faulty import Fault, FaultyDrive
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.paths import SYSTEM_VOLUME

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def version() -> ObjectVersion:
    return ObjectVersion(
        version_id=NULL_VERSION_ID,
        data_dir=uuid.uuid4().bytes,
        ec_m=2,
        ec_n=2,
        ec_index=1,
        ec_dist=[1, 2, 3, 4],
        part_numbers=[1],
        part_sizes=[3],
        size=3,
        mod_time=1_700_000_000_000_000_000,
        meta_sys={},
        meta_usr={"etag": "e"},
    )


def local(tmp_path: Path) -> LocalDrive:
    root = tmp_path / "d"
    root.mkdir(exist_ok=True)
    return LocalDrive(root)


# -- FaultyDrive ------------------------------------------------------------------------


def test_fail_nth_call_and_every_call(tmp_path: Path) -> None:
    drive = FaultyDrive(local(tmp_path))

    async def go() -> None:
        await drive.make_volume("b")
        third = drive.add(Fault("commit_version", after=2, times=1))
        for i in range(5):
            if i == 2:
                with pytest.raises(DriveOffline, match="commit_version call #3"):
                    await drive.commit_version("b", f"o{i}", version(), b"x", None)
            else:
                await drive.commit_version("b", f"o{i}", version(), b"x", None)
        assert third.fired == 1 and third.seen == 5
        assert drive.calls["commit_version"] == 5

        every = drive.add(Fault("read_xl", error=FileCorrupt))
        for _ in range(3):
            with pytest.raises(FileCorrupt):
                await drive.read_xl("b", "o0")
        every.enabled = False  # toggled at run time
        assert await drive.read_xl("b", "o0")
        every.enabled = True
        with pytest.raises(FileCorrupt):
            await drive.read_xl("b", "o0")
        drive.remove(every)
        assert await drive.read_xl("b", "o0")

        # A ready-made error instance, twice only.
        drive.add(Fault("stat_volume", times=2, error=VolumeNotFound("injected")))
        for _ in range(2):
            with pytest.raises(VolumeNotFound, match="injected"):
                await drive.stat_volume("b")
        assert (await drive.stat_volume("b")).name == "b"
        await drive.close()

    run(go())


def test_corrupt_results(tmp_path: Path) -> None:
    drive = FaultyDrive(local(tmp_path))

    async def go() -> None:
        await drive.make_volume("b")
        await drive.commit_version("b", "o", version(), b"abc", None)
        good = await drive.read_xl("b", "o")
        drive.add(Fault("read_xl", action="corrupt", times=1))
        bad = await drive.read_xl("b", "o")
        assert isinstance(bad, bytes) and len(bad) == len(good) and bad != good
        assert await drive.read_xl("b", "o") == good

        w = await drive.create_shard(SYSTEM_VOLUME, "tmp/x/dd/part.1")
        await w.write(b"0123456789")
        await w.close()
        r = await drive.open_shard(SYSTEM_VOLUME, "tmp/x/dd/part.1")
        drive.add(Fault("read_at", action="corrupt", corrupt_at=0))
        got = await r.read_at(0, 10)
        assert isinstance(got, memoryview)
        assert bytes(got) == bytes([ord("0") ^ 0xFF]) + b"123456789"
        await r.close()

        drive.add(Fault("walk_next", action="corrupt"))
        entries = [e async for e in drive.walk("b", "", recursive=True)]
        assert len(entries) == 1 and entries[0].xl != good and entries[0].key == "o"
        await drive.close()

    run(go())


def test_hang_until_released_and_delay(tmp_path: Path) -> None:
    drive = FaultyDrive(local(tmp_path))

    async def go() -> None:
        await drive.make_volume("b")
        hang = drive.add(Fault("create_shard", action="hang"))
        task = asyncio.ensure_future(drive.create_shard(SYSTEM_VOLUME, "tmp/h/part.1"))
        await asyncio.sleep(0.05)
        assert not task.done() and drive.hanging == 1
        drive.release()
        writer = await asyncio.wait_for(task, 5)
        await writer.abort()
        drive.remove(hang)
        await (await drive.create_shard(SYSTEM_VOLUME, "tmp/h/part.2")).abort()

        drive.add(Fault("list_volumes", action="delay", delay=0.1, times=1))
        t0 = time.monotonic()
        await drive.list_volumes()
        assert time.monotonic() - t0 >= 0.09
        await drive.close()

    run(go())


# -- HealthCheckedDrive -----------------------------------------------------------------


def test_timeout_marks_offline_and_fails_fast(tmp_path: Path) -> None:
    faulty = FaultyDrive(local(tmp_path))
    drive = HealthCheckedDrive(faulty, timeout=0.2)

    async def go() -> None:
        await drive.make_volume("b")
        faulty.add(Fault("read_xl", action="hang"))
        t0 = time.monotonic()
        with pytest.raises(DriveOffline, match="timed out"):
            await drive.read_xl("b", "o")
        assert time.monotonic() - t0 < 2
        assert not drive.is_online()
        before = sum(faulty.calls.values())
        with pytest.raises(DriveOffline):
            await drive.list_volumes()  # fails fast: the inner drive is not touched
        assert sum(faulty.calls.values()) == before

        # A probe while the drive still hangs keeps it offline.
        faulty.add(Fault("disk_info", action="hang"))
        assert not await drive.check()
        faulty.clear()
        assert await drive.check()
        assert drive.is_online() and drive.consecutive_failures == 0
        assert (await drive.stat_volume("b")).name == "b"
        await drive.close()

    run(go())


def test_hung_shard_and_walk_steps_time_out(tmp_path: Path) -> None:
    faulty = FaultyDrive(local(tmp_path))
    drive = HealthCheckedDrive(faulty, timeout=0.2)

    async def go() -> None:
        await drive.make_volume("b")
        for i in range(10):
            await drive.commit_version("b", f"k{i}", version(), b"x", None)

        faulty.add(Fault("walk_next", after=3, action="hang"))
        seen = []
        with pytest.raises(DriveOffline):
            async for e in drive.walk("b", "", recursive=True):
                seen.append(e.key)
        assert seen == ["k0", "k1", "k2"]
        faulty.clear()
        assert await drive.check()

        # A slow consumer is not the drive's fault: the deadline is per step.
        keys = []
        async for e in drive.walk("b", "", recursive=True):
            await asyncio.sleep(0.05)
            keys.append(e.key)
        assert len(keys) == 10 and drive.is_online()

        w = await drive.create_shard(SYSTEM_VOLUME, "tmp/s/dd/part.1")
        faulty.add(Fault("write", action="hang"))
        with pytest.raises(DriveOffline):
            await w.write(b"data")
        await w.abort()  # never raises, never hangs
        faulty.clear()
        assert await drive.check()

        w = await drive.create_shard(SYSTEM_VOLUME, "tmp/s/dd/part.2")
        await w.write(b"data")
        await w.close()
        r = await drive.open_shard(SYSTEM_VOLUME, "tmp/s/dd/part.2")
        faulty.add(Fault("read_at", action="hang"))
        with pytest.raises(DriveOffline):
            await r.read_at(0, 4)
        await r.close()
        await drive.close()

    run(go())


def test_failure_counting(tmp_path: Path) -> None:
    faulty = FaultyDrive(local(tmp_path))
    drive = HealthCheckedDrive(faulty, timeout=5, max_failures=3)

    async def go() -> None:
        await drive.make_volume("b")
        # Answers that are part of normal life never count.
        for _ in range(5):
            with pytest.raises(FileNotFound):
                await drive.read_xl("b", "missing")
        assert drive.is_online() and drive.consecutive_failures == 0
        # Unclassified errors count; a success resets the count.
        faulty.add(Fault("read_all", times=2, error=StorageError))
        for _ in range(2):
            with pytest.raises(StorageError):
                await drive.read_all("b", "x")
        assert drive.consecutive_failures == 2 and drive.is_online()
        await drive.list_volumes()
        assert drive.consecutive_failures == 0
        faulty.add(Fault("read_all", error=StorageError))
        for _ in range(3):
            with pytest.raises(StorageError):
                await drive.read_all("b", "x")
        assert not drive.is_online()
        faulty.clear()
        assert await drive.check()

        # DriveOffline from the inner drive takes it offline at once.
        faulty.add(Fault("read_xl", times=1))
        with pytest.raises(DriveOffline):
            await drive.read_xl("b", "o")
        assert not drive.is_online()
        assert await drive.check()
        await drive.close()

    run(go())


def test_removed_root_through_health_and_monitor(tmp_path: Path) -> None:
    inner = local(tmp_path)
    drive = HealthCheckedDrive(inner, timeout=5)

    async def go() -> None:
        await drive.make_volume("b")
        drive.start_monitor(interval=0.05)
        os.rename(inner.root, inner.root + ".gone")
        with pytest.raises(DriveOffline):
            await drive.read_xl("b", "o")
        assert not drive.is_online() and not inner.is_online()
        await asyncio.sleep(0.2)
        assert not drive.is_online()  # the monitor's probes fail while it is gone
        os.rename(inner.root + ".gone", inner.root)
        for _ in range(100):
            if drive.is_online():
                break
            await asyncio.sleep(0.02)
        assert drive.is_online()
        assert [v.name for v in await drive.list_volumes()] == ["b"]
        await drive.close()

    run(go())


def test_unexpected_inner_exception_is_wrapped(tmp_path: Path) -> None:
    class Broken(FaultyDrive):
        async def list_volumes(self):  # type: ignore[no-untyped-def]
            raise KeyError("bug")

    drive = HealthCheckedDrive(Broken(local(tmp_path)), timeout=5)

    async def go() -> None:
        with pytest.raises(StorageError, match="KeyError"):
            await drive.list_volumes()
        assert drive.is_online()
        await drive.close()

    run(go())


def test_close_with_a_hung_call_does_not_hang(tmp_path: Path) -> None:
    faulty = FaultyDrive(local(tmp_path))
    drive = HealthCheckedDrive(faulty, timeout=0.2)

    async def go() -> None:
        faulty.add(Fault("clean_tmp", action="hang"))
        with pytest.raises(DriveOffline):
            await drive.clean_tmp()
        await asyncio.wait_for(drive.close(), 2)

    run(go())
    shutil.rmtree(tmp_path / "d")
