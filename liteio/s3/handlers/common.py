"""Small helpers every handler uses: sending XML, owners, query parameters."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.xmlio import document, element


def send_xml(request: Request, root: str, body: str, status: int = 200) -> None:
    resp = request.resp
    resp.status = status
    resp.content_type = "application/xml"
    resp.data = document(root, body)


def send_empty(request: Request, status: int = 200) -> None:
    request.resp.status = status
    request.resp.data = b""


def owner_id(request: Request) -> str:
    access = (request.auth.access_key if request.auth else None) or "anonymous"
    return hashlib.sha256(access.encode()).hexdigest()


def owner_xml(request: Request) -> str:
    access = (request.auth.access_key if request.auth else None) or "anonymous"
    return "<Owner>" + element("ID", owner_id(request)) + element("DisplayName", access) + "</Owner>"


def int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise S3Error("InvalidArgument", f"{name} must be an integer") from None
    if value < low:
        raise S3Error("InvalidArgument", f"{name} must be at least {low}")
    return min(value, high) if high is not None else value


def url_encoder(request: Request):  # type: ignore[no-untyped-def]
    """Identity, or S3's encoding-type=url percent-encoding of keys and prefixes."""
    kind = request.query.get("encoding-type")
    if kind is None:
        return lambda value: value
    if kind != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
    return lambda value: quote(value, safe="/~")


def version_param(request: Request) -> str | None:
    value = request.query.get("versionId")
    if value is None:
        return None
    if value == "":
        raise S3Error("InvalidArgument", "Version id cannot be the empty string")
    return value
