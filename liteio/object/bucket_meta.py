"""Bucket configuration, stored where MinIO keeps it.

Each bucket's settings live in ``.minio.sys/buckets/<bucket>/.metadata.bin``,
itself an (inline, erasure-coded) object of the system volume. Its content::

    +-----------+------------+------------------------------------------+
    | u16 LE: 1 | u16 LE: 1  | msgpack map: Name, Created, ...XML, ...  |
    | format    | version    | (times as msgpack ext 5: i64 s + u32 ns) |
    +-----------+------------+------------------------------------------+
"""

from __future__ import annotations

import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import msgpack

META_FORMAT = 1
META_VERSION = 1
TIME_EXT = 5

VERSIONING_ENABLED = "Enabled"
VERSIONING_SUSPENDED = "Suspended"


def metadata_key(bucket: str) -> str:
    return f"buckets/{bucket}/.metadata.bin"


def _pack_time(ns: int) -> msgpack.ExtType:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return msgpack.ExtType(TIME_EXT, struct.pack(">qI", seconds, nanos))


def _unpack_time(value: Any) -> int:
    if isinstance(value, msgpack.ExtType) and value.code == TIME_EXT and len(value.data) == 12:
        seconds, nanos = struct.unpack(">qI", value.data)
        return int(seconds) * 1_000_000_000 + int(nanos)
    return 0


class BucketMetaCorrupt(ValueError):
    pass


@dataclass(slots=True)
class BucketMetadata:
    name: str
    created_ns: int = field(default_factory=time.time_ns)
    lock_enabled: bool = False
    versioning_xml: bytes = b""
    tagging_xml: bytes = b""
    policy_json: bytes = b""
    # Every other MinIO field, kept verbatim so a round trip loses nothing.
    other: dict[str, Any] = field(default_factory=dict)

    @property
    def versioning(self) -> str:
        """'' (never configured), 'Enabled' or 'Suspended'."""
        if not self.versioning_xml:
            return ""
        try:
            root = ET.fromstring(self.versioning_xml)
        except ET.ParseError:
            return ""
        for node in root.iter():
            if node.tag.rsplit("}", 1)[-1] == "Status":
                return (node.text or "").strip()
        return ""

    @property
    def versioned(self) -> bool:
        return self.versioning == VERSIONING_ENABLED

    @property
    def suspended(self) -> bool:
        return self.versioning == VERSIONING_SUSPENDED

    def dump(self) -> bytes:
        doc = dict(self.other)
        doc.update({
            "Name": self.name,
            "Created": _pack_time(self.created_ns),
            "LockEnabled": self.lock_enabled,
            "VersioningConfigXML": self.versioning_xml,
            "TaggingConfigXML": self.tagging_xml,
            "PolicyConfigJSON": self.policy_json,
        })
        return struct.pack("<HH", META_FORMAT, META_VERSION) + msgpack.packb(doc, use_bin_type=True)

    @classmethod
    def load(cls, data: bytes) -> BucketMetadata:
        if len(data) < 4:
            raise BucketMetaCorrupt("bucket metadata shorter than its header")
        fmt, version = struct.unpack_from("<HH", data)
        if fmt != META_FORMAT or version != META_VERSION:
            raise BucketMetaCorrupt(f"unknown bucket metadata format {fmt}.{version}")
        try:
            doc = msgpack.unpackb(data[4:], raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as exc:
            raise BucketMetaCorrupt(f"bucket metadata: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("Name"), str):
            raise BucketMetaCorrupt("bucket metadata is not a map with a Name")

        def blob(name: str) -> bytes:
            value = doc.pop(name, b"")
            return value if isinstance(value, bytes) else b""

        name = doc.pop("Name")
        created = _unpack_time(doc.pop("Created", None))
        lock = bool(doc.pop("LockEnabled", False))
        return cls(name, created, lock, blob("VersioningConfigXML"), blob("TaggingConfigXML"),
                   blob("PolicyConfigJSON"), doc)
