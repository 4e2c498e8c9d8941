"""The server side of each plain ``StorageAPI`` call: decode arguments, call the drive,
encode the result. Only the names in ``HANDLERS`` can be called; there is no
reflection over the drive's attributes.

Streams (``create_shard``, ``open_shard`` and reads, walks) hold state on the
connection and live in ``liteio.rpc.server``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from liteio.meta.versions import DeleteMarker, ObjectVersion
from liteio.rpc import codec
from liteio.storage.api import StorageAPI
from liteio.storage.errors import PathInvalid

Handler = Callable[[StorageAPI, list[Any]], Awaitable[Any]]


def _version(body: Any, kind: type) -> Any:
    if not isinstance(body, bytes):
        raise PathInvalid("version must be an xl.meta version body")
    version = codec.version_in(body)
    if not isinstance(version, kind):
        raise PathInvalid(f"expected a {kind.__name__}, got a {type(version).__name__}")
    return version


async def _disk_info(d: StorageAPI, a: list[Any]) -> Any:
    return codec.disk_info_out(await d.disk_info())


async def _reconnect(d: StorageAPI, a: list[Any]) -> Any:
    return bool(await d.reconnect())


async def _make_volume(d: StorageAPI, a: list[Any]) -> Any:
    await d.make_volume(a[0])


async def _list_volumes(d: StorageAPI, a: list[Any]) -> Any:
    return codec.volumes_out(await d.list_volumes())


async def _stat_volume(d: StorageAPI, a: list[Any]) -> Any:
    return codec.volumes_out([await d.stat_volume(a[0])])[0]


async def _delete_volume(d: StorageAPI, a: list[Any]) -> Any:
    await d.delete_volume(a[0], bool(a[1]))


async def _read_all(d: StorageAPI, a: list[Any]) -> Any:
    return await d.read_all(a[0], a[1])


async def _write_all(d: StorageAPI, a: list[Any]) -> Any:
    await d.write_all(a[0], a[1], a[2])


async def _delete(d: StorageAPI, a: list[Any]) -> Any:
    await d.delete(a[0], a[1], bool(a[2]))


async def _list_dir(d: StorageAPI, a: list[Any]) -> Any:
    return await d.list_dir(a[0], a[1])


async def _rename(d: StorageAPI, a: list[Any]) -> Any:
    await d.rename(a[0], a[1], a[2], a[3])


async def _read_xl(d: StorageAPI, a: list[Any]) -> Any:
    return await d.read_xl(a[0], a[1])


async def _write_xl(d: StorageAPI, a: list[Any]) -> Any:
    await d.write_xl(a[0], a[1], a[2])


async def _commit_version(d: StorageAPI, a: list[Any]) -> Any:
    staged = None if a[4] is None else (a[4][0], a[4][1])
    result = await d.commit_version(a[0], a[1], _version(a[2], ObjectVersion), a[3], staged)
    return codec.commit_out(result)


async def _add_delete_marker(d: StorageAPI, a: list[Any]) -> Any:
    return codec.commit_out(await d.add_delete_marker(a[0], a[1], _version(a[2], DeleteMarker)))


async def _delete_version(d: StorageAPI, a: list[Any]) -> Any:
    return codec.commit_out(await d.delete_version(a[0], a[1], a[2]))


async def _update_version(d: StorageAPI, a: list[Any]) -> Any:
    await d.update_version(a[0], a[1], _version(a[2], ObjectVersion))


async def _restore_xl(d: StorageAPI, a: list[Any]) -> Any:
    await d.restore_xl(a[0], a[1], a[2], a[3])


async def _discard_data_dir(d: StorageAPI, a: list[Any]) -> Any:
    await d.discard_data_dir(a[0], a[1], a[2])


async def _clean_tmp(d: StorageAPI, a: list[Any]) -> Any:
    await d.clean_tmp()


HANDLERS: dict[str, Handler] = {
    "disk_info": _disk_info,
    "reconnect": _reconnect,
    "make_volume": _make_volume,
    "list_volumes": _list_volumes,
    "stat_volume": _stat_volume,
    "delete_volume": _delete_volume,
    "read_all": _read_all,
    "write_all": _write_all,
    "delete": _delete,
    "list_dir": _list_dir,
    "rename": _rename,
    "read_xl": _read_xl,
    "write_xl": _write_xl,
    "commit_version": _commit_version,
    "add_delete_marker": _add_delete_marker,
    "delete_version": _delete_version,
    "update_version": _update_version,
    "restore_xl": _restore_xl,
    "discard_data_dir": _discard_data_dir,
    "clean_tmp": _clean_tmp,
}
