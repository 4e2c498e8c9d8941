"""Exact-width msgpack writing and an error-translating reader.

MinIO serializes xl.meta with tinylib/msgp, whose width choices differ from
msgpack-python's ``Packer``: Go ``int``/``int64`` fields use the *signed*
family even for positive values (128 -> ``d1 00 80``, where ``Packer`` would
write ``cc 80``). Byte-identical output (needed for CRCs to match MinIO's and
for version signatures, which hash an encoding) therefore needs a writer that
is told the Go type of every field. These helpers append to a ``bytearray``
so a record is built in one buffer without intermediate objects.

    family    | smallest form that fits, in order
    ----------+-------------------------------------------------------------
    put_uint  | fixint 00-7f, cc u8, cd u16, ce u32, cf u64
    put_int   | fixint 00-7f / neg fixint e0-ff, d0 i8 (negatives only),
              | d1 i16, d2 i32, d3 i64
    put_str   | fixstr a0-bf (<32), d9 str8, da str16, db str32
    put_bin   | c4 bin8, c5 bin16, c6 bin32
    headers   | fixmap 80-8f / fixarray 90-9f (<16), de/dc 16-bit, df/dd 32-bit

Reading goes through msgpack-python's C ``Unpacker`` (accepting any width, as
MinIO does); ``Reader`` only turns its exceptions into ``XLMetaCorrupt`` /
``XLMetaTruncated`` naming the field being read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import msgpack

from liteio.meta.errors import XLMetaCorrupt, XLMetaTruncated

_B = struct.Struct(">B")
_H = struct.Struct(">H")
_I = struct.Struct(">I")
_Q = struct.Struct(">Q")
_b = struct.Struct(">b")
_h = struct.Struct(">h")
_i = struct.Struct(">i")
_q = struct.Struct(">q")

NIL = b"\xc0"

# Everything msgpack-python's Unpacker raises on bad input: OutOfData/BufferFull
# (UnpackException), FormatError/StackError/ExtraData/limit errors (ValueError)
# and unhashable map keys (TypeError).
MSGPACK_ERRORS = (ValueError, TypeError, msgpack.UnpackException)


def put_uint(out: bytearray, value: int) -> None:
    """Append an unsigned integer (Go uint8..uint64) in its smallest form."""
    if value < 0:
        raise ValueError(f"unsigned field cannot hold {value}")
    if value < 0x80:
        out.append(value)
    elif value <= 0xFF:
        out += b"\xcc" + _B.pack(value)
    elif value <= 0xFFFF:
        out += b"\xcd" + _H.pack(value)
    elif value <= 0xFFFFFFFF:
        out += b"\xce" + _I.pack(value)
    else:
        out += b"\xcf" + _Q.pack(value)


def put_int(out: bytearray, value: int) -> None:
    """Append a signed integer (Go int/int64) in msgp's smallest signed form."""
    if 0 <= value < 0x80:
        out.append(value)
    elif -32 <= value < 0:
        out.append(value & 0xFF)
    elif -0x80 <= value < 0:
        # NOTE: msgp only uses int8 for negatives; a positive 128..255 goes to int16.
        out += b"\xd0" + _b.pack(value)
    elif -0x8000 <= value <= 0x7FFF:
        out += b"\xd1" + _h.pack(value)
    elif -0x80000000 <= value <= 0x7FFFFFFF:
        out += b"\xd2" + _i.pack(value)
    else:
        out += b"\xd3" + _q.pack(value)


def put_int_array(out: bytearray, values: Iterable[int]) -> None:
    """Append an array of Go ints; the common all-fixint case is one bytes() call."""
    items = values if isinstance(values, list) else list(values)
    put_array_header(out, len(items))
    if all(0 <= v < 0x80 for v in items):
        out += bytes(items)
        return
    for v in items:
        put_int(out, v)


def put_uint_array(out: bytearray, values: Iterable[int]) -> None:
    """Append an array of Go unsigned ints (e.g. EcDist's uint8 entries)."""
    items = values if isinstance(values, list) else list(values)
    put_array_header(out, len(items))
    if all(0 <= v < 0x80 for v in items):
        out += bytes(items)
        return
    for v in items:
        put_uint(out, v)


def put_str(out: bytearray, value: str) -> None:
    """Append a str; surrogateescape round-trips bytes that were not valid UTF-8."""
    data = value.encode("utf-8", "surrogateescape")
    n = len(data)
    if n < 32:
        out.append(0xA0 | n)
    elif n <= 0xFF:
        out += b"\xd9" + _B.pack(n)
    elif n <= 0xFFFF:
        out += b"\xda" + _H.pack(n)
    else:
        out += b"\xdb" + _I.pack(n)
    out += data


def bin_header(n: int) -> bytes:
    """The bin8/16/32 header for a payload of ``n`` bytes."""
    if n <= 0xFF:
        return b"\xc4" + _B.pack(n)
    if n <= 0xFFFF:
        return b"\xc5" + _H.pack(n)
    return b"\xc6" + _I.pack(n)


def put_bin(out: bytearray, value: bytes | bytearray | memoryview) -> None:
    """Append a bin of the smallest width."""
    out += bin_header(len(value))
    out += value


def put_map_header(out: bytearray, n: int) -> None:
    if n < 16:
        out.append(0x80 | n)
    elif n <= 0xFFFF:
        out += b"\xde" + _H.pack(n)
    else:
        out += b"\xdf" + _I.pack(n)


def put_array_header(out: bytearray, n: int) -> None:
    if n < 16:
        out.append(0x90 | n)
    elif n <= 0xFFFF:
        out += b"\xdc" + _H.pack(n)
    else:
        out += b"\xdd" + _I.pack(n)


def str_key(name: str) -> bytes:
    """Pre-encode a map key once at import time (keys are ASCII field names)."""
    out = bytearray()
    put_str(out, name)
    return bytes(out)


class Reader:
    """A streaming msgpack reader over one buffer that raises only XLMeta errors.

    ``what`` arguments name the field being read so a message says
    "V2Obj.EcDist: ..." rather than msgpack's internal wording.
    """

    __slots__ = ("_data", "_unpacker", "context")

    def __init__(self, data: bytes | memoryview, context: str) -> None:
        self._data = data
        self.context = context
        # The limits bound every length by the buffer size, so a garbage header
        # claiming 4 billion entries fails fast instead of allocating.
        self._unpacker = msgpack.Unpacker(
            None,
            raw=False,
            unicode_errors="surrogateescape",
            max_buffer_size=max(len(data), 1),
            strict_map_key=False,
        )
        self._unpacker.feed(data)

    def _fail(self, what: str, exc: BaseException) -> XLMetaCorrupt:
        where = ": ".join(part for part in (self.context, what) if part)
        if isinstance(exc, msgpack.OutOfData):
            return XLMetaTruncated(f"{where}: data ends early (offset {self.tell()})")
        if isinstance(exc, ValueError) and "exceeds max_" in str(exc):
            # The limits equal the buffer size, so a length over them cannot fit
            # in what is left: a cut-off file (or a garbage length).
            return XLMetaTruncated(f"{where}: length runs past the end of the data ({exc})")
        return XLMetaCorrupt(f"{where}: invalid msgpack ({exc})")

    def tell(self) -> int:
        return int(self._unpacker.tell())

    def at_end(self) -> bool:
        return self.tell() >= len(self._data)

    def slice(self, start: int, end: int) -> bytes | memoryview:
        return self._data[start:end]

    def peek_byte(self) -> int | None:
        pos = self.tell()
        return self._data[pos] if pos < len(self._data) else None

    def value(self, what: str) -> Any:
        try:
            return self._unpacker.unpack()
        except MSGPACK_ERRORS as exc:
            raise self._fail(what, exc) from None

    def map_header(self, what: str) -> int:
        try:
            return int(self._unpacker.read_map_header())
        except MSGPACK_ERRORS as exc:
            raise self._fail(f"{what} (expected a map)", exc) from None

    def array_header(self, what: str) -> int:
        try:
            return int(self._unpacker.read_array_header())
        except MSGPACK_ERRORS as exc:
            raise self._fail(f"{what} (expected an array)", exc) from None

    def raw(self, what: str) -> bytes:
        """Skip one value and return its exact encoded bytes (for unknown fields)."""
        start = self.tell()
        try:
            self._unpacker.skip()
        except MSGPACK_ERRORS as exc:
            raise self._fail(what, exc) from None
        return bytes(self._data[start : self.tell()])

    def key(self, what: str) -> str:
        k = self.value(what)
        if isinstance(k, bytes):
            return k.decode("utf-8", "surrogateescape")
        if not isinstance(k, str):
            raise XLMetaCorrupt(f"{self.context}: {what}: map key is {type(k).__name__}, not str")
        return k
