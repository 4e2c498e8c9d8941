"""``NodeClient``: the connections to one remote node, and whether it is reachable.

Every ``RemoteDrive`` of a node shares its ``NodeClient``, which keeps two
kinds of authenticated keep-alive connection:

- one or two multiplexed connections (``MuxConnection``) for every call but
  shard writes: many calls in flight at once, requests of the same loop
  iteration sent together, replies matched by id. Open shards and walks are
  handles on the connection they were opened on.
- a pool of stream connections for shard writes, each taken for a whole
  stream (TCP flow control then paces that one writer, and a slow drive
  stalls nobody else), and pooled again when the stream ended cleanly.

State: a failure to dial, or a connection lost under a call, marks the node
offline. Every call of every drive of the node then fails fast with
``DriveOffline``, without touching the network, until ``probe`` (which
``RemoteDrive.reconnect`` runs) dials and pings the node successfully. A
call that merely times out marks its drive offline, not the node.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
import time
from typing import Any

from liteio.rpc import codec
from liteio.rpc.auth import AuthFailed, client_handshake, secret_key
from liteio.rpc.buffers import RECEIVE_BUFFERS, BufferCache
from liteio.rpc.mux import MuxConnection
from liteio.rpc.wire import ERR, OK, Channel, ProtocolError
from liteio.storage.errors import DriveOffline

log = logging.getLogger("liteio.rpc.client")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_CALL_TIMEOUT = 30.0
# Calls pile onto the first multiplexed connection (so that concurrent ones are
# sent together) until it has this many in flight; then the next one is used.
MUX_SPREAD = 16


class CallTimedOut(DriveOffline):
    """A call got no answer in time: the remote drive is hung (the node may be fine)."""


class NodeClient:
    """Connections to the RPC server at ``host:port``.

    ``secret``: the cluster secret (None only with ``ssl`` carrying a client
    certificate). ``call_timeout`` bounds each call (and each streamed write);
    ``connect_timeout`` bounds dial + TLS + handshake. ``mux_connections``
    multiplexed connections at most; at most ``max_idle`` stream connections
    are kept between shard writes, each for ``idle_ttl`` seconds.
    """

    def __init__(
        self,
        host: str,
        port: int,
        secret: str | bytes | None,
        *,
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        mux_connections: int = 2,
        max_idle: int = 16,
        idle_ttl: float = 60.0,
        buffers: BufferCache | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._key = secret_key(secret)
        if self._key is None and ssl is None:
            raise ValueError("a node client needs the cluster secret or TLS")
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.mux_connections = max(1, mux_connections)
        self.max_idle = max_idle
        self.idle_ttl = idle_ttl
        # Shard reads land here; by default one cache for the whole process.
        self.buffers = buffers if buffers is not None else RECEIVE_BUFFERS
        self.online = True
        self.last_error = ""
        self._mux: list[MuxConnection] = []
        self._dialing: asyncio.Task[MuxConnection] | None = None
        self._idle: list[tuple[Channel, float]] = []
        self._probing: asyncio.Lock | None = None
        self._users = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "online" if self.online else f"offline ({self.last_error})"
        return f"<NodeClient {self.url} {state} mux={len(self._mux)} idle={len(self._idle)}>"

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl is not None else 'http'}://{self.host}:{self.port}"

    # -- drives ------------------------------------------------------------------------------

    def drive(self, drive_id: str, **kw: Any) -> Any:
        """A ``RemoteDrive`` for ``drive_id`` (the drive's endpoint path on the node).
        Connections close when the last of the node's drives does."""
        from liteio.rpc.client import RemoteDrive

        return RemoteDrive(self, drive_id, **kw)

    def _attach(self) -> None:
        self._users += 1

    async def _detach(self) -> None:
        self._users -= 1
        if self._users <= 0:  # no drive left to use them; new drives dial again
            self._drop_connections()

    # -- state -------------------------------------------------------------------------------

    def offline_error(self) -> DriveOffline:
        return DriveOffline(f"{self.url}: node offline ({self.last_error or 'unreachable'})")

    def mark_offline(self, reason: str) -> None:
        if self.online:
            log.warning("event=rpc_node_offline node=%s reason=%r", self.url, reason)
        self.online = False
        self.last_error = reason
        self._drop_connections()

    def lost(self, exc: BaseException) -> DriveOffline:
        """A connection failed under a call: the node is unreachable. The error to raise."""
        reason = f"connection lost: {exc or type(exc).__name__}"
        self.mark_offline(reason)
        return DriveOffline(f"{self.url}: {reason}")

    def _drop_connections(self) -> None:
        mux, self._mux = self._mux, []
        for m in mux:
            m.close()
        idle, self._idle = self._idle, []
        for ch, _ in idle:
            ch.close()

    async def probe(self) -> bool:
        """Dial and ping the node; online again on success. Concurrent probes share one."""
        if self._closed:
            return False
        if self._probing is None:
            self._probing = asyncio.Lock()
        async with self._probing:
            if self.online and any(m.alive for m in self._mux):
                return True
            self._drop_connections()  # from before the outage: all dead
            m: MuxConnection | None = None
            try:
                m = MuxConnection(await self._dial(), self.lost)
                await m.call("ping", "", [], self.connect_timeout)
            except (DriveOffline, TimeoutError) as exc:
                if m is not None:
                    m.close()
                self.last_error = f"probe: {exc or type(exc).__name__}"
                return False
            if not self.online:
                log.info("event=rpc_node_online node=%s", self.url)
            self.online = True
            self.last_error = ""
            self._mux.append(m)
            return True

    async def close(self) -> None:
        self._closed = True
        self._drop_connections()

    # -- multiplexed calls -------------------------------------------------------------------

    async def mux(self) -> MuxConnection:
        """The multiplexed connection to put a call on (dialing one if needed)."""
        if not self.online or self._closed:
            raise self.offline_error()
        best: MuxConnection | None = None
        for m in self._mux:
            if m.alive and (best is None or m.load < best.load):
                best = m
                if m.load < MUX_SPREAD:
                    return m
        if best is not None and (len(self._mux) >= self.mux_connections
                                 or self._dialing is not None):
            return best
        if self._dialing is None:
            self._dialing = asyncio.get_running_loop().create_task(self._new_mux())
            self._dialing.add_done_callback(self._dialed)
        return await asyncio.shield(self._dialing)

    async def _new_mux(self) -> MuxConnection:
        m = MuxConnection(await self._dial(), self.lost)
        self._mux = [x for x in self._mux if x.alive] + [m]
        return m

    def _dialed(self, task: asyncio.Task[MuxConnection]) -> None:
        self._dialing = None
        if not task.cancelled():
            task.exception()  # retrieved here; the callers got it too

    async def call(self, drive_id: str, method: str, args: list[Any],
                   body: memoryview | None = None) -> Any:
        """One call; raises the storage error the drive raised, ``CallTimedOut``
        after ``call_timeout``, ``DriveOffline`` if the node cannot be reached."""
        m = await self.mux()
        try:
            return await m.call(method, drive_id, args, self.call_timeout, body)
        except TimeoutError:
            raise CallTimedOut(
                f"{self.url}: {method} timed out after {self.call_timeout:g}s"
            ) from None

    # -- stream connections (shard writes) ----------------------------------------------------

    async def acquire(self) -> Channel:
        if not self.online or self._closed:
            raise self.offline_error()
        now = time.monotonic()
        while self._idle:
            ch, since = self._idle.pop()
            if ch.usable and now - since < self.idle_ttl:
                return ch
            ch.close()
        return await self._dial()

    def release(self, ch: Channel, clean: bool) -> None:
        """Give a stream connection back: pooled if its stream ended cleanly."""
        if clean and ch.usable and not self._closed and len(self._idle) < self.max_idle:
            self._idle.append((ch, time.monotonic()))
        else:
            ch.close()

    async def exchange(self, ch: Channel, request: list[Any],
                       timeout: float | None = None) -> Any:
        """Send ``request`` on stream connection ``ch`` and return its result. A
        storage error the server reports is raised as itself; a lost connection,
        a timeout or a malformed reply raises ``DriveOffline`` (``CallTimedOut``)
        and leaves ``ch`` broken (the caller must not reuse it)."""
        limit = self.call_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                ch.write_message(request)
                reply = await ch.read_message()
        except TimeoutError:
            ch.abort()
            raise CallTimedOut(f"{self.url}: {request[1]} timed out after {limit:g}s") from None
        except asyncio.CancelledError:
            ch.abort()  # the reply may still come: the connection is out of step
            raise
        except ConnectionError as exc:
            ch.abort()
            raise self.lost(exc) from None
        return self.result(ch, request[0], reply)

    def result(self, ch: Channel, rid: int, reply: Any) -> Any:
        if not (isinstance(reply, list) and len(reply) == 3 and reply[0] == rid):
            ch.abort()
            raise self.lost(ProtocolError(f"reply out of step: {str(reply)[:80]}"))
        if reply[1] == OK:
            return reply[2]
        if reply[1] == ERR:
            raise codec.error_in(reply[2])
        ch.abort()
        raise self.lost(ProtocolError(f"unknown reply status {reply[1]!r}"))

    async def _dial(self) -> Channel:
        loop = asyncio.get_running_loop()
        ch: Channel | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, ch = await loop.create_connection(
                    Channel, self.host, self.port, ssl=self.ssl,
                    server_hostname=self.server_hostname if self.ssl is not None else None,
                )
                await client_handshake(ch, self._key)
            return ch
        except AuthFailed as exc:
            if ch is not None:
                ch.abort()
            self.mark_offline(str(exc))
            raise AuthFailed(f"{self.url}: {exc}") from None
        except TimeoutError:
            reason = f"no answer within {self.connect_timeout:g}s"
        except (OSError, ConnectionError) as exc:
            reason = f"cannot connect: {exc or type(exc).__name__}"
        except asyncio.CancelledError:
            if ch is not None:
                ch.abort()
            raise
        if ch is not None:
            ch.abort()
        self.mark_offline(reason)
        raise DriveOffline(f"{self.url}: {reason}")
