"""Serve drives over RPC inside this process: ``RemoteDrive``s backed by local ones.

For tests and benchmarks (the same code path as two nodes, minus the second
process), and for trying distributed behaviour on one machine:

    async with Loopback({"/d3": LocalDrive(p3), "/d4": LocalDrive(p4)}, secret) as lb:
        drives = [LocalDrive(p1), LocalDrive(p2), lb.drive("/d3"), lb.drive("/d4")]
"""

from __future__ import annotations

import secrets
import ssl as _ssl
from collections.abc import Mapping
from typing import Any, Self

from liteio.rpc.client import RemoteDrive
from liteio.rpc.node import NodeClient
from liteio.rpc.server import RPCServer
from liteio.storage.api import StorageAPI


class Loopback:
    """An ``RPCServer`` on 127.0.0.1 (free port) and a ``NodeClient`` for it.

    ``client_kw`` go to ``NodeClient`` (timeouts, pool size). Neither ``close``
    nor the remote drives' ``close`` closes the served drives."""

    def __init__(
        self,
        drives: Mapping[str, StorageAPI],
        secret: str | bytes | None = None,
        *,
        server_ssl: _ssl.SSLContext | None = None,
        client_ssl: _ssl.SSLContext | None = None,
        **client_kw: Any,
    ) -> None:
        self.secret = secret if secret is not None or server_ssl else secrets.token_hex(16)
        self.server = RPCServer(drives, self.secret, "127.0.0.1", 0, ssl=server_ssl)
        self._client_ssl = client_ssl
        self._client_kw = client_kw
        self.node: NodeClient | None = None

    async def start(self) -> Self:
        await self.server.start()
        self.node = NodeClient("127.0.0.1", self.server.port, self.secret,
                               ssl=self._client_ssl, **self._client_kw)
        return self

    def drive(self, drive_id: str) -> RemoteDrive:
        assert self.node is not None, "start() first"
        return RemoteDrive(self.node, drive_id)

    async def close(self) -> None:
        if self.node is not None:
            await self.node.close()
        await self.server.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
