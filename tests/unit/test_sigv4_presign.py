"""liteio.s3.auth, presigned URLs: AWS's example, botocore-presigned requests, expiry, refusals."""

from __future__ import annotations

import calendar
import hashlib
from datetime import datetime
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from liteio.s3.auth import (
    AuthError,
    AuthKind,
    AuthRequest,
    Credential,
    Credentials,
    PayloadMode,
    verify_request,
)

ACCESS = "AKIDPRESIGN000000000"
SECRET = "presign/secret+key=0000000000000000000"
REGION = "us-east-1"
WHEN = datetime(2024, 3, 1, 12, 30, 45)
T0 = float(calendar.timegm(WHEN.timetuple()))
CREDS = Credentials.single(ACCESS, SECRET)
ENDPOINT = "http://127.0.0.1:9000"

DOC_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
DOC_CREDS = Credentials.single("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
DOC_T0 = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))


def presign(
    method: str,
    url: str,
    *,
    expires: int = 3600,
    headers: dict[str, str] | None = None,
    region: str = REGION,
    access: str = ACCESS,
    secret: str = SECRET,
    token: str | None = None,
    signer: type[SigV4QueryAuth] = S3SigV4QueryAuth,
    body: bytes = b"",
) -> AWSRequest:
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        signer(BotoCredentials(access, secret, token), "s3", region, expires=expires).add_auth(req)
    return req


def received(req: AWSRequest, now: float = T0 + 1, **changes: object) -> AuthRequest:
    """The request as the server gets it: the presigned URL plus the caller's headers."""
    split = urlsplit(req.url)
    headers = [(k, v) for k, v in req.headers.items()] + [("Host", split.netloc)]
    fields: dict[str, object] = {
        "method": req.method,
        "raw_path": split.path,
        "query": split.query,
        "headers": headers,
        "now": now,
    }
    fields.update(changes)
    return AuthRequest(**fields)  # type: ignore[arg-type]


def expect_error(code: str, req: AuthRequest, creds: Credentials = CREDS) -> AuthError:
    with pytest.raises(AuthError) as info:
        verify_request(req, creds, REGION)
    assert info.value.code == code, (info.value.code, info.value.message)
    return info.value


def test_aws_documentation_example() -> None:
    req = AuthRequest(
        "GET", "/test.txt", DOC_QUERY, {"Host": "examplebucket.s3.amazonaws.com"}, now=DOC_T0 + 3600
    )
    result = verify_request(req, DOC_CREDS, REGION)
    assert result.kind is AuthKind.PRESIGNED and result.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert result.payload_mode is PayloadMode.UNSIGNED
    late = AuthRequest(
        "GET",
        "/test.txt",
        DOC_QUERY,
        {"Host": "examplebucket.s3.amazonaws.com"},
        now=DOC_T0 + 86401,
    )
    error = expect_error("AccessDenied", late, DOC_CREDS)
    assert error.message == "Request has expired" and error.status == 403
    assert error.details["Expires"] == "2013-05-25T00:00:00Z"
    assert error.details["X-Amz-Expires"] == "86400"


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
@pytest.mark.parametrize("key", ["plain", "a b/ü+=&%~", "dir/", "!*'()"])
def test_botocore_presigned(method: str, key: str) -> None:
    url = f"{ENDPOINT}/bucket/{quote(key, safe='/~')}"
    result = verify_request(received(presign(method, url)), CREDS, REGION)
    assert result.kind is AuthKind.PRESIGNED and result.access_key == ACCESS
    assert result.payload_mode is PayloadMode.UNSIGNED


@pytest.mark.parametrize(
    "query",
    ["versionId=abc%2Bdef", "uploadId=x&partNumber=3", "response-content-type=text%2Fplain", "acl"],
)
def test_presigned_with_operation_params(query: str) -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/k?{query}")
    assert verify_request(received(req), CREDS, REGION).access_key == ACCESS


def test_virtual_host_presigned() -> None:
    req = presign("GET", "http://bucket.s3.liteio.test/a%20b")
    assert verify_request(received(req), CREDS, REGION).access_key == ACCESS


def test_signed_headers_in_presigned_url() -> None:
    req = presign(
        "PUT",
        f"{ENDPOINT}/bucket/k",
        headers={"x-amz-acl": "private", "Content-Type": "text/plain"},
    )
    assert "content-type%3Bhost%3Bx-amz-acl" in req.url
    assert verify_request(received(req), CREDS, REGION).access_key == ACCESS
    req.headers.replace_header("x-amz-acl", "public-read")
    expect_error("SignatureDoesNotMatch", received(req))


def test_unsigned_amz_header_on_presigned_request() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/k")
    req.headers["x-amz-server-side-encryption"] = "AES256"
    error = expect_error("AccessDenied", received(req))
    assert error.details["HeadersNotSigned"] == "x-amz-server-side-encryption"
    # x-amz-content-sha256 means nothing on a presigned request; it may ride along.
    req = presign("GET", f"{ENDPOINT}/bucket/k")
    req.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    assert verify_request(received(req), CREDS, REGION).access_key == ACCESS


@pytest.mark.parametrize(
    ("expires", "offset", "ok"),
    [
        (1, 0, True),
        (1, 1, True),
        (1, 2, False),
        (3600, 3600, True),
        (3600, 3601, False),
        (604800, 604800, True),
        (604800, 604801, False),
        (0, 0, True),
        (0, 1, False),
    ],
)
def test_expiry(expires: int, offset: int, ok: bool) -> None:
    req = received(presign("GET", f"{ENDPOINT}/bucket/k", expires=expires), now=T0 + offset)
    if ok:
        assert verify_request(req, CREDS, REGION).access_key == ACCESS
    else:
        assert expect_error("AccessDenied", req).message == "Request has expired"


def test_not_yet_valid() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/k")
    assert verify_request(received(req, now=T0 - 14 * 60), CREDS, REGION).access_key == ACCESS
    error = expect_error("AccessDenied", received(req, now=T0 - 16 * 60))
    assert error.message == "Request is not valid yet"


def replace_param(url: str, name: str, value: str) -> str:
    split = urlsplit(url)
    parts = [
        p if not p.startswith(name + "=") else f"{name}={value}" for p in split.query.split("&")
    ]
    return split._replace(query="&".join(parts)).geturl()


@pytest.mark.parametrize(
    ("name", "value", "code", "message"),
    [
        ("X-Amz-Expires", "604801", "AuthorizationQueryParametersError", "less than a week"),
        ("X-Amz-Expires", "-1", "AuthorizationQueryParametersError", "non-negative"),
        ("X-Amz-Expires", "soon", "AuthorizationQueryParametersError", "should be a number"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", "AuthorizationQueryParametersError", "only supports"),
        ("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256", "NotImplemented", ""),
        ("X-Amz-Date", "2024-03-01", "AuthorizationQueryParametersError", "ISO8601"),
        ("X-Amz-Credential", "nope", "AuthorizationQueryParametersError", "mal-formed"),
        (
            "X-Amz-Credential",
            f"{ACCESS}%2F20240301%2Feu-west-1%2Fs3%2Faws4_request",
            "AuthorizationQueryParametersError",
            "the region 'eu-west-1' is wrong",
        ),
        (
            "X-Amz-Credential",
            f"{ACCESS}%2F20240302%2F{REGION}%2Fs3%2Faws4_request",
            "AuthorizationQueryParametersError",
            "Invalid credential date",
        ),
        (
            "X-Amz-Credential",
            f"NOSUCHKEY%2F20240301%2F{REGION}%2Fs3%2Faws4_request",
            "InvalidAccessKeyId",
            "",
        ),
        ("X-Amz-SignedHeaders", "x-amz-date", "AccessDenied", "not signed"),
        ("X-Amz-Signature", "0" * 64, "SignatureDoesNotMatch", ""),
        ("X-Amz-Signature", "\u00e9", "SignatureDoesNotMatch", ""),
        ("X-Amz-Date", "20240301T123046Z", "SignatureDoesNotMatch", ""),
    ],
)
def test_bad_parameters(name: str, value: str, code: str, message: str) -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/k")
    req.url = replace_param(req.url, name, value)
    error = expect_error(code, received(req))
    assert message in error.message
    assert 400 <= error.status < 600


def test_missing_parameter() -> None:
    for name in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ):
        req = presign("GET", f"{ENDPOINT}/bucket/k")
        split = urlsplit(req.url)
        query = "&".join(p for p in split.query.split("&") if not p.startswith(name + "="))
        error = expect_error("AuthorizationQueryParametersError", received(req, query=query))
        assert "requires the X-Amz-Algorithm" in error.message or name == "X-Amz-Algorithm"


def test_tampered_operation_params() -> None:
    req = presign("GET", f"{ENDPOINT}/bucket/k?versionId=1")
    split = urlsplit(req.url)
    expect_error(
        "SignatureDoesNotMatch",
        received(req, query=split.query.replace("versionId=1", "versionId=2")),
    )
    expect_error("SignatureDoesNotMatch", received(req, query=split.query + "&acl"))
    expect_error("SignatureDoesNotMatch", received(req, raw_path="/bucket/other"))
    expect_error("SignatureDoesNotMatch", received(req, method="DELETE"))


def test_region_mismatch_names_the_expected_region() -> None:
    error = expect_error(
        "AuthorizationQueryParametersError",
        received(presign("GET", f"{ENDPOINT}/b/k", region="ap-south-1")),
    )
    assert error.details == {"Region": REGION}


def test_session_token_in_query() -> None:
    creds = Credentials([Credential(ACCESS, SECRET, session_token="sess")])
    req = presign("GET", f"{ENDPOINT}/bucket/k", token="sess")
    assert "X-Amz-Security-Token=sess" in req.url
    assert verify_request(received(req), creds, REGION).access_key == ACCESS
    expect_error("InvalidToken", received(presign("GET", f"{ENDPOINT}/bucket/k")), creds)


def test_content_sha256_parameter() -> None:
    # botocore puts an X-Amz-Content-SHA256 header's value in the canonical request in place
    # of UNSIGNED-PAYLOAD; the same value in the query makes a URL bound to one payload.
    body = b"payload bound to the URL"
    digest = hashlib.sha256(body).hexdigest()
    req = presign(
        "PUT",
        f"{ENDPOINT}/bucket/key?X-Amz-Content-Sha256={digest}",
        headers={"X-Amz-Content-SHA256": digest},
    )
    result = verify_request(received(req), CREDS, REGION)
    assert result.payload_mode is PayloadMode.SIGNED and result.payload_sha256 == digest
    verifier = result.sha256_verifier()
    assert verifier is not None
    verifier.update(b"another payload")
    with pytest.raises(AuthError, match="XAmzContentSHA256Mismatch"):
        verifier.finish()
    # Streaming bodies cannot be presigned.
    req = presign(
        "PUT", f"{ENDPOINT}/bucket/key?X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    )
    expect_error("InvalidArgument", received(req))
