"""Virtual-host style addressing: <bucket>.<domain> names the bucket (SigV4 and SigV2)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.raw import Reply, send
from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer

DOMAIN = "s3.liteio.test"


@pytest.fixture(scope="module")
def vhost_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteioServer]:
    root: Path = tmp_path_factory.mktemp("vhost")
    with LiteioServer(root, extra_args=["--domain", DOMAIN]) as running:
        yield running


def vhost_request(server: LiteioServer, method: str, bucket: str, path: str,
                  body: bytes = b"", v2: bool = False) -> Reply:
    host = f"{bucket}.{DOMAIN}:{server.port}"
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body)
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    if v2:
        req.auth_path = f"/{bucket}{path}"  # what botocore's S3 client sets for V2 signing
        HmacV1Auth(creds).add_auth(req)
    else:
        S3SigV4Auth(creds, "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = dict(req.headers.items())
        headers["Host"] = host
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def test_virtual_host_addressing(vhost_server: LiteioServer) -> None:
    assert vhost_request(vhost_server, "PUT", "vhost-bucket", "/").status == 200
    assert vhost_request(vhost_server, "PUT", "vhost-bucket", "/dir/obj.txt", b"hello").status == 200
    got = vhost_request(vhost_server, "GET", "vhost-bucket", "/dir/obj.txt")
    assert got.status == 200 and got.body == b"hello"
    # The same object is reachable path-style, so both styles address one namespace.
    assert send(vhost_server, "GET", "/vhost-bucket/dir/obj.txt").body == b"hello"
    listing = vhost_request(vhost_server, "GET", "vhost-bucket", "/?list-type=2")
    assert listing.status == 200 and b"<Key>dir/obj.txt</Key>" in listing.body
    v2 = vhost_request(vhost_server, "GET", "vhost-bucket", "/dir/obj.txt", v2=True)
    assert v2.status == 200 and v2.body == b"hello"
    missing = vhost_request(vhost_server, "GET", "no-such-bucket", "/x")
    assert (missing.status, missing.code) == (404, "NoSuchBucket")
