"""SigV4 with the ``Authorization`` header, and the checks presigned URLs share with it.

``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/s3/aws4_request,
SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<64 hex>``
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from liteio.s3.auth.canonical import (
    TERMINAL,
    canonical_header_value,
    canonical_query,
    canonical_query_raw,
    canonical_uri_candidates,
    encode_canonical,
    format_amz_date,
    format_iso8601,
    hmac_hex,
    parse_amz_date,
    parse_http_date,
    raw_query_variant,
    signatures_equal,
    signing_key,
    string_to_sign,
)
from liteio.s3.auth.chunked import SigningContext
from liteio.s3.auth.credentials import Credentials
from liteio.s3.auth.errors import AuthError, header_malformed
from liteio.s3.auth.payload import PayloadMode, parse_content_sha256, parse_trailer_header
from liteio.s3.auth.request import AuthRequest, Headers
from liteio.s3.auth.result import AuthKind, AuthResult

MAX_SKEW = 15 * 60.0  # seconds, as S3
SERVICE = "s3"
CONTENT_SHA256 = "x-amz-content-sha256"

_DIGITS = re.compile(r"[0-9]{1,19}")
# What SDKs send; anything else goes through the tolerant parser.
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^\s,=]+), ?SignedHeaders=([^\s,=]+), ?Signature=([^\s,=]+)"
)

Fail = Callable[..., AuthError]


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """``<access key>/<date>/<region>/<service>/aws4_request``, split."""

    access_key: str
    date: str
    region: str
    service: str
    terminal: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminal}"


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    credential: CredentialScope
    signed_headers: str  # verbatim: it is part of the canonical request
    signature: str


def parse_credential(value: str, fail: Fail) -> CredentialScope:
    parts = value.split("/")
    if len(parts) != 5 or not all(parts):
        raise fail(
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
            'aws4_request".'
        )
    return CredentialScope(*parts)


def check_scope(
    cred: CredentialScope, amz_date: str, region: str | None, service: str, fail: Fail
) -> None:
    """Terminal, service, region and date of the scope against this server and the request."""
    if cred.terminal != TERMINAL:
        raise fail(f'incorrect terminal "{cred.terminal}". This endpoint uses "{TERMINAL}".')
    if cred.service != service:
        raise fail(f'incorrect service "{cred.service}". This endpoint belongs to "{service}".')
    if region is not None and cred.region != region:
        raise fail(f"the region '{cred.region}' is wrong; expecting '{region}'", Region=region)
    if cred.date != amz_date[:8]:
        raise fail("Invalid credential date. Date is not the same as X-Amz-Date.")


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    Components may be separated by ``,`` with or without spaces (SDKs differ);
    each must appear exactly once and nothing else may.
    """
    fast = _AUTHORIZATION.fullmatch(value)
    if fast is not None:
        fields = dict(zip(("Credential", "SignedHeaders", "Signature"), fast.groups()))
        return _parsed(fields)
    _, _, rest = value.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, field_value = part.partition("=")
        name = name.strip()
        if not eq or name not in ("Credential", "SignedHeaders", "Signature") or name in fields:
            raise header_malformed(f'the authorization component "{part[:128]}" is malformed.')
        fields[name] = field_value.strip()
    if len(fields) != 3:
        raise header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, "
            "and Signature."
        )
    return _parsed(fields)


def _parsed(fields: dict[str, str]) -> ParsedAuthorization:
    credential = parse_credential(fields["Credential"], header_malformed)
    signed = fields["SignedHeaders"]
    if not signed or any(not name or name != name.strip() for name in signed.split(";")):
        raise header_malformed(
            f'the authorization component "SignedHeaders={signed[:128]}" is malformed.'
        )
    return ParsedAuthorization(credential, signed, fields["Signature"])


def signed_header_names(signed: str) -> list[str]:
    return [name.lower() for name in signed.split(";")]


def check_signed_headers(names: list[str], headers: Headers, exempt: Collection[str] = ()) -> None:
    """``host`` and every ``x-amz-*`` header present must be signed (S3: AccessDenied)."""
    signed = set(names)
    missing = [] if "host" in signed else ["host"]
    missing += sorted(
        name
        for name in headers.names()
        if name.startswith("x-amz-") and name not in signed and name not in exempt
    )
    if missing:
        raise AuthError(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            details={"HeadersNotSigned": ", ".join(missing)},
        )


def canonical_queries(req: AuthRequest, skip: bytes | None = None) -> list[str]:
    """The canonical query, then the query as sent when a client may have signed that."""
    raw = req.query
    if not isinstance(raw, bytes):
        return [canonical_query(req.query_pairs(), skip)]
    canonical, changed = canonical_query_raw(raw, skip)
    if changed:
        variant = raw_query_variant(raw, skip)
        if variant is not None and variant != canonical:
            return [canonical, variant]
    return [canonical]


def canonical_requests(
    req: AuthRequest, queries: list[str], signed: str, names: list[str], payload: str
) -> list[str]:
    """Canonical requests to try: canonical path and query first, then as-sent variants.

    NOTE: every variant is a spelling of the same decoded path and query, so
    accepting any of them does not widen what a signature authorises.
    """
    headers = req.header_map
    header_block = "".join(
        f"{name}:{canonical_header_value(headers.get_all(name))}\n" for name in names
    )
    tail = f"\n{header_block}\n{signed}\n{payload}"
    return [
        f"{req.method}\n{uri}\n{query}{tail}"
        for uri in canonical_uri_candidates(req.path_bytes)
        for query in queries
    ]


def verify_signature(
    key: bytes, amz_date: str, scope: str, candidates: list[str], provided: str, access_key: str
) -> None:
    """Accept when any candidate canonical request yields ``provided`` (constant-time)."""
    first: tuple[str, str] | None = None
    for canonical in candidates:
        sts = string_to_sign(amz_date, scope, encode_canonical(canonical))
        if signatures_equal(hmac_hex(key, sts.encode("ascii")), provided):
            return
        if first is None:
            first = (canonical, sts)
    assert first is not None
    raise AuthError(
        "SignatureDoesNotMatch",
        details={
            "AWSAccessKeyId": access_key,
            "StringToSign": first[1],
            "SignatureProvided": provided[:256],
            "CanonicalRequest": first[0],
        },
    )


def request_date(headers: Headers) -> tuple[str, float, str]:
    """(``yyyymmddThhmmssZ``, epoch seconds, value as sent) from ``x-amz-date`` or ``Date``."""
    raw = headers.get("x-amz-date")
    if raw is not None:
        when = parse_amz_date(raw.strip())
        amz_date = raw.strip()
    else:
        raw = headers.get("date")
        when = parse_http_date(raw) if raw else None
        amz_date = format_amz_date(when) if when is not None else ""
    if when is None or raw is None:
        raise AuthError(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        )
    return amz_date, when, raw


def check_skew(when: float, sent: str, now: float, max_skew: float) -> None:
    if abs(now - when) > max_skew:
        raise AuthError(
            "RequestTimeTooSkewed",
            details={
                "RequestTime": sent,
                "ServerTime": format_iso8601(now),
                "MaxAllowedSkewMilliseconds": str(int(max_skew * 1000)),
            },
        )


def streaming_fields(mode: PayloadMode, headers: Headers) -> tuple[int | None, tuple[str, ...]]:
    """``x-amz-decoded-content-length`` and ``x-amz-trailer`` of an aws-chunked request."""
    if not mode.streaming:
        return None, ()
    raw = headers.get("x-amz-decoded-content-length")
    if raw is None or _DIGITS.fullmatch(raw.strip()) is None:
        # NOTE: what S3 answers for a missing or unparsable decoded length.
        raise AuthError("MissingContentLength")
    trailers = parse_trailer_header(headers.get("x-amz-trailer")) if mode.has_trailer else ()
    return int(raw), trailers


def verify_header_auth(
    req: AuthRequest,
    creds: Credentials,
    region: str | None,
    *,
    service: str = SERVICE,
    max_skew: float = MAX_SKEW,
) -> AuthResult:
    """Verify an ``Authorization: AWS4-HMAC-SHA256 ...`` request (the body is the caller's)."""
    headers = req.header_map
    parsed = parse_authorization(headers.get("authorization") or "")
    cred_scope = parsed.credential
    amz_date, when, sent_date = request_date(headers)
    check_scope(cred_scope, amz_date, region, service, header_malformed)
    cred = creds.lookup(cred_scope.access_key)
    cred.check_session_token(headers.get("x-amz-security-token"))

    names = signed_header_names(parsed.signed_headers)
    content_sha256 = headers.get(CONTENT_SHA256)
    if content_sha256 is None:
        raise AuthError(
            "InvalidRequest", f"Missing required header for this request: {CONTENT_SHA256}"
        )
    if CONTENT_SHA256 not in names:
        raise AuthError(
            "InvalidRequest", f"header '{CONTENT_SHA256}' must be included in signature"
        )
    check_signed_headers(names, headers)
    mode, digest = parse_content_sha256(content_sha256.strip())
    check_skew(when, sent_date, req.timestamp, max_skew)

    key = signing_key(cred.secret_key, cred_scope.date, cred_scope.region, cred_scope.service)
    candidates = canonical_requests(
        req, canonical_queries(req), parsed.signed_headers, names, content_sha256.strip()
    )
    verify_signature(key, amz_date, cred_scope.scope, candidates, parsed.signature, cred.access_key)

    decoded_length, trailers = streaming_fields(mode, headers)
    return AuthResult(
        kind=AuthKind.HEADER,
        access_key=cred.access_key,
        payload_mode=mode,
        payload_sha256=digest,
        decoded_content_length=decoded_length,
        trailer_names=trailers,
        signing=SigningContext(key, amz_date, cred_scope.scope, parsed.signature.lower()),
    )
