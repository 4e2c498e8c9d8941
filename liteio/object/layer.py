"""``ObjectLayer``: the whole store as the S3 front door sees it.

Objects are routed to an erasure set by SipHash-2-4 of the key under the
deployment id (MinIO's SIPMOD); buckets exist on every drive of every set.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from liteio._ext.keyhash import sip_mod
from liteio.heal import (
    DriveHealConfig,
    HealResult,
    HealService,
    MRFConfig,
    ScannerConfig,
    heal_object,
)
from liteio.meta.versions import ObjectVersion
from liteio.object import errors as oerr
from liteio.object.bucket_meta import BucketMetaCorrupt, BucketMetadata, metadata_key
from liteio.object.erasure_set import ErasureSet
from liteio.object.multipart import PartsRequest, SetMultipart
from liteio.object.multipart_meta import MIN_PART_SIZE
from liteio.object.multipart_scan import cleanup_stale, list_uploads
from liteio.object.names import check_bucket_name, check_object_key
from liteio.object.nslock import NamespaceLock
from liteio.object.reader import ObjectReader
from liteio.object.shared_state import SharedCounter
from liteio.object.types import (
    BucketInfo,
    DeleteResult,
    ListPartsResult,
    ListUploadsResult,
    MultipartInfo,
    ObjectInfo,
    PartInfo,
    PutOptions,
)
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import SYSTEM_VOLUME


async def _bytes_body(data: bytes) -> AsyncIterator[bytes]:
    yield data


class ObjectLayer:
    def __init__(self, sets: Sequence[Sequence[StorageAPI]], parity: int, deployment_id: str,
                 cpu: Executor | None = None, *, locks: NamespaceLock | None = None,
                 bucket_generation: SharedCounter | None = None) -> None:
        """``locks`` and ``bucket_generation`` are shared across worker processes when
        there are several: a bucket-setting change in one bumps the generation, and
        every worker drops its cached bucket metadata when it sees the bump."""
        self.deployment_id = deployment_id
        self._sip_key = uuid.UUID(deployment_id).bytes
        self.cpu = cpu or ThreadPoolExecutor(max_workers=4, thread_name_prefix="liteio-cpu")
        self.locks = locks if locks is not None else NamespaceLock()
        self._generation = bucket_generation
        self._seen_generation = bucket_generation.value if bucket_generation else 0
        self.sets = [ErasureSet(drives, parity, self.cpu, index=i, locks=self.locks)
                     for i, drives in enumerate(sets)]
        self._bucket_cache: dict[str, BucketMetadata] = {}
        self.healing: HealService | None = None  # [heal hook] see start_healing

    @property
    def drives(self) -> list[StorageAPI]:
        return [d for s in self.sets for d in s.drives]

    def set_for(self, key: str) -> ErasureSet:
        if len(self.sets) == 1:
            return self.sets[0]
        return self.sets[sip_mod(key.encode(), self._sip_key, len(self.sets))]

    async def close(self) -> None:
        await self.stop_healing()
        await asyncio.gather(*(d.close() for d in self.drives), return_exceptions=True)

    # -- healing (the work is in liteio/heal) [heal hook] ---------------------------------

    async def heal_object(self, bucket: str, key: str, *, deep: bool = False,
                          dry_run: bool = False) -> HealResult:
        """Repair every version of one object on every drive of its set (see
        ``liteio.heal.object_heal``); ``dry_run`` reports without changing anything."""
        if bucket != SYSTEM_VOLUME:
            check_object_key(key, bucket)
            await self.bucket_metadata(bucket)
        return await heal_object(self.set_for(key), bucket, key, deep=deep, dry_run=dry_run)

    async def start_healing(self, *, mrf: MRFConfig | None = None,
                            scanner: ScannerConfig | None = None,
                            drives: DriveHealConfig | None = None) -> HealService:
        """Start background healing: the MRF queue fed by degraded reads and writes, and
        (given a config each) the scanner and the refill of emptied or replaced drives.
        Stopped by ``stop_healing`` or ``close``."""
        await self.stop_healing()
        self.healing = HealService(self, mrf=mrf, scanner=scanner, drives=drives)
        await self.healing.start()
        return self.healing

    async def stop_healing(self) -> None:
        healing, self.healing = self.healing, None
        if healing is not None:
            await healing.stop()

    # -- buckets ------------------------------------------------------------------------

    async def make_bucket(self, bucket: str, *, lock_enabled: bool = False) -> None:
        check_bucket_name(bucket)
        async with self.locks.write(f"bucket:{bucket}"):
            results = await asyncio.gather(
                *(s.each_drive(lambda i, d: d.make_volume(bucket)) for s in self.sets))
            for erasure_set, per_drive in zip(self.sets, results):
                made = sum(not isinstance(r, BaseException) for r in per_drive)
                exists = sum(isinstance(r, serr.VolumeExists) for r in per_drive)
                if exists >= erasure_set.write_quorum:
                    raise oerr.BucketExists(bucket, bucket=bucket)
                if made + exists < erasure_set.write_quorum:
                    raise oerr.InsufficientWriteQuorum(f"creating bucket {bucket}", bucket=bucket)
            meta = BucketMetadata(bucket, lock_enabled=lock_enabled)
            await self._save_bucket_meta(meta)

    async def _save_bucket_meta(self, meta: BucketMetadata) -> None:
        key = metadata_key(meta.name)
        data = meta.dump()
        await self.set_for(key).put_object(
            SYSTEM_VOLUME, key, _bytes_body(data), len(data), PutOptions())
        self._bucket_cache[meta.name] = meta
        self._bump_generation()

    def _bump_generation(self) -> None:
        if self._generation is not None:
            self._seen_generation = self._generation.bump()

    async def bucket_metadata(self, bucket: str) -> BucketMetadata:
        """The bucket's configuration; BucketNotFound if the bucket does not exist."""
        if self._generation is not None:
            generation = self._generation.value
            if generation != self._seen_generation:
                self._bucket_cache.clear()
                self._seen_generation = generation
        cached = self._bucket_cache.get(bucket)
        if cached is not None:
            return cached
        if bucket == SYSTEM_VOLUME or not bucket:
            raise oerr.BucketNotFound(bucket, bucket=bucket)
        await self._stat_bucket(bucket)
        key = metadata_key(bucket)
        meta = BucketMetadata(bucket)
        try:
            reader = await self.set_for(key).open_object(SYSTEM_VOLUME, key)
            data = b"".join([chunk async for chunk in reader.stream()])
            meta = BucketMetadata.load(data)
        except oerr.ObjectNotFound:
            pass  # a bucket MinIO made before it kept metadata, or an adopted drive
        except BucketMetaCorrupt:
            pass  # keep serving with defaults; the bucket itself is fine
        self._bucket_cache[bucket] = meta
        return meta

    async def _stat_bucket(self, bucket: str) -> int:
        """Creation time (ns) from the volume dirs of the first set, by quorum."""
        erasure_set = self.sets[0]
        results = await erasure_set.each_drive(lambda i, d: d.stat_volume(bucket))
        found = [r for r in results if not isinstance(r, BaseException)]
        if len(found) >= erasure_set.read_quorum:
            return min(r.created_ns for r in found)
        missing = sum(isinstance(r, serr.VolumeNotFound) for r in results)
        if missing >= erasure_set.read_quorum:
            raise oerr.BucketNotFound(bucket, bucket=bucket)
        raise oerr.InsufficientReadQuorum(f"bucket {bucket}", bucket=bucket)

    async def get_bucket_info(self, bucket: str) -> BucketInfo:
        meta = await self.bucket_metadata(bucket)
        return BucketInfo(bucket, meta.created_ns)

    async def update_bucket_metadata(self, bucket: str,
                                     mutate: Callable[[BucketMetadata], None]) -> BucketMetadata:
        async with self.locks.write(f"bucket:{bucket}"):
            meta = await self.bucket_metadata(bucket)
            updated = BucketMetadata.load(meta.dump())
            mutate(updated)
            await self._save_bucket_meta(updated)
            return updated

    async def list_buckets(self) -> list[BucketInfo]:
        erasure_set = self.sets[0]
        results = await erasure_set.each_drive(lambda i, d: d.list_volumes())
        seen: dict[str, list[int]] = {}
        for result in results:
            if isinstance(result, BaseException):
                continue
            for vol in result:
                seen.setdefault(vol.name, []).append(vol.created_ns)
        names = sorted(n for n, c in seen.items() if len(c) >= erasure_set.read_quorum)
        # Creation time comes from the bucket metadata: a directory's times move with
        # its contents, and every worker must report the same date.
        metas = await asyncio.gather(*(self.bucket_metadata(n) for n in names),
                                     return_exceptions=True)
        return [BucketInfo(n, m.created_ns) if isinstance(m, BucketMetadata)
                else BucketInfo(n, min(seen[n])) for n, m in zip(names, metas)]

    async def delete_bucket(self, bucket: str, *, force: bool = False) -> None:
        await self.bucket_metadata(bucket)
        async with self.locks.write(f"bucket:{bucket}"):
            if not force and await self._bucket_has_objects(bucket):
                raise oerr.BucketNotEmpty(bucket, bucket=bucket)
            results = await asyncio.gather(
                *(s.each_drive(lambda i, d: d.delete_volume(bucket, force=True)) for s in self.sets))
            for erasure_set, per_drive in zip(self.sets, results):
                done = sum(not isinstance(r, BaseException) or isinstance(r, serr.VolumeNotFound)
                           for r in per_drive)
                if done < erasure_set.write_quorum:
                    raise oerr.InsufficientWriteQuorum(f"deleting bucket {bucket}", bucket=bucket)
            self._bucket_cache.pop(bucket, None)
            self._bump_generation()
            key = metadata_key(bucket)
            await self.set_for(key).delete_object(SYSTEM_VOLUME, key)
            await asyncio.gather(*(
                s.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, f"buckets/{bucket}", recursive=True))
                for s in self.sets))

    async def _bucket_has_objects(self, bucket: str) -> bool:
        for erasure_set in self.sets:
            for drive in erasure_set.drives:
                if not drive.is_online():
                    continue
                try:
                    async for _ in drive.walk(bucket, "", recursive=True):
                        return True
                except serr.StorageError:
                    continue
        return False

    # -- objects --------------------------------------------------------------------------

    async def put_object(self, bucket: str, key: str, body: AsyncIterator[Any], size: int,
                         opts: PutOptions | None = None) -> ObjectInfo:
        check_object_key(key, bucket)
        meta = await self.bucket_metadata(bucket)
        opts = opts or PutOptions()
        opts.versioned = meta.versioned
        opts.version_suspended = meta.suspended
        return await self.set_for(key).put_object(bucket, key, body, size, opts)

    async def open_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectReader:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self.set_for(key).open_object(bucket, key, version_id)

    async def get_object_info(self, bucket: str, key: str,
                              version_id: str | None = None) -> ObjectInfo:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self.set_for(key).get_object_info(bucket, key, version_id)

    async def delete_object(self, bucket: str, key: str,
                            version_id: str | None = None) -> DeleteResult:
        check_object_key(key, bucket)
        meta = await self.bucket_metadata(bucket)
        return await self.set_for(key).delete_object(
            bucket, key, version_id, versioned=meta.versioned, suspended=meta.suspended)

    async def update_object(self, bucket: str, key: str, version_id: str | None,
                            mutate: Callable[[ObjectVersion], None]) -> ObjectInfo:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self.set_for(key).update_object(bucket, key, version_id, mutate)

    async def copy_object(self, src_bucket: str, src_key: str, src_version: str | None,
                          dst_bucket: str, dst_key: str, opts: PutOptions,
                          replace_metadata: bool) -> ObjectInfo:
        """Copy (streamed through the erasure pipeline); metadata kept or replaced."""
        reader = await self.open_object(src_bucket, src_key, src_version)
        source = reader.info
        dst_meta = await self.bucket_metadata(dst_bucket)
        same = (src_bucket, src_key) == (dst_bucket, dst_key)
        if not replace_metadata:
            opts.metadata = dict(source.metadata)
        if same and not dst_meta.versioned and src_version in (None, source.version_id):
            # Onto itself in an unversioned bucket: only the metadata changes.
            new_meta = {"etag": source.etag, **opts.metadata}
            now = time.time_ns()  # one timestamp for all drives, or they would disagree

            def mutate(version: ObjectVersion) -> None:
                version.meta_usr = dict(new_meta)
                version.mod_time = now

            return await self.update_object(dst_bucket, dst_key, src_version, mutate)
        opts.etag = None if source.parts and len(source.parts) > 1 else source.etag
        return await self.put_object(dst_bucket, dst_key, reader.stream(), source.size, opts)

    # -- multipart uploads (the work is in multipart.py) ------------------------------------

    def _multipart(self, key: str) -> SetMultipart:
        return SetMultipart(self.set_for(key), self.deployment_id)

    async def new_multipart_upload(self, bucket: str, key: str, opts: PutOptions | None = None,
                                   *, checksum_algorithm: str = "",
                                   checksum_type: str = "") -> str:
        """Start an upload; returns its id. ``opts.metadata`` becomes the object's MetaUsr;
        ``checksum_algorithm``/``checksum_type`` are x-amz-checksum-algorithm/-type."""
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self._multipart(key).new_upload(
            bucket, key, opts or PutOptions(), checksum_algorithm, checksum_type)

    async def get_multipart_info(self, bucket: str, key: str, upload_id: str) -> MultipartInfo:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self._multipart(key).info(bucket, key, upload_id)

    async def put_object_part(self, bucket: str, key: str, upload_id: str, part_number: int,
                              body: AsyncIterator[Any], size: int,
                              opts: PutOptions | None = None) -> PartInfo:
        """Store one part (ETag: MD5 hex, unquoted). Uses ``opts.hashers``,
        ``opts.verify_body`` and ``opts.etag`` as put_object does."""
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self._multipart(key).put_part(
            bucket, key, upload_id, part_number, body, size, opts or PutOptions())

    async def copy_object_part(self, src_bucket: str, src_key: str, src_version: str | None,
                               dst_bucket: str, dst_key: str, upload_id: str, part_number: int,
                               offset: int = 0, length: int | None = None,
                               opts: PutOptions | None = None) -> PartInfo:
        """UploadPartCopy: [offset, offset + length) of the source (default: all of it)."""
        await self.get_multipart_info(dst_bucket, dst_key, upload_id)  # before opening the source
        reader = await self.open_object(src_bucket, src_key, src_version)
        size = reader.info.size
        length = size - offset if length is None else length
        if offset < 0 or length < 0 or offset + length > size:
            async for _ in reader.stream(0, 0):  # an empty read releases what opening held
                pass
            raise oerr.InvalidRange(f"bytes {offset}+{length} of {size}", bucket=src_bucket,
                                    key=src_key, size=size)
        return await self.put_object_part(dst_bucket, dst_key, upload_id, part_number,
                                          reader.stream(offset, length), length, opts)

    async def list_parts(self, bucket: str, key: str, upload_id: str,
                         part_number_marker: int = 0, max_parts: int = 1000) -> ListPartsResult:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        return await self._multipart(key).list_parts(
            bucket, key, upload_id, part_number_marker, max_parts)

    async def list_multipart_uploads(self, bucket: str, prefix: str = "", delimiter: str = "",
                                     key_marker: str = "", upload_id_marker: str = "",
                                     max_uploads: int = 1000) -> ListUploadsResult:
        await self.bucket_metadata(bucket)
        return await list_uploads(
            self.sets, self.deployment_id, bucket, prefix=prefix, delimiter=delimiter,
            key_marker=key_marker, upload_id_marker=upload_id_marker, max_uploads=max_uploads)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        check_object_key(key, bucket)
        await self.bucket_metadata(bucket)
        await self._multipart(key).abort(bucket, key, upload_id)

    async def complete_multipart_upload(self, bucket: str, key: str, upload_id: str,
                                        parts: PartsRequest, opts: PutOptions | None = None,
                                        *, min_part_size: int = MIN_PART_SIZE) -> ObjectInfo:
        """``parts``: (number, etag) pairs or ``CompletePart``s, ascending.
        ``opts.precondition`` is honoured; versioning comes from the bucket."""
        check_object_key(key, bucket)
        meta = await self.bucket_metadata(bucket)
        opts = opts or PutOptions()
        opts.versioned = meta.versioned
        opts.version_suspended = meta.suspended
        return await self._multipart(key).complete(
            bucket, key, upload_id, parts, opts, min_part_size)

    async def cleanup_stale_uploads(self, older_than_seconds: float) -> int:
        """Remove uploads initiated longer ago than this; returns how many."""
        return await cleanup_stale(self.sets, older_than_seconds)
