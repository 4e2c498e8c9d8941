"""The AWS CLI (v1, unmodified) against a real liteio server over a loopback socket.

Each CLI call costs about a second of Python start-up, so set-up and most checks go
through boto3 in process; the CLI does what is under test.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.compat.conftest import (
    MIB,
    TOOL_TIMEOUT,
    TREE,
    Cli,
    file_sha256,
    make_tree,
    random_file,
    tool,
    tree_digests,
)
from tests.support.server import ACCESS_KEY, LiteioServer

QUIET = "--only-show-errors"
BIG = 17 * MIB + 5  # the CLI cuts 8 MiB parts above 8 MiB: 3 parts


def api(aws: Cli, *args: str) -> Any:
    out = aws("s3api", *args, "--output", "json")
    return json.loads(out) if out.strip() else {}


def curl(url: str) -> tuple[int, bytes]:
    """GET ``url`` with curl: (status, body)."""
    proc = subprocess.run([tool("curl"), "-sS", "-o", "-", "-w", "\n%{http_code}", url],
                          capture_output=True, timeout=TOOL_TIMEOUT, check=True)
    body, _, status = proc.stdout.rpartition(b"\n")
    return int(status), body


def test_cp_small_multipart_and_streams(aws: Cli, s3: Any, bucket_name: str,
                                        tmp_path: Path) -> None:
    small, big = tmp_path / "up" / "small.txt", tmp_path / "up" / "big.bin"
    small_sum = random_file(small, 4321)
    big_sum = random_file(big, BIG)
    url = f"s3://{bucket_name}"
    aws("s3", "mb", url)
    aws("s3", "cp", QUIET, str(small), f"{url}/dir/small.txt", "--content-type", "text/plain")
    aws("s3", "cp", QUIET, str(big), f"{url}/dir/big.bin")
    # From stdin: the CLI does not know the length, so it uploads in parts as it reads.
    aws("s3", "cp", QUIET, "-", f"{url}/streamed.bin", stdin=big)

    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]}
    assert {key: o["Size"] for key, o in listed.items()} == {
        "dir/small.txt": 4321, "dir/big.bin": BIG, "streamed.bin": BIG}
    assert listed["dir/small.txt"]["ETag"] == f'"{hashlib.md5(small.read_bytes()).hexdigest()}"'
    assert listed["dir/big.bin"]["ETag"].endswith('-3"')
    assert s3.head_object(Bucket=bucket_name, Key="dir/small.txt")["ContentType"] == "text/plain"

    assert bucket_name in aws("s3", "ls").split()  # ListBuckets
    top = aws("s3", "ls", f"{url}/").split()  # non-recursive: the common prefix and one key
    assert "PRE" in top and "dir/" in top and "streamed.bin" in top

    out = tmp_path / "out"
    aws("s3", "cp", QUIET, "--recursive", f"{url}/dir", str(out))
    assert tree_digests(out) == {"small.txt": small_sum, "big.bin": big_sum}
    # To stdout: one GET streamed through the CLI.
    assert hashlib.sha256(aws.raw("s3", "cp", f"{url}/streamed.bin", "-")).hexdigest() == big_sum


def test_sync_both_ways_then_rm_recursive(aws: Cli, s3: Any, bucket_name: str,
                                          tmp_path: Path) -> None:
    local = tmp_path / "local"
    digests = make_tree(local)
    url = f"s3://{bucket_name}"
    aws("s3", "mb", url)
    aws("s3", "sync", QUIET, str(local), f"{url}/tree")
    # Nothing changed: a second sync compares sizes and LastModified and sends nothing.
    assert aws("s3", "sync", str(local), f"{url}/tree").strip() == ""
    back = tmp_path / "back"
    aws("s3", "sync", QUIET, f"{url}/tree", str(back))
    assert tree_digests(back) == digests

    # Change one file, delete another, and mirror that with --delete.
    changed = "docs/notes/2024/jan.txt"
    random_file(local / changed, 2_222)
    (local / "top.txt").unlink()
    aws("s3", "sync", QUIET, "--delete", str(local), f"{url}/tree")
    listing = aws("s3", "ls", "--recursive", url)
    sizes = {line.split(None, 3)[3]: int(line.split(None, 3)[2]) for line in listing.splitlines()}
    want = {f"tree/{rel}": size for rel, size in TREE.items() if rel != "top.txt"}
    assert sizes == {**want, f"tree/{changed}": 2_222}
    got = s3.get_object(Bucket=bucket_name, Key=f"tree/{changed}")["Body"].read()
    assert got == (local / changed).read_bytes()

    aws("s3", "rm", QUIET, "--recursive", f"{url}/tree/docs")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]]
    assert keys == sorted(f"tree/{rel}" for rel in TREE if rel.startswith(("media/", "empty")))
    aws("s3", "rb", "--force", url)  # rm --recursive of the rest, then DeleteBucket
    assert bucket_name not in aws("s3", "ls").split()


def test_s3api_verbs(aws: Cli, s3: Any, bucket_name: str, tmp_path: Path) -> None:
    body = tmp_path / "body"
    first = random_file(body, 10_000)
    first_md5 = hashlib.md5(body.read_bytes()).hexdigest()
    api(aws, "create-bucket", "--bucket", bucket_name)
    api(aws, "put-bucket-versioning", "--bucket", bucket_name,
        "--versioning-configuration", "Status=Enabled")
    put = api(aws, "put-object", "--bucket", bucket_name, "--key", "k", "--body", str(body),
              "--tagging", "team=storage&tier=hot", "--metadata", "origin=awscli",
              "--content-type", "application/x-test")
    assert put["ETag"] == f'"{first_md5}"' and put["VersionId"] != "null"
    head = api(aws, "head-object", "--bucket", bucket_name, "--key", "k")
    assert head["Metadata"] == {"origin": "awscli"} and head["ContentType"] == "application/x-test"
    assert head["VersionId"] == put["VersionId"] and head["ContentLength"] == 10_000
    tags = api(aws, "get-object-tagging", "--bucket", bucket_name, "--key", "k")
    assert sorted((t["Key"], t["Value"]) for t in tags["TagSet"]) == [
        ("team", "storage"), ("tier", "hot")]

    second = s3.put_object(Bucket=bucket_name, Key="k", Body=b"v2" * 10_000)
    versions = api(aws, "list-object-versions", "--bucket", bucket_name)
    listed = [(v["VersionId"], v["IsLatest"], v["Size"]) for v in versions["Versions"]]
    assert listed == [(second["VersionId"], True, 20_000), (put["VersionId"], False, 10_000)]
    old = tmp_path / "old"
    api(aws, "get-object", "--bucket", bucket_name, "--key", "k", "--version-id",
        put["VersionId"], str(old))
    assert file_sha256(old) == first

    # Read-only ACLs: the owner holds FULL_CONTROL (s3cmd info and friends read these).
    for acl in (api(aws, "get-object-acl", "--bucket", bucket_name, "--key", "k"),
                s3.get_bucket_acl(Bucket=bucket_name)):
        assert acl["Owner"]["DisplayName"] == ACCESS_KEY
        assert [(g["Grantee"]["Type"], g["Grantee"]["ID"], g["Permission"])
                for g in acl["Grants"]] == [("CanonicalUser", acl["Owner"]["ID"], "FULL_CONTROL")]
    s3.put_object_acl(Bucket=bucket_name, Key="k", ACL="private")
    owner_only = {"Owner": acl["Owner"], "Grants": acl["Grants"]}  # s3cmd setacl sends this
    s3.put_bucket_acl(Bucket=bucket_name, AccessControlPolicy=owner_only)
    refused = aws.run("s3api", "put-object-acl", "--bucket", bucket_name, "--key", "k",
                      "--acl", "public-read")
    assert refused.returncode != 0 and b"NotImplemented" in refused.stderr

    deleted = api(aws, "delete-object", "--bucket", bucket_name, "--key", "k")
    assert deleted["DeleteMarker"] is True
    versions = s3.list_object_versions(Bucket=bucket_name)
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [deleted["VersionId"]]
    assert len(versions["Versions"]) == 2


def test_presigned_get_with_curl(aws: Cli, s3: Any, server: LiteioServer, bucket_name: str,
                                 tmp_path: Path) -> None:
    data = random_file(tmp_path / "shared.bin", 3 * MIB + 7)
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key="a dir/shared file.bin",
                  Body=(tmp_path / "shared.bin").read_bytes())
    target = f"s3://{bucket_name}/a dir/shared file.bin"

    # CLI v1 presigns with SigV2 query auth by default; SigV4 when the config asks for it.
    v4_config = tmp_path / "v4.config"
    v4_config.write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    v4 = aws.with_env(AWS_CONFIG_FILE=str(v4_config))
    for cli, marker in ((aws, "Signature="), (v4, "X-Amz-Signature=")):
        url = cli("s3", "presign", target, "--expires-in", "300").strip()
        assert url.startswith(server.endpoint) and marker in url
        status, body = curl(url)
        assert status == 200 and hashlib.sha256(body).hexdigest() == data
        status, body = curl(url.replace("shared%20file", "other%20file"))
        assert status == 403 and b"SignatureDoesNotMatch" in body
