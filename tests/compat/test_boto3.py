"""boto3 against a real liteio server over a real socket, default and 'when_required' checksums."""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import LiteioServer

MIB = 1 << 20


@pytest.fixture(scope="module", params=["when_supported", "when_required"])
def s3(request: pytest.FixtureRequest, server: LiteioServer) -> Any:
    return server.boto3_client(request_checksum_calculation=request.param,
                               response_checksum_validation=request.param)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=name)
    assert code(err.value) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket=name)
    assert code(err.value) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=name)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="Bad_Name")
    assert code(err.value) == "InvalidBucketName"


@pytest.mark.parametrize("size", [0, 5, 128 * 1024, 3 * MIB + 1])
def test_put_get_head(s3: Any, bucket: str, size: int) -> None:
    data = os.urandom(size)
    put = s3.put_object(Bucket=bucket, Key="k/obj", Body=data, ContentType="text/plain",
                        Metadata={"Color": "blue"}, CacheControl="max-age=60",
                        ContentDisposition="attachment", ContentLanguage="en")
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="k/obj")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"color": "blue"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "attachment"
    head = s3.head_object(Bucket=bucket, Key="k/obj")
    assert head["ContentLength"] == size and head["ETag"] == put["ETag"]


def test_ranges_and_overrides(s3: Any, bucket: str) -> None:
    data = os.urandom(2 * MIB + 10)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    for rng, want in [("bytes=0-0", data[:1]), ("bytes=1048570-1048590", data[1048570:1048591]),
                      ("bytes=-10", data[-10:]), ("bytes=2097150-", data[2097150:])]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["Body"].read() == want
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert code(err.value) == "InvalidRange"
    got = s3.get_object(Bucket=bucket, Key="r", ResponseContentType="image/png",
                        ResponseContentDisposition="inline")
    assert got["ContentType"] == "image/png" and got["ContentDisposition"] == "inline"


def test_conditional_requests(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")
    etag = put["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert code(err.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert code(err.value) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"v2"
    s3.put_object(Bucket=bucket, Key="new", Body=b"x", IfNoneMatch="*")


def test_copy_object(s3: Any, bucket: str) -> None:
    data = os.urandom(MIB + 3)
    s3.put_object(Bucket=bucket, Key="src", Body=data, Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data and got["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="x/y")
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "x/y"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert code(err.value) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/src",
                       CopySourceIfMatch='"nope"')
    assert code(err.value) == "PreconditionFailed"


def test_listing(s3: Any, bucket: str) -> None:
    keys = sorted(["a/1", "a/2", "a/b/3", "b", "c d", "e+f", "ü"])
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == keys and listed["KeyCount"] == len(keys)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/"]
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == keys
    v1 = s3.list_objects(Bucket=bucket, Marker="a/b/3")
    assert [o["Key"] for o in v1["Contents"]] == keys[3:]
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert sum(len(p.get("Contents", [])) for p in pages) == len(keys)
    encoded = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="e")
    assert [o["Key"] for o in encoded["Contents"]] == ["e%2Bf"]  # asked for: left encoded


def test_delete_objects(s3: Any, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"d{i}", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"d{i}"} for i in range(5)]})
    assert sorted(d["Key"] for d in result["Deleted"]) == [f"d{i}" for i in range(5)]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "zz"}], "Quiet": True})
    assert not quiet.get("Deleted")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_versioning(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=v1)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=bucket, Key="v")
    assert marker["DeleteMarker"]
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="v")
    assert code(err.value) == "NoSuchKey"
    versions = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in versions["Versions"]] == [v2, v1]
    assert versions["DeleteMarkers"][0]["IsLatest"]
    s3.delete_object(Bucket=bucket, Key="v", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"two"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="v", Body=b"three").get("VersionId") == "null"


def test_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two")]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "1"
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as err:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert code(err.value) == "InvalidTag"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "x"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(err.value) == "NoSuchTagSet"


def test_checksums(s3: Any, bucket: str) -> None:
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
        put = s3.put_object(Bucket=bucket, Key=f"ck-{algorithm}", Body=b"hello world",
                            ChecksumAlgorithm=algorithm)
        header = f"Checksum{algorithm}"
        got = s3.get_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
        assert got[header] == put[header]
        assert got["Body"].read() == b"hello world"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")
    assert code(err.value) in ("BadDigest", "InvalidRequest")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_presigned_url(server: LiteioServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="p q", Body=b"presigned")
    signer = server.boto3_client(signature_version="s3v4")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p q"},
                                    ExpiresIn=60)
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"presigned"
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad)
    assert err.value.code == 403
    # boto3's default presigner still speaks SigV2.
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p q"},
                                   ExpiresIn=60)
    with urllib.request.urlopen(v2) as resp:
        assert resp.read() == b"presigned"


def test_missing_things(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="absent")
    assert code(err.value) == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="no-such-bucket-here", Key="x")
    assert code(err.value) == "NoSuchBucket"
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="a/../b", Body=b"x")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_multipart_upload(s3: Any, bucket: str, tmp_path: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    data = os.urandom(17 * MIB + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(path), bucket, "mp/big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="mp/big.bin")
    assert head["ContentLength"] == len(data)
    digests = b"".join(hashlib.md5(data[i : i + 5 * MIB]).digest()
                       for i in range(0, len(data), 5 * MIB))
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-4"'
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "mp/big.bin", str(out), Config=config)
    assert out.read_bytes() == data
    part2 = s3.get_object(Bucket=bucket, Key="mp/big.bin", PartNumber=2)
    assert part2["Body"].read() == data[5 * MIB : 10 * MIB] and part2["PartsCount"] == 4


def test_multipart_api(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ContentType="x/y",
                                        Metadata={"k": "v"})["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("m", upload)]
    p1 = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1,
                        Body=b"a" * (5 * MIB))
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789" * 1000)
    p2 = s3.upload_part_copy(Bucket=bucket, Key="m", UploadId=upload, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=10-19")
    parts = s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MIB), (2, 10)]
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
                      {"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert code(err.value) == "InvalidPartOrder"
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert code(err.value) == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]},
                  {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert done["ETag"].endswith('-2"')
    got = s3.get_object(Bucket=bucket, Key="m")
    assert got["Body"].read() == b"a" * (5 * MIB) + b"0123456789"
    assert got["ContentType"] == "x/y" and got["Metadata"] == {"k": "v"}
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)
    assert code(err.value) == "NoSuchUpload"
    second = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=second)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    small = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=1, Body=b"x")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=2, Body=b"y")["ETag"]
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=small, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert code(err.value) == "EntityTooSmall"


def test_odd_keys_and_expires(s3: Any, bucket: str) -> None:
    import datetime

    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    keys = ["tab\there", "ctrl\x01char", "spaces and (parens)", "percent%20literal",
            "emoji-\U0001f600", "trailing/"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode(), Expires=expires)
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == key.encode()
        assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys)
