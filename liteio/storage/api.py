"""``StorageAPI``: everything the object layer may ask of one drive.

A local drive implements it over files; a remote drive (distributed mode)
over RPC; wrappers add health tracking and fault injection. Every method is
async and raises only ``liteio.storage.errors`` exceptions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liteio.meta.versions import DeleteMarker, ObjectVersion


@dataclass(slots=True)
class DiskInfo:
    endpoint: str
    total: int
    free: int
    used: int
    online: bool
    direct_io: bool
    drive_id: str | None = None


@dataclass(slots=True)
class VolumeInfo:
    name: str
    created_ns: int


@dataclass(slots=True)
class WalkEntry:
    """One step of a sorted walk: an object (with its raw xl.meta) or a common prefix."""

    key: str
    xl: bytes | None = None

    @property
    def is_prefix(self) -> bool:
        return self.xl is None


@dataclass(slots=True)
class CommitResult:
    """What a drive replaced when committing a version: enough to undo or clean up."""

    previous_xl: bytes | None
    replaced_data_dir: str | None


class ShardWriter(ABC):
    """A shard stream being written; durable only after ``close``."""

    __slots__ = ()

    @abstractmethod
    async def write(self, data: Any) -> None: ...

    @abstractmethod
    async def close(self) -> None:
        """Flush, fdatasync and close."""

    @abstractmethod
    async def abort(self) -> None:
        """Close without durability; the caller removes the staging dir."""


class ShardReader(ABC):
    __slots__ = ()

    @abstractmethod
    async def read_at(self, offset: int, length: int) -> memoryview:
        """Up to ``length`` bytes at ``offset`` (short only at end of file)."""

    @abstractmethod
    async def close(self) -> None: ...


class StorageAPI(ABC):
    endpoint: str

    # -- identity and health -------------------------------------------------
    @abstractmethod
    async def disk_info(self) -> DiskInfo: ...

    @abstractmethod
    def is_online(self) -> bool: ...

    async def reconnect(self) -> bool:
        """Try to bring an offline drive back (re-check its root, re-dial a
        remote); whether it is online afterwards. Health wrappers call it."""
        return self.is_online()

    # -- volumes (buckets, and the system volume) -----------------------------
    @abstractmethod
    async def make_volume(self, volume: str) -> None: ...

    @abstractmethod
    async def list_volumes(self) -> list[VolumeInfo]: ...

    @abstractmethod
    async def stat_volume(self, volume: str) -> VolumeInfo: ...

    @abstractmethod
    async def delete_volume(self, volume: str, force: bool = False) -> None: ...

    # -- small whole files ----------------------------------------------------
    @abstractmethod
    async def read_all(self, volume: str, path: str) -> bytes: ...

    @abstractmethod
    async def write_all(self, volume: str, path: str, data: bytes) -> None:
        """Atomically replace the file with ``data``, durably."""

    @abstractmethod
    async def delete(self, volume: str, path: str, recursive: bool = False) -> None: ...

    @abstractmethod
    async def list_dir(self, volume: str, path: str) -> list[str]:
        """Entry names; directories carry a trailing '/'."""

    @abstractmethod
    async def rename(self, src_volume: str, src_path: str, dst_volume: str, dst_path: str) -> None:
        ...

    # -- shard streams --------------------------------------------------------
    @abstractmethod
    async def create_shard(self, volume: str, path: str) -> ShardWriter: ...

    @abstractmethod
    async def open_shard(self, volume: str, path: str) -> ShardReader: ...

    # -- object metadata --------------------------------------------------------
    @abstractmethod
    async def read_xl(self, volume: str, path: str) -> bytes:
        """The object's whole xl.meta, inline data included."""

    @abstractmethod
    async def write_xl(self, volume: str, path: str, data: bytes) -> None:
        """Durably replace the object's whole xl.meta with ``data`` (healing: a drive's
        rebuilt copy). ``data`` must parse as an xl.meta, or ``FileCorrupt`` is raised
        and nothing changes; the object's directory is created if missing."""

    @abstractmethod
    async def commit_version(
        self,
        volume: str,
        path: str,
        version: ObjectVersion,
        inline: bytes | None,
        staged_data_dir: tuple[str, str] | None,
    ) -> CommitResult:
        """Merge ``version`` into the object's xl.meta and make it visible.

        ``staged_data_dir`` is (system-volume path of the staged data dir,
        its name) to move under the object first. The xl.meta rename is the
        commit point. Nothing the new version replaced is deleted here: the
        caller finishes with ``discard_data_dir`` or undoes with ``restore_xl``.
        """

    @abstractmethod
    async def add_delete_marker(self, volume: str, path: str, marker: DeleteMarker) -> CommitResult:
        ...

    @abstractmethod
    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        """Remove one version; the object's directory goes when none remain.

        Deletes are not undone: a data dir no other version uses is removed at
        once, so ``replaced_data_dir`` is None; ``previous_xl`` is the old file."""

    @abstractmethod
    async def update_version(self, volume: str, path: str, version: ObjectVersion) -> None:
        """Replace an existing version's metadata in place (tags, user metadata)."""

    @abstractmethod
    async def restore_xl(
        self,
        volume: str,
        path: str,
        previous_xl: bytes | None,
        new_data_dir: str | None = None,
    ) -> None:
        """Undo a commit: put back the xl.meta it replaced (None: the object did
        not exist, so its xl.meta and now-empty directories go). ``new_data_dir``
        names the data dir the undone commit moved in (``staged_data_dir[1]``),
        which is removed too."""

    @abstractmethod
    async def discard_data_dir(self, volume: str, path: str, data_dir: str) -> None:
        """Remove a data dir a commit replaced (absent already: not an error)."""

    # -- listing ---------------------------------------------------------------
    @abstractmethod
    def walk(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[WalkEntry]:
        """Objects (and, unless recursive, common prefixes ending in '/') whose
        keys start with ``prefix``, in S3 key order, strictly after ``start_after``."""

    async def walk_batches(
        self, volume: str, prefix: str, *, recursive: bool, start_after: str = ""
    ) -> AsyncIterator[list[WalkEntry]]:
        """``walk`` in the batches the drive produces (one executor hop or RPC
        round trip each), so wrappers pay one deadline per batch, not per entry.
        The default yields batches of one."""
        async for entry in self.walk(volume, prefix, recursive=recursive, start_after=start_after):
            yield [entry]

    # -- housekeeping ------------------------------------------------------------
    @abstractmethod
    async def clean_tmp(self) -> None:
        """Remove every staging leftover (run at start-up)."""

    @abstractmethod
    async def close(self) -> None: ...
