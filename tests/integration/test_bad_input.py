"""Hostile and broken requests get the right S3 error; the server keeps serving and
stored data stays intact."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.support.raw import send, signed_headers
from tests.support.server import LiteioServer


@pytest.fixture(scope="module")
def bucket(server: LiteioServer) -> Iterator[str]:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    assert send(server, "PUT", f"/{name}").status == 200
    assert send(server, "PUT", f"/{name}/keep", b"precious").status == 200
    yield name


def still_serving(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "GET", f"/{bucket}/keep")
    assert reply.status == 200 and reply.body == b"precious"


def test_anonymous_is_refused(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "GET", f"/{bucket}/keep", sign=False)
    assert reply.status == 403 and reply.code == "AccessDenied"
    assert b"<RequestId>" in reply.body and reply.headers["x-amz-request-id"]


def test_wrong_secret_and_unknown_key(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "GET", f"/{bucket}/keep", secret="not-the-secret")
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")
    reply = send(server, "GET", f"/{bucket}/keep", access="nobody")
    assert (reply.status, reply.code) == (403, "InvalidAccessKeyId")


def test_tampered_request(server: LiteioServer, bucket: str) -> None:
    headers = signed_headers(server, "GET", f"/{bucket}/keep")
    reply = send(server, "GET", f"/{bucket}/other", headers=headers, sign=False)
    assert reply.code == "SignatureDoesNotMatch"


def test_payload_hash_mismatch_stores_nothing(server: LiteioServer, bucket: str) -> None:
    # Signed for one body, sent with another of the same length.
    headers = signed_headers(server, "PUT", f"/{bucket}/mismatch", b"signed body")
    reply = send(server, "PUT", f"/{bucket}/mismatch", b"actual body", headers, sign=False)
    assert (reply.status, reply.code) == (400, "XAmzContentSHA256Mismatch")
    assert send(server, "HEAD", f"/{bucket}/mismatch").status == 404


def test_bad_content_md5(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "PUT", f"/{bucket}/md5", b"body", {"Content-MD5": "not base64!"})
    assert reply.code == "InvalidDigest"
    import base64

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    reply = send(server, "PUT", f"/{bucket}/md5", b"body", {"Content-MD5": wrong})
    assert reply.code == "BadDigest"
    assert send(server, "HEAD", f"/{bucket}/md5").status == 404


@pytest.mark.parametrize(
    "body",
    [b"<VersioningConfiguration><Status>Enabled</Status>",  # truncated
     b"not xml at all",
     b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><VersioningConfiguration>&a;</VersioningConfiguration>',
     b"<Wrong><Status>Enabled</Status></Wrong>"],
)
def test_malformed_xml(server: LiteioServer, bucket: str, body: bytes) -> None:
    reply = send(server, "PUT", f"/{bucket}?versioning", body)
    assert (reply.status, reply.code) == (400, "MalformedXML")


def test_invalid_names(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "PUT", "/UPPER_case")
    assert reply.code == "InvalidBucketName"
    reply = send(server, "PUT", f"/{bucket}/{'k' * 1025}", b"x")
    assert reply.code == "KeyTooLongError"
    reply = send(server, "PUT", f"/{bucket}/a/%2E%2E/b", b"x")
    assert reply.status == 400 and reply.code == "XLiteioInvalidObjectName"
    still_serving(server, bucket)


def test_unimplemented_subresource(server: LiteioServer, bucket: str) -> None:
    reply = send(server, "GET", f"/{bucket}?lifecycle")
    assert (reply.status, reply.code) == (501, "NotImplemented")
    reply = send(server, "PATCH", f"/{bucket}/keep")
    assert reply.status in (405, 501) and reply.code in ("MethodNotAllowed", "NotImplemented")


def test_metadata_limits(server: LiteioServer, bucket: str) -> None:
    big = {"x-amz-meta-big": "v" * 3000}
    reply = send(server, "PUT", f"/{bucket}/meta", b"x", big)
    assert reply.code == "MetadataTooLarge"
    # Large but legal header sections work (Hypercorn's default limit is raised).
    many = {f"x-amz-meta-k{i}": "v" * 30 for i in range(50)}
    assert send(server, "PUT", f"/{bucket}/meta", b"x", many).status == 200
    reply = send(server, "HEAD", f"/{bucket}/meta")
    assert reply.headers["x-amz-meta-k49"] == "v" * 30


def test_huge_header_section_is_refused_cleanly(server: LiteioServer, bucket: str) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /" + bucket.encode() + b"/keep HTTP/1.1\r\nHost: x\r\nX-Pad: "
                     + b"a" * (200 * 1024) + b"\r\n\r\n")
        try:
            answer = sock.recv(200)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200") and b" 500 " not in answer
    still_serving(server, bucket)


def test_truncated_upload_leaves_nothing(server: LiteioServer, bucket: str) -> None:
    body = os.urandom(3 << 20)
    headers = signed_headers(server, "PUT", f"/{bucket}/truncated", body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = f"PUT /{bucket}/truncated HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body[: len(body) // 2])
    # The server notices the hang-up; poll until it has (never sleep for luck).
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if send(server, "HEAD", f"/{bucket}/truncated").status == 404:
            break
    assert send(server, "HEAD", f"/{bucket}/truncated").status == 404
    still_serving(server, bucket)


def test_client_hangs_up_mid_download(server: LiteioServer, bucket: str) -> None:
    data = os.urandom(8 << 20)
    assert send(server, "PUT", f"/{bucket}/big", data).status == 200
    headers = signed_headers(server, "GET", f"/{bucket}/big")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"GET /{bucket}/big HTTP/1.1\r\n".encode() + "".join(
                f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")
            sock.recv(65536)
    reply = send(server, "GET", f"/{bucket}/big")
    assert reply.status == 200 and reply.body == data
    still_serving(server, bucket)


def test_odd_ranges_serve_the_whole_object(server: LiteioServer, bucket: str) -> None:
    for value in ("bytes=abc", "bytes=1-2,4-5", "items=0-1"):
        reply = send(server, "GET", f"/{bucket}/keep", headers={"Range": value})
        assert reply.status == 200 and reply.body == b"precious"
