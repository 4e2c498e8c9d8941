"""LocalDrive: volumes, whole files, shard streams, xl.meta commits and undo, offline."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from liteio._ext.buffers import aligned_empty
from liteio._ext.directio import probe_direct
from liteio.meta import NULL_VERSION_ID, DeleteMarker, ObjectVersion, XLMeta
from liteio.meta.format_json import FormatErasureV3
from liteio.storage import local_files
from liteio.storage.errors import (
    DriveOffline,
    FileCorrupt,
    FileNotFound,
    PathInvalid,
    StorageError,
    VersionNotFound,
    VolumeExists,
    VolumeNotEmpty,
    VolumeNotFound,
)
from liteio.storage.local import LocalDrive
from liteio.storage.paths import FORMAT_FILE, SYSTEM_VOLUME, encode_key

T = TypeVar("T")
NS = 1_000_000_000


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def drive_at(tmp_path: Path, name: str = "d1", **kw: Any) -> LocalDrive:
    root = tmp_path / name
    root.mkdir(exist_ok=True)
    return LocalDrive(root, **kw)


def obj_version(
    version_id: bytes = NULL_VERSION_ID,
    data_dir: bytes | None = None,
    mod_time: int = 1_700_000_000 * NS,
    size: int = 5,
    etag: str = "etag",
) -> ObjectVersion:
    return ObjectVersion(
        version_id=version_id,
        data_dir=data_dir or uuid.uuid4().bytes,
        ec_m=2,
        ec_n=2,
        ec_index=1,
        ec_dist=[1, 2, 3, 4],
        part_numbers=[1],
        part_sizes=[size],
        part_actual_sizes=[size],
        size=size,
        mod_time=mod_time,
        meta_sys={},
        meta_usr={"etag": etag},
    )


def tmp_entries(drive: LocalDrive) -> list[str]:
    return sorted(os.listdir(os.path.join(drive.root, SYSTEM_VOLUME, "tmp")))


def tree(path: str | Path) -> list[str]:
    """Every file and directory under ``path``, relative, directories with '/'."""
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        for d in dirnames:
            out.append(os.path.normpath(os.path.join(rel, d)) + "/")
        for f in filenames:
            out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


async def stage_shard(drive: LocalDrive, data: bytes) -> tuple[tuple[str, str], str]:
    """Write a part.1 into a staging dir: ((system-volume path, data dir name), name)."""
    dd = str(uuid.uuid4())
    staged = f"tmp/{uuid.uuid4()}/{dd}"
    w = await drive.create_shard(SYSTEM_VOLUME, staged + "/part.1")
    await w.write(data)
    await w.close()
    return (staged, dd), dd


# -- volumes ------------------------------------------------------------------------


def test_volume_lifecycle(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        assert drive.is_online()
        await drive.make_volume("alpha")
        await drive.make_volume("beta")
        os.mkdir(os.path.join(drive.root, ".hidden"))
        names = [v.name for v in await drive.list_volumes()]
        assert names == ["alpha", "beta"]  # no .minio.sys, no dot-dirs
        info = await drive.stat_volume("alpha")
        assert info.name == "alpha" and info.created_ns > 0
        with pytest.raises(VolumeExists):
            await drive.make_volume("alpha")
        with pytest.raises(VolumeNotFound):
            await drive.stat_volume("gamma")
        with pytest.raises(VolumeNotFound):
            await drive.delete_volume("gamma")
        for bad in ("", "a/b", "..", "x" * 300):
            with pytest.raises(PathInvalid):
                await drive.make_volume(bad)
        with pytest.raises(PathInvalid):
            await drive.delete_volume(SYSTEM_VOLUME)

        await drive.write_all("alpha", "k/xl.meta", b"x")
        with pytest.raises(VolumeNotEmpty):
            await drive.delete_volume("alpha")
        await drive.delete_volume("alpha", force=True)
        # Only empty leftovers inside: the bucket is empty for S3.
        os.makedirs(os.path.join(drive.root, "beta", "stale", "dirs"))
        await drive.delete_volume("beta")
        assert await drive.list_volumes() == []
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())


def test_file_ops_on_missing_volume(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        with pytest.raises(VolumeNotFound):
            await drive.read_all("nope", "a")
        with pytest.raises(VolumeNotFound):
            await drive.write_all("nope", "a/b", b"x")
        with pytest.raises(VolumeNotFound):
            await drive.read_xl("nope", "a")
        with pytest.raises(VolumeNotFound):
            await drive.commit_version("nope", "a", obj_version(), b"x", None)
        with pytest.raises(VolumeNotFound):
            await drive.create_shard("nope", "a/part.1")
        with pytest.raises(VolumeNotFound):
            async for _ in drive.walk("nope", "", recursive=True):
                pass
        assert not os.path.exists(os.path.join(drive.root, "nope"))  # never created
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())


# -- small files ----------------------------------------------------------------------


def test_write_all_read_all_delete(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        await drive.write_all("b", "x/y/z.bin", b"one")
        assert await drive.read_all("b", "x/y/z.bin") == b"one"
        await drive.write_all("b", "x/y/z.bin", b"two" * 1000)
        assert await drive.read_all("b", "x/y/z.bin") == b"two" * 1000
        await drive.write_all("b", "x/empty", b"")
        assert await drive.read_all("b", "x/empty") == b""
        assert await drive.list_dir("b", "x") == ["empty", "y/"]
        assert await drive.list_dir("b", "") == ["x/"]
        assert tmp_entries(drive) == []
        with pytest.raises(FileNotFound):
            await drive.read_all("b", "x/nope")
        with pytest.raises(FileNotFound):
            await drive.read_all("b", "x/y")  # a directory
        with pytest.raises(FileNotFound):
            await drive.list_dir("b", "nope")
        for bad in ("", "../etc/passwd", "a//b", "a/./b", "/abs"):
            with pytest.raises(PathInvalid):
                await drive.read_all("b", bad)

        await drive.delete("b", "x/y/z.bin")
        assert tree(Path(drive.root) / "b") == ["x/", "x/empty"]  # "x/y" pruned
        with pytest.raises(FileNotFound):
            await drive.delete("b", "x/y/z.bin")
        await drive.write_all("b", "d/e/f", b"1")
        await drive.write_all("b", "d/e/g", b"2")
        with pytest.raises(VolumeNotEmpty):
            await drive.delete("b", "d/e")
        await drive.delete("b", "d", recursive=True)
        await drive.delete("b", "x/empty")
        assert tree(Path(drive.root) / "b") == []
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())


def test_write_all_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        await drive.write_all("b", "f", b"old")

        def broken(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(local_files.os, "fdatasync", broken)
        from liteio.storage.errors import DriveFull

        with pytest.raises(DriveFull):
            await drive.write_all("b", "f", b"new")
        monkeypatch.undo()
        assert await drive.read_all("b", "f") == b"old"
        assert tmp_entries(drive) == []
        assert drive.is_online()
        await drive.close()

    run(go())


def test_eio_takes_drive_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")

        def broken(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(local_files.os, "fdatasync", broken)
        with pytest.raises(DriveOffline):
            await drive.write_all("b", "f", b"new")
        monkeypatch.undo()
        assert not drive.is_online()
        with pytest.raises(DriveOffline):
            await drive.read_all("b", "f")  # fails fast until reconnect
        assert await drive.reconnect()
        with pytest.raises(FileNotFound):
            await drive.read_all("b", "f")
        await drive.close()

    run(go())


def test_rename_files_and_dirs(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        await drive.write_all(SYSTEM_VOLUME, "tmp/u/dd/part.1", b"p1")
        await drive.write_all(SYSTEM_VOLUME, "tmp/u/dd/part.2", b"p2")
        await drive.rename(SYSTEM_VOLUME, "tmp/u/dd", "b", "deep/er/dd")
        assert await drive.read_all("b", "deep/er/dd/part.2") == b"p2"
        await drive.write_all("b", "f1", b"1")
        await drive.rename("b", "f1", "b", "g/f2")
        assert await drive.read_all("b", "g/f2") == b"1"
        with pytest.raises(FileNotFound):
            await drive.rename("b", "f1", "b", "f3")
        with pytest.raises(VolumeNotFound):
            await drive.rename("b", "g/f2", "nope", "f3")
        await drive.close()

    run(go())


def test_disk_info_and_clean_tmp(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        info = await drive.disk_info()
        assert info.total > 0 and 0 <= info.free <= info.total and info.online
        assert info.drive_id is None
        mine = FormatErasureV3.new(1, 4).for_drive(0, 2)
        await drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, mine.dump())
        assert (await drive.disk_info()).drive_id == mine.this
        await drive.write_all(SYSTEM_VOLUME, "tmp/a/b/c", b"x")
        w = await drive.create_shard(SYSTEM_VOLUME, "tmp/w/dd/part.1")
        await w.write(b"abc")
        await w.abort()
        assert tmp_entries(drive) == ["a", "w"]
        await drive.clean_tmp()
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())


# -- shard streams --------------------------------------------------------------------

SIZES = [0, 1, 31, 4095, 4096, 4097, 65536 + 32, (1 << 20) - 1, (1 << 20) + 4097, 3 * (1 << 20)]
MODES = [
    pytest.param({"direct_io": False}, id="buffered"),
    pytest.param({"direct_io": True}, id="direct-write"),
    pytest.param({"direct_io": True, "direct_reads": True}, id="direct-rw"),
]


@pytest.mark.parametrize("mode", MODES)
def test_shard_round_trip(tmp_path: Path, mode: dict[str, bool]) -> None:
    if mode["direct_io"] and not probe_direct(tmp_path):
        pytest.skip("filesystem refuses O_DIRECT")
    drive = drive_at(
        tmp_path, direct_io=mode["direct_io"], direct_reads=mode.get("direct_reads", False)
    )
    assert drive.direct_io == mode["direct_io"]
    rng = random.Random(7)

    async def go() -> None:
        for size in SIZES:
            data = os.urandom(size)
            path = f"tmp/{uuid.uuid4()}/{uuid.uuid4()}/part.1"
            w = await drive.create_shard(SYSTEM_VOLUME, path)
            pos = 0
            kinds = 0
            while pos < size:
                n = min(size - pos, rng.choice([1, 100, 4096, 65536, 1 << 20]))
                chunk = data[pos : pos + n]
                kinds += 1
                if kinds % 3 == 0:
                    buf = aligned_empty(n)
                    memoryview(buf)[:] = chunk
                    await w.write(buf)
                elif kinds % 3 == 1:
                    await w.write(memoryview(chunk))
                else:
                    await w.write(chunk)
                pos += n
            await w.close()
            assert os.path.getsize(os.path.join(drive.root, SYSTEM_VOLUME, path)) == size

            r = await drive.open_shard(SYSTEM_VOLUME, path)
            whole = await r.read_at(0, size + 100)
            assert bytes(whole) == data
            for _ in range(20):
                off = rng.randrange(0, size + 10)
                length = rng.randrange(0, 300_000)
                got = await r.read_at(off, length)
                assert isinstance(got, memoryview)
                assert bytes(got) == data[off : off + length]
            await r.close()
        with pytest.raises(FileNotFound):
            await drive.open_shard(SYSTEM_VOLUME, "tmp/none/part.1")
        await drive.close()

    run(go())


# -- xl.meta commits --------------------------------------------------------------------


def test_commit_inline_and_read_xl(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        v = obj_version()
        res = await drive.commit_version("b", "docs/a.txt", v, b"shard-bytes", None)
        assert res.previous_xl is None and res.replaced_data_dir is None
        raw = await drive.read_xl("b", "docs/a.txt")
        xl = XLMeta.load(raw)
        assert xl.latest() == v
        assert xl.inline_data(v.version_id) == b"shard-bytes"
        with pytest.raises(FileNotFound):
            await drive.read_xl("b", "docs/none")
        with pytest.raises(FileNotFound):
            await drive.read_xl("b", "docs")  # a directory, not an object
        assert tree(Path(drive.root) / "b") == ["docs/", "docs/a.txt/", "docs/a.txt/xl.meta"]
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())


def test_commit_staged_replace_discard_restore(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)
    obj_dir = Path(tmp_path) / "d1" / "b" / "obj"

    async def go() -> None:
        await drive.make_volume("b")
        staged1, dd1 = await stage_shard(drive, b"first")
        v1 = obj_version(data_dir=uuid.UUID(dd1).bytes)
        r1 = await drive.commit_version("b", "obj", v1, None, staged1)
        assert r1.previous_xl is None and r1.replaced_data_dir is None
        assert (obj_dir / dd1 / "part.1").read_bytes() == b"first"
        assert not os.path.exists(os.path.join(drive.root, SYSTEM_VOLUME, staged1[0]))
        xl1 = await drive.read_xl("b", "obj")

        # Overwrite the null version: the old data dir is reported, not removed.
        staged2, dd2 = await stage_shard(drive, b"second")
        v2 = obj_version(data_dir=uuid.UUID(dd2).bytes, mod_time=v1.mod_time + 1)
        r2 = await drive.commit_version("b", "obj", v2, None, staged2)
        assert r2.previous_xl == xl1
        assert r2.replaced_data_dir == dd1
        assert (obj_dir / dd1 / "part.1").exists() and (obj_dir / dd2 / "part.1").exists()
        assert len(XLMeta.load(await drive.read_xl("b", "obj"))) == 1

        # Undo: exactly the previous state, the new data dir gone.
        await drive.restore_xl("b", "obj", r2.previous_xl, dd2)
        assert await drive.read_xl("b", "obj") == xl1
        assert sorted(os.listdir(obj_dir)) == sorted([dd1, "xl.meta"])

        # Redo and finish: discard the replaced dir (idempotent).
        staged3, dd3 = await stage_shard(drive, b"third")
        v3 = obj_version(data_dir=uuid.UUID(dd3).bytes, mod_time=v1.mod_time + 2)
        r3 = await drive.commit_version("b", "obj", v3, None, staged3)
        assert r3.replaced_data_dir == dd1
        await drive.discard_data_dir("b", "obj", dd1)
        await drive.discard_data_dir("b", "obj", dd1)
        assert sorted(os.listdir(obj_dir)) == sorted([dd3, "xl.meta"])

        # Replacing an inline version reports nothing (it has no directory).
        r4 = await drive.commit_version("b", "obj", obj_version(), b"inline", None)
        assert r4.replaced_data_dir == dd3
        r5 = await drive.commit_version("b", "obj", obj_version(), b"inline2", None)
        assert r5.replaced_data_dir is None
        # Only the (empty) staging parents are left: the caller removes them.
        for name in tmp_entries(drive):
            assert os.listdir(os.path.join(drive.root, SYSTEM_VOLUME, "tmp", name)) == []
        await drive.close()

    run(go())


def test_restore_when_object_did_not_exist(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        await drive.commit_version("b", "keep/me", obj_version(), b"k", None)
        staged, dd = await stage_shard(drive, b"data")
        v = obj_version(data_dir=uuid.UUID(dd).bytes)
        res = await drive.commit_version("b", "keep/new/deep/obj", v, None, staged)
        assert res.previous_xl is None
        await drive.restore_xl("b", "keep/new/deep/obj", None, dd)
        with pytest.raises(FileNotFound):
            await drive.read_xl("b", "keep/new/deep/obj")
        assert tree(Path(drive.root) / "b") == ["keep/", "keep/me/", "keep/me/xl.meta"]
        # Undo of an inline commit on a fresh key, and of nothing at all.
        await drive.commit_version("b", "solo", obj_version(), b"s", None)
        await drive.restore_xl("b", "solo", None)
        await drive.restore_xl("b", "solo", None)
        assert tree(Path(drive.root) / "b") == ["keep/", "keep/me/", "keep/me/xl.meta"]
        await drive.close()

    run(go())


def test_versions_markers_delete_and_prune(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)
    broot = Path(tmp_path) / "d1" / "b"

    async def go() -> None:
        await drive.make_volume("b")
        await drive.commit_version("b", "a/b/sibling", obj_version(), b"s", None)
        ids = [uuid.uuid4().bytes for _ in range(3)]
        dds = []
        for i, vid in enumerate(ids):
            staged, dd = await stage_shard(drive, b"v%d" % i)
            dds.append(dd)
            v = obj_version(vid, uuid.UUID(dd).bytes, mod_time=(1000 + i) * NS)
            await drive.commit_version("b", "a/b/c/obj", v, None, staged)
        marker = DeleteMarker(version_id=uuid.uuid4().bytes, mod_time=2000 * NS)
        res = await drive.add_delete_marker("b", "a/b/c/obj", marker)
        assert res.replaced_data_dir is None
        xl = XLMeta.load(await drive.read_xl("b", "a/b/c/obj"))
        assert len(xl) == 4 and isinstance(xl.latest(), DeleteMarker)

        # update_version keeps everything else
        v1 = xl.find(ids[1])
        assert isinstance(v1, ObjectVersion)
        changed = obj_version(ids[1], v1.data_dir, mod_time=v1.mod_time, etag="new-etag")
        await drive.update_version("b", "a/b/c/obj", changed)
        xl = XLMeta.load(await drive.read_xl("b", "a/b/c/obj"))
        found = xl.find(ids[1])
        assert isinstance(found, ObjectVersion) and found.etag == "new-etag"
        with pytest.raises(VersionNotFound):
            await drive.update_version("b", "a/b/c/obj", obj_version(uuid.uuid4().bytes))

        obj = broot / "a/b/c/obj"
        before = await drive.read_xl("b", "a/b/c/obj")
        res = await drive.delete_version("b", "a/b/c/obj", ids[0])
        assert res.previous_xl == before
        assert not (obj / dds[0]).exists() and (obj / dds[1]).exists()
        with pytest.raises(VersionNotFound):
            await drive.delete_version("b", "a/b/c/obj", ids[0])
        await drive.delete_version("b", "a/b/c/obj", marker.version_id)
        await drive.delete_version("b", "a/b/c/obj", ids[1])
        await drive.delete_version("b", "a/b/c/obj", ids[2])
        # Every emptied directory is gone; the sibling's are not.
        assert tree(broot) == ["a/", "a/b/", "a/b/sibling/", "a/b/sibling/xl.meta"]
        with pytest.raises(FileNotFound):
            await drive.delete_version("b", "a/b/c/obj", ids[2])
        await drive.delete_version("b", "a/b/sibling", NULL_VERSION_ID)
        assert tree(broot) == []
        await drive.close()

    run(go())


def test_shared_data_dir_survives_one_delete(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        staged, dd = await stage_shard(drive, b"shared")
        a, b = uuid.uuid4().bytes, uuid.uuid4().bytes
        await drive.commit_version("b", "o", obj_version(a, uuid.UUID(dd).bytes, 1 * NS), None,
                                   staged)
        await drive.commit_version("b", "o", obj_version(b, uuid.UUID(dd).bytes, 2 * NS), None,
                                   None)
        await drive.delete_version("b", "o", a)
        assert os.path.isdir(os.path.join(drive.root, "b", "o", dd))
        await drive.delete_version("b", "o", b)
        assert not os.path.exists(os.path.join(drive.root, "b", "o"))
        await drive.close()

    run(go())


def test_object_and_child_object_coexist(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)
    broot = Path(tmp_path) / "d1" / "b"

    async def go() -> None:
        await drive.make_volume("b")
        for key in ("a", "a/b", "a/", "a/b/c"):
            await drive.commit_version("b", encode_key(key), obj_version(), key.encode(), None)
        for key in ("a", "a/b", "a/", "a/b/c"):
            xl = XLMeta.load(await drive.read_xl("b", encode_key(key)))
            assert xl.inline_data(NULL_VERSION_ID) == key.encode()
        await drive.delete_version("b", "a", NULL_VERSION_ID)
        await drive.delete_version("b", "a/b/c", NULL_VERSION_ID)
        assert tree(broot) == [
            "a/", "a/b/", "a/b/xl.meta", "a__XLDIR__/", "a__XLDIR__/xl.meta",
        ]
        await drive.delete_version("b", "a/b", NULL_VERSION_ID)
        await drive.delete_version("b", encode_key("a/"), NULL_VERSION_ID)
        assert tree(broot) == []
        await drive.close()

    run(go())


def test_corrupt_xl_meta(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        await drive.commit_version("b", "o", obj_version(uuid.uuid4().bytes), b"x", None)
        good = await drive.read_xl("b", "o")
        bad = good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]
        await drive.write_all("b", "o/xl.meta", bad)
        assert await drive.read_xl("b", "o") == bad  # raw bytes: the caller validates
        with pytest.raises(FileCorrupt):
            await drive.delete_version("b", "o", NULL_VERSION_ID)
        with pytest.raises(FileCorrupt):
            await drive.update_version("b", "o", obj_version())
        with pytest.raises(FileCorrupt):
            await drive.add_delete_marker("b", "o", DeleteMarker(mod_time=5))
        assert await drive.read_xl("b", "o") == bad
        # A full new version overwrites it (as MinIO does); undo brings it back.
        res = await drive.commit_version("b", "o", obj_version(), b"new", None)
        assert res.previous_xl == bad and res.replaced_data_dir is None
        assert len(XLMeta.load(await drive.read_xl("b", "o"))) == 1
        await drive.restore_xl("b", "o", res.previous_xl)
        assert await drive.read_xl("b", "o") == bad
        await drive.close()

    run(go())


def test_commit_failure_moves_staged_dir_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        staged, dd = await stage_shard(drive, b"data")
        real_rename = os.rename

        def rename(src: str, dst: str) -> None:
            if dst.endswith("/xl.meta"):
                raise OSError(errno.ENOSPC, "No space left on device", dst)
            real_rename(src, dst)

        monkeypatch.setattr(local_files.os, "rename", rename)
        with pytest.raises(StorageError):
            await drive.commit_version("b", "o", obj_version(data_dir=uuid.UUID(dd).bytes),
                                       None, staged)
        monkeypatch.undo()
        assert os.path.isdir(os.path.join(drive.root, SYSTEM_VOLUME, staged[0]))
        with pytest.raises(FileNotFound):
            await drive.read_xl("b", "o")
        # Only the staging parent is left in tmp: no stray xl.meta temp file.
        assert tmp_entries(drive) == [staged[0].split("/")[1]]
        await drive.close()

    run(go())


# -- offline ------------------------------------------------------------------------------


def _every_call(drive: LocalDrive) -> list[Callable[[], Awaitable[Any]]]:
    async def walk() -> None:
        async for _ in drive.walk("b", "", recursive=True):
            pass

    return [
        drive.disk_info,
        lambda: drive.make_volume("c"),
        drive.list_volumes,
        lambda: drive.stat_volume("b"),
        lambda: drive.delete_volume("b"),
        lambda: drive.read_all("b", "o/xl.meta"),
        lambda: drive.write_all("b", "x", b"1"),
        lambda: drive.delete("b", "o/xl.meta"),
        lambda: drive.list_dir("b", "o"),
        lambda: drive.rename("b", "o", "b", "p"),
        lambda: drive.create_shard("b", "s/part.1"),
        lambda: drive.open_shard("b", "s/part.1"),
        lambda: drive.read_xl("b", "o"),
        lambda: drive.commit_version("b", "o", obj_version(), b"1", None),
        lambda: drive.add_delete_marker("b", "o", DeleteMarker(mod_time=1)),
        lambda: drive.delete_version("b", "o", NULL_VERSION_ID),
        lambda: drive.update_version("b", "o", obj_version()),
        lambda: drive.restore_xl("b", "o", None),
        lambda: drive.discard_data_dir("b", "o", str(uuid.uuid4())),
        walk,
        drive.clean_tmp,
    ]


def test_removed_root_goes_offline(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)
    import shutil

    async def go() -> None:
        await drive.make_volume("b")
        fmt = FormatErasureV3.new(1, 4).for_drive(0, 1)
        await drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, fmt.dump())
        assert (await drive.disk_info()).drive_id == fmt.this
        await drive.commit_version("b", "o", obj_version(), b"x", None)
        shutil.rmtree(drive.root)
        with pytest.raises(DriveOffline):
            await drive.read_xl("b", "o")
        assert not drive.is_online()
        for call in _every_call(drive):
            with pytest.raises(DriveOffline):
                await call()
        assert not await drive.reconnect()
        # Another formatted drive at the same path is not the same drive (a fresh,
        # empty one is taken as a replacement: see test_local_drive_replace.py).
        os.mkdir(drive.root)
        other = FormatErasureV3.new(1, 4).for_drive(0, 1)
        os.makedirs(os.path.join(drive.root, SYSTEM_VOLUME))
        Path(drive.root, SYSTEM_VOLUME, FORMAT_FILE).write_bytes(other.dump())
        assert not await drive.reconnect()
        Path(drive.root, SYSTEM_VOLUME, FORMAT_FILE).write_bytes(fmt.dump())
        assert await drive.reconnect()  # the same drive id: back
        await drive.close()

    run(go())


@pytest.mark.parametrize("index", range(21))
def test_first_call_after_root_removal_is_drive_offline(tmp_path: Path, index: int) -> None:
    """Whatever the call that first notices, the answer is DriveOffline."""
    drive = drive_at(tmp_path)
    import shutil

    async def go() -> None:
        await drive.make_volume("b")
        await drive.commit_version("b", "o", obj_version(), b"x", None)
        shutil.rmtree(drive.root)
        call = _every_call(drive)[index]
        with pytest.raises(DriveOffline):
            await call()
        await drive.close()

    run(go())


def test_root_moved_away_and_back_reconnects(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)

    async def go() -> None:
        await drive.make_volume("b")
        os.rename(drive.root, drive.root + ".away")
        with pytest.raises(DriveOffline):
            await drive.list_volumes()
        assert not await drive.reconnect()
        os.rename(drive.root + ".away", drive.root)
        assert await drive.reconnect()
        assert [v.name for v in await drive.list_volumes()] == ["b"]
        await drive.close()
        with pytest.raises(DriveOffline):
            await drive.list_volumes()
        assert not await drive.reconnect()

    run(go())


def test_missing_root_at_open(tmp_path: Path) -> None:
    drive = LocalDrive(tmp_path / "never")

    async def go() -> None:
        assert not drive.is_online()
        with pytest.raises(DriveOffline):
            await drive.disk_info()
        (tmp_path / "never").mkdir()
        assert await drive.reconnect()
        assert (await drive.disk_info()).online
        await drive.close()

    run(go())


def test_system_volume_top_dirs_survive_pruning(tmp_path: Path) -> None:
    drive = drive_at(tmp_path)
    sysdir = Path(drive.root) / SYSTEM_VOLUME

    async def go() -> None:
        await drive.write_all(SYSTEM_VOLUME, "tmp/x/y", b"1")
        await drive.delete(SYSTEM_VOLUME, "tmp/x/y")
        assert (sysdir / "tmp").is_dir() and tmp_entries(drive) == []
        await drive.commit_version(SYSTEM_VOLUME, "buckets/b/.metadata.bin", obj_version(), b"m",
                                   None)
        await drive.delete_version(SYSTEM_VOLUME, "buckets/b/.metadata.bin", NULL_VERSION_ID)
        assert (sysdir / "buckets").is_dir() and os.listdir(sysdir / "buckets") == []
        await drive.commit_version(SYSTEM_VOLUME, "multipart/h/u", obj_version(), b"m", None)
        await drive.restore_xl(SYSTEM_VOLUME, "multipart/h/u", None)
        assert os.listdir(sysdir / "multipart") == []
        # An operator removed the staging dir: writes recreate it.
        os.rmdir(sysdir / "tmp")
        await drive.make_volume("b")
        await drive.commit_version("b", "o", obj_version(), b"x", None)
        await drive.write_all("b", "f", b"x")
        assert tmp_entries(drive) == []
        await drive.close()

    run(go())
