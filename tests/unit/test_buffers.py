"""liteio._ext.buffers: alignment, reuse, exhaustion, waiters (threads and asyncio), safety."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from liteio._ext.buffers import (
    ALIGNMENT,
    AlignedBuffer,
    BufferPool,
    PoolExhausted,
    aligned_empty,
)

PAGE = 4096


def drain(pool: BufferPool) -> list[AlignedBuffer]:
    held = []
    while (buf := pool.try_acquire()) is not None:
        held.append(buf)
    return held


# -- layout and reuse ---------------------------------------------------------


@pytest.mark.parametrize(("size", "count"), [(1, 1), (4096, 3), (4097, 5), (1 << 20, 4), (100, 64)])
def test_every_pooled_buffer_is_aligned_sized_and_disjoint(size: int, count: int) -> None:
    pool = BufferPool(size, count)
    rounded = -(-size // PAGE) * PAGE
    assert (pool.buffer_size, pool.capacity, pool.free) == (rounded, count, count)
    held = drain(pool)
    assert len(held) == count and pool.free == 0
    starts = sorted(b.address for b in held)
    assert all(a % ALIGNMENT == 0 for a in starts)
    assert all(b.size == len(b) == rounded for b in held)
    assert all(nxt - cur >= rounded for cur, nxt in itertools.pairwise(starts))
    for b in held:
        b.release()
    assert pool.free == count


def test_released_buffers_come_back_with_the_same_addresses() -> None:
    pool = BufferPool(8192, 4)
    first = drain(pool)
    addresses = {b.address for b in first}
    for b in first:
        pool.release(b)
    again = drain(pool)
    assert {b.address for b in again} == addresses
    for b in again:
        b.release()
    # One at a time: the slot just returned is the next handed out.
    with pool.acquire() as a:
        addr = a.address
    with pool.acquire() as b:
        assert b.address == addr


def test_buffer_protocol_is_writable_1d_bytes() -> None:
    pool = BufferPool(4096, 1)
    with pool.acquire() as buf:
        view = memoryview(buf)
        assert (view.format, view.itemsize, view.ndim, view.shape, view.strides) == (
            "B",
            1,
            1,
            (4096,),
            (1,),
        )
        assert not view.readonly and view.c_contiguous
        view[:5] = b"hello"
        second = memoryview(buf)
        assert second[:5].tobytes() == b"hello"
        assert buf.exports == 2
        view.release()
        second.release()
        assert buf.exports == 0


def test_numpy_view_shares_memory_without_copy() -> None:
    pool = BufferPool(10000, 1)
    with pool.acquire() as buf:
        arr = np.frombuffer(buf, dtype=np.uint8)  # type: ignore[call-overload]
        assert arr.ctypes.data == buf.address and arr.size == buf.size
        assert arr.flags.writeable
        arr[:] = np.arange(arr.size, dtype=np.uint8)
        with memoryview(buf) as mv:
            assert mv[:300].tobytes() == bytes(range(256)) + bytes(range(44))
        del arr


# -- exhaustion and waiting ---------------------------------------------------


def test_try_acquire_returns_none_when_empty() -> None:
    pool = BufferPool(4096, 2)
    held = drain(pool)
    assert len(held) == 2
    assert pool.try_acquire() is None
    held.pop().release()
    assert pool.try_acquire() is not None


def test_acquire_times_out_with_pool_exhausted() -> None:
    pool = BufferPool(4096, 1)
    held = pool.acquire()
    start = time.monotonic()
    with pytest.raises(PoolExhausted) as info:
        pool.acquire(timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    assert 0.18 <= time.monotonic() - start < 2.0
    with pytest.raises(PoolExhausted):
        pool.acquire(timeout=0)
    with pytest.raises(ValueError, match="timeout"):
        pool.acquire(timeout=-1)
    held.release()


def test_blocked_waiter_is_woken_by_release_from_another_thread() -> None:
    pool = BufferPool(4096, 1)
    held = pool.acquire()
    addr = held.address
    got: list[int] = []
    ticks = 0

    def waiter() -> None:
        with pool.acquire(timeout=10) as buf:
            got.append(buf.address)

    thread = threading.Thread(target=waiter)
    thread.start()
    # The waiter sleeps without the GIL: this thread keeps running Python meanwhile.
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        ticks += 1
    assert thread.is_alive() and not got
    held.release()
    thread.join(5)
    assert got == [addr] and pool.free == 1
    assert ticks > 10_000


def test_many_threads_never_hold_more_than_capacity() -> None:
    pool = BufferPool(4096, 3)
    lock = threading.Lock()
    state = {"held": 0, "peak": 0}

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            with pool.acquire(timeout=10) as buf:
                with lock:
                    state["held"] += 1
                    state["peak"] = max(state["peak"], state["held"])
                memoryview(buf)[0] = seed  # exclusive use: nobody else writes here
                time.sleep(rng.random() / 2000)
                assert memoryview(buf)[0] == seed
                with lock:
                    state["held"] -= 1

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(worker, range(8)))
    assert state["peak"] <= 3 and pool.free == 3


# -- safety: live views, double and foreign release ---------------------------


def test_release_with_live_memoryview_raises_and_keeps_the_buffer() -> None:
    pool = BufferPool(4096, 1)
    buf = pool.acquire()
    view = memoryview(buf)
    with pytest.raises(BufferError, match="open view"):
        buf.release()
    with pytest.raises(BufferError):
        pool.release(buf)
    assert pool.free == 0 and not buf.released
    view[0] = 1  # still ours to write
    view.release()
    buf.release()
    assert pool.free == 1


def test_release_with_live_numpy_array_raises() -> None:
    pool = BufferPool(4096, 1)
    buf = pool.acquire()
    arr = np.frombuffer(buf, dtype=np.uint8)  # type: ignore[call-overload]
    with pytest.raises(BufferError):
        buf.release()
    del arr
    buf.release()
    assert pool.free == 1


def test_with_block_leaking_a_view_raises_and_buffer_returns_later() -> None:
    pool = BufferPool(4096, 1)
    with pytest.raises(BufferError), pool.acquire() as buf:
        leaked = memoryview(buf)
    assert pool.free == 0
    leaked.release()
    del buf, leaked
    gc.collect()
    assert pool.free == 1


def test_released_handle_exports_nothing() -> None:
    pool = BufferPool(4096, 1)
    buf = pool.acquire()
    buf.release()
    assert buf.released
    with pytest.raises(ValueError, match="released"):
        memoryview(buf)
    with pytest.raises(ValueError, match="released"):
        np.frombuffer(buf, dtype=np.uint8)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="released"):
        _ = buf.address


def test_double_and_foreign_release_are_clear_errors() -> None:
    pool, other = BufferPool(4096, 2), BufferPool(4096, 2)
    buf = pool.acquire()
    with pytest.raises(ValueError, match="does not belong"):
        other.release(buf)
    with pytest.raises(ValueError, match="does not belong"):
        pool.release(aligned_empty(10))
    with pytest.raises(TypeError):
        pool.release(bytearray(4096))  # type: ignore[arg-type]
    pool.release(buf)
    with pytest.raises(ValueError, match="already released"):
        pool.release(buf)
    with pytest.raises(ValueError, match="already released"):
        buf.release()
    buf.__exit__(None, None, None)  # leaving a with block after release() is fine
    assert pool.free == 2 and other.free == 2


def test_dropped_buffers_return_to_the_pool() -> None:
    pool = BufferPool(4096, 2)
    buf = pool.acquire()
    del buf
    assert pool.free == 2
    # Also when only the cycle collector can free it.
    cycle: list[object] = [pool.acquire()]
    cycle.append(cycle)
    del cycle
    gc.collect()
    assert pool.free == 2


def test_dropped_buffer_wakes_a_blocked_thread() -> None:
    pool = BufferPool(4096, 1)
    holder = [pool.acquire()]
    result: list[AlignedBuffer] = []
    thread = threading.Thread(target=lambda: result.append(pool.acquire(timeout=10)))
    thread.start()
    time.sleep(0.05)
    holder.clear()
    thread.join(5)
    assert len(result) == 1


def test_pool_outlives_its_handles() -> None:
    buf = BufferPool(4096, 1).acquire()  # the pool object is otherwise unreferenced
    memoryview(buf)[:] = b"\xab" * 4096
    assert bytes(memoryview(buf)) == b"\xab" * 4096
    buf.release()


# -- standalone buffers and bad arguments -------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 12345, 1 << 20])
def test_aligned_empty(size: int) -> None:
    buf = aligned_empty(size)
    assert buf.address % ALIGNMENT == 0 and buf.size == len(buf) == size
    with memoryview(buf) as view:
        view[:] = b"\x01" * size
        assert view.tobytes() == b"\x01" * size
    with buf:
        pass
    assert buf.released
    with pytest.raises(ValueError, match="already released"):
        buf.release()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_standalone_buffers_free_their_memory() -> None:
    before = rss_bytes()
    for i in range(64):  # 1 GiB in all: a leak would show
        buf = aligned_empty(16 << 20)
        memoryview(buf)[::4096] = b"\x01" * (buf.size // 4096)  # touch every page
        if i % 2:
            buf.release()
        del buf  # odd ones released, even ones dropped
    assert rss_bytes() - before < 200 << 20


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="aligned_empty"):
        AlignedBuffer()
    with pytest.raises(ValueError):
        aligned_empty(-1)
    with pytest.raises(ValueError, match="buffer_size"):
        BufferPool(0, 1)
    with pytest.raises(ValueError, match="count"):
        BufferPool(4096, 0)
    with pytest.raises((OverflowError, MemoryError)):
        BufferPool(1 << 60, 1 << 20)


# -- asyncio ------------------------------------------------------------------


def run(coro, timeout: float = 10):  # type: ignore[no-untyped-def]
    async def bounded():  # type: ignore[no-untyped-def]
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def test_async_acquire_waits_without_blocking_the_loop() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 1)
        held = await pool.acquire_async()
        ticks = 0
        waiter = asyncio.create_task(pool.acquire_async())
        for _ in range(20):
            await asyncio.sleep(0.001)
            ticks += 1
        assert ticks == 20 and not waiter.done()
        addr = held.address
        held.release()
        got = await waiter
        assert got.address == addr
        got.release()

    run(main())


def test_async_waiters_are_served_in_order() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 1)
        held = await pool.acquire_async()
        order: list[int] = []

        async def user(n: int) -> None:
            with await pool.acquire_async():
                order.append(n)
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(user(n)) for n in range(6)]
        await asyncio.sleep(0.01)
        held.release()
        await asyncio.gather(*tasks)
        assert order == list(range(6)) and pool.free == 1

    run(main())


def test_cancelled_async_waiter_does_not_lose_the_wakeup() -> None:
    async def main(yields: int) -> None:
        pool = BufferPool(4096, 1)
        held = await pool.acquire_async()
        first = asyncio.create_task(pool.acquire_async())
        second = asyncio.create_task(pool.acquire_async())
        await asyncio.sleep(0.01)
        held.release()  # wakes `first`...
        for _ in range(yields):
            await asyncio.sleep(0)
        first.cancel()  # ...which leaves before, while or after that wakeup lands
        try:
            (await first).release()  # it got the buffer before the cancel landed
        except asyncio.CancelledError:
            pass
        async with asyncio.timeout(2):
            buf = await second
        buf.release()
        assert pool.free == 1

    for yields in range(5):
        run(main(yields))


def test_async_timeout_leaves_pool_consistent() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 1)
        held = await pool.acquire_async()
        for _ in range(200):  # timed-out waiters must not pile up or eat wakeups
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0):
                    await pool.acquire_async()
        waiter = asyncio.create_task(pool.acquire_async())
        await asyncio.sleep(0.01)
        held.release()
        (await waiter).release()
        assert pool.free == 1

    run(main())


def test_async_waiter_woken_by_release_in_another_thread() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 2)
        held = [await pool.acquire_async(), await pool.acquire_async()]
        timer = threading.Timer(0.05, lambda: held.pop().release())
        timer.start()
        buf = await pool.acquire_async()
        buf.release()
        timer.join()
        held.pop().release()
        assert pool.free == 2

    run(main())


def test_async_waiter_woken_by_garbage_collected_buffer() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 1)
        holder = [await pool.acquire_async()]
        waiter = asyncio.create_task(pool.acquire_async())
        await asyncio.sleep(0.01)
        holder.clear()
        (await waiter).release()

    run(main())


def test_async_and_thread_waiters_under_churn_with_cancellations() -> None:
    async def main() -> None:
        pool = BufferPool(4096, 3)
        rng = random.Random(7)
        in_use = 0
        peak = 0

        async def user(n: int) -> None:
            nonlocal in_use, peak
            with await pool.acquire_async() as buf:
                in_use += 1
                peak = max(peak, in_use)
                try:
                    memoryview(buf)[0] = n % 256
                    await asyncio.sleep(rng.random() / 500)
                    assert memoryview(buf)[0] == n % 256
                finally:
                    in_use -= 1

        def thread_user() -> None:
            for _ in range(30):
                with pool.acquire(timeout=10):
                    time.sleep(0.0005)

        loop = asyncio.get_running_loop()
        threads = [loop.run_in_executor(None, thread_user) for _ in range(2)]
        tasks = [asyncio.create_task(user(n)) for n in range(200)]
        for task in rng.sample(tasks, 60):
            loop.call_later(rng.random() / 20, task.cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*threads)
        assert all(r is None or isinstance(r, asyncio.CancelledError) for r in results)
        assert peak <= 3 and pool.free == 3

    run(main(), timeout=30)
