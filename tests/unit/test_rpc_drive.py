"""RemoteDrive -> RPCServer -> LocalDrive on loopback behaves like the LocalDrive itself.

The first test runs test_local_drive's own tests with their drive replaced by a
RemoteDrive in front of it (their filesystem checks still look at the local
root); the rest cover what only the transport adds: chunked streams, multi-chunk
ranges, walk batching, error classes, pinned readers, concurrency, wrappers.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import tests.unit.test_local_drive as ld
from liteio.meta import XLMeta
from liteio.rpc import NodeClient, RemoteDrive, RPCServer
from liteio.rpc import server as rpc_server
from liteio.rpc.loopback import Loopback
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI, WalkEntry
from liteio.storage.faulty import Fault, FaultyDrive
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.paths import SYSTEM_VOLUME
from liteio.storage.wrapper import DelegatingDrive
from tests.unit.test_local_drive import drive_at, obj_version, stage_shard

T = TypeVar("T")
SECRET = "rpc-drive-test-secret"
MIB = 1 << 20


# -- LocalDrive's own tests, through RPC ----------------------------------------------------


class LoopbackDrive(RemoteDrive):
    """A RemoteDrive whose drive is a LocalDrive in this process; it shows that
    drive's root and O_DIRECT mode so the LocalDrive tests' checks apply as written."""

    def __init__(self, local: LocalDrive, node: NodeClient, drive_id: str) -> None:
        super().__init__(node, drive_id)
        self.local = local
        self.root = local.root

    @property
    def direct_io(self) -> bool:
        return self.local.direct_io


@pytest.fixture
def through_rpc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make test_local_drive's ``drive_at`` hand out LoopbackDrives, and its ``run``
    start their servers on the test's event loop first."""
    made: list[tuple[RPCServer, LoopbackDrive]] = []
    real_drive_at = ld.drive_at

    def remote_drive_at(tmp_path: Path, name: str = "d1", **kw: Any) -> LoopbackDrive:
        local = real_drive_at(tmp_path, name, **kw)
        server = RPCServer({"/" + name: local}, SECRET)
        drive = LoopbackDrive(local, NodeClient("127.0.0.1", 0, SECRET), "/" + name)
        made.append((server, drive))
        return drive

    def run(coro: Awaitable[T]) -> T:
        async def main() -> T:
            for server, drive in made:
                if server.port == 0:
                    await server.start()
                    drive.node.port = server.port
                    drive.endpoint = drive.node.url + drive.drive_id
            try:
                return await coro
            finally:
                for server, drive in made:
                    await drive.node.close()
                    await server.close()

        return asyncio.run(main())

    monkeypatch.setattr(ld, "drive_at", remote_drive_at)
    monkeypatch.setattr(ld, "run", run)
    yield
    for _, drive in made:
        asyncio.run(drive.local.close())


def _local_cases() -> list[Any]:
    """Every test of test_local_drive that builds its drive with ``drive_at``,
    expanded over its own parametrization."""
    cases = []
    for name, fn in vars(ld).items():
        if not name.startswith("test_") or not callable(fn):
            continue
        if "drive_at(" not in inspect.getsource(fn):
            continue  # builds a LocalDrive of its own
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            cases.append(pytest.param(name, {}, id=name))
            continue
        (mark,) = marks
        argname, values = mark.args
        for i, value in enumerate(values):
            if isinstance(value, type(pytest.param(None))):
                cases.append(pytest.param(name, {argname: value.values[0]},
                                          id=f"{name}[{value.id}]"))
            else:
                cases.append(pytest.param(name, {argname: value}, id=f"{name}[{i}]"))
    return cases


def _failure(call: Callable[[], object]) -> tuple[str, int] | None:
    """Where ``call`` fails: (exception type, line in test_local_drive), or None."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - comparing outcomes, whatever they are
        tb = exc.__traceback__
        line = 0
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == ld.__file__:
                line = tb.tb_lineno
            tb = tb.tb_next
        return type(exc).__name__, line
    return None


@pytest.mark.parametrize(("name", "extra"), _local_cases())
def test_local_drive_behaviour_through_rpc(
    name: str, extra: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    through_rpc: None,
) -> None:
    """Passes when the test passes through RPC, or fails exactly where it fails
    on the LocalDrive itself: "same behaviour" is what is checked, not the test."""
    fn = getattr(ld, name)
    kwargs: dict[str, Any] = {"tmp_path": tmp_path, **extra}
    if "monkeypatch" in inspect.signature(fn).parameters:
        kwargs["monkeypatch"] = monkeypatch
    remote = _failure(lambda: fn(**kwargs))
    if remote is None:
        return
    monkeypatch.undo()  # the real drive_at and run: the LocalDrive alone
    local_path = tmp_path / "local"
    local_path.mkdir()
    kwargs["tmp_path"] = local_path
    if "monkeypatch" in kwargs:
        kwargs["monkeypatch"] = pytest.MonkeyPatch()
    local = _failure(lambda: fn(**kwargs))
    assert remote == local, f"through RPC: {remote}; LocalDrive alone: {local}"


# -- what the transport adds --------------------------------------------------------------


def serve(tmp_path: Path, body: Callable[[RemoteDrive, LocalDrive], Awaitable[None]],
          *, wrap: Callable[[LocalDrive], StorageAPI] | None = None, **client_kw: Any) -> None:
    """Run ``body(remote, local)`` with ``remote`` served from ``local`` over loopback."""
    local = drive_at(tmp_path)

    async def main() -> None:
        served = wrap(local) if wrap is not None else local
        async with Loopback({"/d1": served}, SECRET, **client_kw) as lb:
            remote = lb.drive("/d1")
            try:
                await body(remote, local)
            finally:
                await remote.close()
        await local.close()

    asyncio.run(main())


def test_large_shard_streams_in_chunks_and_ranges_match(tmp_path: Path) -> None:
    rng = random.Random(11)
    data = os.urandom(5 * MIB + 12345)

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        path = f"tmp/{uuid.uuid4()}/dd/part.1"
        w = await remote.create_shard(SYSTEM_VOLUME, path)
        await w.write(data[: 3 * MIB + 7])              # several chunks in one write
        await w.write(memoryview(data)[3 * MIB + 7 : 3 * MIB + 100])
        await w.write(b"")                              # nothing: not an end marker
        await w.write(bytearray(data[3 * MIB + 100 :]))
        await w.close()
        with pytest.raises(serr.StorageError):
            await w.write(b"late")
        assert Path(local.root, SYSTEM_VOLUME, path).read_bytes() == data

        r = await remote.open_shard(SYSTEM_VOLUME, path)
        whole = await r.read_at(0, len(data) + 100)    # several chunks back, short at EOF
        assert isinstance(whole, memoryview) and bytes(whole) == data
        for _ in range(25):
            off = rng.randrange(0, len(data) + 10)
            length = rng.choice([1, 31, 4096, MIB - 1, MIB, MIB + 1, 2 * MIB + 5])
            got = await r.read_at(off, length)
            assert bytes(got) == data[off : off + length]
        assert bytes(await r.read_at(5, 0)) == b""
        # Overlapping reads on one reader (the decoder prefetches windows).
        spans = [(rng.randrange(0, len(data)), rng.choice([100, MIB, 3 * MIB])) for _ in range(12)]
        got_all = await asyncio.gather(*(r.read_at(off, n) for off, n in spans))
        for (off, n), got in zip(spans, got_all):
            assert bytes(got) == data[off : off + n]
        with pytest.raises(serr.StorageError):
            await r.read_at(-1, 5)
        await r.close()
        await r.close()
        with pytest.raises(serr.StorageError):
            await r.read_at(0, 5)

    serve(tmp_path, body)


def test_numpy_buffers_and_aborted_writer(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        arr = np.arange(300_000, dtype=np.uint32)
        w = await remote.create_shard(SYSTEM_VOLUME, "tmp/n/part.1")
        await w.write(arr)                               # not bytes, not 1-byte items
        await w.close()
        assert Path(local.root, SYSTEM_VOLUME, "tmp/n/part.1").read_bytes() == arr.tobytes()

        w = await remote.create_shard(SYSTEM_VOLUME, "tmp/a/part.1")
        await w.write(b"x" * 1000)
        await w.abort()
        await w.abort()
        # The connection went back to the pool in step: the next call works.
        assert await remote.list_dir(SYSTEM_VOLUME, "tmp/a") == ["part.1"]

    serve(tmp_path, body)


def test_open_reader_survives_delete(tmp_path: Path) -> None:
    """The object layer pins a version by opening its shards: the server must keep
    the file open between reads, not reopen it per read."""

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        await remote.make_volume("b")
        await remote.write_all("b", "o/dd/part.1", b"pinned bytes")
        r = await remote.open_shard("b", "o/dd/part.1")
        await remote.delete("b", "o", recursive=True)
        assert bytes(await r.read_at(0, 100)) == b"pinned bytes"
        await r.close()
        with pytest.raises(serr.FileNotFound):
            await remote.open_shard("b", "o/dd/part.1")

    serve(tmp_path, body)


class CountingWalks(DelegatingDrive):
    """Counts the walks open on the served drive."""

    open_walks = 0

    async def walk_batches(  # type: ignore[override]
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[list[WalkEntry]]:
        self.open_walks += 1
        try:
            async for batch in self.inner.walk_batches(
                volume, prefix, recursive=recursive, start_after=start_after
            ):
                yield batch
        finally:
            self.open_walks -= 1


def test_walk_start_after_batches_and_early_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut messages small so one drive batch spans several replies.
    monkeypatch.setattr(rpc_server, "WALK_MESSAGE_BUDGET", 2000)
    keys = sorted(f"k{i:04d}" for i in range(300)) + ["z/a", "z/b"]
    served: list[CountingWalks] = []

    def wrap(local: LocalDrive) -> StorageAPI:
        served.append(CountingWalks(local))
        return served[0]

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        await local.make_volume("b")
        for key in keys:
            await local.commit_version("b", key, obj_version(), key.encode() * 10, None)

        async def listed(drive: StorageAPI, **kw: Any) -> list[tuple[str, bytes | None]]:
            return [(e.key, e.xl) async for e in drive.walk("b", "", **kw)]

        for kw in ({"recursive": True}, {"recursive": False},
                   {"recursive": True, "start_after": "k0149"},
                   {"recursive": False, "start_after": "k0299"}):
            assert await listed(remote, **kw) == await listed(local, **kw)
        batches = [b async for b in remote.walk_batches("b", "k01", recursive=True)]
        assert [e.key for b in batches for e in b] == [k for k in keys if k.startswith("k01")]
        assert len(batches) > 1 and all(isinstance(e, WalkEntry) for b in batches for e in b)

        # Stopping early closes the walk on the server; the connection carries on.
        walk = remote.walk("b", "", recursive=True)
        first = [await anext(walk) for _ in range(3)]
        assert served[0].open_walks == 1
        await walk.aclose()  # type: ignore[attr-defined]
        assert [e.key for e in first] == keys[:3]
        assert XLMeta.load(await remote.read_xl("b", "k0000")).inline_data(
            obj_version().version_id) == b"k0000" * 10
        with pytest.raises(serr.VolumeNotFound):
            [e async for e in remote.walk("nope", "", recursive=True)]
        assert remote.is_online()
        assert served[0].open_walks == 0  # every walk ended, the abandoned one too

    serve(tmp_path, body, wrap=wrap)


@pytest.mark.parametrize("cls", sorted(
    (c for c in vars(serr).values() if isinstance(c, type) and issubclass(c, serr.StorageError)),
    key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_errors_arrive_as_the_same_class(tmp_path: Path, cls: type[serr.StorageError]) -> None:
    faulty: list[FaultyDrive] = []

    def wrap(local: LocalDrive) -> StorageAPI:
        faulty.append(FaultyDrive(local, [Fault("read_all", error=cls(f"boom {cls.__name__}"))]))
        return faulty[0]

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        with pytest.raises(cls) as info:
            await remote.read_all("b", "x")
        assert type(info.value) is cls
        assert f"boom {cls.__name__}" in str(info.value)
        assert remote.is_online() == (cls is not serr.DriveOffline)

    serve(tmp_path, body, wrap=wrap)


def test_unknown_and_unexpected_errors_become_storage_error(tmp_path: Path) -> None:
    class Weird(serr.FileNotFound):  # a wrapper's own subclass: the nearest known class
        pass

    class Broken(FaultyDrive):
        async def list_dir(self, volume: str, path: str) -> list[str]:
            raise RuntimeError("a bug in a drive")

    def wrap(local: LocalDrive) -> StorageAPI:
        return Broken(local, [Fault("read_all", error=Weird("odd"))])

    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        with pytest.raises(serr.FileNotFound) as info:
            await remote.read_all("b", "x")
        assert type(info.value) is serr.FileNotFound
        with pytest.raises(serr.StorageError) as info2:
            await remote.list_dir("b", "")
        assert type(info2.value) is serr.StorageError and "internal error" in str(info2.value)
        with pytest.raises(serr.StorageError, match="unknown RPC method"):
            await remote.node.call("/d1", "__class__", [])
        with pytest.raises(serr.StorageError, match="bad arguments"):
            await remote.node.call("/d1", "read_all", [])
        with pytest.raises(serr.DriveOffline, match="no drive"):
            await remote.node.call("/elsewhere", "read_all", ["b", "x"])
        # None of these broke the connection or the drive's state.
        assert remote.node.online
        await remote.make_volume("b")
        assert [v.name for v in await remote.list_volumes()] == ["b"]

    serve(tmp_path, body, wrap=wrap)


def test_concurrent_calls_and_streams_share_the_pool(tmp_path: Path) -> None:
    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        await remote.make_volume("b")
        blobs = {f"f{i}": os.urandom(1000 + i) for i in range(40)}
        await asyncio.gather(*(remote.write_all("b", k, v) for k, v in blobs.items()))
        got = await asyncio.gather(*(remote.read_all("b", k) for k in blobs))
        assert got == list(blobs.values())

        async def shard(i: int) -> None:
            data = os.urandom(300_000 + i)
            w = await remote.create_shard("b", f"s{i}/part.1")
            for at in range(0, len(data), 65536):
                await w.write(data[at : at + 65536])
            await w.close()
            r = await remote.open_shard("b", f"s{i}/part.1")
            assert bytes(await r.read_at(0, len(data))) == data
            await r.close()

        await asyncio.gather(*(shard(i) for i in range(12)))
        # Writers came back to the pool; calls share the multiplexed connections.
        assert 1 <= len(remote.node._idle) <= remote.node.max_idle
        assert 1 <= len(remote.node._mux) <= remote.node.mux_connections
        # Metadata round trips: commit, read, delete a version.
        staged, dd = await stage_shard(local, b"p1")
        v = obj_version(data_dir=uuid.UUID(dd).bytes)
        res = await remote.commit_version("b", "obj", v, None, staged)
        assert res.previous_xl is None
        assert XLMeta.load(await remote.read_xl("b", "obj")).latest() == v

    serve(tmp_path, body)


def test_works_wrapped_by_health_checked_drive(tmp_path: Path) -> None:
    async def body(remote: RemoteDrive, local: LocalDrive) -> None:
        guarded = HealthCheckedDrive(remote, timeout=5.0)
        await guarded.make_volume("b")
        w = await guarded.create_shard("b", "o/part.1")
        await w.write(b"abc" * 100_000)
        await w.close()
        r = await guarded.open_shard("b", "o/part.1")
        assert bytes(await r.read_at(3, 6)) == b"abcabc"
        await r.close()
        assert [e.key async for e in guarded.walk("b", "", recursive=True)] == []
        assert await guarded.check()
        await guarded.close()  # closes the RemoteDrive handle, not the local drive
        assert local.is_online()

    serve(tmp_path, body)
