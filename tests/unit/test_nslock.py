from __future__ import annotations

import asyncio
from typing import Any

import pytest

from liteio.object.nslock import LockTimeout, NamespaceLock, ProcessLockTable


def test_writers_exclude_each_other_and_readers() -> None:
    async def run() -> list[str]:
        lock = NamespaceLock()
        log: list[str] = []
        gate = asyncio.Event()

        async def writer(tag: str) -> None:
            async with lock.write("b/k"):
                log.append(f"{tag}+")
                await gate.wait()
                log.append(f"{tag}-")

        async def reader(tag: str) -> None:
            async with lock.read("b/k"):
                log.append(tag)

        tasks = [asyncio.create_task(writer("w1")), asyncio.create_task(writer("w2")),
                 asyncio.create_task(reader("r"))]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)
        assert len(lock) == 0  # entries vanish when unused
        return log

    log = asyncio.run(run())
    # Each writer's + and - are adjacent: nobody ran inside another's critical section.
    for tag in ("w1", "w2"):
        i = log.index(f"{tag}+")
        assert log[i + 1] == f"{tag}-"
    assert sorted(log) == sorted(["w1+", "w1-", "w2+", "w2-", "r"])


def test_readers_share_and_other_keys_are_independent() -> None:
    async def run() -> None:
        lock = NamespaceLock(timeout=1)
        async with lock.read("a"), lock.read("a"), lock.write("b"):
            pass

    asyncio.run(run())


def test_timeout() -> None:
    async def run() -> None:
        lock = NamespaceLock(timeout=0.05)
        async with lock.write("a"):
            with pytest.raises(LockTimeout):
                async with lock.write("a"):
                    pass
        assert len(lock) == 0

    asyncio.run(run())


def _hold_lock(path: str, name: str, exclusive: bool, ready: Any, release: Any) -> None:
    """Child process: hold a lock on ``name`` until told to let go."""
    async def run() -> None:
        lock = NamespaceLock(timeout=10, table=ProcessLockTable(path))
        cm = lock.write(name) if exclusive else lock.read(name)
        async with cm:
            ready.set()
            while not release.is_set():
                await asyncio.sleep(0.005)

    asyncio.run(run())


def test_locks_hold_across_processes(tmp_path: Any) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "locks")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(path, "b/k", True, ready, release))
    child.start()
    try:
        assert ready.wait(10)

        async def contend() -> None:
            lock = NamespaceLock(timeout=0.2, table=ProcessLockTable(path))
            with pytest.raises(LockTimeout):
                async with lock.read("b/k"):
                    pass
            async with lock.write("b/other-key-hashing-elsewhere"):
                pass
            release.set()
            lock2 = NamespaceLock(timeout=10, table=ProcessLockTable(path))
            async with lock2.write("b/k"):  # acquired once the child lets go
                pass

        asyncio.run(contend())
    finally:
        release.set()
        child.join(10)
    assert child.exitcode == 0


def test_shared_readers_across_processes_and_local_refcount(tmp_path: Any) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "locks")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(path, "b/k", False, ready, release))
    child.start()
    try:
        assert ready.wait(10)

        async def share() -> None:
            table = ProcessLockTable(path)
            lock = NamespaceLock(timeout=0.2, table=table)
            async with lock.read("b/k"), lock.read("b/k"):  # readers share across processes
                pass
            with pytest.raises(LockTimeout):
                async with lock.write("b/k"):
                    pass
            async with lock.read("b/k"):
                release.set()
                child.join(10)
                # Still held by our (outer) reader: another process cannot write.
                assert not _other_process_can_lock(path, "b/k")
            # Both local readers are gone, so the byte is free again for everyone.
            assert _other_process_can_lock(path, "b/k")

        asyncio.run(share())
    finally:
        release.set()
        child.join(10)
    assert child.exitcode == 0


def _try_exclusive(path: str, name: str, result: Any) -> None:
    table = ProcessLockTable(path)
    result.value = int(table.try_lock(table.stripe_of(name), exclusive=True))


def _other_process_can_lock(path: str, name: str) -> bool:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    result = ctx.Value("i", -1)
    checker = ctx.Process(target=_try_exclusive, args=(path, name, result))
    checker.start()
    checker.join(10)
    return bool(result.value == 1)
