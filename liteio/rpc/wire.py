"""Framing of the inter-node RPC: messages and body chunks over one byte stream.

A connection carries, in each direction, a sequence of two kinds of frame:

    message   +-----------+---------------------------+
              | u32 BE n  | n bytes of msgpack        |   n <= the reader's limit
              +-----------+---------------------------+

    chunk     +-----------+---------------------------+
              | u32 BE n  | n raw bytes               |   1 <= n <= MAX_CHUNK; n | LAST
              +-----------+---------------------------+   (bit 31): the body's last chunk
    end       | 0         |                               a body is complete
    abort     | 0xFFFFFFFF|                               a shard writer gives up its body

Which kind comes next is fixed by the protocol state (a reply's status says
whether a body follows), never guessed from the bytes. Requests are
``[id, method, drive, args]``; replies ``[id, OK, result]``, ``[id, BODY,
None]`` + body chunks, or ``[id, ERR, [error class name, message]]``.

``Channel`` is the connection: an ``asyncio.BufferedProtocol``, so the event
loop reads straight into our memory. Small frames land in a staging buffer
and are decoded in place; a body chunk the caller has a buffer for
(``read_into``) is received directly into that buffer (and SO_RCVLOWAT keeps
the kernel from waking us per 64 KiB segment of it). Writes hand memoryviews
to the transport as they are (no join, one writev on uvloop); ``send``
coalesces the frames of one loop iteration into one write. ``drain`` waits
until the transport holds none of our bytes, so a caller may reuse its buffer
as soon as ``drain`` returns (uvloop keeps references to written buffers
instead of copying them).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

import msgpack

U32 = struct.Struct(">I")
END = 0
ABORT = 0xFFFFFFFF
LAST = 0x80000000  # set in a chunk's length: the body ends with this chunk (no END)
MAX_CHUNK = 1 << 20
# A message is metadata: xl.meta (inline data included), small files, a walk batch.
MAX_MESSAGE = 64 << 20

OK = 0
ERR = 1
BODY = 2  # OK, and the result's bytes follow as body chunks

# Staging buffer: a few frames' worth. While nobody consumes (the server is
# writing the previous chunk to disk), reading pauses once this much is waiting,
# so TCP pushes back on the sender instead of us buffering a whole shard.
STAGE_SIZE = 256 << 10
PAUSE_AT = STAGE_SIZE

# Body reads at least this big ask the kernel to wake us only when up to
# LOWAT_MAX of it has arrived.
LOWAT_MIN = 128 << 10
LOWAT_MAX = 512 << 10

_END_BYTES = U32.pack(END)
_ABORT_BYTES = U32.pack(ABORT)


class ProtocolError(ConnectionError):
    """The peer sent something this protocol never sends; the connection is unusable."""


def pack(obj: Any) -> bytes:
    """One message frame."""
    body = msgpack.packb(obj, use_bin_type=True)
    return U32.pack(len(body)) + body


def set_keepalive(sock: socket.socket | None, idle: int = 30, interval: int = 10,
                  count: int = 3) -> None:
    """Detect a peer that vanished without closing (power loss, partition) in ~1 min."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval),
                        ("TCP_KEEPCNT", count)):
        opt = getattr(socket, name, None)
        if opt is not None:
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)


class Channel(asyncio.BufferedProtocol):
    """One RPC connection. Used by one coroutine at a time (requests on a
    connection are strictly sequential; concurrency comes from more connections)."""

    def __init__(self, on_connect: Callable[[Channel], None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.error: ConnectionError | None = None  # set once the connection is gone
        self.closed_here = False  # we closed it (not the peer, not the network)
        self.peer = "?"
        self.next_id = 0
        self._on_connect = on_connect
        self._buf = bytearray(STAGE_SIZE)
        self._mv = memoryview(self._buf)
        self._start = 0
        self._end = 0
        # A caller's buffer being filled directly by the transport.
        self._target: memoryview | None = None
        self._tpos = 0
        self._gave_target = False
        self._want = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drainers: list[asyncio.Future[None]] = []  # several tasks may drain
        self._write_paused = False
        self._read_paused = False
        self._gather = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out: list[Any] = []  # frames queued for the end of this loop iteration
        self._burst = False  # something was sent in this loop iteration already
        self._sock: socket.socket | None = None  # plain TCP only: for SO_RCVLOWAT
        self._lowat = 1

    # -- asyncio.BufferedProtocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._loop = asyncio.get_running_loop()
        # NOTE: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        # NOTE: any byte the kernel did not take at once pauses us, and drain()
        # returns only when the transport buffer is empty again. TLS transports
        # pause at size >= high (plain ones at size > high), so 0 would never
        # resume there; they copy our bytes as they encrypt them anyway.
        # writelines that gathers (uvloop: writev; TLS: encrypts each part) rather
        # than joining the parts into a copy (asyncio's default before 3.12).
        self._gather = type(self.transport).writelines is not asyncio.WriteTransport.writelines
        tls = transport.get_extra_info("ssl_object") is not None
        self.transport.set_write_buffer_limits(high=1 if tls else 0, low=0)
        sock = transport.get_extra_info("socket")
        if not tls and sock is not None and hasattr(socket, "SO_RCVLOWAT"):
            self._sock = sock
        try:
            set_keepalive(sock)
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        if self._on_connect is not None:
            self._on_connect(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._target is not None and self._start == self._end:
            self._gave_target = True
            return self._target[self._tpos :]
        self._gave_target = False
        if self._end == len(self._buf):
            self._make_room(1)
        return self._mv[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._gave_target:
            self._tpos += nbytes
            assert self._target is not None
            left = len(self._target) - self._tpos
            if left <= 0:
                self._target = None
                self._set_lowat(1)
                self._wake()
            elif left < self._lowat:
                self._set_lowat(left)
            return
        self._end += nbytes
        used = self._end - self._start
        waiting = self._waiter is not None
        if waiting and used >= self._want:
            self._wake()
            waiting = False
        # NOTE: pause even right after waking a reader: until it runs, the loop
        # may read on (uvloop reads up to 32 times per wakeup) and the staging
        # buffer would grow to hold whatever the peer sends.
        if not waiting and used >= PAUSE_AT and not self._read_paused:
            self._read_paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._lost(ConnectionResetError("peer closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._lost(ConnectionResetError("connection closed"))
        elif isinstance(exc, ConnectionError):
            self._lost(exc)
        else:
            self._lost(ConnectionResetError(f"connection lost: {exc}"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drainers, self._drainers = self._drainers, []
        for d in drainers:
            if not d.done():
                d.set_result(None)

    # -- state ---------------------------------------------------------------------------

    def _lost(self, exc: ConnectionError) -> None:
        if self.error is None:
            self.error = exc
        drainers, self._drainers = self._drainers, []
        for fut in (self._waiter, *drainers):
            if fut is not None and not fut.done():
                fut.set_exception(self.error)

    @property
    def usable(self) -> bool:
        """Open, and nothing unread (an idle pooled connection the server closed
        has seen EOF; one that holds bytes is out of step)."""
        t = self.transport
        return (self.error is None and t is not None and not t.is_closing()
                and self._start == self._end)

    def close(self) -> None:
        self.closed_here = self.closed_here or self.error is None
        if self.transport is not None:
            self.transport.close()
        if self.error is None:
            self._lost(ConnectionResetError("connection closed"))

    def abort(self) -> None:
        self.closed_here = self.closed_here or self.error is None
        if self.transport is not None:
            self.transport.abort()
        if self.error is None:
            self._lost(ConnectionResetError("connection aborted"))

    def take_id(self) -> int:
        self.next_id = (self.next_id + 1) & 0x7FFFFFFF
        return self.next_id

    # -- reading ---------------------------------------------------------------------------

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _make_room(self, need: int) -> None:
        """Room for ``need`` more bytes after what is buffered (compact, then grow)."""
        used = self._end - self._start
        if self._start and len(self._buf) - self._end < need:
            self._mv[:used] = self._mv[self._start : self._end]
            self._start, self._end = 0, used
        if len(self._buf) - self._end < need:
            # NOTE: a new buffer, not a resize: views of the old one may still
            # be held by the transport's previous read.
            grown = bytearray(max(2 * len(self._buf), used + need))
            grown[:used] = self._mv[self._start : self._end]
            self._buf, self._mv = grown, memoryview(grown)
            self._start, self._end = 0, used

    def _consume(self, n: int) -> None:
        self._start += n
        if self._start == self._end:
            self._start = self._end = 0
        if self._read_paused and self._end - self._start < PAUSE_AT:
            self._resume_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    async def _wait(self) -> None:
        self._resume_reading()
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    async def _fill(self, n: int) -> None:
        """Until ``n`` bytes are staged from ``_start``."""
        while self._end - self._start < n:
            if self.error is not None:
                raise self.error
            if len(self._buf) - self._start < n:
                self._make_room(n - (self._end - self._start))
            self._want = n
            await self._wait()

    def _decode(self, n: int) -> Any:
        at = self._start + 4
        try:
            obj = msgpack.unpackb(self._mv[at : at + n], raw=False)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:  # garbage
            raise ProtocolError(f"undecodable message: {exc}") from None
        self._consume(4 + n)
        return obj

    def _staged_length(self, limit: int) -> int:
        (n,) = U32.unpack_from(self._buf, self._start)
        if n > limit:
            raise ProtocolError(f"message of {n} bytes (limit {limit})")
        return n

    async def read_message(self, limit: int = MAX_MESSAGE) -> Any:
        if self._end - self._start < 4:
            await self._fill(4)
        n = self._staged_length(limit)
        if self._end - self._start < 4 + n:
            await self._fill(4 + n)
        return self._decode(n)

    def poll_message(self, limit: int = MAX_MESSAGE) -> Any | None:
        """A message if one is already here in full, else None (never waits)."""
        if self._end - self._start < 4:
            return None
        n = self._staged_length(limit)
        if self._end - self._start < 4 + n:
            return None
        return self._decode(n)

    async def read_u32(self) -> int:
        if self._end - self._start < 4:
            await self._fill(4)
        (n,) = U32.unpack_from(self._buf, self._start)
        self._consume(4)
        return n

    async def read_into(self, dest: memoryview) -> None:
        """Fill ``dest`` (a 1-D byte view) exactly; beyond what is already staged,
        the transport writes into ``dest`` itself."""
        need = len(dest)
        have = min(need, self._end - self._start)
        if have:
            dest[:have] = self._mv[self._start : self._start + have]
            self._consume(have)
        if have == need:
            return
        if self.error is not None:
            raise self.error
        self._target = dest[have:]
        self._tpos = 0
        if need - have >= LOWAT_MIN:
            # PERF: be woken once most of the body is here, not per 64 KiB segment
            # (each wakeup costs ~0.1 ms of loop and scheduler time on a VM).
            self._set_lowat(min(need - have, LOWAT_MAX))
        try:
            await self._wait()
        finally:
            self._target = None
            self._set_lowat(1)

    def _set_lowat(self, n: int) -> None:
        """SO_RCVLOWAT: never more than the bytes certain to come (the rest of a
        body whose length the peer announced), or readiness would never fire."""
        if self._sock is None or n == self._lowat:
            return
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, n)
            self._lowat = n
        except OSError:
            self._sock = None

    async def skip(self, n: int) -> None:
        """Discard ``n`` bytes of body."""
        while n:
            if self._end == self._start:
                await self._fill(1)
            take = min(n, self._end - self._start)
            self._consume(take)
            n -= take

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: Any) -> None:
        if self.error is not None:
            raise self.error
        assert self.transport is not None
        self.transport.write(data)

    def write_message(self, obj: Any) -> None:
        self.write(pack(obj))

    def send(self, *parts: Any) -> None:
        """Send frames, coalescing bursts: the first send of a loop iteration
        goes out at once (no added latency for a lone call); frames sent after
        it in the same iteration are queued and leave together, in one write,
        when the loop comes round (concurrent requests or replies on one
        connection: fewer syscalls, fewer wakeups on the other side).
        Buffers passed here must stay unchanged until ``drain`` returns."""
        if self.error is not None:
            raise self.error
        if self._burst:
            if not self._out:
                assert self._loop is not None
                self._loop.call_soon(self._flush)
            self._out.extend(parts)
            return
        self._burst = True
        assert self._loop is not None
        self._loop.call_soon(self._end_burst)
        self._out.extend(parts)
        self._flush()

    def _end_burst(self) -> None:
        self._burst = False

    def send_message(self, obj: Any) -> None:
        self.send(pack(obj))

    def send_body(self, head: bytes, data: memoryview) -> None:
        """``head`` (a message), then ``data`` as body chunks, the last one marked."""
        n = len(data)
        if n == 0:
            self.send(head + _END_BYTES)
            return
        parts: list[Any] = []
        for at in range(0, n, MAX_CHUNK):
            size = min(MAX_CHUNK, n - at)
            prefix = U32.pack(size | LAST if at + size == n else size)
            if at == 0:
                prefix = head + prefix
            if size <= 16384:
                parts.append(prefix + data[at : at + size])
            else:
                parts += (prefix, data[at : at + size])
        self.send(*parts)

    def _flush(self) -> None:
        parts, self._out = self._out, []
        if not parts or self.error is not None or self.transport is None:
            return
        if len(parts) == 1:
            self.transport.write(parts[0])
            return
        if self._gather:
            self.transport.writelines(parts)
            return
        # asyncio before 3.12 joins writelines into a copy: join only the small
        # frames, and hand big bodies over as they are.
        small: list[Any] = []
        for part in parts:
            if len(part) <= 65536:
                small.append(part)
                continue
            if small:
                self.transport.write(b"".join(small))
                small = []
            self.transport.write(part)
        if small:
            self.transport.write(b"".join(small))

    def write_chunk(self, view: memoryview, before: bytes = b"", last: bool = False) -> None:
        """One body chunk (1..MAX_CHUNK bytes), after ``before`` (a message).
        Small chunks are joined into one write; big ones go without a copy,
        as one writev where the transport can (uvloop)."""
        n = len(view)
        prefix = before + U32.pack(n | LAST if last else n)
        if self.error is not None:
            raise self.error
        assert self.transport is not None
        if n <= 16384:
            self.transport.write(prefix + view)
        elif self._gather:
            self.transport.writelines((prefix, view))
        else:
            self.transport.write(prefix)
            self.transport.write(view)

    def write_end(self) -> None:
        self.write(_END_BYTES)

    def write_abort(self) -> None:
        self.write(_ABORT_BYTES)

    async def drain(self) -> None:
        """Until the transport has handed every written byte to the kernel."""
        if self.error is not None:
            raise self.error
        if self._out:
            self._flush()
        if self._write_paused:
            drainer = asyncio.get_running_loop().create_future()
            self._drainers.append(drainer)
            await drainer
