"""Who may use a node's drives: the cluster-secret handshake, and mutual TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from liteio.rpc import AuthFailed, NodeClient, RPCServer, client_tls, server_tls
from liteio.rpc.auth import NONCE_SIZE, PROTOCOL, client_proof
from liteio.rpc.wire import Channel
from liteio.storage.errors import DriveOffline
from liteio.storage.local import LocalDrive

SECRET = "the-right-cluster-secret-1234"
WRONG = "a-wrong-cluster-secret-98765"


def with_server(tmp_path: Path, body: Callable[[RPCServer], Awaitable[None]],
                secret: str | None = SECRET, **server_kw: Any) -> None:
    local = LocalDrive(tmp_path)

    async def main() -> None:
        server = RPCServer({"/d1": local}, secret, **server_kw)
        await server.start()
        try:
            await body(server)
        finally:
            await server.close()
            await local.close()

    asyncio.run(main())


async def raw(server: RPCServer) -> Channel:
    """A bare connection (no handshake done) to ``server``."""
    loop = asyncio.get_running_loop()
    _, ch = await loop.create_connection(Channel, "127.0.0.1", server.port)
    return ch


async def closed_by_server(ch: Channel, within: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(within):
            while True:
                await ch.read_message()
    except ConnectionError:
        return True
    except TimeoutError:
        return False


# -- the cluster secret -------------------------------------------------------------------


def test_wrong_secret_is_refused_clearly_and_logged_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def body(server: RPCServer) -> None:
        node = NodeClient("127.0.0.1", server.port, WRONG)
        drive = node.drive("/d1")
        started = time.monotonic()
        with pytest.raises(AuthFailed, match="wrong cluster secret") as info:
            await drive.list_volumes()
        assert time.monotonic() - started < 2
        assert isinstance(info.value, DriveOffline)  # quorum counts the drive missing
        assert not drive.is_online()
        with pytest.raises(DriveOffline):  # fail fast after that
            await drive.list_volumes()
        assert not await drive.reconnect()  # still the wrong secret
        await drive.close()
        # The right secret works on the same server.
        good = NodeClient("127.0.0.1", server.port, SECRET).drive("/d1")
        assert await good.list_volumes() == []
        await good.close()

    with_server(tmp_path, body)
    assert "event=rpc_auth_refused" in caplog.text
    assert SECRET not in caplog.text and WRONG not in caplog.text


def test_replayed_handshake_is_refused(tmp_path: Path) -> None:
    """A recorded client proof is bound to the server nonce of its connection."""

    async def body(server: RPCServer) -> None:
        first = await raw(server)
        hello = await first.read_message()
        assert hello["p"] == PROTOCOL and len(hello["sn"]) == NONCE_SIZE
        cn, ts = os.urandom(NONCE_SIZE), int(time.time())
        recorded = {"p": PROTOCOL, "cn": cn, "ts": ts,
                    "proof": client_proof(SECRET.encode(), hello["sn"], cn, ts)}
        first.write_message(recorded)
        assert (await first.read_message())["ok"] is True  # genuine: accepted
        first.close()

        second = await raw(server)
        hello2 = await second.read_message()
        assert hello2["sn"] != hello["sn"]
        second.write_message(recorded)  # the same bytes again
        reply = await second.read_message()
        assert "wrong cluster secret" in reply["err"] and "ok" not in reply
        assert await closed_by_server(second)

    with_server(tmp_path, body)


@pytest.mark.parametrize("skew", [-3600, +3600])
def test_stale_or_future_timestamp_is_refused(tmp_path: Path, skew: int) -> None:
    async def body(server: RPCServer) -> None:
        ch = await raw(server)
        hello = await ch.read_message()
        cn, ts = os.urandom(NONCE_SIZE), int(time.time()) + skew
        ch.write_message({"p": PROTOCOL, "cn": cn, "ts": ts,
                          "proof": client_proof(SECRET.encode(), hello["sn"], cn, ts)})
        reply = await ch.read_message()
        assert "clock skew" in reply["err"]
        assert await closed_by_server(ch)

    with_server(tmp_path, body)


def test_requests_before_the_handshake_are_refused(tmp_path: Path) -> None:
    async def body(server: RPCServer) -> None:
        ch = await raw(server)
        await ch.read_message()
        ch.write_message([1, "list_volumes", "/d1", []])  # no handshake at all
        reply = await ch.read_message()
        assert "unsupported protocol" in reply["err"]
        assert await closed_by_server(ch)

        ch = await raw(server)
        await ch.read_message()
        ch.write_message({"p": PROTOCOL, "cn": os.urandom(NONCE_SIZE), "ts": int(time.time())})
        assert "authentication required" in (await ch.read_message())["err"]
        assert await closed_by_server(ch)

        ch = await raw(server)
        ch.write(b"\xff\xff\xff\xff" + b"x" * 100)  # claims a 4 GiB message
        assert await closed_by_server(ch)

    with_server(tmp_path, body)


def test_silent_client_is_dropped_after_the_handshake_timeout(tmp_path: Path) -> None:
    async def body(server: RPCServer) -> None:
        ch = await raw(server)
        await ch.read_message()  # the server's hello; then we say nothing
        assert await closed_by_server(ch, within=3.0)

    with_server(tmp_path, body, handshake_timeout=0.3)


def test_client_refuses_a_server_without_the_secret(tmp_path: Path) -> None:
    """Mutual: a fake node that accepts anything cannot prove it holds the secret."""

    async def main() -> None:
        async def fake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            from liteio.rpc.wire import pack

            writer.write(pack({"p": PROTOCOL, "sn": os.urandom(NONCE_SIZE), "secret": True}))
            await reader.read(4096)
            writer.write(pack({"ok": True, "proof": os.urandom(32)}))
            await writer.drain()
            await reader.read()  # wait for the client to hang up
            writer.close()

        srv = await asyncio.start_server(fake, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        node = NodeClient("127.0.0.1", port, SECRET)
        with pytest.raises(AuthFailed, match="could not prove"):
            await node.call("/d1", "list_volumes", [])
        assert not node.online
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())


def test_not_a_liteio_server(tmp_path: Path) -> None:
    async def main() -> None:
        async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(http, "127.0.0.1", 0)
        node = NodeClient("127.0.0.1", srv.sockets[0].getsockname()[1], SECRET,
                          connect_timeout=2.0)
        started = time.monotonic()
        with pytest.raises(DriveOffline):
            await node.call("/d1", "list_volumes", [])
        assert time.monotonic() - started < 2
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())


def test_server_refuses_to_start_without_any_authentication(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        RPCServer({}, None)
    with pytest.raises(ValueError, match="secret"):
        RPCServer({}, "")
    with pytest.raises(ValueError, match="secret or TLS"):
        NodeClient("127.0.0.1", 1, None)


# -- mutual TLS -----------------------------------------------------------------------------


class PKI:
    """A throwaway CA with a server certificate for 127.0.0.1 and client certificates."""

    def __init__(self, root: Path) -> None:
        try:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        except ImportError:  # pragma: no cover - decided once per machine
            pytest.skip("mTLS test needs the 'cryptography' package (not installed here)")
        self._x509, self._hashes, self._ser, self._ec = x509, hashes, serialization, ec
        self._oid, self._eku = NameOID, ExtendedKeyUsageOID
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = self._cert("liteio test CA", self.ca_key, self.ca_key, None, ca=True)
        self.ca = self._write("ca.pem", self.ca_cert)

    def _name(self, cn: str) -> Any:
        return self._x509.Name([self._x509.NameAttribute(self._oid.COMMON_NAME, cn)])

    def _cert(self, cn: str, key: Any, signer_key: Any, issuer: Any, *, ca: bool = False,
              server: bool = False) -> Any:
        x509 = self._x509
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(self._name(cn))
            .issuer_name(issuer.subject if issuer is not None else self._name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), critical=True)
        else:
            usage = self._eku.SERVER_AUTH if server else self._eku.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return builder.sign(signer_key, self._hashes.SHA256())

    def _write(self, name: str, obj: Any) -> str:
        path = self.root / name
        if hasattr(obj, "private_bytes"):
            path.write_bytes(obj.private_bytes(self._ser.Encoding.PEM,
                                               self._ser.PrivateFormat.PKCS8,
                                               self._ser.NoEncryption()))
        else:
            path.write_bytes(obj.public_bytes(self._ser.Encoding.PEM))
        return str(path)

    def issue(self, name: str, *, server: bool = False) -> tuple[str, str]:
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        cert = self._cert(name, key, self.ca_key, self.ca_cert, server=server)
        return self._write(f"{name}.crt", cert), self._write(f"{name}.key", key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[PKI, PKI]:
    """Our CA, and an unrelated one (its certificates must be refused)."""
    return PKI(tmp_path_factory.mktemp("pki")), PKI(tmp_path_factory.mktemp("other-pki"))


def _tls_pair(pki: PKI) -> tuple[ssl.SSLContext, tuple[str, str]]:
    cert, key = pki.issue("node1", server=True)
    return server_tls(cert, key, ca=pki.ca), pki.issue("node2")


@pytest.mark.parametrize("secret", [SECRET, None], ids=["mtls+secret", "mtls-only"])
def test_mutual_tls_carries_the_protocol(tmp_path: Path, pki: tuple[PKI, PKI],
                                         secret: str | None) -> None:
    ours, _ = pki
    server_ctx, (ccert, ckey) = _tls_pair(ours)

    async def body(server: RPCServer) -> None:
        node = NodeClient("127.0.0.1", server.port, secret, ssl=client_tls(ours.ca, ccert, ckey))
        drive = node.drive("/d1")
        assert drive.endpoint.startswith("https://127.0.0.1:")
        await drive.make_volume("b")
        data = os.urandom(3 * (1 << 20) + 5)
        w = await drive.create_shard("b", "o/part.1")
        await w.write(data)
        await w.close()
        r = await drive.open_shard("b", "o/part.1")
        assert bytes(await r.read_at(0, len(data))) == data
        assert bytes(await r.read_at(12345, 70000)) == data[12345:82345]
        await r.close()
        assert [v.name for v in await drive.list_volumes()] == ["b"]
        await drive.close()

    with_server(tmp_path, body, secret=secret, ssl=server_ctx)


def test_mutual_tls_refuses_clients_without_a_trusted_certificate(
    tmp_path: Path, pki: tuple[PKI, PKI]
) -> None:
    ours, other = pki
    server_ctx, (ccert, ckey) = _tls_pair(ours)
    stranger_cert, stranger_key = other.issue("stranger")

    async def body(server: RPCServer) -> None:
        attempts = {
            "no client certificate": client_tls(ours.ca),
            "certificate from another CA": client_tls(ours.ca, stranger_cert, stranger_key),
            "server not trusted": client_tls(other.ca, ccert, ckey),
        }
        for why, ctx in attempts.items():
            node = NodeClient("127.0.0.1", server.port, None, ssl=ctx, connect_timeout=3.0)
            started = time.monotonic()
            with pytest.raises(DriveOffline) as info:
                await node.call("/d1", "list_volumes", [])
            assert time.monotonic() - started < 3, why
            assert not node.online, why
            assert str(info.value), why
        # And a plain (non-TLS) client gets nowhere either.
        plain = NodeClient("127.0.0.1", server.port, SECRET, connect_timeout=2.0)
        with pytest.raises(DriveOffline):
            await plain.call("/d1", "list_volumes", [])

    with_server(tmp_path, body, secret=None, ssl=server_ctx)


def test_tls_only_server_requires_client_certificates(tmp_path: Path,
                                                      pki: tuple[PKI, PKI]) -> None:
    ours, _ = pki
    cert, key = ours.issue("lonely", server=True)
    with pytest.raises(ValueError, match="client certificates"):
        RPCServer({}, None, ssl=server_tls(cert, key))  # TLS without a CA: anyone could call
