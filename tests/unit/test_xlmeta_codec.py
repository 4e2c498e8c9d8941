"""The exact-width msgpack writer, record round trips, unknown fields, legacy bodies."""

from __future__ import annotations

import struct
import uuid

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio.meta import DeleteMarker, LegacyObject, ObjectVersion, XLMeta, signature_of
from liteio.meta.bodydec import decode_version
from liteio.meta.envelope import xl_crc
from liteio.meta.ids import format_rfc3339_nano, parse_rfc3339_nano, version_id_bytes
from liteio.meta.inline import InlineData
from liteio.meta.msgp import put_bin, put_int, put_map_header, put_str, put_uint, str_key


def enc(put, value) -> bytes:  # type: ignore[no-untyped-def]
    out = bytearray()
    put(out, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "d10080"),
        (255, "d100ff"),
        (32767, "d17fff"),
        (32768, "d200008000"),
        (2**31 - 1, "d27fffffff"),
        (2**31, "d30000000080000000"),
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0df"),
        (-128, "d080"),
        (-129, "d1ff7f"),
        (-(2**63), "d38000000000000000"),
    ],
)
def test_put_int_uses_msgp_signed_family(value: int, expected: str) -> None:
    assert enc(put_int, value).hex() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (255, "ccff"),
        (256, "cd0100"),
        (65536, "ce00010000"),
        (2**32, "cf0000000100000000"),
    ],
)
def test_put_uint_uses_unsigned_family(value: int, expected: str) -> None:
    assert enc(put_uint, value).hex() == expected


def test_str_bin_and_header_widths() -> None:
    assert enc(put_str, "a" * 31)[:1] == b"\xbf"
    assert enc(put_str, "a" * 32)[:2] == b"\xd9\x20"
    assert enc(put_str, "a" * 256)[:3] == b"\xda\x01\x00"
    assert enc(put_bin, b"")[:2] == b"\xc4\x00"
    assert enc(put_bin, b"x" * 256)[:3] == b"\xc5\x01\x00"
    assert enc(put_bin, b"x" * 65536)[:5] == b"\xc6\x00\x01\x00\x00"
    assert enc(put_map_header, 15) == b"\x8f" and enc(put_map_header, 17) == b"\xde\x00\x11"
    assert str_key("V2Obj") == b"\xa5V2Obj"
    with pytest.raises(ValueError):
        enc(put_uint, -1)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_put_int_decodes_back(value: int) -> None:
    assert msgpack.unpackb(enc(put_int, value)) == value


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_put_uint_matches_msgpack_python(value: int) -> None:
    # For unsigned values msgp and msgpack-python agree byte for byte.
    assert enc(put_uint, value) == msgpack.packb(value)


@given(st.text(max_size=300), st.binary(max_size=70000))
@settings(max_examples=50, deadline=None)
def test_str_and_bin_match_msgpack_python(text: str, blob: bytes) -> None:
    assert enc(put_str, text) == msgpack.packb(text, use_bin_type=True)
    assert enc(put_bin, blob) == msgpack.packb(blob, use_bin_type=True)


# --- record round trips ------------------------------------------------------------

ints = st.integers(min_value=0, max_value=2**40)
uuids = st.binary(min_size=16, max_size=16)
meta_keys = st.text(min_size=1, max_size=40)


@st.composite
def object_versions(draw: st.DrawFn) -> ObjectVersion:
    n_parts = draw(st.integers(0, 40))
    sizes = draw(st.lists(ints, min_size=n_parts, max_size=n_parts))
    return ObjectVersion(
        version_id=draw(uuids),
        data_dir=draw(uuids),
        ec_algo=1,
        ec_m=draw(st.integers(1, 16)),
        ec_n=draw(st.integers(0, 16)),
        ec_block_size=draw(st.sampled_from([1 << 20, 10 << 20, 5])),
        ec_index=draw(st.integers(1, 32)),
        ec_dist=draw(st.lists(st.integers(1, 255), max_size=32)),
        part_numbers=list(range(1, n_parts + 1)),
        part_etags=draw(
            st.none() | st.lists(st.text(max_size=40), min_size=n_parts, max_size=n_parts)
        ),
        part_sizes=sizes,
        part_actual_sizes=draw(st.none() | st.just(sizes)),
        part_indices=draw(
            st.none() | st.lists(st.binary(max_size=300), min_size=n_parts, max_size=n_parts)
        ),
        size=sum(sizes),
        mod_time=draw(st.integers(-(2**63), 2**63 - 1)),
        meta_sys=draw(st.none() | st.dictionaries(meta_keys, st.binary(max_size=60), max_size=6)),
        meta_usr=draw(st.none() | st.dictionaries(meta_keys, st.text(max_size=60), max_size=6)),
        written_by=draw(st.none() | st.integers(0, 2**64 - 1)),
    )


@settings(max_examples=150, deadline=None)
@given(object_versions())
def test_object_version_round_trip(rec: ObjectVersion) -> None:
    body = rec.to_msgpack()
    back = decode_version(body)
    assert back == rec
    assert back.to_msgpack() == body
    # msgpack-python agrees on the values (the widths are ours).
    doc = msgpack.unpackb(body, raw=False, strict_map_key=False)
    assert doc["Type"] == 1 and doc["V2Obj"]["Size"] == rec.size


@settings(max_examples=80, deadline=None)
@given(object_versions(), st.randoms(use_true_random=False))
def test_signature_ignores_map_order_and_ec_index(rec: ObjectVersion, rnd) -> None:  # type: ignore[no-untyped-def]
    sig = signature_of(rec)
    shuffled = ObjectVersion.from_msgpack(rec.to_msgpack())
    for attr in ("meta_sys", "meta_usr"):
        items = list((getattr(rec, attr) or {}).items())
        rnd.shuffle(items)
        if getattr(rec, attr) is not None:
            setattr(shuffled, attr, dict(items))
    shuffled.ec_index += 1
    assert signature_of(shuffled) == sig


@settings(max_examples=80, deadline=None)
@given(
    uuids,
    st.integers(-(2**63), 2**63 - 1),
    st.none() | st.dictionaries(meta_keys, st.binary(max_size=40), max_size=5),
)
def test_delete_marker_round_trip(vid: bytes, mtime: int, meta: dict[str, bytes] | None) -> None:
    rec = DeleteMarker(version_id=vid, mod_time=mtime, meta_sys=meta)
    body = rec.to_msgpack()
    assert (b"MetaSys" in body) == (meta is not None)  # omitempty
    assert decode_version(body) == rec and decode_version(body).to_msgpack() == body


def test_unknown_fields_and_key_order_survive() -> None:
    vid = uuid.uuid4().bytes
    inner = {"MTime": 5, "ID": vid, "Future": [1, {"x": b"y"}], "MetaSys": {}}
    body = msgpack.packb({"Weird": 300, "Type": 2, "DelObj": inner, "v": 7}, use_bin_type=True)
    rec = decode_version(body)
    assert isinstance(rec, DeleteMarker)
    assert rec.extras is not None and list(rec.extras.order) == ["MTime", "ID", "Future", "MetaSys"]
    assert rec.body_extras is not None and "Weird" in rec.body_extras.unknown
    assert rec.to_msgpack() == body
    # Unknown keys do not change the signature (MinIO drops them on re-encode).
    plain = DeleteMarker(version_id=vid, mod_time=5, meta_sys={})
    assert signature_of(rec) == signature_of(plain)
    # And they survive a whole-file round trip.
    xl = XLMeta()
    xl.add_version(rec)
    assert XLMeta.load(xl.dump()).entries[0].body == body


def test_nonstandard_widths_decode() -> None:
    # Readers accept any width (uint family for Go ints, str for bin...).
    vid = uuid.uuid4().bytes
    body = (
        b"\x82\xa4Type\xcc\x02\xa6DelObj\x83\xa2ID\xc4\x10"
        + vid
        + b"\xa5MTime\xcf"
        + struct.pack(">Q", 99)
        + b"\xa7MetaSys\x81\xa1k\xa1v"
    )
    rec = decode_version(body)
    assert isinstance(rec, DeleteMarker)
    assert rec.mod_time == 99 and rec.meta_sys == {"k": b"v"} and rec.written_by is None


def test_legacy_v1_object_is_kept_opaque() -> None:
    stamp = msgpack.ExtType(5, struct.pack(">qI", 1_600_000_000, 123))
    v1 = {
        "Version": "1.0.1",
        "Format": "xl",
        "Stat": {"Size": 2016, "ModTime": stamp},
        "DataDir": "legacy",
    }
    body = msgpack.packb({"Type": 3, "V1Obj": v1}, use_bin_type=True)
    rec = decode_version(body)
    assert isinstance(rec, LegacyObject)
    assert rec.mod_time == 1_600_000_000 * 10**9 + 123 and rec.version_id == bytes(16)
    assert rec.to_msgpack() == body
    # Inside a 1.0 journal, the header is derived (type 3, null id).
    journal = b"XL2 1   " + msgpack.packb({"Versions": [msgpack.unpackb(body)]}, use_bin_type=True)
    xl = XLMeta.load(journal)
    assert xl.headers[0].type == 3 and xl.headers[0].mod_time == rec.mod_time
    assert isinstance(xl.latest(), LegacyObject)
    assert XLMeta.load(xl.dump()).entries[0].body == body


def test_v11_envelope_has_no_crc() -> None:
    rec = DeleteMarker(version_id=uuid.uuid4().bytes, mod_time=1)
    journal = b"\x81\xa8Versions\x91" + rec.to_msgpack()
    inline = InlineData({"null": b"abc"}).to_bytes()
    data = b"XL2 \x01\x00\x01\x00\xc5" + struct.pack(">H", len(journal)) + journal + inline
    xl = XLMeta.load(data)
    assert xl.source_version == "1.1" and xl.stored_crc is None
    assert xl.latest() == rec and xl.inline_data("null") == b"abc"


def test_v12_natural_width_crc() -> None:
    rec = DeleteMarker(version_id=uuid.uuid4().bytes, mod_time=1)
    journal = b"\x81\xa8Versions\x91" + rec.to_msgpack()
    crc = xl_crc(journal)
    data = b"XL2 \x01\x00\x02\x00\xc4" + bytes([len(journal)]) + journal + msgpack.packb(crc)
    assert XLMeta.load(data).latest() == rec


def test_inline_section_round_trip_and_order() -> None:
    inline = InlineData()
    v1, v2 = uuid.uuid4(), uuid.uuid4()
    inline.set(v1, b"one")
    inline.set(None, b"")
    inline.set(v2, b"two" * 100)
    inline.set(str(v1), b"uno")  # replacing keeps the position
    raw = inline.to_bytes()
    assert raw[0] == 1 and raw[1] == 0x83
    parsed = InlineData.parse(raw)
    assert parsed.keys() == [str(v1), "null", str(v2)]
    assert parsed.get(v1) == b"uno" and parsed.get("null") == b"" and parsed.to_bytes() == raw
    assert InlineData().to_bytes() == b"" and len(InlineData.parse(b"")) == 0
    assert parsed.remove(v2) and not parsed.remove(v2)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2022-10-27T15:40:53.195813291+08:00", "2022-10-27T07:40:53.195813291Z"),
        ("2022-10-27T07:40:53Z", "2022-10-27T07:40:53Z"),
        ("2022-10-27T07:40:53.100-01:30", "2022-10-27T09:10:53.1Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z"),
    ],
)
def test_rfc3339_nano(text: str, utc: str) -> None:
    ns = parse_rfc3339_nano(text)
    assert ns is not None and format_rfc3339_nano(ns) == utc


def test_rfc3339_rejects_garbage() -> None:
    assert parse_rfc3339_nano("yesterday") is None
    assert parse_rfc3339_nano("2022-13-01T00:00:00Z") is None


def test_version_id_spellings() -> None:
    u = uuid.uuid4()
    assert version_id_bytes(u) == version_id_bytes(str(u)) == version_id_bytes(u.bytes) == u.bytes
    assert version_id_bytes(None) == version_id_bytes("null") == version_id_bytes("") == bytes(16)
    with pytest.raises(ValueError):
        version_id_bytes(b"short")
