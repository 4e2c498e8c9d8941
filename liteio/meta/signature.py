"""Version signatures and headers derived from a version body.

The 4-byte signature is a fingerprint of a body that drives compare to agree
on "the same version". It deliberately ignores what legitimately differs
between drives (``EcIndex``) or between writers (metadata map order, ``[""]``
vs nil ETags):

    h  = H_usr(MetaUsr) ^ H_sys(MetaSys)          order-independent map hashes
    h ^= xxh64(msgp(V2Obj with EcIndex=0, empty ETags/ASizes -> nil,
                       MetaSys=MetaUsr=nil))       canonical layout, no unknown keys
    sig = LE32((h ^ (h >> 32)) & 0xffffffff)

    H(m) = seed ^ XOR over entries of ((xxh3(k) ^ C_key) + (xxh3(v) ^ C_val)) mod 2^64

Delete markers hash MetaSys the same way, then encode with MetaSys omitted.
"""

from __future__ import annotations

import xxhash

from liteio.meta.bodyenc import encode_payload_canonical
from liteio.meta.header import (
    FLAG_FREE_VERSION,
    FLAG_INLINE_DATA,
    FLAG_USES_DATA_DIR,
    VersionHeader,
)
from liteio.meta.versions import (
    INLINE_DATA_KEY,
    TRANSITION_STATUS_KEY,
    DeleteMarker,
    ObjectVersion,
    Version,
    lookup_ci,
)

_MASK64 = (1 << 64) - 1
_SEED_USR = 0xC2B40BBAC11A7295
_SEED_SYS = 0x1BBC7E1DDE654743
_KEY_MIX = 0x4EE3BBAF7AB2506B
_VAL_MIX = 0x8DA4C8DA66194257

_xxh3 = xxhash.xxh3_64_intdigest
_xxh64 = xxhash.xxh64_intdigest


def _hash_usr(meta: dict[str, str] | None) -> int:
    h = _SEED_USR
    for k, v in (meta or {}).items():
        kb = k.encode("utf-8", "surrogateescape")
        vb = v.encode("utf-8", "surrogateescape")
        h ^= ((_xxh3(kb) ^ _KEY_MIX) + (_xxh3(vb) ^ _VAL_MIX)) & _MASK64
    return h


def _hash_sys(meta: dict[str, bytes] | None) -> int:
    h = _SEED_SYS
    for k, v in (meta or {}).items():
        kb = k.encode("utf-8", "surrogateescape")
        h ^= ((_xxh3(kb) ^ _KEY_MIX) + (_xxh3(v) ^ _VAL_MIX)) & _MASK64
    return h


def _fold(h: int) -> bytes:
    return ((h ^ (h >> 32)) & 0xFFFFFFFF).to_bytes(4, "little")


def signature_of(rec: Version) -> bytes:
    """The 4-byte header signature MinIO would store for this body."""
    if isinstance(rec, ObjectVersion):
        etags = rec.part_etags
        if etags is not None and all(not e for e in etags):
            etags = None
        h = _hash_usr(rec.meta_usr) ^ _hash_sys(rec.meta_sys)
        bare = {
            "ec_index": 0,
            "part_etags": etags,
            "part_actual_sizes": rec.part_actual_sizes or None,
            "meta_sys": None,
            "meta_usr": None,
        }
        return _fold(h ^ _xxh64(encode_payload_canonical(rec, bare)))
    if isinstance(rec, DeleteMarker):
        h = _hash_sys(rec.meta_sys)
        return _fold(h ^ _xxh64(encode_payload_canonical(rec, {"meta_sys": None})))
    # NOTE: MinIO signs legacy (V1Obj) bodies with a scheme the spec does not
    # cover; we fingerprint the raw map so drives still agree with each other.
    return _fold(_xxh64(rec.raw))


def _restored_on_disk(rec: ObjectVersion) -> bool:
    """A transitioned object whose data was brought back (S3 RestoreObject)."""
    restore = lookup_ci(rec.meta_usr, "x-amz-restore")
    return isinstance(restore, str) and 'ongoing-request="false"' in restore


def flags_of(rec: Version) -> int:
    if isinstance(rec, ObjectVersion):
        flags = FLAG_USES_DATA_DIR
        status = (rec.meta_sys or {}).get(TRANSITION_STATUS_KEY)
        if status == b"complete" and not _restored_on_disk(rec):
            flags = 0
        if rec.meta_sys is not None and INLINE_DATA_KEY in rec.meta_sys:
            flags |= FLAG_INLINE_DATA
        return flags
    if isinstance(rec, DeleteMarker):
        return FLAG_FREE_VERSION if rec.is_free_version else 0
    return 0


def header_of(rec: Version) -> VersionHeader:
    """The header MinIO's writer derives from a body (used for every write)."""
    ec_n = ec_m = 0
    if isinstance(rec, ObjectVersion):
        if not (0 <= rec.ec_n <= 0xFF and 0 <= rec.ec_m <= 0xFF):
            raise ValueError(f"EcN/EcM out of range for a header: {rec.ec_n}/{rec.ec_m}")
        ec_n, ec_m = rec.ec_n, rec.ec_m
    return VersionHeader(
        version_id=rec.version_id,
        mod_time=rec.mod_time,
        signature=signature_of(rec),
        type=rec.TYPE,
        flags=flags_of(rec),
        ec_n=ec_n,
        ec_m=ec_m,
    )
