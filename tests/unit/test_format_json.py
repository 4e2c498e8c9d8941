"""format.json (MinIO erasure format v3) against MinIO's test literal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from liteio.meta import FormatErasureV3, FormatJSONError

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "minio"
LITERAL = FIXTURES / "minio-test-literals" / "format.json-v3-crcmod.json"


@pytest.fixture(scope="module")
def literal() -> bytes:
    if not LITERAL.is_file():
        pytest.fail(f"fixture missing: {LITERAL}")
    return LITERAL.read_bytes()


def test_literal_decodes(literal: bytes) -> None:
    assert len(literal) == 491
    fmt = FormatErasureV3.load(literal)
    assert fmt.version == "1" and fmt.format == "xl" and fmt.xl_version == "3"
    assert fmt.id == "592a41c2-b7cc-4130-b883-c4b5cb15965b"
    assert fmt.this == "da017d62-70e3-45f1-8a1a-587707e69ad1"
    assert fmt.distribution_algo == "CRCMOD"
    assert (fmt.set_count, fmt.drives_per_set) == (1, 8)
    assert fmt.drive_position() == (0, 3)  # 4th of the single set of 8
    assert fmt.sets[0][0] == "e07285a6-8c73-4962-89c6-047fb939f803"
    assert fmt.drive_position(str(uuid.uuid4())) is None


def test_literal_round_trips_byte_for_byte(literal: bytes) -> None:
    assert FormatErasureV3.load(literal).dump() == literal
    assert FormatErasureV3.load(literal.decode()).dump() == literal


def test_load_file(tmp_path: Path, literal: bytes) -> None:
    path = tmp_path / "format.json"
    path.write_bytes(literal)
    assert FormatErasureV3.load_file(path).this.startswith("da017d62")
    path.write_text("{")
    with pytest.raises(FormatJSONError, match=str(path)):
        FormatErasureV3.load_file(path)


def test_unknown_keys_survive(literal: bytes) -> None:
    doc = json.loads(literal)
    doc["info"] = {"x": 1}
    doc["xl"]["future"] = True
    fmt = FormatErasureV3.load(json.dumps(doc))
    assert fmt.extra == {"info": {"x": 1}} and fmt.xl_extra == {"future": True}
    assert json.loads(fmt.dump()) == doc


def test_new_layout_and_per_drive_copies() -> None:
    ref = FormatErasureV3.new(2, 4)
    assert ref.format == "xl" and ref.distribution_algo == "SIPMOD+PARITY" and ref.this == ""
    drives = [ref.for_drive(s, d) for s in range(2) for d in range(4)]
    assert len({d.this for d in drives}) == 8
    for copy in drives:
        again = FormatErasureV3.load(copy.dump())
        assert again == copy and again.id == ref.id and again.sets == ref.sets
    assert drives[5].drive_position() == (1, 1)
    single = FormatErasureV3.new(1, 1)
    assert single.format == "xl-single"
    with pytest.raises(ValueError):
        FormatErasureV3.new(0, 4)


def _mutate(literal: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    doc = json.loads(literal)
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version="2"), "unknown format version"),
        (lambda d: d.update(format="fs"), "unsupported backend format 'fs'"),
        (lambda d: d.update(id="nope"), "id 'nope' is not a UUID"),
        (lambda d: d.pop("xl"), 'missing "xl"'),
        (lambda d: d["xl"].update(version="2"), "erasure format version '2' is not supported"),
        (lambda d: d["xl"].update(this="x"), "xl.this 'x' is not a UUID"),
        (lambda d: d["xl"].update(sets=[]), "non-empty list"),
        (lambda d: d["xl"]["sets"].append([str(uuid.uuid4())]), "differ in size"),
        (lambda d: d["xl"]["sets"][0].__setitem__(2, 7), r"xl.sets\[0\]\[2\] must be a string"),
        (lambda d: d["xl"].update(distributionAlgo="RANDOM"), "unknown distributionAlgo"),
    ],
)
def test_invalid_documents(literal: bytes, change, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatJSONError, match=message):
        FormatErasureV3.load(_mutate(literal, change))


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"\xff\xfe", b"null"])
def test_not_a_format_document(data: bytes) -> None:
    with pytest.raises(FormatJSONError):
        FormatErasureV3.load(data)
