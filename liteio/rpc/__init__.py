"""Inter-node RPC: remote drives as ``StorageAPI``s (see docs/rpc.md).

- ``wire``: framing (msgpack messages, length-prefixed body chunks) and ``Channel``;
- ``auth``: cluster-secret handshake and TLS contexts;
- ``codec``: ``StorageAPI`` values and errors on the wire;
- ``server`` / ``handlers``: ``RPCServer``, serving a node's local drives;
- ``mux`` / ``node`` / ``client``: multiplexed connections, ``NodeClient`` (a
  node's connections and state) and ``RemoteDrive``;
- ``buffers``: reusable receive buffers; ``loopback``: server and client in one
  process; ``serve``: ``python -m liteio.rpc.serve``, a standalone node.
"""

from liteio.rpc.auth import AuthFailed, client_tls, server_tls
from liteio.rpc.client import RemoteDrive
from liteio.rpc.node import CallTimedOut, NodeClient
from liteio.rpc.server import RPCServer

__all__ = [
    "AuthFailed",
    "CallTimedOut",
    "NodeClient",
    "RPCServer",
    "RemoteDrive",
    "client_tls",
    "server_tls",
]
