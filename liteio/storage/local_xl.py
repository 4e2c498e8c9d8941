"""xl.meta read-modify-write operations of a local drive, each one executor call.

Every function here is the whole of one logical operation (load, merge,
write, renames, fsyncs), so ``LocalDrive`` hops to its executor once per
object mutation. They raise ``OSError``, ``XLMetaError`` or storage errors;
``LocalDrive`` maps the first two.

Commit order on one drive (what a crash at any point leaves behind):

    1. obj dir created (mkdir)          crash: an empty dir, pruned by the next delete
    2. new xl.meta -> tmp, fdatasync    crash: a tmp file, removed by clean_tmp
    3. staged data dir -> obj/<ddir>    crash: an unreferenced data dir (heal removes it)
    4. tmp -> obj/xl.meta               THE commit point: the new version is visible
    5. fsync(obj dir)                   makes 3 and 4 durable before we acknowledge
"""

from __future__ import annotations

import errno
import os

from liteio.meta.errors import VersionNotFound as MetaVersionNotFound
from liteio.meta.errors import XLMetaCorrupt, XLMetaError
from liteio.meta.header import TYPE_OBJECT
from liteio.meta.ids import NULL_VERSION_ID, uuid_str, version_id_str
from liteio.meta.versions import ObjectVersion, Version
from liteio.meta.xlmeta import VersionEntry, XLMeta
from liteio.storage.api import CommitResult
from liteio.storage.errors import FileCorrupt, StorageError, VersionNotFound
from liteio.storage.local_files import (
    DriveDirs,
    fsync_quiet,
    make_dirs,
    prune_empty,
    prune_keep,
    read_file,
    read_file_or_none,
    remove_tree,
    rename_into,
    unlink_quiet,
    write_atomic,
    write_tmp,
)
from liteio.storage.paths import XL_META

_XL = "/" + XL_META


def _data_dir_of(entry: VersionEntry | None) -> bytes | None:
    """The data dir a version's shards live in, or None (marker, transitioned, unreadable)."""
    if entry is None or entry.header.type != TYPE_OBJECT or not entry.header.uses_data_dir:
        return None
    try:
        rec = entry.version
    except XLMetaError:
        return None  # a damaged body: we cannot tell, so never delete on its behalf
    if not isinstance(rec, ObjectVersion) or rec.data_dir == NULL_VERSION_ID:
        return None
    return rec.data_dir


def _unused(xl: XLMeta, data_dir: bytes) -> bool:
    """Whether no remaining version uses ``data_dir`` (False when unsure)."""
    try:
        return xl.data_dir_users(data_dir) == 0
    except XLMetaError:
        return False


def data_dir_names(raw: bytes) -> set[str]:
    """Names of the data dirs an xl.meta refers to (empty if it cannot be parsed)."""
    try:
        xl = XLMeta.load(raw)
    except XLMetaError:
        return set()
    names = set()
    for entry in xl.entries:
        dd = _data_dir_of(entry)
        if dd is not None:
            names.add(uuid_str(dd))
    return names


def _load_for_write(old: bytes | None, overwrite_corrupt: bool) -> tuple[XLMeta, bool]:
    """The xl.meta to merge into, and whether it came from ``old``."""
    if old is None:
        return XLMeta(), False
    try:
        return XLMeta.load(old), True
    except XLMetaCorrupt as exc:
        # NOTE: a corrupt xl.meta is overwritten by a full new version (as MinIO
        # does): the drive then holds the new version at least, and heal merges
        # the older versions back from the other drives. A newer format we
        # cannot read (XLMetaUnsupportedVersion) is never overwritten.
        if overwrite_corrupt:
            return XLMeta(), False
        raise FileCorrupt(f"xl.meta: {exc}") from None


def commit_version(
    dirs: DriveDirs,
    volume: str,
    path: str,
    version: Version,
    inline: bytes | bytearray | memoryview | None,
    staged_data_dir: tuple[str, str] | None,
    overwrite_corrupt: bool,
) -> CommitResult:
    """Merge ``version`` into ``<volume>/<path>/xl.meta`` and make it visible.

    ``overwrite_corrupt``: replace an unparseable xl.meta instead of failing.
    """
    base = dirs.volume(volume)
    obj = base + "/" + path
    old = read_file_or_none(obj + _XL)
    xl, merged = _load_for_write(old, overwrite_corrupt)
    old_dd = _data_dir_of(xl.find_entry(version.version_id)) if merged else None
    xl.add_version(version, inline_data=inline)
    replaced: str | None = None
    if old_dd is not None and _unused(xl, old_dd):
        name = uuid_str(old_dd)
        # NOTE: inline versions carry a data dir id too but have no directory.
        if os.path.isdir(obj + "/" + name):
            replaced = name
    data = xl.dump()

    make_dirs(base, path)
    tmp = write_tmp(dirs, data)
    moved: tuple[str, str] | None = None  # (staged source, its place under the object)
    try:
        if staged_data_dir is not None:
            src = dirs.sys + "/" + staged_data_dir[0]
            rel = path + "/" + staged_data_dir[1]
            try:
                rename_into(base, src, rel)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise StorageError(f"data dir {rel!r} already exists") from None
                raise
            moved = (src, base + "/" + rel)
        rename_into(base, tmp, path + _XL)
    except BaseException:
        unlink_quiet(tmp)
        if moved is not None:
            try:
                os.rename(moved[1], moved[0])
            except OSError:
                pass
        raise
    fsync_quiet(obj)
    return CommitResult(previous_xl=old, replaced_data_dir=replaced)


def delete_version(dirs: DriveDirs, volume: str, path: str, version_id: bytes) -> CommitResult:
    """Remove one version; its data dir too when no other version uses it.

    Deletes are never undone, so the data dir goes right away. With no
    version left the xl.meta goes, then every directory left empty.
    """
    base = dirs.volume(volume)
    obj = base + "/" + path
    old = read_file(obj + _XL)
    xl = XLMeta.load(old)
    try:
        entry = xl.delete_version(version_id)
    except MetaVersionNotFound:
        raise VersionNotFound(f"{path}: version {version_id_str(version_id)}") from None
    dd = _data_dir_of(entry)
    gone = uuid_str(dd) if dd is not None and _unused(xl, dd) else None
    if len(xl):
        write_atomic(dirs, base, path + _XL, xl.dump())
        if gone is not None:
            remove_tree(obj + "/" + gone)
    else:
        os.unlink(obj + _XL)
        if gone is not None:
            remove_tree(obj + "/" + gone)
        fsync_quiet(prune_empty(base, path, prune_keep(volume)))
    return CommitResult(previous_xl=old, replaced_data_dir=None)


def update_version(dirs: DriveDirs, volume: str, path: str, version: Version) -> None:
    base = dirs.volume(volume)
    xl = XLMeta.load(read_file(base + "/" + path + _XL))
    try:
        xl.update_version(version)
    except MetaVersionNotFound:
        raise VersionNotFound(f"{path}: version {version.version_id_text}") from None
    write_atomic(dirs, base, path + _XL, xl.dump())


def restore_xl(
    dirs: DriveDirs, volume: str, path: str, previous: bytes | None, new_data_dir: str | None
) -> None:
    """Undo a commit. The old xl.meta goes back before the new data dir goes, so
    a crash in between leaves a stray directory, never a version without data."""
    base = dirs.volume(volume)
    obj = base + "/" + path
    if previous is not None:
        make_dirs(base, path)
        write_atomic(dirs, base, path + _XL, previous)
        if new_data_dir:
            remove_tree(obj + "/" + new_data_dir)
        return
    try:
        os.unlink(obj + _XL)
    except (FileNotFoundError, NotADirectoryError):
        if not os.path.isdir(base):
            raise
    if new_data_dir:
        remove_tree(obj + "/" + new_data_dir)
    fsync_quiet(prune_empty(base, path, prune_keep(volume)))


def discard_data_dir(dirs: DriveDirs, volume: str, path: str, data_dir: str) -> None:
    base = dirs.volume(volume)
    if not remove_tree(base + "/" + path + "/" + data_dir) and not os.path.isdir(base):
        raise FileNotFoundError(2, "volume not found", base)
