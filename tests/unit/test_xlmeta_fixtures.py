"""xl.meta against MinIO-written fixtures: every expected value in FIXTURES.md."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import msgpack
import pytest

from liteio.meta import (
    FLAG_INLINE_DATA,
    FLAG_USES_DATA_DIR,
    TYPE_DELETE_MARKER,
    TYPE_OBJECT,
    DeleteMarker,
    ObjectVersion,
    XLMeta,
    header_of,
    signature_of,
)
from liteio.meta.bodydec import decode_version
from liteio.meta.checksums import CHECKSUM_KEY, parse_checksum_blob
from liteio.meta.envelope import parse_envelope, xl_crc
from liteio.meta.ids import format_rfc3339_nano, uuid_str

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "minio"


def fixture(rel: str) -> Path:
    path = FIXTURES / rel
    if not path.exists():
        pytest.fail(f"fixture missing: {path} (the shared MinIO fixtures must be present)")
    return path


def read(rel: str) -> bytes:
    return fixture(rel).read_bytes()


def zip_member(rel: str, member: str) -> bytes:
    with zipfile.ZipFile(fixture(rel)) as zf:
        return zf.read(member)


def obj(xl: XLMeta, i: int = 0) -> ObjectVersion:
    rec = xl.entries[i].version
    assert isinstance(rec, ObjectVersion)
    return rec


def test_fixture_directory_present() -> None:
    assert FIXTURES.is_dir(), f"missing {FIXTURES}"
    assert (FIXTURES / "FIXTURES.md").is_file()


# --- minio-testdata/xl.meta (envelope 1.0) --------------------------------------


def test_v10_envelope_single_object() -> None:
    data = read("minio-testdata/xl.meta")
    assert len(data) == 303 and data[4:8] == b"1   "
    xl = XLMeta.load(data)
    assert xl.source_version == "1.0" and xl.stored_crc is None
    assert len(xl) == 1 and len(xl.inline) == 0
    rec = obj(xl)
    assert rec.version_id_text == "null"
    assert rec.data_dir_text == "70869277-e3b9-41e9-a6c8-0c193adb5f9a"
    assert (rec.ec_algo, rec.ec_m, rec.ec_n, rec.ec_block_size, rec.ec_index) == (
        1,
        2,
        2,
        10485760,
        3,
    )
    assert rec.ec_dist == [3, 4, 1, 2] and rec.csum_algo == 1
    assert rec.part_numbers == [1] and rec.part_etags == [""]
    assert rec.part_sizes == [6482] and rec.part_actual_sizes == [6482] and rec.size == 6482
    assert rec.mod_time == 1610300046404396813
    assert format_rfc3339_nano(rec.mod_time) == "2021-01-10T17:34:06.404396813Z"
    assert rec.meta_sys == {}
    assert rec.meta_usr == {
        "etag": "eb460a70e9e7eb0f36b2e28512318bb0",
        "content-type": "application/json",
    }
    assert rec.written_by is None
    assert xl.entries[0].header.signature.hex() == "c0e4d94c"
    # The journal holds the body at bytes 19..302; re-encoding reproduces them.
    assert rec.to_msgpack() == data[19:303]


# --- the 855-version 1.2 journal ------------------------------------------------------


@pytest.fixture(scope="module")
def journal_855() -> bytes:
    return read("minio-testdata/xl.meta-v1.2.decompressed")


def test_v12_855_envelope(journal_855: bytes) -> None:
    data = journal_855
    assert len(data) == 283036
    assert data[8] == 0xC6 and int.from_bytes(data[9:13], "big") == 283018
    assert data[13 + 283018 :] == bytes.fromhex("ced150159d")
    env = parse_envelope(data)
    assert env.version == "1.2" and env.crc == 0xD150159D == xl_crc(env.metadata)
    assert len(env.inline) == 0


def test_v12_855_versions(journal_855: bytes) -> None:
    xl = XLMeta.load(journal_855)
    assert len(xl) == 855
    ids = set()
    for entry in xl.entries:
        rec = entry.version
        assert isinstance(rec, ObjectVersion)
        assert entry.header.type == TYPE_OBJECT
        assert (rec.size, rec.ec_m, rec.ec_n, rec.ec_index) == (256, 4, 4, 7)
        assert rec.ec_dist == [7, 8, 1, 2, 3, 4, 5, 6] and rec.ec_block_size == 1048576
        assert rec.part_etags == [""]
        assert rec.meta_sys == {"x-minio-internal-inline-data": b"true"}
        assert rec.meta_usr is not None
        assert rec.meta_usr["content-type"] == "application/octet-stream" and rec.etag
        assert entry.header.flags == FLAG_USES_DATA_DIR | FLAG_INLINE_DATA
        # Journals store no headers: ours are derived from the bodies.
        assert header_of(rec) == entry.header
        ids.add(rec.version_id)
    assert len(ids) == 855 and bytes(16) not in ids
    keys = [e.header.sort_key() for e in xl.entries]
    assert keys == sorted(keys)
    latest = obj(xl)
    assert latest.version_id_text == "dbaf9ae8-dae0-40a6-80f2-1c39e807382c"
    assert format_rfc3339_nano(latest.mod_time) == "2021-10-29T12:25:44.746799Z"
    assert latest.etag == "beeb220fa9de6166bd1ff723f5b1f19f"
    assert xl.entries[0].header.signature.hex() == "ea497827"
    oldest = obj(xl, -1)
    assert oldest.version_id_text == "7ce92ef0-77fb-45df-bf1e-23ec6f05605c"
    assert format_rfc3339_nano(oldest.mod_time) == "2021-10-29T12:24:52.5643415Z"


def test_v12_855_stored_oldest_first(journal_855: bytes) -> None:
    journal = msgpack.unpackb(parse_envelope(journal_855).metadata, raw=False)
    first, last = journal["Versions"][0]["V2Obj"], journal["Versions"][-1]["V2Obj"]
    assert uuid_str(first["ID"]) == "7ce92ef0-77fb-45df-bf1e-23ec6f05605c"
    assert uuid_str(last["ID"]) == "dbaf9ae8-dae0-40a6-80f2-1c39e807382c"


def test_v12_855_reencode_round_trip(journal_855: bytes) -> None:
    xl = XLMeta.load(journal_855)
    again = XLMeta.load(xl.dump())
    assert len(again) == 855
    assert again.headers == xl.headers
    assert [e.body for e in again.entries] == [e.body for e in xl.entries]
    for entry in again.entries:
        assert entry.header.ec_m == 4 and entry.header.ec_n == 4  # filled in for headerVersion 3


# --- xl-many-parts.meta -----------------------------------------------------------------

MANY_PARTS_VERSIONS = [
    ("8edd0b2c-0888-4a38-8184-9e213b6f92fb", "2023-08-17T18:22:28.383155612Z", "c5e2acc3"),
    ("4f693557-8303-4d71-af3d-eb134e3b774c", "2023-08-15T22:22:56.659901728Z", "b157a871"),
    ("c6b3d3bd-e250-4890-b498-d368d04ee176", "2023-08-15T21:51:49.505390708Z", "76bf5250"),
    ("beab44aa-1838-4c9c-9384-716a17038b32", "2023-08-14T19:15:32.341583542Z", "65484713"),
    ("5fd6b7b5-6a2f-48fc-9606-5bf669510e6f", "2023-08-14T10:05:42.893896977Z", "8ab9cfea"),
    ("98cd62bc-a496-41f6-b756-0c601afe5ea7", "2023-08-14T01:33:20.103589917Z", "8ace3108"),
    ("d2fb42c4-7498-4527-9189-62628a04af7a", "2023-08-11T17:10:54.709633294Z", "7aa880e0"),
]


def test_many_parts() -> None:
    data = read("minio-testdata/xl-many-parts.meta")
    assert len(data) == 828237 and int.from_bytes(data[9:13], "big") == 828219
    xl = XLMeta.load(data)
    assert (xl.source_version, xl.source_header_version, xl.source_meta_version) == ("1.3", 2, 2)
    assert xl.stored_crc == 0x856D15B1 and len(xl.inline) == 0
    got = [
        (e.header.version_id_text, format_rfc3339_nano(e.header.mod_time), e.header.signature.hex())
        for e in xl.entries
    ]
    assert got == MANY_PARTS_VERSIONS
    for i, entry in enumerate(xl.entries):
        assert entry.header.flags == FLAG_USES_DATA_DIR
        rec = obj(xl, i)
        assert (rec.ec_m, rec.ec_n, rec.ec_index) == (12, 4, 2)
        assert rec.ec_dist == list(range(2, 17)) + [1]
        assert rec.part_numbers == list(range(1, 9017))
        assert rec.part_sizes == [6294528] * 9015 + [2532941]
        assert rec.part_actual_sizes == [6291456] * 9015 + [2531693]
        assert rec.part_etags is None
        assert rec.size == 56747702861 and rec.actual_size == 56720007533
        assert rec.etag == "43bc26cf9d1b65d8830884adf6f47bba-9016"
        assert rec.meta_usr is not None and rec.meta_usr["content-type"] == "video/quicktime"
        assert rec.written_by == 1688015548
        assert rec.meta_sys is not None
        assert any("Server-Side-Encryption" in k for k in rec.meta_sys)
        assert any("replication" in k.lower() for k in rec.meta_sys)
        assert signature_of(rec) == entry.header.signature
        assert len(rec.parts) == 9016 and rec.parts[-1].size == 2532941


def test_many_parts_shallow_latest_decodes_one_body() -> None:
    xl = XLMeta.load(read("minio-testdata/xl-many-parts.meta"))
    assert not any(e.is_decoded for e in xl.entries)
    latest = xl.latest()
    assert latest is not None and latest.version_id_text == MANY_PARTS_VERSIONS[0][0]
    assert [e.is_decoded for e in xl.entries] == [True] + [False] * 6


# --- xl-meta-consist.zip ----------------------------------------------------------------

CONSIST_INDEX = {1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 1, 9: 2, 10: 3}


@pytest.mark.parametrize("member", range(1, 11))
def test_consist_members(member: int) -> None:
    data = zip_member("minio-testdata/xl-meta-consist.zip", f"{member}/xl.meta")
    xl = XLMeta.load(data)
    if member == 5:
        assert len(data) == 404
        assert (xl.source_version, xl.source_header_version, xl.source_meta_version) == (
            "1.3",
            2,
            1,
        )
    else:
        assert len(data) == 372 and xl.source_version == "1.2"
    rec = obj(xl)
    assert rec.version_id_text == "null"
    assert rec.data_dir_text == "d44ce3b0-ea38-45d2-9f88-94d91253e936"
    assert (rec.ec_m, rec.ec_n, rec.ec_index) == (6, 4, CONSIST_INDEX[member])
    assert rec.ec_dist == [4, 5, 6, 7, 8, 9, 10, 1, 2, 3]
    assert rec.size == 141250 and rec.part_sizes == [141250] and rec.part_actual_sizes == [141250]
    assert format_rfc3339_nano(rec.mod_time) == "2021-12-10T08:22:56.410705609Z"
    assert rec.meta_sys == {"X-Minio-Internal-actual-size": b"141250"}
    assert rec.meta_usr == {
        "etag": "51fe09d68bacc8c5a68ad24e4c037777-1",
        "content-type": "application/octet-stream",
    } or rec.meta_usr == {
        "content-type": "application/octet-stream",
        "etag": "51fe09d68bacc8c5a68ad24e4c037777-1",
    }
    assert rec.part_etags == (None if member == 5 else [""])
    # Same signature on all ten drives: EcIndex zeroed, [""] treated as nil.
    assert xl.entries[0].header.signature.hex() == "12ab49e5"
    assert signature_of(rec).hex() == "12ab49e5"


# --- xl-meta-inline-notinline.zip ----------------------------------------------------------

INLINE_ZIP = "minio-testdata/xl-meta-inline-notinline.zip"


@pytest.mark.parametrize(("disk", "index"), [("disk1", 2), ("disk2", 3)])
def test_inline_notinline_metadata(disk: str, index: int) -> None:
    xl = XLMeta.load(zip_member(INLINE_ZIP, f"{disk}/testbucket/file/xl.meta"))
    assert xl.source_version == "1.2"
    rec = obj(xl)
    assert rec.version_id_text == "null"
    assert rec.data_dir_text == "9f6c3be2-463f-4771-a6c7-1204baaa3ff2"
    assert (rec.ec_m, rec.ec_n, rec.ec_block_size, rec.ec_index) == (2, 2, 1048576, index)
    assert rec.ec_dist == [2, 3, 4, 1]
    assert rec.size == 132096 and rec.part_sizes == [132096] == rec.part_actual_sizes
    assert format_rfc3339_nano(rec.mod_time) == "2022-05-19T12:00:58.145679Z"
    assert rec.meta_sys == {"x-minio-internal-inline-data": b"true"} and rec.inline_flag
    assert rec.etag == "fffb6377948ebea75ad2b8058e849ef5"
    assert xl.entries[0].header.signature.hex() == "feb0b1f4"


def test_inline_notinline_shards() -> None:
    disk1 = XLMeta.load(zip_member(INLINE_ZIP, "disk1/testbucket/file/xl.meta"))
    assert len(zip_member(INLINE_ZIP, "disk1/testbucket/file/xl.meta")) == 66454
    assert disk1.inline.keys() == ["null"]
    shard = disk1.inline_data("null")
    assert shard is not None and len(shard) == 66080 == 32 + 66048
    assert shard[:32].hex() == "6d93a50bd71fded191d595492b9912423fb8d215788ff4b7b91740a69f149d34"
    assert disk1.inline_data(None) == shard  # None and "null" both mean the null version

    disk2_meta = zip_member(INLINE_ZIP, "disk2/testbucket/file/xl.meta")
    assert len(disk2_meta) == 362
    disk2 = XLMeta.load(disk2_meta)
    assert len(disk2.inline) == 0 and disk2.inline_data("null") is None  # flag is only a hint
    part = zip_member(
        INLINE_ZIP, "disk2/testbucket/file/9f6c3be2-463f-4771-a6c7-1204baaa3ff2/part.1"
    )
    assert len(part) == 66080
    assert part[:32].hex() == "12fba17f2da524ed1ab33f3499bf39b6bd865e983d00d9d13a0ac51efc81f312"


# --- minio-test-literals -----------------------------------------------------------------------


def test_compressed_index_before_and_after_fix() -> None:
    data = read("minio-test-literals/xl.meta-v1.3-compressed-index.bin")
    assert len(data) == 572
    raw = XLMeta.load(data, apply_fixes=False)
    assert (raw.source_header_version, raw.source_meta_version) == (3, 2)
    header = raw.entries[0].header
    assert header.signature.hex() == "a1fc1784" and (header.ec_n, header.ec_m) == (8, 8)
    rec = obj(raw)
    assert rec.version_id_text == "null" and rec.written_by == 1717666602
    assert rec.data_dir_text == "54f2285a-a192-45d5-a169-fef11d4baf6c"
    assert rec.ec_dist == list(range(1, 17)) and rec.ec_index == 1
    assert rec.part_numbers == [1, 2] and rec.part_sizes == [1497130, 441791]
    assert rec.part_actual_sizes == [5413867, 1677364]
    assert rec.part_indices is not None and [len(i) for i in rec.part_indices] == [90, 0]
    assert rec.size == 1938921
    assert format_rfc3339_nano(rec.mod_time) == "2025-01-15T18:00:25.787275921Z"
    assert rec.meta_sys == {
        "X-Minio-Internal-actual-size": b"7091231",
        "X-Minio-Internal-compression": b"klauspost/compress/s2",
    }
    assert rec.meta_usr == {
        "content-type": "text/csv",
        "etag": "13bf20544ec7efcf178badf67873c886-2",
    }
    assert signature_of(rec).hex() == "a1fc1784"

    fixed = XLMeta.load(data)
    assert fixed.entries[0].header.signature == bytes.fromhex("8e5a6406")
    assert obj(fixed).part_indices is None and b"PartIdx" not in fixed.entries[0].body
    assert [(f.stored_signature.hex(), f.signature.hex()) for f in fixed.load_fixes] == [
        ("a1fc1784", "8e5a6406")
    ]
    # Fixed once, never again: the rewritten file loads with no further fix.
    assert XLMeta.load(fixed.dump()).load_fixes == []


def test_delete_marker_timezone_fix() -> None:
    data = read("minio-test-literals/xl.meta-v1.3-delmarker-tz.bin")
    assert len(data) == 1018
    raw = XLMeta.load(data, apply_fixes=False)
    assert (raw.source_header_version, raw.source_meta_version) == (2, 1)
    assert [e.header.signature.hex() for e in raw.entries] == ["fe54bc2f", "ea497827", "91d9ee2e"]
    dm = raw.entries[0].version
    assert isinstance(dm, DeleteMarker) and dm.written_by == 0
    assert dm.version_id_text == "6a3351e3-4800-4eed-ab09-21eb835ac645"
    assert format_rfc3339_nano(dm.mod_time) == "2022-10-27T10:53:38.3350907Z"
    assert dm.meta_sys is not None
    local = b"2022-10-27T15:40:53.195813291+08:00"
    assert dm.meta_sys["x-minio-internal-replication-timestamp"] == local
    assert dm.meta_sys["x-minio-internal-replica-timestamp"] == local

    xl = XLMeta.load(data)
    headers = xl.headers
    assert [h.version_id_text for h in headers] == [
        "6a3351e3-4800-4eed-ab09-21eb835ac645",
        "dbaf9ae8-dae0-40a6-80f2-1c39e807382c",
        "e6b4a8e0-c63d-407a-8761-f24341dfcb93",
    ]
    assert [h.signature.hex() for h in headers] == ["1e5fba4a", "ea497827", "91d9ee2e"]
    assert [h.type for h in headers] == [TYPE_DELETE_MARKER, TYPE_OBJECT, TYPE_OBJECT]
    assert [h.flags for h in headers[1:]] == [6, 6]
    fixed_dm = xl.entries[0].version
    assert isinstance(fixed_dm, DeleteMarker) and fixed_dm.meta_sys is not None
    utc = b"2022-10-27T07:40:53.195813291Z"
    assert fixed_dm.meta_sys["x-minio-internal-replication-timestamp"] == utc
    assert fixed_dm.meta_sys["x-minio-internal-replica-timestamp"] == utc
    third = obj(xl, 2)
    assert format_rfc3339_nano(third.mod_time) == "2021-10-29T12:25:44.6319726Z"
    assert third.etag == "6d11a451b0b245e2a45e4d16fc39bbaa"
    assert len(xl.inline) == 0  # objects claim inline data, the section is empty
    assert xl.latest() is fixed_dm


def test_version_body_literals() -> None:
    dm_body = read("minio-test-literals/version-body-delete-marker.msgp")
    assert len(dm_body) == 60
    dm = DeleteMarker.from_msgpack(dm_body)
    assert dm.version_id_text == "afc0611a-63e0-403b-8078-bf21b9111a2b"
    assert format_rfc3339_nano(dm.mod_time) == "2022-03-27T05:40:36.271878663Z"
    assert dm.meta_sys == {}
    assert signature_of(dm).hex() == "4ffe317b"
    assert dm.to_msgpack() == dm_body

    obj_body = read("minio-test-literals/version-body-object-inline.msgp")
    assert len(obj_body) == 340
    rec = ObjectVersion.from_msgpack(obj_body)
    assert rec.version_id_text == "12468eb5-e602-4ab5-81de-7aa9a5220a4e"
    assert rec.data_dir_text == "0ef1f5d2-2794-48f9-812d-b29f0a9de555"
    assert (rec.ec_m, rec.ec_n, rec.ec_index) == (12, 4, 5)
    assert rec.ec_dist == list(range(5, 17)) + [1, 2, 3, 4]
    assert rec.size == 303 and rec.inline_flag
    assert format_rfc3339_nano(rec.mod_time) == "2022-03-27T05:35:22.820280431Z"
    assert rec.etag == "ea210162eeb4adc31ff984cb744d6af6"
    assert signature_of(rec).hex() == "ac150d34"
    assert rec.to_msgpack() == obj_body
    assert decode_version(obj_body) == rec


# --- rustfs captures of a 2025 MinIO ---------------------------------------------------------


def test_rustfs_small_txt() -> None:
    data = read("rustfs/object_small_txt.xl.meta")
    assert len(data) == 408
    xl = XLMeta.load(data)
    assert (xl.source_header_version, xl.source_meta_version) == (3, 3)
    assert len(xl) == 1
    header = xl.entries[0].header
    assert (header.ec_n, header.ec_m, header.flags) == (0, 1, FLAG_USES_DATA_DIR)
    assert header.signature.hex() == "7761ed83"
    rec = xl.latest()
    assert isinstance(rec, ObjectVersion)
    assert rec.version_id_text == "746dde29-b592-43ef-ac7e-37d408079143"
    assert format_rfc3339_nano(rec.mod_time) == "2026-07-07T16:03:43.473265Z"
    assert rec.written_by == 1753286042
    assert (rec.ec_m, rec.ec_n, rec.ec_index, rec.ec_dist) == (1, 0, 1, [1])
    assert rec.size == 19 and rec.part_etags is None
    assert rec.meta_usr == {
        "content-type": "text/plain",
        "etag": "a9b8c09f13f33f570d02bd4db1fb5d97-1",
    }
    blob = rec.meta_sys_get(CHECKSUM_KEY)
    assert blob == bytes.fromhex("d0012cd2c3a001f50b8e4b")
    (crc,) = parse_checksum_blob(blob)
    assert (crc.algorithm, crc.type_bits, crc.value.hex()) == ("CRC32C", 208, "2cd2c3a0")
    assert crc.part_count == 1 and [p.hex() for p in crc.part_values] == ["f50b8e4b"]
    assert len(xl.inline) == 0  # multipart uploads are never inlined


def test_rustfs_versioned_txt() -> None:
    xl = XLMeta.load(read("rustfs/object_versioned_txt.xl.meta"))
    assert len(xl) == 3
    got = [
        (
            e.header.type,
            e.header.version_id_text,
            format_rfc3339_nano(e.header.mod_time),
            e.header.signature.hex(),
        )
        for e in xl.entries
    ]
    assert got == [
        (
            TYPE_DELETE_MARKER,
            "6178c538-372e-4d93-a122-e55fc1bed128",
            "2026-07-07T16:03:43.808839Z",
            "39c29d59",
        ),
        (
            TYPE_OBJECT,
            "065f0d6b-0c1b-4f94-bfe1-e98e8235fcf1",
            "2026-07-07T16:03:43.634547Z",
            "9e93c2e7",
        ),
        (
            TYPE_OBJECT,
            "b12dfda0-210b-405b-89b1-eaafd1964008",
            "2026-07-07T16:03:43.558781Z",
            "fc20d11a",
        ),
    ]
    assert sum(isinstance(v, DeleteMarker) for v in xl.versions()) == 1
    latest = xl.latest()
    assert isinstance(latest, DeleteMarker) and latest.meta_sys == {}
    assert (obj(xl, 1).size, obj(xl, 1).etag) == (12, "c629d13a601820165b7368731140a78c-1")
    assert (obj(xl, 2).size, obj(xl, 2).etag) == (2, "90bbe0959052ebcaef0b08273fb510c7-1")


def test_rustfs_large_bin() -> None:
    xl = XLMeta.load(read("rustfs/object_large_bin.xl.meta"))
    rec = obj(xl)
    assert rec.version_id_text == "727d23b4-0d29-44e9-8e80-d34405582863"
    assert rec.size == 300000 and rec.part_sizes == [300000]
    assert rec.etag == "12cee8ab04937dc3326fcd2acc58bbe5-1"
    assert rec.meta_usr is not None and rec.meta_usr["content-type"] == "application/octet-stream"
    assert xl.entries[0].header.signature.hex() == "ad779329"


@pytest.mark.parametrize(
    "rel",
    [
        "rustfs/object_small_txt.xl.meta",
        "rustfs/object_versioned_txt.xl.meta",
        "rustfs/object_large_bin.xl.meta",
    ],
)
def test_rustfs_current_writer_round_trip_is_byte_identical(rel: str) -> None:
    # Written by MinIO's current writer (1.3, header 3, meta 3): our default
    # dump must reproduce the file exactly.
    data = read(rel)
    assert XLMeta.load(data).dump() == data


# --- cicd corpus: five drives, two versions -------------------------------------------------

CICD = "minio-cicd-corpus"
V5005 = "50051050-62bc-4928-b0d3-65f4f828a0c7"
V163C = "163c7c9d-e856-41ed-93ae-2adccecc8211"
CICD_VERSIONS = {
    V5005: (
        "2022-03-20T15:15:01.539406531Z",
        "2b4f7e41-df82-4a5e-a3c1-8df87f83332f",
        "ddfa02ee",
        b"2022-03-20T15:15:01.584169645Z",
    ),
    V163C: (
        "2022-03-20T15:17:01.616139394Z",
        "a599bd9e-69fe-49b7-b6bf-fe53021039d5",
        "e5246fba",
        b"2022-03-20T15:17:01.730949636Z",
    ),
}
CICD_DRIVES = {
    "disk2": ([V5005], 4),
    "disk3": ([V5005], 5),
    "disk4": ([V163C, V5005], 1),
    "disk5": ([V163C], 2),
}


def cicd_meta(disk: str) -> Path:
    return FIXTURES / CICD / disk / "bucket" / "testobj" / "xl.meta"


def test_cicd_disk1_has_no_metadata() -> None:
    fixture(f"{CICD}/disk1/bucket/testobj/2b4f7e41-df82-4a5e-a3c1-8df87f83332f/part.1")
    assert not cicd_meta("disk1").exists()


@pytest.mark.parametrize("disk", sorted(CICD_DRIVES))
def test_cicd_drive(disk: str) -> None:
    data = fixture(f"{CICD}/{disk}/bucket/testobj/xl.meta").read_bytes()
    xl = XLMeta.load(data)
    assert (xl.source_version, xl.source_header_version, xl.source_meta_version) == ("1.3", 2, 1)
    ids, ec_index = CICD_DRIVES[disk]
    assert [e.header.version_id_text for e in xl.entries] == ids
    for entry in xl.entries:
        mtime, ddir, sig, replica_ts = CICD_VERSIONS[entry.header.version_id_text]
        rec = entry.version
        assert isinstance(rec, ObjectVersion)
        assert entry.header.flags == FLAG_USES_DATA_DIR
        assert entry.header.signature.hex() == sig == signature_of(rec).hex()
        assert format_rfc3339_nano(rec.mod_time) == mtime and rec.data_dir_text == ddir
        assert (rec.ec_m, rec.ec_n, rec.ec_block_size, rec.ec_index) == (3, 2, 1048576, ec_index)
        assert rec.ec_dist == [3, 4, 5, 1, 2] and rec.csum_algo == 1
        assert rec.part_numbers == [1] and rec.part_etags is None
        assert rec.part_sizes == [644520] == rec.part_actual_sizes and rec.size == 644520
        assert rec.meta_sys == {
            "x-minio-internal-replica-status": b"REPLICA",
            "x-minio-internal-replica-timestamp": replica_ts,
        }
        assert rec.meta_usr is not None and rec.etag == "9587ddd31fead633830366f45d221d56"
        assert rec.meta_usr["content-type"] == "application/octet-stream"
        assert rec.meta_usr["x-amz-storage-class"] == "STANDARD"
        assert rec.meta_usr["X-Amz-Replication-Status"] == "REPLICA"
        assert rec.written_by is None
        part = FIXTURES / CICD / disk / "bucket" / "testobj" / ddir / "part.1"
        assert part.stat().st_size == 214872
    # hv2/mv1 written back in its own versions is byte-identical.
    raw = XLMeta.load(data, apply_fixes=False)
    assert raw.dump(header_version=2, meta_version=1) == data


def test_cicd_quorum_picture() -> None:
    metas = {d: XLMeta.load(cicd_meta(d).read_bytes()) for d in CICD_DRIVES}
    holders: dict[str, list[str]] = {}
    for disk, xl in metas.items():
        for header in xl.headers:
            holders.setdefault(header.version_id_text, []).append(disk)
    assert sorted(holders[V5005]) == ["disk2", "disk3", "disk4"]  # read quorum (EcM 3) met
    assert sorted(holders[V163C]) == ["disk4", "disk5"]  # below quorum
    ref = metas["disk2"].entries[0].header
    assert all(m.find_entry(V5005).header.matches(ref) for d, m in metas.items() if d != "disk5")


# --- metacache sample: 100 objects in 1.0 envelopes -----------------------------------------


def test_metacache_objects() -> None:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(read("minio-testdata/metacache.s2.decoded"))
    assert unpacker.unpack() == 1
    dirs, objects = [], {}
    while unpacker.unpack() is True:
        name, meta = unpacker.unpack(), unpacker.unpack()
        if name.endswith("/"):
            assert meta == b""
            dirs.append(name)
        else:
            objects[name] = XLMeta.load(meta)
    assert len(dirs) == 9 and len(objects) == 100
    names = sorted([*dirs, *objects])
    assert names[0] == "src/compress/bzip2/" and names[-1] == "src/compress/zlib/writer_test.go"
    for xl in objects.values():
        assert xl.source_version == "1.0"
        rec = xl.latest()
        assert isinstance(rec, ObjectVersion)
        assert (rec.ec_m, rec.ec_n, rec.ec_block_size) == (2, 2, 10485760)
    bit_reader = objects["src/compress/bzip2/bit_reader.go"].latest()
    assert isinstance(bit_reader, ObjectVersion)
    assert bit_reader.size == 2054 and bit_reader.part_actual_sizes == [2022]
    assert bit_reader.ec_dist == [2, 3, 4, 1]


def test_fixture_checksums() -> None:
    # The parsed files are the ones SHA256SUMS vouches for (the .decompressed
    # copy stands in for the zstd original, which would need a zstd decoder).
    sums = {}
    for line in read("SHA256SUMS").decode().splitlines():
        digest, _, name = line.partition("  ")
        sums[name.removeprefix("./")] = digest
    for rel in (
        "minio-testdata/xl.meta-v1.2.decompressed",
        "minio-testdata/xl-many-parts.meta",
        "rustfs/object_small_txt.xl.meta",
    ):
        assert hashlib.sha256(read(rel)).hexdigest() == sums[rel]
