"""Version bodies: object versions, delete markers and opaque legacy objects.

A version body is a msgpack map stored in its own bin after the header:

    { "Type": u8,                      1 object | 2 delete marker | 3 legacy
      "V2Obj" | "DelObj" | "V1Obj": map,   exactly one, matching Type
      "v": u64 }                       release (Unix seconds) of the writer; may be absent

Each record decodes every field into a typed attribute and re-encodes with
the Go type MinIO declares for it (signed vs unsigned ints, bin vs str).
Two things are kept beside the typed fields so that a decode -> encode round
trip is byte-identical even for maps MinIO's writer would not produce:
``extras`` (the inner map's key order and the raw bytes of keys we do not
know) and ``body_extras`` (the same for the outer map). Both are None for the
canonical layout, which is what we write for new records.

The byte-level work lives in ``bodyenc.py`` and ``bodydec.py``; this module
holds the records only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import msgpack

from liteio.meta.errors import XLMetaCorrupt
from liteio.meta.header import TYPE_DELETE_MARKER, TYPE_LEGACY, TYPE_NAMES, TYPE_OBJECT
from liteio.meta.ids import NULL_VERSION_ID, uuid_str, version_id_str
from liteio.meta.msgp import MSGPACK_ERRORS

EC_REED_SOLOMON = 1
CSUM_HIGHWAYHASH = 1
DEFAULT_BLOCK_SIZE = 1 << 20

# What we store in "v" for versions we write. MinIO compares it against
# release dates to decide load-time fixes (fixes.py); staying above the last
# fix window (1730156418) keeps MinIO from "fixing" our files.
WRITTEN_BY = 1767225600

INLINE_DATA_KEY = "x-minio-internal-inline-data"
FREE_VERSION_KEY = "x-minio-internal-free-version"
TRANSITION_STATUS_KEY = "x-minio-internal-transition-status"
ACTUAL_SIZE_KEY = "X-Minio-Internal-actual-size"
COMPRESSION_KEY = "X-Minio-Internal-compression"


@dataclass(slots=True)
class MapExtras:
    """A decoded map's original key order plus the raw encoding of unknown keys."""

    order: tuple[str, ...]
    unknown: dict[str, bytes]


class ObjectPart(NamedTuple):
    """One part, gathered from V2Obj's parallel arrays."""

    number: int
    size: int
    actual_size: int | None
    etag: str | None
    compression_index: bytes | None


def lookup_ci(meta: dict[str, Any] | None, name: str) -> Any:
    """Case-insensitive map lookup: MinIO's own files mix X-Minio-… and x-minio-…."""
    if not meta:
        return None
    if name in meta:
        return meta[name]
    lowered = name.lower()
    for key, value in meta.items():
        if key.lower() == lowered:
            return value
    return None


@dataclass(slots=True)
class ObjectVersion:
    """``V2Obj``: one version of an object (erasure layout, parts, metadata)."""

    TYPE: ClassVar[int] = TYPE_OBJECT

    version_id: bytes = NULL_VERSION_ID
    data_dir: bytes = NULL_VERSION_ID
    ec_algo: int = EC_REED_SOLOMON
    ec_m: int = 0  # data shards
    ec_n: int = 0  # parity shards
    ec_block_size: int = DEFAULT_BLOCK_SIZE
    ec_index: int = 0  # 1-based shard number on this drive
    ec_dist: list[int] = field(default_factory=list)
    csum_algo: int = CSUM_HIGHWAYHASH
    part_numbers: list[int] = field(default_factory=list)
    part_etags: list[str] | None = None
    part_sizes: list[int] = field(default_factory=list)
    part_actual_sizes: list[int] | None = None
    part_indices: list[bytes] | None = None
    size: int = 0
    mod_time: int = 0  # ns since epoch
    meta_sys: dict[str, bytes] | None = None
    meta_usr: dict[str, str] | None = None
    written_by: int | None = WRITTEN_BY
    extras: MapExtras | None = None
    body_extras: MapExtras | None = None

    @property
    def version_id_text(self) -> str:
        return version_id_str(self.version_id)

    @property
    def data_dir_text(self) -> str:
        return uuid_str(self.data_dir)

    @property
    def etag(self) -> str | None:
        return (self.meta_usr or {}).get("etag")

    @property
    def inline_flag(self) -> bool:
        """MetaSys asks for inline data (a hint: the shard may still be in part.1)."""
        return self.meta_sys is not None and INLINE_DATA_KEY in self.meta_sys

    @property
    def actual_size(self) -> int:
        """Logical size: X-Minio-Internal-actual-size when present (compressed or
        encrypted objects), else the stored size."""
        raw = lookup_ci(self.meta_sys, ACTUAL_SIZE_KEY)
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                pass
        return self.size

    def meta_sys_get(self, name: str) -> bytes | None:
        value = lookup_ci(self.meta_sys, name)
        return value if isinstance(value, bytes) else None

    @property
    def parts(self) -> list[ObjectPart]:
        n = len(self.part_numbers)

        def at(seq: list[Any] | None, i: int) -> Any:
            return seq[i] if seq is not None and i < len(seq) else None

        return [
            ObjectPart(
                self.part_numbers[i],
                self.part_sizes[i] if i < len(self.part_sizes) else 0,
                at(self.part_actual_sizes, i),
                at(self.part_etags, i),
                at(self.part_indices, i),
            )
            for i in range(n)
        ]

    def to_msgpack(self) -> bytes:
        """The version body (what is stored in the bin after the header)."""
        from liteio.meta.bodyenc import encode_version

        return encode_version(self)

    @classmethod
    def from_msgpack(cls, body: bytes) -> ObjectVersion:
        from liteio.meta.bodydec import decode_version

        rec = decode_version(body)
        if not isinstance(rec, cls):
            raise XLMetaCorrupt(f"version body is a {TYPE_NAMES[rec.TYPE]}, not an object")
        return rec


@dataclass(slots=True)
class DeleteMarker:
    """``DelObj``: a delete marker (or, with the free-version key, a free version)."""

    TYPE: ClassVar[int] = TYPE_DELETE_MARKER

    version_id: bytes = NULL_VERSION_ID
    mod_time: int = 0
    # Current MinIO writers always store an empty map rather than omitting it.
    meta_sys: dict[str, bytes] | None = field(default_factory=dict)
    written_by: int | None = WRITTEN_BY
    extras: MapExtras | None = None
    body_extras: MapExtras | None = None

    @property
    def version_id_text(self) -> str:
        return version_id_str(self.version_id)

    @property
    def is_free_version(self) -> bool:
        return self.meta_sys is not None and FREE_VERSION_KEY in self.meta_sys

    def to_msgpack(self) -> bytes:
        """The version body (what is stored in the bin after the header)."""
        from liteio.meta.bodyenc import encode_version

        return encode_version(self)

    @classmethod
    def from_msgpack(cls, body: bytes) -> DeleteMarker:
        from liteio.meta.bodydec import decode_version

        rec = decode_version(body)
        if not isinstance(rec, cls):
            raise XLMetaCorrupt(f"version body is a {TYPE_NAMES[rec.TYPE]}, not a delete marker")
        return rec


@dataclass(slots=True)
class LegacyObject:
    """``V1Obj``: a pre-2020 ``xl.json`` object carried inside xl.meta, kept opaque.

    No fixture holds one; we keep its bytes for round trips and only pull out
    the modification time that a header needs.
    """

    TYPE: ClassVar[int] = TYPE_LEGACY

    raw: bytes = b"\x80"
    written_by: int | None = None
    body_extras: MapExtras | None = None

    version_id: ClassVar[bytes] = NULL_VERSION_ID

    @property
    def version_id_text(self) -> str:
        return version_id_str(self.version_id)

    @property
    def mod_time(self) -> int:
        """Stat.ModTime (msgp time extension 5: int64 BE seconds, u32 BE nanos), or 0."""
        try:
            doc = msgpack.unpackb(self.raw, raw=False, strict_map_key=False)
            stamp = doc["Stat"]["ModTime"]
        except (*MSGPACK_ERRORS, KeyError, IndexError):
            return 0  # opaque by design: a malformed V1Obj just has no time
        if isinstance(stamp, msgpack.ExtType) and stamp.code == 5 and len(stamp.data) == 12:
            seconds, nanos = struct.unpack(">qI", stamp.data)
            return int(seconds) * 1_000_000_000 + int(nanos)
        return 0

    def to_msgpack(self) -> bytes:
        """The version body (what is stored in the bin after the header)."""
        from liteio.meta.bodyenc import encode_version

        return encode_version(self)


Version = ObjectVersion | DeleteMarker | LegacyObject
