"""rclone (Debian's, unmodified) against a real liteio server over a loopback socket.

The remote is configured as provider ``Minio`` and as the generic ``Other`` told to
list with ListObjects V1, purely through environment variables. ``rclone check`` compares MD5s, so it proves our single-part ETags are MD5s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import (
    MIB,
    TREE,
    Cli,
    make_tree,
    random_file,
    rclone_cli,
    tree_digests,
)
from tests.support.server import LiteioServer


@pytest.fixture(scope="module")
def rclone_minio(server: LiteioServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return rclone_cli(server, tmp_path_factory.mktemp("rclone"), "Minio")


@pytest.fixture(params=["Minio", "Other-ListV1"])
def rclone(request: pytest.FixtureRequest, server: LiteioServer, rclone_minio: Cli,
           tmp_path_factory: pytest.TempPathFactory) -> Cli:
    if request.param == "Minio":
        return rclone_minio
    return rclone_cli(server, tmp_path_factory.mktemp("rclone"), "Other", list_version="1")


def md5sums(output: str) -> dict[str, str]:
    """``rclone md5sum`` output -> path -> MD5 (an empty hash means rclone had none)."""
    return {line[34:]: line[:32] for line in output.splitlines() if line.strip()}


def local_md5s(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()
            for path in root.rglob("*") if path.is_file()}


def test_copy_check_sync_delete_purge(rclone: Cli, s3: Any, bucket_name: str,
                                      tmp_path: Path) -> None:
    local = tmp_path / "local"
    make_tree(local)
    remote = f"liteio:{bucket_name}/tree"
    rclone("mkdir", f"liteio:{bucket_name}")
    rclone("copy", str(local), remote)
    assert sorted(rclone("lsf", "-R", "--files-only", remote).splitlines()) == sorted(TREE)
    # MD5 from the ETags (no common hash would make check fall back to sizes and say so).
    checked = rclone.run("check", str(local), remote)
    assert checked.returncode == 0, checked.stderr.decode()
    assert b"No common hash" not in checked.stderr
    assert b"0 differences found" in checked.stderr
    assert md5sums(rclone("md5sum", remote)) == local_md5s(local)
    etag = s3.head_object(Bucket=bucket_name, Key="tree/top.txt")["ETag"]
    assert etag == f'"{hashlib.md5((local / "top.txt").read_bytes()).hexdigest()}"'

    back = tmp_path / "back"
    rclone("copy", remote, str(back))
    assert tree_digests(back) == tree_digests(local)

    # Mirror a change, a deletion and an addition; check downloads and compares bytes.
    random_file(local / "docs/readme.md", 4_444)
    (local / "media/photo-ü.jpg").unlink()
    random_file(local / "new/added.bin", 77_777)
    rclone("sync", str(local), remote)
    rclone("check", "--download", str(local), remote)
    assert sorted(rclone("lsf", "-R", "--files-only", remote).splitlines()) == sorted(
        rel for rel in [*TREE, "new/added.bin"] if rel != "media/photo-ü.jpg")

    rclone("delete", remote, "--include", "*.txt")
    left = rclone("lsf", "-R", "--files-only", remote).splitlines()
    assert left and not [name for name in left if name.endswith(".txt")]

    rclone("purge", f"liteio:{bucket_name}")
    assert bucket_name not in rclone("lsf", "--dirs-only", "liteio:")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_multipart_upload_and_server_side_copy(rclone_minio: Cli, s3: Any, bucket_name: str,
                                               tmp_path: Path) -> None:
    rclone = rclone_minio
    src = tmp_path / "big.bin"
    digest = random_file(src, 12 * MIB + 3)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    rclone("mkdir", f"liteio:{bucket_name}")
    rclone("copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(src),
           f"liteio:{bucket_name}/big.bin")
    assert s3.head_object(Bucket=bucket_name, Key="big.bin")["ETag"].endswith('-3"')
    # Multipart ETags are not MD5s: rclone keeps the MD5 in its own metadata, which we keep.
    assert md5sums(rclone("md5sum", f"liteio:{bucket_name}")) == {"big.bin": md5}

    # Server side: a copy above --s3-copy-cutoff is done in UploadPartCopy ranges.
    rclone("copyto", "--s3-copy-cutoff", "5M", f"liteio:{bucket_name}/big.bin",
           f"liteio:{bucket_name}/copy.bin")
    assert s3.head_object(Bucket=bucket_name, Key="copy.bin")["ETag"].endswith('-3"')
    assert hashlib.sha256(rclone.raw("cat", f"liteio:{bucket_name}/copy.bin")).hexdigest() == digest
    out = tmp_path / "out"
    rclone("copy", f"liteio:{bucket_name}", str(out))
    assert tree_digests(out) == {"big.bin": digest, "copy.bin": digest}
    rclone("check", str(out), f"liteio:{bucket_name}")
    rclone("purge", f"liteio:{bucket_name}")
