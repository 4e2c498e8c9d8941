"""``liteio debug xl-meta`` run as a real subprocess (``python -m liteio``)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "minio"


def fixture(rel: str) -> Path:
    path = FIXTURES / rel
    if not path.exists():
        pytest.fail(f"fixture missing: {path}")
    return path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liteio", "debug", "xl-meta", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def documents(stdout: str) -> list[dict[str, Any]]:
    """Split the concatenated JSON documents the command prints."""
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while pos < len(stdout):
        if stdout[pos].isspace():
            pos += 1
            continue
        doc, pos = decoder.raw_decode(stdout, pos)
        docs.append(doc)
    return docs


def test_prints_rustfs_versions() -> None:
    result = run(fixture("rustfs/object_versioned_txt.xl.meta"))
    assert result.returncode == 0, result.stderr
    (doc,) = documents(result.stdout)
    assert doc["envelope"] == "1.3" and doc["header_version"] == 3 and doc["meta_version"] == 3
    assert doc["version_count"] == 3
    types = [v["type"] for v in doc["versions"]]
    assert types == ["delete-marker", "object", "object"]
    dm, newer = doc["versions"][0], doc["versions"][1]
    assert dm["mod_time"] == "2026-07-07T16:03:43.808839Z" and dm["signature"] == "39c29d59"
    assert newer["version_id"] == "065f0d6b-0c1b-4f94-bfe1-e98e8235fcf1"
    assert newer["size"] == 12 and newer["etag"] == "c629d13a601820165b7368731140a78c-1"
    assert newer["erasure"]["data"] == 1 and newer["erasure"]["distribution"] == [1]
    assert newer["checksums"][0]["algorithm"] == "CRC32C"
    assert newer["mod_time_ns"] == 1783440223634547000


def test_inline_and_load_fixes(tmp_path: Path) -> None:
    with zipfile.ZipFile(fixture("minio-testdata/xl-meta-inline-notinline.zip")) as zf:
        zf.extractall(tmp_path)
    obj_dir = tmp_path / "disk1" / "testbucket" / "file"  # a directory works too
    tz = fixture("minio-test-literals/xl.meta-v1.3-delmarker-tz.bin")
    result = run(obj_dir, tz)
    assert result.returncode == 0, result.stderr
    inline_doc, tz_doc = documents(result.stdout)
    version = inline_doc["versions"][0]
    assert version["version_id"] == "null" and version["signature"] == "feb0b1f4"
    assert version["inline"] == {"requested": True, "stored": True, "size": 66080}
    assert inline_doc["inline_data"]["entries"] == {"null": 66080}
    assert version["mod_time"] == "2022-05-19T12:00:58.145679Z"
    assert tz_doc["load_fixes"] == [
        {
            "version_id": "6a3351e3-4800-4eed-ab09-21eb835ac645",
            "fix": "replication timestamps to UTC",
            "stored_signature": "fe54bc2f",
            "signature": "1e5fba4a",
        }
    ]
    assert tz_doc["versions"][0]["meta_sys"]["x-minio-internal-replica-timestamp"] == (
        "2022-10-27T07:40:53.195813291Z"
    )


def test_damaged_file_fails_but_others_still_print(tmp_path: Path) -> None:
    good = fixture("minio-testdata/xl.meta")
    damaged = bytearray(fixture("rustfs/object_small_txt.xl.meta").read_bytes())
    damaged[-2] ^= 0xFF
    bad = tmp_path / "xl.meta"
    bad.write_bytes(bytes(damaged))
    cut = tmp_path / "cut.meta"
    cut.write_bytes(bytes(damaged[:50]))
    result = run("--compact", good, bad, cut, tmp_path / "missing.meta")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["envelope"] == "1.0"
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert str(bad) in errors[0] and "CRC mismatch" in errors[0]
    assert str(cut) in errors[1] and "claims" in errors[1]
    assert "missing.meta" in errors[2] and "No such file" in errors[2]
    assert "Traceback" not in result.stderr


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"this is not an xl.meta at all")
    result = run(path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().endswith("bad magic b'this', expected b'XL2 '")


def test_skip_crc_still_decodes(tmp_path: Path) -> None:
    damaged = bytearray(fixture("rustfs/object_small_txt.xl.meta").read_bytes())
    damaged[-1] ^= 0x01
    path = tmp_path / "xl.meta"
    path.write_bytes(bytes(damaged))
    result = run("--skip-crc", path)
    assert result.returncode == 0
    assert documents(result.stdout)[0]["versions"][0]["size"] == 19


def test_cicd_corpus_and_journal() -> None:
    metas = [fixture(f"minio-cicd-corpus/disk{i}/bucket/testobj/xl.meta") for i in (2, 3, 4, 5)]
    result = run(*metas, fixture("minio-testdata/xl.meta-v1.2.decompressed"))
    assert result.returncode == 0, result.stderr
    docs = documents(result.stdout)
    assert [d["version_count"] for d in docs] == [1, 1, 2, 1, 855]
    assert docs[2]["versions"][1]["erasure"]["index"] == 1
    assert docs[4]["crc"] == "d150159d" and docs[4]["header_version"] is None


def test_debug_without_subcommand_prints_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "liteio", "debug"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2 and "xl-meta" in result.stderr
