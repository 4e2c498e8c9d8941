"""Building xl.meta from scratch: versions, delete markers, inline data, mutations."""

from __future__ import annotations

import dataclasses
import struct
import uuid
from pathlib import Path

import msgpack
import pytest

from liteio.meta import (
    FLAG_FREE_VERSION,
    FLAG_INLINE_DATA,
    FLAG_USES_DATA_DIR,
    INLINE_DATA_KEY,
    NULL_VERSION_ID,
    TYPE_DELETE_MARKER,
    TYPE_OBJECT,
    DeleteMarker,
    ObjectVersion,
    VersionHeader,
    VersionNotFound,
    XLMeta,
    XLMetaError,
    metadata_span,
    signature_of,
)
from liteio.meta.envelope import parse_envelope, xl_crc
from liteio.meta.versions import FREE_VERSION_KEY, WRITTEN_BY

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "minio"
NS = 1_000_000_000
V1 = uuid.UUID("11111111-2222-4333-8444-555555555555")
V2 = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
DDIR = uuid.UUID("0ef1f5d2-2794-48f9-812d-b29f0a9de555")


def new_object(
    version_id: uuid.UUID | None, mod_time: int, *, inline: bool, size: int = 5
) -> ObjectVersion:
    meta_sys = {"X-Minio-Internal-actual-size": str(size).encode()}
    if inline:
        meta_sys[INLINE_DATA_KEY] = b"true"
    return ObjectVersion(
        version_id=version_id.bytes if version_id else NULL_VERSION_ID,
        data_dir=DDIR.bytes,
        ec_m=2,
        ec_n=2,
        ec_index=3,
        ec_dist=[3, 4, 1, 2],
        part_numbers=[1],
        part_sizes=[size],
        part_actual_sizes=[size],
        size=size,
        mod_time=mod_time,
        meta_sys=meta_sys,
        meta_usr={"etag": "5d41402abc4b2a76b9719d911017c592", "content-type": "text/plain"},
    )


def build() -> tuple[XLMeta, bytes]:
    xl = XLMeta()
    xl.add_version(new_object(V1, 1_700_000_000 * NS, inline=True), inline_data=b"\x07" * 37)
    xl.add_version(DeleteMarker(version_id=V2.bytes, mod_time=1_700_000_100 * NS))
    xl.add_version(new_object(None, 1_600_000_000 * NS, inline=False, size=300000))
    return xl, xl.dump()


def test_from_scratch_round_trip() -> None:
    xl, data = build()
    # The 1.3 frame as MinIO writes it: bin32 always, CRC as ce + 4 bytes.
    assert data[:8] == b"XL2 \x01\x00\x03\x00" and data[8] == 0xC6
    (length,) = struct.unpack(">I", data[9:13])
    content = data[13 : 13 + length]
    assert data[13 + length] == 0xCE
    assert struct.unpack(">I", data[14 + length : 18 + length])[0] == xl_crc(content)
    assert content[:3] == b"\x03\x03\x03"  # header version 3, meta version 3, 3 versions

    again = XLMeta.load(data)
    assert again.dump() == data
    assert [h.type for h in again.headers] == [TYPE_DELETE_MARKER, TYPE_OBJECT, TYPE_OBJECT]
    assert [h.version_id_text for h in again.headers] == [str(V2), str(V1), "null"]
    for entry in again.entries:
        assert entry.header.signature == signature_of(entry.version)
    dm, inl, part = again.headers
    assert dm.flags == 0 and (dm.ec_n, dm.ec_m) == (0, 0)
    assert inl.flags == FLAG_USES_DATA_DIR | FLAG_INLINE_DATA and (inl.ec_n, inl.ec_m) == (2, 2)
    assert part.flags == FLAG_USES_DATA_DIR
    assert again.inline.keys() == [str(V1)]
    assert again.inline_data(V1) == b"\x07" * 37
    assert again.inline_data(str(V1).upper()) == b"\x07" * 37
    assert again.inline_data(None) is None
    assert again.find(V1) == xl.find(V1)
    latest = again.latest()
    assert isinstance(latest, DeleteMarker) and latest.meta_sys == {}
    assert latest.written_by == WRITTEN_BY


def test_written_body_layout_matches_msgp() -> None:
    _, data = build()
    xl = XLMeta.load(data)
    body = xl.find_entry(V1).body  # type: ignore[union-attr]
    assert body.startswith(b"\x83\xa4Type\x01\xa5V2Obj\xde\x00\x11\xa2ID\xc4\x10")
    assert body.endswith(b"\xa1v\xce" + struct.pack(">I", WRITTEN_BY))
    doc = msgpack.unpackb(body, raw=False)
    assert list(doc["V2Obj"]) == [
        "ID",
        "DDir",
        "EcAlgo",
        "EcM",
        "EcN",
        "EcBSize",
        "EcIndex",
        "EcDist",
        "CSumAlgo",
        "PartNums",
        "PartETags",
        "PartSizes",
        "PartASizes",
        "Size",
        "MTime",
        "MetaSys",
        "MetaUsr",
    ]
    assert b"\xa7EcBSize\xd2\x00\x10\x00\x00" in body  # Go int: signed family
    dm_body = xl.find_entry(V2).body  # type: ignore[union-attr]
    assert dm_body == (
        b"\x83\xa4Type\x02\xa6DelObj\x83\xa2ID\xc4\x10"
        + V2.bytes
        + b"\xa5MTime\xd3"
        + struct.pack(">q", 1_700_000_100 * NS)
        + b"\xa7MetaSys\x80\xa1v\xce"
        + struct.pack(">I", WRITTEN_BY)
    )


def test_replace_null_version_and_inline_entry() -> None:
    xl = XLMeta()
    xl.add_version(new_object(None, 10 * NS, inline=True), inline_data=b"old")
    xl.add_version(new_object(None, 20 * NS, inline=True), inline_data=b"new")
    assert len(xl) == 1 and xl.inline_data("null") == b"new"
    # Replaced by a version without inline data: the stale shard goes too.
    xl.add_version(new_object(None, 30 * NS, inline=False))
    assert len(xl) == 1 and xl.inline_data("null") is None
    again = XLMeta.load(xl.dump())
    assert again.latest().mod_time == 30 * NS  # type: ignore[union-attr]
    assert len(again.inline) == 0


def test_update_version_keeps_inline_data() -> None:
    xl, _ = build()
    rec = xl.find(V1)
    assert isinstance(rec, ObjectVersion) and rec.meta_usr is not None
    changed = dataclasses.replace(rec, meta_usr={**rec.meta_usr, "x-amz-tagging": "a=b"})
    before = signature_of(rec)
    header = xl.update_version(changed)
    assert header.signature == signature_of(changed) != before
    assert xl.find_entry(V1).header is header  # type: ignore[union-attr]
    again = XLMeta.load(xl.dump())
    assert again.find(V1).meta_usr["x-amz-tagging"] == "a=b"  # type: ignore[union-attr]
    assert again.inline_data(V1) == b"\x07" * 37 and len(again) == 3
    with pytest.raises(VersionNotFound):
        xl.update_version(dataclasses.replace(rec, version_id=uuid.uuid4().bytes))


def test_delete_version() -> None:
    xl, _ = build()
    removed = xl.delete_version(str(V1))
    assert removed.header.version_id == V1.bytes
    assert isinstance(removed.version, ObjectVersion)
    assert xl.inline_data(V1) is None and len(xl.inline) == 0
    xl.delete_version("null")
    assert [h.version_id_text for h in xl.headers] == [str(V2)]
    with pytest.raises(VersionNotFound, match="version null not found"):
        xl.delete_version(None)
    with pytest.raises(ValueError, match="invalid version id"):
        xl.find("not-a-uuid")
    xl.delete_version(V2.bytes)
    assert xl.latest() is None and len(XLMeta.load(xl.dump())) == 0


def test_find_accepts_every_spelling() -> None:
    xl, _ = build()
    for spelling in (V1, str(V1), V1.bytes, str(V1).upper()):
        assert xl.find(spelling) is xl.find(V1)
    for null in (None, "", "null", NULL_VERSION_ID):
        assert xl.find(null).size == 300000  # type: ignore[union-attr]
    assert xl.find(uuid.uuid4()) is None


def test_free_versions_are_hidden_from_latest() -> None:
    xl = XLMeta()
    xl.add_version(new_object(V1, 10 * NS, inline=False))
    free = DeleteMarker(version_id=V2.bytes, mod_time=20 * NS, meta_sys={FREE_VERSION_KEY: b""})
    header = xl.add_version(free)
    assert header.flags == FLAG_FREE_VERSION
    assert xl.latest().version_id == V1.bytes  # type: ignore[union-attr]
    assert xl.latest(include_free=True) == free
    assert len(xl.versions(include_free=False)) == 1


def test_transitioned_object_has_no_data_dir_flag() -> None:
    rec = new_object(V1, NS, inline=False)
    assert rec.meta_sys is not None
    rec.meta_sys["x-minio-internal-transition-status"] = b"complete"
    xl = XLMeta()
    assert xl.add_version(rec).flags == 0


def test_sort_rules() -> None:
    def h(mtime: int, vtype: int, sig: int, vid: int, flags: int) -> VersionHeader:
        return VersionHeader(vid.to_bytes(16, "big"), mtime, sig.to_bytes(4, "big"), vtype, flags)

    newest = h(5, 2, 0, 0, 0)
    same_time_object = h(4, 1, 0, 0, 0)
    same_time_marker = h(4, 2, 9, 9, 9)
    big_sig = h(3, 1, 0xFF000000, 0, 0)
    small_sig_big_id = h(3, 1, 0x00FFFFFF, 9, 0)
    big_id = h(2, 1, 1, 0xFF, 0)
    small_id_high_flags = h(2, 1, 1, 0x01, 7)
    big_flags = h(1, 1, 1, 1, 6)
    small_flags = h(1, 1, 1, 1, 2)
    ordered = [
        newest,
        same_time_object,
        same_time_marker,
        big_sig,
        small_sig_big_id,
        big_id,
        small_id_high_flags,
        big_flags,
        small_flags,
    ]
    rotated = ordered[4:] + ordered[:4]
    assert sorted(rotated, key=VersionHeader.sort_key) == ordered


def test_add_version_keeps_order() -> None:
    xl = XLMeta()
    ids = [uuid.uuid4() for _ in range(20)]
    for i, vid in enumerate(ids):
        xl.add_version(new_object(vid, ((i * 7) % 20) * NS, inline=False))
    keys = [e.header.sort_key() for e in xl.entries]
    assert keys == sorted(keys)
    assert XLMeta.load(xl.dump()).headers == xl.headers


def test_metadata_only_prefix() -> None:
    xl = XLMeta()
    xl.add_version(new_object(V1, NS, inline=True), inline_data=b"x" * 5000)
    data = xl.dump()
    buf = data[:4]
    span = metadata_span(buf)
    reads = 1
    while span is not None and span > len(buf):
        buf, reads = data[:span], reads + 1
        span = metadata_span(buf)
    assert reads == 5  # magic, version, bin length, CRC tag, CRC: each step asks for more
    assert span == parse_envelope(data).inline_offset and span < len(data) - 5000
    assert metadata_span(data) == span
    prefix = XLMeta.load(data[:span], inline=False)
    assert prefix.latest() == xl.latest()
    with pytest.raises(XLMetaError, match="without its inline data"):
        _ = prefix.inline
    with pytest.raises(XLMetaError, match="without its inline data"):
        prefix.dump()


def test_fixture_versions_carry_over_into_new_files() -> None:
    # Adding to a MinIO-written (hv2/mv1) file upgrades it to what MinIO writes now.
    data = (FIXTURES / "minio-cicd-corpus/disk4/bucket/testobj/xl.meta").read_bytes()
    xl = XLMeta.load(data)
    xl.add_version(new_object(V1, 1_800_000_000 * NS, inline=True), inline_data=b"abc")
    again = XLMeta.load(xl.dump())
    assert (again.source_header_version, again.source_meta_version) == (3, 3)
    assert [h.version_id_text for h in again.headers] == [
        str(V1),
        "163c7c9d-e856-41ed-93ae-2adccecc8211",
        "50051050-62bc-4928-b0d3-65f4f828a0c7",
    ]
    assert [(h.ec_n, h.ec_m) for h in again.headers] == [(2, 2), (2, 3), (2, 3)]
    assert [h.signature.hex() for h in again.headers[1:]] == ["e5246fba", "ddfa02ee"]
    assert [e.body for e in again.entries[1:]] == [e.body for e in XLMeta.load(data).entries]
