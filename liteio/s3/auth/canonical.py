"""SigV4 building blocks: canonical URI, query and headers, dates, keys and HMACs.

The canonical request (AWS "Create a canonical request", S3 flavour)::

    <METHOD>\\n
    <canonical URI>\\n          path as sent, each segment URI-encoded once (S3: no
                                double encoding, no dot-segment normalisation)
    <canonical query>\\n        name=value pairs, RFC 3986 encoded, sorted, '&'-joined
    <name>:<value>\\n ...       one line per signed header, values trimmed
    \\n
    <signed header names>\\n    as listed by the client, ';'-joined
    <payload hash>              x-amz-content-sha256 (header auth) or UNSIGNED-PAYLOAD

and the string to sign::

    AWS4-HMAC-SHA256\\n<yyyymmddThhmmssZ>\\n<date>/<region>/<service>/aws4_request\\n
    <hex sha256 of the canonical request>
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from email.utils import parsedate_tz
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINAL = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_SPACES = re.compile(r"  +")
_AMZ_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
# Already in canonical form: unreserved characters and uppercase escapes only...
_CANONICAL_PART = re.compile(rb"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*")
_CANONICAL_PATH = re.compile(rb"(?:[A-Za-z0-9\-._~/]|%[0-9A-F]{2})*")
# ... and no escape of a character that must stay literal (%41 for "A", %7E for "~").
_ESCAPED_UNRESERVED = re.compile(rb"%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)")


# -- URI ------------------------------------------------------------------------------


def uri_encode(data: bytes) -> str:
    """RFC 3986: unreserved characters (A-Z a-z 0-9 - . _ ~) kept, the rest %XX (uppercase)."""
    if _CANONICAL_PART.fullmatch(data) is not None and b"%" not in data:
        return data.decode("ascii")  # PERF: quote() walks byte by byte in Python
    return quote(data, safe="")


def _is_canonical(text: bytes, pattern: re.Pattern[bytes]) -> bool:
    return pattern.fullmatch(text) is not None and (
        b"%" not in text or _ESCAPED_UNRESERVED.search(text) is None
    )


def canonical_component(raw: bytes, plus_is_space: bool) -> tuple[str, bool]:
    """One raw (percent-encoded) path segment or query name/value, canonically re-encoded.

    Returns the text and whether it differs from what was sent.
    """
    if _is_canonical(raw, _CANONICAL_PART):
        return raw.decode("ascii"), False
    decoded = raw.replace(b"+", b" ") if plus_is_space and b"+" in raw else raw
    return quote(unquote_to_bytes(decoded), safe=""), True


def canonical_uri(raw_path: bytes) -> str:
    """The canonical URI of a raw (percent-encoded, as sent) S3 path.

    Each ``/``-separated segment is decoded and re-encoded once, so ``%7e``,
    ``%7E`` and ``~`` all become ``~`` and a space becomes ``%20``; an encoded
    slash (``%2F``) stays inside its segment. No ``.``/``..`` processing:
    S3 keys may contain them. The empty path is ``/``.
    """
    if not raw_path:
        return "/"
    if _is_canonical(raw_path, _CANONICAL_PATH):
        # PERF: what spec-following clients send needs no re-encoding.
        return raw_path.decode("ascii")
    return "/".join(canonical_component(seg, False)[0] for seg in raw_path.split(b"/"))


def canonical_uri_candidates(raw_path: bytes) -> tuple[str, ...]:
    """The canonical URI, then the raw path itself when the two differ.

    NOTE: a spec-following client signs the re-encoded form; a few sign the
    path exactly as they send it (e.g. a literal ``+`` or ``!``). Both forms
    name the same key, so accepting either does not widen what a signature
    authorises; the second HMAC is only computed when the first fails.
    """
    canonical = canonical_uri(raw_path)
    if not raw_path:
        return (canonical,)
    try:
        raw = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return (canonical,)
    if raw == canonical or not raw.isprintable() or " " in raw:
        return (canonical,)
    return (canonical, raw)


def canonical_query(pairs: Iterable[tuple[bytes, bytes]], skip: bytes | None = None) -> str:
    """Decoded (name, value) pairs -> sorted ``name=value&...`` (``=`` kept for empty values)."""
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in pairs if name != skip)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_query_raw(raw: bytes, skip: bytes | None = None) -> tuple[str, bool]:
    """A raw query string -> (canonical query, whether any part was re-encoded).

    ``+`` is a space (form encoding). ``skip`` drops a parameter by its plain name.
    """
    pairs = []
    changed = False
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name, name_changed = canonical_component(raw_name, True)
        if skip is not None and unquote_to_bytes(name) == skip:
            continue
        value, value_changed = canonical_component(raw_value, True)
        changed = changed or name_changed or value_changed
        pairs.append((name, value))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs), changed


def raw_query_variant(raw: bytes, skip: bytes | None = None) -> str | None:
    """The query signed as sent (pairs sorted, escapes untouched), as a few clients do.

    Only for printable ASCII queries; the caller tries it after the canonical form.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.isprintable() or " " in text:
        return None
    skipped = None if skip is None else skip.decode("ascii")
    pairs = []
    for part in text.split("&"):
        name, _, value = part.partition("=")
        if part and name != skipped:
            pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_header_value(values: list[str]) -> str:
    """Trim each value, collapse runs of spaces, join several values with ``,``."""
    if len(values) == 1:
        value = values[0].strip(" \t")
        return _SPACES.sub(" ", value) if "  " in value else value
    out = []
    for value in values:
        value = value.strip(" \t")
        if "  " in value:
            value = _SPACES.sub(" ", value)
        out.append(value)
    return ",".join(out)


def encode_canonical(text: str) -> bytes:
    """Bytes of a canonical request: latin-1 round-trips header bytes as received."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        # Values handed over as real Unicode (not latin-1-decoded bytes).
        return text.encode("utf-8", "surrogateescape")


# -- dates ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def parse_amz_date(value: str) -> float | None:
    """``20130524T000000Z`` -> epoch seconds; None when malformed or out of range."""
    m = _AMZ_DATE.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def parse_http_date(value: str) -> float | None:
    """An RFC 7231 ``Date`` header (``Fri, 24 May 2013 00:00:00 GMT``) -> epoch seconds."""
    try:
        parsed = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed[9] is None:
        return None
    try:
        return float(calendar.timegm(parsed[:9]) - parsed[9])
    except (OverflowError, ValueError):
        return None


def format_amz_date(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def format_iso8601(epoch: float) -> str:
    """The form S3 uses in ``<ServerTime>``: ``2013-05-24T00:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# -- keys and signatures --------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    PERF: four HMACs on every request otherwise; a key is valid for a whole
    day, so the cache hit rate is near 1. Bounded, so a flood of access keys
    or dates cannot grow it.
    """
    key = hmac.digest(("AWS4" + secret_key).encode("utf-8"), date.encode("ascii"), "sha256")
    key = hmac.digest(key, region.encode("utf-8"), "sha256")
    key = hmac.digest(key, service.encode("utf-8"), "sha256")
    return hmac.digest(key, TERMINAL.encode("ascii"), "sha256")


def hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.digest(key, message, "sha256").hex()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signatures_equal(calculated: str, provided: str) -> bool:
    """Constant-time comparison of two hex signatures (any provided text is safe)."""
    return hmac.compare_digest(
        calculated.encode("ascii"), provided.encode("utf-8", "surrogateescape")
    )


def string_to_sign(amz_date: str, scope: str, canonical_request: bytes) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{sha256_hex(canonical_request)}"
