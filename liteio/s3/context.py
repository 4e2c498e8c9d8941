"""Per-request state the handlers share: who, what, and how to answer."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import falcon.asgi

from liteio.object.layer import ObjectLayer
from liteio.s3.auth import AuthResult, Credentials
from liteio.s3.errors import S3Error

_SEQUENCE = itertools.count(1)
_NODE = os.urandom(4).hex().upper()


def new_request_id() -> str:
    # Sortable and unique per process: time in µs, then a counter.
    return f"{time.time_ns() // 1000:X}{next(_SEQUENCE) & 0xFFFF:04X}{_NODE[:4]}"


@dataclass(slots=True)
class ServerConfig:
    credentials: Credentials
    region: str = "us-east-1"
    # Virtual-host style: requests to <bucket>.<domain> address that bucket.
    domains: tuple[str, ...] = ()
    max_object_size: int = 5 << 40
    max_put_size: int = 5 << 30


@dataclass(slots=True)
class Request:
    """What a handler sees: the parsed S3 request and the response to fill."""

    req: falcon.asgi.Request
    resp: falcon.asgi.Response
    layer: ObjectLayer
    config: ServerConfig
    request_id: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    auth: AuthResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.req.method

    @property
    def resource(self) -> str:
        return "/" + self.bucket + ("/" + self.key if self.key else "")

    def body(self) -> AsyncIterator[Any]:
        """The request payload, decoded and verified per the auth mode."""
        assert self.auth is not None
        return aiter(self.auth.body(self.req.stream))

    async def read_small_body(self, limit: int) -> bytes:
        """A whole (XML) request body of at most ``limit`` bytes."""
        out = bytearray()
        async for piece in self.body():
            out += piece
            if len(out) > limit:
                raise S3Error("MaxMessageLengthExceeded")
        return bytes(out)

    def content_length(self) -> int:
        """The payload size: x-amz-decoded-content-length for aws-chunked bodies."""
        if self.auth is not None and self.auth.streaming:
            declared = self.auth.decoded_content_length
            if declared is None:
                raise S3Error("MissingContentLength")
            return declared
        raw = self.headers.get("content-length")
        if raw is None:
            raise S3Error("MissingContentLength")
        try:
            value = int(raw)
        except ValueError:
            raise S3Error("InvalidArgument", "Content-Length is not a number") from None
        if value < 0:
            raise S3Error("InvalidArgument", "Content-Length is negative")
        return value


def split_path(raw_path: bytes, host: str, domains: tuple[str, ...]) -> tuple[str, str]:
    """(bucket, key) from the raw request path and Host (virtual-host or path style)."""
    try:
        path = unquote(raw_path.decode("ascii"), errors="strict")
    except UnicodeError:
        raise S3Error("InvalidURI") from None
    if not path.startswith("/"):
        raise S3Error("InvalidURI")
    hostname = host.rsplit(":", 1)[0].lower() if host and not host.startswith("[") else ""
    for domain in domains:
        if hostname.endswith("." + domain):
            return hostname[: -len(domain) - 1], path[1:]
    rest = path[1:]
    if "/" not in rest:
        return rest, ""
    bucket, key = rest.split("/", 1)
    return bucket, key


def parse_query(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None
    return dict(parse_qsl(text, keep_blank_values=True))
