"""Which bucket names and object keys a store on a filesystem can accept."""

from __future__ import annotations

import ipaddress
import re

from liteio.object.errors import InvalidBucketName, InvalidObjectName
from liteio.storage.paths import DIR_SUFFIX, NAME_MAX, SYSTEM_VOLUME, XL_META

MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_bucket_name(name: str) -> str:
    """S3's naming rules for new buckets (plus MinIO's reserved system volume)."""
    problem = None
    if not _BUCKET.match(name):
        problem = "must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending alphanumeric"
    elif ".." in name or ".-" in name or "-." in name:
        problem = "must not contain '..', '.-' or '-.'"
    elif name.startswith("xn--") or name.endswith(("-s3alias", "--ol-s3")):
        problem = "uses a reserved prefix or suffix"
    elif name == SYSTEM_VOLUME:
        problem = "is reserved"
    else:
        try:
            ipaddress.IPv4Address(name)
            problem = "must not be formatted as an IP address"
        except ValueError:
            pass
    if problem:
        raise InvalidBucketName(f"bucket name {name!r} {problem}", bucket=name)
    return name


def check_object_key(key: str, bucket: str = "") -> str:
    """Keys are UTF-8 up to 1,024 bytes; each '/'-separated name must be storable
    as a directory: not empty, '.', '..' or longer than 255 bytes."""
    raw = key.encode("utf-8", "surrogatepass")
    problem = None
    if not raw:
        problem = "must not be empty"
    elif len(raw) > MAX_KEY_BYTES:
        problem = f"is longer than {MAX_KEY_BYTES} bytes"
    elif "\0" in key:
        problem = "contains NUL"
    else:
        body = key.removesuffix("/")
        for part in body.split("/"):
            if part in ("", ".", ".."):
                problem = "has an empty, '.' or '..' path segment"
                break
            if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
                problem = f"has a segment longer than {NAME_MAX} bytes"
                break
            if part.endswith(DIR_SUFFIX) or part == XL_META:
                problem = f"has a reserved segment name ({XL_META} or *{DIR_SUFFIX})"
                break
    if problem:
        raise InvalidObjectName(f"object key {key[:80]!r} {problem}", bucket=bucket, key=key)
    return key
