"""RPC under failure: servers that die, drives that hang, and memory under big shards."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from liteio.rpc import CallTimedOut, NodeClient, RemoteDrive, RPCServer
from liteio.rpc.wire import MAX_CHUNK
from liteio.storage.api import StorageAPI
from liteio.storage.errors import DriveOffline
from liteio.storage.faulty import Fault, FaultyDrive
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.wrapper import DelegatingDrive, DelegatingWriter

SECRET = "rpc-fault-test-secret"
MIB = 1 << 20
REPO = Path(__file__).resolve().parents[2]


async def fails_fast(call: Callable[[], Awaitable[Any]], within: float = 0.05) -> None:
    """``call`` raises DriveOffline without waiting on the network."""
    started = time.monotonic()
    with pytest.raises(DriveOffline):
        await call()
    assert time.monotonic() - started < within


LOOPS = ["asyncio", "uvloop"]  # uvloop: what a node runs (it keeps written buffers by reference)


def run_on(loop: str, coro: Awaitable[None]) -> None:
    factory = None
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory = uvloop.new_event_loop

    async def main() -> None:
        await coro

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def served(tmp_path: Path, body: Callable[..., Awaitable[None]],
           wrap: Callable[[LocalDrive], StorageAPI] | None = None, *, loop: str = "asyncio",
           **client_kw: Any) -> None:
    """``body(server, remote, local, served)`` with one drive served in this process."""
    (tmp_path / "d1").mkdir(exist_ok=True)
    local = LocalDrive(tmp_path / "d1")

    async def main() -> None:
        drive = wrap(local) if wrap else local
        server = RPCServer({"/d1": drive}, SECRET)
        await server.start()
        client_kw.setdefault("connect_timeout", 1.0)
        remote = NodeClient("127.0.0.1", server.port, SECRET, **client_kw).drive("/d1")
        try:
            await body(server, remote, local, drive)
        finally:
            if isinstance(drive, FaultyDrive):
                drive.clear()
            await remote.close()
            await server.close()
            await local.close()

    run_on(loop, main())


# -- (e) the server goes away --------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_server_killed_mid_write_then_back(tmp_path: Path, loop: str) -> None:
    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive, _: Any) -> None:
        await remote.make_volume("b")
        await remote.write_all("b", "keep", b"kept")
        port = server.port
        w = await remote.create_shard("b", "o/part.1")
        await w.write(os.urandom(MIB))
        server.abort()  # a crash: every connection reset, nothing listening
        started = time.monotonic()
        with pytest.raises(DriveOffline):
            for _ in range(64):
                await w.write(os.urandom(MIB))
            await w.close()
        assert time.monotonic() - started < 2
        await w.abort()  # releasing a dead stream does not hang or raise
        assert not remote.is_online()

        # Every later call fails at once, without a network round trip.
        await fails_fast(lambda: remote.read_all("b", "keep"))
        await fails_fast(lambda: remote.create_shard("b", "p/part.1"))
        await fails_fast(lambda: remote.open_shard("b", "keep"))
        assert not await remote.reconnect()  # nobody listening yet

        again = RPCServer({"/d1": local}, SECRET, port=port)
        await again.start()
        try:
            assert await remote.reconnect()
            assert remote.is_online()
            assert await remote.read_all("b", "keep") == b"kept"
        finally:
            await again.close()

    served(tmp_path, body, loop=loop)


def test_connection_dropped_mid_read(tmp_path: Path) -> None:
    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive, _: Any) -> None:
        await remote.make_volume("b")
        data = os.urandom(8 * MIB)
        w = await remote.create_shard("b", "o/part.1")
        await w.write(data)
        await w.close()
        r = await remote.open_shard("b", "o/part.1")
        assert bytes(await r.read_at(0, 10)) == data[:10]
        read = asyncio.ensure_future(r.read_at(0, len(data)))
        await asyncio.sleep(0)  # the request is out
        server.abort()
        started = time.monotonic()
        with pytest.raises(DriveOffline):
            await read
        assert time.monotonic() - started < 2
        with pytest.raises(DriveOffline):
            await r.read_at(0, 10)
        await r.close()
        await fails_fast(lambda: remote.list_volumes())

    served(tmp_path, body)


def _start_node(folder: Path, port: int = 0) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ, LITEIO_RPC_SECRET=SECRET, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "liteio.rpc.serve", "--port", str(port), f"/d1={folder}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening "):
        proc.kill()
        proc.wait()
        raise AssertionError(f"rpc node did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_node_process_killed_mid_stream_then_restarted(tmp_path: Path) -> None:
    folder = tmp_path / "node-d1"
    folder.mkdir()
    proc, port = _start_node(folder)
    procs = [proc]

    async def main() -> None:
        remote = NodeClient("127.0.0.1", port, SECRET, connect_timeout=1.0,
                            call_timeout=5.0).drive("/d1")
        await remote.make_volume("b")
        await remote.write_all("b", "keep", b"kept")
        w = await remote.create_shard("b", "o/part.1")
        await w.write(os.urandom(MIB))
        chunk = os.urandom(MIB)

        async def keep_writing() -> None:
            while True:
                await w.write(chunk)

        writing = asyncio.ensure_future(keep_writing())
        await asyncio.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(DriveOffline):
            await asyncio.wait_for(writing, 10)
        assert time.monotonic() - started < 3
        await w.abort()
        await fails_fast(lambda: remote.read_all("b", "keep"))
        assert not await remote.reconnect()

        again, _ = await asyncio.to_thread(_start_node, folder, port)
        procs.append(again)
        assert await remote.reconnect()
        assert await remote.read_all("b", "keep") == b"kept"
        await remote.close()

    try:
        asyncio.run(main())
    finally:
        for p in procs:
            _stop(p)


# -- (f) timeouts -----------------------------------------------------------------------------


def test_hung_drive_call_times_out_as_drive_offline(tmp_path: Path) -> None:
    (tmp_path / "d2").mkdir()
    other = LocalDrive(tmp_path / "d2")
    slow = Fault("read_xl", action="delay", delay=5.0)

    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive,
                   faulty: FaultyDrive) -> None:
        server.drives["/d2"] = other
        sibling = remote.node.drive("/d2")
        await remote.make_volume("b")
        started = time.monotonic()
        with pytest.raises(CallTimedOut) as info:
            await remote.read_xl("b", "o")
        assert 0.3 <= time.monotonic() - started < 1.5
        assert isinstance(info.value, DriveOffline) and "timed out" in str(info.value)
        assert not remote.is_online()
        await fails_fast(lambda: remote.read_xl("b", "o"))
        # A hung drive is not a dead node: its other drives carry on, on the
        # same multiplexed connection, even while the hung call is still out.
        assert remote.node.online and sibling.is_online()
        connections = list(remote.node._mux)
        assert await sibling.list_volumes() == []
        assert remote.node._mux == connections
        faulty.remove(slow)
        assert await remote.reconnect()
        assert [v.name for v in await remote.list_volumes()] == ["b"]
        await sibling.close()

    try:
        served(tmp_path, body, wrap=lambda d: FaultyDrive(d, [slow]), call_timeout=0.3)
    finally:
        asyncio.run(other.close())


@pytest.mark.parametrize("where", ["write", "read_at", "walk_next", "open_shard"])
def test_hung_streams_time_out(tmp_path: Path, where: str) -> None:
    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive,
                   faulty: FaultyDrive) -> None:
        await local.make_volume("b")
        await local.write_all("b", "o/part.1", os.urandom(MIB))
        await local.write_all("b", "k/xl.meta", b"x")
        faulty.add(Fault(where, action="hang"))
        started = time.monotonic()
        with pytest.raises(DriveOffline):
            if where == "write":
                w = await remote.create_shard("b", "n/part.1")
                await w.write(os.urandom(MIB))  # streamed: returns before the drive writes
                await w.close()                 # waits for the drive: times out
            elif where == "walk_next":
                [e async for e in remote.walk("b", "", recursive=True)]
            else:
                r = await remote.open_shard("b", "o/part.1")
                await r.read_at(0, 100)
        assert time.monotonic() - started < 2
        assert not remote.is_online()
        faulty.clear()  # unblock the server side: its late reply (a body, for
        await asyncio.sleep(0.1)  # read_at) is read and dropped by the client
        assert await remote.reconnect()
        assert remote.node.online  # a hung drive never took the node down
        r = await remote.open_shard("b", "o/part.1")
        assert bytes(await r.read_at(0, MIB)) == await local.read_all("b", "o/part.1")
        await r.close()

    served(tmp_path, body, wrap=lambda d: FaultyDrive(d), call_timeout=0.4)


def test_health_wrapper_deadline_cancels_cleanly(tmp_path: Path) -> None:
    """A deadline shorter than the RPC's: the wrapper cancels the call mid-flight;
    the connection is dropped, not pooled out of step, and the drive comes back."""
    slow = Fault("read_all", action="delay", delay=1.0, times=1)

    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive,
                   faulty: FaultyDrive) -> None:
        guarded = HealthCheckedDrive(remote, timeout=0.2)
        await guarded.make_volume("b")
        await guarded.write_all("b", "f", b"data")
        with pytest.raises(DriveOffline):
            await guarded.read_all("b", "f")
        assert not guarded.is_online() and remote.is_online()
        await asyncio.sleep(1.0)  # the late reply is sent to a closed connection
        assert await guarded.check()
        for _ in range(5):
            assert await guarded.read_all("b", "f") == b"data"
        await guarded.close()

    served(tmp_path, body, wrap=lambda d: FaultyDrive(d, [slow]), call_timeout=5.0)


# -- (g) memory ----------------------------------------------------------------------------------


class RecordingWriter(DelegatingWriter):
    __slots__ = ()

    async def write(self, data: Any) -> None:
        assert isinstance(self._drive, RecordingDrive)
        self._drive.writes.append(memoryview(data).nbytes)
        await super().write(data)


class RecordingDrive(DelegatingDrive):
    """Records the size of every shard write the server makes."""

    writer_type = RecordingWriter

    def __init__(self, inner: StorageAPI) -> None:
        super().__init__(inner)
        self.writes: list[int] = []


async def _pieces(data: bytes, size: int) -> AsyncIterator[memoryview]:
    view = memoryview(data)
    for at in range(0, len(data), size):
        yield view[at : at + size]


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("piece", [64 * MIB, 4 * MIB], ids=["one-write", "4MiB-writes"])
def test_64mib_shard_is_streamed_not_buffered(tmp_path: Path, piece: int, loop: str) -> None:
    data = os.urandom(64 * MIB)
    digest = hashlib.sha256(data).hexdigest()

    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive,
                   recorder: RecordingDrive) -> None:
        await remote.make_volume("b")
        tracemalloc.start()
        try:
            w = await remote.create_shard("b", "big/part.1")
            async for view in _pieces(data, piece):
                await w.write(view)
            await w.close()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert recorder.writes and max(recorder.writes) <= MAX_CHUNK
        assert sum(recorder.writes) == len(data) and len(recorder.writes) >= 64
        # Both processes' worth of Python memory (client and server run here).
        assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB while streaming 64 MiB"
        path = Path(local.root) / "b" / "big" / "part.1"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest

        r = await remote.open_shard("b", "big/part.1")
        h = hashlib.sha256()
        for at in range(0, len(data), 8 * MIB):
            h.update(await r.read_at(at, 8 * MIB))
        await r.close()
        assert h.hexdigest() == digest

    served(tmp_path, body, wrap=RecordingDrive, loop=loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_slow_drive_pushes_back_instead_of_buffering(tmp_path: Path, loop: str) -> None:
    """The server stops reading while its drive is busy: TCP pushes back on the
    client, nobody queues the shard in memory."""
    data = os.urandom(24 * MIB)

    def wrap(d: LocalDrive) -> StorageAPI:
        return FaultyDrive(d, [Fault("write", action="delay", delay=0.03)])

    async def body(server: RPCServer, remote: RemoteDrive, local: LocalDrive, _: Any) -> None:
        await remote.make_volume("b")
        tracemalloc.start()
        try:
            w = await remote.create_shard("b", "slow/part.1")
            await w.write(data)
            await w.close()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * MIB, f"peak {peak / MIB:.1f} MiB"
        assert (Path(local.root) / "b" / "slow" / "part.1").read_bytes() == data

    served(tmp_path, body, wrap=wrap, loop=loop)
