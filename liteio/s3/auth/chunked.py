"""Incremental (sans-IO) decoder of ``aws-chunked`` request bodies.

Signed chunks (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]``)::

    10000;chunk-signature=ad80c730...\\r\\n   <- hex size ; signature of this chunk
    <65536 bytes>\\r\\n
    400;chunk-signature=0055627c...\\r\\n
    <1024 bytes>\\r\\n
    0;chunk-signature=b6c6ea8a...\\r\\n       <- the final, empty chunk
    x-amz-checksum-crc32:sOO8/Q==\\r\\n        <- trailers (``-TRAILER`` modes only)
    x-amz-trailer-signature:63bddb24...\\r\\n
    \\r\\n

Unsigned chunks (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``) are the same without
``;chunk-signature=...`` and without ``x-amz-trailer-signature``.

Each chunk signature chains on the previous one (the first on the seed, i.e.
the request's own signature)::

    AWS4-HMAC-SHA256-PAYLOAD\\n<amz date>\\n<scope>\\n<previous signature>\\n
    <sha256 of "">\\n<sha256 of the chunk data>

and the trailer signature on the final chunk's::

    AWS4-HMAC-SHA256-TRAILER\\n<amz date>\\n<scope>\\n<previous signature>\\n
    <sha256 of "name:value\\n" for each trailer, in order>

Memory stays bounded whatever the client sends: chunk data is never buffered
(``feed`` returns memoryview slices of its input), and only a header or
trailer line, at most ``max_line`` bytes, is ever held between calls.
Bytes returned by ``feed`` are authenticated when their chunk ends and the
stream is complete only when :meth:`ChunkDecoder.finish` returns: the caller
must not commit anything before that.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from liteio.s3.auth.canonical import EMPTY_SHA256, sha256_hex
from liteio.s3.auth.errors import AuthError, incomplete_body, malformed_trailer
from liteio.s3.auth.payload import PayloadMode

MIN_CHUNK_SIZE = 8192
MAX_LINE = 4096
MAX_TRAILER_BYTES = 16 * 1024
TRAILER_SIGNATURE = "x-amz-trailer-signature"

_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIG_PREFIX = b"chunk-signature="

# decoder states
_HEADER, _DATA, _DATA_CRLF, _TRAILER, _DONE = range(5)


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What chunk signatures are computed from: the request's key, date, scope and signature."""

    key: bytes = field(repr=False)
    amz_date: str
    scope: str
    seed_signature: str


def _signature_mismatch(what: str) -> AuthError:
    return AuthError(
        "SignatureDoesNotMatch",
        f"The {what} signature we calculated does not match the signature you provided.",
    )


class ChunkDecoder:
    """Feed raw body bytes in any fragmentation; get the decoded payload back."""

    __slots__ = (
        "_crlf_seen",
        "_expected_sig",
        "_expected_trailers",
        "_hash",
        "_key",
        "_last_size",
        "_line",
        "_max_line",
        "_min_chunk",
        "_prev_sig",
        "_remaining",
        "_signed",
        "_state",
        "_sts_chunk",
        "_sts_trailer",
        "_trailer_bytes",
        "_trailer_canon",
        "_trailer_sig",
        "chunks",
        "declared_length",
        "decoded_length",
        "mode",
        "trailers",
    )

    def __init__(
        self,
        mode: PayloadMode,
        declared_length: int,
        *,
        signing: SigningContext | None = None,
        trailer_names: Iterable[str] = (),
        min_chunk_size: int | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        if not mode.streaming:
            raise ValueError(f"{mode} is not an aws-chunked payload mode")
        self.mode = mode
        self.declared_length = declared_length
        self.decoded_length = 0
        self.chunks = 0
        self.trailers: dict[str, str] = {}
        self._signed = mode.chunk_signed
        if self._signed:
            if signing is None:
                raise ValueError("signed chunks need a SigningContext")
            head = f"\n{signing.amz_date}\n{signing.scope}\n".encode("ascii")
            self._key = signing.key
            self._sts_chunk = b"AWS4-HMAC-SHA256-PAYLOAD" + head
            self._sts_trailer = b"AWS4-HMAC-SHA256-TRAILER" + head
            self._prev_sig = signing.seed_signature.encode("ascii")
        else:
            self._key = b""
            self._sts_chunk = self._sts_trailer = self._prev_sig = b""
        self._expected_sig = b""
        self._hash: Any = None
        self._state = _HEADER
        self._line = bytearray()
        self._remaining = 0
        self._crlf_seen = 0
        self._last_size = -1
        self._expected_trailers = frozenset(trailer_names) if mode.has_trailer else frozenset()
        self._trailer_sig: bytes | None = None
        self._trailer_canon = bytearray()
        self._trailer_bytes = 0
        # S3 enforces the 8 KiB floor on signed streams; unsigned ones are let through.
        if min_chunk_size is None:
            min_chunk_size = MIN_CHUNK_SIZE if self._signed else 0
        self._min_chunk = min_chunk_size
        self._max_line = max_line

    @property
    def done(self) -> bool:
        return self._state == _DONE

    # -- input ---------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> list[memoryview]:
        """Consume ``data``; return the payload bytes it completes, as views into ``data``.

        The views alias ``data``: consume them before reusing a mutable buffer.
        """
        if isinstance(data, memoryview):
            data = data.tobytes()  # bytes.find is needed below; rare path
        out: list[memoryview] = []
        n = len(data)
        pos = 0
        view: memoryview | None = None
        while pos < n:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, n - pos)
                if view is None:
                    view = memoryview(data)
                piece = view[pos : pos + take]
                if self._hash is not None:
                    self._hash.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_chunk_data()
            elif state == _DATA_CRLF:
                if data[pos] != b"\r\n"[self._crlf_seen]:
                    raise incomplete_body()
                pos += 1
                self._crlf_seen += 1
                if self._crlf_seen == 2:
                    self._state = _HEADER
            elif state == _HEADER:
                line, pos = self._take_line(data, pos, n)
                if line is None:
                    break
                self._on_chunk_header(line)
            elif state == _TRAILER:
                line, pos = self._take_line(data, pos, n)
                if line is None:
                    break
                self._on_trailer_line(line)
            else:  # _DONE
                raise incomplete_body("Unexpected data after the end of the aws-chunked body")
        return out

    def finish(self) -> None:
        """The body ended: raise unless the encoding (and every signature) was complete."""
        if self._state == _DONE:
            return
        if self._state == _TRAILER and not self._line:
            # NOTE: tolerate a body that ends right after the last trailer line
            # (no closing empty line): everything it carries is already checked.
            self._end_trailers()
            return
        raise incomplete_body()

    # -- lines ---------------------------------------------------------------------------

    def _take_line(self, data: bytes | bytearray, pos: int, n: int) -> tuple[bytes | None, int]:
        """The next CRLF-terminated line (without CRLF), or None when ``data`` ran out."""
        buf = self._line
        if buf and buf[-1] == 13 and data[pos] == 10:  # CR ended the last fragment
            line = bytes(buf[:-1])
            buf.clear()
            return line, pos + 1
        end = data.find(b"\r\n", pos)
        if end < 0:
            if len(buf) + (n - pos) > self._max_line:
                raise self._line_too_long()
            buf += data[pos:n]
            return None, n
        if len(buf) + (end - pos) > self._max_line:
            raise self._line_too_long()
        if buf:
            buf += data[pos:end]
            line = bytes(buf)
            buf.clear()
        else:
            line = bytes(data[pos:end])
        return line, end + 2

    def _line_too_long(self) -> AuthError:
        return malformed_trailer() if self._state == _TRAILER else incomplete_body()

    # -- chunks --------------------------------------------------------------------------

    def _on_chunk_header(self, line: bytes) -> None:
        size_text, semicolon, extension = line.partition(b";")
        if self._signed:
            if not semicolon or not extension.startswith(_SIG_PREFIX):
                raise incomplete_body()
            self._expected_sig = extension[len(_SIG_PREFIX) :]
        if _HEX_SIZE.fullmatch(size_text) is None:
            raise incomplete_body()
        size = int(size_text, 16)
        self.chunks += 1
        if size and 0 <= self._last_size < self._min_chunk:
            raise AuthError(
                "InvalidChunkSizeError",
                details={"Chunk": str(self.chunks - 1), "BadChunkSize": str(self._last_size)},
            )
        if self.decoded_length + size > self.declared_length:
            raise self._length_mismatch(self.decoded_length + size)
        if size == 0:
            if self.decoded_length != self.declared_length:
                raise self._length_mismatch(self.decoded_length)
            if self._signed:
                self._verify_chunk(EMPTY_SHA256)
            self._state = _TRAILER
            return
        self._last_size = size
        self._remaining = size
        self._hash = hashlib.sha256() if self._signed else None
        self._state = _DATA

    def _end_chunk_data(self) -> None:
        self.decoded_length += self._last_size
        if self._hash is not None:
            self._verify_chunk(self._hash.hexdigest())
            self._hash = None
        self._crlf_seen = 0
        self._state = _DATA_CRLF

    def _verify_chunk(self, data_sha256: str) -> None:
        message = b"".join(
            (
                self._sts_chunk,
                self._prev_sig,
                b"\n",
                EMPTY_SHA256.encode(),
                b"\n",
                data_sha256.encode(),
            )
        )
        calculated = hmac.digest(self._key, message, "sha256").hex().encode("ascii")
        if not hmac.compare_digest(calculated, self._expected_sig):
            raise _signature_mismatch("chunk")
        self._prev_sig = calculated

    def _length_mismatch(self, provided: int) -> AuthError:
        return incomplete_body(
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
            NumberBytesExpected=str(self.declared_length),
            NumberBytesProvided=str(provided),
        )

    # -- trailers ------------------------------------------------------------------------

    def _on_trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise malformed_trailer()
        raw_name, colon, raw_value = line.partition(b":")
        try:
            name = raw_name.strip(b" \t").decode("ascii").lower()
            value = raw_value.strip(b" \t").decode("ascii")
        except UnicodeDecodeError:
            raise malformed_trailer() from None
        if not colon or not name:
            raise malformed_trailer()
        if name == TRAILER_SIGNATURE:
            if (
                self.mode is not PayloadMode.STREAMING_SIGNED_TRAILER
                or self._trailer_sig is not None
            ):
                raise malformed_trailer()
            self._trailer_sig = value.encode("ascii")
            return
        if (
            self._trailer_sig is not None  # the signature comes last
            or name not in self._expected_trailers
            or name in self.trailers
        ):
            raise malformed_trailer()
        self.trailers[name] = value
        self._trailer_canon += f"{name}:{value}\n".encode("ascii")

    def _end_trailers(self) -> None:
        if set(self.trailers) != self._expected_trailers:
            raise malformed_trailer()
        if self.mode is PayloadMode.STREAMING_SIGNED_TRAILER:
            if self._trailer_sig is None:
                raise malformed_trailer()
            tail = b"".join(
                (self._prev_sig, b"\n", sha256_hex(bytes(self._trailer_canon)).encode("ascii"))
            )
            # NOTE: SDKs (and MinIO) sign trailers as AWS4-HMAC-SHA256-TRAILER; the
            # example in AWS's own documentation was computed with the -PAYLOAD
            # algorithm line instead. Both are accepted: the messages differ in
            # shape from a chunk's (no empty-hash line), so neither can stand in
            # for a chunk signature.
            for head in (self._sts_trailer, self._sts_chunk):
                calculated = hmac.digest(self._key, head + tail, "sha256").hex().encode("ascii")
                if hmac.compare_digest(calculated, self._trailer_sig):
                    break
            else:
                raise _signature_mismatch("trailer")
        self._state = _DONE


def strip_aws_chunked(content_encoding: str | None) -> str | None:
    """``Content-Encoding`` without ``aws-chunked`` (what the object keeps), None if empty."""
    if content_encoding is None:
        return None
    kept = [
        e.strip()
        for e in content_encoding.split(",")
        if e.strip() and e.strip().lower() != "aws-chunked"
    ]
    return ",".join(kept) or None
