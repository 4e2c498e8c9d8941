"""liteio.admin: the client's SigV4 signer (AWS's published examples, botocore, the
server's verifier) and the CLI's output and exit codes."""

from __future__ import annotations

import argparse
import calendar
import hashlib
import io
import json
from datetime import datetime
from typing import Any
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from liteio.admin.cli import EXIT_DAMAGE, EXIT_ERROR, EXIT_OK, UsageError, client_from, show_heal
from liteio.admin.client import AdminClient, AdminError, _error, sign_request
from liteio.s3.auth import AuthError, AuthKind, AuthRequest, Credentials, verify_request

DOC_ACCESS = "AKIAIOSFODNN7EXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_HOST = "examplebucket.s3.amazonaws.com"
DOC_NOW = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))
EMPTY = hashlib.sha256(b"").hexdigest()

ACCESS = "admin-access"
SECRET = "admin/secret+key=odd"
WHEN = datetime(2024, 3, 1, 12, 30, 45)
NOW = float(calendar.timegm(WHEN.timetuple()))


def signature_of(authorization: str) -> str:
    return authorization.rsplit("Signature=", 1)[1]


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "payload", "signed", "signature"),
    [
        ("GET", "/test.txt", [], {"Range": "bytes=0-9"}, EMPTY,
         "host;range;x-amz-content-sha256;x-amz-date",
         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ("PUT", "/test$file.text", [],
         {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
         hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
         "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        ("GET", "/", [("lifecycle", "")], {}, EMPTY,
         "host;x-amz-content-sha256;x-amz-date",
         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ("GET", "/", [("prefix", "J"), ("max-keys", "2")], {}, EMPTY,
         "host;x-amz-content-sha256;x-amz-date",
         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ],
    ids=["get-object", "put-object", "get-lifecycle", "list-objects"],
)
def test_aws_documentation_examples(method: str, path: str, query: list[tuple[str, str]],
                                    headers: dict[str, str], payload: str, signed: str,
                                    signature: str) -> None:
    req = sign_request(method, DOC_HOST, path, query, headers, access_key=DOC_ACCESS,
                       secret_key=DOC_SECRET, region="us-east-1", payload_hash=payload,
                       now=DOC_NOW)
    auth = req.headers["Authorization"]
    assert auth.startswith(
        f"AWS4-HMAC-SHA256 Credential={DOC_ACCESS}/20130524/us-east-1/s3/aws4_request, "
        f"SignedHeaders={signed}, ")
    assert signature_of(auth) == signature
    assert req.headers["X-Amz-Date"] == "20130524T000000Z"


@pytest.mark.parametrize(("path", "query"), [
    ("/_liteio/admin/v1/heal", [("bucket", "photos"), ("prefix", "2024/raw files/"),
                                ("deep", "true"), ("dry-run", "true")]),
    ("/_liteio/admin/v1/heal", [("bucket", "b-1"), ("prefix", "ünïcødé/文件 +&=%~")]),
    ("/_liteio/admin/v1/heal/status", []),
])
def test_agrees_with_botocore(path: str, query: list[tuple[str, str]]) -> None:
    req = sign_request("POST", "127.0.0.1:9000", path, query, access_key=ACCESS,
                       secret_key=SECRET, region="eu-west-1", now=NOW)
    # botocore signs the URL exactly as we send it, at the same instant.
    boto = AWSRequest(method="POST", url=f"http://127.0.0.1:9000{req.target}", data=b"")
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        S3SigV4Auth(BotoCredentials(ACCESS, SECRET), "s3", "eu-west-1").add_auth(boto)
    assert boto.headers["Authorization"] == req.headers["Authorization"]


@pytest.mark.parametrize("prefix", ["", "plain/", "a b+c&d=e%f~g", "ünïcødé/文件", "dir//x"])
def test_the_server_verifier_accepts_it(prefix: str) -> None:
    query = [("bucket", "photos")] + ([("prefix", prefix)] if prefix else [])
    req = sign_request("POST", "127.0.0.1:9000", "/_liteio/admin/v1/heal", query,
                       access_key=ACCESS, secret_key=SECRET, region="us-east-1", now=NOW)
    path, _, qs = req.target.partition("?")
    creds = Credentials.single(ACCESS, SECRET)
    result = verify_request(AuthRequest("POST", path, qs, req.headers, now=NOW), creds)
    assert result.kind is AuthKind.HEADER and result.access_key == ACCESS
    wrong = Credentials.single(ACCESS, SECRET + "x")
    with pytest.raises(AuthError) as info:
        verify_request(AuthRequest("POST", path, qs, req.headers, now=NOW), wrong)
    assert info.value.code == "SignatureDoesNotMatch"


def test_error_documents_are_parsed() -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
            b"<Message>The specified bucket does not exist</Message></Error>")
    err = _error(404, "Not Found", body)
    assert isinstance(err, AdminError)
    assert (err.status, err.code, err.message) == (404, "NoSuchBucket",
                                                   "The specified bucket does not exist")
    assert _error(502, "Bad Gateway", b"<html>").code == "HTTP502"


# -- the command line -------------------------------------------------------------------


def args(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"endpoint": None, "access_key": None, "secret_key": None,
                                 "region": None, **kw})


def test_credentials_and_endpoint_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LITEIO_ENDPOINT", "LITEIO_ACCESS_KEY", "LITEIO_SECRET_KEY", "LITEIO_REGION",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError):
        client_from(args())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "aws-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    client = client_from(args())
    assert (client.endpoint, client.access_key, client.secret_key, client.region) == (
        "http://127.0.0.1:9000", "aws-key", "aws-secret", "us-east-1")
    monkeypatch.setenv("LITEIO_ACCESS_KEY", "lite-key")
    monkeypatch.setenv("LITEIO_SECRET_KEY", "lite-secret")
    monkeypatch.setenv("LITEIO_ENDPOINT", "http://10.0.0.1:9100")
    monkeypatch.setenv("LITEIO_REGION", "eu-west-1")
    client = client_from(args())
    assert (client.endpoint, client.access_key, client.region) == (
        "http://10.0.0.1:9100", "lite-key", "eu-west-1")
    client = client_from(args(endpoint="http://h:1", access_key="k", secret_key="s",
                              region="r"))
    assert (client.endpoint, client.access_key, client.secret_key, client.region) == (
        "http://h:1", "k", "s", "r")


def test_a_bad_endpoint_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        AdminClient("ftp://x", "k", "s").open("GET", "heal/status")


def summary(**kw: Any) -> dict[str, Any]:
    return {"type": "summary", "scanned": 3, "healed": 0, "damaged": 0, "failed": 0,
            "unrecoverable": 0, "bytes_rebuilt": 0, "seconds": 0.5, "dry_run": False,
            "deep": False, "bucket": "", "prefix": "", "stopped": False, "error": None, **kw}


def obj(key: str, state: str, **kw: Any) -> dict[str, Any]:
    return {"type": "object", "bucket": "b", "key": key, "state": state, "damaged_drives": [1],
            "bytes_rebuilt": 0, "unrecoverable_versions": [], "errors": [], **kw}


def run_show(lines: list[dict[str, Any]], json_out: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = show_heal(iter(lines), json_out=json_out, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_exit_codes() -> None:
    assert run_show([summary()])[0] == EXIT_OK
    assert run_show([obj("a", "healed", bytes_rebuilt=2048), summary(healed=1)])[0] == EXIT_OK
    assert run_show([obj("a", "damaged"), summary(damaged=1, dry_run=True)])[0] == EXIT_OK
    assert run_show([obj("a", "failed", errors=["boom"]), summary(failed=1)])[0] == EXIT_DAMAGE
    assert run_show([obj("a", "unrecoverable"), summary(unrecoverable=1)])[0] == EXIT_DAMAGE
    assert run_show([obj("a", "healed")])[0] == EXIT_ERROR  # cut short: no summary
    assert run_show([summary(error="InsufficientReadQuorum: x")])[0] == EXIT_ERROR


def test_human_output_names_objects_and_sums_up() -> None:
    lines = [
        {"type": "progress", "scanned": 1, "healed": 0, "failed": 0, "bucket": "b", "key": "a"},
        obj("a", "healed", bytes_rebuilt=3 << 20),
        obj("lost", "unrecoverable", unrecoverable_versions=["v1"], errors=["too few shards"]),
        summary(healed=1, unrecoverable=1, bytes_rebuilt=3 << 20),
    ]
    code, out, err = run_show(lines)
    assert code == EXIT_DAMAGE
    assert "healed        b/a  drives 1  rebuilt 3.0 MiB" in out
    assert "unrecoverable b/lost" in out and "too few shards" in out
    assert "unrecoverable           1: b/lost" in out
    assert "objects scanned         3" in out and "bytes rebuilt           3.0 MiB" in out
    assert "scanned 1" not in out + err  # progress is only drawn on a terminal


def test_json_output_is_the_lines_as_received() -> None:
    lines = [obj("a", "healed"), {"type": "progress", "scanned": 1}, summary(healed=1)]
    code, out, _ = run_show(lines, json_out=True)
    assert code == EXIT_OK
    assert [json.loads(x) for x in out.splitlines()] == lines
