"""``MuxConnection``: one connection carrying many calls at once.

Each call sends its request and waits on a future; one reader task takes
the replies off the connection in whatever order the server finishes them
and hands each to its caller by request id, reading a ``BODY`` reply's bytes
straight into the buffer the caller gave for them. Requests issued in the
same event-loop iteration leave in one write (``Channel.send``), so the four
``read_xl`` of a GET cost one syscall and one server wakeup, not four.

A call that times out or is cancelled only stops waiting: its reply, when it
comes, is read and dropped (a body too), and the connection carries on. A
lost connection fails every call waiting on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from liteio.rpc import codec
from liteio.rpc.wire import BODY, END, ERR, LAST, MAX_CHUNK, OK, Channel, ProtocolError
from liteio.storage.errors import DriveOffline


class _Waiting:
    __slots__ = ("body", "future")

    def __init__(self, future: asyncio.Future[Any], body: memoryview | None) -> None:
        self.future = future
        self.body = body


class MuxConnection:
    """Calls over ``ch`` (authenticated). ``on_lost(exc)`` runs once if the
    connection fails under us and returns the error the waiting calls get."""

    def __init__(self, ch: Channel, on_lost: Callable[[BaseException], DriveOffline]) -> None:
        self.ch = ch
        self._on_lost = on_lost
        self._waiting: dict[int, _Waiting] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read_replies())

    @property
    def load(self) -> int:
        return len(self._waiting)

    @property
    def alive(self) -> bool:
        return self.ch.error is None

    async def call(self, method: str, drive_id: str, args: list[Any], timeout: float,
                   body: memoryview | None = None) -> Any:
        """The result of one call; for a ``BODY`` reply, how many bytes landed in
        ``body``. Raises the storage error the server reports, ``DriveOffline``
        if the connection is lost, ``TimeoutError`` after ``timeout`` seconds."""
        ch = self.ch
        rid = ch.take_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = _Waiting(future, body)
        try:
            ch.send_message([rid, method, drive_id, args])
            async with asyncio.timeout(timeout):
                return await future
        except ConnectionError as exc:  # sending on a connection already gone
            raise self._on_lost(exc) from None
        finally:
            self._waiting.pop(rid, None)  # a late reply is read and dropped

    def send_only(self, method: str, drive_id: str, args: list[Any]) -> None:
        """A request whose reply nobody waits for (closing a reader or a walk)."""
        if self.ch.error is None:
            self.ch.send_message([self.ch.take_id(), method, drive_id, args])

    def close(self) -> None:
        self.ch.close()
        self._reader.cancel()

    async def _read_replies(self) -> None:
        ch = self.ch
        try:
            while True:
                reply = await ch.read_message()
                if not (isinstance(reply, list) and len(reply) == 3):
                    raise ProtocolError(f"malformed reply: {str(reply)[:80]}")
                rid, status, result = reply
                waiting = self._waiting.get(rid)
                if status == BODY:
                    result = await self._body(None if waiting is None else waiting.body)
                elif status not in (OK, ERR):
                    raise ProtocolError(f"unknown reply status {status!r}")
                if waiting is None or waiting.future.done():
                    continue  # its caller gave up
                if status == ERR:
                    waiting.future.set_exception(codec.error_in(result))
                else:
                    waiting.future.set_result(result)
        except ConnectionError as exc:
            error = exc
        except asyncio.CancelledError:
            error = ConnectionResetError("connection closed")
        if not ch.closed_here:
            failure: BaseException = self._on_lost(error)
        else:
            failure = DriveOffline(f"connection closed: {error}")
        ch.abort()
        for waiting in self._waiting.values():
            if not waiting.future.done():
                waiting.future.set_exception(failure)

    async def _body(self, target: memoryview | None) -> int:
        """Read a reply's body chunks into ``target`` (dropped if None); bytes read."""
        ch = self.ch
        got = 0
        while True:
            n = await ch.read_u32()
            if n == END:
                return got
            last = n & LAST
            n &= ~LAST
            if n > MAX_CHUNK:
                raise ProtocolError(f"body chunk of {n} bytes")
            if target is None or got + n > len(target):
                if target is not None:  # more than asked for: the caller gets an error
                    target = None
                await ch.skip(n)
            else:
                await ch.read_into(target[got : got + n])
            got += n
            if last:
                return got
