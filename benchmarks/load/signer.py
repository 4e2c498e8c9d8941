"""SigV4 presigned URLs, made up front so the timed loop does no signing.

The signing key is fixed for a day, so each URL costs one SHA-256 of the
canonical request and one HMAC: cheap enough to presign a whole phase's worth
of requests before it starts. ``check_against_botocore`` proves the output
byte-equal to botocore's ``S3SigV4QueryAuth`` for the same clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
_PLAIN = re.compile(r"[A-Za-z0-9/._~-]*")  # needs no percent-encoding in a path


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode(), "sha256")


def _query_quote(text: str) -> str:
    return quote(text, safe="-_.~")


class Presigner:
    """Presigns path-style S3 requests for one endpoint, clock frozen at construction."""

    __slots__ = (
        "_auth_params",
        "_plain_query",
        "_sts_head",
        "_tail",
        "access",
        "amz_date",
        "expires",
        "host",
        "key",
        "region",
        "scope",
    )

    def __init__(self, access: str, secret: str, host: str, region: str = "us-east-1",
                 expires: int = 3600, now: float | None = None) -> None:
        self.access = access
        self.host = host
        self.region = region
        self.expires = expires
        stamp = time.gmtime(time.time() if now is None else now)
        self.amz_date = time.strftime("%Y%m%dT%H%M%SZ", stamp)
        day = self.amz_date[:8]
        self.scope = f"{day}/{region}/s3/aws4_request"
        key = _hmac(("AWS4" + secret).encode(), day)
        for part in (region, "s3", "aws4_request"):
            key = _hmac(key, part)
        self.key = key
        self._auth_params = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{access}/{self.scope}",
            "X-Amz-Date": self.amz_date,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        # PERF: most requests carry no parameters of their own, so their query and the
        # canonical request's tail are constants; per URL that leaves one hash and one HMAC.
        self._plain_query = self._query({})
        self._tail = f"\n{self._plain_query}\nhost:{host}\n\nhost\n{UNSIGNED}"
        self._sts_head = f"{ALGORITHM}\n{self.amz_date}\n{self.scope}\n"

    def _query(self, params: dict[str, str]) -> str:
        pairs = {**params, **self._auth_params}
        return "&".join(f"{_query_quote(k)}={_query_quote(v)}" for k, v in sorted(pairs.items()))

    def target(self, method: str, path: str, params: dict[str, str] | None = None) -> str:
        """The request target (path and query) of a presigned request; ``path`` is unencoded."""
        uri = path if _PLAIN.fullmatch(path) else quote(path, safe="/~")
        if params:
            query = self._query(params)
            canonical = f"{method}\n{uri}\n{query}\nhost:{self.host}\n\nhost\n{UNSIGNED}"
        else:
            query = self._plain_query
            canonical = method + "\n" + uri + self._tail
        to_sign = self._sts_head + hashlib.sha256(canonical.encode()).hexdigest()
        signature = hmac.digest(self.key, to_sign.encode(), "sha256").hex()
        return f"{uri}?{query}&X-Amz-Signature={signature}"


def check_against_botocore() -> None:
    """Raise if our presigner disagrees with botocore's for the same request and clock."""
    from datetime import datetime
    from unittest import mock
    from urllib.parse import parse_qs, urlsplit

    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    when = datetime(2024, 3, 1, 12, 30, 45)
    now = when.replace(tzinfo=UTC).timestamp()
    ours = Presigner("AKIDCHECK", "check/secret", "127.0.0.1:9000", now=now)
    cases = [("GET", "/bucket/a b/c~d", {}), ("PUT", "/bucket/4KiB/put/c00/0000001", {}),
             ("GET", "/bucket", {"list-type": "2", "max-keys": "1000", "start-after": "obj/0000999"})]
    for method, path, params in cases:
        url = "http://127.0.0.1:9000" + quote(path, safe="/~")
        if params:
            url += "?" + "&".join(f"{k}={_query_quote(v)}" for k, v in params.items())
        req = AWSRequest(method=method, url=url)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            S3SigV4QueryAuth(Credentials("AKIDCHECK", "check/secret"), "s3", "us-east-1",
                             expires=3600).add_auth(req)
        theirs = parse_qs(urlsplit(req.url).query)["X-Amz-Signature"][0]
        mine = parse_qs(urlsplit(ours.target(method, path, params)).query)["X-Amz-Signature"][0]
        if mine != theirs:
            raise AssertionError(f"presigner disagrees with botocore on {method} {path}")
