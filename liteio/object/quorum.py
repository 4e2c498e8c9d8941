"""Quorum decisions from per-drive answers: which version is real, which error wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from liteio.meta.errors import XLMetaError
from liteio.meta.header import VersionHeader
from liteio.meta.versions import DeleteMarker, ObjectVersion
from liteio.meta.xlmeta import XLMeta


@dataclass(slots=True)
class Resolved:
    """A version that enough drives agree on, and which drives (set positions) hold it."""

    header: VersionHeader
    drives: list[int]
    version: ObjectVersion | DeleteMarker

    @property
    def is_delete_marker(self) -> bool:
        return isinstance(self.version, DeleteMarker)


HeaderKey = tuple[bytes, int, bytes, int]


def _key(h: VersionHeader) -> HeaderKey:
    # What makes two drives' copies "the same version" (see VersionHeader.matches).
    return (h.version_id, h.mod_time, h.signature, h.type)


def _tally(
    metas: Sequence[XLMeta | None], version_id: bytes | None
) -> dict[HeaderKey, tuple[VersionHeader, list[int]]]:
    """Matching version headers -> (header, drive positions holding it)."""
    holders: dict[HeaderKey, tuple[VersionHeader, list[int]]] = {}
    for position, xl in enumerate(metas):
        if xl is None:
            continue
        for entry in xl.entries:
            header = entry.header
            if header.is_free_version:
                continue
            if version_id is not None and header.version_id != version_id:
                continue
            slot = holders.get(_key(header))
            if slot is None:
                holders[_key(header)] = (header, [position])
            else:
                slot[1].append(position)
    return holders


def has_quorum(header: VersionHeader, holders: int, default_quorum: int) -> bool:
    # An object version needs its own K; a delete marker (no shards) the set's.
    return holders >= (header.ec_m or default_quorum)


def resolve_versions(metas: Sequence[XLMeta | None], default_quorum: int) -> list[Resolved]:
    """Every version held by a read quorum of drives, latest first."""
    out = []
    for header, positions in _tally(metas, None).values():
        if has_quorum(header, len(positions), default_quorum):
            record = _record(metas, positions, header)
            if record is not None:
                out.append(Resolved(header, positions, record))
    out.sort(key=lambda r: r.header.sort_key())
    return out


def resolve(
    metas: Sequence[XLMeta | None], default_quorum: int, version_id: bytes | None = None
) -> Resolved | None:
    """The latest version (or the one asked for) held by a read quorum, or None.

    A newer version that too few drives hold (a write that never reached
    quorum, or drives that missed it) is passed over for the newest one that
    does have quorum.
    """
    candidates = [
        (header, positions)
        for header, positions in _tally(metas, version_id).values()
        if has_quorum(header, len(positions), default_quorum)
    ]
    candidates.sort(key=lambda c: c[0].sort_key())
    for header, positions in candidates:
        record = _record(metas, positions, header)
        if record is not None:
            return Resolved(header, positions, record)
    return None


def _record(
    metas: Sequence[XLMeta | None], positions: list[int], header: VersionHeader
) -> ObjectVersion | DeleteMarker | None:
    """The version body from the first holder whose body decodes."""
    for position in positions:
        xl = metas[position]
        entry = xl.find_entry(header.version_id) if xl is not None else None
        if entry is None:
            continue
        try:
            record = entry.version
        except XLMetaError:
            continue
        if isinstance(record, (ObjectVersion, DeleteMarker)):
            return record
    return None
