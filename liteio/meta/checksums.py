"""The ``x-minio-internal-crc`` MetaSys blob: S3 additional checksums of an object.

A concatenation of records, each:

    uvarint   type bit set        1 trailing | 2 SHA256 | 4 SHA1 | 8 CRC32 | 16 CRC32C
                                  32 invalid | 64 multipart | 128 includes-multipart
                                  256 CRC64NVME | 512 full-object
    N bytes   checksum            N by base algorithm: CRC32/CRC32C 4, SHA1 20,
                                  SHA256 32, CRC64NVME 8
    [uvarint  part count]         only when the multipart bit is set
    [count x N bytes]             only when includes-multipart is set too

Example (a 1-part multipart upload): d0 01 | 2c d2 c3 a0 | 01 | f5 0b 8e 4b
= CRC32C + multipart + includes-multipart, composite value, 1 part, its CRC.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from liteio.meta.errors import XLMetaCorrupt

CHECKSUM_KEY = "x-minio-internal-crc"

TRAILING = 1
MULTIPART = 64
INCLUDES_MULTIPART = 128
FULL_OBJECT = 512

# base algorithm bit -> (S3 name, raw length)
_ALGORITHMS = {
    2: ("SHA256", 32),
    4: ("SHA1", 20),
    8: ("CRC32", 4),
    16: ("CRC32C", 4),
    256: ("CRC64NVME", 8),
}


@dataclass(slots=True)
class ChecksumRecord:
    type_bits: int
    algorithm: str
    value: bytes
    part_count: int | None = None
    part_values: list[bytes] = field(default_factory=list)

    @property
    def is_multipart(self) -> bool:
        return bool(self.type_bits & MULTIPART)

    @property
    def is_full_object(self) -> bool:
        return bool(self.type_bits & FULL_OBJECT)

    @property
    def value_b64(self) -> str:
        """As S3 shows it (x-amz-checksum-* headers are base64)."""
        return base64.b64encode(self.value).decode()


def _uvarint(blob: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(blob):
            raise XLMetaCorrupt("checksum blob: truncated varint")
        byte = blob[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise XLMetaCorrupt("checksum blob: varint too long")


def _take(blob: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if pos + n > len(blob):
        raise XLMetaCorrupt("checksum blob: truncated checksum")
    return blob[pos : pos + n], pos + n


def parse_checksum_blob(blob: bytes) -> list[ChecksumRecord]:
    records: list[ChecksumRecord] = []
    pos = 0
    while pos < len(blob):
        bits, pos = _uvarint(blob, pos)
        base = [b for b in _ALGORITHMS if bits & b]
        if len(base) != 1:
            raise XLMetaCorrupt(f"checksum blob: type 0x{bits:x} has no single base algorithm")
        name, size = _ALGORITHMS[base[0]]
        value, pos = _take(blob, pos, size)
        record = ChecksumRecord(bits, name, value)
        if bits & MULTIPART:
            record.part_count, pos = _uvarint(blob, pos)
            if bits & INCLUDES_MULTIPART:
                for _ in range(record.part_count):
                    part, pos = _take(blob, pos, size)
                    record.part_values.append(part)
        records.append(record)
    return records


def _put_uvarint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def encode_checksum_blob(records: list[ChecksumRecord]) -> bytes:
    """The inverse of ``parse_checksum_blob``."""
    bits_of = {name: bit for bit, (name, _) in _ALGORITHMS.items()}
    out = bytearray()
    for record in records:
        base = bits_of.get(record.algorithm)
        if base is None:
            raise ValueError(f"unknown checksum algorithm {record.algorithm}")
        bits = (record.type_bits & ~sum(_ALGORITHMS)) | base
        _put_uvarint(out, bits)
        out += record.value
        if bits & MULTIPART:
            _put_uvarint(out, record.part_count or len(record.part_values))
            if bits & INCLUDES_MULTIPART:
                for part in record.part_values:
                    out += part
    return bytes(out)
