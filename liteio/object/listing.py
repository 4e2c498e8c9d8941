"""Listing: merge the sorted walks of every drive of every set, resolve by quorum.

    drive walks (sorted) --merge by key--> per-set entries (xl.meta per drive)
        --quorum--> object versions / prefixes --merge sets--> page

A key is listed when a read quorum of its set agrees on a version; a common
prefix when a read quorum of drives still has something under it (a stale
directory on a drive that missed deletes is outvoted).
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator
from dataclasses import dataclass

from liteio.meta.errors import XLMetaError
from liteio.meta.ids import version_id_bytes
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.object.erasure_set import ErasureSet
from liteio.object.quorum import resolve, resolve_versions
from liteio.object.types import ListObjectsResult, ObjectInfo
from liteio.storage import errors as serr
from liteio.storage.api import WalkEntry

# Code points sort like UTF-8 bytes, so this sorts after every key with a given prefix.
AFTER_ALL = "\U0010ffff"


@dataclass(slots=True)
class _Item:
    key: str
    prefix: bool
    infos: list[ObjectInfo]


async def _drive_walk(erasure_set: ErasureSet, position: int, bucket: str, prefix: str,
                      recursive: bool, start_after: str) -> AsyncIterator[WalkEntry]:
    drive = erasure_set.drives[position]
    try:
        async for entry in drive.walk(bucket, prefix, recursive=recursive, start_after=start_after):
            yield entry
    except serr.VolumeNotFound:
        return
    except serr.StorageError:
        # A drive failing mid-walk simply stops contributing; quorum decides.
        return


async def _merged(erasure_set: ErasureSet, bucket: str, prefix: str, recursive: bool,
                  start_after: str) -> AsyncIterator[tuple[str, bool, list[bytes | None], int]]:
    """(key, is_prefix, xl.meta per drive position or None, drives reporting it) in order.

    An object "a/" and the common prefix "a/" are separate entries (objects first).
    """
    online = [i for i, drive in enumerate(erasure_set.drives) if drive.is_online()]
    walkers = [_drive_walk(erasure_set, i, bucket, prefix, recursive, start_after) for i in online]
    heap: list[tuple[str, bool, int, WalkEntry]] = []
    for slot, walker in enumerate(walkers):
        entry = await anext(walker, None)
        if entry is not None:
            heap.append((entry.key, entry.is_prefix, slot, entry))
    heapq.heapify(heap)
    while heap:
        key, is_prefix = heap[0][0], heap[0][1]
        metas: list[bytes | None] = [None] * erasure_set.total
        reporters = 0
        while heap and heap[0][0] == key and heap[0][1] == is_prefix:
            _, _, slot, entry = heapq.heappop(heap)
            reporters += 1
            metas[online[slot]] = entry.xl
            following = await anext(walkers[slot], None)
            if following is not None:
                heapq.heappush(heap, (following.key, following.is_prefix, slot, following))
        yield key, is_prefix, metas, reporters


def _decode(raw: list[bytes | None]) -> list[XLMeta | None]:
    out: list[XLMeta | None] = []
    for data in raw:
        if data is None:
            out.append(None)
            continue
        try:
            out.append(XLMeta.load(data))
        except XLMetaError:
            out.append(None)
    return out


async def _set_items(erasure_set: ErasureSet, bucket: str, prefix: str, recursive: bool,
                     start_after: str, versions: bool) -> AsyncIterator[_Item]:
    async for key, is_prefix, raw, reporters in _merged(
        erasure_set, bucket, prefix, recursive, start_after
    ):
        if is_prefix:
            if reporters >= erasure_set.read_quorum:
                yield _Item(key, True, [])
            continue
        metas = _decode(raw)
        if versions:
            found = resolve_versions(metas, erasure_set.read_quorum)
            infos = [ObjectInfo.from_version(bucket, key, r.version, is_latest=(n == 0))
                     for n, r in enumerate(found)]
            if infos:
                yield _Item(key, False, infos)
            continue
        latest = resolve(metas, erasure_set.read_quorum)
        if latest is not None and not latest.is_delete_marker:
            yield _Item(key, False, [ObjectInfo.from_version(bucket, key, latest.version)])


async def _all_sets(sets: list[ErasureSet], bucket: str, prefix: str, recursive: bool,
                    start_after: str, versions: bool) -> AsyncIterator[_Item]:
    streams = [_set_items(s, bucket, prefix, recursive, start_after, versions) for s in sets]
    if len(streams) == 1:
        async for item in streams[0]:
            yield item
        return
    heap: list[tuple[str, bool, int, _Item]] = []
    for n, stream in enumerate(streams):
        first: _Item | None = await anext(stream, None)
        if first is not None:
            heap.append((first.key, first.prefix, n, first))
    heapq.heapify(heap)
    last_prefix = None
    while heap:
        _, _, n, item = heapq.heappop(heap)
        following = await anext(streams[n], None)
        if following is not None:
            heapq.heappush(heap, (following.key, following.prefix, n, following))
        if item.prefix:
            if item.key == last_prefix:
                continue  # the same directory exists in several sets
            last_prefix = item.key
        yield item


async def list_objects(
    sets: list[ErasureSet], bucket: str, *, prefix: str = "", delimiter: str = "",
    marker: str = "", max_keys: int = 1000, versions: bool = False,
    version_marker: str = "",
) -> ListObjectsResult:
    """One page of ListObjects(V1/V2) or, with ``versions``, ListObjectVersions."""
    if max_keys < 0:
        raise oerr.InvalidArgument("max-keys must not be negative")
    result = ListObjectsResult()
    slash = delimiter == "/"
    start_after = marker
    if delimiter and marker.endswith(delimiter) and marker.startswith(prefix):
        start_after = marker + AFTER_ALL  # resume after a whole common prefix
    if versions and marker and version_marker:
        start_after = _before(marker)  # the marker key itself may have versions left
    if max_keys == 0:
        return result
    count = 0
    last_common = ""
    async for item in _all_sets(sets, bucket, prefix, not slash, start_after, versions):
        entries: list[tuple[str, ObjectInfo | None]]
        common = None
        if item.prefix:
            common = item.key
        elif delimiter and delimiter in item.key[len(prefix):]:
            cut = item.key.index(delimiter, len(prefix)) + len(delimiter)
            common = item.key[:cut]
        if common is not None:
            if common == last_common or (marker and common <= marker):
                continue
            last_common = common
            entries = [(common, None)]
        else:
            infos = item.infos
            if versions and marker and item.key == marker and version_marker:
                infos = _after_version(infos, version_marker)
            entries = [(item.key, info) for info in infos]
        for name, info in entries:
            if count == max_keys:
                result.is_truncated = True
                return result
            if info is None:
                result.prefixes.append(name)
                result.next_marker = name
            else:
                result.objects.append(info)
                result.next_marker = name
                result.next_version_id_marker = info.version_id
            count += 1
    return result


def _before(key: str) -> str:
    """A start-after value that still includes ``key`` itself."""
    if not key:
        return ""
    last = key[-1]
    return key[:-1] + chr(ord(last) - 1) + AFTER_ALL if ord(last) > 0 else key[:-1]


def _after_version(infos: list[ObjectInfo], version_marker: str) -> list[ObjectInfo]:
    try:
        wanted = version_id_bytes(version_marker)
    except ValueError:
        raise oerr.InvalidArgument(f"invalid version-id-marker {version_marker!r}") from None
    for n, info in enumerate(infos):
        if version_id_bytes(info.version_id) == wanted:
            return infos[n + 1 :]
    return infos
