"""Plain records passed between the object layer and its callers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from liteio.meta.ids import version_id_str
from liteio.meta.versions import DeleteMarker, ObjectVersion

# MetaUsr keys that are HTTP headers rather than x-amz-meta-* user metadata.
STANDARD_HEADERS = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
)
TAGGING_KEY = "X-Amz-Tagging"
STORAGE_CLASS_KEY = "x-amz-storage-class"
CHECKSUM_KEY = "x-minio-internal-crc"


@dataclass(slots=True)
class PartInfo:
    number: int
    size: int
    etag: str
    mod_time_ns: int = 0
    actual_size: int = 0
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ObjectInfo:
    bucket: str
    key: str
    version_id: str = "null"
    is_latest: bool = True
    delete_marker: bool = False
    size: int = 0
    etag: str = ""
    mod_time_ns: int = 0
    metadata: dict[str, str] = field(default_factory=dict)  # MetaUsr as stored
    parts: list[PartInfo] = field(default_factory=list)
    checksum_blob: bytes | None = None
    data_shards: int = 0
    parity_shards: int = 0

    @property
    def content_type(self) -> str:
        return self.metadata.get("content-type", "application/octet-stream")

    @property
    def user_metadata(self) -> dict[str, str]:
        """x-amz-meta-* entries, keys lower-cased as S3 returns them."""
        return {k.lower(): v for k, v in self.metadata.items() if k.lower().startswith("x-amz-meta-")}

    @property
    def tagging(self) -> str:
        return self.metadata.get(TAGGING_KEY, "")

    @classmethod
    def from_version(cls, bucket: str, key: str, version: ObjectVersion | DeleteMarker,
                     is_latest: bool = True) -> ObjectInfo:
        vid = version_id_str(version.version_id)
        if isinstance(version, DeleteMarker):
            return cls(bucket, key, vid, is_latest, True, mod_time_ns=version.mod_time)
        meta = dict(version.meta_usr or {})
        etag = meta.pop("etag", "")
        parts = [
            PartInfo(p.number, p.actual_size if p.actual_size is not None else p.size, p.etag or "",
                     actual_size=p.actual_size or p.size)
            for p in version.parts
        ]
        return cls(
            bucket, key, vid, is_latest, False,
            size=version.actual_size, etag=etag, mod_time_ns=version.mod_time, metadata=meta,
            parts=parts, checksum_blob=version.meta_sys_get(CHECKSUM_KEY),
            data_shards=version.ec_m, parity_shards=version.ec_n,
        )


Precondition = Callable[[ObjectInfo | None], None]


@dataclass(slots=True)
class PutOptions:
    metadata: dict[str, str] = field(default_factory=dict)  # MetaUsr: headers + X-Amz-Meta-*
    versioned: bool = False
    version_suspended: bool = False
    hashers: Sequence[Any] = ()  # extra hashers fed the body (S3 checksums, payload SHA-256)
    # Called after the body is stored but before it becomes visible; raising aborts the put.
    verify_body: Callable[[], None] | None = None
    # Called under the object's lock with what is current; raising aborts (If-Match etc.).
    precondition: Precondition | None = None
    checksum_blob: bytes | None = None  # x-minio-internal-crc to store
    # Known body MD5 (copy) instead of computing one.
    etag: str | None = None
    # Content-MD5 the client sent: the computed MD5 must equal it (else BadDigest).
    content_md5: bytes | None = None


@dataclass(slots=True)
class DeleteResult:
    key: str
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None


@dataclass(slots=True)
class ListObjectsResult:
    objects: list[ObjectInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_marker: str = ""  # last key (or prefix) returned, for continuation
    next_version_id_marker: str = ""


@dataclass(slots=True)
class BucketInfo:
    name: str
    created_ns: int


# -- multipart uploads ---------------------------------------------------------------------


@dataclass(slots=True)
class MultipartInfo:
    """One multipart upload in progress: what was declared when it was created."""

    bucket: str
    key: str
    upload_id: str
    initiated_ns: int = 0
    metadata: dict[str, str] = field(default_factory=dict)  # the future object's MetaUsr
    checksum_algorithm: str = ""  # S3 name ("CRC32C"), or "" when none was declared
    checksum_type: str = ""  # "COMPOSITE" or "FULL_OBJECT" when an algorithm was declared

    @property
    def content_type(self) -> str:
        return self.metadata.get("content-type", "application/octet-stream")


@dataclass(slots=True)
class CompletePart:
    """One <Part> of a CompleteMultipartUpload request (checksums: S3 name -> base64)."""

    number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ListPartsResult:
    upload: MultipartInfo
    parts: list[PartInfo] = field(default_factory=list)
    part_number_marker: int = 0
    next_part_number_marker: int = 0  # the last part listed (0 when none)
    max_parts: int = 1000
    is_truncated: bool = False


@dataclass(slots=True)
class ListUploadsResult:
    uploads: list[MultipartInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    next_key_marker: str = ""  # last key (or common prefix) returned
    next_upload_id_marker: str = ""  # last upload id returned ("" when a prefix came last)
