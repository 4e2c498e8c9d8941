"""Pure pieces of multipart uploads: ids, records, ETag, checksum blob, list pages."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from liteio import checksums as cks
from liteio.meta.checksums import parse_checksum_blob
from liteio.object.multipart_meta import (
    PartRecord,
    RecordCorrupt,
    UploadRecord,
    encode_upload_id,
    multipart_checksum,
    multipart_etag,
    paginate_uploads,
    part_number_of,
    upload_dir,
    upload_uuid_of,
)
from liteio.object.types import MultipartInfo


def test_upload_ids() -> None:
    dep, up = str(uuid.uuid4()), str(uuid.uuid4())
    uid = encode_upload_id(dep, up)
    assert base64.urlsafe_b64decode(uid + "=" * (-len(uid) % 4)).decode() == f"{dep}.{up}"
    assert upload_uuid_of(uid) == up
    assert upload_uuid_of(up) == up  # a bare uuid, as MinIO accepts
    for bad in ["", "x", up.upper(), encode_upload_id(dep, "../../etc"), "a" * 600,
                base64.urlsafe_b64encode(b"dep.not-a-uuid").decode()]:
        assert upload_uuid_of(bad) is None, bad
    digest = hashlib.sha256(b"bkt/a/b").hexdigest()
    assert upload_dir("bkt", "a/b", up) == f"multipart/{digest}/{up}"


def test_part_numbers_in_names() -> None:
    assert part_number_of("part.1.meta") == 1 and part_number_of("part.10000.meta") == 10000
    for name in ["part.0.meta", "part.01.meta", "part.1", "xl.meta", "part.100000.meta"]:
        assert part_number_of(name) is None


def test_records_round_trip() -> None:
    part = PartRecord(3, "abc", 10, 10, 123, {"CRC32": "AAAAAA=="})
    assert PartRecord.load(part.dump()) == part
    for raw in [b"", b"\xc1", b"\x90", b"\x81\xa1v\x02"]:
        with pytest.raises(RecordCorrupt):
            PartRecord.load(raw)
    up = UploadRecord("bkt", "k/\u00e9", str(uuid.uuid4()), uuid.uuid4().bytes, 2, 2, 1 << 20,
                      [2, 3, 4, 1], 42, {"content-type": "a/b"}, "CRC32C", "COMPOSITE")
    assert UploadRecord.load(up.dump(3), up.upload_uuid) == up
    with pytest.raises(RecordCorrupt):
        UploadRecord.load(b"XL2 garbage", up.upload_uuid)


def test_multipart_etag() -> None:
    a, b = hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()
    want = hashlib.md5(hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert multipart_etag([a, b]) == f"{want}-2"
    assert multipart_etag([f'"{a.upper()}"', b]) == f"{want}-2"


def test_checksum_blob_matches_the_spec_example() -> None:
    # XLMETA-SPEC 11.4: d0 01 | 2c d2 c3 a0 | 01 | f5 0b 8e 4b (CRC32C, one part).
    blob, shown = multipart_checksum("CRC32C", "COMPOSITE", [(bytes.fromhex("f50b8e4b"), 5)])
    assert blob == bytes.fromhex("d0012cd2c3a001f50b8e4b")
    assert shown == base64.b64encode(bytes.fromhex("2cd2c3a0")).decode() + "-1"
    (rec,) = parse_checksum_blob(blob)
    assert rec.is_multipart and rec.part_values == [bytes.fromhex("f50b8e4b")]


def test_full_object_checksum() -> None:
    parts = [b"hello ", b"world"]
    digests = [(cks.new("CRC64NVME", p).digest(), len(p)) for p in parts]
    blob, shown = multipart_checksum("CRC64NVME", "FULL_OBJECT", digests)
    assert shown == cks.new("CRC64NVME", b"hello world").b64()
    (rec,) = parse_checksum_blob(blob)
    assert rec.is_full_object and rec.part_count == 2 and rec.value_b64 == shown


def _ups(*keys: str) -> list[MultipartInfo]:
    return [MultipartInfo("b", k, f"id{i}", i) for i, k in enumerate(keys)]


def test_paginate_uploads() -> None:
    ups = _ups("a", "a", "b/1", "b/2", "c", "d/x/y")
    page = paginate_uploads(ups, max_uploads=3)
    assert [u.upload_id for u in page.uploads] == ["id0", "id1", "id2"] and page.is_truncated
    assert (page.next_key_marker, page.next_upload_id_marker) == ("b/1", "id2")
    rest = paginate_uploads(ups, key_marker="b/1", upload_id_marker="id2")
    assert [u.upload_id for u in rest.uploads] == ["id3", "id4", "id5"] and not rest.is_truncated
    assert [u.upload_id for u in paginate_uploads(ups, key_marker="a", upload_id_marker="id0")
            .uploads][:1] == ["id1"]
    folded = paginate_uploads(ups, delimiter="/", max_uploads=3)
    assert folded.prefixes == ["b/"] and [u.key for u in folded.uploads] == ["a", "a"]
    assert folded.is_truncated and folded.next_key_marker == "b/"
    after = paginate_uploads(ups, delimiter="/", key_marker="b/")
    assert [u.key for u in after.uploads] == ["c"] and after.prefixes == ["d/"]
    exact = paginate_uploads(ups, delimiter="/", max_uploads=5)  # a, a, b/, c, d/
    assert not exact.is_truncated and len(exact.uploads) + len(exact.prefixes) == 5
    assert paginate_uploads(ups, delimiter="/", max_uploads=4).is_truncated
    nested = paginate_uploads(ups, prefix="d/", delimiter="/")
    assert nested.prefixes == ["d/x/"] and nested.uploads == []
