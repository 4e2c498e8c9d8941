"""Every multipart upload of a set: ListMultipartUploads and the stale-upload sweep.

Upload directories are named by a hash of "bucket/key", so both walk all of
``.minio.sys/multipart`` on every drive and read each upload's record to learn
its bucket and key. An upload counts when a read quorum of drives holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from liteio.object.erasure_set import ErasureSet
from liteio.object.multipart_meta import (
    UploadRecord,
    agree_upload,
    encode_upload_id,
    is_hash_dir,
    is_upload_dir,
    lock_name,
    paginate_uploads,
    upload_meta_path,
)
from liteio.object.types import ListUploadsResult, MultipartInfo
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import MULTIPART_DIR, SYSTEM_VOLUME


async def scan_set(es: ErasureSet, *, prune: bool = False) -> dict[tuple[str, str], list[int]]:
    """(hash dir, upload uuid) -> set positions whose drive has that upload dir.
    ``prune`` removes empty hash dirs met on the way."""

    async def uploads_on(i: int, drive: StorageAPI) -> list[tuple[str, str]]:
        try:
            hashes = await drive.list_dir(SYSTEM_VOLUME, MULTIPART_DIR)
        except serr.FileNotFound:
            return []
        found: list[tuple[str, str]] = []
        for entry in hashes:
            name = entry.rstrip("/")
            if not entry.endswith("/") or not is_hash_dir(name):
                continue
            try:
                ups = await drive.list_dir(SYSTEM_VOLUME, f"{MULTIPART_DIR}/{name}")
            except serr.FileNotFound:
                continue  # removed while we listed
            if not ups and prune:
                # NOTE: a new upload racing this rmdir retries its mkdir.
                with contextlib.suppress(serr.StorageError):
                    await drive.delete(SYSTEM_VOLUME, f"{MULTIPART_DIR}/{name}")
            found.extend((name, u.rstrip("/")) for u in ups
                         if u.endswith("/") and is_upload_dir(u.rstrip("/")))
        return found

    tally: dict[tuple[str, str], list[int]] = {}
    for i, found in enumerate(await es.each_drive(uploads_on)):
        if not isinstance(found, BaseException):
            for entry in found:
                tally.setdefault(entry, []).append(i)
    return tally


async def _records_at(es: ErasureSet, hash_dir: str, upload_uuid: str
                      ) -> tuple[UploadRecord | None, list[int], int]:
    path = upload_meta_path(f"{MULTIPART_DIR}/{hash_dir}/{upload_uuid}")
    raw = await es.each_drive(lambda i, d: d.read_all(SYSTEM_VOLUME, path))
    return agree_upload(raw, upload_uuid)


async def set_uploads(es: ErasureSet, deployment_id: str, bucket: str,
                      prefix: str) -> list[MultipartInfo]:
    """Uploads of ``bucket`` under ``prefix`` that a read quorum of the set's drives holds."""
    out = []
    for (hash_dir, upload_uuid), positions in (await scan_set(es)).items():
        if len(positions) < es.read_quorum:
            continue
        record, holders, _ = await _records_at(es, hash_dir, upload_uuid)
        if record is None or len(holders) < es.read_quorum:
            continue
        if record.bucket == bucket and record.key.startswith(prefix):
            out.append(record.info(encode_upload_id(deployment_id, upload_uuid)))
    return out


async def _remove(es: ErasureSet, updir: str) -> None:
    await es.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, updir, recursive=True))


async def set_cleanup(es: ErasureSet, older_than_ns: int) -> int:
    """Remove uploads initiated before ``older_than_ns``, and upload dirs whose record
    no drive has (a crash mid-abort); how many went."""
    removed = 0
    for hash_dir, upload_uuid in await scan_set(es, prune=True):
        async with es.locks.write(lock_name(upload_uuid)):
            record, _, _ = await _records_at(es, hash_dir, upload_uuid)
            if record is None or record.initiated_ns < older_than_ns:
                await _remove(es, f"{MULTIPART_DIR}/{hash_dir}/{upload_uuid}")
                removed += 1
    return removed


async def list_uploads(sets: Sequence[ErasureSet], deployment_id: str, bucket: str, *,
                       prefix: str = "", delimiter: str = "", key_marker: str = "",
                       upload_id_marker: str = "", max_uploads: int = 1000) -> ListUploadsResult:
    """ListMultipartUploads across every set: sorted by key, then initiation time."""
    found = await asyncio.gather(*(set_uploads(s, deployment_id, bucket, prefix) for s in sets))
    # Code points sort like UTF-8 bytes, S3's key order.
    every = sorted((u for per_set in found for u in per_set),
                   key=lambda u: (u.key, u.initiated_ns, u.upload_id))
    return paginate_uploads(every, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
                            upload_id_marker=upload_id_marker, max_uploads=max(0, max_uploads))


async def cleanup_stale(sets: Sequence[ErasureSet], older_than_seconds: float) -> int:
    """Remove uploads older than the limit on every set; how many went."""
    cutoff = time.time_ns() - int(older_than_seconds * 1_000_000_000)
    return sum(await asyncio.gather(*(set_cleanup(s, cutoff) for s in sets)))
