"""AWS Signature Version 2 for S3: the ``Authorization: AWS`` header and presigned URLs.

``Authorization: AWS <access key>:<signature>`` or, in the query,
``?AWSAccessKeyId=<access key>&Expires=<epoch seconds>&Signature=<signature>``.

The string to sign (S3 "Signing and authenticating REST requests")::

    <METHOD>\\n
    <Content-MD5>\\n              "" when absent (so is Content-Type)
    <Content-Type>\\n
    <Date>\\n                     the Date header; "" when x-amz-date is present;
                                  Expires for a presigned URL
    <name>:<value>,<value>\\n     every x-amz-* header: lowercase, sorted, values
    ...                           unfolded, trimmed and ','-joined
    [/<bucket>]<path as sent>[?<sub-resources>]

    signature = base64(HMAC-SHA1(secret key, string to sign))

The bucket comes first only for virtual-host requests (it is not in the
path). The sub-resources are the query parameters that name what is acted
on (``?acl``, ``?uploadId=...``, ``?response-content-type=...``), sorted by
name, values decoded; every other parameter (``prefix``, ``max-keys`` ...)
is unsigned, as in S3. There is no payload hash: the body is protected by
Content-MD5 (the caller's check) or by a signed ``x-amz-content-sha256``
header, which is honoured when present.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Collection, Iterable
from urllib.parse import unquote_to_bytes

from liteio.s3.auth.canonical import (
    canonical_uri,
    encode_canonical,
    format_iso8601,
    parse_amz_date,
    parse_http_date,
)
from liteio.s3.auth.credentials import Credential, Credentials
from liteio.s3.auth.errors import AuthError
from liteio.s3.auth.payload import PayloadMode, parse_content_sha256
from liteio.s3.auth.request import AuthRequest, Headers
from liteio.s3.auth.result import AuthKind, AuthResult
from liteio.s3.auth.sigv4 import MAX_SKEW, check_skew, streaming_fields

SCHEME = "AWS"
ACCESS_KEY_PARAM = b"AWSAccessKeyId"
EXPIRES_PARAM = b"Expires"
SIGNATURE_PARAM = b"Signature"
# Either of these in the query makes it a SigV2 presigned request.
QUERY_AUTH_PARAMS = frozenset((ACCESS_KEY_PARAM, SIGNATURE_PARAM))

# Sub-resources every SigV2 client signs (S3's list plus the response-* overrides).
SUBRESOURCES = frozenset(
    {
        b"acl",
        b"cors",
        b"delete",
        b"lifecycle",
        b"location",
        b"logging",
        b"notification",
        b"partNumber",
        b"policy",
        b"requestPayment",
        b"restore",
        b"tagging",
        b"torrent",
        b"uploadId",
        b"uploads",
        b"versionId",
        b"versioning",
        b"versions",
        b"website",
        b"response-cache-control",
        b"response-content-disposition",
        b"response-content-encoding",
        b"response-content-language",
        b"response-content-type",
        b"response-expires",
    }
)
# Newer sub-resources that some clients sign and others do not (botocore signs
# ``object-lock`` but not ``retention``; other clients the reverse).
OPTIONAL_SUBRESOURCES = frozenset(
    {
        b"accelerate",
        b"analytics",
        b"defaultObjectAcl",
        b"encryption",
        b"intelligent-tiering",
        b"inventory",
        b"legal-hold",
        b"metrics",
        b"object-lock",
        b"ownershipControls",
        b"policyStatus",
        b"publicAccessBlock",
        b"replication",
        b"retention",
        b"select",
        b"select-type",
        b"storageClass",
    }
)

_EXPIRES = re.compile(r"[0-9]{1,12}")
_FOLD = re.compile(rb"\r?\n[ \t]+")
MALFORMED_HEADER = "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"


# -- the string to sign ---------------------------------------------------------------


def host_bucket(host: str | None, domains: Collection[str]) -> str | None:
    """The bucket a virtual-host request names in ``Host`` (``<bucket>.<domain>``), else None.

    NOTE: the same rule as the front door's path parser, so the resource
    signed is the resource routed.
    """
    if not host or not domains or host.startswith("["):
        return None
    hostname = host.rsplit(":", 1)[0].lower()
    for domain in domains:
        if hostname.endswith("." + domain):
            return hostname[: -len(domain) - 1]
    return None


def _unquote(raw: bytes, plus_is_space: bool) -> bytes:
    if plus_is_space and b"+" in raw:
        raw = raw.replace(b"+", b" ")
    return unquote_to_bytes(raw) if b"%" in raw else raw


def subresource_params(req: AuthRequest) -> list[tuple[bytes, bytes, bytes, bool]]:
    """The signable query parameters: (name, decoded value, value with '+' kept, had '=')."""
    names = SUBRESOURCES | OPTIONAL_SUBRESOURCES
    out = []
    raw = req.query
    if isinstance(raw, bytes):
        for part in raw.split(b"&"):
            raw_name, eq, raw_value = part.partition(b"=")
            name = _unquote(raw_name, True)
            if name in names:
                out.append((name, _unquote(raw_value, True), _unquote(raw_value, False), bool(eq)))
    else:
        out = [(n, v, v, bool(v)) for n, v in req.query_pairs() if n in names]
    return out


def subresource_strings(params: list[tuple[bytes, bytes, bytes, bool]]) -> list[bytes]:
    """``?name=value&...`` to try: S3's form first, then the variants clients sign.

    S3's form has decoded values and a bare name for an empty value
    (``?acl``); some clients keep a ``=`` they sent (``?acl=``) or a literal
    ``+``. Optional sub-resources are tried included, then left out.
    NOTE: a parameter some client leaves unsigned can be added by anyone, as
    with every unsigned SigV2 parameter; the core sub-resources never are.
    """
    subsets = [params]
    if any(name in OPTIONAL_SUBRESOURCES for name, *_ in params):
        subsets.append([p for p in params if p[0] not in OPTIONAL_SUBRESOURCES])
    out: list[bytes] = []
    for subset in subsets:
        ordered = sorted(subset, key=lambda p: p[0])  # stable: repeated names keep order
        spec = b"&".join(name + (b"=" + value if value else b"") for name, value, _, _ in ordered)
        sent = b"&".join(name + (b"=" + literal if eq else b"") for name, _, literal, eq in ordered)
        for text in (spec, sent):
            candidate = b"?" + text if text else b""
            if candidate not in out:
                out.append(candidate)
    return out


def canonical_resources(req: AuthRequest, bucket: str | None) -> list[bytes]:
    """CanonicalizedResource candidates, S3's own first.

    The path is signed exactly as sent. Also accepted, as spellings of the
    same resource: a bucket's path-style ``/bucket`` as ``/bucket/`` (what
    botocore signs), and the canonical (RFC 3986) spelling of the path.
    """
    raw = req.path_bytes or b"/"
    paths = [raw]
    if bucket is None and len(raw) > 1 and raw.count(b"/") == 1:
        paths.append(raw + b"/")
    for path in list(paths):
        canonical = canonical_uri(path).encode("ascii")
        if canonical not in paths:
            paths.append(canonical)
    prefix = b"" if bucket is None else b"/" + encode_canonical(bucket)
    subs = subresource_strings(subresource_params(req))
    return [prefix + path + sub for sub in subs for path in paths]


def _amz_value(value: bytes) -> bytes:
    if b"\n" in value:
        value = _FOLD.sub(b" ", value)
    return value.strip(b" \t")


def amz_headers(headers: Headers, query: Iterable[tuple[bytes, bytes]] = ()) -> dict[bytes, bytes]:
    """x-amz-* name -> canonical value, from the headers and (presigned) the query.

    A presigned URL carries its x-amz-* "headers" as query parameters. When
    a header repeats one with another value, both are kept, so the signature
    (over the query's) no longer matches: a header cannot override what the
    URL signed.
    """
    values: dict[bytes, list[bytes]] = {}
    for name, value in query:
        lower = name.lower()
        if lower.startswith(b"x-amz-"):
            values.setdefault(lower, []).append(_amz_value(value))
    for header in headers.names():
        if header.startswith("x-amz-"):
            listed = values.setdefault(encode_canonical(header), [])
            from_query = list(listed)
            for text in headers.get_all(header):
                canonical = _amz_value(encode_canonical(text))
                if canonical not in from_query:
                    listed.append(canonical)
    return {name: b",".join(v) for name, v in values.items()}


def amz_block(amz: dict[bytes, bytes], skip: bytes | None = None) -> bytes:
    return b"".join(name + b":" + amz[name] + b"\n" for name in sorted(amz) if name != skip)


def string_to_sign(
    method: str, content_md5: str, content_type: str, date: str, amz: bytes, resource: bytes
) -> bytes:
    head = f"{method}\n{content_md5}\n{content_type}\n{date}\n"
    return encode_canonical(head) + amz + resource


def sign(secret_key: str, message: bytes) -> str:
    """base64(HMAC-SHA1(secret, message)), the SigV2 signature."""
    digest = hmac.digest(secret_key.encode("utf-8"), message, "sha1")
    return base64.b64encode(digest).decode("ascii")


def verify_signature(cred: Credential, candidates: list[bytes], provided: str) -> None:
    """Accept when any candidate string to sign yields ``provided`` (constant-time)."""
    presented = provided.encode("utf-8", "surrogateescape")
    for sts in candidates:
        if hmac.compare_digest(sign(cred.secret_key, sts).encode("ascii"), presented):
            return
    first = candidates[0]
    raise AuthError(
        "SignatureDoesNotMatch",
        details={
            "AWSAccessKeyId": cred.access_key,
            "StringToSign": first.decode("utf-8", "replace"),
            "SignatureProvided": provided[:256],
            "StringToSignBytes": first.hex(" "),
        },
    )


def _dedupe(items: Iterable[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _positional(headers: Headers, name: str, fallback: str = "") -> str:
    """Content-MD5, Content-Type or Date for the string to sign ("" when absent)."""
    value = headers.get(name)
    return fallback if value is None else value.strip(" \t")


# -- the two ways in ------------------------------------------------------------------


def parse_authorization(value: str) -> tuple[str, str]:
    """``AWS <access key>:<signature>`` -> (access key, signature)."""
    _, _, credential = value.strip().partition(" ")
    access_key, colon, signature = credential.strip().rpartition(":")
    if not colon or not access_key or not signature:
        raise AuthError(
            "InvalidArgument",
            MALFORMED_HEADER,
            details={"ArgumentName": "Authorization", "ArgumentValue": value[:256]},
        )
    return access_key, signature


def request_time(headers: Headers) -> tuple[float, str]:
    """(epoch seconds, value as sent) of ``x-amz-date`` (which wins) or ``Date``."""
    sent = headers.get("x-amz-date")
    if sent is None:
        sent = headers.get("date")
    when = None
    if sent is not None:
        when = parse_http_date(sent)
        if when is None:
            when = parse_amz_date(sent.strip())  # a few clients send the SigV4 form
    if when is None or sent is None:
        raise AuthError(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        )
    return when, sent


def verify_header_auth(
    req: AuthRequest,
    creds: Credentials,
    *,
    domains: Collection[str] = (),
    max_skew: float = MAX_SKEW,
) -> AuthResult:
    """Verify an ``Authorization: AWS <key>:<signature>`` request (the body is the caller's)."""
    headers = req.header_map
    access_key, provided = parse_authorization(headers.get("authorization") or "")
    when, sent_date = request_time(headers)
    cred = creds.lookup(access_key)
    cred.check_session_token(headers.get("x-amz-security-token"))
    check_skew(when, sent_date, req.timestamp, max_skew)

    amz = amz_headers(headers)
    date = _positional(headers, "date")
    if b"x-amz-date" in amz:
        # S3: the Date line is empty and x-amz-date is an ordinary x-amz header.
        # NOTE: clients that put the Date header's value there, or (as AWS's own
        # DELETE example does) x-amz-date's value in place of its header line,
        # sign the same timestamp, so they are accepted too.
        forms = [("", amz_block(amz)), (date, amz_block(amz))]
        forms.append((amz[b"x-amz-date"].decode("latin-1"), amz_block(amz, b"x-amz-date")))
    else:
        forms = [(date, amz_block(amz))]
    md5, content_type = _positional(headers, "content-md5"), _positional(headers, "content-type")
    resources = canonical_resources(req, host_bucket(headers.get("host"), domains))
    candidates = _dedupe(
        string_to_sign(req.method, md5, content_type, date_line, block, resource)
        for date_line, block in forms
        for resource in resources
    )
    verify_signature(cred, candidates, provided)
    return payload_result(AuthKind.HEADER, cred.access_key, headers)


def verify_presigned(
    req: AuthRequest, creds: Credentials, *, domains: Collection[str] = ()
) -> AuthResult:
    """Verify ``?AWSAccessKeyId=...&Expires=...&Signature=...``: parameters, expiry, signature."""
    params: dict[bytes, str] = {}
    amz_params: list[tuple[bytes, bytes]] = []
    content: dict[bytes, str] = {}
    for name, value in req.query_pairs():
        if name in (ACCESS_KEY_PARAM, EXPIRES_PARAM, SIGNATURE_PARAM):
            params.setdefault(name, value.decode("utf-8", "surrogateescape"))
        elif name[:6].lower() == b"x-amz-":
            amz_params.append((name, value))
        elif name.lower() in (b"content-md5", b"content-type"):
            content.setdefault(name.lower(), value.decode("utf-8", "surrogateescape"))
    if len(params) != 3:
        raise AuthError(
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters",
        )
    expires_text = params[EXPIRES_PARAM]
    if _EXPIRES.fullmatch(expires_text) is None:
        raise AuthError(
            "AccessDenied", f"Invalid date (should be seconds since epoch): {expires_text[:64]}"
        )
    headers = req.header_map
    cred = creds.lookup(params[ACCESS_KEY_PARAM])
    token = headers.get("x-amz-security-token")
    for name, value in amz_params:
        if name.lower() == b"x-amz-security-token":
            token = value.decode("utf-8", "surrogateescape")
            break
    cred.check_session_token(token)
    expires, now = int(expires_text), req.timestamp
    if now > expires:
        raise AuthError(
            "AccessDenied",
            "Request has expired",
            details={"Expires": format_iso8601(expires), "ServerTime": format_iso8601(now)},
        )

    # Content-MD5 and Content-Type are the request's headers; a URL made for
    # a client that cannot set them carries them as parameters (botocore does).
    md5 = _positional(headers, "content-md5", content.get(b"content-md5", ""))
    content_type = _positional(headers, "content-type", content.get(b"content-type", ""))
    block = amz_block(amz_headers(headers, amz_params))
    candidates = _dedupe(
        string_to_sign(req.method, md5, content_type, expires_text, block, resource)
        for resource in canonical_resources(req, host_bucket(headers.get("host"), domains))
    )
    # A '+' the client left unescaped in the query reads as a space; base64 has none.
    verify_signature(cred, candidates, params[SIGNATURE_PARAM].replace(" ", "+"))
    return payload_result(AuthKind.PRESIGNED, cred.access_key, headers)


def payload_result(kind: AuthKind, access_key: str, headers: Headers) -> AuthResult:
    """The body's mode: unsigned, unless a (signed) x-amz-content-sha256 header says otherwise.

    NOTE: SigV2 has no payload hash of its own, but an x-amz-content-sha256
    header is an x-amz-* header, so it was signed: a hex digest is checked
    and an unsigned aws-chunked body decoded, as for SigV4. Signed chunks
    need a SigV4 seed signature, which a SigV2 request does not have.
    """
    declared = headers.get("x-amz-content-sha256")
    if declared is None:
        return AuthResult(kind=kind, access_key=access_key, payload_mode=PayloadMode.UNSIGNED)
    mode, digest = parse_content_sha256(declared.strip())
    if mode.chunk_signed:
        raise AuthError(
            "InvalidRequest",
            "Chunk signatures require AWS Signature Version 4 (AWS4-HMAC-SHA256)",
        )
    decoded_length, trailers = streaming_fields(mode, headers)
    return AuthResult(
        kind=kind,
        access_key=access_key,
        payload_mode=mode,
        payload_sha256=digest,
        decoded_content_length=decoded_length,
        trailer_names=trailers,
    )
