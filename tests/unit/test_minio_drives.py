"""MinIO's own drives, served in place: adopted by format_drives, read by the object layer.

- ``minio-cicd-corpus``: five drives MinIO wrote (EC 3+2, no format.json),
  one object with a newer version that only two drives hold. It resolves to
  the older version that has quorum, from every set of three drives that
  still holds a metadata quorum, and refuses (InsufficientReadQuorum) on the
  others -- never the wrong bytes, never "not found".
- ``xl-meta-inline-notinline.zip``: two of four drives of a 2+2 set, one
  holding its shard inline in xl.meta, the other in part.1.

Adoption only adds ``.minio.sys/format.json`` (and the empty staging dir):
no object file is moved or rewritten.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.object import errors as oerr
from liteio.object.bootstrap import format_drives
from liteio.object.layer import ObjectLayer
from liteio.object.listing import list_objects
from liteio.object.types import ObjectInfo
from liteio.storage.api import StorageAPI
from liteio.storage.local import LocalDrive
from tests.fixtures import minio_fixture

CICD_MD5 = "9587ddd31fead633830366f45d221d56"
CICD_SIZE = 644_520
CICD_VERSION = "50051050-62bc-4928-b0d3-65f4f828a0c7"
NEWER_VERSION = "163c7c9d-e856-41ed-93ae-2adccecc8211"
# Drives (0-based) holding xl.meta of version 5005... (disk2, disk3, disk4): K = 3 of them.
CICD_META_HOLDERS = {1, 2, 3}
INLINE_MD5 = "fffb6377948ebea75ad2b8058e849ef5"


def file_hashes(roots: list[Path]) -> dict[str, str]:
    """Every regular file under the roots: 'diskN/rel/path' -> SHA-256."""
    out = {}
    for root in roots:
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                path = Path(dirpath, name)
                out[str(path.relative_to(root.parent))] = hashlib.sha256(
                    path.read_bytes()).hexdigest()
    return out


async def open_layer(roots: list[Path], parity: int) -> ObjectLayer:
    """format_drives + ObjectLayer over the roots, in this order, as one set."""
    drives: list[StorageAPI] = [LocalDrive(root) for root in roots]
    deployment, sets = await format_drives(drives, 1, len(drives))
    assert [d.endpoint for d in sets[0]] == [d.endpoint for d in drives]  # order kept
    return ObjectLayer(sets, parity, deployment)


async def read(layer: ObjectLayer, bucket: str, key: str) -> tuple[ObjectInfo, bytes]:
    info = await layer.get_object_info(bucket, key)
    reader = await layer.open_object(bucket, key)
    data = b"".join([chunk async for chunk in reader.stream()])
    return info, data


@pytest.fixture(scope="module")
def cicd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Path], dict[str, str]]]:
    """The five drives, copied, hashed, then adopted once by format_drives;
    (roots, file hashes before adoption)."""
    base = tmp_path_factory.mktemp("cicd")
    roots = []
    for n in range(1, 6):
        root = base / f"disk{n}"
        shutil.copytree(minio_fixture("minio-cicd-corpus", f"disk{n}"), root)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                os.chmod(Path(dirpath, name), 0o755)
            for name in filenames:
                os.chmod(Path(dirpath, name), 0o644)
        os.chmod(root, 0o755)
        roots.append(root)
    before = file_hashes(roots)
    assert not any(".minio.sys" in p for p in before)

    async def adopt() -> None:
        layer = await open_layer(roots, parity=2)
        await layer.close()

    asyncio.run(adopt())
    yield roots, before


def test_cicd_corpus_adopted_and_read_in_place(
    cicd: tuple[list[Path], dict[str, str]]
) -> None:
    roots, before = cicd
    adopted = file_hashes(roots)

    async def scenario() -> None:
        layer = await open_layer(roots, parity=2)
        try:
            info, data = await read(layer, "bucket", "testobj")
            assert hashlib.md5(data).hexdigest() == CICD_MD5 and len(data) == CICD_SIZE
            assert (info.size, info.etag, info.version_id) == (CICD_SIZE, CICD_MD5, CICD_VERSION)
            assert (info.data_shards, info.parity_shards) == (3, 2)
            # The newer version lacks quorum (two drives hold it, three -- a
            # read quorum -- answer without it): not served, even by id.
            with pytest.raises(oerr.VersionNotFound):
                await layer.open_object("bucket", "testobj", NEWER_VERSION)
            listing = await list_objects(layer.sets, "bucket")
            assert [(o.key, o.version_id, o.etag) for o in listing.objects] == [
                ("testobj", CICD_VERSION, CICD_MD5)]
            # disk1 lacks xl.meta, disk5 holds only the newer version: both need healing.
            assert {p for _, _, p in layer.sets[0].heal_hints} == {0, 4}
        finally:
            await layer.close()

    asyncio.run(scenario())
    after = file_hashes(roots)
    assert after == adopted  # reading (and reopening) writes nothing
    assert set(after) - set(before) == {f"disk{n}/.minio.sys/format.json" for n in range(1, 6)}
    assert {p: after[p] for p in before} == before  # nothing moved or rewritten
    for root in roots:
        assert list((root / ".minio.sys" / "tmp").iterdir()) == []
        assert {e.name for e in (root / ".minio.sys").iterdir()} == {"format.json", "tmp"}


@pytest.mark.parametrize("gone", list(itertools.combinations(range(5), 2)),
                         ids=lambda g: f"without-disk{g[0] + 1}-disk{g[1] + 1}")
def test_cicd_corpus_with_two_drives_removed(
    cicd: tuple[list[Path], dict[str, str]], gone: tuple[int, int], tmp_path: Path
) -> None:
    """Parity 2 tolerates two lost drives for *data*; metadata here is on only
    three drives (disk2..4), so the version is readable exactly when they all
    remain. Otherwise the answer is InsufficientReadQuorum: some remaining
    drive holds the object, so "not found" would be a lie."""
    roots, _ = cicd
    present = [tmp_path / f"removed-disk{i + 1}" if i in gone else root
               for i, root in enumerate(roots)]
    kept = [root for i, root in enumerate(roots) if i not in gone]
    on_disk = file_hashes(kept)

    async def scenario() -> None:
        layer = await open_layer(present, parity=2)
        try:
            assert [d.is_online() for d in layer.sets[0].drives] == [
                i not in gone for i in range(5)]
            if CICD_META_HOLDERS.isdisjoint(gone):
                info, data = await read(layer, "bucket", "testobj")
                assert hashlib.md5(data).hexdigest() == CICD_MD5
                assert (info.size, info.etag, info.version_id) == (
                    CICD_SIZE, CICD_MD5, CICD_VERSION)
            else:
                with pytest.raises(oerr.InsufficientReadQuorum):
                    await layer.get_object_info("bucket", "testobj")
                with pytest.raises(oerr.InsufficientReadQuorum):
                    await layer.open_object("bucket", "testobj")
        finally:
            await layer.close()

    asyncio.run(scenario())
    assert file_hashes(kept) == on_disk
    assert not any(p.exists() for p in present if p not in roots)  # never created


def test_inline_notinline_zip(tmp_path: Path) -> None:
    """disk1 (shard #2, inline) and disk2 (shard #3, part.1) of a 2+2 set; disk3/4 empty."""
    roots = [tmp_path / f"disk{n}" for n in range(1, 5)]
    for root in roots:
        root.mkdir()
    with zipfile.ZipFile(minio_fixture("minio-testdata", "xl-meta-inline-notinline.zip")) as z:
        members = [m for m in z.namelist() if not m.endswith("/")]
        assert sorted(members) == [
            "disk1/testbucket/file/xl.meta",
            "disk2/testbucket/file/9f6c3be2-463f-4771-a6c7-1204baaa3ff2/part.1",
            "disk2/testbucket/file/xl.meta",
        ]
        for member in members:
            target = tmp_path / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(member))
    # The bucket exists on every drive of a MinIO set (a drive missing it lost it).
    for root in roots[2:]:
        (root / "testbucket").mkdir()
    before = file_hashes(roots)

    async def scenario() -> None:
        layer = await open_layer(roots, parity=2)
        try:
            info, data = await read(layer, "testbucket", "file")
            assert hashlib.md5(data).hexdigest() == INLINE_MD5
            assert (info.size, info.etag, info.version_id) == (132_096, INLINE_MD5, "null")
            # Shard #1 (data) is on no drive: rebuilt from #2 and #3, and reported.
            assert {p for _, _, p in layer.sets[0].heal_hints} >= {2, 3}
        finally:
            await layer.close()

    asyncio.run(scenario())
    after = file_hashes(roots)
    assert {p: after[p] for p in before} == before
    assert set(after) - set(before) == {f"disk{n}/.minio.sys/format.json" for n in range(1, 5)}
