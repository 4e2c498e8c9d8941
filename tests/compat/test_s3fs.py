"""s3fs (fsspec over aiobotocore, unmodified) against a real liteio server over a socket."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import s3fs

from tests.compat.conftest import MIB, TREE, make_tree, sha256, tree_digests
from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer


@pytest.fixture
def fs(server: LiteioServer) -> s3fs.S3FileSystem:
    # A new instance per test: fsspec caches instances and their listings otherwise. One
    # attempt, bounded waits: a failure shows instead of being retried away.
    return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=server.endpoint,
                             client_kwargs={"region_name": REGION}, skip_instance_cache=True,
                             config_kwargs={"retries": {"max_attempts": 1},
                                            "connect_timeout": 10, "read_timeout": 30})


def test_mkdir_write_read_seek_ranges(fs: s3fs.S3FileSystem, bucket_name: str) -> None:
    fs.mkdir(bucket_name)
    assert bucket_name in [p.rstrip("/") for p in fs.ls("", refresh=True)]
    data = os.urandom(11 * MIB + 333)
    path = f"{bucket_name}/blobs/big.bin"
    # Written in odd pieces through a 5 MiB block buffer: a multipart upload (s3fs folds a
    # short tail into the part before it, so 2 or 3 parts).
    with fs.open(path, "wb", block_size=5 * MIB) as out:
        for start in range(0, len(data), 1_234_567):
            out.write(data[start:start + 1_234_567])
    info = fs.info(path)
    assert info["size"] == len(data) and info["ETag"][-3:] in ('-2"', '-3"')

    small = b"hello, liteio\n" * 100
    with fs.open(f"{bucket_name}/small.txt", "wb") as out:  # below a block: one PutObject
        out.write(small)
    assert fs.info(f"{bucket_name}/small.txt")["ETag"] == f'"{hashlib.md5(small).hexdigest()}"'
    assert fs.cat(f"{bucket_name}/small.txt") == small

    # Reads through s3fs's read-ahead cache: every seek lands on ranged GETs.
    with fs.open(path, "rb", block_size=MIB) as src:
        assert src.read(100) == data[:100]
        src.seek(5 * MIB - 7)
        assert src.read(20) == data[5 * MIB - 7:5 * MIB + 13]
        src.seek(-50, os.SEEK_END)
        assert src.read() == data[-50:]
        src.seek(3 * MIB)
        assert sha256(src.read(4 * MIB)) == sha256(data[3 * MIB:7 * MIB])
    assert fs.cat_file(path, start=10 * MIB, end=10 * MIB + 99) == data[10 * MIB:10 * MIB + 99]
    assert fs.cat_file(path, start=-4) == data[-4:]
    assert sha256(fs.cat(path)) == sha256(data)


def test_put_ls_find_get_rm(fs: s3fs.S3FileSystem, bucket_name: str, tmp_path: Path) -> None:
    local = tmp_path / "local"
    digests = make_tree(local)
    fs.mkdir(bucket_name)
    fs.put(str(local), f"{bucket_name}/tree", recursive=True)

    assert sorted(fs.ls(f"{bucket_name}/tree", detail=False)) == sorted(
        f"{bucket_name}/tree/{name}" for name in ("top.txt", "empty.bin", "docs", "media"))
    listed = {entry["name"]: entry for entry in fs.ls(f"{bucket_name}/tree/docs", detail=True)}
    assert listed[f"{bucket_name}/tree/docs/readme.md"]["size"] == TREE["docs/readme.md"]
    assert listed[f"{bucket_name}/tree/docs/notes"]["type"] == "directory"
    found = fs.find(bucket_name, detail=True)
    assert {name: entry["size"] for name, entry in found.items()} == {
        f"{bucket_name}/tree/{rel}": size for rel, size in TREE.items()}
    assert fs.du(f"{bucket_name}/tree") == sum(TREE.values())
    assert fs.isdir(f"{bucket_name}/tree/media/raw") and fs.isfile(f"{bucket_name}/tree/top.txt")

    back = tmp_path / "back"
    fs.get(f"{bucket_name}/tree", str(back), recursive=True)
    assert tree_digests(back) == digests
    assert fs.cat(f"{bucket_name}/tree/empty.bin") == b""

    fs.rm(f"{bucket_name}/tree/docs", recursive=True)
    fs.invalidate_cache()
    assert not fs.exists(f"{bucket_name}/tree/docs/readme.md")
    assert sorted(fs.find(bucket_name)) == sorted(
        f"{bucket_name}/tree/{rel}" for rel in TREE if not rel.startswith("docs/"))
    fs.rm(bucket_name, recursive=True)  # the objects, then the bucket itself
    fs.invalidate_cache()
    assert not fs.exists(bucket_name)
