"""``LocalDrive``: the ``StorageAPI`` of one directory on a local disk.

Each drive owns a thread pool, so a slow or hung disk stalls only its own
calls. Every async method is one hop to that pool (~30 us each): the
syscalls of one logical operation run together in one call (see
``local_xl`` for the commit sequence). ``OSError`` and xl.meta decode errors
become storage errors in exactly one place, ``_translate``, which also
decides when the drive is gone: after that every call fails fast with
``DriveOffline`` until ``reconnect`` finds the same drive again, or a fresh
one in its place: a root holding no format.json at all (a replacement
drive, or this one emptied) comes online unformatted, for the drive healer
(``liteio.heal.drive_heal``) to format into the slot and refill. A root
whose format.json names another drive is refused, and so is an empty mount
point whose drive is no longer mounted there.

Opening the drive (the constructor) does a little synchronous I/O: it runs
once at start-up, before the event loop serves requests. The root must
exist; creating it is the caller's decision (a missing mount point must not
become a fresh directory on the root filesystem).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import stat
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from liteio._ext.directio import DirectFile, probe_direct
from liteio.meta.errors import FormatJSONError, XLMetaError
from liteio.meta.format_json import FormatErasureV3
from liteio.meta.ids import VersionIdLike, version_id_bytes
from liteio.meta.xlmeta import XLMeta
from liteio.storage import local_files as files
from liteio.storage import local_xl
from liteio.storage.api import (
    CommitResult,
    DiskInfo,
    ShardReader,
    ShardWriter,
    StorageAPI,
    VolumeInfo,
    WalkEntry,
)
from liteio.storage.errors import (
    DriveFull,
    DriveOffline,
    FileCorrupt,
    FileNotFound,
    PathInvalid,
    StorageError,
    VolumeNotEmpty,
    VolumeNotFound,
)
from liteio.storage.local_files import (
    DriveDirs,
    make_dirs,
    nlink_counts_subdirs,
    read_file,
    read_file_or_none,
    write_atomic,
)
from liteio.storage.local_walk import VolumeWalker
from liteio.storage.paths import (
    FORMAT_FILE,
    SYSTEM_VOLUME,
    TMP_DIR,
    XL_META,
    check_path,
    check_volume,
)
from liteio.storage.shard_io import LocalShardReader, LocalShardWriter

if TYPE_CHECKING:
    from liteio.meta.versions import DeleteMarker, ObjectVersion

T = TypeVar("T")

# errno values meaning the device (not one file) is failing.
_OFFLINE_ERRNOS = frozenset(
    {errno.EIO, errno.EROFS, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTCONN, errno.EUCLEAN}
)
_MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR})
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_INVALID_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EINVAL, errno.ELOOP})

# Walk batches grow so that a listing that wants a few keys does not read
# 1000 xl.meta first, and a long one pays one executor hop per 1000 entries.
WALK_FIRST_BATCH = 64
WALK_MAX_BATCH = 1000


def _take(gen: Iterator[WalkEntry], n: int) -> list[WalkEntry]:
    return list(itertools.islice(gen, n))


def _check_name(name: str, what: str) -> str:
    if "/" in name:
        raise PathInvalid(f"{what} {name!r} must be a single path component")
    return check_path(name)


def _drive_id_of(format_json: bytes | None) -> str | None:
    """The drive id a format.json names (None: no file, or unreadable)."""
    if format_json:
        try:
            return FormatErasureV3.load(format_json).this or None
        except FormatJSONError:
            pass
    return None


SHARD_STAGE_SIZE = 256 << 10


class LocalDrive(StorageAPI):
    """One drive directory. ``direct_io`` allows O_DIRECT shard writes where the
    filesystem takes them; ``direct_reads`` also reads shards with O_DIRECT
    (off by default, see ``shard_io``)."""

    def __init__(
        self,
        root: str | Path,
        endpoint: str | None = None,
        io_threads: int = 4,
        *,
        direct_io: bool = True,
        direct_reads: bool = False,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.endpoint = endpoint or self.root
        self._dirs = DriveDirs(self.root)
        self._pool = ThreadPoolExecutor(
            max_workers=io_threads, thread_name_prefix=f"drive-{os.path.basename(self.root)}"
        )
        self._allow_direct = direct_io
        self._direct_reads = direct_reads
        self._direct = False
        self._nlink_ok = False
        self._root_id: tuple[int, int] | None = None
        self._drive_id: str | None = None
        self._mounted = False  # the root was a mount point when opened
        self._online = False
        self._closed = False
        self._offline_reason = "not opened"
        try:
            self._open()
        except (OSError, StorageError) as exc:
            self._offline_reason = f"cannot open: {exc}"

    # -- opening, offline state and error mapping ------------------------------

    def _open(self) -> None:
        """Check the root, create the staging dir, probe O_DIRECT and link counts."""
        st = os.stat(self.root)
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "drive root is not a directory", self.root)
        raw = read_file_or_none(self._dirs.sys + "/" + FORMAT_FILE)
        drive_id = _drive_id_of(raw)
        mounted = os.path.ismount(self.root)
        if self._root_id is not None:
            self._check_same_drive(raw is not None, drive_id, st, mounted)
        # NOTE: never os.makedirs: it would recreate a root that vanished meanwhile.
        make_dirs(self.root, SYSTEM_VOLUME + "/" + TMP_DIR)
        self._direct = self._allow_direct and probe_direct(self._dirs.tmp)
        self._nlink_ok = nlink_counts_subdirs(self._dirs.tmp)
        self._root_id = (st.st_dev, st.st_ino)
        self._drive_id = drive_id
        self._mounted = mounted
        self._online = True
        self._offline_reason = ""

    def _check_same_drive(self, formatted: bool, drive_id: str | None, st: os.stat_result,
                          mounted: bool) -> None:
        """On reconnect: refuse a root that is now some other drive.

        The path may now be another directory (the drive was moved, unmounted
        or replaced). format.json's drive id decides when both sides know one;
        inode numbers are reused, so (dev, ino) is only the fallback."""
        if not formatted:
            # A fresh drive (or this one emptied): safe to take, the drive healer
            # formats it into this slot. But a mount point that lost its mount is
            # the root filesystem: filling it would be a disaster, never a repair.
            if self._mounted and not mounted:
                raise DriveOffline(f"{self.root} is no longer a mount point (drive unmounted?)")
            return
        if self._drive_id is not None:
            same = drive_id == self._drive_id
        else:  # opened unformatted: whoever formatted it since wrote through this path
            same = self._root_id == (st.st_dev, st.st_ino)
        if not same:
            raise DriveOffline(f"{self.root} is not the drive this was opened on")

    def _read_drive_id(self) -> str | None:
        return _drive_id_of(read_file_or_none(self._dirs.sys + "/" + FORMAT_FILE))

    def _set_offline(self, reason: str) -> DriveOffline:
        self._online = False
        self._offline_reason = reason
        return DriveOffline(f"{self.endpoint}: {reason}")

    def _root_intact(self) -> bool:
        try:
            st = os.stat(self.root)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._root_id

    def _translate(self, exc: OSError, volumes: tuple[str, ...]) -> StorageError:
        """The one place an OSError becomes a storage error."""
        err = exc.errno
        if err in _MISSING_ERRNOS:
            if not self._root_intact():
                return self._set_offline("drive root vanished")
            for volume in volumes:
                if not os.path.isdir(self._dirs.volume(volume)):
                    return VolumeNotFound(volume)
            return FileNotFound(f"{exc.filename}: {exc.strerror}")
        if err in _FULL_ERRNOS:
            return DriveFull(f"{self.endpoint}: {exc.strerror}")
        if err == errno.ENOTEMPTY:
            return VolumeNotEmpty(f"{exc.filename}: not empty")
        if err in _INVALID_ERRNOS:
            return PathInvalid(f"{exc.filename}: {exc.strerror}")
        if err in _OFFLINE_ERRNOS:
            return self._set_offline(f"{exc.strerror} ({exc.filename})")
        if err in (errno.EACCES, errno.EPERM):
            if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
                return self._set_offline("drive root not accessible")
            return StorageError(f"{exc.filename}: permission denied")
        return StorageError(f"{exc.filename}: {exc.strerror or exc}")

    def _call(self, volumes: tuple[str, ...], fn: Callable[..., T], *args: Any) -> T:
        """Runs on the drive's thread: ``fn`` with every failure mapped."""
        try:
            return fn(*args)
        except DriveOffline as exc:
            self._set_offline(str(exc))
            raise
        except StorageError:
            raise
        except OSError as exc:
            raise self._translate(exc, volumes) from exc
        except XLMetaError as exc:
            raise FileCorrupt(str(exc)) from exc
        except Exception as exc:  # the API promises storage errors only
            raise StorageError(f"{type(exc).__name__}: {exc}") from exc

    async def _run(
        self, volume: str | tuple[str, ...] | None, fn: Callable[..., T], *args: Any,
        check: bool = True,
    ) -> T:
        if check and not self._online:
            raise DriveOffline(f"{self.endpoint}: {self._offline_reason}")
        volumes = (volume,) if isinstance(volume, str) else (volume or ())
        loop = asyncio.get_running_loop()
        try:
            fut = loop.run_in_executor(self._pool, self._call, volumes, fn, *args)
        except RuntimeError:  # the pool is shut down
            raise DriveOffline(f"{self.endpoint}: drive closed") from None
        return await fut

    # -- identity and health ----------------------------------------------------

    @property
    def direct_io(self) -> bool:
        return self._direct

    def is_online(self) -> bool:
        return self._online

    async def reconnect(self) -> bool:
        if self._closed:
            return False
        if self._online:
            return True
        try:
            await self._run(None, self._open, check=False)
        except StorageError:
            return False
        return self._online

    def _disk_info(self) -> DiskInfo:
        st = os.statvfs(self.root)
        drive_id = self._drive_id = self._read_drive_id()
        return DiskInfo(
            endpoint=self.endpoint,
            total=st.f_blocks * st.f_frsize,
            free=st.f_bavail * st.f_frsize,
            used=(st.f_blocks - st.f_bfree) * st.f_frsize,
            online=True,
            direct_io=self._direct,
            drive_id=drive_id,
        )

    async def disk_info(self) -> DiskInfo:
        return await self._run(None, self._disk_info)

    # -- volumes ----------------------------------------------------------------

    async def make_volume(self, volume: str) -> None:
        await self._run(None, files.make_volume, self._dirs, check_volume(volume))

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._run(None, files.list_volumes, self._dirs)

    async def stat_volume(self, volume: str) -> VolumeInfo:
        return await self._run(volume, files.stat_volume, self._dirs, check_volume(volume))

    async def delete_volume(self, volume: str, force: bool = False) -> None:
        check_volume(volume)
        if volume == SYSTEM_VOLUME:
            raise PathInvalid("the system volume cannot be deleted")
        await self._run(volume, files.delete_volume, self._dirs, volume, force)

    # -- small whole files --------------------------------------------------------

    async def read_all(self, volume: str, path: str) -> bytes:
        check_volume(volume)
        return await self._run(volume, read_file, self._dirs.file(volume, check_path(path)))

    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        check_volume(volume)
        check_path(path)
        await self._run(volume, write_atomic, self._dirs, self._dirs.volume(volume), path, data)

    async def delete(self, volume: str, path: str, recursive: bool = False) -> None:
        check_volume(volume)
        await self._run(volume, files.delete_path, self._dirs, volume, check_path(path), recursive)

    async def list_dir(self, volume: str, path: str) -> list[str]:
        check_volume(volume)
        if path:
            check_path(path.rstrip("/"))
        return await self._run(volume, files.list_dir, self._dirs.file(volume, path.rstrip("/")))

    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        check_volume(src_volume)
        check_volume(dst_volume)
        check_path(src_path)
        check_path(dst_path)
        await self._run(
            (src_volume, dst_volume), files.rename_path, self._dirs, src_volume, src_path,
            dst_volume, dst_path,
        )

    # -- shard streams --------------------------------------------------------------

    def _create_shard(self, volume: str, path: str) -> DirectFile:
        make_dirs(self._dirs.volume(volume), path.rpartition("/")[0])
        # PERF: a frame (32 B + a shard) is never 4 KiB-aligned, so O_DIRECT writes pass
        # through this staging buffer; 256 KiB keeps syscalls large and a PUT's memory small.
        return DirectFile(self._dirs.file(volume, path), "w", direct=self._direct,
                          stage_size=SHARD_STAGE_SIZE)

    async def create_shard(self, volume: str, path: str) -> ShardWriter:
        check_volume(volume)
        f = await self._run(volume, self._create_shard, volume, check_path(path))
        return LocalShardWriter(self._run, volume, f)

    def _open_shard(self, volume: str, path: str) -> DirectFile:
        direct = self._direct and self._direct_reads
        return DirectFile(self._dirs.file(volume, path), "r", direct=direct)

    async def open_shard(self, volume: str, path: str) -> ShardReader:
        check_volume(volume)
        f = await self._run(volume, self._open_shard, volume, check_path(path))
        return LocalShardReader(self._run, volume, f)

    # -- object metadata ----------------------------------------------------------------

    async def read_xl(self, volume: str, path: str) -> bytes:
        check_volume(volume)
        full = self._dirs.file(volume, check_path(path)) + "/" + XL_META
        return await self._run(volume, read_file, full)

    def _write_xl(self, volume: str, path: str, data: bytes) -> None:
        XLMeta.load(data)  # never put a file on disk that readers would call corrupt
        write_atomic(self._dirs, self._dirs.volume(volume), path + "/" + XL_META, data)

    async def write_xl(self, volume: str, path: str, data: bytes) -> None:
        check_volume(volume)
        check_path(path)
        await self._run(volume, self._write_xl, volume, path, data)

    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        check_volume(volume)
        check_path(path)
        if staged_data_dir is not None:
            check_path(staged_data_dir[0])
            _check_name(staged_data_dir[1], "data dir")
        return await self._run(
            volume, local_xl.commit_version, self._dirs, volume, path, version, inline,
            staged_data_dir, True,
        )

    async def add_delete_marker(
        self, volume: str, path: str, marker: DeleteMarker
    ) -> CommitResult:
        check_volume(volume)
        check_path(path)
        # NOTE: unlike a new object version, a marker does not overwrite a
        # corrupt xl.meta: it is no full write, so it would erase the versions.
        return await self._run(
            volume, local_xl.commit_version, self._dirs, volume, path, marker, None, None, False
        )

    async def delete_version(
        self, volume: str, path: str, version_id: VersionIdLike
    ) -> CommitResult:
        check_volume(volume)
        check_path(path)
        try:
            vid = version_id_bytes(version_id)
        except ValueError as exc:
            raise PathInvalid(str(exc)) from None
        return await self._run(volume, local_xl.delete_version, self._dirs, volume, path, vid)

    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        check_volume(volume)
        check_path(path)
        await self._run(volume, local_xl.update_version, self._dirs, volume, path, version)

    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        check_volume(volume)
        check_path(path)
        if new_data_dir is not None:
            _check_name(new_data_dir, "data dir")
        await self._run(
            volume, local_xl.restore_xl, self._dirs, volume, path, previous_xl, new_data_dir
        )

    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        check_volume(volume)
        check_path(path)
        _check_name(data_dir, "data dir")
        await self._run(volume, local_xl.discard_data_dir, self._dirs, volume, path, data_dir)

    # -- listing ------------------------------------------------------------------------

    async def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[WalkEntry]:
        batches = self.walk_batches(volume, prefix, recursive=recursive, start_after=start_after)
        try:
            async for batch in batches:
                for entry in batch:
                    yield entry
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    async def walk_batches(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[list[WalkEntry]]:
        check_volume(volume)
        walker = VolumeWalker(
            self._dirs.volume(volume),
            prefix,
            recursive=recursive,
            start_after=start_after,
            nlink_ok=self._nlink_ok,
        )
        gen: Generator[WalkEntry, None, None] = walker.entries()
        size = WALK_FIRST_BATCH
        try:
            while True:
                batch = await self._run(volume, _take, gen, size)
                if batch:
                    yield batch
                if len(batch) < size:
                    return
                size = min(size * 4, WALK_MAX_BATCH)
        finally:
            try:
                gen.close()
            except ValueError:
                pass  # still running on the pool (we were cancelled); it ends with its batch

    # -- housekeeping ---------------------------------------------------------------------

    async def clean_tmp(self) -> None:
        await self._run(None, files.clean_tmp, self._dirs)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._set_offline("drive closed")
        # NOTE: never wait: a thread stuck in a syscall on a dead disk would hang us.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        state = "online" if self._online else f"offline ({self._offline_reason})"
        return f"<LocalDrive {self.endpoint} {state} direct={self._direct}>"
