"""What a verified request hands the front door, and the body reader built from it."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from liteio.s3.auth.chunked import ChunkDecoder, SigningContext
from liteio.s3.auth.payload import PayloadMode, Sha256Verifier


class AuthKind(enum.StrEnum):
    HEADER = "header"  # Authorization: AWS4-HMAC-SHA256 ...
    PRESIGNED = "presigned"  # X-Amz-Algorithm=AWS4-HMAC-SHA256&... in the query
    ANONYMOUS = "anonymous"  # no credentials at all: the caller decides


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A request whose signature checked out (or that carried none: ``anonymous``).

    ``payload_mode`` says what still has to be verified in the body:

    - ``SIGNED``: the body's SHA-256 must equal ``payload_sha256``
      (:meth:`sha256_verifier`);
    - ``UNSIGNED``: nothing;
    - ``STREAMING_*``: the body is ``aws-chunked``; decode it with
      :meth:`chunk_decoder` (signatures, ``decoded_content_length`` and
      trailers are checked there).

    :meth:`body` wraps all of this around an async byte stream.
    """

    kind: AuthKind
    access_key: str | None
    payload_mode: PayloadMode
    payload_sha256: str | None = None
    decoded_content_length: int | None = None
    trailer_names: tuple[str, ...] = ()
    signing: SigningContext | None = None

    @property
    def anonymous(self) -> bool:
        return self.kind is AuthKind.ANONYMOUS

    @property
    def streaming(self) -> bool:
        return self.payload_mode.streaming

    @property
    def signature(self) -> str | None:
        """The request's own signature (the seed of a chunk signature chain)."""
        return None if self.signing is None else self.signing.seed_signature

    def sha256_verifier(self) -> Sha256Verifier | None:
        """A verifier to feed the raw body to (``SIGNED`` mode only, else None)."""
        if self.payload_mode is PayloadMode.SIGNED and self.payload_sha256 is not None:
            return Sha256Verifier(self.payload_sha256)
        return None

    def chunk_decoder(self, **limits: Any) -> ChunkDecoder:
        """A fresh ``aws-chunked`` decoder for this request (streaming modes only)."""
        if not self.payload_mode.streaming or self.decoded_content_length is None:
            raise ValueError(f"{self.payload_mode} bodies are not aws-chunked")
        return ChunkDecoder(
            self.payload_mode,
            self.decoded_content_length,
            signing=self.signing,
            trailer_names=self.trailer_names,
            **limits,
        )

    def body(self, stream: AsyncIterable[Any]) -> BodyReader:
        return BodyReader(self, stream)


class BodyReader:
    """The request body as the client meant it: decoded, and verified as it streams.

    ``async for piece in reader`` yields payload bytes (``bytes`` or memoryview
    slices of the received pieces). Verification failures raise
    :class:`AuthError` from the iteration, at the latest in place of its normal
    end, so a consumer that commits only after a clean end never commits a bad
    body. After the end, ``length`` is the payload size and ``trailers`` the
    trailing headers (``{"x-amz-checksum-crc32": "sOO8/Q=="}``), which the
    caller compares with the checksum it computed.
    """

    __slots__ = ("_stream", "length", "result", "trailers")

    def __init__(self, result: AuthResult, stream: AsyncIterable[Any]) -> None:
        self.result = result
        self.length = 0
        self.trailers: dict[str, str] = {}
        self._stream = stream

    def __aiter__(self) -> AsyncIterator[Any]:
        mode = self.result.payload_mode
        if mode.streaming:
            return self._decode_chunked()
        if mode is PayloadMode.SIGNED:
            return self._verify_sha256()
        return self._passthrough()

    async def _decode_chunked(self) -> AsyncIterator[Any]:
        decoder = self.result.chunk_decoder()
        async for received in self._stream:
            for piece in decoder.feed(received):
                self.length += len(piece)
                yield piece
        decoder.finish()
        self.trailers = decoder.trailers

    async def _verify_sha256(self) -> AsyncIterator[Any]:
        verifier = self.result.sha256_verifier()
        assert verifier is not None
        async for received in self._stream:
            if received:
                verifier.update(received)
                self.length += len(received)
                yield received
        verifier.finish()

    async def _passthrough(self) -> AsyncIterator[Any]:
        async for received in self._stream:
            if received:
                self.length += len(received)
                yield received
