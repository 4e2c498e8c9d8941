"""Helpers shared by the heal tests (this module holds no tests).

``HealStore``: a ``Store`` whose drives are ``FaultyDrive``s, with a corpus of
objects of every shape (inline, empty, single-block, multi-block, multipart,
versioned with delete markers, a directory-style key), ways to damage them on
disk, what a heal should then report, and the proof: with *any* M drives of
the set taken away, every version reads back byte-identical.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from liteio.heal.results import HealResult
from liteio.meta.ids import version_id_bytes
from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.object.bucket_meta import metadata_key
from liteio.object.erasure_set import ErasureSet
from liteio.object.listing import list_objects
from liteio.storage.errors import DriveOffline
from liteio.storage.faulty import Fault, FaultyDrive
from liteio.storage.paths import SYSTEM_VOLUME, encode_key
from tests.support.store import Store, body_of

MIB = 1 << 20
BUCKET = "heal-plain"
VBUCKET = "heal-versioned"
LAYOUTS = [(4, 2), (6, 2)]
LAYOUT_IDS = ["2+2", "4+2"]

# Every call a drive can get: an offline drive fails them all (and says it is offline).
ALL_CALLS = (
    "disk_info", "make_volume", "list_volumes", "stat_volume", "delete_volume", "read_all",
    "write_all", "delete", "list_dir", "rename", "create_shard", "open_shard", "read_xl",
    "write_xl", "commit_version", "add_delete_marker", "delete_version", "update_version",
    "restore_xl", "discard_data_dir", "walk", "walk_next", "clean_tmp", "write", "writer_close",
    "writer_abort", "read_at", "reader_close",
)


def data_of(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Version:
    version_id: str
    data: bytes | None  # None: a delete marker


@dataclass
class Obj:
    bucket: str
    key: str
    kind: str
    versions: list[Version] = field(default_factory=list)  # latest first

    @property
    def name(self) -> str:
        return f"{self.bucket}/{self.key}"


class HealStore(Store):
    def __init__(self, root: Path, drives: int, parity: int, *, fresh: bool = True) -> None:
        super().__init__(root, drives, parity, wrap=lambda i, d: FaultyDrive(d))
        if not fresh:  # reopening drives that already hold the buckets
            return
        for bucket in (BUCKET, VBUCKET):
            self.run(self.layer.make_bucket(bucket))

        def enable(meta: object) -> None:
            meta.versioning_xml = (  # type: ignore[attr-defined]
                b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")

        self.run(self.layer.update_bucket_metadata(VBUCKET, enable))

    @property
    def eset(self) -> ErasureSet:
        return self.layer.sets[0]

    @property
    def n(self) -> int:
        return self.eset.total

    @property
    def m(self) -> int:
        return self.eset.parity

    def faulty(self, position: int) -> FaultyDrive:
        drive = self.eset.drives[position]
        assert isinstance(drive, FaultyDrive)
        return drive

    def root_of(self, position: int) -> Path:
        return Path(self.faulty(position).inner.endpoint)

    def offline(self, position: int) -> None:
        drive = self.faulty(position)
        drive.add(Fault("is_online"))
        for name in ALL_CALLS:
            drive.add(Fault(name, error=DriveOffline))

    def online_again(self) -> None:
        for p in range(self.n):
            self.faulty(p).clear()

    # -- on disk -------------------------------------------------------------------

    def obj_dir(self, position: int, obj: Obj) -> Path:
        return self.root_of(position) / obj.bucket / encode_key(obj.key)

    def xl_on(self, position: int, obj: Obj) -> XLMeta | None:
        path = self.obj_dir(position, obj) / "xl.meta"
        return XLMeta.load(path.read_bytes()) if path.exists() else None

    def stored(self, position: int, obj: Obj) -> list[tuple[str, ObjectVersion]]:
        """(version id, record) of every object version the drive holds."""
        xl = self.xl_on(position, obj)
        out = []
        for entry in xl.entries if xl is not None else ():
            rec = entry.version
            if isinstance(rec, ObjectVersion):
                out.append((entry.header.version_id_text, rec))
        return out

    def part_files(self, position: int, obj: Obj) -> list[tuple[str, int, Path]]:
        """(version id, part number, path) of every part file on the drive."""
        out = []
        for vid, rec in self.stored(position, obj):
            for number in rec.part_numbers:
                path = self.obj_dir(position, obj) / rec.data_dir_text / f"part.{number}"
                if path.exists():
                    out.append((vid, number, path))
        return out

    def inline_versions(self, position: int, obj: Obj) -> list[tuple[str, bytes]]:
        xl = self.xl_on(position, obj)
        out = []
        for vid, _ in self.stored(position, obj):
            assert xl is not None
            stream = xl.inline_data(vid)
            if stream is not None:
                out.append((vid, stream))
        return out

    def tree(self, positions: Iterable[int] | None = None) -> dict[str, str]:
        """Every file under the given drives (relative path -> SHA-256), dirs as ''."""
        out: dict[str, str] = {}
        for p in range(self.n) if positions is None else positions:
            root = self.root_of(p)
            for dirpath, dirnames, filenames in os.walk(root):
                rel = os.path.relpath(dirpath, root)
                for d in dirnames:
                    out[f"{p}:{rel}/{d}/"] = ""
                for f in filenames:
                    out[f"{p}:{rel}/{f}"] = sha(Path(dirpath, f).read_bytes())
        return out

    def heal(self, obj: Obj, **kwargs: bool) -> HealResult:
        return self.run(self.layer.heal_object(obj.bucket, obj.key, **kwargs))

    def heal_bucket_settings(self) -> None:
        for bucket in (BUCKET, VBUCKET):
            self.run(self.layer.heal_object(SYSTEM_VOLUME, metadata_key(bucket)))

    # -- objects ---------------------------------------------------------------------

    def put_obj(self, obj: Obj, data: bytes) -> None:
        info = self.put(obj.bucket, obj.key, data)
        if obj.bucket != VBUCKET:
            obj.versions.clear()  # an unversioned put replaces the null version
        obj.versions.insert(0, Version(info.version_id, data))

    def delete_obj(self, obj: Obj) -> None:
        result = self.run(self.layer.delete_object(obj.bucket, obj.key))
        if result.delete_marker_version_id is not None:
            obj.versions.insert(0, Version(result.delete_marker_version_id, None))
        else:
            obj.versions.clear()

    def multipart(self, obj: Obj, parts: list[bytes]) -> None:
        layer = self.layer
        upload = self.run(layer.new_multipart_upload(obj.bucket, obj.key))
        done = []
        for number, data in enumerate(parts, 1):
            info = self.run(layer.put_object_part(obj.bucket, obj.key, upload, number,
                                                  body_of(data), len(data)))
            done.append((number, info.etag))
        info = self.run(layer.complete_multipart_upload(obj.bucket, obj.key, upload, done,
                                                        min_part_size=1))
        obj.versions.insert(0, Version(info.version_id, b"".join(parts)))


def build_corpus(s: HealStore, seed: int = 0) -> list[Obj]:
    """One object of every shape (sizes chosen so 2+2 and 4+2 store them alike)."""
    objs = []

    def new(bucket: str, key: str, kind: str) -> Obj:
        obj = Obj(bucket, key, kind)
        objs.append(obj)
        return obj

    s.put_obj(new(BUCKET, "inline", "inline"), data_of(seed + 1, 60_000))
    s.put_obj(new(BUCKET, "empty", "empty"), b"")
    s.put_obj(new(BUCKET, "dir/folder/", "empty"), b"")
    s.put_obj(new(BUCKET, "single", "single"), data_of(seed + 2, 700_000))
    s.put_obj(new(BUCKET, "deep/key/multi", "multi"), data_of(seed + 3, 2 * MIB + 12_345))
    s.multipart(new(BUCKET, "multipart", "multipart"),
                [data_of(seed + 4, MIB + 7), data_of(seed + 5, 400_000)])
    doc = new(VBUCKET, "doc", "versioned")
    s.put_obj(doc, data_of(seed + 6, 9_000))  # inline (versioned buckets: 16 KiB shards)
    s.put_obj(doc, data_of(seed + 7, 300_000))  # part file
    s.delete_obj(doc)  # a delete marker
    s.put_obj(doc, data_of(seed + 8, 1_300_000))  # two blocks, the latest
    gone = new(VBUCKET, "gone", "versioned")
    s.put_obj(gone, data_of(seed + 9, 20_000))
    s.delete_obj(gone)  # latest is a delete marker
    return objs


def same(got: bytes, want: bytes, obj: Obj, version: Version) -> None:
    if got != want:  # not assert ==: pytest would diff megabytes
        pytest.fail(f"{obj.name} version {version.version_id}: {len(got)} bytes, sha256 "
                    f"{sha(got)}; want {len(want)} bytes, {sha(want)}")


def read_back(s: HealStore, objs: list[Obj]) -> None:
    """Every version byte-identical, delete markers where they were, listings agree."""
    for obj in objs:
        for n, version in enumerate(obj.versions):
            if version.data is None:
                with pytest.raises(oerr.MethodNotAllowed):
                    s.run(s.layer.get_object_info(obj.bucket, obj.key, version.version_id))
                if n == 0:
                    with pytest.raises(oerr.ObjectNotFound):
                        s.get(obj.bucket, obj.key)
                continue
            same(s.get(obj.bucket, obj.key, version.version_id), version.data, obj, version)
            if n == 0:
                same(s.get(obj.bucket, obj.key), version.data, obj, version)
        if not obj.versions:
            with pytest.raises(oerr.ObjectNotFound):
                s.get(obj.bucket, obj.key)
    for bucket in (BUCKET, VBUCKET):
        listed = s.run(list_objects(s.layer.sets, bucket, versions=True))
        keys = {o.key for o in objs if o.bucket == bucket}
        got = sorted((o.key, o.version_id, o.delete_marker) for o in listed.objects
                     if o.key in keys)
        want = sorted((o.key, v.version_id, v.data is None)
                      for o in objs if o.bucket == bucket for v in o.versions)
        assert got == want, bucket


def read_back_without_any_m(s: HealStore, objs: list[Obj]) -> None:
    """The proof that healing restored full redundancy: every choice of M drives away."""
    s.reopen()  # no cached bucket settings: those must come off the drives too
    for gone in itertools.combinations(range(s.n), s.m):
        for p in gone:
            s.offline(p)
        try:
            read_back(s, objs)
        finally:
            s.online_again()


def flip(path: Path, at: int) -> None:
    blob = bytearray(path.read_bytes())
    blob[at] ^= 0x5A
    path.write_bytes(bytes(blob))


def flip_inline(xl_path: Path, version_id: str) -> None:
    """Flip a byte of one version's inline shard, past the xl.meta CRC (which covers
    only the metadata section, so the file still loads)."""
    raw = xl_path.read_bytes()
    stream = XLMeta.load(raw).inline_data(version_id)
    assert stream is not None and len(stream) > 64
    at = raw.find(stream)
    assert at > 0 and raw.find(stream, at + 1) == -1
    flip(xl_path, at + 32 + len(stream) // 3)
    assert XLMeta.load(xl_path.read_bytes()).inline_data(version_id) != stream


def empty_drive(root: Path) -> None:
    """Everything gone but .minio.sys/format.json (the drive keeps its identity)."""
    for entry in root.iterdir():
        if entry.name == ".minio.sys":
            for inner in entry.iterdir():
                if inner.name != "format.json":
                    shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
        else:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def shards_of(result: HealResult, position: int) -> set[tuple[str, int, str, bool]]:
    return {(r.version_id, r.part, r.reason, r.inline) for r in result.drives[position].shards}


def vid(version: Version) -> bytes:
    return version_id_bytes(version.version_id)
