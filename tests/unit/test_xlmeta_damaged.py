"""Damaged xl.meta files raise clear XLMetaError subclasses, never msgpack/Key/IndexError."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liteio.meta import (
    XLMeta,
    XLMetaChecksumMismatch,
    XLMetaCorrupt,
    XLMetaError,
    XLMetaTruncated,
    XLMetaUnsupportedVersion,
)
from liteio.meta.bodydec import decode_version
from liteio.meta.envelope import build_envelope, metadata_span, parse_envelope, xl_crc
from liteio.meta.inline import InlineData

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "minio"


def read(rel: str) -> bytes:
    path = FIXTURES / rel
    if not path.exists():
        pytest.fail(f"fixture missing: {path}")
    return path.read_bytes()


SMALL = "rustfs/object_small_txt.xl.meta"  # 1.3, no inline data
VERSIONED = "rustfs/object_versioned_txt.xl.meta"


def reframe(content: bytes, inline: bytes = b"") -> bytes:
    """A 1.3 file around arbitrary content, with a correct CRC."""
    return build_envelope(content, inline)


def load_all(data: bytes) -> None:
    """Load and touch every part, so lazily decoded damage surfaces too."""
    xl = XLMeta.load(data)
    xl.versions()
    xl.inline.sizes()


@pytest.mark.parametrize(
    "rel",
    [
        SMALL,
        VERSIONED,
        "minio-testdata/xl.meta",
        "minio-test-literals/xl.meta-v1.3-delmarker-tz.bin",
    ],
)
def test_every_truncation_is_reported_as_truncated(rel: str) -> None:
    data = read(rel)
    for cut in range(len(data)):
        with pytest.raises(XLMetaTruncated):
            load_all(data[:cut])


def test_truncated_message_names_the_problem() -> None:
    data = read(SMALL)
    with pytest.raises(XLMetaTruncated, match="claims 390 bytes but only 100"):
        XLMeta.load(data[:113])
    with pytest.raises(XLMetaTruncated, match="too short"):
        XLMeta.load(b"XL2 ")
    with pytest.raises(XLMetaTruncated, match="before the CRC"):
        XLMeta.load(data[:-5])


def test_truncated_inline_section_keeps_valid_prefix() -> None:
    with zipfile.ZipFile(FIXTURES / "minio-testdata/xl-meta-inline-notinline.zip") as zf:
        data = zf.read("disk1/testbucket/file/xl.meta")
    xl = XLMeta.load(data[:-10])  # metadata intact, shard cut short
    assert xl.inline.repaired and xl.inline_data("null") is None
    assert len(xl) == 1  # the version itself is still readable
    with pytest.raises(XLMetaTruncated):
        InlineData.parse(parse_envelope(data[:-10]).inline)


@pytest.mark.parametrize("magic", [b"XL1 ", b"xl2 ", b"\x00\x00\x00\x00", b"PK\x03\x04"])
def test_bad_magic(magic: bytes) -> None:
    data = magic + read(SMALL)[4:]
    with pytest.raises(XLMetaCorrupt, match="bad magic"):
        XLMeta.load(data)
    with pytest.raises(XLMetaCorrupt, match="bad magic"):
        XLMeta.load(magic[:3])  # even a short file is recognisably not ours


def test_crc_mismatch_flipped_crc() -> None:
    data = bytearray(read(SMALL))
    data[-1] ^= 0x01
    with pytest.raises(XLMetaChecksumMismatch, match="CRC mismatch: stored 0x") as info:
        XLMeta.load(bytes(data))
    assert info.value.stored == info.value.computed ^ 0x01
    # The skip switch is for forensics only.
    assert len(XLMeta.load(bytes(data), verify_crc=False)) == 1


def test_crc_mismatch_flipped_metadata_byte() -> None:
    data = bytearray(read(VERSIONED))
    data[100] ^= 0x40
    with pytest.raises(XLMetaChecksumMismatch):
        XLMeta.load(bytes(data))


def test_crc_mismatch_in_v12_file() -> None:
    data = bytearray(read("minio-testdata/xl.meta-v1.2.decompressed"))
    data[5000] ^= 0xFF
    with pytest.raises(XLMetaChecksumMismatch):
        XLMeta.load(bytes(data))


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (b"\x02\x00\x03\x00", "major version 2.3"),
        (b"\x00\x01\x00\x00", "major version 256.0"),
        (b"\x01\x00\x04\x00", "minor version 1.4"),
        (b"2   ", "major version"),
    ],
)
def test_unknown_envelope_version(version: bytes, message: str) -> None:
    data = b"XL2 " + version + read(SMALL)[8:]
    with pytest.raises(XLMetaUnsupportedVersion, match=message):
        XLMeta.load(data)


def test_unknown_header_and_meta_versions() -> None:
    content = bytes(parse_envelope(read(SMALL)).metadata)
    with pytest.raises(XLMetaUnsupportedVersion, match="header version 4"):
        XLMeta.load(reframe(b"\x04" + content[1:]))
    with pytest.raises(XLMetaUnsupportedVersion, match="meta version 4"):
        XLMeta.load(reframe(content[:1] + b"\x04" + content[2:]))


def test_not_a_bin_after_the_version() -> None:
    data = read(SMALL)
    with pytest.raises(XLMetaCorrupt, match="expected a msgpack bin at offset 8"):
        XLMeta.load(data[:8] + b"\x93" + data[9:])


def test_bad_crc_encoding() -> None:
    data = read(SMALL)
    with pytest.raises(XLMetaCorrupt, match="uint CRC"):
        XLMeta.load(data[:-5] + b"\xa4abcd")


def test_count_larger_than_entries() -> None:
    content = bytes(parse_envelope(read(SMALL)).metadata)
    assert content[2] == 1
    with pytest.raises(XLMetaTruncated, match="version 1 header"):
        XLMeta.load(reframe(content[:2] + b"\x02" + content[3:]))


def test_header_body_type_mismatch_surfaces_on_decode() -> None:
    xl = XLMeta.load(read(VERSIONED))
    entry = xl.entries[1]
    entry.header.type = 2  # pretend the object is a delete marker
    entry._record = None
    with pytest.raises(XLMetaCorrupt, match="does not match its header"):
        _ = entry.version


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xc1",
        b"\x03\x03",
        b"\x03\x03\x01\xc4\x01\x90\xc4\x01\x80",
        b"\x03\x03\x01\xa3abc\xc4\x00",
        b"\x03\x03\xff",
        b"\x03\x03\xd0\xff",
        b"\x03\x03\x01\xc4\x02\x97\x00\xc4\x00",
    ],
)
def test_garbage_metadata_with_valid_crc(content: bytes) -> None:
    with pytest.raises(XLMetaError):
        load_all(reframe(content))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x80",
        b"\x81\xa4Type\x01",
        b"\x82\xa4Type\x01\xa6DelObj\x80",
        b"\x82\xa4Type\x09\xa5V2Obj\x80",
        b"\x82\xa4Type\x01\xa5V2Obj\x81\xa2ID\xc4\x01x",
        b"\x82\xa4Type\x01\xa5V2Obj\x81\xa4EcM\xa1x",
        b"\x92\x01\x02",
        b"\xc1\xc1",
    ],
)
def test_garbage_version_bodies(body: bytes) -> None:
    with pytest.raises(XLMetaCorrupt):
        decode_version(body)


def test_inline_section_with_unknown_version() -> None:
    with pytest.raises(XLMetaCorrupt, match="unknown section version 2"):
        InlineData.parse(b"\x02\x80")
    repaired = InlineData.parse(b"\x02\x80", repair=True)
    assert repaired.repaired and len(repaired) == 0


def test_metadata_span_rejects_garbage() -> None:
    with pytest.raises(XLMetaCorrupt):
        metadata_span(b"NOPE\x01\x00\x03\x00\xc6\x00\x00\x00\x00")
    with pytest.raises(XLMetaCorrupt):
        metadata_span(b"NO")
    assert metadata_span(b"XL2 ") == 9
    assert metadata_span(read("minio-testdata/xl.meta")) is None  # 1.0: no framing


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_metadata_content(content: bytes) -> None:
    try:
        load_all(reframe(b"\x03\x03" + content))
    except XLMetaError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_whole_file(data: bytes) -> None:
    try:
        load_all(b"XL2 " + data)
    except XLMetaError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_fixture(data: st.DataObject) -> None:
    original = bytearray(read(VERSIONED))
    content_start, content_len = 13, struct.unpack(">I", original[9:13])[0]
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(content_start, content_start + content_len - 1))
        original[pos] = data.draw(st.integers(0, 255))
    content = bytes(original[content_start : content_start + content_len])
    try:
        load_all(reframe(content))
    except XLMetaError:
        pass
    assert xl_crc(content) == xl_crc(bytes(parse_envelope(reframe(content)).metadata))
