"""Multipart uploads on disk: upload ids, the upload and part records, pure helpers.

One upload lives on every drive of its key's erasure set::

    .minio.sys/multipart/<sha256 hex of "bucket/key">/<upload uuid>/
        xl.meta          the upload: an xl.meta holding one ObjectVersion (data dir,
                         erasure layout, EcDist, initiation time, future MetaUsr)
        part.N.meta      one uploaded part: number, ETag, sizes, time, checksums
        <data-dir>/part.N    the part's bitrot-framed shard stream (never inline)

Completion renames ``<data-dir>`` as a whole into the object, which is why the
part records sit beside it rather than in it. The upload id handed to clients
is MinIO's: unpadded base64url of ``"<deployment id>.<upload uuid>"``.

Nothing here does I/O: ids, paths, record encodings, agreeing on the upload
record from the drives' answers, the multipart ETag, the ``x-minio-internal-crc``
blob of a completed upload, and the pages of a ListMultipartUploads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from liteio import checksums as cks
from liteio.meta import checksums as blob_bits
from liteio.meta.errors import XLMetaError
from liteio.meta.ids import NULL_VERSION_ID
from liteio.meta.msgp import MSGPACK_ERRORS
from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.object.types import ListUploadsResult, MultipartInfo, PartInfo
from liteio.storage import errors as serr
from liteio.storage.paths import MULTIPART_DIR, XL_META

MIN_PART_SIZE = 5 << 20  # S3: every part but the last is at least 5 MiB
MAX_PART_SIZE = 5 << 30
MAX_PART_NUMBER = 10_000

# MetaUsr keys of the upload record (MinIO's names; dropped from the final object).
CHECKSUM_ALGORITHM_KEY = "x-minio-multipart-checksum"
CHECKSUM_TYPE_KEY = "x-minio-multipart-checksum-type"
# MetaSys keys of the upload record: which object it is for (listing needs it;
# the directory name is a one-way hash).
BUCKET_KEY = "x-liteio-internal-multipart-bucket"
OBJECT_KEY = "x-liteio-internal-multipart-object"

PART_RECORD_VERSION = 1
_PART_META = re.compile(r"part\.([1-9][0-9]{0,4})\.meta")
_HASH_DIR = re.compile(r"[0-9a-f]{64}")

# Answers meaning "this drive has no such upload" (rather than "cannot tell").
_ABSENT = (serr.FileNotFound, serr.VolumeNotFound, serr.FileCorrupt)

# Bits of the x-minio-internal-crc type field, by S3 algorithm name.
_ALGORITHM_BITS = {"SHA256": 2, "SHA1": 4, "CRC32": 8, "CRC32C": 16, "CRC64NVME": 256}


class RecordCorrupt(ValueError):
    """An upload or part record that cannot be decoded."""


# -- ids and paths ------------------------------------------------------------------------


def new_upload_id(deployment_id: str) -> tuple[str, str]:
    """(upload id for the client, upload uuid naming its directory)."""
    upload_uuid = str(uuid.uuid4())
    return encode_upload_id(deployment_id, upload_uuid), upload_uuid


def encode_upload_id(deployment_id: str, upload_uuid: str) -> str:
    raw = f"{deployment_id}.{upload_uuid}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _canonical_uuid(text: str) -> str | None:
    try:
        return text if str(uuid.UUID(text)) == text else None
    except ValueError:
        return None


def upload_uuid_of(upload_id: str) -> str | None:
    """The directory name an upload id stands for, or None if it is not one of ours.

    As MinIO does, a bare UUID is accepted too. Only canonical UUIDs come out, so
    an upload id can never steer a path elsewhere.
    """
    if not upload_id or len(upload_id) > 512:
        return None
    try:
        padded = upload_id + "=" * (-len(upload_id) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return _canonical_uuid(upload_id)
    _, dot, tail = text.partition(".")
    if not dot:
        return _canonical_uuid(upload_id)
    return _canonical_uuid(tail)


def object_hash_dir(bucket: str, key: str) -> str:
    """``multipart/<sha256 hex of "bucket/key">``: every upload of one key."""
    return f"{MULTIPART_DIR}/{hashlib.sha256(f'{bucket}/{key}'.encode()).hexdigest()}"


def upload_dir(bucket: str, key: str, upload_uuid: str) -> str:
    """The upload's directory in the system volume."""
    return f"{object_hash_dir(bucket, key)}/{upload_uuid}"


def upload_meta_path(updir: str) -> str:
    return f"{updir}/{XL_META}"


def part_meta_path(updir: str, number: int) -> str:
    return f"{updir}/part.{number}.meta"


def part_number_of(name: str) -> int | None:
    """N of a ``part.N.meta`` directory entry, else None."""
    m = _PART_META.fullmatch(name)
    return int(m.group(1)) if m else None


def is_hash_dir(name: str) -> bool:
    return _HASH_DIR.fullmatch(name) is not None


def is_upload_dir(name: str) -> bool:
    return _canonical_uuid(name) is not None


def lock_name(upload_uuid: str) -> str:
    """Namespace lock of one upload: part records, complete, abort and cleanup.

    Bucket names cannot hold ':', so this never meets an object's lock; the uuid
    alone is unique, which lets cleanup lock uploads whose record is lost.
    """
    return f"multipart:{upload_uuid}"


# -- the upload record ----------------------------------------------------------------------


@dataclass(slots=True)
class UploadRecord:
    """What ``new_multipart_upload`` decided, as every drive of the set keeps it."""

    bucket: str
    key: str
    upload_uuid: str
    data_dir: bytes
    ec_m: int
    ec_n: int
    block_size: int
    dist: list[int]
    initiated_ns: int
    metadata: dict[str, str] = field(default_factory=dict)  # the future object's MetaUsr
    checksum_algorithm: str = ""
    checksum_type: str = ""

    @property
    def identity(self) -> tuple[bytes, int]:
        """What makes two drives' records the same upload."""
        return self.data_dir, self.initiated_ns

    @property
    def data_dir_text(self) -> str:
        return str(uuid.UUID(bytes=self.data_dir))

    def info(self, upload_id: str) -> MultipartInfo:
        return MultipartInfo(self.bucket, self.key, upload_id, self.initiated_ns,
                             dict(self.metadata), self.checksum_algorithm, self.checksum_type)

    def dump(self, shard_number: int) -> bytes:
        """The xl.meta for the drive holding shard ``shard_number`` (1-based)."""
        meta_usr = dict(self.metadata)
        if self.checksum_algorithm:
            meta_usr[CHECKSUM_ALGORITHM_KEY] = self.checksum_algorithm
            meta_usr[CHECKSUM_TYPE_KEY] = self.checksum_type
        version = ObjectVersion(
            version_id=NULL_VERSION_ID, data_dir=self.data_dir, ec_m=self.ec_m, ec_n=self.ec_n,
            ec_block_size=self.block_size, ec_index=shard_number, ec_dist=list(self.dist),
            mod_time=self.initiated_ns, meta_usr=meta_usr,
            meta_sys={BUCKET_KEY: self.bucket.encode(),
                      OBJECT_KEY: self.key.encode("utf-8", "surrogateescape")},
        )
        xl = XLMeta()
        xl.add_version(version)
        return xl.dump()

    @classmethod
    def load(cls, raw: bytes, upload_uuid: str) -> UploadRecord:
        try:
            version = XLMeta.load(raw).latest()
        except XLMetaError as exc:
            raise RecordCorrupt(f"upload {upload_uuid}: {exc}") from None
        if not isinstance(version, ObjectVersion):
            raise RecordCorrupt(f"upload {upload_uuid}: xl.meta holds no object version")
        bucket = version.meta_sys_get(BUCKET_KEY)
        key = version.meta_sys_get(OBJECT_KEY)
        if bucket is None or key is None or version.ec_m < 1:
            raise RecordCorrupt(f"upload {upload_uuid}: not an upload record")
        meta = dict(version.meta_usr or {})
        algorithm = meta.pop(CHECKSUM_ALGORITHM_KEY, "")
        ctype = meta.pop(CHECKSUM_TYPE_KEY, "")
        return cls(
            bucket.decode("utf-8", "surrogateescape"), key.decode("utf-8", "surrogateescape"),
            upload_uuid, version.data_dir, version.ec_m, version.ec_n, version.ec_block_size,
            list(version.ec_dist), version.mod_time, meta, algorithm, ctype,
        )


def agree_upload(raw: Sequence[bytes | BaseException], upload_uuid: str
                 ) -> tuple[UploadRecord | None, list[int], int]:
    """From each drive's answer to reading the upload's xl.meta: (the record most
    drives hold, those drives, how many drives have no record at all)."""
    tally: dict[tuple[bytes, int], list[int]] = {}
    records: dict[tuple[bytes, int], UploadRecord] = {}
    absent = 0
    for i, result in enumerate(raw):
        if isinstance(result, BaseException):
            absent += isinstance(result, _ABSENT)
            continue
        try:
            record = UploadRecord.load(result, upload_uuid)
        except RecordCorrupt:
            absent += 1
            continue
        tally.setdefault(record.identity, []).append(i)
        records.setdefault(record.identity, record)
    if not tally:
        return None, [], absent
    identity, holders = max(tally.items(), key=lambda item: len(item[1]))
    return records[identity], holders, absent


# -- part records ---------------------------------------------------------------------------


@dataclass(slots=True)
class PartRecord:
    """``part.N.meta``: one uploaded part, written atomically after its shards."""

    number: int
    etag: str
    size: int
    actual_size: int
    mod_time_ns: int
    checksums: dict[str, str] = field(default_factory=dict)  # S3 name -> base64

    @property
    def identity(self) -> tuple[int, str, int, int]:
        """Same identity on two drives means the same bytes, hence matching shards."""
        return self.number, self.etag, self.size, self.actual_size

    def info(self) -> PartInfo:
        return PartInfo(self.number, self.size, self.etag, self.mod_time_ns, self.actual_size,
                        dict(self.checksums))

    def dump(self) -> bytes:
        # Short keys as MinIO's ObjectPartInfo uses; "v" versions the record.
        return msgpack.packb({
            "v": PART_RECORD_VERSION, "n": self.number, "e": self.etag, "s": self.size,
            "as": self.actual_size, "mt": self.mod_time_ns, "crc": self.checksums,
        }, use_bin_type=True)

    @classmethod
    def load(cls, raw: bytes) -> PartRecord:
        try:
            doc: Any = msgpack.unpackb(raw, raw=False)
        except MSGPACK_ERRORS as exc:
            raise RecordCorrupt(f"part record: {exc}") from None
        if not isinstance(doc, dict) or doc.get("v") != PART_RECORD_VERSION:
            raise RecordCorrupt("part record: unknown layout")
        number, etag, size = doc.get("n"), doc.get("e"), doc.get("s")
        actual, mtime, crc = doc.get("as", size), doc.get("mt", 0), doc.get("crc") or {}
        if not (isinstance(number, int) and isinstance(size, int) and isinstance(actual, int)
                and isinstance(mtime, int) and isinstance(etag, str) and isinstance(crc, dict)):
            raise RecordCorrupt("part record: missing fields or bad field types")
        return cls(number, etag, size, actual, mtime,
                   {str(k): str(v) for k, v in crc.items()})


# -- completion ------------------------------------------------------------------------------


def canonical_etag(etag: str) -> str:
    """An ETag as clients may quote it, compared the way S3 does."""
    return etag.strip().strip('"').lower()


def multipart_etag(etags: Sequence[str]) -> str:
    """S3's ETag of a multipart object: MD5 of the parts' binary MD5s, then ``-<count>``."""
    joined = bytearray()
    for etag in etags:
        text = canonical_etag(etag)
        try:
            joined += bytes.fromhex(text)
        except ValueError:
            joined += etag.encode()  # not an MD5 (as MinIO does: its bytes instead)
    return f"{hashlib.md5(joined).hexdigest()}-{len(etags)}"


def check_checksum_request(algorithm: str, ctype: str) -> tuple[str, str]:
    """Validated (S3 algorithm name, multipart type); ChecksumError otherwise."""
    if not algorithm:
        if ctype:
            raise cks.ChecksumError("a checksum type needs a checksum algorithm")
        return "", ""
    alg = cks.algorithm(algorithm)
    chosen = (ctype or alg.multipart_types[0]).upper()
    if chosen not in alg.multipart_types:
        raise cks.ChecksumError(f"{alg.name} has no {chosen} form")
    return alg.name, chosen


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def multipart_checksum(algorithm: str, ctype: str,
                       parts: Sequence[tuple[bytes, int]]) -> tuple[bytes, str]:
    """(``x-minio-internal-crc`` blob, header value) of a completed upload.

    ``parts`` are (raw part checksum, part size) in part order. The blob carries
    the object value, the part count and every part's checksum::

        uvarint type (algorithm | multipart | includes-multipart [| full-object])
        value | uvarint count | count x part checksum
    """
    digests = [digest for digest, _ in parts]
    if ctype == cks.FULL_OBJECT:
        alg = cks.algorithm(algorithm)
        combined = cks.full_object_crc(
            algorithm, ((int.from_bytes(d, "big"), size) for d, size in parts))
        value = combined.to_bytes(alg.digest_size, "big")
        shown = cks.to_b64(algorithm, value)
        bits = blob_bits.FULL_OBJECT
    else:
        shown = cks.composite_b64(algorithm, digests)
        value = cks.from_b64(algorithm, shown.rpartition("-")[0])
        bits = 0
    bits |= _ALGORITHM_BITS[algorithm] | blob_bits.MULTIPART | blob_bits.INCLUDES_MULTIPART
    blob = _uvarint(bits) + value + _uvarint(len(digests)) + b"".join(digests)
    return blob, shown


# -- ListMultipartUploads pages --------------------------------------------------------------


def paginate_uploads(uploads: Sequence[MultipartInfo], *, prefix: str = "", delimiter: str = "",
                     key_marker: str = "", upload_id_marker: str = "",
                     max_uploads: int = 1000) -> ListUploadsResult:
    """One page from ``uploads`` (all for the bucket, sorted by key, then initiation).

    With a delimiter, keys with it after the prefix fold into one common prefix,
    which counts as one entry. ``upload_id_marker`` applies to ``key_marker``'s
    uploads only; it names the last upload already seen.
    """
    result = ListUploadsResult()
    allowed: set[str] = set()
    if key_marker and upload_id_marker:
        same = [u.upload_id for u in uploads if u.key == key_marker]
        if upload_id_marker in same:
            allowed = set(same[same.index(upload_id_marker) + 1:])
        else:
            allowed = {i for i in same if i > upload_id_marker}
    emitted = 0
    last_prefix = ""
    for upload in uploads:
        if not upload.key.startswith(prefix):
            continue
        if key_marker and upload.key < key_marker:
            continue
        if key_marker and upload.key == key_marker and upload.upload_id not in allowed:
            continue
        common = ""
        if delimiter:
            cut = upload.key.find(delimiter, len(prefix))
            if cut >= 0:
                common = upload.key[: cut + len(delimiter)]
        if common and (common == last_prefix or (key_marker and common <= key_marker)):
            continue
        if emitted >= max_uploads:
            result.is_truncated = True
            break
        emitted += 1
        if common:
            last_prefix = common
            result.prefixes.append(common)
            result.next_key_marker, result.next_upload_id_marker = common, ""
        else:
            result.uploads.append(upload)
            result.next_key_marker, result.next_upload_id_marker = upload.key, upload.upload_id
    return result
