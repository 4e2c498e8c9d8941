"""Who may talk to a node: a shared cluster secret, mutual TLS, or both.

Cluster secret: a challenge-response handshake once per connection, not a
signature per request. Signing each request would mean hashing every shard
byte (SHA-256 runs at ~1-2 GB/s per core: a whole core at full network speed)
or leaving bodies unsigned anyway; a connection is reused for thousands of
calls, so one handshake costs nothing per call. The exchange (one round trip
after connect):

    server -> client   {p: "liteio-rpc/1", sn: 32 random bytes}
    client -> server   {p, cn: 32 random bytes, ts: unix seconds,
                        proof: HMAC-SHA256(secret, "client" | sn | cn | ts)}
    server -> client   {ok: true, proof: HMAC-SHA256(secret, "server" | cn | sn | ts)}
                    or {err: "..."} and the server closes

- Replay: the client's proof covers the server's fresh ``sn``, so a recorded
  exchange is worthless on any other connection. The server's proof covers
  the client's fresh ``cn``: the client knows it reached a holder of the
  secret too, not a recording.
- Staleness: ``ts`` outside +-``max_skew`` is refused (also catches a node
  whose clock is far off, which would break lock leases later).
- Proofs are compared with ``hmac.compare_digest``; the secret is never sent,
  logged or put in an error message.

What the secret does not give: confidentiality or integrity of the bytes after
the handshake against someone able to inject into the TCP stream. For
untrusted networks run the same protocol over TLS (``server_tls`` /
``client_tls``); with a CA given, the server requires a client certificate
(mutual TLS), and the secret becomes optional.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import ssl
import time
from collections.abc import Callable
from typing import Any

from liteio.rpc.wire import Channel, ProtocolError
from liteio.storage.errors import DriveOffline

PROTOCOL = "liteio-rpc/1"
NONCE_SIZE = 32
DEFAULT_MAX_SKEW = 300.0
# Nothing before authentication may make us allocate more than this.
HANDSHAKE_LIMIT = 4096


class AuthFailed(DriveOffline):
    """The peer could not be authenticated (or refused us): the node is unusable
    as configured. A ``DriveOffline``, so quorum counts the drive as missing."""


def secret_key(secret: str | bytes | None) -> bytes | None:
    if secret is None:
        return None
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("the cluster secret must not be empty")
    return key


def _proof(key: bytes, role: bytes, first: bytes, second: bytes, ts: int) -> bytes:
    # Fixed-size fields, so the concatenation is unambiguous.
    msg = role + b"\0" + first + second + ts.to_bytes(8, "big", signed=True)
    return hmac.new(key, msg, hashlib.sha256).digest()


def client_proof(key: bytes, server_nonce: bytes, client_nonce: bytes, ts: int) -> bytes:
    return _proof(key, b"client", server_nonce, client_nonce, ts)


def server_proof(key: bytes, server_nonce: bytes, client_nonce: bytes, ts: int) -> bytes:
    return _proof(key, b"server", client_nonce, server_nonce, ts)


def _field(msg: Any, name: str, kind: type, size: int | None = None) -> Any:
    value = msg.get(name) if isinstance(msg, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise ProtocolError(f"handshake field {name!r} missing or mistyped")
    if size is not None and len(value) != size:  # type: ignore[arg-type]
        raise ProtocolError(f"handshake field {name!r} has the wrong size")
    return value


async def server_handshake(
    ch: Channel,
    key: bytes | None,
    *,
    max_skew: float = DEFAULT_MAX_SKEW,
    clock: Callable[[], float] = time.time,
) -> None:
    """Authenticate the client on ``ch``; raises ``AuthFailed`` (with a reason
    fit for the log) after telling the client why, or ``ProtocolError``."""
    nonce = os.urandom(NONCE_SIZE)
    ch.write_message({"p": PROTOCOL, "sn": nonce, "secret": key is not None})
    hello = await ch.read_message(HANDSHAKE_LIMIT)
    if not isinstance(hello, dict) or hello.get("p") != PROTOCOL:
        ch.write_message({"err": f"unsupported protocol (this node speaks {PROTOCOL})"})
        offered = hello.get("p") if isinstance(hello, dict) else None
        raise AuthFailed(f"unsupported protocol {str(offered)[:40]!r}")
    if key is None:  # TLS-only: the TLS layer verified the client certificate
        if hello.get("proof") is not None:
            ch.write_message({"err": "this node uses TLS client certificates, not a secret"})
            raise AuthFailed("client sent a secret proof; this node has no secret")
        ch.write_message({"ok": True})
        return
    cn = _field(hello, "cn", bytes, NONCE_SIZE)
    ts = _field(hello, "ts", int)
    proof = hello.get("proof")
    if not isinstance(proof, bytes):
        ch.write_message({"err": "authentication required: this node needs the cluster secret"})
        raise AuthFailed("client sent no proof")
    skew = ts - clock()
    if abs(skew) > max_skew:
        ch.write_message({"err": f"clock skew too large ({skew:+.0f}s, limit {max_skew:.0f}s)"})
        raise AuthFailed(f"stale or future timestamp (skew {skew:+.0f}s)")
    if not hmac.compare_digest(proof, client_proof(key, nonce, cn, ts)):
        ch.write_message({"err": "authentication failed: wrong cluster secret"})
        raise AuthFailed("bad proof (wrong cluster secret)")
    ch.write_message({"ok": True, "proof": server_proof(key, nonce, cn, ts)})


async def client_handshake(
    ch: Channel, key: bytes | None, *, clock: Callable[[], float] = time.time
) -> None:
    """Authenticate to the server on ``ch`` and check that it knows the secret too."""
    hello = await ch.read_message(HANDSHAKE_LIMIT)
    if not isinstance(hello, dict) or hello.get("p") != PROTOCOL:
        raise AuthFailed(f"{ch.peer}: not a {PROTOCOL} server")
    sn = _field(hello, "sn", bytes, NONCE_SIZE)
    if key is None:
        if hello.get("secret"):
            raise AuthFailed(f"{ch.peer}: the node requires the cluster secret")
        ch.write_message({"p": PROTOCOL})
        reply = await ch.read_message(HANDSHAKE_LIMIT)
        _check_reply(ch, reply)
        return
    cn = os.urandom(NONCE_SIZE)
    ts = int(clock())
    ch.write_message({"p": PROTOCOL, "cn": cn, "ts": ts, "proof": client_proof(key, sn, cn, ts)})
    reply = await ch.read_message(HANDSHAKE_LIMIT)
    _check_reply(ch, reply)
    proof = reply.get("proof")
    if not isinstance(proof, bytes) or not hmac.compare_digest(
        proof, server_proof(key, sn, cn, ts)
    ):
        raise AuthFailed(f"{ch.peer}: the node could not prove it holds the cluster secret")


def _check_reply(ch: Channel, reply: Any) -> None:
    if not isinstance(reply, dict):
        raise ProtocolError("malformed handshake reply")
    if "err" in reply:
        raise AuthFailed(f"{ch.peer} refused the connection: {str(reply['err'])[:200]}")
    if reply.get("ok") is not True:
        raise ProtocolError("malformed handshake reply")


# -- TLS -------------------------------------------------------------------------------------


def server_tls(cert: str, key: str, ca: str | None = None) -> ssl.SSLContext:
    """A server context; with ``ca``, clients must present a certificate it signed."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if ca is not None:
        ctx.load_verify_locations(cafile=ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_tls(
    ca: str, cert: str | None = None, key: str | None = None, *, check_hostname: bool = True
) -> ssl.SSLContext:
    """A client context trusting ``ca``; ``cert``/``key`` is our client certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = check_hostname
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


def requires_client_cert(ctx: ssl.SSLContext | None) -> bool:
    return ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED
