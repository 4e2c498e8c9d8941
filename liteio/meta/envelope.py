"""The xl.meta file envelope: magic, version, metadata bin, CRC, inline section.

    offset 0   4 bytes   'X' 'L' '2' ' '        magic
    offset 4   4 bytes   version: ASCII "1   " = 1.0, else u16 LE major, u16 LE minor
    offset 8   ...       payload, by version:

    1.0   | journal map (bare msgpack)                                      |
    1.1   | bin(journal)            | inline section ...                    |
    1.2   | bin(journal)            | uint CRC (any width) | inline ...     |
    1.3   | c6 len32 | indexed meta | ce crc32             | inline ...     |
            ^ written as bin32 always (the writer patches the length in)

CRC = low 32 bits of xxHash64(seed 0) over the bin *content* only. This
module only frames bytes; what the metadata means is ``xlmeta.py``'s job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import xxhash

from liteio.meta.errors import (
    XLMetaChecksumMismatch,
    XLMetaCorrupt,
    XLMetaTruncated,
    XLMetaUnsupportedVersion,
)

MAGIC = b"XL2 "
LEGACY_VERSION_1_0 = b"1   "
HEADER_LEN = 8
WRITE_MAJOR = 1
WRITE_MINOR = 3

_U16LE = struct.Struct("<H")
_BIN_LEN = {0xC4: (1, ">B"), 0xC5: (2, ">H"), 0xC6: (4, ">I")}
_UINT_LEN = {0xCC: (1, ">B"), 0xCD: (2, ">H"), 0xCE: (4, ">I"), 0xCF: (8, ">Q")}


def xl_crc(content: bytes | bytearray | memoryview) -> int:
    """MinIO's xl.meta CRC: xxHash64 (seed 0) truncated to 32 bits."""
    return xxhash.xxh64_intdigest(content) & 0xFFFFFFFF


@dataclass(slots=True, frozen=True)
class Envelope:
    """The framing of one xl.meta, with views into the original buffer (no copies)."""

    major: int
    minor: int
    metadata: memoryview  # 1.0: rest of file (journal map); 1.1+: the bin's content
    crc: int | None  # stored CRC; None for 1.0 and 1.1 which have none
    inline: memoryview  # the inline-data section, possibly empty
    inline_offset: int  # where ``inline`` starts in the file

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def is_legacy_journal(self) -> bool:
        """True for 1.0-1.2, whose metadata is a version journal without headers."""
        return self.minor < 3


def _parse_version(data: memoryview) -> tuple[int, int]:
    head = bytes(data[:4])
    if head != MAGIC[: len(head)]:
        raise XLMetaCorrupt(f"bad magic {head!r}, expected {MAGIC!r}")
    if len(data) <= HEADER_LEN:
        raise XLMetaTruncated(f"file is {len(data)} bytes, too short for an xl.meta")
    raw = bytes(data[4:8])
    if raw == LEGACY_VERSION_1_0:
        return 1, 0
    (major,) = _U16LE.unpack_from(raw, 0)
    (minor,) = _U16LE.unpack_from(raw, 2)
    if major != 1:
        raise XLMetaUnsupportedVersion(f"unknown xl.meta major version {major}.{minor}")
    if minor > 3:
        raise XLMetaUnsupportedVersion(f"unknown xl.meta minor version {major}.{minor}")
    return major, minor


def _read_sized(data: memoryview, pos: int, table: dict[int, tuple[int, str]]) -> tuple[int, int]:
    """Read a length/uint whose size is given by its tag; return (value, next pos)."""
    tag = data[pos]
    size, fmt = table[tag]
    end = pos + 1 + size
    if end > len(data):
        raise XLMetaTruncated(f"data ends inside the header at offset {pos}")
    (value,) = struct.unpack_from(fmt, data, pos + 1)
    return int(value), end


def _read_bin_span(data: memoryview, pos: int) -> tuple[int, int]:
    """(content start, content end) of the metadata bin at ``pos``."""
    if pos >= len(data):
        raise XLMetaTruncated("data ends before the metadata")
    if data[pos] not in _BIN_LEN:
        raise XLMetaCorrupt(f"expected a msgpack bin at offset {pos}, found 0x{data[pos]:02x}")
    length, start = _read_sized(data, pos, _BIN_LEN)
    if start + length > len(data):
        raise XLMetaTruncated(
            f"metadata claims {length} bytes but only {len(data) - start} are present"
        )
    return start, start + length


def _read_crc(data: memoryview, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise XLMetaTruncated("data ends before the CRC")
    tag = data[pos]
    if tag < 0x80:
        return tag, pos + 1
    if tag not in _UINT_LEN:
        raise XLMetaCorrupt(f"expected a msgpack uint CRC at offset {pos}, found 0x{tag:02x}")
    return _read_sized(data, pos, _UINT_LEN)


def parse_envelope(data: bytes | bytearray | memoryview, *, verify_crc: bool = True) -> Envelope:
    """Split an xl.meta into its parts, checking magic, version and CRC."""
    view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
    major, minor = _parse_version(view)
    if minor == 0:
        return Envelope(major, minor, view[HEADER_LEN:], None, view[len(view) :], len(view))
    start, end = _read_bin_span(view, HEADER_LEN)
    content = view[start:end]
    crc: int | None = None
    inline_at = end
    if minor >= 2:
        crc, inline_at = _read_crc(view, end)
        if verify_crc:
            computed = xl_crc(content)
            if computed != crc:
                raise XLMetaChecksumMismatch(crc, computed)
    return Envelope(major, minor, content, crc, view[inline_at:], inline_at)


def build_envelope(metadata: bytes | bytearray, inline: bytes | bytearray | memoryview) -> bytes:
    """Frame indexed metadata and an inline section as a 1.3 file.

    The bin is always bin32 and the CRC always ``ce`` + 4 bytes, as MinIO
    writes them, whatever their values.
    """
    out = bytearray(MAGIC)
    out += _U16LE.pack(WRITE_MAJOR) + _U16LE.pack(WRITE_MINOR)
    out += b"\xc6" + struct.pack(">I", len(metadata))
    out += metadata
    out += b"\xce" + struct.pack(">I", xl_crc(metadata))
    out += inline
    return bytes(out)


def metadata_span(prefix: bytes | bytearray | memoryview) -> int | None:
    """How many leading bytes of the file hold everything but the inline data.

    For a metadata-only read: call it on what you have; while the answer is
    larger than your prefix, read that many bytes and ask again. Once the
    answer is <= len(prefix) it is exact. Returns None for 1.0 files, which
    have no framing (the whole file is metadata).

        n = metadata_span(buf)
        while n is not None and n > len(buf):
            buf = read_first(n); n = metadata_span(buf)
    """
    view = memoryview(prefix).cast("B") if not isinstance(prefix, memoryview) else prefix
    if len(view) < HEADER_LEN + 1:
        _parse_version_prefix(view)
        return HEADER_LEN + 1
    _, minor = _parse_version(view)
    if minor == 0:
        return None
    tag = view[HEADER_LEN]
    if tag not in _BIN_LEN:
        raise XLMetaCorrupt(f"expected a msgpack bin at offset {HEADER_LEN}, found 0x{tag:02x}")
    size = _BIN_LEN[tag][0]
    if len(view) < HEADER_LEN + 1 + size:
        return HEADER_LEN + 1 + size
    length, start = _read_sized(view, HEADER_LEN, _BIN_LEN)
    end = start + length
    if minor < 2:
        return end
    if len(view) <= end:
        return end + 1  # the CRC's tag byte decides its width
    crc_tag = view[end]
    if crc_tag < 0x80:
        return end + 1
    if crc_tag not in _UINT_LEN:
        raise XLMetaCorrupt(f"expected a msgpack uint CRC at offset {end}, found 0x{crc_tag:02x}")
    return end + 1 + _UINT_LEN[crc_tag][0]


def _parse_version_prefix(view: memoryview) -> None:
    """Validate what there is of magic and version in a very short prefix."""
    head = bytes(view[:4])
    if head != MAGIC[: len(head)]:
        raise XLMetaCorrupt(f"bad magic {head!r}, expected {MAGIC!r}")
