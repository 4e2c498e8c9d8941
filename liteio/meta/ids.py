"""Version ids, data-dir UUIDs and RFC 3339 times as MinIO stores and prints them.

On disk a version id is 16 raw UUID bytes; all zero is the S3 "null" version.
In text (S3 responses, inline-data keys, debug output) it is the lowercase
hyphenated UUID, or the literal ``null``. Times are int64 nanoseconds since
the Unix epoch; MinIO prints them with Go's RFC3339Nano layout, which drops
trailing zeros of the fraction (and the dot when the fraction is zero).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

NULL_VERSION_ID = bytes(16)
NULL_VERSION_STR = "null"

VersionIdLike = str | bytes | bytearray | uuid.UUID | None


def version_id_bytes(value: VersionIdLike) -> bytes:
    """Normalise any spelling of a version id to its 16 on-disk bytes.

    ``None``, ``""`` and ``"null"`` all mean the null version. Raises
    ``ValueError`` for anything that is not a UUID.
    """
    if value is None:
        return NULL_VERSION_ID
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 16:
            raise ValueError(f"version id must be 16 bytes, got {len(value)}")
        return bytes(value)
    if value in ("", NULL_VERSION_STR):
        return NULL_VERSION_ID
    try:
        return uuid.UUID(value).bytes
    except ValueError:
        raise ValueError(f"invalid version id {value!r}") from None


def version_id_str(raw: bytes) -> str:
    """The text form of a stored version id: a UUID string or ``null``."""
    if raw == NULL_VERSION_ID:
        return NULL_VERSION_STR
    return str(uuid.UUID(bytes=bytes(raw)))


def uuid_str(raw: bytes) -> str:
    """A 16-byte UUID (e.g. a data dir) as text; the zero UUID stays a UUID."""
    return str(uuid.UUID(bytes=bytes(raw)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS = 1_000_000_000


def format_rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC for an epoch-ns value.

    1610300046404396813 -> "2021-01-10T17:34:06.404396813Z";
    1635510292564341500 -> "2021-10-29T12:24:52.5643415Z" (zeros trimmed).
    """
    seconds, frac = divmod(ns, _NS)
    try:
        stamp = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    except OverflowError:
        return f"{ns}ns-since-epoch"
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    return stamp + "Z"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339_nano(text: str) -> int | None:
    """Epoch nanoseconds of an RFC 3339 time (any offset), or None if not one.

    Python's datetime stops at microseconds; MinIO's replication timestamps
    carry nanoseconds, so the fraction is handled as an integer here.
    """
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    try:
        wall = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        if m.group(9) == "-":
            offset = -offset
    frac = int((m.group(7) or "0").ljust(9, "0"))
    seconds = (wall - _EPOCH) // timedelta(seconds=1) - offset
    return seconds * _NS + frac
