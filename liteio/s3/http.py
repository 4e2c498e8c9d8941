"""HTTP details of S3: dates, ranges, metadata headers, conditional requests."""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from liteio.object.types import STANDARD_HEADERS, STORAGE_CLASS_KEY, ObjectInfo, Precondition
from liteio.s3.errors import S3Error

USER_META_PREFIX = "x-amz-meta-"
MAX_USER_METADATA = 2048  # bytes of x-amz-meta-* names and values, as S3 counts them
STORAGE_CLASSES = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
                   "INTELLIGENT_TIERING", "GLACIER_IR"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def http_date(ns: int) -> str:
    return email.utils.formatdate(ns / 1e9, usegmt=True)


def iso8601(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ns // 1_000_000) % 1000:03d}Z"


def parse_http_date(value: str | None) -> int | None:
    """Seconds-precision time in ns, or None if absent or unparsable (then ignored)."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000


def canonical_meta_name(name: str) -> str:
    """x-amz-meta-foo-bar -> X-Amz-Meta-Foo-Bar (how MinIO stores names)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.lower().split("-"))


def metadata_from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The MetaUsr entries a PUT/POST/COPY(REPLACE) stores, from its request headers."""
    meta: dict[str, str] = {}
    user_bytes = 0
    for name, value in headers.items():
        lname = name.lower()
        if lname.startswith(USER_META_PREFIX):
            user_bytes += len(lname) - len(USER_META_PREFIX) + len(value.encode())
            meta[canonical_meta_name(lname)] = value
        elif lname in STANDARD_HEADERS:
            if lname == "content-encoding":
                value = ",".join(v.strip() for v in value.split(",")
                                 if v.strip() and v.strip() != "aws-chunked")
                if not value:
                    continue
            meta[lname] = value
    if user_bytes > MAX_USER_METADATA:
        raise S3Error("MetadataTooLarge",
                      f"Your metadata headers are {user_bytes} bytes; the limit is 2 KB.")
    storage_class = headers.get("x-amz-storage-class")
    if storage_class:
        if storage_class not in STORAGE_CLASSES:
            raise S3Error("InvalidStorageClass")
        if storage_class != "STANDARD":
            meta[STORAGE_CLASS_KEY] = storage_class
    if "content-type" not in meta:
        meta["content-type"] = "binary/octet-stream"
    return meta


def object_headers(info: ObjectInfo, *, versioned_bucket: bool) -> dict[str, str]:
    headers = {
        "ETag": f'"{info.etag}"',
        "Last-Modified": http_date(info.mod_time_ns),
        "Accept-Ranges": "bytes",
        "Content-Type": info.content_type,
    }
    for name, value in info.metadata.items():
        lname = name.lower()
        if lname in STANDARD_HEADERS and lname != "content-type":
            headers[_title(lname)] = value
        elif lname.startswith(USER_META_PREFIX):
            headers[lname] = value
        elif lname == STORAGE_CLASS_KEY:
            headers["x-amz-storage-class"] = value
    if info.tagging:
        headers["x-amz-tagging-count"] = str(len([t for t in info.tagging.split("&") if t]))
    if versioned_bucket or info.version_id != "null":
        headers["x-amz-version-id"] = info.version_id
    return headers


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-"))


def parse_range(value: str | None) -> tuple[int | None, int | None] | None:
    """A single ``bytes=`` range as (first, last) / (None, suffix); None to serve it all.

    Malformed or multi-range headers are ignored, as S3 does.
    """
    if not value:
        return None
    match = _RANGE.match(value.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        return None, int(last)
    return int(first), int(last) if last else None


def content_md5(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise S3Error("InvalidDigest") from None
    if len(digest) != 16:
        raise S3Error("InvalidDigest")
    return digest


class NotModified(Exception):
    """Answer 304 with the object's validators and no body."""

    def __init__(self, info: ObjectInfo) -> None:
        super().__init__("not modified")
        self.info = info


def _etag_matches(header: str, etag: str) -> bool:
    wanted = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in wanted or etag.strip('"') in wanted


def check_read_conditions(headers: Mapping[str, str], info: ObjectInfo) -> None:
    """If-Match / If-Unmodified-Since -> 412; If-None-Match / If-Modified-Since -> 304."""
    modified = info.mod_time_ns // 1_000_000_000 * 1_000_000_000
    if_match = headers.get("if-match")
    if if_match is not None and not _etag_matches(if_match, info.etag):
        raise S3Error("PreconditionFailed", details={"Condition": "If-Match"})
    since = parse_http_date(headers.get("if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise S3Error("PreconditionFailed", details={"Condition": "If-Unmodified-Since"})
    if_none = headers.get("if-none-match")
    if if_none is not None and _etag_matches(if_none, info.etag):
        raise NotModified(info)
    since = parse_http_date(headers.get("if-modified-since"))
    if if_none is None and since is not None and modified <= since:
        raise NotModified(info)


def check_copy_conditions(headers: Mapping[str, str], info: ObjectInfo) -> None:
    """x-amz-copy-source-if-* : any failure is 412."""
    modified = info.mod_time_ns // 1_000_000_000 * 1_000_000_000
    if_match = headers.get("x-amz-copy-source-if-match")
    if if_match is not None and not _etag_matches(if_match, info.etag):
        raise S3Error("PreconditionFailed", details={"Condition": "x-amz-copy-source-If-Match"})
    since = parse_http_date(headers.get("x-amz-copy-source-if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise S3Error("PreconditionFailed",
                      details={"Condition": "x-amz-copy-source-If-Unmodified-Since"})
    if_none = headers.get("x-amz-copy-source-if-none-match")
    if if_none is not None and _etag_matches(if_none, info.etag):
        raise S3Error("PreconditionFailed", details={"Condition": "x-amz-copy-source-If-None-Match"})
    since = parse_http_date(headers.get("x-amz-copy-source-if-modified-since"))
    if if_none is None and since is not None and modified <= since:
        raise S3Error("PreconditionFailed",
                      details={"Condition": "x-amz-copy-source-If-Modified-Since"})


def write_precondition(headers: Mapping[str, str]) -> Precondition | None:
    """PutObject/Complete with If-None-Match: * or If-Match: checked at commit, under lock."""
    if_none = headers.get("if-none-match")
    if_match = headers.get("if-match")
    if if_none is None and if_match is None:
        return None
    if if_none is not None and if_none.strip() != "*":
        raise S3Error("NotImplemented", "If-None-Match on writes supports only '*'")

    def check(current: ObjectInfo | None) -> None:
        if if_none is not None and current is not None:
            raise S3Error("PreconditionFailed", details={"Condition": "If-None-Match"})
        if if_match is not None:
            if current is None:
                raise S3Error("NoSuchKey")
            if not _etag_matches(if_match, current.etag):
                raise S3Error("PreconditionFailed", details={"Condition": "If-Match"})

    return check
