"""Hand-built, SigV4-signed HTTP requests (botocore signs; http.client sends as given)."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        if not self.body.startswith(b"<?xml"):
            return None
        node = ET.fromstring(self.body).find("Code")
        return None if node is None else node.text


def signed_headers(server: LiteioServer, method: str, path: str, body: bytes = b"",
                   headers: dict[str, str] | None = None, *, secret: str = SECRET_KEY,
                   access: str = ACCESS_KEY) -> dict[str, str]:
    url = server.endpoint + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(access, secret), "s3", REGION).add_auth(req)
    return dict(req.headers.items())


def send(server: LiteioServer, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None, *, sign: bool = True, timeout: float = 30,
         **sign_args: object) -> Reply:
    all_headers = dict(headers or {})
    if sign:
        all_headers = signed_headers(server, method, path, body, all_headers, **sign_args)  # type: ignore[arg-type]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def key_path(bucket: str, key: str) -> str:
    return f"/{bucket}/{quote(key, safe='/~')}"
