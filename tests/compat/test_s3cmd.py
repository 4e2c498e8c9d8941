"""s3cmd (unmodified, SigV4, path style) against a real liteio server over a loopback socket."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.compat.conftest import (
    MIB,
    TREE,
    Cli,
    file_sha256,
    make_tree,
    random_file,
    tree_digests,
)
from tests.support.server import ACCESS_KEY

BIG = 11 * MIB + 9  # 5 MiB chunks: 3 parts


def info_fields(output: str) -> dict[str, str]:
    """``s3cmd info`` lines ``   Name:   value`` -> {name: value}."""
    fields = {}
    for line in output.splitlines()[1:]:
        name, sep, value = line.strip().partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def test_put_get_multipart_ls_info_del(s3cmd: Cli, s3: Any, bucket_name: str,
                                       tmp_path: Path) -> None:
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small_sum = random_file(small, 6_000)
    big_sum = random_file(big, BIG)
    url = f"s3://{bucket_name}"
    s3cmd("mb", url)
    s3cmd("put", str(small), f"{url}/docs/small.txt")
    s3cmd("put", "--multipart-chunk-size-mb=5", str(big), f"{url}/big.bin")
    assert s3.head_object(Bucket=bucket_name, Key="big.bin")["ETag"].endswith('-3"')

    assert url in s3cmd("ls").split()
    top = s3cmd("ls", url).split()
    assert "DIR" in top and f"{url}/docs/" in top and f"{url}/big.bin" in top
    everything = s3cmd("la", "--recursive").splitlines()  # every object of every bucket
    mine = {line.split()[-1]: int(line.split()[2]) for line in everything if url in line}
    assert mine == {f"{url}/docs/small.txt": 6_000, f"{url}/big.bin": BIG}

    # info reads location, versioning, ACL, policy, CORS, lifecycle: answers or clean "none".
    bucket = info_fields(s3cmd("info", url))
    assert bucket["Location"] == "us-east-1"
    assert bucket["ACL"] == f"{ACCESS_KEY}: FULL_CONTROL"
    obj = info_fields(s3cmd("info", f"{url}/docs/small.txt"))
    assert obj["File size"] == "6000" and obj["ACL"] == f"{ACCESS_KEY}: FULL_CONTROL"
    assert obj["MD5 sum"] == hashlib.md5(small.read_bytes()).hexdigest()
    # For multipart uploads s3cmd keeps the MD5 in x-amz-meta-s3cmd-attrs; it must survive.
    assert info_fields(s3cmd("info", f"{url}/big.bin"))["MD5 sum"] == hashlib.md5(
        big.read_bytes()).hexdigest()

    out = tmp_path / "out"
    out.mkdir()
    s3cmd("get", f"{url}/docs/small.txt", str(out / "small.txt"))
    s3cmd("get", f"{url}/big.bin", str(out / "big.bin"))  # s3cmd checks the MD5 it kept
    assert file_sha256(out / "small.txt") == small_sum and file_sha256(out / "big.bin") == big_sum

    s3cmd("del", f"{url}/big.bin")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]] == [
        "docs/small.txt"]
    s3cmd("del", "--recursive", "--force", url)
    s3cmd("rb", url)
    assert url not in s3cmd("ls").split()


def test_sync_both_ways(s3cmd: Cli, s3: Any, bucket_name: str, tmp_path: Path) -> None:
    local = tmp_path / "local"
    digests = make_tree(local)
    url = f"s3://{bucket_name}"
    s3cmd("mb", url)
    s3cmd("sync", f"{local}/", f"{url}/tree/")
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]}
    assert keys == {f"tree/{rel}": size for rel, size in TREE.items()}
    # Unchanged: s3cmd compares sizes and MD5s (our ETags) and sends nothing.
    again = s3cmd("sync", "--stats", f"{local}/", f"{url}/tree/")
    assert "upload:" not in again, again

    back = tmp_path / "back"
    s3cmd("sync", f"{url}/tree/", f"{back}/")
    assert tree_digests(back) == digests

    random_file(local / "docs/readme.md", 5_555)
    (local / "top.txt").unlink()
    s3cmd("sync", "--delete-removed", f"{local}/", f"{url}/tree/")
    s3cmd("sync", "--delete-removed", f"{url}/tree/", f"{back}/")
    assert tree_digests(back) == tree_digests(local)
    s3cmd("del", "--recursive", "--force", url)
    s3cmd("rb", url)
