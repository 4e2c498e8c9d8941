"""SigV4 in the query string (presigned URLs).

``?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<key>%2F<date>%2F<region>%2Fs3%2F
aws4_request&X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=<1..604800>
&X-Amz-SignedHeaders=host&X-Amz-Signature=<64 hex>``

The canonical query is every parameter but ``X-Amz-Signature``; the payload
hash is ``UNSIGNED-PAYLOAD`` unless an ``X-Amz-Content-Sha256`` parameter says
otherwise.
"""

from __future__ import annotations

import re

from liteio.s3.auth.canonical import (
    ALGORITHM,
    UNSIGNED_PAYLOAD,
    format_iso8601,
    parse_amz_date,
    signing_key,
)
from liteio.s3.auth.chunked import SigningContext
from liteio.s3.auth.credentials import Credentials
from liteio.s3.auth.errors import AuthError, query_malformed, sigv4a_not_implemented
from liteio.s3.auth.payload import PayloadMode, parse_content_sha256
from liteio.s3.auth.request import AuthRequest
from liteio.s3.auth.result import AuthKind, AuthResult
from liteio.s3.auth.sigv4 import (
    MAX_SKEW,
    SERVICE,
    canonical_queries,
    canonical_requests,
    check_scope,
    check_signed_headers,
    parse_credential,
    signed_header_names,
    verify_signature,
)

MAX_EXPIRES = 7 * 24 * 3600  # 604800 s, as S3

REQUIRED = (
    b"X-Amz-Algorithm",
    b"X-Amz-Credential",
    b"X-Amz-Signature",
    b"X-Amz-Date",
    b"X-Amz-SignedHeaders",
    b"X-Amz-Expires",
)
SIGNATURE_PARAM = b"X-Amz-Signature"
AUTH_PARAMS = frozenset((b"X-Amz-Algorithm", b"X-Amz-Credential", SIGNATURE_PARAM))

_INTEGER = re.compile(r"-?[0-9]{1,12}")


def _credential_error(reason: str, **details: str) -> AuthError:
    return query_malformed("Error parsing the X-Amz-Credential parameter; " + reason, **details)


def verify_presigned(
    req: AuthRequest,
    creds: Credentials,
    region: str | None,
    *,
    service: str = SERVICE,
    max_skew: float = MAX_SKEW,
) -> AuthResult:
    """Verify a presigned request: parameters, expiry, then the signature."""
    params: dict[bytes, str] = {}
    for name, value in req.query_pairs():
        if name.startswith(b"X-Amz-") and name not in params:
            params[name] = value.decode("utf-8", "surrogateescape")
    if any(name not in params for name in REQUIRED):
        raise query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters."
        )
    algorithm = params[b"X-Amz-Algorithm"]
    if algorithm == "AWS4-ECDSA-P256-SHA256":
        raise sigv4a_not_implemented()
    if algorithm != ALGORITHM:
        raise query_malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}"')

    amz_date = params[b"X-Amz-Date"]
    when = parse_amz_date(amz_date)
    if when is None:
        raise query_malformed(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    expires_text = params[b"X-Amz-Expires"]
    if _INTEGER.fullmatch(expires_text) is None:
        raise query_malformed("X-Amz-Expires should be a number")
    expires = int(expires_text)
    if expires < 0:
        raise query_malformed("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise query_malformed(
            "X-Amz-Expires must be less than a week (in seconds) that is; the given "
            f"X-Amz-Expires must be less than {MAX_EXPIRES} seconds"
        )

    cred_scope = parse_credential(params[b"X-Amz-Credential"], _credential_error)
    check_scope(cred_scope, amz_date, region, service, _credential_error)
    cred = creds.lookup(cred_scope.access_key)
    cred.check_session_token(params.get(b"X-Amz-Security-Token"))

    signed = params[b"X-Amz-SignedHeaders"]
    if not signed or any(not name for name in signed.split(";")):
        raise query_malformed("X-Amz-SignedHeaders is malformed")
    names = signed_header_names(signed)
    # NOTE: a presigned request's payload hash comes from the query, so a stray
    # x-amz-content-sha256 header carries no meaning and need not be signed.
    check_signed_headers(names, req.header_map, exempt=("x-amz-content-sha256",))

    now = req.timestamp
    if when - now > max_skew:
        raise AuthError("AccessDenied", "Request is not valid yet")
    if now > when + expires:
        raise AuthError(
            "AccessDenied",
            "Request has expired",
            details={
                "X-Amz-Expires": expires_text,
                "Expires": format_iso8601(when + expires),
                "ServerTime": format_iso8601(now),
            },
        )

    payload = params.get(b"X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    mode, digest = parse_content_sha256(payload)
    if mode.streaming:
        raise AuthError(
            "InvalidArgument",
            "Presigned requests cannot carry an aws-chunked payload",
            details={"ArgumentName": "X-Amz-Content-Sha256", "ArgumentValue": payload[:256]},
        )

    key = signing_key(cred.secret_key, cred_scope.date, cred_scope.region, cred_scope.service)
    queries = canonical_queries(req, skip=SIGNATURE_PARAM)
    candidates = canonical_requests(req, queries, signed, names, payload)
    provided = params[SIGNATURE_PARAM]
    verify_signature(key, amz_date, cred_scope.scope, candidates, provided, cred.access_key)
    return AuthResult(
        kind=AuthKind.PRESIGNED,
        access_key=cred.access_key,
        payload_mode=mode if mode is PayloadMode.SIGNED else PayloadMode.UNSIGNED,
        payload_sha256=digest,
        signing=SigningContext(key, amz_date, cred_scope.scope, provided.lower()),
    )
