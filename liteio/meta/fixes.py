"""Load-time fixes MinIO applies to versions written by older releases.

Both change a body and therefore its signature, so a reader that skips them
disagrees with MinIO (and with other drives MinIO has rewritten) about which
versions match. They are idempotent: a fixed body never needs fixing again.

* metaVersion < 2, delete markers: replication timestamps written with a
  local offset ("...+08:00") are rewritten in UTC ("...Z").
* metaVersion < 3, objects with a compression index (PartIdx) written by
  releases in a window that kept indexes for small parts: indexes of parts
  whose actual size is <= 8 MiB are dropped, PartIdx removed if all empty.

The ``needs_*`` checks run on a version's header and raw body so that a
shallow load only decodes the few bodies that can need a fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from liteio.meta.header import TYPE_DELETE_MARKER, TYPE_OBJECT, VersionHeader
from liteio.meta.ids import format_rfc3339_nano, parse_rfc3339_nano
from liteio.meta.versions import COMPRESSION_KEY, DeleteMarker, ObjectVersion, lookup_ci

REPLICATION_TIMESTAMP_KEYS = (
    "x-minio-internal-replication-timestamp",
    "x-minio-internal-replica-timestamp",
)
S2_COMPRESSION = b"klauspost/compress/s2"
# Releases (the "v" field, Unix seconds) whose compressed objects carry the
# over-eager part indexes.
INDEX_FIX_FIRST_RELEASE = 1701471618
INDEX_FIX_LAST_RELEASE = 1730156418
INDEX_MIN_PART_SIZE = 8 << 20


@dataclass(slots=True, frozen=True)
class LoadFix:
    """What a load-time fix changed, kept for diagnostics (``debug xl-meta``)."""

    version_id: bytes
    fix: str
    stored_signature: bytes
    signature: bytes


def needs_timestamp_fix(meta_version: int, header: VersionHeader, body: bytes) -> bool:
    return meta_version < 2 and header.type == TYPE_DELETE_MARKER and b"-timestamp" in body


def fix_timestamps(rec: DeleteMarker) -> bool:
    """Rewrite replication timestamps in UTC; returns whether anything changed."""
    if not rec.meta_sys:
        return False
    changed = False
    for key in REPLICATION_TIMESTAMP_KEYS:
        raw = rec.meta_sys.get(key)
        if raw is None:
            continue
        ns = parse_rfc3339_nano(raw.decode("utf-8", "replace"))
        if ns is None:
            continue  # MinIO leaves values it cannot parse alone
        utc = format_rfc3339_nano(ns).encode()
        if utc != raw:
            rec.meta_sys[key] = utc
            changed = True
    return changed


def needs_index_fix(meta_version: int, header: VersionHeader, body: bytes) -> bool:
    return meta_version < 3 and header.type == TYPE_OBJECT and b"PartIdx" in body


def fix_part_indices(rec: ObjectVersion) -> bool:
    """Drop compression indexes of small parts; returns whether anything changed."""
    if rec.part_indices is None or rec.part_actual_sizes is None:
        return False
    written_by = rec.written_by or 0
    if not INDEX_FIX_FIRST_RELEASE <= written_by <= INDEX_FIX_LAST_RELEASE:
        return False
    if lookup_ci(rec.meta_sys, COMPRESSION_KEY) != S2_COMPRESSION:
        return False
    kept = [
        index
        if i < len(rec.part_actual_sizes) and rec.part_actual_sizes[i] > INDEX_MIN_PART_SIZE
        else b""
        for i, index in enumerate(rec.part_indices)
    ]
    new_indices = kept if any(kept) else None
    if new_indices == rec.part_indices:
        return False
    rec.part_indices = new_indices
    return True
