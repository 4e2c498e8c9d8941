"""A small admin API client: SigV4-signed requests over ``http.client``, answers read
line by line as they arrive. Standard library only (plus the server's own SigV4
building blocks, so the client and the verifier share one key derivation)."""

from __future__ import annotations

import http.client
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from liteio.s3.auth.canonical import (
    ALGORITHM,
    EMPTY_SHA256,
    TERMINAL,
    canonical_header_value,
    canonical_query,
    format_amz_date,
    hmac_hex,
    signing_key,
    string_to_sign,
    uri_encode,
)

API_ROOT = "/_liteio/admin/v1"
SERVICE = "s3"
DEFAULT_TIMEOUT = 120.0  # seconds without a byte from the server (a heal sends progress each 1 s)


class AdminError(Exception):
    """The server refused the request: its S3 error code, message and HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedRequest:
    target: str  # path?query, as sent on the request line
    headers: dict[str, str]


def sign_request(method: str, host: str, path: str, query: Sequence[tuple[str, str]] = (),
                 headers: Mapping[str, str] | None = None, *, access_key: str, secret_key: str,
                 region: str, service: str = SERVICE, payload_hash: str = EMPTY_SHA256,
                 now: float | None = None) -> SignedRequest:
    """SigV4 (header form): every header given is signed, plus ``host``, ``x-amz-date``
    and ``x-amz-content-sha256``. ``path`` and ``query`` are plain text; they are
    percent-encoded here exactly as they are signed."""
    amz_date = format_amz_date(time.time() if now is None else now)
    out = {"Host": host, "X-Amz-Date": amz_date, "X-Amz-Content-Sha256": payload_hash,
           **dict(headers or {})}
    by_name: dict[str, list[str]] = {}
    for name, value in out.items():
        by_name.setdefault(name.lower(), []).append(value)
    names = sorted(by_name)
    signed = ";".join(names)
    uri = "/".join(uri_encode(seg.encode()) for seg in path.split("/")) or "/"
    qs = canonical_query([(k.encode(), v.encode()) for k, v in query])
    header_block = "".join(f"{n}:{canonical_header_value(by_name[n])}\n" for n in names)
    canonical = f"{method}\n{uri}\n{qs}\n{header_block}\n{signed}\n{payload_hash}"
    scope = f"{amz_date[:8]}/{region}/{service}/{TERMINAL}"
    sts = string_to_sign(amz_date, scope, canonical.encode("utf-8"))
    signature = hmac_hex(signing_key(secret_key, amz_date[:8], region, service), sts.encode())
    out["Authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, "
                            f"SignedHeaders={signed}, Signature={signature}")
    return SignedRequest(uri + (f"?{qs}" if qs else ""), out)


@dataclass(slots=True)
class AdminClient:
    endpoint: str  # http://host:port (https too)
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    timeout: float = DEFAULT_TIMEOUT

    def _connection(self) -> tuple[http.client.HTTPConnection, str]:
        url = urlsplit(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) endpoint: {self.endpoint!r}")
        cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        return cls(url.hostname, url.port, timeout=self.timeout), url.netloc

    def open(self, method: str, route: str, query: Sequence[tuple[str, str]] = ()
             ) -> http.client.HTTPResponse:
        """Send a signed request to ``/_liteio/admin/v1/<route>``; the response, its body
        unread (AdminError when the server answered with an error)."""
        conn, host = self._connection()
        signed = sign_request(method, host, f"{API_ROOT}/{route}", query,
                              access_key=self.access_key, secret_key=self.secret_key,
                              region=self.region)
        try:
            conn.request(method, signed.target, body=b"" if method == "POST" else None,
                         headers=signed.headers)
            resp = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if resp.status >= 300:
            body = resp.read()
            conn.close()
            raise _error(resp.status, resp.reason, body)
        return resp

    def json(self, method: str, route: str, query: Sequence[tuple[str, str]] = ()) -> Any:
        resp = self.open(method, route, query)
        try:
            return json.loads(resp.read())
        finally:
            resp.close()

    def lines(self, method: str, route: str, query: Sequence[tuple[str, str]] = ()
              ) -> Iterator[dict[str, Any]]:
        """The answer's NDJSON lines, each as soon as it arrives."""
        resp = self.open(method, route, query)
        try:
            while True:
                raw = resp.readline()
                if not raw:
                    return
                if raw.strip():
                    yield json.loads(raw)
        finally:
            resp.close()


def _error(status: int, reason: str, body: bytes) -> AdminError:
    code, message = f"HTTP{status}", reason
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return AdminError(status, code, message)
    return AdminError(status, root.findtext("Code") or code, root.findtext("Message") or message)
