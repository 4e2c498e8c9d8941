"""``RPCServer``: serves a node's local drives to the other nodes.

A connection first passes the handshake (``liteio.rpc.auth``), then carries
requests ``[id, method, drive, args]``, answered by ``[id, OK|ERR|BODY,
result]``. Two kinds of connection, as the client uses them:

- Multiplexed (every call but shard writes): requests run concurrently, one
  task each (at most ``MAX_IN_FLIGHT`` per connection, then the connection
  is not read until one finishes), and replies go back as they complete,
  matched by id. Replies finishing in the same loop iteration leave in one
  write. Open shards and walks are handles in the connection's table (the
  object layer relies on an open shard surviving a concurrent delete), all
  released when the connection ends, however it ends:
    ``open_shard`` -> handle; ``read_at [h, off, len]`` -> BODY (the bytes as
    chunks, the last one marked); ``reader_close [h]``;
    ``walk`` -> [handle or None, first batch or None]; ``walk_next [h]`` ->
    the next batch, None at the end; ``walk_close [h]``.
  Walk batches are cut at about 4 MiB of metadata, whatever the drive's size.
- A shard write (``create_shard``) takes its connection for the stream: after
  the OK the client sends body chunks (``wire``), each written to the drive as
  it arrives (never a whole shard in memory; two buffers, so the next chunk
  arrives while the drive writes this one), then END (close: durable) or
  ABORT. Exactly one more reply follows: the close's result, or the first
  write error as soon as it happens, after which chunks are read and dropped
  until END/ABORT.

A drive call in progress is never cancelled when its client goes away (on a
shard that would let a close race a read or write on the drive's thread):
handles are released once the calls using them are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as _ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from liteio.rpc import codec
from liteio.rpc.auth import (
    DEFAULT_MAX_SKEW,
    AuthFailed,
    requires_client_cert,
    secret_key,
    server_handshake,
)
from liteio.rpc.buffers import BufferCache
from liteio.rpc.handlers import HANDLERS
from liteio.rpc.wire import ABORT, BODY, END, ERR, MAX_CHUNK, OK, Channel, ProtocolError, pack
from liteio.storage.api import ShardReader, ShardWriter, StorageAPI, WalkEntry
from liteio.storage.errors import DriveOffline, StorageError

log = logging.getLogger("liteio.rpc.server")

WALK_MESSAGE_BUDGET = 4 << 20
MAX_IN_FLIGHT = 256
RELEASE_GRACE = 10.0
_BAD_ARGS = (TypeError, ValueError, IndexError, KeyError)
T = TypeVar("T")


async def _quietly(call: Callable[[], Awaitable[object]]) -> None:
    with contextlib.suppress(Exception):
        await call()


async def _attempt(
    call: Callable[..., Awaitable[T]], *args: Any
) -> tuple[T | None, Exception | None]:
    """(result, None) or (None, the failure): every failure of a drive call
    becomes the client's error reply, whatever its type."""
    try:
        return await call(*args), None
    except Exception as exc:  # noqa: BLE001 - reported to the client, never swallowed
        return None, exc


async def _as_generator(it: AsyncIterator[list[WalkEntry]]) -> AsyncGenerator[list[WalkEntry], None]:
    async for batch in it:
        yield batch


class _Handle:
    """An open shard or walk, and the calls using it right now."""

    __slots__ = ("busy", "closing", "pending", "target")

    def __init__(self, target: ShardReader | AsyncGenerator[list[WalkEntry], None]) -> None:
        self.target = target
        self.busy = 0
        self.closing = False
        self.pending: list[WalkEntry] = []  # walk entries not sent yet

    async def close(self) -> None:
        target = self.target
        if isinstance(target, ShardReader):
            await _quietly(target.close)
        else:
            await _quietly(target.aclose)


class _Conn:
    """One authenticated connection: its requests in flight and its handles."""

    __slots__ = ("ch", "handles", "next_handle", "tasks", "writer", "writing")

    def __init__(self, ch: Channel) -> None:
        self.ch = ch
        self.tasks: set[asyncio.Task[None]] = set()
        self.handles: dict[int, _Handle] = {}
        self.next_handle = 0
        self.writer: ShardWriter | None = None
        # The drive write in progress (it runs while the next chunk arrives).
        self.writing: asyncio.Future[tuple[None, Exception | None]] | None = None

    def add(self, target: ShardReader | AsyncGenerator[list[WalkEntry], None]) -> int:
        self.next_handle += 1
        self.handles[self.next_handle] = _Handle(target)
        return self.next_handle

    def handle(self, h: Any) -> _Handle:
        handle = self.handles.get(h) if isinstance(h, int) else None
        if handle is None or handle.closing:
            raise StorageError(f"no open shard or walk {h!r} on this connection")
        return handle

    async def done_with(self, h: int, handle: _Handle) -> None:
        """A call on ``handle`` finished: close it if that was awaited."""
        handle.busy -= 1
        if handle.closing and handle.busy == 0 and self.handles.pop(h, None) is not None:
            await handle.close()

    async def release(self) -> None:
        """Close what the connection left open, once the calls using it are done.
        A drive call still stuck after ``RELEASE_GRACE`` keeps its shard open
        (closing it under the call could crash the drive's thread): leaked,
        rather than hanging the server's shutdown on a dead disk."""
        pending: set[asyncio.Future[Any]] = set(self.tasks)
        if self.writing is not None:
            pending.add(self.writing)
        if pending:
            await asyncio.wait(pending, timeout=RELEASE_GRACE)
        if self.writing is None or self.writing.done():
            writer, self.writer = self.writer, None
            if writer is not None:
                await _quietly(writer.abort)
        handles, self.handles = self.handles, {}
        for handle in handles.values():
            if handle.busy == 0:
                await handle.close()


Method = Callable[["RPCServer", _Conn, int, Any, list[Any]], Awaitable[None]]


class RPCServer:
    """Serves ``drives`` (drive id, the endpoint path, -> drive) on ``host:port``.

    ``secret`` is the cluster secret; it may be None only when ``ssl`` requires
    client certificates (mutual TLS). ``port`` 0 picks a free port (see ``port``
    after ``start``). The drives stay the caller's: ``close`` does not close them.
    """

    def __init__(
        self,
        drives: Mapping[str, StorageAPI],
        secret: str | bytes | None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: _ssl.SSLContext | None = None,
        *,
        handshake_timeout: float = 10.0,
        max_skew: float = DEFAULT_MAX_SKEW,
    ) -> None:
        self.drives = dict(drives)
        self._key = secret_key(secret)
        if self._key is None and not requires_client_cert(ssl):
            raise ValueError(
                "an RPC server needs the cluster secret, or TLS requiring client certificates"
            )
        self.host = host
        self.port = port
        self.ssl = ssl
        self.handshake_timeout = handshake_timeout
        self.max_skew = max_skew
        self._buffers = BufferCache(16 << 20)  # shard write chunks, reused across streams
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._channels: set[Channel] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Channel(self._accepted), self.host, self.port, ssl=self.ssl,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("event=rpc_listening address=%s:%d tls=%s drives=%d",
                 self.host, self.port, self.ssl is not None, len(self.drives))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _accepted(self, ch: Channel) -> None:
        self._channels.add(ch)
        task = asyncio.get_running_loop().create_task(self._serve(ch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop listening and end every connection (streams in progress are aborted)."""
        self._stop(abort=False)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def abort(self) -> None:
        """Drop everything at once, as a crash would (tests): connections are reset."""
        self._stop(abort=True)
        for task in list(self._tasks):
            task.cancel()

    def _stop(self, abort: bool) -> None:
        if self._server is not None:
            self._server.close()
        for ch in list(self._channels):
            ch.abort() if abort else ch.close()

    # -- one connection --------------------------------------------------------------------

    async def _serve(self, ch: Channel) -> None:
        try:
            if not await self._authenticate(ch):
                return
            conn = _Conn(ch)
            try:
                await self._requests(conn)
            except ProtocolError as exc:
                log.warning("event=rpc_protocol_error peer=%s error=%r", ch.peer, str(exc))
            except ConnectionError:
                pass  # the client went away; what it left open is released below
            finally:
                await conn.release()
        finally:
            ch.close()
            self._channels.discard(ch)

    async def _requests(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while True:
            request = await conn.ch.read_message()
            if (not isinstance(request, list) or len(request) != 4
                    or not isinstance(request[3], list) or not isinstance(request[0], int)):
                raise ProtocolError("malformed request")
            if request[1] == "create_shard":
                # The stream has the connection to itself until it ends.
                if conn.tasks:
                    raise ProtocolError("create_shard on a connection with calls in flight")
                await self._create_shard(conn, request[0], request[2], request[3])
                continue
            if len(conn.tasks) >= MAX_IN_FLIGHT:  # pushes back: we stop reading
                await asyncio.wait(conn.tasks, return_when=asyncio.FIRST_COMPLETED)
            task = loop.create_task(self._call(conn, request))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)

    async def _authenticate(self, ch: Channel) -> bool:
        try:
            async with asyncio.timeout(self.handshake_timeout):
                await server_handshake(ch, self._key, max_skew=self.max_skew)
            return True
        except AuthFailed as exc:
            # NOTE: the reason names what failed (bad proof, stale clock), never a secret.
            log.warning("event=rpc_auth_refused peer=%s reason=%r", ch.peer, str(exc))
        except (ConnectionError, TimeoutError) as exc:
            log.info("event=rpc_handshake_failed peer=%s error=%r", ch.peer,
                     str(exc) or type(exc).__name__)
        return False

    def _drive(self, drive_id: Any) -> StorageAPI:
        drive = self.drives.get(drive_id) if isinstance(drive_id, str) else None
        if drive is None:
            raise DriveOffline(f"no drive {drive_id!r} on this node")
        return drive

    def _error(self, conn: _Conn, rid: int, method: str, exc: BaseException) -> list[str]:
        if isinstance(exc, StorageError):
            return codec.error_out(exc)
        if isinstance(exc, _BAD_ARGS):
            return ["StorageError", f"bad arguments for {method}: {exc}"]
        log.error("event=rpc_internal_error peer=%s id=%s method=%s error=%r",
                  conn.ch.peer, rid, method, exc, exc_info=exc)
        return ["StorageError", f"internal error in {method}: {type(exc).__name__}"]

    def _reply(self, conn: _Conn, rid: int, method: str, result: Any) -> None:
        try:
            frame = pack([rid, OK, result])
        except (TypeError, ValueError, OverflowError) as exc:  # our bug, not the client's
            frame = pack([rid, ERR, self._error(conn, rid, method, exc)])
        conn.ch.send(frame)

    def _fail(self, conn: _Conn, rid: int, method: str, exc: BaseException) -> None:
        conn.ch.send_message([rid, ERR, self._error(conn, rid, method, exc)])

    async def _call(self, conn: _Conn, request: list[Any]) -> None:
        """One multiplexed request, start to reply."""
        rid, method, drive_id, args = request
        special = self._METHODS.get(method)
        try:
            if special is not None:
                await special(self, conn, rid, drive_id, args)
                return
            handler = HANDLERS.get(method)
            if handler is None:
                raise StorageError(f"unknown RPC method {str(method)[:64]!r}")
            result = await handler(self._drive(drive_id), args)
        except ConnectionError:
            return  # the reply has nowhere to go
        except Exception as exc:  # noqa: BLE001 - every failure is the client's error reply
            with contextlib.suppress(ConnectionError):
                self._fail(conn, rid, str(method), exc)
        else:
            with contextlib.suppress(ConnectionError):
                self._reply(conn, rid, method, result)

    # -- node calls ------------------------------------------------------------------------------

    async def _ping(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        self._reply(conn, rid, "ping", {"drives": sorted(self.drives)})

    # -- shard reads -------------------------------------------------------------------------------

    async def _open_shard(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        reader = await self._drive(drive_id).open_shard(args[0], args[1])
        self._reply(conn, rid, "open_shard", conn.add(reader))

    async def _read_at(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        h, offset, length = args[0], int(args[1]), int(args[2])
        handle = conn.handle(h)
        reader = handle.target
        if not isinstance(reader, ShardReader):
            raise StorageError(f"handle {h!r} is not a shard")
        handle.busy += 1
        try:
            # NOTE: one drive call for the whole range, as a local caller makes it;
            # the erasure decoder asks for windows of ~1 MiB.
            data = memoryview(await reader.read_at(offset, length))
        finally:
            await conn.done_with(h, handle)
        conn.ch.send_body(pack([rid, BODY, None]), data)
        await conn.ch.drain()  # backpressure: one body at a time per request

    async def _reader_close(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        h = args[0]
        handle = conn.handle(h)
        handle.closing = True
        if handle.busy == 0 and conn.handles.pop(h, None) is not None:
            await handle.close()
        self._reply(conn, rid, "reader_close", None)

    # -- walks -------------------------------------------------------------------------------------

    async def _walk(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        volume, prefix, recursive, start_after = args
        batches = self._drive(drive_id).walk_batches(
            volume, prefix, recursive=bool(recursive), start_after=start_after
        )
        gen = batches if isinstance(batches, AsyncGenerator) else _as_generator(batches)
        h = conn.add(gen)
        portion = await self._portion(conn, h)
        self._reply(conn, rid, "walk", [h if portion is not None else None, portion])

    async def _walk_next(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        self._reply(conn, rid, "walk", await self._portion(conn, args[0]))

    async def _portion(self, conn: _Conn, h: Any) -> list[list[Any]] | None:
        """The next batch of walk ``h`` (cut at the message budget), or None at
        its end; the walk is closed at its end or on an error."""
        handle = conn.handle(h)
        gen = handle.target
        assert not isinstance(gen, ShardReader)
        if handle.busy:
            raise StorageError("walk step already in progress")
        handle.busy += 1
        try:
            while not handle.pending:
                try:
                    handle.pending = await anext(gen)
                except StopAsyncIteration:
                    handle.closing = True
                    return None
        except BaseException:
            handle.closing = True
            raise
        finally:
            await conn.done_with(h, handle)
        pending = handle.pending
        size = cut = 0
        while cut < len(pending) and (cut == 0 or size < WALK_MESSAGE_BUDGET):
            entry = pending[cut]
            size += len(entry.key) + (len(entry.xl) if entry.xl is not None else 0) + 16
            cut += 1
        handle.pending = pending[cut:]
        return codec.walk_out(pending[:cut])

    async def _walk_close(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        h = args[0]
        handle = conn.handles.get(h) if isinstance(h, int) else None
        if handle is not None:
            handle.closing = True
            if handle.busy == 0 and conn.handles.pop(h, None) is not None:
                await handle.close()
        self._reply(conn, rid, "walk_close", None)

    _METHODS: ClassVar[dict[str, Method]] = {
        "ping": _ping,
        "open_shard": _open_shard,
        "read_at": _read_at,
        "reader_close": _reader_close,
        "walk": _walk,
        "walk_next": _walk_next,
        "walk_close": _walk_close,
    }

    # -- shard writes (a connection of their own) ------------------------------------------------

    async def _create_shard(self, conn: _Conn, rid: int, drive_id: Any, args: list[Any]) -> None:
        writer, exc = await _attempt(
            lambda: self._drive(drive_id).create_shard(args[0], args[1])
        )
        if writer is None:
            self._fail(conn, rid, "create_shard", exc or StorageError("no writer"))
            return
        conn.writer = writer
        conn.ch.write_message([rid, OK, None])
        try:
            marker, exc = await self._write_stream(conn, writer)
        finally:
            if conn.writing is None:  # else release() waits for the write, then aborts
                conn.writer = None
        if exc is not None:
            # Tell the client now (its next write raises), then drop its chunks.
            self._fail(conn, rid, "write", exc)
            await _quietly(writer.abort)
            while marker not in (END, ABORT):
                marker = await conn.ch.read_u32()
                if marker > MAX_CHUNK and marker != ABORT:
                    raise ProtocolError(f"body chunk of {marker} bytes")
                if marker not in (END, ABORT):
                    await conn.ch.skip(marker)
            return
        _, exc = await _attempt(writer.close if marker == END else writer.abort)
        if exc is not None:
            self._fail(conn, rid, "writer_close", exc)
        else:
            conn.ch.write_message([rid, OK, None])

    async def _write_stream(self, conn: _Conn, writer: ShardWriter) -> tuple[int, Exception | None]:
        """Body chunks to ``writer`` until END/ABORT: (that marker, None), or
        (the marker or 0 if the body goes on, the first write error).

        PERF: two buffers: chunk i+1 is received while the drive writes chunk i
        (on its thread), so the network and the disk overlap."""
        ch = conn.ch
        bufs: list[memoryview | None] = [None, None]
        which = 0
        # NOTE: if the connection fails, conn.writing stays set: release() waits for it.
        while True:
            n = await ch.read_u32()
            if n == END or n == ABORT:
                break
            if n > MAX_CHUNK:
                raise ProtocolError(f"body chunk of {n} bytes")
            buf = bufs[which]
            if buf is None:
                buf = bufs[which] = self._buffers.take(MAX_CHUNK)
            view = buf[:n]
            await ch.read_into(view)
            if conn.writing is not None:
                _, exc = await conn.writing
                conn.writing = None
                if exc is not None:
                    return 0, exc
            conn.writing = asyncio.ensure_future(_attempt(writer.write, view))
            which ^= 1
        if conn.writing is not None:
            _, exc = await conn.writing
            conn.writing = None
            if exc is not None:
                return n, exc
        return n, None
