"""``StorageAPI`` values on the wire: plain msgpack arrays, versions as their xl.meta bodies.

Records travel as arrays in field order (smaller and faster than maps; both
ends are the same release). Object versions and delete markers travel as the
exact version body xl.meta stores (``to_msgpack``), so nothing about them is
translated twice and unknown fields survive the trip.

Errors travel as (class name, message). The receiver raises the class of that
name from ``liteio.storage.errors``; a name it does not know (a newer peer, a
wrapper's own subclass) becomes the nearest storage error it does know, or
``StorageError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liteio.meta.bodydec import decode_version
from liteio.storage import errors as serr
from liteio.storage.api import CommitResult, DiskInfo, VolumeInfo, WalkEntry

if TYPE_CHECKING:
    from liteio.meta.versions import Version

ERRORS: dict[str, type[serr.StorageError]] = {
    name: cls
    for name, cls in vars(serr).items()
    if isinstance(cls, type) and issubclass(cls, serr.StorageError)
}


def error_out(exc: BaseException) -> list[str]:
    """(name, message) of the nearest ``liteio.storage.errors`` class."""
    name = "StorageError"
    for cls in type(exc).__mro__:
        if ERRORS.get(cls.__name__) is cls:
            name = cls.__name__
            break
    return [name, str(exc)]


def error_in(payload: Any) -> serr.StorageError:
    try:
        name, message = payload
        cls = ERRORS.get(str(name), serr.StorageError)
        return cls(str(message))
    except (TypeError, ValueError):
        return serr.StorageError(f"malformed error from peer: {payload!r}")


def disk_info_out(info: DiskInfo) -> list[Any]:
    return [info.total, info.free, info.used, info.online, info.direct_io, info.drive_id]


def disk_info_in(v: list[Any], endpoint: str) -> DiskInfo:
    total, free, used, online, direct_io, drive_id = v
    return DiskInfo(endpoint, total, free, used, online, direct_io, drive_id)


def volumes_out(volumes: list[VolumeInfo]) -> list[list[Any]]:
    return [[v.name, v.created_ns] for v in volumes]


def volume_in(v: list[Any]) -> VolumeInfo:
    return VolumeInfo(v[0], v[1])


def commit_out(r: CommitResult) -> list[Any]:
    return [r.previous_xl, r.replaced_data_dir]


def commit_in(v: list[Any]) -> CommitResult:
    return CommitResult(v[0], v[1])


def version_out(version: Any) -> bytes:
    return bytes(version.to_msgpack())


def version_in(body: bytes) -> Version:
    return decode_version(body)


def walk_out(entries: list[WalkEntry]) -> list[list[Any]]:
    return [[e.key, e.xl] for e in entries]


def walk_in(v: list[list[Any]]) -> list[WalkEntry]:
    return [WalkEntry(key, xl) for key, xl in v]
