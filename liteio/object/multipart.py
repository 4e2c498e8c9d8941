"""S3 multipart uploads over one erasure set (records and layout: ``multipart_meta``).

    new upload     record (xl.meta) on every drive          write quorum
    put part       encode -> tmp/<uuid>/part.N              (no lock: the slow part)
                   under the upload's lock: check the upload is still there, then
                   per drive: drop part.N.meta, rename the shards into the data
                   dir, write part.N.meta                   write quorum
    complete       under the upload's lock: agree on every listed part by read
                   quorum, drop unlisted part files, commit an object version whose
                   data dir is the upload's (ErasureSet.commit), remove the upload
    abort          under the upload's lock: remove the upload dir everywhere

A drive takes part in the completed object only if it holds the agreed record
of every listed part: a drive that missed (or half-took) a part upload would
otherwise contribute shards of different bytes, which Reed-Solomon cannot
detect. Part records name the bytes (number, ETag, sizes), so two uploads of
the same bytes agree.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from liteio import checksums as cks
from liteio.meta.ids import NULL_VERSION_ID
from liteio.meta.versions import ObjectVersion
from liteio.object import errors as oerr
from liteio.object.erasure_set import ErasureSet, hash_order, new_uuid
from liteio.object.multipart_meta import (
    MAX_PART_NUMBER,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    PartRecord,
    RecordCorrupt,
    UploadRecord,
    agree_upload,
    canonical_etag,
    check_checksum_request,
    lock_name,
    multipart_checksum,
    multipart_etag,
    new_upload_id,
    part_meta_path,
    part_number_of,
    upload_dir,
    upload_meta_path,
    upload_uuid_of,
)
from liteio.object.types import (
    CHECKSUM_KEY,
    CompletePart,
    ListPartsResult,
    MultipartInfo,
    ObjectInfo,
    PartInfo,
    PutOptions,
)
from liteio.storage import errors as serr
from liteio.storage.api import CommitResult, StorageAPI
from liteio.storage.paths import SYSTEM_VOLUME, encode_key

PartsRequest = Sequence[CompletePart | tuple[int, str]]


class SetMultipart:
    """The multipart operations of one erasure set (stateless; cheap to make per call)."""

    __slots__ = ("deployment_id", "set")

    def __init__(self, erasure_set: ErasureSet, deployment_id: str) -> None:
        self.set = erasure_set
        self.deployment_id = deployment_id

    # -- the upload record --------------------------------------------------------------

    async def new_upload(self, bucket: str, key: str, opts: PutOptions,
                         checksum_algorithm: str = "", checksum_type: str = "") -> str:
        es = self.set
        try:
            algorithm, ctype = check_checksum_request(checksum_algorithm, checksum_type)
        except cks.ChecksumError as exc:
            raise oerr.InvalidArgument(str(exc), bucket=bucket, key=key) from None
        upload_id, upload_uuid = new_upload_id(self.deployment_id)
        record = UploadRecord(
            bucket, key, upload_uuid, new_uuid(), es.data, es.parity, es.block_size,
            hash_order(f"{bucket}/{key}", es.total), time.time_ns(), dict(opts.metadata),
            algorithm, ctype,
        )
        updir = upload_dir(bucket, key, upload_uuid)
        async with es.locks.write(lock_name(upload_uuid)):
            results = await es.each_drive(lambda i, d: d.write_all(
                SYSTEM_VOLUME, upload_meta_path(updir), record.dump(record.dist[i])))
            if sum(not isinstance(r, BaseException) for r in results) < es.write_quorum:
                await self._remove(updir)
                raise oerr.InsufficientWriteQuorum(
                    f"{key}: new multipart upload", bucket=bucket, key=key)
        return upload_id

    async def _load(self, bucket: str, key: str, upload_id: str, *,
                    writing: bool) -> tuple[UploadRecord, list[int]]:
        """The upload's record and the drives holding it (at least a read quorum)."""
        upload_uuid = upload_uuid_of(upload_id)
        if upload_uuid is None:
            raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
        path = upload_meta_path(upload_dir(bucket, key, upload_uuid))
        raw = await self.set.each_drive(lambda i, d: d.read_all(SYSTEM_VOLUME, path))
        record, holders, absent = agree_upload(raw, upload_uuid)
        if record is not None and len(holders) >= self.set.read_quorum:
            if (record.bucket, record.key) != (bucket, key):
                raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
            return record, holders
        if absent >= self.set.read_quorum:
            raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
        error = oerr.InsufficientWriteQuorum if writing else oerr.InsufficientReadQuorum
        raise error(f"{key}: upload {upload_id} on too few drives", bucket=bucket, key=key)

    async def info(self, bucket: str, key: str, upload_id: str) -> MultipartInfo:
        record, _ = await self._load(bucket, key, upload_id, writing=False)
        return record.info(upload_id)

    async def _remove(self, updir: str, positions: Sequence[int] | None = None
                      ) -> list[None | BaseException]:
        return await self.set.each_drive(
            lambda i, d: d.delete(SYSTEM_VOLUME, updir, recursive=True), positions)

    # -- parts ------------------------------------------------------------------------------

    async def put_part(self, bucket: str, key: str, upload_id: str, number: int,
                       body: AsyncIterator[Any], size: int, opts: PutOptions) -> PartInfo:
        es = self.set
        if not 1 <= number <= MAX_PART_NUMBER:
            raise oerr.InvalidArgument(
                f"part number {number} is not in 1..{MAX_PART_NUMBER}", bucket=bucket, key=key)
        if size > MAX_PART_SIZE:
            raise oerr.EntityTooLarge(f"part of {size} bytes", bucket=bucket, key=key)
        if size < 0:
            raise oerr.InvalidArgument(f"negative part size {size}", bucket=bucket, key=key)
        record, holders = await self._load(bucket, key, upload_id, writing=True)
        if len(holders) < es.write_quorum:
            raise oerr.InsufficientWriteQuorum(
                f"{key}: upload {upload_id} on {len(holders)} drives", bucket=bucket, key=key)
        dist = record.dist
        staging = f"tmp/{uuid.uuid4()}"
        staged = f"{staging}/part.{number}"
        try:
            sinks = await es.shard_sinks(staged, dist, holders)
            declared = record.checksum_algorithm
            if declared and declared not in _checksum_names(opts.hashers):
                opts = dataclasses.replace(opts, hashers=[*opts.hashers, cks.new(declared)])
            encoded = await es.encode(bucket, key, sinks, body, size, opts, record.block_size)
            alive = encoded.alive
            part = PartRecord(number, encoded.etag, size, size, time.time_ns(),
                              _checksum_values(encoded.hashers))
            await self._install_part(bucket, key, upload_id, record, staged, part,
                                     [i for i in holders if dist[i] - 1 in alive])
            return part.info()
        finally:
            await es.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, staging, recursive=True))

    async def _install_part(self, bucket: str, key: str, upload_id: str, record: UploadRecord,
                            staged: str, part: PartRecord, written: list[int]) -> None:
        """Move a staged part into the upload and record it, under the upload's lock."""
        es = self.set
        updir = upload_dir(bucket, key, record.upload_uuid)
        meta_path = part_meta_path(updir, part.number)
        final = f"{updir}/{record.data_dir_text}/part.{part.number}"
        data = part.dump()

        async def install(i: int, drive: StorageAPI) -> None:
            # Record gone first: a crash between the steps leaves the drive without
            # this part (outvoted), never a record describing other shards.
            try:
                await drive.delete(SYSTEM_VOLUME, meta_path)
            except serr.FileNotFound:
                pass
            await drive.rename(SYSTEM_VOLUME, staged, SYSTEM_VOLUME, final)
            await drive.write_all(SYSTEM_VOLUME, meta_path, data)

        async with es.locks.write(lock_name(record.upload_uuid)):
            # Completed or aborted meanwhile: the part has nowhere to go.
            now, holders = await self._load(bucket, key, upload_id, writing=True)
            if now.identity != record.identity:
                raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
            positions = [i for i in written if i in holders]
            results = await es.each_drive(install, positions)
            done = [i for i in positions if not isinstance(results[i], BaseException)]
            if len(done) < es.write_quorum:
                # Unrecorded shards are never read: the failed part is simply absent.
                await es.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, meta_path), done)
                raise oerr.InsufficientWriteQuorum(
                    f"{key}: part {part.number} stored on {len(done)} drives, "
                    f"{es.write_quorum} needed", bucket=bucket, key=key)

    async def _part_records(self, updir: str, positions: Sequence[int], numbers: Sequence[int]
                            ) -> list[list[PartRecord | None]]:
        """Per set position, the records of ``numbers`` (None: absent or unreadable)."""

        async def read(i: int, drive: StorageAPI) -> list[PartRecord | None]:
            raws = await asyncio.gather(
                *(drive.read_all(SYSTEM_VOLUME, part_meta_path(updir, n)) for n in numbers),
                return_exceptions=True)
            return [_part_or_none(raw) for raw in raws]

        results = await self.set.each_drive(read, positions)
        return [r if isinstance(r, list) else [None] * len(numbers) for r in results]

    def _agree_part(self, per_drive: list[list[PartRecord | None]], index: int,
                    positions: Sequence[int]) -> tuple[PartRecord, list[int]] | None:
        """The record of ``numbers[index]`` a read quorum of drives holds, and those drives."""
        tally: dict[tuple[int, str, int, int], list[int]] = {}
        records: dict[tuple[int, str, int, int], PartRecord] = {}
        for i in positions:
            rec = per_drive[i][index]
            if rec is not None:
                tally.setdefault(rec.identity, []).append(i)
                seen = records.get(rec.identity)
                if seen is None or rec.mod_time_ns > seen.mod_time_ns:
                    records[rec.identity] = rec
        if not tally:
            return None
        # Most drives win; on a tie (racing uploads of one number) the newest.
        identity, holders = max(
            tally.items(), key=lambda item: (len(item[1]), records[item[0]].mod_time_ns))
        if len(holders) < self.set.read_quorum:
            return None
        return records[identity], holders

    async def list_parts(self, bucket: str, key: str, upload_id: str, marker: int = 0,
                         max_parts: int = 1000) -> ListPartsResult:
        es = self.set
        max_parts = max(0, max_parts)
        record, holders = await self._load(bucket, key, upload_id, writing=False)
        updir = upload_dir(bucket, key, record.upload_uuid)
        listings = await es.each_drive(lambda i, d: d.list_dir(SYSTEM_VOLUME, updir), holders)
        seen: dict[int, int] = {}
        for i in holders:
            names = listings[i]
            if isinstance(names, BaseException):
                continue
            for name in names:
                n = part_number_of(name)
                if n is not None and n > marker:
                    seen[n] = seen.get(n, 0) + 1
        candidates = sorted(n for n, count in seen.items() if count >= es.read_quorum)
        parts: list[PartInfo] = []
        start = 0
        while len(parts) <= max_parts and start < len(candidates):
            batch = candidates[start : start + max_parts + 1 - len(parts)]
            start += len(batch)
            per_drive = await self._part_records(updir, holders, batch)
            for index in range(len(batch)):
                agreed = self._agree_part(per_drive, index, holders)
                if agreed is not None:
                    parts.append(agreed[0].info())
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        return ListPartsResult(record.info(upload_id), parts, marker,
                               parts[-1].number if parts else 0, max_parts, truncated)

    # -- complete and abort ------------------------------------------------------------------

    async def complete(self, bucket: str, key: str, upload_id: str, request: PartsRequest,
                       opts: PutOptions, min_part_size: int = MIN_PART_SIZE) -> ObjectInfo:
        es = self.set
        wanted = [p if isinstance(p, CompletePart) else CompletePart(p[0], p[1]) for p in request]
        if not wanted:
            raise oerr.InvalidRequest("a multipart upload is completed with at least one part",
                                      bucket=bucket, key=key)
        for before, after in itertools.pairwise(wanted):
            if after.number <= before.number:
                raise oerr.InvalidPartOrder(
                    f"part {after.number} listed after part {before.number}",
                    bucket=bucket, key=key)
        upload_uuid = upload_uuid_of(upload_id)
        if upload_uuid is None:
            raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
        async with es.locks.write(lock_name(upload_uuid)):
            record, holders = await self._load(bucket, key, upload_id, writing=True)
            updir = upload_dir(bucket, key, record.upload_uuid)
            numbers = [p.number for p in wanted]
            per_drive = await self._part_records(updir, holders, numbers)
            parts, eligible = self._check_parts(bucket, key, wanted, per_drive, holders,
                                                min_part_size)
            if len(eligible) < es.write_quorum:
                raise oerr.InsufficientWriteQuorum(
                    f"{key}: every part is on only {len(eligible)} drives", bucket=bucket, key=key)
            base = self._final_version(bucket, key, record, parts, opts)
            if opts.precondition is not None:
                # Early, so a refused completion keeps its unlisted parts; the
                # binding check is the one under the object's lock in commit.
                opts.precondition(await _current_or_none(es, bucket, key))
            await self._drop_unlisted(updir, record.data_dir_text, set(numbers), holders)
            path = encode_key(key)
            ddir = record.data_dir_text
            staged = (f"{updir}/{ddir}", ddir)

            def commit(i: int, drive: StorageAPI) -> Awaitable[CommitResult]:
                version = _for_drive(base, record.dist[i])
                return drive.commit_version(bucket, path, version, None, staged)

            await es.commit(bucket, key, eligible, commit, opts, new_data_dir=ddir)
            await self._remove(updir)
        return ObjectInfo.from_version(bucket, key, base)

    def _check_parts(self, bucket: str, key: str, wanted: list[CompletePart],
                     per_drive: list[list[PartRecord | None]], holders: list[int],
                     min_part_size: int) -> tuple[list[PartRecord], list[int]]:
        """S3's checks of the listed parts; the agreed records and the drives holding all."""
        eligible = set(holders)
        parts: list[PartRecord] = []
        for index, asked in enumerate(wanted):
            agreed = self._agree_part(per_drive, index, holders)
            if agreed is None:
                raise oerr.InvalidPart(f"part {asked.number} was not uploaded",
                                       bucket=bucket, key=key)
            part, drives = agreed
            if canonical_etag(asked.etag) != canonical_etag(part.etag):
                raise oerr.InvalidPart(f"part {asked.number}: ETag {asked.etag!r} does not match",
                                       bucket=bucket, key=key)
            for name, value in asked.checksums.items():
                if part.checksums.get(name.upper()) != value:
                    raise oerr.InvalidPart(f"part {asked.number}: {name} checksum does not match",
                                           bucket=bucket, key=key)
            if index < len(wanted) - 1 and part.actual_size < min_part_size:
                raise oerr.EntityTooSmall(
                    f"part {asked.number} is {part.actual_size} bytes, the minimum is "
                    f"{min_part_size}", bucket=bucket, key=key)
            eligible &= set(drives)
            parts.append(part)
        return parts, sorted(eligible)

    async def _drop_unlisted(self, updir: str, data_dir: str, keep: set[int],
                             positions: list[int]) -> None:
        """Remove the parts a completion leaves out, record first (so a completion that
        fails after this never finds a record without its shards). Best effort:
        extra files in a data dir are never read."""

        async def drop(i: int, drive: StorageAPI) -> None:
            for name in await drive.list_dir(SYSTEM_VOLUME, f"{updir}/{data_dir}"):
                prefix, dot, number = name.partition(".")
                if prefix != "part" or not dot or (number.isdigit() and int(number) in keep):
                    continue
                for path in ([part_meta_path(updir, int(number))] if number.isdigit() else []) \
                        + [f"{updir}/{data_dir}/{name}"]:
                    try:
                        await drive.delete(SYSTEM_VOLUME, path, recursive=True)
                    except serr.FileNotFound:
                        pass

        await self.set.each_drive(drop, positions)

    def _final_version(self, bucket: str, key: str, record: UploadRecord,
                       parts: list[PartRecord], opts: PutOptions) -> ObjectVersion:
        versioned = opts.versioned and not opts.version_suspended
        meta_sys: dict[str, bytes] = {}
        algorithm = record.checksum_algorithm
        if algorithm:
            try:
                digests = [(cks.from_b64(algorithm, p.checksums[algorithm]), p.actual_size)
                           for p in parts]
            except (KeyError, cks.ChecksumError):
                raise oerr.InvalidPart(f"a part has no {algorithm} checksum",
                                       bucket=bucket, key=key) from None
            meta_sys[CHECKSUM_KEY], _ = multipart_checksum(algorithm, record.checksum_type,
                                                           digests)
        return ObjectVersion(
            version_id=new_uuid() if versioned else NULL_VERSION_ID, data_dir=record.data_dir,
            ec_m=record.ec_m, ec_n=record.ec_n, ec_block_size=record.block_size,
            ec_dist=list(record.dist), part_numbers=[p.number for p in parts],
            part_etags=[p.etag for p in parts], part_sizes=[p.size for p in parts],
            part_actual_sizes=[p.actual_size for p in parts],
            size=sum(p.size for p in parts), mod_time=time.time_ns(), meta_sys=meta_sys,
            meta_usr={"etag": multipart_etag([p.etag for p in parts]), **record.metadata},
        )

    async def abort(self, bucket: str, key: str, upload_id: str) -> None:
        es = self.set
        upload_uuid = upload_uuid_of(upload_id)
        if upload_uuid is None:
            raise oerr.NoSuchUpload(upload_id, bucket=bucket, key=key)
        async with es.locks.write(lock_name(upload_uuid)):
            await self._load(bucket, key, upload_id, writing=True)
            results = await self._remove(upload_dir(bucket, key, upload_uuid))
            done = sum(r is None or isinstance(r, serr.FileNotFound) for r in results)
            if done < es.write_quorum:
                raise oerr.InsufficientWriteQuorum(f"{key}: abort of {upload_id}",
                                                   bucket=bucket, key=key)


# -- module helpers ----------------------------------------------------------------------------


async def _current_or_none(es: ErasureSet, bucket: str, key: str) -> ObjectInfo | None:
    try:
        return await es.get_object_info(bucket, key)
    except oerr.ObjectNotFound:
        return None


def _part_or_none(raw: bytes | BaseException) -> PartRecord | None:
    if isinstance(raw, BaseException):
        if isinstance(raw, asyncio.CancelledError):
            raise raw
        return None
    try:
        return PartRecord.load(raw)
    except RecordCorrupt:
        return None


def _checksum_names(hashers: Sequence[Any]) -> set[str]:
    return {h.algorithm.name for h in hashers if isinstance(getattr(h, "algorithm", None),
                                                             cks.Algorithm)}


def _checksum_values(hashers: Sequence[Any]) -> dict[str, str]:
    """S3 checksums of the body (name -> base64) among the hashers that saw it."""
    return {h.algorithm.name: h.b64() for h in hashers
            if isinstance(getattr(h, "algorithm", None), cks.Algorithm)}


def _for_drive(base: ObjectVersion, shard_number: int) -> ObjectVersion:
    version = copy.copy(base)
    version.ec_index = shard_number
    return version
