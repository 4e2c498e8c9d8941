from __future__ import annotations

import asyncio

import pytest

from liteio.object.nslock import LockTimeout, NamespaceLock


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
