"""liteio.checksums: S3 header values, streaming, FULL_OBJECT and COMPOSITE forms."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio import checksums
from liteio._ext import crc

# Header values for b"", b"hello" and b"hello world". The CRC64NVME ones match
# what AWS S3 returned for those bodies ("M3eFcAZSQlc=" in a recorded PutObject
# response; "jSnVw/bqjr4=" in aws-cli output and the AWS Go SDK's checksum
# tests); CRC32 "DUoRhQ==" and CRC32C "yZRlqg==" are the well-known values.
KNOWN = {
    "CRC32": ("AAAAAA==", "NhCmhg==", "DUoRhQ=="),
    "CRC32C": ("AAAAAA==", "mnG7TA==", "yZRlqg=="),
    "CRC64NVME": ("AAAAAAAAAAA=", "M3eFcAZSQlc=", "jSnVw/bqjr4="),
    "SHA1": (
        "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
        "qvTGHdzF6KLavt4PO0gs2a6pQ00=",
        "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
    ),
    "SHA256": (
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
        "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
    ),
}
CRCS = ["CRC32", "CRC32C", "CRC64NVME"]


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_header_values(name: str) -> None:
    for body, expected in zip((b"", b"hello", b"hello world"), KNOWN[name]):
        hasher = checksums.new(name, body)
        assert hasher.b64() == expected
        assert hasher.digest() == base64.b64decode(expected)
        assert len(hasher.digest()) == checksums.algorithm(name).digest_size


def test_crc_digest_is_big_endian() -> None:
    hasher = checksums.new("CRC32", b"hello world")
    assert hasher.digest() == bytes.fromhex("0d4a1185")
    assert checksums.new("CRC64NVME", b"123456789").digest() == bytes.fromhex("ae8b14860a799888")


def test_registry() -> None:
    assert list(checksums.ALGORITHMS) == ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
    assert checksums.algorithm("crc64nvme").name == "CRC64NVME"
    assert checksums.algorithm("CRC32C").header == "x-amz-checksum-crc32c"
    for bad in ("MD5", "", "CRC64", None):
        with pytest.raises(checksums.ChecksumError, match="unsupported checksum algorithm"):
            checksums.algorithm(bad)  # type: ignore[arg-type]
    assert isinstance(checksums.ChecksumError("x"), ValueError)


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(0, 5000), max_size=5))
def test_streaming_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    for name in checksums.ALGORITHMS:
        hasher = checksums.new(name)
        for lo, hi in itertools.pairwise(bounds):
            hasher.update(memoryview(data)[lo:hi])
        assert hasher.digest() == checksums.new(name, data).digest()


def test_crc_hasher_counts_bytes() -> None:
    hasher = checksums.new("CRC32C")
    hasher.update(b"abc")
    hasher.update(bytearray(10))
    hasher.update(memoryview(bytes(4096)).cast("I"))
    assert isinstance(hasher, checksums.CrcHasher)
    assert hasher.length == 3 + 10 + 4096


def test_b64_round_trip_and_validation() -> None:
    assert checksums.to_b64("CRC32", 0x0D4A1185) == "DUoRhQ=="
    assert checksums.from_b64("CRC32", "DUoRhQ==") == bytes.fromhex("0d4a1185")
    raw = hashlib.sha256(b"x").digest()
    assert checksums.from_b64("SHA256", checksums.to_b64("SHA256", raw)) == raw
    with pytest.raises(checksums.ChecksumError, match="not base64"):
        checksums.from_b64("CRC32", "DUoRhQ=!")
    with pytest.raises(checksums.ChecksumError, match="is 8 bytes, a CRC32 is 4"):
        checksums.from_b64("CRC32", "AAAAAAAAAAA=")
    with pytest.raises(checksums.ChecksumError, match="does not fit"):
        checksums.to_b64("CRC32", 2**32)
    with pytest.raises(checksums.ChecksumError, match="does not fit"):
        checksums.to_b64("CRC32", -1)
    with pytest.raises(checksums.ChecksumError, match="20 bytes, not 3"):
        checksums.to_b64("SHA1", b"abc")


# --- multipart ------------------------------------------------------------------------


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    parts, at = [], 0
    for size in sizes:
        parts.append(data[at : at + size])
        at += size
    parts.append(data[at:])
    return parts


@pytest.mark.parametrize("name", CRCS)
def test_full_object_is_crc_of_whole_object(name: str) -> None:
    data = os.urandom(3 * (1 << 20) + 12345)
    parts = split(data, [1 << 20, 1 << 20, 5])
    pairs = [(int.from_bytes(checksums.new(name, p).digest(), "big"), len(p)) for p in parts]
    whole = checksums.full_object_crc(name, pairs)
    assert checksums.to_b64(name, whole) == checksums.new(name, data).b64()


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=4000),
    sizes=st.lists(st.integers(0, 1500), max_size=6),
    name=st.sampled_from(CRCS),
)
def test_full_object_hypothesis(data: bytes, sizes: list[int], name: str) -> None:
    parts = split(data, sizes)
    pairs = []
    for part in parts:
        hasher = checksums.new(name, part)
        assert isinstance(hasher, checksums.CrcHasher)
        pairs.append((hasher.value, hasher.length))
    whole = checksums.full_object_crc(name, pairs)
    assert checksums.to_b64(name, whole) == checksums.new(name, data).b64()


def test_full_object_known_value() -> None:
    # "hello" + " " + "world" uploaded as three parts has the single-PUT checksum.
    pairs = [(crc.crc64nvme(p), len(p)) for p in (b"hello", b" ", b"world")]
    assert checksums.to_b64("CRC64NVME", checksums.full_object_crc("CRC64NVME", pairs)) == (
        "jSnVw/bqjr4="
    )


@pytest.mark.parametrize("name", ["SHA1", "SHA256"])
def test_full_object_refused_for_sha(name: str) -> None:
    with pytest.raises(checksums.ChecksumError, match="no FULL_OBJECT form"):
        checksums.full_object_crc(name, [(0, 1)])


@pytest.mark.parametrize("name", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_is_checksum_of_part_digests(name: str) -> None:
    parts = [b"part one", b"part two!", b"3"]
    digests = [checksums.new(name, p).digest() for p in parts]
    expected = checksums.new(name, b"".join(digests)).b64() + "-3"
    assert checksums.composite_b64(name, digests) == expected


def test_composite_known_values() -> None:
    # Independent of the registry: the S3 recipe spelled out with hashlib and zlib.
    parts = [b"hello", b" ", b"world"]
    sha = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert checksums.composite_b64("SHA256", [hashlib.sha256(p).digest() for p in parts]) == (
        base64.b64encode(sha).decode() + "-3"
    )
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-3"
    digests = [checksums.new("CRC32", p).digest() for p in parts]
    assert checksums.composite_b64("CRC32", digests) == expected


def test_composite_errors() -> None:
    with pytest.raises(checksums.ChecksumError, match="CRC64NVME has no COMPOSITE form"):
        checksums.composite_b64("CRC64NVME", [bytes(8)])
    with pytest.raises(checksums.ChecksumError, match="at least one part"):
        checksums.composite_b64("CRC32", [])
    with pytest.raises(checksums.ChecksumError, match="part 2: a CRC32C digest is 4 bytes"):
        checksums.composite_b64("CRC32C", [bytes(4), bytes(8)])


def test_multipart_types_and_defaults() -> None:
    types = {name: a.multipart_types for name, a in checksums.ALGORITHMS.items()}
    assert types["CRC64NVME"] == (checksums.FULL_OBJECT,)
    assert types["CRC32"][0] == checksums.COMPOSITE and checksums.FULL_OBJECT in types["CRC32"]
    assert types["SHA256"] == (checksums.COMPOSITE,)
