"""Synchronous file primitives and whole file/volume operations of a local drive;
everything here runs on the drive's executor.

Everything here raises plain ``OSError`` (or a storage error where the
meaning is unambiguous); ``LocalDrive`` translates errno values to storage
errors in one place. Paths are absolute strings built by ``DriveDirs``.

Durability rules (the crash model is power loss on ext4/xfs):
- a file becomes visible only by ``rename`` of a complete, fdatasync'ed temp
  file from ``.minio.sys/tmp``, followed by an fsync of the target directory;
- directories created on the way are not fsynced one by one: the target
  directory's fsync commits the journal transaction holding their ``mkdir``s
  (true for ext4 and xfs, the filesystems we support for data drives).
"""

from __future__ import annotations

import errno
import os
import stat

from liteio._ext.directio import fsync_dir
from liteio.storage.api import VolumeInfo
from liteio.storage.errors import VolumeExists, VolumeNotEmpty, VolumeNotFound
from liteio.storage.paths import SYSTEM_VOLUME, TMP_DIR

_O_READ = os.O_RDONLY | os.O_CLOEXEC
_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC

# A rename into a directory that a concurrent prune of an emptied sibling just
# removed fails with ENOENT; recreating the parents and retrying is safe.
RACE_RETRIES = 3


class DriveDirs:
    """Absolute paths of one drive's layout."""

    __slots__ = ("root", "sys", "tmp")

    def __init__(self, root: str) -> None:
        self.root = root
        self.sys = os.path.join(root, SYSTEM_VOLUME)
        self.tmp = os.path.join(self.sys, TMP_DIR)

    def volume(self, volume: str) -> str:
        return self.root + "/" + volume

    def file(self, volume: str, path: str) -> str:
        return self.root + "/" + volume + "/" + path if path else self.root + "/" + volume

    def new_tmp(self) -> str:
        """A fresh name for a temp file (never reused: 128 random bits)."""
        return self.tmp + "/" + os.urandom(16).hex()


def read_file(path: str) -> bytes:
    """The whole file (open, fstat, read, close: the fewest syscalls that are safe)."""
    fd = os.open(path, _O_READ)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size) if size else b""
        if len(data) == size:
            return data
        # NOTE: a short read of a regular file happens only on a signal; finish it.
        parts = [data]
        got = len(data)
        while got < size:
            chunk = os.read(fd, size - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def read_file_or_none(path: str) -> bytes | None:
    """Like ``read_file`` but None when the file (or a parent) does not exist."""
    try:
        return read_file(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def write_tmp(dirs: DriveDirs, data: bytes | bytearray | memoryview) -> str:
    """Write ``data`` to a new durable temp file; its path."""
    tmp = dirs.new_tmp()
    try:
        fd = os.open(tmp, _O_CREATE, 0o644)
    except FileNotFoundError:
        # The staging dir itself went (an operator cleaned up); never the root.
        make_dirs(dirs.root, SYSTEM_VOLUME + "/" + TMP_DIR)
        fd = os.open(tmp, _O_CREATE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fdatasync(fd)
    except BaseException:
        os.close(fd)
        unlink_quiet(tmp)
        raise
    os.close(fd)
    return tmp


def make_dirs(base: str, rel: str) -> None:
    """Create ``base/rel`` and missing parents, never ``base`` itself.

    ``base`` is a volume directory: when it is missing the ENOENT escapes, so
    the caller reports the volume (not a path) as missing. One mkdir in the
    common case of an existing parent; iterative, as keys may be deep.
    """
    if not rel:
        return
    try:
        os.mkdir(base + "/" + rel)
        return
    except FileExistsError:
        return
    except FileNotFoundError:
        if "/" not in rel:
            raise
    missing = [rel]
    head = rel
    while True:
        head = head.rpartition("/")[0]
        if not head:
            break  # create from the first component down (ENOENT: no volume)
        try:
            os.mkdir(base + "/" + head)
            break
        except FileExistsError:
            break
        except FileNotFoundError:
            missing.append(head)
    for d in reversed(missing):
        try:
            os.mkdir(base + "/" + d)
        except FileExistsError:
            pass


def rename_into(base: str, src: str, dst_rel: str) -> None:
    """rename(src, base/dst_rel), creating parents and surviving concurrent prunes."""
    dst = base + "/" + dst_rel
    head = dst_rel.rpartition("/")[0]
    for attempt in range(RACE_RETRIES):
        try:
            os.rename(src, dst)
            return
        except FileNotFoundError:
            if attempt == RACE_RETRIES - 1 or not os.path.lexists(src):
                raise
            make_dirs(base, head)


def write_atomic(dirs: DriveDirs, base: str, rel: str, data: bytes | bytearray | memoryview) -> None:
    """Durably replace ``base/rel`` with ``data``: temp file, fdatasync, rename, fsync dir."""
    tmp = write_tmp(dirs, data)
    try:
        rename_into(base, tmp, rel)
    except BaseException:
        unlink_quiet(tmp)
        raise
    fsync_dir(os.path.dirname(base + "/" + rel))


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_tree(path: str) -> bool:
    """Remove a file or a directory tree; False if it was not there."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    except (IsADirectoryError, PermissionError) as exc:
        # NOTE: unlink of a directory is EISDIR on Linux (EPERM by POSIX).
        if isinstance(exc, PermissionError) and not os.path.isdir(path):
            raise
    return _remove_dir_tree(path)


def _remove_dir_tree(top: str) -> bool:
    """shutil.rmtree without its recursion (keys may have a thousand components);
    entries vanishing meanwhile are fine."""
    stack: list[tuple[str, bool]] = [(top, False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                if path == top:
                    return False
            continue
        try:
            with os.scandir(path) as it:
                entries = [(e.path, e.is_dir(follow_symlinks=False)) for e in it]
        except FileNotFoundError:
            if path == top:
                return False
            continue
        stack.append((path, True))
        for child, is_dir in entries:
            if is_dir:
                stack.append((child, False))
            else:
                try:
                    os.unlink(child)
                except FileNotFoundError:
                    pass
    return True


def prune_empty(base: str, rel_dir: str, keep: int = 0) -> str:
    """rmdir ``base/rel_dir`` and its parents while empty, stopping before ``base``
    and never touching the first ``keep`` path components.

    Returns the deepest directory that survives (to fsync). Listing relies on
    deleted objects leaving no empty directories behind.
    """
    while rel_dir.count("/") >= keep and rel_dir:
        full = base + "/" + rel_dir
        try:
            os.rmdir(full)
        except FileNotFoundError:
            pass  # a concurrent prune got there first; go on upwards
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EBUSY):
                return full
            raise
        rel_dir = rel_dir.rpartition("/")[0]
    return base + "/" + rel_dir if rel_dir else base


def prune_keep(volume: str) -> int:
    """Components ``prune_empty`` must keep: the system volume's top-level
    directories (tmp, multipart, buckets) stay even when empty."""
    return 1 if volume == SYSTEM_VOLUME else 0


def fsync_quiet(path: str) -> None:
    """fsync a directory that may have been pruned meanwhile."""
    try:
        fsync_dir(path)
    except FileNotFoundError:
        pass


def scan_dirs(path: str) -> list[str]:
    """Names of the subdirectories of ``path`` (symlinks are not followed)."""
    with os.scandir(path) as it:
        return [e.name for e in it if e.is_dir(follow_symlinks=False)]


def has_regular_files(top: str) -> bool:
    """Whether a tree holds anything but (nested) empty directories."""
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if not e.is_dir(follow_symlinks=False):
                        return True
                    stack.append(e.path)
        except FileNotFoundError:
            continue
    return False


def nlink_counts_subdirs(scratch: str) -> bool:
    """Whether directory link counts are 2 + subdirectories here (ext4, xfs: yes;
    btrfs: no). Walks use it to skip scanning leaf object directories."""
    probe = scratch + "/nlink-" + os.urandom(8).hex()
    os.mkdir(probe)
    try:
        os.mkdir(probe + "/d")
        try:
            return os.stat(probe).st_nlink == 3 and os.stat(probe + "/d").st_nlink == 2
        finally:
            os.rmdir(probe + "/d")
    finally:
        os.rmdir(probe)


# -- whole operations of LocalDrive (each one executor call) ----------------------------


def make_volume(dirs: DriveDirs, volume: str) -> None:
    try:
        os.mkdir(dirs.volume(volume))
    except FileExistsError:
        raise VolumeExists(volume) from None
    fsync_dir(dirs.root)


def list_volumes(dirs: DriveDirs) -> list[VolumeInfo]:
    """Bucket directories: not the system volume, nor any other dot-dir."""
    out = []
    with os.scandir(dirs.root) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_dir(follow_symlinks=False):
                continue
            try:
                out.append(VolumeInfo(e.name, e.stat(follow_symlinks=False).st_mtime_ns))
            except FileNotFoundError:
                continue  # deleted while we listed
    out.sort(key=lambda v: v.name)
    return out


def stat_volume(dirs: DriveDirs, volume: str) -> VolumeInfo:
    st = os.stat(dirs.volume(volume))
    if not stat.S_ISDIR(st.st_mode):
        raise VolumeNotFound(volume)
    # NOTE: not a creation time (POSIX has none portable); the object layer
    # keeps the real one in the bucket metadata.
    return VolumeInfo(volume, st.st_mtime_ns)


def delete_volume(dirs: DriveDirs, volume: str, force: bool) -> None:
    path = dirs.volume(volume)
    if not force:
        try:
            os.rmdir(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # NOTE: directories without a single file are leftovers (e.g. an
            # interrupted prune); the bucket is empty as far as S3 can tell.
            if has_regular_files(path):
                raise VolumeNotEmpty(volume) from None
            remove_tree(path)
    else:
        # Out of sight first (one rename), so no listing sees half a bucket.
        trash = dirs.new_tmp()
        os.rename(path, trash)
        remove_tree(trash)
    fsync_dir(dirs.root)


def delete_path(dirs: DriveDirs, volume: str, path: str, recursive: bool) -> None:
    """Remove a file, an empty dir or (recursive) a tree, then prune empty parents."""
    base = dirs.volume(volume)
    full = base + "/" + path
    try:
        os.unlink(full)
    except (IsADirectoryError, PermissionError):
        if not os.path.isdir(full):
            raise
        if recursive:
            trash = dirs.new_tmp()
            os.rename(full, trash)  # gone from sight at once, however big
            remove_tree(trash)
        else:
            os.rmdir(full)
    prune_empty(base, path.rpartition("/")[0], prune_keep(volume))


def list_dir(path: str) -> list[str]:
    with os.scandir(path) as it:
        names = [e.name + "/" if e.is_dir(follow_symlinks=False) else e.name for e in it]
    names.sort()
    return names


def rename_path(
    dirs: DriveDirs, src_volume: str, src_path: str, dst_volume: str, dst_path: str
) -> None:
    base = dirs.volume(dst_volume)
    rename_into(base, dirs.file(src_volume, src_path), dst_path)
    fsync_dir(os.path.dirname(base + "/" + dst_path))


def clean_tmp(dirs: DriveDirs) -> None:
    # NOTE: never os.makedirs: it would recreate a vanished drive root.
    make_dirs(dirs.root, SYSTEM_VOLUME + "/" + TMP_DIR)
    with os.scandir(dirs.tmp) as it:
        names = [e.name for e in it]
    for name in names:
        remove_tree(dirs.tmp + "/" + name)
