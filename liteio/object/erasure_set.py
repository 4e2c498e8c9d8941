"""One erasure set: N drives, K data + M parity; objects put, read and deleted.

Every mutation follows the same shape: stage data on each drive's temp area,
take the object's namespace lock, commit the new xl.meta on every drive,
count successes against the write quorum, and either clean up what the new
version replaced or undo the commit on the drives that took it.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from liteio._ext.buffers import BufferPool
from liteio.erasure import errors as eerr
from liteio.erasure.bitrot import shard_file_size
from liteio.erasure.codec import codec_for
from liteio.erasure.encode import ErasureEncoder, MemorySink, ShardSink, block_buffer_size
from liteio.meta.errors import XLMetaError
from liteio.meta.ids import NULL_VERSION_ID, version_id_bytes, version_id_str
from liteio.meta.versions import INLINE_DATA_KEY, DeleteMarker, ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.object.nslock import NamespaceLock
from liteio.object.quorum import Resolved, resolve
from liteio.object.reader import ObjectReader
from liteio.object.types import CHECKSUM_KEY, DeleteResult, ObjectInfo, PutOptions
from liteio.storage import errors as serr
from liteio.storage.api import CommitResult, StorageAPI
from liteio.storage.paths import SYSTEM_VOLUME, encode_key

BLOCK_SIZE = 1 << 20
# Objects whose per-drive shard is this small live inside xl.meta (MinIO's rule).
INLINE_LIMIT = 128 << 10
INLINE_LIMIT_VERSIONED = 16 << 10

T = TypeVar("T")


@dataclass(slots=True)
class Encoded:
    """A body stored on the sinks: which shards survived, its ETag, the hashers it fed."""

    alive: set[int]
    etag: str
    hashers: list[Any]


def hash_order(name: str, cardinality: int) -> list[int]:
    """MinIO's drive distribution: shard numbers (1-based) per set position."""
    start = zlib.crc32(name.encode()) % cardinality
    return [1 + (start + i) % cardinality for i in range(1, cardinality + 1)]


def new_uuid() -> bytes:
    return uuid.uuid4().bytes


class ErasureSet:
    def __init__(
        self,
        drives: Sequence[StorageAPI],
        parity: int,
        cpu: Executor,
        *,
        index: int = 0,
        locks: NamespaceLock | None = None,
        block_size: int = BLOCK_SIZE,
        buffers_per_set: int = 24,
    ) -> None:
        self.drives = list(drives)
        self.index = index
        self.total = len(self.drives)
        self.parity = parity
        self.data = self.total - parity
        if self.data < 1 or parity < 0 or parity > self.total // 2:
            raise oerr.DriveLayoutError(f"parity {parity} is impossible with {self.total} drives")
        self.read_quorum = self.data
        self.write_quorum = self.data + (1 if self.data == parity else 0)
        self.block_size = block_size
        self.codec = codec_for(self.data, parity)
        self.cpu = cpu
        self.locks = locks if locks is not None else NamespaceLock()
        self.pool = BufferPool(block_buffer_size(self.total, block_size, self.data), buffers_per_set)
        # Shards found missing or corrupt, for the healer (bounded; a hint only).
        self.heal_hints: list[tuple[str, str, int]] = []
        # [heal hook] When healing runs (liteio.heal.mrf), every hint also goes here.
        self.on_heal_hint: Callable[[ErasureSet, str, str, int], None] | None = None

    def __repr__(self) -> str:
        return f"ErasureSet(#{self.index}, {self.data}+{self.parity})"

    # -- helpers -------------------------------------------------------------------

    async def each_drive(
        self, call: Callable[[int, StorageAPI], Awaitable[T]], positions: Sequence[int] | None = None
    ) -> list[T | BaseException]:
        """Run ``call`` on the given drives (all by default) at once; errors are returned."""
        picked = range(self.total) if positions is None else positions
        results = await asyncio.gather(
            *(self._guarded(call, i) for i in picked), return_exceptions=True
        )
        out: list[T | BaseException] = [serr.DriveOffline("not asked")] * self.total
        for i, result in zip(picked, results):
            if isinstance(result, asyncio.CancelledError):
                raise result
            out[i] = result
        return out

    async def _guarded(self, call: Callable[[int, StorageAPI], Awaitable[T]], i: int) -> T:
        drive = self.drives[i]
        if not drive.is_online():
            raise serr.DriveOffline(drive.endpoint)
        return await call(i, drive)

    def note_bad_shard(self, bucket: str, key: str, position: int) -> None:
        if len(self.heal_hints) < 10_000:
            self.heal_hints.append((bucket, key, position))
        if self.on_heal_hint is not None:  # [heal hook]
            self.on_heal_hint(self, bucket, key, position)

    # -- metadata --------------------------------------------------------------------

    async def read_metas(self, bucket: str, key: str) -> tuple[list[XLMeta | None], list[BaseException | None]]:
        path = encode_key(key)
        raw = await self.each_drive(lambda i, d: d.read_xl(bucket, path))
        metas: list[XLMeta | None] = []
        errors: list[BaseException | None] = []
        for result in raw:
            if isinstance(result, BaseException):
                metas.append(None)
                errors.append(result)
                continue
            try:
                metas.append(XLMeta.load(result))
                errors.append(None)
            except XLMetaError as exc:
                metas.append(None)
                errors.append(serr.FileCorrupt(str(exc)))
        return metas, errors

    def _not_found_or_quorum(self, bucket: str, key: str, metas: Sequence[XLMeta | None],
                             errors: Sequence[BaseException | None], wanted: bytes | None,
                             version_id: str | None = None) -> oerr.ObjectError:
        # K drives saying "not here" mean the object (or version) really is
        # absent: no write that reached its write quorum can leave K drives
        # without it. A drive holding some copy of it is no such answer (a lost
        # quorum is not an absent object), nor is a corrupt or unreachable one.
        # A drive without the bucket's directory has lost it (the layer already
        # knows the bucket exists).
        absent = sum(_absent(xl, e, wanted) for xl, e in zip(metas, errors))
        if absent >= self.read_quorum:
            if version_id is not None:
                return oerr.VersionNotFound(f"{key} version {version_id}", bucket=bucket, key=key)
            return oerr.ObjectNotFound(key, bucket=bucket, key=key)
        return oerr.InsufficientReadQuorum(f"{key}: too few drives agree", bucket=bucket, key=key)

    async def resolve(self, bucket: str, key: str, version_id: str | None = None
                      ) -> tuple[Resolved, list[XLMeta | None]]:
        metas, errors = await self.read_metas(bucket, key)
        try:
            wanted = None if version_id is None else version_id_bytes(version_id)
        except ValueError:
            raise oerr.InvalidArgument(f"invalid version id {version_id!r}") from None
        resolved = resolve(metas, self.read_quorum, wanted)
        if resolved is None:
            raise self._not_found_or_quorum(bucket, key, metas, errors, wanted, version_id)
        # Drives that answered without this version (missing, stale or corrupt
        # xl.meta) need healing, as MinIO queues them; unreachable ones do not.
        for i, error in enumerate(errors):
            if i not in resolved.drives and (error is None or isinstance(error, _MISSING)):
                self.note_bad_shard(bucket, key, i)
        return resolved, metas

    async def get_object_info(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        resolved, _ = await self.resolve(bucket, key, version_id)
        return self._info(bucket, key, resolved, version_id)

    def _info(self, bucket: str, key: str, resolved: Resolved, version_id: str | None) -> ObjectInfo:
        info = ObjectInfo.from_version(bucket, key, resolved.version)
        if resolved.is_delete_marker:
            if version_id is not None:
                raise oerr.MethodNotAllowed(key, bucket=bucket, key=key, version_id=info.version_id)
            raise oerr.ObjectNotFound(key, bucket=bucket, key=key, delete_marker=True,
                                      version_id=info.version_id)
        return info

    async def open_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectReader:
        """Resolve the version and prepare to stream it (the caller picks the range)."""
        async with self.locks.read(f"{bucket}/{key}"):
            resolved, metas = await self.resolve(bucket, key, version_id)
            info = self._info(bucket, key, resolved, version_id)
            reader = ObjectReader(self, bucket, key, info, resolved, metas)
            await reader.pin()
            return reader

    # -- put --------------------------------------------------------------------------

    async def put_object(self, bucket: str, key: str, body: AsyncIterator[Any], size: int,
                         opts: PutOptions) -> ObjectInfo:
        path = encode_key(key)
        versioned = opts.versioned and not opts.version_suspended
        version_id = new_uuid() if versioned else NULL_VERSION_ID
        data_dir = new_uuid()
        dist = hash_order(f"{bucket}/{key}", self.total)
        limit = INLINE_LIMIT_VERSIONED if versioned else INLINE_LIMIT
        inline = shard_file_size(size, self.block_size, self.data) <= limit
        staging = f"tmp/{uuid.uuid4()}"
        ddir_text = str(uuid.UUID(bytes=data_dir))

        if inline:
            sinks: list[ShardSink | None] = [None] * self.total
            for i in range(self.total):
                if self.drives[i].is_online():
                    sinks[dist[i] - 1] = MemorySink()
        else:
            sinks = await self.shard_sinks(f"{staging}/{ddir_text}/part.1", dist)
        try:
            encoded = await self.encode(bucket, key, sinks, body, size, opts)
            etag = encoded.etag
            base = ObjectVersion(
                version_id=version_id, data_dir=data_dir, ec_m=self.data, ec_n=self.parity,
                ec_block_size=self.block_size, ec_dist=dist, part_numbers=[1],
                part_sizes=[size], part_actual_sizes=[size], size=size, mod_time=time.time_ns(),
                meta_sys=self._meta_sys(inline, opts.checksum_blob),
                meta_usr={"etag": etag, **opts.metadata},
            )
            positions = [i for i in range(self.total) if dist[i] - 1 in encoded.alive]

            def commit(i: int, drive: StorageAPI) -> Awaitable[CommitResult]:
                version = _for_drive(base, dist[i])
                if inline:
                    sink = sinks[dist[i] - 1]
                    assert isinstance(sink, MemorySink)
                    return drive.commit_version(bucket, path, version, bytes(sink.data), None)
                return drive.commit_version(
                    bucket, path, version, None, (f"{staging}/{ddir_text}", ddir_text))

            await self.commit(bucket, key, positions, commit, opts,
                              new_data_dir=None if inline else ddir_text)
            return ObjectInfo.from_version(bucket, key, base)
        finally:
            if not inline:
                await self.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, staging, recursive=True))

    async def shard_sinks(self, staged_path: str, dist: Sequence[int],
                          positions: Sequence[int] | None = None) -> list[ShardSink | None]:
        """A shard writer per shard number at ``staged_path`` in each drive's system volume
        (None where the drive could not open one)."""
        created = await self.each_drive(
            lambda i, d: d.create_shard(SYSTEM_VOLUME, staged_path), positions)
        sinks: list[ShardSink | None] = [None] * self.total
        for i in range(self.total) if positions is None else positions:
            writer = created[i]
            if not isinstance(writer, BaseException):
                sinks[dist[i] - 1] = writer
        return sinks

    async def encode(self, bucket: str, key: str, sinks: list[ShardSink | None],
                     body: AsyncIterator[Any], size: int, opts: PutOptions,
                     block_size: int | None = None) -> Encoded:
        """Erasure-code a body into the sinks, hashing it on the way; check what the
        client claimed about it. Object errors only; the sinks are aborted on failure."""
        md5 = None if opts.etag else hashlib.md5()
        hashers = [*(h for h in [md5] if h is not None), *opts.hashers]
        if sum(s is not None for s in sinks) < self.write_quorum:
            await asyncio.gather(*(s.abort() for s in sinks if s is not None))
            raise oerr.InsufficientWriteQuorum(f"{key}: too few drives online", bucket=bucket, key=key)
        block = block_size or self.block_size
        encoder = ErasureEncoder(self.codec, block, sinks, self.write_quorum, self.cpu,
                                 self.pool if block == self.block_size else None, hashers)
        try:
            alive = set(await encoder.encode(body, size))
        except eerr.IncompleteBody as exc:
            raise oerr.IncompleteBody(str(exc), bucket=bucket, key=key) from None
        except eerr.BodyTooLong as exc:
            raise oerr.InvalidArgument(str(exc), bucket=bucket, key=key) from None
        except eerr.WriteQuorumLost as exc:
            raise oerr.InsufficientWriteQuorum(str(exc), bucket=bucket, key=key) from None
        if opts.content_md5 is not None and md5 is not None and md5.digest() != opts.content_md5:
            raise oerr.BadDigest("The Content-MD5 you specified did not match what we received.",
                                 bucket=bucket, key=key)
        if opts.verify_body is not None:
            opts.verify_body()
        return Encoded(alive, opts.etag or (md5.hexdigest() if md5 else ""), hashers)

    @staticmethod
    def _meta_sys(inline: bool, checksum_blob: bytes | None) -> dict[str, bytes]:
        meta: dict[str, bytes] = {}
        if inline:
            meta[INLINE_DATA_KEY] = b"true"
        if checksum_blob:
            meta[CHECKSUM_KEY] = checksum_blob
        return meta

    async def commit(
        self, bucket: str, key: str, positions: Sequence[int],
        commit: Callable[[int, StorageAPI], Awaitable[CommitResult]], opts: PutOptions | None = None,
        new_data_dir: str | None = None,
    ) -> list[int]:
        """Run ``commit`` under the object's lock; undo below quorum. Returns committed drives."""
        path = encode_key(key)
        async with self.locks.write(f"{bucket}/{key}"):
            if opts is not None and opts.precondition is not None:
                opts.precondition(await self._current_or_none(bucket, key))
            results = await self.each_drive(commit, positions)
            done = [i for i in positions if isinstance(results[i], CommitResult)]
            if len(done) < self.write_quorum:
                await self.each_drive(
                    lambda i, d: d.restore_xl(
                        bucket, path, _result(results[i]).previous_xl, new_data_dir), done)
                errors = [results[i] for i in positions if isinstance(results[i], BaseException)]
                if sum(isinstance(e, serr.VolumeNotFound) for e in errors) >= self.write_quorum:
                    raise oerr.BucketNotFound(bucket, bucket=bucket)
                raise oerr.InsufficientWriteQuorum(
                    f"{key}: committed on {len(done)} drives, {self.write_quorum} needed",
                    bucket=bucket, key=key)
            for i in range(self.total):
                if i not in done:
                    self.note_bad_shard(bucket, key, i)
            replaced = [(i, _result(results[i]).replaced_data_dir) for i in done]
            await self.each_drive(
                lambda i, d: d.discard_data_dir(bucket, path, dict(replaced)[i] or ""),
                [i for i, ddir in replaced if ddir])
            return done

    async def _current_or_none(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            return await self.get_object_info(bucket, key)
        except oerr.ObjectNotFound:
            return None

    # -- metadata-only updates (tags, metadata REPLACE copy onto itself) ---------------

    async def update_object(self, bucket: str, key: str, version_id: str | None,
                            mutate: Callable[[ObjectVersion], None]) -> ObjectInfo:
        path = encode_key(key)
        async with self.locks.write(f"{bucket}/{key}"):
            resolved, metas = await self.resolve(bucket, key, version_id)
            info = self._info(bucket, key, resolved, version_id)
            vid = resolved.header.version_id

            async def update(i: int, drive: StorageAPI) -> None:
                xl = metas[i]
                assert xl is not None
                version = xl.find(vid)
                assert isinstance(version, ObjectVersion)
                mutate(version)
                await drive.update_version(bucket, path, version)

            results = await self.each_drive(update, resolved.drives)
            ok = [i for i in resolved.drives if not isinstance(results[i], BaseException)]
            if len(ok) < self.write_quorum:
                raise oerr.InsufficientWriteQuorum(f"{key}: metadata update", bucket=bucket, key=key)
            updated = _first_version(metas, ok[0], vid)
            new_info = ObjectInfo.from_version(bucket, key, updated)
            new_info.is_latest = info.is_latest
            return new_info

    # -- delete ----------------------------------------------------------------------------

    async def delete_object(self, bucket: str, key: str, version_id: str | None = None, *,
                            versioned: bool = False, suspended: bool = False) -> DeleteResult:
        path = encode_key(key)
        if version_id is None and (versioned or suspended):
            # Enabled: a new delete marker. Suspended: a null marker replacing the null version.
            marker_id = new_uuid() if versioned and not suspended else NULL_VERSION_ID
            marker = DeleteMarker(version_id=marker_id, mod_time=time.time_ns())
            await self.commit(bucket, key, range(self.total),
                              lambda i, d: d.add_delete_marker(bucket, path, marker))
            return DeleteResult(key, None, True, version_id_str(marker_id))
        try:
            vid = NULL_VERSION_ID if version_id is None else version_id_bytes(version_id)
        except ValueError:
            raise oerr.InvalidArgument(f"invalid version id {version_id!r}") from None
        async with self.locks.write(f"{bucket}/{key}"):
            metas, _ = await self.read_metas(bucket, key)
            was_marker = any(
                isinstance(xl.find(vid), DeleteMarker) for xl in metas if xl is not None
            )
            results = await self.each_drive(lambda i, d: d.delete_version(bucket, path, vid))
            ok = sum(
                not isinstance(r, BaseException)
                or isinstance(r, (serr.FileNotFound, serr.VersionNotFound))
                for r in results
            )
            if ok < self.write_quorum:
                if sum(isinstance(r, serr.VolumeNotFound) for r in results) >= self.write_quorum:
                    raise oerr.BucketNotFound(bucket, bucket=bucket)
                raise oerr.InsufficientWriteQuorum(f"{key}: delete", bucket=bucket, key=key)
        return DeleteResult(key, version_id, was_marker, None)


_MISSING = (serr.FileNotFound, serr.VersionNotFound, serr.VolumeNotFound, serr.FileCorrupt)


def _absent(xl: XLMeta | None, error: BaseException | None, wanted: bytes | None) -> bool:
    """Whether one drive's answer says the object (or version ``wanted``) is not there."""
    if error is not None:
        return isinstance(error, (serr.FileNotFound, serr.VersionNotFound, serr.VolumeNotFound))
    if xl is None:
        return False
    return not any(not e.header.is_free_version
                   and (wanted is None or e.header.version_id == wanted) for e in xl.entries)


def _for_drive(base: ObjectVersion, shard_number: int) -> ObjectVersion:
    version = copy.copy(base)
    version.ec_index = shard_number
    return version


def _result(value: Any) -> CommitResult:
    assert isinstance(value, CommitResult)
    return value


def _first_version(metas: Sequence[XLMeta | None], position: int, vid: bytes) -> ObjectVersion:
    xl = metas[position]
    assert xl is not None
    version = xl.find(vid)
    assert isinstance(version, ObjectVersion)
    return version
