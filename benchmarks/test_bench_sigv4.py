"""SigV4 verification and aws-chunked decoding, beside references measured in the same run.

- Header verification (signing key cached, the steady state): per-request cost
  beside botocore signing the same request (the same canonicalisation and
  HMAC work, done by the client) and beside one bare ``hmac.digest``.
- Decoding a 64 MiB ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` body fed in 64 KiB
  pieces (what Hypercorn hands the app), 64 KiB and 1 MiB chunks, beside
  ``hashlib.sha256`` over the same 64 MiB in the same pieces: the floor, since
  every payload byte must be hashed once. The unsigned-trailer variant (no
  hashing at all) is set beside a plain copy of the body.

Figures are the best of several timed passes, alternated with the references.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from unittest import mock

import numpy as np
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from liteio.s3.auth import (
    AuthRequest,
    ChunkDecoder,
    Credentials,
    PayloadMode,
    SigningContext,
    verify_request,
)
from liteio.s3.auth.canonical import signing_key

MIB = 1 << 20
PIECE = 64 * 1024
ACCESS = "AKIDBENCH00000000000"
SECRET = "bench/secret/key0000000000000000000000"
REGION = "us-east-1"
WHEN = datetime(2024, 3, 1, 12, 30, 45)
NOW = float(calendar.timegm(WHEN.timetuple()))
AMZ_DATE = "20240301T123045Z"
SCOPE = f"20240301/{REGION}/s3/aws4_request"
EMPTY = hashlib.sha256(b"").hexdigest()


def best_seconds(work: Callable[[], object], passes: int = 5) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def best_calls_per_second(work: Callable[[], object], seconds: float = 0.5) -> float:
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < 0.05:
            work()
            calls += 1
        best = max(best, calls / (time.perf_counter() - start))
    return best


# -- header verification --------------------------------------------------------------


def _signed_put() -> tuple[AWSRequest, list[tuple[str, str]]]:
    body = b"x" * 1024
    req = AWSRequest(
        method="PUT",
        url="http://127.0.0.1:9000/bucket/photos/2024/a%20b.jpg?partNumber=3&uploadId=abc123",
        headers={
            "Content-Type": "image/jpeg",
            "Content-Length": str(len(body)),
            "x-amz-meta-owner": "bench",
            "x-amz-storage-class": "STANDARD",
        },
        data=body,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        S3SigV4Auth(BotoCredentials(ACCESS, SECRET), "s3", REGION).add_auth(req)
    headers = [*req.headers.items(), ("Host", "127.0.0.1:9000"), ("User-Agent", "bench")]
    return req, headers


def test_verify_header_request(benchmark) -> None:  # type: ignore[no-untyped-def]
    signed, headers = _signed_put()
    creds = Credentials.single(ACCESS, SECRET)
    path, _, query = signed.url.split("9000", 1)[1].partition("?")
    # A fresh AuthRequest per call: what the front door builds for each request.
    work = lambda: verify_request(AuthRequest("PUT", path, query, headers, now=NOW), creds, REGION)
    work()
    benchmark(work)

    def botocore_sign() -> None:
        req = AWSRequest(method="PUT", url=signed.url, headers=dict(signed.headers), data=b"")
        req.headers["X-Amz-Content-SHA256"] = EMPTY
        S3SigV4Auth(BotoCredentials(ACCESS, SECRET), "s3", REGION).add_auth(req)

    key = signing_key(SECRET, "20240301", REGION, "s3")
    one_hmac = lambda: hmac.digest(key, b"x" * 200, "sha256")
    ours = boto = bare = 0.0
    for _ in range(3):
        boto = max(boto, best_calls_per_second(botocore_sign))
        bare = max(bare, best_calls_per_second(one_hmac))
        ours = max(ours, best_calls_per_second(work))
    info = signing_key.cache_info()
    assert info.hits > info.misses
    benchmark.extra_info.update(
        verify_us=1e6 / ours,
        verifies_per_s=ours,
        botocore_sign_us=1e6 / boto,
        hmac_digest_us=1e6 / bare,
        ratio_vs_botocore_sign=ours / boto,
    )


# -- aws-chunked decoding -------------------------------------------------------------


def _encode_signed(payload: bytes, chunk: int, key: bytes, seed: str) -> bytes:
    """aws-chunked with chunk signatures (the AWS documentation's construction)."""
    head = f"AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{SCOPE}\n"
    frames: list[bytes | memoryview] = []
    previous = seed
    view = memoryview(payload)
    for start in [*range(0, len(payload), chunk), len(payload)]:
        data = view[start : start + chunk]
        text = f"{head}{previous}\n{EMPTY}\n{hashlib.sha256(data).hexdigest()}"
        previous = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        frames.append(f"{len(data):x};chunk-signature={previous}\r\n".encode())
        frames.append(data)
        frames.append(b"\r\n")  # after the data, or the closing empty line after the 0 chunk
    return b"".join(frames)


def _pieces(body: bytes) -> list[bytes]:
    return [body[i : i + PIECE] for i in range(0, len(body), PIECE)]


@pytest.fixture(scope="module")
def payload_64mib() -> bytes:
    return np.random.default_rng(1).bytes(64 * MIB)


@pytest.mark.parametrize("chunk", [64 * 1024, MIB], ids=["64KiB-chunks", "1MiB-chunks"])
def test_decode_signed_chunked_64mib(benchmark, payload_64mib: bytes, chunk: int) -> None:  # type: ignore[no-untyped-def]
    key = signing_key(SECRET, "20240301", REGION, "s3")
    seed = "0" * 64
    pieces = _pieces(_encode_signed(payload_64mib, chunk, key, seed))
    context = SigningContext(key, AMZ_DATE, SCOPE, seed)

    def decode() -> int:
        decoder = ChunkDecoder(PayloadMode.STREAMING_SIGNED, len(payload_64mib), signing=context)
        total = 0
        for piece in pieces:
            for out in decoder.feed(piece):
                total += len(out)
        decoder.finish()
        return total

    def sha256_pieces() -> str:
        h = hashlib.sha256()
        for piece in pieces:
            h.update(piece)
        return h.hexdigest()

    assert decode() == len(payload_64mib)
    benchmark.pedantic(decode, rounds=3, iterations=1)
    ours = ref = 0.0
    for _ in range(5):  # alternate, so machine noise hits both alike
        ref = max(ref, 64 / best_seconds(sha256_pieces, 1))
        ours = max(ours, 64 / best_seconds(decode, 1))
    benchmark.extra_info.update(
        chunk_kib=chunk // 1024,
        decode_mibps=ours,
        sha256_mibps=ref,
        ratio_vs_sha256=ours / ref,
    )


def test_decode_unsigned_trailer_64mib(benchmark, payload_64mib: bytes) -> None:  # type: ignore[no-untyped-def]
    frames = []
    for start in range(0, len(payload_64mib), MIB):
        frames += [f"{MIB:x}\r\n".encode(), payload_64mib[start : start + MIB], b"\r\n"]
    frames.append(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
    pieces = _pieces(b"".join(frames))

    def decode() -> int:
        decoder = ChunkDecoder(
            PayloadMode.STREAMING_UNSIGNED_TRAILER,
            len(payload_64mib),
            trailer_names=["x-amz-checksum-crc32"],
        )
        sink = bytearray(PIECE)
        total = 0
        for piece in pieces:
            for out in decoder.feed(piece):
                sink[: len(out)] = out  # the consumer copies each piece once
                total += len(out)
        decoder.finish()
        return total

    def copy_pieces() -> None:
        sink = bytearray(PIECE)
        for piece in pieces:
            sink[: len(piece)] = piece

    assert decode() == len(payload_64mib)
    benchmark.pedantic(decode, rounds=3, iterations=1)
    ours = ref = 0.0
    for _ in range(5):
        ref = max(ref, 64 / best_seconds(copy_pieces, 1))
        ours = max(ours, 64 / best_seconds(decode, 1))
    benchmark.extra_info.update(decode_mibps=ours, copy_mibps=ref, ratio_vs_copy=ours / ref)
