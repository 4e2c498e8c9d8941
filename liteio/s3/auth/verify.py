"""The one entry point: which scheme a request uses, and its verification."""

from __future__ import annotations

from collections.abc import Collection

from liteio.s3.auth import sigv2
from liteio.s3.auth.canonical import ALGORITHM
from liteio.s3.auth.credentials import Credentials
from liteio.s3.auth.errors import AuthError, sigv4a_not_implemented, unsupported_sigv2
from liteio.s3.auth.payload import PayloadMode, parse_content_sha256
from liteio.s3.auth.presign import AUTH_PARAMS, verify_presigned
from liteio.s3.auth.request import AuthRequest
from liteio.s3.auth.result import AuthKind, AuthResult
from liteio.s3.auth.sigv4 import MAX_SKEW, SERVICE, streaming_fields, verify_header_auth

DEFAULT_REGION = "us-east-1"


def verify_request(
    req: AuthRequest,
    creds: Credentials,
    region: str | None = DEFAULT_REGION,
    *,
    service: str = SERVICE,
    max_skew: float = MAX_SKEW,
    domains: Collection[str] = (),
    allow_sigv2: bool = True,
) -> AuthResult:
    """Authenticate ``req``; raise :class:`AuthError` or return what the body still needs.

    ``region=None`` accepts whatever region the client signed for. A request
    with no credentials at all comes back as ``AuthKind.ANONYMOUS``: refusing
    it (or not) is the caller's policy.

    SigV2 (``Authorization: AWS ...``, ``?AWSAccessKeyId=...&Signature=...``)
    is verified unless ``allow_sigv2`` is false; it signs the bucket of a
    virtual-host request, so it needs the ``domains`` (``<bucket>.<domain>``
    hosts) the server answers on. Its results have ``signing=None`` and, unless
    a signed ``x-amz-content-sha256`` header says otherwise, an unsigned body.
    """
    authorization = req.header_map.get("authorization")
    names = req.query_names()
    presigned = not AUTH_PARAMS.isdisjoint(names)
    presigned_v2 = not sigv2.QUERY_AUTH_PARAMS.isdisjoint(names)
    if authorization is not None:
        if presigned or presigned_v2:
            raise only_one_mechanism("Authorization", authorization)
        scheme, space, _ = authorization.strip().partition(" ")
        if scheme == ALGORITHM and space:
            return verify_header_auth(req, creds, region, service=service, max_skew=max_skew)
        if scheme == "AWS4-ECDSA-P256-SHA256":
            raise sigv4a_not_implemented()
        if scheme == sigv2.SCHEME:
            if not allow_sigv2:
                raise unsupported_sigv2()
            return sigv2.verify_header_auth(req, creds, domains=domains, max_skew=max_skew)
        raise AuthError(
            "InvalidArgument",
            "Unsupported Authorization Type",
            details={"ArgumentName": "Authorization", "ArgumentValue": authorization[:256]},
        )
    if presigned and presigned_v2:
        raise only_one_mechanism("Signature", req.query_param(sigv2.SIGNATURE_PARAM) or "")
    if presigned:
        return verify_presigned(req, creds, region, service=service, max_skew=max_skew)
    if presigned_v2:
        if not allow_sigv2:
            raise unsupported_sigv2()
        return sigv2.verify_presigned(req, creds, domains=domains)
    return anonymous(req)


def only_one_mechanism(name: str, value: str) -> AuthError:
    return AuthError(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
        "Signature query string parameter or the Authorization header should be specified",
        details={"ArgumentName": name, "ArgumentValue": value[:256]},
    )


def anonymous(req: AuthRequest) -> AuthResult:
    """An unsigned request; its body may still be a hex-hashed or unsigned aws-chunked one."""
    headers = req.header_map
    declared = headers.get("x-amz-content-sha256")
    if declared is None:
        return AuthResult(
            kind=AuthKind.ANONYMOUS, access_key=None, payload_mode=PayloadMode.UNSIGNED
        )
    mode, digest = parse_content_sha256(declared.strip())
    if mode.chunk_signed:
        # Signed chunks without a signed request: nothing to chain them to.
        raise AuthError("AccessDenied")
    decoded_length, trailers = streaming_fields(mode, headers)
    return AuthResult(
        kind=AuthKind.ANONYMOUS,
        access_key=None,
        payload_mode=mode,
        payload_sha256=digest,
        decoded_content_length=decoded_length,
        trailer_names=trailers,
    )
