"""minio-py (MinIO's own Python SDK, unmodified) against a real liteio server over a socket."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from minio import Minio
from minio.commonconfig import COPY, REPLACE, ComposeSource, CopySource, Tags
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.versioningconfig import ENABLED, VersioningConfig

from tests.compat.conftest import MIB, file_sha256, random_file, sha256
from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer


@pytest.fixture(scope="module")
def mc(server: LiteioServer) -> Minio:
    # Bounded and without retries (minio-py's default waits 5 minutes and retries 5 times).
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10, read=30),
                               retries=urllib3.Retry(total=0), maxsize=8)
    return Minio(server.endpoint.removeprefix("http://"), access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, secure=False, region=REGION, http_client=http)


class UnsizedReader(io.RawIOBase):
    """A stream that will not say how long it is, read in odd-sized pieces."""

    def __init__(self, data: bytes) -> None:
        self.source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.source.read(min(size, 777_777) if size > 0 else 777_777)


def test_put_stat_get_stream_and_multipart(mc: Minio, bucket_name: str, tmp_path: Path) -> None:
    mc.make_bucket(bucket_name)
    assert mc.bucket_exists(bucket_name)
    assert not mc.bucket_exists(bucket_name + "-nope")

    small = os.urandom(70_000)
    put = mc.put_object(bucket_name, "small", io.BytesIO(small), len(small),
                        content_type="text/csv", metadata={"x-amz-meta-origin": "minio-py"})
    assert put.etag == hashlib.md5(small).hexdigest()
    stat = mc.stat_object(bucket_name, "small")
    assert stat.size == len(small) and stat.etag == put.etag
    assert stat.content_type == "text/csv" and stat.metadata is not None
    assert stat.metadata["x-amz-meta-origin"] == "minio-py"

    # Known length above the part size: parts uploaded in parallel threads.
    big = os.urandom(11 * MIB + 1)
    mc.put_object(bucket_name, "big", io.BytesIO(big), len(big), part_size=5 * MIB)
    # Unknown length: minio-py cuts part_size parts as it reads.
    mc.put_object(bucket_name, "unsized", UnsizedReader(big), -1,  # type: ignore[arg-type]
                  part_size=5 * MIB)
    for name in ("big", "unsized"):
        assert str(mc.stat_object(bucket_name, name).etag).endswith("-3")
        response = mc.get_object(bucket_name, name)
        try:
            assert sha256(response.read()) == sha256(big)
        finally:
            response.close()
            response.release_conn()
    ranged = mc.get_object(bucket_name, "big", offset=5 * MIB - 3, length=10)
    try:
        assert ranged.read() == big[5 * MIB - 3:5 * MIB + 7]
    finally:
        ranged.close()
        ranged.release_conn()

    src = tmp_path / "up.bin"
    digest = random_file(src, 6 * MIB + 123)
    mc.fput_object(bucket_name, "dir/file.bin", str(src), part_size=5 * MIB)
    mc.fget_object(bucket_name, "dir/file.bin", str(tmp_path / "down.bin"))
    assert file_sha256(tmp_path / "down.bin") == digest

    with pytest.raises(S3Error) as err:
        mc.stat_object(bucket_name, "missing")
    assert err.value.code == "NoSuchKey"


def test_list_remove_copy_compose(mc: Minio, bucket_name: str) -> None:
    mc.make_bucket(bucket_name)
    names = ["a/1", "a/2", "a/b/3", "c", "d e/ü"]
    bodies = {name: os.urandom(1000 + i) for i, name in enumerate(names)}
    for name, body in bodies.items():
        mc.put_object(bucket_name, name, io.BytesIO(body), len(body))
    for v1 in (False, True):
        # minio-py yields a page's keys, then its common prefixes.
        flat = [(o.object_name, o.is_dir) for o in mc.list_objects(bucket_name, use_api_v1=v1)]
        assert flat == [("c", False), ("a/", True), ("d e/", True)]
        deep = [o.object_name for o in mc.list_objects(bucket_name, recursive=True,
                                                       use_api_v1=v1)]
        assert deep == names
        assert [o.object_name for o in mc.list_objects(bucket_name, prefix="a/",
                                                       use_api_v1=v1)] == ["a/1", "a/2", "a/b/"]
        after = mc.list_objects(bucket_name, recursive=True, start_after="a/b/3", use_api_v1=v1)
        assert [o.object_name for o in after] == ["c", "d e/ü"]
    sizes = {o.object_name: o.size for o in mc.list_objects(bucket_name, recursive=True)}
    assert sizes == {name: len(body) for name, body in bodies.items()}

    copied = mc.copy_object(bucket_name, "copy", CopySource(bucket_name, "c"),
                            metadata={"x-amz-meta-k": "v"}, metadata_directive=REPLACE)
    assert copied.etag == hashlib.md5(bodies["c"]).hexdigest()
    assert (mc.stat_object(bucket_name, "copy").metadata or {})["x-amz-meta-k"] == "v"
    mc.copy_object(bucket_name, "copy2", CopySource(bucket_name, "copy"), metadata_directive=COPY)
    assert mc.get_object(bucket_name, "copy2").data == bodies["c"]

    # compose_object: UploadPartCopy of whole sources (each but the last >= 5 MiB).
    part = os.urandom(5 * MIB)
    mc.put_object(bucket_name, "part", io.BytesIO(part), len(part))
    mc.compose_object(bucket_name, "composed", [
        ComposeSource(bucket_name, "part"), ComposeSource(bucket_name, "a/1")])
    assert sha256(mc.get_object(bucket_name, "composed").data) == sha256(part + bodies["a/1"])

    mc.remove_object(bucket_name, "c")
    errors = list(mc.remove_objects(bucket_name, [DeleteObject(n) for n in names if n != "c"]))
    assert errors == []
    left = sorted(o.object_name for o in mc.list_objects(bucket_name, recursive=True))
    assert left == ["composed", "copy", "copy2", "part"]


def test_presigned_tags_versions(mc: Minio, bucket_name: str) -> None:
    mc.make_bucket(bucket_name)
    body = os.urandom(300_000)
    put_url = mc.presigned_put_object(bucket_name, "shared/obj", expires=timedelta(minutes=5))
    request = urllib.request.Request(put_url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    get_url = mc.presigned_get_object(bucket_name, "shared/obj", expires=timedelta(minutes=5),
                                      response_headers={"response-content-type": "image/png"})
    with urllib.request.urlopen(get_url, timeout=30) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert sha256(response.read()) == sha256(body)

    tags = Tags.new_object_tags()
    tags["project"] = "liteio"
    tags["stage"] = "test"
    mc.set_object_tags(bucket_name, "shared/obj", tags)
    assert dict(mc.get_object_tags(bucket_name, "shared/obj") or {}) == {
        "project": "liteio", "stage": "test"}
    bucket_tags = Tags.new_bucket_tags()
    bucket_tags["owner"] = "storage"
    mc.set_bucket_tags(bucket_name, bucket_tags)
    assert dict(mc.get_bucket_tags(bucket_name) or {}) == {"owner": "storage"}

    mc.set_bucket_versioning(bucket_name, VersioningConfig(ENABLED))
    assert mc.get_bucket_versioning(bucket_name).status == ENABLED
    first = mc.put_object(bucket_name, "v", io.BytesIO(b"one"), 3)
    second = mc.put_object(bucket_name, "v", io.BytesIO(b"two!"), 4)
    assert first.version_id and second.version_id and first.version_id != second.version_id
    versions = [(o.version_id, o.is_latest, o.size) for o in mc.list_objects(
        bucket_name, prefix="v", include_version=True)]
    assert versions == [(second.version_id, "true", 4), (first.version_id, "false", 3)]
    assert mc.get_object(bucket_name, "v", version_id=first.version_id).data == b"one"
    mc.remove_object(bucket_name, "v", version_id=second.version_id)
    assert mc.get_object(bucket_name, "v").data == b"one"
    assert mc.stat_object(bucket_name, "v").version_id == first.version_id

