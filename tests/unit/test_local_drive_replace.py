"""``LocalDrive.reconnect`` when the root is no longer the directory it opened:
a fresh (unformatted) drive is taken, another drive is refused, and the root
itself is never created."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from liteio.meta.format_json import FormatErasureV3
from liteio.storage import local_files
from liteio.storage.errors import DriveOffline
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.paths import FORMAT_FILE, SYSTEM_VOLUME

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def formatted_drive(tmp_path: Path) -> tuple[LocalDrive, FormatErasureV3]:
    root = tmp_path / "d1"
    root.mkdir()
    drive = LocalDrive(root)
    fmt = FormatErasureV3.new(1, 4).for_drive(0, 1)
    run(drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, fmt.dump()))
    run(drive.disk_info())  # the drive learns its id
    return drive, fmt


def replace_root(drive: LocalDrive, format_json: bytes | None = None) -> None:
    """A new directory at the drive's path (optionally holding a format.json),
    noticed by the next call. The old one goes only after the new one exists:
    a directory made right after a removal may get the same inode number back."""
    os.rename(drive.root, drive.root + ".old")
    os.mkdir(drive.root)
    shutil.rmtree(drive.root + ".old")
    if format_json is not None:
        os.mkdir(os.path.join(drive.root, SYSTEM_VOLUME))
        Path(drive.root, SYSTEM_VOLUME, FORMAT_FILE).write_bytes(format_json)


def notice(drive: LocalDrive) -> None:
    with pytest.raises(DriveOffline):
        run(drive.stat_volume("bucket"))
    assert not drive.is_online()


def go_offline_in_place(drive: LocalDrive, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error takes the drive offline; its root stays the same directory."""
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(local_files.os, "fdatasync", broken)
        with pytest.raises(DriveOffline):
            run(drive.write_all(SYSTEM_VOLUME, "x", b"x"))
    assert not drive.is_online()


def test_fresh_root_is_taken_unformatted(tmp_path: Path) -> None:
    drive, _ = formatted_drive(tmp_path)
    run(drive.make_volume("bucket"))
    replace_root(drive)
    notice(drive)
    assert run(drive.reconnect())
    info = run(drive.disk_info())
    assert info.online and info.drive_id is None
    assert os.path.isdir(os.path.join(drive.root, SYSTEM_VOLUME, "tmp"))  # staging ready
    assert [v.name for v in run(drive.list_volumes())] == []
    run(drive.close())


def test_root_of_another_drive_is_refused(tmp_path: Path) -> None:
    drive, fmt = formatted_drive(tmp_path)
    stranger = FormatErasureV3.new(1, 4).for_drive(0, 1)
    replace_root(drive, stranger.dump())
    notice(drive)
    assert not run(drive.reconnect())
    # A format.json nobody can read may be anyone's: refused as well.
    replace_root(drive, b"{not json")
    assert not run(drive.reconnect())
    assert not drive.is_online()
    Path(drive.root, SYSTEM_VOLUME, FORMAT_FILE).write_bytes(fmt.dump())
    assert run(drive.reconnect())  # its own identity: back
    assert run(drive.disk_info()).drive_id == fmt.this
    run(drive.close())


def test_missing_root_is_never_created(tmp_path: Path) -> None:
    drive, _ = formatted_drive(tmp_path)
    shutil.rmtree(drive.root)
    notice(drive)
    assert not run(drive.reconnect())
    assert not os.path.exists(drive.root)
    run(drive.close())


def test_same_root_emptied_while_offline_is_taken(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    drive, _ = formatted_drive(tmp_path)
    go_offline_in_place(drive, monkeypatch)
    for entry in os.listdir(drive.root):
        shutil.rmtree(os.path.join(drive.root, entry))
    assert run(drive.reconnect())
    assert run(drive.disk_info()).drive_id is None
    run(drive.close())


def test_drive_formatted_after_opening_reconnects(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened unformatted, formatted since through this drive (start-up bring-up
    does that) without asking its id back: the same directory is still this drive."""
    root = tmp_path / "d1"
    root.mkdir()
    drive = LocalDrive(root)
    fmt = FormatErasureV3.new(1, 4).for_drive(0, 3)
    run(drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, fmt.dump()))
    go_offline_in_place(drive, monkeypatch)
    assert run(drive.reconnect())
    assert run(drive.disk_info()).drive_id == fmt.this
    run(drive.close())


def test_unmounted_mount_point_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A drive mounted at its root, then unmounted: the empty mount point left on
    the root filesystem is no replacement drive."""
    mounted = {"now": True}
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount",
                        lambda p: mounted["now"] if str(p).endswith("d1") else real_ismount(p))
    drive, _ = formatted_drive(tmp_path)
    replace_root(drive)
    notice(drive)
    mounted["now"] = False
    assert not run(drive.reconnect())
    assert os.listdir(drive.root) == []  # not even the staging dir was made
    mounted["now"] = True  # a new drive mounted there: taken
    assert run(drive.reconnect())
    run(drive.close())


def test_health_probe_brings_a_replacement_online(tmp_path: Path) -> None:
    drive, _ = formatted_drive(tmp_path)
    checked = HealthCheckedDrive(drive, timeout=5.0)

    async def go() -> None:
        replace_root(drive)
        with pytest.raises(DriveOffline):
            await checked.stat_volume("bucket")
        assert not checked.is_online()
        assert await checked.check()
        assert checked.is_online() and (await checked.disk_info()).drive_id is None
        await checked.close()

    run(go())
