"""Per-version headers: the small index entry stored before each version body.

Headers are what make the 1.3 format cheap to scan: a listing can find the
latest version, its type and its signature without decoding a body.

    headerVersion 3: array(7) [VersionID bin16, ModTime int64, Signature bin4,
                               Type u8, Flags u8, EcN u8 (parity), EcM u8 (data)]
    headerVersion 2: array(5) the first five (EcN/EcM read as 0)
    headerVersion 1: array(4) [VersionID, ModTime, Type, Flags]  (never released)

Note the parity count comes before the data count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from liteio.meta import msgp
from liteio.meta.errors import XLMetaCorrupt, XLMetaUnsupportedVersion
from liteio.meta.ids import version_id_str

TYPE_INVALID = 0
TYPE_OBJECT = 1
TYPE_DELETE_MARKER = 2
TYPE_LEGACY = 3
TYPE_NAMES = {TYPE_OBJECT: "object", TYPE_DELETE_MARKER: "delete-marker", TYPE_LEGACY: "legacy"}

FLAG_FREE_VERSION = 1
FLAG_USES_DATA_DIR = 2
FLAG_INLINE_DATA = 4

# What our writer emits; readers accept anything up to these.
HEADER_VERSION = 3
META_VERSION = 3

_ARRAY_LEN = {1: 4, 2: 5, 3: 7}


def _is_uint(value: Any, limit: int) -> bool:
    return type(value) is int and 0 <= value <= limit


@dataclass(slots=True)
class VersionHeader:
    """One version's index entry; ``ec_n`` is parity and ``ec_m`` data, as on disk."""

    version_id: bytes
    mod_time: int
    signature: bytes
    type: int
    flags: int
    ec_n: int = 0
    ec_m: int = 0

    @property
    def version_id_text(self) -> str:
        return version_id_str(self.version_id)

    @property
    def is_free_version(self) -> bool:
        return bool(self.flags & FLAG_FREE_VERSION)

    @property
    def uses_data_dir(self) -> bool:
        return bool(self.flags & FLAG_USES_DATA_DIR)

    @property
    def has_inline_flag(self) -> bool:
        """The writer's hint that the data is inline; a drive may still use part files."""
        return bool(self.flags & FLAG_INLINE_DATA)

    def sort_key(self) -> tuple[int, int, int, int, int]:
        """Ascending sort puts the latest first: newer ModTime, then lower Type,
        then larger Signature, larger VersionID, larger Flags (bytes compared
        big-endian, i.e. byte-wise)."""
        return (
            -self.mod_time,
            self.type,
            -int.from_bytes(self.signature, "big"),
            -int.from_bytes(self.version_id, "big"),
            -self.flags,
        )

    def matches(self, other: VersionHeader) -> bool:
        """Whether two drives hold the same version (what quorum compares)."""
        return (
            self.version_id == other.version_id
            and self.mod_time == other.mod_time
            and self.signature == other.signature
            and self.type == other.type
        )

    def to_msgpack(self, header_version: int = HEADER_VERSION) -> bytes:
        if header_version not in (2, 3):
            raise ValueError(f"cannot write header version {header_version}")
        out = bytearray()
        msgp.put_array_header(out, _ARRAY_LEN[header_version])
        msgp.put_bin(out, self.version_id)
        msgp.put_int(out, self.mod_time)
        msgp.put_bin(out, self.signature)
        msgp.put_uint(out, self.type)
        msgp.put_uint(out, self.flags)
        if header_version >= 3:
            msgp.put_uint(out, self.ec_n)
            msgp.put_uint(out, self.ec_m)
        return bytes(out)

    @classmethod
    def from_msgpack(cls, data: bytes, header_version: int) -> VersionHeader:
        want = _ARRAY_LEN.get(header_version)
        if want is None:
            raise XLMetaUnsupportedVersion(f"unknown version header version {header_version}")
        try:
            fields = msgpack.unpackb(data, raw=False, use_list=True)
        except msgp.MSGPACK_ERRORS as exc:
            raise XLMetaCorrupt(f"version header: invalid msgpack ({exc})") from None
        if not isinstance(fields, list) or len(fields) != want:
            raise XLMetaCorrupt(
                f"version header v{header_version}: expected an array of {want}, "
                f"got {type(fields).__name__}"
                + (f" of {len(fields)}" if isinstance(fields, list) else "")
            )
        if header_version == 1:
            vid, mod_time, vtype, flags = fields
            sig: Any = bytes(4)
            ec_n = ec_m = 0
        else:
            vid, mod_time, sig, vtype, flags = fields[:5]
            ec_n, ec_m = fields[5:7] if header_version >= 3 else (0, 0)
        if not (isinstance(vid, bytes) and len(vid) == 16):
            raise XLMetaCorrupt("version header: VersionID is not 16 bytes")
        if type(mod_time) is not int:
            raise XLMetaCorrupt("version header: ModTime is not an integer")
        if not (isinstance(sig, bytes) and len(sig) == 4):
            raise XLMetaCorrupt("version header: Signature is not 4 bytes")
        for name, value in (("Type", vtype), ("Flags", flags), ("EcN", ec_n), ("EcM", ec_m)):
            if not _is_uint(value, 0xFF):
                raise XLMetaCorrupt(f"version header: {name} is not a uint8 ({value!r})")
        if vtype not in TYPE_NAMES:
            raise XLMetaCorrupt(f"version header: invalid version type {vtype}")
        return cls(vid, mod_time, sig, vtype, flags, ec_n, ec_m)
