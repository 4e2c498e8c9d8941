"""The look before a heal: every drive of the set compared with the quorum.

``survey`` reads every drive's xl.meta, takes the versions a read quorum holds
as the truth, and records per drive what differs: quorum versions it lacks,
versions it has that the quorum does not (stale copies, dangling versions
that provably never committed), shard streams that are missing, the wrong
size or (deep) rotten, data dirs nothing refers to. It changes nothing;
``repair.apply`` acts on the resulting ``Plan``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from liteio.erasure.decode import MemorySource
from liteio.erasure.ranges import StripeGeometry
from liteio.heal import results as R
from liteio.heal.results import DanglingVersion, DriveReport, HealResult, ShardRepair
from liteio.heal.shards import check_stream
from liteio.meta.errors import XLMetaError, XLMetaUnsupportedVersion
from liteio.meta.header import TYPE_LEGACY, TYPE_OBJECT
from liteio.meta.ids import version_id_str
from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import VersionEntry, XLMeta
from liteio.object.erasure_set import ErasureSet
from liteio.object.quorum import Resolved, resolve_versions
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import encode_key

_UUID_DIR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/")
_NOT_THERE = (serr.FileNotFound, serr.VolumeNotFound)

PartKey = tuple[bytes, int]  # (version id, part number)


@dataclass(eq=False)
class DriveState:
    """One drive's state during a heal."""

    position: int
    drive: StorageAPI
    report: DriveReport
    xl: XLMeta | None = None
    reachable: bool = True
    corrupt: bool = False
    volume_missing: bool = False
    holds: set[bytes] = field(default_factory=set)  # quorum versions it holds as they should be
    misplaced: set[bytes] = field(default_factory=set)  # ...with another drive's shard number
    keep: list[VersionEntry] = field(default_factory=list)  # entries carried over as they are
    drop: list[bytes] = field(default_factory=list)  # versions to remove from it
    inline: dict[bytes, bytes] = field(default_factory=dict)  # good inline streams (vid -> stream)
    bad: dict[PartKey, ShardRepair] = field(default_factory=dict)
    staged: list[tuple[str, str, ShardRepair]] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    staging_used: bool = False
    rewrite: bool = False


@dataclass(eq=False)
class Plan:
    es: ErasureSet
    bucket: str
    key: str
    deep: bool
    result: HealResult
    drives: list[DriveState]
    truth: list[Resolved]
    dangling: dict[bytes, DanglingVersion]
    unrecoverable: set[bytes] = field(default_factory=set)
    # Data dirs some version that stays refers to; None: not sure, so sweep nothing.
    referenced: set[str] | None = None
    # Quorum object versions with shards to check: (version id, record).
    objects: list[tuple[bytes, ObjectVersion]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return encode_key(self.key)

    def reachable(self) -> list[DriveState]:
        return [d for d in self.drives if d.reachable]


async def _read_drive(d: DriveState, bucket: str, path: str) -> None:
    try:
        raw = await d.drive.read_xl(bucket, path)
    except _NOT_THERE as exc:
        d.report.metadata = R.META_MISSING
        d.volume_missing = isinstance(exc, serr.VolumeNotFound)
        return
    except serr.FileCorrupt:
        d.report.metadata, d.corrupt = R.META_CORRUPT, True
        return
    except serr.StorageError as exc:
        d.reachable, d.report.online = False, False
        d.report.metadata = R.META_UNKNOWN
        d.report.errors.append(f"read xl.meta: {exc}")
        return
    try:
        d.xl = XLMeta.load(raw)
    except XLMetaUnsupportedVersion as exc:
        # A newer format we cannot read: never overwrite it; treat as unanswered.
        d.reachable = False
        d.report.metadata = R.META_UNKNOWN
        d.report.errors.append(f"xl.meta: {exc}")
    except XLMetaError:
        d.report.metadata, d.corrupt = R.META_CORRUPT, True


def _truth(metas: Sequence[XLMeta | None], quorum: int) -> list[Resolved]:
    """Quorum versions, one per version id (most holders, then latest), latest first."""
    best: dict[bytes, Resolved] = {}
    for r in resolve_versions(metas, quorum):
        vid = r.header.version_id
        if vid not in best or len(r.drives) > len(best[vid].drives):
            best[vid] = r
    return sorted(best.values(), key=lambda r: r.header.sort_key())


def carried(entry: VersionEntry) -> bool:
    """Entries heal neither votes on nor removes: free versions and legacy objects."""
    return entry.header.is_free_version or entry.header.type == TYPE_LEGACY


async def survey(es: ErasureSet, bucket: str, key: str, deep: bool) -> Plan:
    path = encode_key(key)
    drives = [DriveState(i, drive, DriveReport(i, drive.endpoint)) for i, drive in enumerate(es.drives)]
    for d in drives:
        if not d.drive.is_online():
            d.reachable, d.report.online, d.report.metadata = False, False, R.META_UNKNOWN
    await asyncio.gather(*(_read_drive(d, bucket, path) for d in drives if d.reachable))
    metas = [d.xl if d.reachable else None for d in drives]
    truth = _truth(metas, es.read_quorum)
    truth_ids = {r.header.version_id for r in truth}

    dangling = await _dangling(es, bucket, path, drives, truth_ids)
    result = HealResult(bucket, key, deep=deep, drives=[d.report for d in drives],
                        versions=[r.header.version_id_text for r in truth],
                        dangling=list(dangling.values()))
    result.found = bool(truth or dangling) or any(d.xl is not None or d.corrupt for d in drives)
    plan = Plan(es, bucket, key, deep, result, drives, truth, dangling)
    if not result.found:
        for d in drives:  # no object: nothing is missing
            if d.report.metadata == R.META_MISSING:
                d.report.metadata = R.META_OK
        return plan
    for d in plan.reachable():
        _compare_metadata(plan, d)
    plan.referenced = _referenced(plan)
    plan.objects = _object_versions(plan)
    await asyncio.gather(*(_survey_shards(plan, d) for d in plan.reachable()))
    _count_sources(plan)
    return plan


async def _dangling(es: ErasureSet, bucket: str, path: str, drives: list[DriveState],
                    truth_ids: set[bytes]) -> dict[bytes, DanglingVersion]:
    """Versions no read quorum holds, and whether they may be removed.

    Removable only if every trace of the version -- drives whose xl.meta has
    it, drives that lost their xl.meta but still have its shard files -- plus
    the drives that could not answer falls short of a write quorum: then no
    acknowledged write can have produced it (a put that died mid-commit, a
    delete a drive missed). Otherwise it is reported and left alone.
    """
    unknown = sum(not d.reachable or d.corrupt for d in drives)
    holders: dict[bytes, set[int]] = {}
    records: dict[bytes, VersionEntry] = {}
    for d in drives:
        for entry in d.xl.entries if d.xl is not None and d.reachable else ():
            vid = entry.header.version_id
            if not carried(entry) and vid not in truth_ids:
                holders.setdefault(vid, set()).add(d.position)
                records.setdefault(vid, entry)
    out = {}
    for vid, held in holders.items():
        traces = await _shard_traces(es, bucket, path, drives, held, records[vid])
        removable = len(held) + len(traces) + unknown < es.write_quorum
        out[vid] = DanglingVersion(version_id_str(vid), sorted(held), removable,
                                   shard_holders=traces)
    return out


async def _shard_traces(es: ErasureSet, bucket: str, path: str, drives: list[DriveState],
                        held: set[int], entry: VersionEntry) -> list[int]:
    """Drives without the version's metadata that still have its first shard file."""
    try:
        rec = entry.version
    except XLMetaError:
        return []
    if not isinstance(rec, ObjectVersion) or not rec.part_numbers or not entry.header.uses_data_dir:
        return []
    shard = f"{path}/{rec.data_dir_text}/part.{rec.part_numbers[0]}"

    async def has(d: DriveState) -> bool:
        try:
            reader = await d.drive.open_shard(bucket, shard)
        except serr.StorageError:
            return False
        await asyncio.gather(reader.close(), return_exceptions=True)
        return True

    others = [d for d in drives if d.reachable and not d.corrupt and d.position not in held]
    found = await asyncio.gather(*(has(d) for d in others))
    return [d.position for d, yes in zip(others, found) if yes]


def _compare_metadata(plan: Plan, d: DriveState) -> None:
    """Which quorum versions the drive lacks and which of its versions must go."""
    report, xl = d.report, d.xl
    for r in plan.truth:
        vid = r.header.version_id
        entry = xl.find_entry(vid) if xl is not None else None
        ok = entry is not None and entry.header.matches(r.header)
        if ok and entry is not None and isinstance(r.version, ObjectVersion):
            try:
                rec = entry.version
            except XLMetaError:
                ok = False
            else:
                ok = isinstance(rec, ObjectVersion) and shard_number(r.version, d) == rec.ec_index
                if not ok:
                    d.misplaced.add(vid)  # its shards cannot be trusted to be this slot's
        if ok:
            d.holds.add(vid)
        else:
            report.missing_versions.append(r.header.version_id_text)
    truth_ids = {r.header.version_id for r in plan.truth}
    for entry in xl.entries if xl is not None else ():
        vid = entry.header.version_id
        if carried(entry):
            d.keep.append(entry)
        elif vid in truth_ids:
            if vid not in d.holds:  # another copy of a quorum version: replaced
                report.stale_versions.append(entry.header.version_id_text)
        elif plan.dangling[vid].removable:
            report.stale_versions.append(entry.header.version_id_text)
            d.drop.append(vid)
        else:
            d.keep.append(entry)  # cannot prove it was never committed: leave it be
    if report.missing_versions or report.stale_versions:
        if report.metadata == R.META_OK:
            report.metadata = R.META_OUTDATED
        # Without a quorum version to rebuild from, a corrupt or missing xl.meta stays.
        d.rewrite = bool(plan.truth or d.keep or d.drop)
    elif report.metadata in (R.META_MISSING, R.META_CORRUPT) and not plan.truth:
        report.metadata = R.META_OK if report.metadata == R.META_MISSING else report.metadata


def shard_number(version: ObjectVersion, d: DriveState) -> int:
    dist = version.ec_dist
    return dist[d.position] if d.position < len(dist) else 0


def _object_versions(plan: Plan) -> list[tuple[bytes, ObjectVersion]]:
    """Quorum object versions that have shards (inline or in a data dir)."""
    out = []
    for r in plan.truth:
        v = r.version
        if not isinstance(v, ObjectVersion) or not (r.header.uses_data_dir or v.inline_flag):
            continue
        if len(v.ec_dist) != plan.es.total or v.ec_m < 1 or len(v.parts) < 1:
            plan.result.errors.append(
                f"version {r.header.version_id_text}: layout {v.ec_m}+{v.ec_n} over "
                f"{len(v.ec_dist)} drives does not fit this set of {plan.es.total}")
            continue
        out.append((r.header.version_id, v))
    return out


def part_path(plan: Plan, v: ObjectVersion, number: int) -> str:
    return f"{plan.path}/{v.data_dir_text}/part.{number}"


def inline_target(v: ObjectVersion, index: int) -> bool:
    """Whether a rebuilt shard of part ``index`` (0-based) goes inline in xl.meta."""
    return index == 0 and len(v.parts) == 1 and v.inline_flag


async def _check_file(plan: Plan, d: DriveState, path: str, geometry: StripeGeometry,
                      deep: bool) -> str | None:
    try:
        reader = await d.drive.open_shard(plan.bucket, path)
    except _NOT_THERE:
        return R.SHARD_MISSING
    except serr.StorageError:
        return R.SHARD_UNREADABLE
    try:
        return await check_stream(reader, geometry, plan.es.cpu, deep)
    finally:
        await asyncio.gather(reader.close(), return_exceptions=True)


async def _survey_shards(plan: Plan, d: DriveState) -> None:
    for vid, v in plan.objects:
        text = version_id_str(vid)
        held = vid in d.holds
        for index, part in enumerate(v.parts):
            if vid in d.misplaced:
                d.bad[(vid, part.number)] = ShardRepair(
                    text, part.number, R.SHARD_MISPLACED, inline=inline_target(v, index))
                continue
            geometry = StripeGeometry(part.size, v.ec_block_size, v.ec_m)
            stream = d.xl.inline_data(vid) if held and index == 0 and d.xl is not None else None
            if stream is not None:
                # Already in memory: always verified, deep or not.
                reason = await check_stream(MemorySource(stream), geometry, plan.es.cpu, True)
                if reason is None:
                    d.inline[vid] = stream
                    continue
                d.bad[(vid, part.number)] = ShardRepair(text, part.number, reason, inline=True)
                continue
            # A drive that does not hold the version may still have its shards (only
            # xl.meta was lost); they are kept only if every frame verifies.
            reason = await _check_file(plan, d, part_path(plan, v, part.number), geometry,
                                       plan.deep or not held)
            if reason is not None:
                d.bad[(vid, part.number)] = ShardRepair(
                    text, part.number, reason, inline=inline_target(v, index))
    d.report.shards = list(d.bad.values())
    if any(r.inline for r in d.bad.values()):
        d.rewrite = True
    await _find_strays(plan, d)


def _referenced(plan: Plan) -> set[str] | None:
    """Data dirs of every version that stays, on any drive: the quorum's, and those
    heal keeps (free, legacy, dangling but not provably uncommitted). None when some
    drive could not tell us what it holds: then no data dir is safe to remove."""
    if any(not d.reachable or d.corrupt for d in plan.drives):
        return None
    out = {v.data_dir_text for r in plan.truth if isinstance(v := r.version, ObjectVersion)}
    for d in plan.drives:
        for entry in d.xl.entries if d.xl is not None else ():
            vid = entry.header.version_id
            kept = carried(entry) or (vid in plan.dangling and not plan.dangling[vid].removable)
            if not kept or entry.header.type != TYPE_OBJECT:
                continue
            try:
                rec = entry.version
            except XLMetaError:
                return None
            if isinstance(rec, ObjectVersion):
                out.add(rec.data_dir_text)
    return out


async def _find_strays(plan: Plan, d: DriveState) -> None:
    """Data dirs under the object that no version that stays refers to (leftovers
    of crashed commits, versions removed while the drive was away)."""
    referenced = plan.referenced
    if referenced is None:
        return
    try:
        names = await d.drive.list_dir(plan.bucket, plan.path)
    except serr.StorageError:
        return
    for name in names:
        if not _UUID_DIR.fullmatch(name) or name[:-1] in referenced:
            continue
        try:
            inside = await d.drive.list_dir(plan.bucket, f"{plan.path}/{name[:-1]}")
        except serr.StorageError:
            continue
        # Only shard files: a directory holding xl.meta or subdirectories is a key.
        if all(n.startswith("part.") and not n.endswith("/") for n in inside):
            d.strays.append(name[:-1])
    d.report.stray_data_dirs = list(d.strays)


def _count_sources(plan: Plan) -> None:
    """Versions with a part fewer than K drives still hold intact cannot be rebuilt."""
    for vid, v in plan.objects:
        for part in v.parts:
            good = sum(1 for d in plan.reachable() if (vid, part.number) not in d.bad)
            if good < v.ec_m:
                plan.unrecoverable.add(vid)
    plan.result.unrecoverable = [version_id_str(v) for v in sorted(plan.unrecoverable)]
