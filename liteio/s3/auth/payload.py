"""Payload modes (what ``x-amz-content-sha256`` announces) and the signed-body check."""

from __future__ import annotations

import enum
import hashlib
import re
from typing import Any

from liteio.s3.auth.errors import AuthError, sigv4a_not_implemented

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

# The checksum trailers S3 accepts in ``x-amz-trailer``.
TRAILER_NAMES = frozenset(
    "x-amz-checksum-" + name for name in ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
)


class PayloadMode(enum.StrEnum):
    """How the body is protected; values are the ``x-amz-content-sha256`` literals.

    ``SIGNED`` stands for a hex SHA-256 of the whole body (the value itself is
    in ``AuthResult.payload_sha256``).
    """

    SIGNED = "SIGNED"
    UNSIGNED = "UNSIGNED-PAYLOAD"
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    @property
    def streaming(self) -> bool:
        """The body is ``aws-chunked`` and must go through a ``ChunkDecoder``."""
        return self.value.startswith("STREAMING-")

    @property
    def chunk_signed(self) -> bool:
        return self.value.startswith("STREAMING-AWS4-HMAC-SHA256-")

    @property
    def has_trailer(self) -> bool:
        return self.value.endswith("-TRAILER")


_LITERALS = {m.value: m for m in PayloadMode if m is not PayloadMode.SIGNED}


def parse_content_sha256(value: str) -> tuple[PayloadMode, str | None]:
    """``x-amz-content-sha256`` -> (mode, lowercase hex digest or None).

    Unknown values are S3's ``InvalidArgument``; the SigV4A (ECDSA) streaming
    literals are ``NotImplemented``.
    """
    mode = _LITERALS.get(value)
    if mode is not None:
        return mode, None
    if _HEX64.fullmatch(value):
        return PayloadMode.SIGNED, value.lower()
    if value.startswith("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"):
        raise sigv4a_not_implemented()
    raise AuthError(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "or a valid sha256 value.",
        details={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value[:256]},
    )


def parse_trailer_header(value: str | None) -> tuple[str, ...]:
    """``x-amz-trailer`` -> the lowercase trailer names it declares (checksums only)."""
    if value is None:
        return ()
    names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
    if not names or any(n not in TRAILER_NAMES for n in names) or len(set(names)) != len(names):
        raise AuthError(
            "InvalidRequest", "The value specified in the x-amz-trailer header is not supported"
        )
    return names


class Sha256Verifier:
    """Checks a body against the hex SHA-256 the client signed.

    Feed every body byte to :meth:`update`; :meth:`finish` raises
    ``XAmzContentSHA256Mismatch`` on a difference. Nothing may be committed
    before ``finish`` returns.
    """

    __slots__ = ("_hash", "expected", "length")

    def __init__(self, expected_hex: str) -> None:
        self.expected = expected_hex.lower()
        self.length = 0
        self._hash = hashlib.sha256()

    def update(self, data: Any) -> None:
        # PERF: hashlib drops the GIL for inputs over 2 KiB.
        self._hash.update(data)
        self.length += len(data)

    def finish(self) -> None:
        computed = self._hash.hexdigest()
        if computed != self.expected:
            raise AuthError(
                "XAmzContentSHA256Mismatch",
                details={
                    "ClientComputedContentSHA256": self.expected,
                    "S3ComputedContentSHA256": computed,
                },
            )
