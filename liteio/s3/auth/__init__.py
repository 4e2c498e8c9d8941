"""AWS Signature Version 4 for S3: header, presigned and streaming (aws-chunked) bodies.

Also the legacy Signature Version 2 (``Authorization: AWS key:signature`` and
``?AWSAccessKeyId=...&Expires=...&Signature=...``), see :mod:`.sigv2`.

A pure library over plain values (no web framework), so the front door stays
thin. Per request::

    req = AuthRequest(method, raw_path, query_string, headers)
    result = verify_request(req, credentials, region,   # raises AuthError
                            domains=virtual_host_domains)
    if result.anonymous: ...                            # the caller's policy
    reader = result.body(receive_stream)                 # any async bytes iterable
    async for piece in reader:                           # decoded, verified as it goes
        ...
    # only now commit; reader.trailers holds the x-amz-checksum-* trailers
"""

from liteio.s3.auth.chunked import ChunkDecoder, SigningContext, strip_aws_chunked
from liteio.s3.auth.credentials import Credential, Credentials
from liteio.s3.auth.errors import CATALOGUE, AuthError
from liteio.s3.auth.payload import PayloadMode, Sha256Verifier
from liteio.s3.auth.request import AuthRequest, Headers
from liteio.s3.auth.result import AuthKind, AuthResult, BodyReader
from liteio.s3.auth.verify import DEFAULT_REGION, verify_request

__all__ = [
    "CATALOGUE",
    "DEFAULT_REGION",
    "AuthError",
    "AuthKind",
    "AuthRequest",
    "AuthResult",
    "BodyReader",
    "ChunkDecoder",
    "Credential",
    "Credentials",
    "Headers",
    "PayloadMode",
    "Sha256Verifier",
    "SigningContext",
    "strip_aws_chunked",
    "verify_request",
]
