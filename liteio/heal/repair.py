"""Acting on a survey's ``Plan``, under the object's write lock.

    rebuild     per version and part: K verified shards -> the bad ones, written
                to each target drive's .minio.sys/tmp (inline ones kept in memory)
    install     per drive: shard files renamed into place, then xl.meta written
                (the commit point, as for a PUT), then unreferenced data dirs removed
"""

from __future__ import annotations

import asyncio
import copy
import uuid

from liteio.erasure.codec import codec_for
from liteio.erasure.decode import MemorySource, ShardSource
from liteio.erasure.encode import MemorySink, ShardSink
from liteio.erasure.ranges import StripeGeometry
from liteio.heal.results import ShardRepair
from liteio.heal.shards import PartRebuilder, TooFewSources
from liteio.heal.survey import (
    DriveState,
    Plan,
    inline_target,
    part_path,
    shard_number,
)
from liteio.meta.errors import XLMetaError
from liteio.meta.ids import version_id_str
from liteio.meta.versions import ObjectPart, ObjectVersion
from liteio.meta.xlmeta import VersionEntry, XLMeta
from liteio.object.reader import LazyShardSource
from liteio.storage import errors as serr
from liteio.storage.paths import SYSTEM_VOLUME


async def apply(plan: Plan) -> None:
    es = plan.es
    staging = f"tmp/{uuid.uuid4()}"
    try:
        await asyncio.gather(*(_make_volume(plan, d) for d in plan.reachable()
                               if d.volume_missing and (d.rewrite or d.bad)))
        for vid, v in plan.objects:
            if vid in plan.unrecoverable:
                continue
            for index, part in enumerate(v.parts):
                await _rebuild(plan, vid, v, index, part, staging)
        await asyncio.gather(*(_install(plan, d) for d in plan.reachable()))
        for x in plan.result.dangling:
            x.removed = x.removable and all(
                plan.drives[p].report.metadata_written for p in x.holders)
    finally:
        await es.each_drive(lambda i, d: d.delete(SYSTEM_VOLUME, staging, recursive=True),
                            [d.position for d in plan.reachable() if d.staging_used])


async def _make_volume(plan: Plan, d: DriveState) -> None:
    try:
        await d.drive.make_volume(plan.bucket)
    except serr.VolumeExists:
        pass
    except serr.StorageError as exc:
        d.report.errors.append(f"make bucket directory: {exc}")


async def _rebuild(plan: Plan, vid: bytes, v: ObjectVersion, index: int, part: ObjectPart,
                   staging: str) -> None:
    """Rebuild every bad shard of one part; sources found bad on the way are rebuilt too."""
    key = (vid, part.number)
    geometry = StripeGeometry(part.size, v.ec_block_size, v.ec_m)
    codec = codec_for(v.ec_m, v.ec_n)
    done: set[int] = set()
    while True:
        targets = [d for d in plan.reachable()
                   if key in d.bad and d.position not in done and not d.report.errors]
        if not targets:
            return
        done.update(d.position for d in targets)
        sources: list[ShardSource | None] = [None] * codec.total_shards
        opened: list[LazyShardSource] = []
        for d in plan.reachable():
            if key in d.bad:
                continue
            shard = shard_number(v, d) - 1
            if index == 0 and vid in d.inline:
                sources[shard] = MemorySource(d.inline[vid])
            else:
                lazy = LazyShardSource(d.drive, plan.bucket, part_path(plan, v, part.number))
                sources[shard] = lazy
                opened.append(lazy)
        sinks: dict[int, ShardSink] = {}
        owners: dict[int, DriveState] = {}
        staged = f"{staging}/{v.data_dir_text}/part.{part.number}"
        for d in targets:
            try:
                if inline_target(v, index):
                    sink: ShardSink = MemorySink()
                else:
                    d.staging_used = True
                    sink = await d.drive.create_shard(SYSTEM_VOLUME, staged)
            except serr.StorageError as exc:
                d.report.errors.append(f"stage part {part.number}: {exc}")
                continue
            sinks[shard_number(v, d) - 1] = sink
            owners[shard_number(v, d) - 1] = d
        if not sinks:
            continue
        rebuilder = PartRebuilder(codec, geometry, sources, sinks, plan.es.cpu)
        try:
            await rebuilder.run()
        except TooFewSources as exc:
            await asyncio.gather(*(s.abort() for s in sinks.values()), return_exceptions=True)
            plan.unrecoverable.add(vid)
            plan.result.unrecoverable = [version_id_str(u) for u in sorted(plan.unrecoverable)]
            plan.result.errors.append(f"version {version_id_str(vid)} part {part.number}: {exc}")
            return
        except BaseException:
            await asyncio.gather(*(s.abort() for s in sinks.values()), return_exceptions=True)
            raise
        finally:
            await asyncio.gather(*(s.close() for s in opened), return_exceptions=True)
        for shard, error in rebuilder.failed.items():
            owners[shard].report.errors.append(f"write part {part.number}: {error}")
        for shard, sink in rebuilder.targets.items():
            d = owners[shard]
            try:
                await sink.close()
            except serr.StorageError as exc:
                d.report.errors.append(f"write part {part.number}: {exc}")
                continue
            d.report.bytes_rebuilt += rebuilder.written[shard]
            repair = d.bad[key]
            if isinstance(sink, MemorySink):
                d.inline[vid] = bytes(sink.data)
                d.rewrite = True
            else:
                d.staged.append((staged, part_path(plan, v, part.number), repair))
        # Sources that turned out bad while rebuilding: rebuild them in the next round.
        for shard, reason in rebuilder.bad.items():
            holder = next(d for d in plan.reachable() if shard_number(v, d) - 1 == shard)
            holder.bad[key] = ShardRepair(version_id_str(vid), part.number, reason,
                                          inline=index == 0 and vid in holder.inline)
            holder.report.shards = list(holder.bad.values())
            if holder.bad[key].inline:
                del holder.inline[vid]
                holder.rewrite = True


async def _install(plan: Plan, d: DriveState) -> None:
    """Shards into place, then xl.meta (the commit point), then sweep."""
    report, drive = d.report, d.drive
    for staged, final, repair in d.staged:
        try:
            await drive.rename(SYSTEM_VOLUME, staged, plan.bucket, final)
            repair.done = True
        except serr.StorageError as exc:
            report.errors.append(f"install {final}: {exc}")
    committed = not d.rewrite
    if d.rewrite:
        try:
            if not plan.truth and not d.keep:
                await _delete_versions(plan, d)
            else:
                await drive.write_xl(plan.bucket, plan.path, _rebuilt_xl(plan, d))
            report.metadata_written = True
            committed = True
            rebuilt = {version_id_str(vid) for vid in d.inline}
            for repair in d.bad.values():
                if repair.inline and repair.version_id in rebuilt:
                    repair.done = True
        except serr.StorageError as exc:
            report.errors.append(f"write xl.meta: {exc}")
    if committed:
        for name in d.strays:
            try:
                await drive.discard_data_dir(plan.bucket, plan.path, name)
            except serr.StorageError as exc:
                report.errors.append(f"remove data dir {name}: {exc}")
        report.strays_removed = bool(d.strays) and not any(
            e.startswith("remove data dir") for e in report.errors)


async def _delete_versions(plan: Plan, d: DriveState) -> None:
    """Nothing belongs on this drive any more: remove what it has, version by version
    (the drive removes xl.meta and the emptied directories with the last one)."""
    for vid in d.drop:
        try:
            await d.drive.delete_version(plan.bucket, plan.path, vid)
        except (serr.VersionNotFound, serr.FileNotFound):
            pass


def _rebuilt_xl(plan: Plan, d: DriveState) -> bytes:
    """The drive's xl.meta as it should be: every quorum version with this drive's
    shard number and inline stream, plus the entries it keeps as they are."""
    xl = XLMeta()
    for r in plan.truth:
        record = r.version
        vid = r.header.version_id
        if isinstance(record, ObjectVersion):
            record = copy.copy(record)
            record.ec_index = shard_number(record, d)
        header = xl.add_version(record, inline_data=d.inline.get(vid))
        if not header.matches(r.header):
            # NOTE: the drives must agree on the header or the rebuilt copy would
            # not count towards quorum; keep the signature the quorum stored.
            header.signature = r.header.signature
    truth_ids = {r.header.version_id for r in plan.truth}
    for entry in d.keep:
        if entry.header.version_id in truth_ids:
            continue  # a legacy object shares the null id with a quorum version: it lost
        try:
            xl.add_version(entry.version, inline_data=_inline_of(d, entry))
        except XLMetaError:
            xl.entries.append(entry)  # an undecodable body is carried byte for byte
    xl.entries.sort(key=lambda e: e.header.sort_key())
    return xl.dump()


def _inline_of(d: DriveState, entry: VersionEntry) -> bytes | None:
    if d.xl is None:
        return None
    try:
        return d.xl.inline_data(entry.header.version_id)
    except XLMetaError:
        return None
