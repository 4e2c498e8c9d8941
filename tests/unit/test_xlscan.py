"""The compiled xl.meta scan and canonical body decoder against the Python paths.

Every fixture and a range of files we write must load to the same ``XLMeta``
(headers, bodies, decoded versions, inline data, CRC, fixes) with the fast
paths on and off; damaged files must give the same result or the same error.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import msgpack
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liteio._ext import xlscan
from liteio.meta import (
    FLAG_INLINE_DATA,
    DeleteMarker,
    ObjectVersion,
    Version,
    VersionHeader,
    XLMeta,
    XLMetaError,
    bodydec,
    xlmeta,
)
from liteio.meta.bodydec import decode_version
from liteio.meta.envelope import build_envelope, parse_envelope, xl_crc
from liteio.meta.versions import FREE_VERSION_KEY, INLINE_DATA_KEY
from tests.fixtures import MINIO_FIXTURES, minio_fixture

# --- switching between the paths -----------------------------------------------------


@contextmanager
def fast_paths(enabled: bool) -> Iterator[None]:
    """Both fast paths on or off (a context manager, so it works inside @given)."""
    before = xlmeta.FAST_SCAN, bodydec.FAST_BODY
    xlmeta.FAST_SCAN = bodydec.FAST_BODY = enabled
    try:
        yield
    finally:
        xlmeta.FAST_SCAN, bodydec.FAST_BODY = before


def outcome(fn: Callable[[], Any]) -> Any:
    """The value, or the error's type and message (what "identical errors" means).

    Any exception, not just XLMetaError: e.g. ``dump`` of a uint64 ModTime that
    only the Python path reads fails the same way whichever path loaded it.
    """
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 -- compared, not swallowed
        return ("error", type(exc).__name__, str(exc))


def snapshot(xl: XLMeta) -> dict[str, Any]:
    """Everything observable about a loaded file, decoding every lazy part."""
    inline = outcome(lambda: (xl.inline.to_bytes(), xl.inline.repaired, xl.inline.sizes()))
    return {
        "source": (
            xl.source_version,
            xl.source_header_version,
            xl.source_meta_version,
            xl.stored_crc,
        ),
        "fixes": list(xl.load_fixes),
        "headers": [dataclasses.astuple(h) for h in xl.headers],
        "bodies": [e.body for e in xl.entries],
        "versions": [outcome(lambda e=e: e.version) for e in xl.entries],
        "inline": inline,
        "dump": outcome(xl.dump) if inline[0] == "ok" else None,
    }


def load_outcome(data: bytes, fast: bool, **kwargs: Any) -> Any:
    with fast_paths(fast):
        return outcome(lambda: snapshot(XLMeta.load(data, **kwargs)))


def assert_paths_agree(data: bytes, **kwargs: Any) -> Any:
    fast = load_outcome(data, True, **kwargs)
    slow = load_outcome(data, False, **kwargs)
    assert fast == slow
    return fast


def decode_outcome(body: bytes, fast: bool) -> Any:
    with fast_paths(fast):
        return outcome(lambda: decode_version(body))


# --- the corpus: every fixture xl.meta and files we write ----------------------------


def is_xl_meta(name: str) -> bool:
    return (
        name in ("xl.meta", "xl-many-parts.meta")
        or name.startswith("xl.meta-")  # the 1.2 journal, zstd and plain; the test literals
        or name.endswith(".xl.meta")  # rustfs
    )


@cache
def fixture_files() -> dict[str, bytes]:
    minio_fixture("FIXTURES.md")  # a clear failure when shared/ is missing
    found: dict[str, bytes] = {}
    for path in sorted(MINIO_FIXTURES.rglob("*")):
        name = path.name
        rel = str(path.relative_to(MINIO_FIXTURES))
        if is_xl_meta(name):
            found[rel] = path.read_bytes()
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    if member.endswith("xl.meta"):
                        found[f"{rel}:{member}"] = zf.read(member)
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(minio_fixture("minio-testdata", "metacache.s2.decoded").read_bytes())
    assert unpacker.unpack() == 1
    while unpacker.unpack() is True:
        name, meta = unpacker.unpack(), unpacker.unpack()
        if meta:
            found[f"metacache:{name}"] = meta
    return found


def vid(n: int) -> bytes:
    return n.to_bytes(2, "big") * 8


def an_object(n: int, **fields: Any) -> ObjectVersion:
    values: dict[str, Any] = {
        "version_id": vid(n),
        "data_dir": vid(1000 + n),
        "ec_m": 2,
        "ec_n": 2,
        "ec_index": 1 + n % 4,
        "ec_dist": [1, 2, 3, 4],
        "part_numbers": [1],
        "part_sizes": [1234],
        "part_actual_sizes": [1234],
        "size": 1234,
        "mod_time": 1_700_000_000_000_000_000 + n,
        "meta_sys": {},
        "meta_usr": {"etag": f"{n:032x}", "content-type": "text/plain"},
    }
    values.update(fields)
    return ObjectVersion(**values)


def a_delete_marker(n: int, **fields: Any) -> DeleteMarker:
    values: dict[str, Any] = {"version_id": vid(n), "mod_time": 1_700_000_000_000_000_000 + n}
    values.update(fields)
    return DeleteMarker(**values)


def written(*versions: Version, inline: bool = False, **dump: int) -> bytes:
    xl = XLMeta()
    for rec in versions:
        data = os.urandom(40) if inline and isinstance(rec, ObjectVersion) else None
        xl.add_version(rec, inline_data=data)
    return xl.dump(**dump)


@cache
def written_files() -> dict[str, bytes]:
    inline_sys = {INLINE_DATA_KEY: b"true"}
    many = [an_object(i) if i % 3 else a_delete_marker(i) for i in range(10)]
    return {
        "empty": written(),
        "one inline object": written(an_object(1, meta_sys=inline_sys), inline=True),
        "one part-file object": written(an_object(2)),
        "null version": written(an_object(0, version_id=bytes(16)), inline=True),
        "delete marker": written(a_delete_marker(3)),
        "delete marker, nil MetaSys": written(a_delete_marker(3, meta_sys=None)),
        "free version": written(a_delete_marker(4, meta_sys={FREE_VERSION_KEY: b""})),
        "ten versions": written(*many, inline=True),
        "multipart": written(
            an_object(
                5,
                part_numbers=[1, 2, 3],
                part_sizes=[5 << 20, 5 << 20, 17],
                part_actual_sizes=None,
                part_etags=["a", "b", "c"],
                part_indices=[b"", b"\x01\x02", b""],
                size=(10 << 20) + 17,
            )
        ),
        "wide values": written(
            an_object(
                6,
                ec_block_size=1 << 40,
                size=(1 << 63) - 1,
                mod_time=-(1 << 62),
                ec_dist=[200, 255, 1, 300],
                meta_usr={"x-amz-meta-\udcff": "caf\u00e9 \udc80", "k" * 40: "v" * 300},
                meta_sys={"X-Minio-Internal-actual-size": b"\xff" * 3},
                written_by=(1 << 64) - 1,
            )
        ),
        "no v": written(an_object(7, written_by=None), a_delete_marker(8, written_by=None)),
        "same mtime": written(
            an_object(9, mod_time=5), a_delete_marker(10, mod_time=5), an_object(11, mod_time=5)
        ),
        "header v2": written(*many[:4], header_version=2),
        "meta v1": written(*many[:4], meta_version=1),
        "meta v2 with PartIdx": written(
            an_object(12, part_indices=[b"idx"], written_by=1701471618), meta_version=2
        ),
    }


def corpus() -> dict[str, bytes]:
    return {**fixture_files(), **{f"written:{k}": v for k, v in written_files().items()}}


@cache
def small_indexed_files() -> list[bytes]:
    """1.3 files small enough to mutate many times in a property test."""
    return [d for d in corpus().values() if len(d) < 4096 and d[4:8] == b"\x01\x00\x03\x00"]


# --- xxh64 -------------------------------------------------------------------------------


def test_xxh64_matches_reference_on_every_size_to_300() -> None:
    data = os.urandom(300)
    for n in range(301):
        assert xlscan.xxh64(data[:n]) == xxhash.xxh64_intdigest(data[:n]), n
        assert xlscan.xxh64(data[:n], n * 7919) == xxhash.xxh64_intdigest(data[:n], n * 7919)


@given(st.binary(max_size=5000), st.integers(0, (1 << 64) - 1))
def test_xxh64_matches_reference(data: bytes, seed: int) -> None:
    assert xlscan.xxh64(data, seed) == xxhash.xxh64_intdigest(data, seed)
    assert xlscan.xxh64(memoryview(bytearray(data))) & 0xFFFFFFFF == xl_crc(data)


def test_xxh64_big_buffer() -> None:
    data = os.urandom(3 << 20)  # over the size where the GIL is released
    assert xlscan.xxh64(data) == xxhash.xxh64_intdigest(data)


# --- the corpus through both paths -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(corpus()))
def test_fast_and_slow_paths_agree(name: str) -> None:
    data = corpus()[name]
    result = assert_paths_agree(data)
    assert result[0] == "ok" or name.endswith(".zst"), result


@pytest.mark.parametrize(
    "kwargs",
    [
        {"verify_crc": False},
        {"apply_fixes": False},
        {"inline": False},
    ],
)
def test_load_options_agree(kwargs: dict[str, bool]) -> None:
    for data in corpus().values():
        assert_paths_agree(data, **kwargs)


def test_metadata_prefix_agrees() -> None:
    """A metadata-only read (inline=False on the file cut after the CRC)."""
    for data in corpus().values():
        if data[4:8] != b"\x01\x00\x03\x00":
            continue
        cut = parse_envelope(data).inline_offset
        assert_paths_agree(data[:cut], inline=False)


def test_scan_takes_every_indexed_file() -> None:
    """The fast path is not silently declining: every 1.3 file with headerVersion
    2 or 3 is scanned, and the result matches what the Python path reads."""
    scanned = 0
    for name, data in corpus().items():
        if data[:8] != b"XL2 \x01\x00\x03\x00":
            assert xlscan.scan(data) is None, name
            continue
        found = xlscan.scan(data)
        assert found is not None, name
        header_version, meta_version, crc, inline_at, _, versions = found
        env = parse_envelope(data)
        assert (crc, inline_at) == (env.crc, env.inline_offset)
        with fast_paths(False):
            slow = XLMeta.load(data, apply_fixes=False)
        assert (header_version, meta_version) == (
            slow.source_header_version,
            slow.source_meta_version,
        )
        assert len(versions) == len(slow)
        scanned += 1
    assert scanned >= 20


def test_fixes_still_apply_on_the_fast_path() -> None:
    for rel, fixed in [
        ("minio-test-literals/xl.meta-v1.3-compressed-index.bin", "8e5a6406"),
        ("minio-test-literals/xl.meta-v1.3-delmarker-tz.bin", "1e5fba4a"),
    ]:
        data = minio_fixture(*rel.split("/")).read_bytes()
        assert xlscan.scan(data) is not None
        with fast_paths(True):
            xl = XLMeta.load(data)
        assert [f.signature.hex() for f in xl.load_fixes] == [fixed]


def test_unsorted_versions_are_sorted() -> None:
    """A 1.3 file stored out of order (not what writers do) loads sorted."""
    xl = XLMeta.load(written_files()["ten versions"])
    xl.entries.reverse()
    data = xl.dump()
    found = xlscan.scan(data)
    assert found is not None and found[4] is False
    result = assert_paths_agree(data)
    headers = result[1]["headers"]
    assert headers == sorted(headers, key=lambda h: VersionHeader(*h).sort_key())


def test_ties_keep_stored_order() -> None:
    """Identical sort keys: a stable sort keeps the stored order, so may the scan."""
    xl = XLMeta.load(written_files()["one part-file object"])
    twin = xlmeta.VersionEntry(dataclasses.replace(xl.entries[0].header), b"\x80", None)
    xl.entries.append(twin)
    data = xl.dump()
    found = xlscan.scan(data)
    assert found is not None and found[4] is True
    assert assert_paths_agree(data)[1]["bodies"][1] == b"\x80"


# --- unusual but valid encodings ------------------------------------------------------------


def indexed(
    headers: list[bytes], bodies: list[bytes], head: bytes = b"\x03\x03", inline: bytes = b""
) -> bytes:
    out = bytearray(head)
    out.append(len(headers))
    for header, body in zip(headers, bodies, strict=True):
        out += b"\xc4" + bytes([len(header)]) + header
        out += b"\xc5" + len(body).to_bytes(2, "big") + body
    return build_envelope(bytes(out), inline)


def header_bytes(*fields: bytes, array: bytes | None = None) -> bytes:
    return (array if array is not None else bytes([0x90 | len(fields)])) + b"".join(fields)


BODY = an_object(1).to_msgpack()
ID = b"\xc4\x10" + vid(1)
MTIME = b"\xd3" + (1_700_000_000_000_000_001).to_bytes(8, "big")
SIG = b"\xc4\x04" + bytes(4)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\x02"), True),
        # Any integer width, signed or not, as msgpack-python reads them.
        (
            header_bytes(
                ID,
                MTIME,
                SIG,
                b"\xcd\x00\x01",
                b"\xd0\x02",
                b"\xcf" + bytes(7) + b"\x02",
                b"\xd3" + bytes(7) + b"\x02",
            ),
            True,
        ),
        (
            header_bytes(
                b"\xc5\x00\x10" + vid(1),
                MTIME,
                b"\xc6\x00\x00\x00\x04" + bytes(4),
                b"\x01",
                b"\x02",
                b"\x02",
                b"\x02",
            ),
            True,
        ),
        (header_bytes(ID, b"\xe0", SIG, b"\x01", b"\x02", b"\x02", b"\x02"), True),
        (
            header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\x02", array=b"\xdc\x00\x07"),
            True,
        ),
        # A uint64 ModTime beyond int64: valid, left to the Python path.
        (header_bytes(ID, b"\xcf" + b"\xff" * 8, SIG, b"\x01", b"\x02", b"\x02", b"\x02"), False),
        # Damage: each must be declined and then reported by the Python path.
        (header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\xcd\x01\x00"), False),
        (header_bytes(ID, MTIME, SIG, b"\x04", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, SIG, b"\x00", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, SIG, b"\xff", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, SIG, b"\xc3", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, b"\xcb" + bytes(8), SIG, b"\x01", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(b"\xa4abcd", MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, b"\xc4\x03abc", b"\x01", b"\x02", b"\x02", b"\x02"), False),
        (header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\x02") + b"\x00", False),
    ],
)
def test_header_encodings(header: bytes, accepted: bool) -> None:
    data = indexed([header], [BODY])
    assert (xlscan.scan(data) is not None) == accepted
    assert_paths_agree(data)


@pytest.mark.parametrize(
    ("head", "accepted"),
    [
        (b"\x03\x03", True),
        (b"\x02\x00", False),  # headerVersion 2 wants arrays of 5: these 7s are damage
        (b"\xcc\x03\xd1\x00\x03", True),
        (b"\x01\x03", False),  # headerVersion 1: the Python path only
        (b"\x04\x03", False),
        (b"\x03\x04", False),
        (b"\xff\x03", False),
        (b"\xc0\x03", False),
    ],
)
def test_version_numbers(head: bytes, accepted: bool) -> None:
    header = header_bytes(ID, MTIME, SIG, b"\x01", b"\x02", b"\x02", b"\x02")
    data = indexed([header], [BODY], head=head)
    result = assert_paths_agree(data)
    assert (xlscan.scan(data) is not None) == accepted
    assert result[0] == "ok" or not accepted


def test_envelope_variants() -> None:
    base = written_files()["one inline object"]
    content = bytes(parse_envelope(base).metadata)
    inline = bytes(parse_envelope(base).inline)
    crc = xl_crc(content)
    n = len(content)
    for bin_header in (b"\xc5" + n.to_bytes(2, "big"), b"\xc6" + n.to_bytes(4, "big")):
        for crc_bytes in (b"\xce" + crc.to_bytes(4, "big"), b"\xcf" + crc.to_bytes(8, "big")):
            data = b"XL2 \x01\x00\x03\x00" + bin_header + content + crc_bytes + inline
            assert xlscan.scan(data) is not None
            assert assert_paths_agree(data)[0] == "ok"
    # A CRC with bits above 32 never matches; a signed CRC is not a uint.
    for crc_bytes in (
        b"\xcf" + (crc | 1 << 40).to_bytes(8, "big"),
        b"\xd2" + crc.to_bytes(4, "big"),
    ):
        data = base[:8] + b"\xc6" + n.to_bytes(4, "big") + content + crc_bytes
        assert xlscan.scan(data) is None and assert_paths_agree(data)[0] == "error"
        # Unchecked, the wide CRC is just a stored value; the signed one stays invalid.
        unchecked = assert_paths_agree(data, verify_crc=False)
        assert (xlscan.scan(data, False) is not None) == (crc_bytes[0] == 0xCF)
        assert unchecked[0] == ("ok" if crc_bytes[0] == 0xCF else "error")


def test_trailing_bytes_inside_the_metadata_are_ignored() -> None:
    content = bytes(parse_envelope(written_files()["one part-file object"]).metadata)
    data = build_envelope(content + b"\xc1garbage", b"")
    assert xlscan.scan(data) is not None
    assert assert_paths_agree(data)[0] == "ok"


# --- damage: never a crash, and the same answer as the Python path ---------------------------


def mutate(data: bytes, draw: Any) -> bytes:
    kind = draw(st.sampled_from(["cut", "flip", "flip+crc", "splice+crc"]))
    if kind == "cut":
        return data[: draw(st.integers(0, len(data)))]
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(buf) - 1))
        buf[at] ^= draw(st.integers(1, 255))
    if kind == "flip":
        return bytes(buf)
    # Re-frame so the CRC matches and the damage reaches the metadata parser.
    env = parse_envelope(data)
    start = env.inline_offset - len(env.metadata) - 5
    content = bytearray(env.metadata)
    if kind == "splice+crc":
        at = draw(st.integers(0, len(content)))
        content[at:at] = draw(st.binary(min_size=1, max_size=8))
    else:
        content = buf[start : start + len(content)]
    return build_envelope(bytes(content), bytes(env.inline))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_files_agree(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(small_indexed_files()))
    damaged = mutate(base, data.draw)
    found = xlscan.scan(damaged)
    assert found is None or isinstance(found, tuple)
    assert_paths_agree(damaged)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_scan_never_crashes_on_garbage_metadata(content: bytes, verify: bool) -> None:
    data = build_envelope(content, b"")
    assert xlscan.scan(data, verify) is None or load_outcome(data, False)[0] == "ok"
    assert xlscan.scan(content) is None
    assert_paths_agree(data)


# --- bodies ---------------------------------------------------------------------------------


@cache
def corpus_bodies() -> list[bytes]:
    bodies = [
        minio_fixture("minio-test-literals", name).read_bytes()
        for name in ("version-body-object-inline.msgp", "version-body-delete-marker.msgp")
    ]
    for name, data in corpus().items():
        if "xl.meta-v1.2" in name or "many-parts" in name:
            continue  # hundreds of the same shape, or huge
        with fast_paths(False):
            try:
                xl = XLMeta.load(data, apply_fixes=False)
            except XLMetaError:
                continue
        bodies += [e.body for e in xl.entries]
    many_parts = XLMeta.load(minio_fixture("minio-testdata", "xl-many-parts.meta").read_bytes())
    bodies.append(many_parts.entries[0].body)
    return bodies


def unpacked(body: bytes) -> Any:
    return msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape", strict_map_key=False)


def test_record_fields_are_in_decode_body_order() -> None:
    """``decode_body`` returns constructor arguments by position."""
    assert [f.name for f in dataclasses.fields(ObjectVersion)][:19] == [
        "version_id", "data_dir", "ec_algo", "ec_m", "ec_n", "ec_block_size", "ec_index",
        "ec_dist", "csum_algo", "part_numbers", "part_etags", "part_sizes",
        "part_actual_sizes", "part_indices", "size", "mod_time", "meta_sys", "meta_usr",
        "written_by",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(DeleteMarker)][:4] == [
        "version_id", "mod_time", "meta_sys", "written_by",
    ]  # fmt: skip


def test_corpus_bodies_agree() -> None:
    canonical = 0
    for body in corpus_bodies():
        fast, slow = decode_outcome(body, True), decode_outcome(body, False)
        assert fast == slow
        # Dataclass equality ignores nothing: extras must be None on both sides.
        rec = fast[1]
        if xlscan.decode_body(body) is not None:
            canonical += 1
            assert rec.extras is None and rec.body_extras is None
        # The dict-based canonical tier (journals) agrees too.
        doc = unpacked(body)
        quick = bodydec._canonical(doc)
        assert quick is None or quick == bodydec._from_document(doc) == rec
    assert canonical >= 20


def test_known_non_canonical_bodies_fall_back() -> None:
    rec = an_object(1)
    body = rec.to_msgpack()
    reordered = unpacked(body)
    v2 = reordered["V2Obj"]
    reordered["V2Obj"] = {"DDir": v2.pop("DDir"), **v2}
    cases = [
        body + b"\x00",  # trailing byte: the reader ignores it
        msgpack.packb(reordered),  # key order: kept in extras
        body.replace(b"\xa9PartETags\xc0", b"\xa9PartETags\x91\xc4\x01a"),  # bin -> str
        body.replace(b"\xa6EcDist\x94\x01\x02\x03\x04", b"\xa6EcDist\x94\x01\x02\x03\xff"),
    ]
    for case in cases:
        assert xlscan.decode_body(case) is None
        assert decode_outcome(case, True) == decode_outcome(case, False)


ints64 = st.integers(-(1 << 63), (1 << 63) - 1)
uints64 = st.integers(0, (1 << 64) - 1)
text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from("\udc80\udcff"))
small = st.integers(0, 4)


@st.composite
def object_versions(draw: Any) -> ObjectVersion:
    parts = draw(small)
    return ObjectVersion(
        version_id=draw(st.binary(min_size=16, max_size=16)),
        data_dir=draw(st.binary(min_size=16, max_size=16)),
        ec_algo=draw(uints64),
        ec_m=draw(ints64),
        ec_n=draw(ints64),
        ec_block_size=draw(ints64),
        ec_index=draw(ints64),
        ec_dist=draw(st.lists(uints64, max_size=16)),
        csum_algo=draw(uints64),
        part_numbers=draw(st.lists(ints64, min_size=parts, max_size=parts)),
        part_etags=draw(st.none() | st.lists(text, max_size=parts)),
        part_sizes=draw(st.lists(ints64, max_size=parts)),
        part_actual_sizes=draw(st.none() | st.lists(ints64, max_size=parts)),
        part_indices=draw(st.none() | st.lists(st.binary(max_size=20), max_size=parts)),
        size=draw(ints64),
        mod_time=draw(ints64),
        meta_sys=draw(st.none() | st.dictionaries(text, st.binary(max_size=40), max_size=4)),
        meta_usr=draw(st.none() | st.dictionaries(text, text, max_size=4)),
        written_by=draw(st.none() | uints64),
    )


delete_markers = st.builds(
    DeleteMarker,
    version_id=st.binary(min_size=16, max_size=16),
    mod_time=ints64,
    meta_sys=st.none() | st.dictionaries(text, st.binary(max_size=40), max_size=4),
    written_by=st.none() | uints64,
)


@settings(max_examples=300, deadline=None)
@given(object_versions() | delete_markers)
def test_generated_records_decode_identically(rec: ObjectVersion | DeleteMarker) -> None:
    body = rec.to_msgpack()
    assert xlscan.decode_body(body) is not None
    assert decode_outcome(body, True) == decode_outcome(body, False) == ("ok", rec)
    assert bodydec._canonical(unpacked(body)) == rec


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_damaged_bodies_agree(data: st.DataObject) -> None:
    body = bytearray(data.draw(st.sampled_from(corpus_bodies()[:40])))
    kind = data.draw(st.sampled_from(["cut", "flip", "splice"]))
    if kind == "cut":
        body = body[: data.draw(st.integers(0, len(body)))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 3))):
            body[data.draw(st.integers(0, len(body) - 1))] ^= data.draw(st.integers(1, 255))
    else:
        at = data.draw(st.integers(0, len(body)))
        body[at:at] = data.draw(st.binary(min_size=1, max_size=6))
    body_bytes = bytes(body)
    found = xlscan.decode_body(body_bytes)
    assert found is None or isinstance(found, tuple)
    assert decode_outcome(body_bytes, True) == decode_outcome(body_bytes, False)
    try:
        doc = unpacked(body_bytes)
    except (ValueError, TypeError, msgpack.UnpackException):
        return
    quick = bodydec._canonical(doc)
    if quick is not None:
        assert quick == bodydec._from_document(doc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_body_never_crashes_on_garbage(body: bytes) -> None:
    found = xlscan.decode_body(body)
    assert found is None or decode_outcome(body, False)[0] == "ok"


def test_inline_flag_survives() -> None:
    xl = XLMeta.load(written_files()["one inline object"])
    assert xl.entries[0].header.flags & FLAG_INLINE_DATA
    assert xl.inline_data(xl.entries[0].header.version_id) is not None
