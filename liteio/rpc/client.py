"""``RemoteDrive``: the ``StorageAPI`` of a drive on another node, over RPC.

    node = NodeClient("10.0.0.2", 9100, secret)
    drive = node.drive("/data/disk3")          # or RemoteDrive(node, "/data/disk3")

To the object layer it is one more drive: same calls, same storage errors
(raised as the same classes the remote drive raised), same offline rules.
It goes offline when a call times out, when the remote drive reports
``DriveOffline``, or when its node does (connection refused or lost); from
then on calls fail fast with ``DriveOffline`` until ``reconnect`` brings it
back (node probe, then the remote drive's own ``reconnect``). Re-probing in
the background is the caller's job: wrap it in ``HealthCheckedDrive``.

Calls, shard reads and walks share the node's multiplexed connections
(``NodeClient``): an open shard is a handle there, each ``read_at`` one
request whose bytes land straight in the buffer it returns, and closing a
reader costs no round trip. A shard writer takes a stream connection for its
whole life and sends its data as body chunks without waiting for an answer
per write: TCP flow control paces it, and a failure the server reports is
raised by the next write or by ``close``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from liteio.rpc import codec
from liteio.rpc.mux import MuxConnection
from liteio.rpc.node import CallTimedOut, NodeClient
from liteio.rpc.wire import ABORT, END, MAX_CHUNK, Channel, ProtocolError
from liteio.storage.api import (
    CommitResult,
    DiskInfo,
    ShardReader,
    ShardWriter,
    StorageAPI,
    VolumeInfo,
    WalkEntry,
)
from liteio.storage.errors import DriveOffline, StorageError

if TYPE_CHECKING:
    from liteio.meta.versions import DeleteMarker, ObjectVersion

_EMPTY = memoryview(b"")
# Releasing a stream (abort, close after a failure) is best effort: never wait long.
CLEANUP_TIMEOUT = 2.0
# Shard writes go out in chunks of at most this. The server writes one to the
# drive while the next arrives; cutting a 1 MiB block finer to overlap more was
# measured slower (256 KiB: ~+40% per block: a drive call per chunk costs more
# than the overlap gains), 512 KiB no faster.
WRITE_CHUNK = MAX_CHUNK


class RemoteDrive(StorageAPI):
    def __init__(self, node: NodeClient, drive_id: str, *, endpoint: str | None = None) -> None:
        self.node = node
        self.drive_id = drive_id
        self.endpoint = endpoint or node.url + ("" if drive_id.startswith("/") else "/") + drive_id
        self._online = True
        self._reason = ""
        self._closed = False
        node._attach()

    def __repr__(self) -> str:
        state = "online" if self.is_online() else f"offline ({self._why()})"
        return f"<RemoteDrive {self.endpoint} {state}>"

    # -- state --------------------------------------------------------------------------------

    def is_online(self) -> bool:
        return self._online and self.node.online and not self._closed

    def _why(self) -> str:
        if self._closed:
            return "drive closed"
        if not self.node.online:
            return f"node offline: {self.node.last_error}"
        return self._reason

    def _ensure_online(self) -> None:
        if not self.is_online():
            raise DriveOffline(f"{self.endpoint}: offline ({self._why()})")

    def _offline(self, exc: DriveOffline) -> DriveOffline:
        self._online = False
        self._reason = str(exc)
        return exc

    async def reconnect(self) -> bool:
        if self._closed:
            return False
        if self.is_online():
            return True
        if not self.node.online and not await self.node.probe():
            return False
        try:
            ok = await self.node.call(self.drive_id, "reconnect", [])
        except StorageError as exc:
            self._reason = str(exc)
            return False
        self._online = bool(ok)
        if self._online:
            self._reason = ""
        return self._online

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(self, method: str, args: list[Any]) -> Any:
        self._ensure_online()
        try:
            return await self.node.call(self.drive_id, method, args)
        except DriveOffline as exc:
            raise self._offline(exc) from None

    async def _open_stream(self, method: str, args: list[Any]) -> tuple[Channel, int]:
        """Send a request that opens a write stream; its connection stays ours."""
        self._ensure_online()
        try:
            ch = await self.node.acquire()
        except DriveOffline as exc:
            raise self._offline(exc) from None
        rid = ch.take_id()
        try:
            await self.node.exchange(ch, [rid, method, self.drive_id, args])
        except BaseException as exc:
            self.node.release(ch, isinstance(exc, StorageError) and ch.error is None)
            if isinstance(exc, DriveOffline):
                raise self._offline(exc) from None
            raise
        return ch, rid

    def _broken(self, ch: Channel, exc: BaseException, what: str) -> DriveOffline:
        """A stream's connection failed under ``what``: the error to raise."""
        if ch.closed_here:  # we dropped it (a timeout or cancellation before): not news
            return DriveOffline(f"{self.endpoint}: {what}: connection closed after a failure")
        ch.abort()
        if isinstance(exc, TimeoutError):
            err: DriveOffline = CallTimedOut(
                f"{self.node.url}: {what} timed out after {self.node.call_timeout:g}s"
            )
        else:
            err = self.node.lost(exc)
        return self._offline(err)

    # -- identity ---------------------------------------------------------------------------------

    async def disk_info(self) -> DiskInfo:
        return codec.disk_info_in(await self._call("disk_info", []), self.endpoint)

    # -- volumes ----------------------------------------------------------------------------------

    async def make_volume(self, volume: str) -> None:
        await self._call("make_volume", [volume])

    async def list_volumes(self) -> list[VolumeInfo]:
        return [codec.volume_in(v) for v in await self._call("list_volumes", [])]

    async def stat_volume(self, volume: str) -> VolumeInfo:
        return codec.volume_in(await self._call("stat_volume", [volume]))

    async def delete_volume(self, volume: str, force: bool = False) -> None:
        await self._call("delete_volume", [volume, force])

    # -- small whole files ---------------------------------------------------------------------------

    async def read_all(self, volume: str, path: str) -> bytes:
        return bytes(await self._call("read_all", [volume, path]))

    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        await self._call("write_all", [volume, path, bytes(data)])

    async def delete(self, volume: str, path: str, recursive: bool = False) -> None:
        await self._call("delete", [volume, path, recursive])

    async def list_dir(self, volume: str, path: str) -> list[str]:
        return list(await self._call("list_dir", [volume, path]))

    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        await self._call("rename", [src_volume, src_path, dst_volume, dst_path])

    # -- shard streams ----------------------------------------------------------------------------------

    async def create_shard(self, volume: str, path: str) -> ShardWriter:
        ch, rid = await self._open_stream("create_shard", [volume, path])
        return RemoteShardWriter(self, ch, rid)

    async def open_shard(self, volume: str, path: str) -> ShardReader:
        self._ensure_online()
        try:
            m = await self.node.mux()
            handle = await m.call("open_shard", self.drive_id, [volume, path],
                                  self.node.call_timeout)
        except TimeoutError:
            raise self._offline(CallTimedOut(
                f"{self.node.url}: open_shard timed out after {self.node.call_timeout:g}s"
            )) from None
        except DriveOffline as exc:
            raise self._offline(exc) from None
        return RemoteShardReader(self, m, handle)

    # -- object metadata ----------------------------------------------------------------------------------

    async def read_xl(self, volume: str, path: str) -> bytes:
        return bytes(await self._call("read_xl", [volume, path]))

    async def write_xl(self, volume: str, path: str, data: bytes) -> None:
        await self._call("write_xl", [volume, path, bytes(data)])

    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        args = [volume, path, codec.version_out(version),
                None if inline is None else bytes(inline),
                None if staged_data_dir is None else list(staged_data_dir)]
        return codec.commit_in(await self._call("commit_version", args))

    async def add_delete_marker(self, volume: str, path: str, marker: DeleteMarker) -> CommitResult:
        args = [volume, path, codec.version_out(marker)]
        return codec.commit_in(await self._call("add_delete_marker", args))

    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        return codec.commit_in(await self._call("delete_version", [volume, path, version_id]))

    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        await self._call("update_version", [volume, path, codec.version_out(version)])

    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        prev = None if previous_xl is None else bytes(previous_xl)
        await self._call("restore_xl", [volume, path, prev, new_data_dir])

    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        await self._call("discard_data_dir", [volume, path, data_dir])

    # -- listing --------------------------------------------------------------------------------------------

    async def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[WalkEntry]:
        batches = self.walk_batches(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            async for batch in batches:
                for entry in batch:
                    yield entry
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    async def walk_batches(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[list[WalkEntry]]:
        """One call per batch, made only when the consumer wants the batch (the
        drive is never read ahead of the listing); a walk left early is closed."""
        self._ensure_online()
        try:
            m = await self.node.mux()
            handle, batch = await self._walk_step(
                m, "walk", self.drive_id, [volume, prefix, recursive, start_after])
        except DriveOffline as exc:
            raise self._offline(exc) from None
        try:
            while batch is not None:
                if batch:
                    yield codec.walk_in(batch)
                batch = await self._walk_step(m, "walk_next", "", [handle])
            handle = None  # the server ended it
        except StorageError:
            handle = None  # the server ends a walk that failed
            raise
        finally:
            if handle is not None:  # abandoned by the consumer
                m.send_only("walk_close", "", [handle])

    async def _walk_step(self, m: MuxConnection, method: str, drive_id: str,
                         args: list[Any]) -> Any:
        try:
            return await m.call(method, drive_id, args, self.node.call_timeout)
        except TimeoutError:
            raise self._offline(CallTimedOut(
                f"{self.node.url}: {method} timed out after {self.node.call_timeout:g}s"
            )) from None
        except DriveOffline as exc:
            raise self._offline(exc) from None

    # -- housekeeping -----------------------------------------------------------------------------------------

    async def clean_tmp(self) -> None:
        await self._call("clean_tmp", [])

    async def close(self) -> None:
        """Close this handle (the remote drive itself stays up); the node's
        connections close with its last drive."""
        if self._closed:
            return
        self._closed = True
        await self.node._detach()


class RemoteShardWriter(ShardWriter):
    """A shard being written on a remote drive, over a connection of its own."""

    __slots__ = ("_ch", "_done", "_drive", "_failure", "_rid")

    def __init__(self, drive: RemoteDrive, ch: Channel, rid: int) -> None:
        self._drive = drive
        self._ch = ch
        self._rid = rid
        self._done = False
        self._failure: StorageError | None = None  # what the server reported early

    def _check_answer(self) -> None:
        """Raise a failure the server has already reported (without waiting)."""
        if self._failure is None:
            try:
                reply = self._ch.poll_message()
            except ProtocolError as exc:
                raise self._drive._broken(self._ch, exc, "shard write") from None
            if reply is None:
                return
            try:
                self._drive.node.result(self._ch, self._rid, reply)
            except StorageError as exc:
                self._failure = exc
            else:  # an OK before END: the server is out of step
                raise self._drive._broken(self._ch, ProtocolError("early OK"), "shard write")
        if isinstance(self._failure, DriveOffline):
            self._drive._offline(self._failure)
        raise self._failure

    async def write(self, data: Any) -> None:
        if self._done:
            raise StorageError(f"write to a closed shard on {self._drive.endpoint}")
        self._check_answer()
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        ch = self._ch
        try:
            async with asyncio.timeout(self._drive.node.call_timeout):
                for at in range(0, len(view), WRITE_CHUNK):
                    ch.write_chunk(view[at : at + WRITE_CHUNK])
                    # PERF: one chunk in flight in our process at a time; the kernel's
                    # socket buffers keep the pipe full.
                    await ch.drain()
        except asyncio.CancelledError:
            ch.abort()  # part of a chunk may be out: the stream is unusable
            raise
        except (TimeoutError, ConnectionError) as exc:
            raise self._drive._broken(ch, exc, "shard write") from None
        self._check_answer()

    async def close(self) -> None:
        if self._done:
            return
        self._done = True
        await self._finish(END, "shard close")

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self._finish(ABORT, "shard abort", CLEANUP_TIMEOUT)
        except StorageError:
            pass  # the caller removes the staging dir; nothing to report

    async def _finish(self, marker: int, what: str, timeout: float | None = None) -> None:
        ch = self._ch
        node = self._drive.node
        clean = False
        try:
            if ch.error is not None:  # whatever broke it has reported (and marked) already
                raise DriveOffline(f"{self._drive.endpoint}: {what}: connection gone")
            try:
                async with asyncio.timeout(node.call_timeout if timeout is None else timeout):
                    if marker == END:
                        ch.write_end()
                    else:
                        ch.write_abort()
                    if self._failure is None:
                        reply = await ch.read_message()
                        try:
                            node.result(ch, self._rid, reply)
                        except StorageError as exc:
                            self._failure = exc
            except asyncio.CancelledError:
                ch.abort()
                raise
            except (TimeoutError, ConnectionError) as exc:
                raise self._drive._broken(ch, exc, what) from None
            clean = True
            if self._failure is not None:
                if isinstance(self._failure, DriveOffline):
                    self._drive._offline(self._failure)
                raise self._failure
        finally:
            node.release(ch, clean)

    def __repr__(self) -> str:
        return f"<RemoteShardWriter {self._drive.endpoint}>"


class RemoteShardReader(ShardReader):
    """A shard held open on a remote drive: a handle on one multiplexed
    connection. Reads may overlap (the erasure decoder prefetches); each one's
    bytes are received straight into the buffer it returns."""

    __slots__ = ("_closed", "_drive", "_handle", "_mux")

    def __init__(self, drive: RemoteDrive, mux: MuxConnection, handle: int) -> None:
        self._drive = drive
        self._mux = mux
        self._handle = handle
        self._closed = False

    async def read_at(self, offset: int, length: int) -> memoryview:
        if offset < 0 or length < 0:
            raise StorageError(f"invalid shard range offset={offset} length={length}")
        if self._closed:
            raise StorageError(f"read from a closed shard on {self._drive.endpoint}")
        if length == 0:
            return _EMPTY
        drive = self._drive
        node = drive.node
        if not self._mux.alive:  # whatever broke it has reported (and marked) already
            raise DriveOffline(f"{drive.endpoint}: shard read: connection gone")
        view = node.buffers.take(length)
        try:
            got = await self._mux.call("read_at", "", [self._handle, offset, length],
                                       node.call_timeout, view)
        except TimeoutError:
            raise drive._offline(CallTimedOut(
                f"{node.url}: shard read timed out after {node.call_timeout:g}s")) from None
        except DriveOffline as exc:
            raise drive._offline(exc) from None
        if not isinstance(got, int) or got > length:
            raise StorageError(f"{drive.endpoint}: shard read returned {got!r} of {length} bytes")
        return view[:got]

    async def close(self) -> None:
        """Release the shard. Nobody waits for the reply: nothing about closing
        a reader is worth a round trip to the caller."""
        if not self._closed:
            self._closed = True
            self._mux.send_only("reader_close", "", [self._handle])

    def __repr__(self) -> str:
        return f"<RemoteShardReader {self._drive.endpoint}>"
