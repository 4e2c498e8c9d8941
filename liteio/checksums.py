"""S3 flexible checksums: the values of ``x-amz-checksum-<algorithm>`` headers.

A registry by S3 name (``CRC32``, ``CRC32C``, ``CRC64NVME``, ``SHA1``,
``SHA256``) hands out streaming hashers. Bytes are hashed by the engine
(``liteio._ext.crc``, without the GIL) or by hashlib, never in Python. S3 sends
a checksum as the base64 of its big-endian bytes::

    CRC32("hello world") = 0x0D4A1185 -> 0d 4a 11 85 -> "DUoRhQ=="

A multipart upload's object checksum takes one of two forms:

- ``FULL_OBJECT`` (CRCs only): the CRC of the whole object, joined from the
  parts' CRCs and sizes without reading the data again: ``"jSnVw/bqjr4="``.
- ``COMPOSITE`` (all but CRC64NVME): the checksum of the parts' raw checksums
  concatenated, suffixed with the part count: ``"<b64>-3"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from liteio._ext import crc as _crc

Buffer: TypeAlias = Any  # any C-contiguous object supporting the buffer protocol

FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"


class ChecksumError(ValueError):
    """An unknown algorithm, a malformed checksum value or a multipart form S3 does not have."""


class Hasher(Protocol):
    algorithm: Algorithm

    def update(self, data: Buffer) -> None: ...
    def digest(self) -> bytes: ...
    def b64(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One S3 checksum algorithm. ``multipart_types[0]`` is S3's default type."""

    name: str
    digest_size: int
    multipart_types: tuple[str, ...]
    crc: Callable[[Buffer, int], int] | None = None
    crc_combine: Callable[[int, int, int], int] | None = None
    hashlib_name: str | None = None

    @property
    def header(self) -> str:
        return "x-amz-checksum-" + self.name.lower()

    def new(self, data: Buffer | None = None) -> Hasher:
        hasher: Hasher
        if self.crc is not None:
            hasher = CrcHasher(self, self.crc)
        else:
            hasher = HashlibHasher(self, hashlib.new(self.hashlib_name or ""))
        if data is not None:
            hasher.update(data)
        return hasher


class CrcHasher:
    """A running CRC; ``length`` counts the bytes so far (for FULL_OBJECT joins)."""

    __slots__ = ("_update", "algorithm", "length", "value")

    def __init__(self, algorithm: Algorithm, update: Callable[[Buffer, int], int]) -> None:
        self.algorithm = algorithm
        self.value = 0
        self.length = 0
        self._update = update

    def update(self, data: Buffer) -> None:
        self.value = self._update(data, self.value)
        self.length += memoryview(data).nbytes

    def digest(self) -> bytes:
        return self.value.to_bytes(self.algorithm.digest_size, "big")

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class HashlibHasher:
    __slots__ = ("_hash", "algorithm")

    def __init__(self, algorithm: Algorithm, hash_object: Any) -> None:
        self.algorithm = algorithm
        self._hash = hash_object

    def update(self, data: Buffer) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return bytes(self._hash.digest())

    def b64(self) -> str:
        return base64.b64encode(self._hash.digest()).decode("ascii")


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("CRC32", 4, (COMPOSITE, FULL_OBJECT), _crc.crc32, _crc.crc32_combine),
        Algorithm("CRC32C", 4, (COMPOSITE, FULL_OBJECT), _crc.crc32c, _crc.crc32c_combine),
        Algorithm("CRC64NVME", 8, (FULL_OBJECT,), _crc.crc64nvme, _crc.crc64nvme_combine),
        Algorithm("SHA1", 20, (COMPOSITE,), hashlib_name="sha1"),
        Algorithm("SHA256", 32, (COMPOSITE,), hashlib_name="sha256"),
    )
}


def algorithm(name: str) -> Algorithm:
    """The algorithm S3 calls ``name`` (any case), or ChecksumError."""
    found = ALGORITHMS.get(name.upper()) if isinstance(name, str) else None
    if found is None:
        known = ", ".join(ALGORITHMS)
        raise ChecksumError(f"unsupported checksum algorithm {name!r} (S3 has {known})")
    return found


def new(name: str, data: Buffer | None = None) -> Hasher:
    """A streaming hasher for the algorithm S3 calls ``name``."""
    return algorithm(name).new(data)


def to_b64(name: str, value: int | bytes) -> str:
    """The header form of a digest, or of a CRC given as an int."""
    alg = algorithm(name)
    if isinstance(value, int):
        try:
            digest = value.to_bytes(alg.digest_size, "big")
        except OverflowError:
            raise ChecksumError(f"{value} does not fit a {alg.name} checksum") from None
    else:
        digest = value
    if len(digest) != alg.digest_size:
        raise ChecksumError(f"a {alg.name} digest is {alg.digest_size} bytes, not {len(digest)}")
    return base64.b64encode(digest).decode("ascii")


def from_b64(name: str, text: str) -> bytes:
    """The raw digest in a header value, checked for base64 and length."""
    alg = algorithm(name)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ChecksumError(f"{alg.header} {text!r} is not base64") from None
    if len(raw) != alg.digest_size:
        raise ChecksumError(
            f"{alg.header} {text!r} is {len(raw)} bytes, a {alg.name} is {alg.digest_size}"
        )
    return raw


def full_object_crc(name: str, parts: Iterable[tuple[int, int]]) -> int:
    """The whole object's CRC from its parts' ``(crc, size)`` pairs, in part order."""
    alg = algorithm(name)
    if alg.crc_combine is None:
        raise ChecksumError(f"{alg.name} has no {FULL_OBJECT} form: only CRCs combine")
    value = 0
    for part_crc, size in parts:
        value = alg.crc_combine(value, part_crc, size)
    return value


def composite_b64(name: str, part_digests: Iterable[bytes]) -> str:
    """S3's COMPOSITE checksum: the checksum of the raw part digests, then ``-<parts>``."""
    alg = algorithm(name)
    if COMPOSITE not in alg.multipart_types:
        raise ChecksumError(f"{alg.name} has no {COMPOSITE} form")
    hasher = alg.new()
    parts = 0
    for digest in part_digests:
        if len(digest) != alg.digest_size:
            raise ChecksumError(
                f"part {parts + 1}: a {alg.name} digest is {alg.digest_size} bytes, "
                f"not {len(digest)}"
            )
        hasher.update(digest)
        parts += 1
    if parts == 0:
        raise ChecksumError("a multipart upload has at least one part")
    return f"{hasher.b64()}-{parts}"
