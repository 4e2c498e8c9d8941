"""A corpus of objects on a real server, ways to damage it on disk, and the proof.

``Corpus`` uploads objects of every shape through boto3 (inline, single-block,
multi-block, multipart, versioned with delete markers) and remembers each
version's SHA-256. ``damage`` breaks up to M drives' copies of an object the
way a failing disk would. ``read_back_without_any_m`` is the proof that heal
restored full redundancy: the server restarted once per choice of M drives
of every set, those drives replaced by plain files (so they cannot be read),
every version compared byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.storage.paths import encode_key
from tests.support.server import ACCESS_KEY, SECRET_KEY, LiteioServer

MIB = 1 << 20
PLAIN = "heal-plain"
VERSIONED = "heal-versioned"
SET_SIZE = 4
PARITY = 2
DRIVES = 8  # two sets of 2+2


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_of(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Obj:
    bucket: str
    key: str
    kind: str
    # (version id, sha256 or None for a delete marker), latest first
    versions: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.bucket}/{self.key}"


def start_server(root: Path, env: dict[str, str] | None = None) -> LiteioServer:
    """Two 2+2 sets; the scanner off unless ``env`` turns it on, so that what a heal
    reports is what the test damaged (the drive healer and MRF stay on)."""
    server = LiteioServer(root, drives=DRIVES,
                          env={"LITEIO_WORKERS": "1", "LITEIO_HEAL_SCAN": "off", **(env or {})},
                          extra_args=["--set-size", str(SET_SIZE), "--parity", str(PARITY)])
    server.start()
    return server


class Corpus:
    def __init__(self, server: LiteioServer) -> None:
        self.server = server
        self.client = server.boto3_client()
        self.objs: list[Obj] = []

    def put(self, obj: Obj, data: bytes) -> None:
        answer = self.client.put_object(Bucket=obj.bucket, Key=obj.key, Body=data)
        if obj.bucket != VERSIONED:
            obj.versions.clear()
        obj.versions.insert(0, (answer.get("VersionId", "null"), sha(data)))

    def delete(self, obj: Obj) -> None:
        answer = self.client.delete_object(Bucket=obj.bucket, Key=obj.key)
        if obj.bucket == VERSIONED:
            obj.versions.insert(0, (answer["VersionId"], None))
        else:
            obj.versions.clear()

    def multipart(self, obj: Obj, parts: list[bytes]) -> None:
        c = self.client
        upload = c.create_multipart_upload(Bucket=obj.bucket, Key=obj.key)["UploadId"]
        done = []
        for n, data in enumerate(parts, 1):
            etag = c.upload_part(Bucket=obj.bucket, Key=obj.key, UploadId=upload, PartNumber=n,
                                 Body=data)["ETag"]
            done.append({"PartNumber": n, "ETag": etag})
        answer = c.complete_multipart_upload(Bucket=obj.bucket, Key=obj.key, UploadId=upload,
                                             MultipartUpload={"Parts": done})
        obj.versions.insert(0, (answer.get("VersionId", "null"), sha(b"".join(parts))))

    def build(self, seed: int = 0) -> list[Obj]:
        """About 250 keys and 300 versions, some 60 MiB in all."""
        c = self.client
        c.create_bucket(Bucket=PLAIN)
        c.create_bucket(Bucket=VERSIONED)
        c.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        rng = random.Random(seed)
        shapes = ([("inline", 1, 100_000)] * 150 + [("single", 150_000, MIB)] * 50
                  + [("multi", 3 * MIB // 2, 4 * MIB)] * 6)
        jobs = []
        for i, (kind, lo, hi) in enumerate(shapes):
            obj = Obj(PLAIN, f"{kind}/{i:03d}" + ("/leaf" if i % 9 == 0 else ""), kind)
            jobs.append((obj, data_of(seed * 1000 + i, rng.randint(lo, hi))))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda job: self.put(*job), jobs))
        self.objs += [obj for obj, _ in jobs]
        for i in range(2):
            obj = Obj(PLAIN, f"multipart/{i}", "multipart")
            self.multipart(obj, [data_of(seed * 1000 + 500 + i, 5 * MIB),
                                 data_of(seed * 1000 + 600 + i, 700_000)])
            self.objs.append(obj)
        for i in range(30):
            obj = Obj(VERSIONED, f"doc/{i:02d}", "versioned")
            for v in range(1 + i % 3):
                self.put(obj, data_of(seed * 1000 + 700 + 10 * i + v, rng.randint(1, 400_000)))
            if i % 4 == 0:
                self.delete(obj)
                if i % 8 == 0:
                    self.put(obj, data_of(seed * 1000 + 999 - i, rng.randint(1, 200_000)))
            self.objs.append(obj)
        return self.objs

    # -- reading back ---------------------------------------------------------------

    def check_one(self, obj: Obj) -> list[str]:
        """What is wrong with one object as read through the server ([] when nothing)."""
        c, problems = self.client, []
        for n, (vid, digest) in enumerate(obj.versions):
            if digest is None:
                continue
            args: dict[str, Any] = {} if obj.bucket != VERSIONED else {"VersionId": vid}
            try:
                body = c.get_object(Bucket=obj.bucket, Key=obj.key, **args)["Body"].read()
            except Exception as exc:  # noqa: BLE001 - reported by name below
                problems.append(f"{obj.name}@{vid}: {exc}")
                continue
            if sha(body) != digest:
                problems.append(f"{obj.name}@{vid}: {len(body)} bytes, wrong sha256")
            if n == 0 and obj.bucket == VERSIONED:
                latest = c.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
                if sha(latest) != digest:
                    problems.append(f"{obj.name}: latest is not {vid}")
        return problems

    def check(self, objs: list[Obj] | None = None) -> None:
        """Every version byte-identical; the versioned listing names exactly what was written."""
        objs = self.objs if objs is None else objs
        with ThreadPoolExecutor(8) as pool:
            problems = [p for found in pool.map(self.check_one, objs) for p in found]
        assert not problems, problems[:10]
        listed = set()
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=VERSIONED):
            listed |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
            listed |= {(v["Key"], v["VersionId"]) for v in page.get("DeleteMarkers", [])}
        want = {(o.key, vid) for o in objs if o.bucket == VERSIONED for vid, _ in o.versions}
        assert want <= listed, sorted(want - listed)[:10]


# -- on disk ----------------------------------------------------------------------------


def obj_dir(drive: Path, obj: Obj) -> Path:
    return drive / obj.bucket / encode_key(obj.key)


def holders(server: LiteioServer, obj: Obj) -> list[int]:
    """Drives (global indexes) that hold the object: the drives of its set."""
    found = [i for i, d in enumerate(server.drive_paths) if (obj_dir(d, obj) / "xl.meta").exists()]
    assert len(found) == SET_SIZE, (obj.name, found)
    return found


def part_files(drive: Path, obj: Obj) -> list[Path]:
    path = obj_dir(drive, obj) / "xl.meta"
    if not path.exists():
        return []
    out = []
    for entry in XLMeta.load(path.read_bytes()).entries:
        rec = entry.version
        if isinstance(rec, ObjectVersion):
            for number in rec.part_numbers:
                part = obj_dir(drive, obj) / rec.data_dir_text / f"part.{number}"
                if part.exists():
                    out.append(part)
    return out


def inline_streams(drive: Path, obj: Obj) -> list[tuple[str, bytes]]:
    path = obj_dir(drive, obj) / "xl.meta"
    if not path.exists():
        return []
    xl = XLMeta.load(path.read_bytes())
    out = []
    for entry in xl.entries:
        stream = xl.inline_data(entry.header.version_id)
        if stream is not None and len(stream) > 64:
            out.append((entry.header.version_id_text, stream))
    return out


def flip(path: Path, at: int) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x5A]))


def flip_inline(xl_path: Path, stream: bytes) -> None:
    """A byte of an inline shard, past the xl.meta CRC (which covers only the metadata)."""
    raw = xl_path.read_bytes()
    at = raw.find(stream)
    assert at > 0
    flip(xl_path, at + 32 + len(stream) // 3)


KINDS = ("no-shard", "truncate", "bitrot", "no-xl.meta")


def damage(drive: Path, obj: Obj, kind: str) -> bool:
    """Break one drive's copy of ``obj`` as ``kind`` says; whether anything changed."""
    parts = part_files(drive, obj)
    if kind == "no-shard":
        for part in parts:
            part.unlink()
        return bool(parts)
    if kind == "truncate":
        for part in parts:
            os.truncate(part, part.stat().st_size * 2 // 3)
        return bool(parts)
    if kind == "bitrot":
        for part in parts:
            flip(part, part.stat().st_size * 2 // 3)
        streams = inline_streams(drive, obj)
        for _, stream in streams:
            flip_inline(obj_dir(drive, obj) / "xl.meta", stream)
        return bool(parts or streams)
    if kind == "no-xl.meta":
        (obj_dir(drive, obj) / "xl.meta").unlink()
        return True
    raise AssertionError(kind)


def victims(server: LiteioServer, obj: Obj, index: int, count: int = PARITY) -> list[int]:
    """``count`` drives of the object's set, a different choice for each index."""
    drives = holders(server, obj)
    combos = list(itertools.combinations(drives, count))
    return list(combos[index % len(combos)])


def empty_drive(root: Path, keep_format: bool = True) -> None:
    """Everything gone (but format.json when ``keep_format``)."""
    for entry in root.iterdir():
        if entry.name == ".minio.sys" and keep_format:
            for inner in entry.iterdir():
                if inner.name != "format.json":
                    shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
        else:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


# -- the operator's commands ------------------------------------------------------------


def admin(server: LiteioServer, *args: str, timeout: float = 300) -> tuple[int, list[dict[str, Any]]]:
    """``liteio admin ... --json``: (exit code, the NDJSON records printed)."""
    cmd = [sys.executable, "-m", "liteio", "admin", "--endpoint", server.endpoint,
           "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, *args, "--json"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, records


def heal(server: LiteioServer, *args: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """(exit code, summary, per-object records) of ``liteio admin heal``."""
    code, records = admin(server, "heal", *args)
    summaries = [r for r in records if r.get("type") == "summary"]
    assert len(summaries) == 1, records[-5:]
    return code, summaries[0], [r for r in records if r.get("type") == "object"]


# -- the proof --------------------------------------------------------------------------


@contextmanager
def drives_away(server: LiteioServer, gone: list[int]) -> Iterator[None]:
    """The server restarted with ``gone`` drives replaced by plain files (unreadable)."""
    server.stop()
    moved = []
    try:
        for i in gone:
            path = server.drive_paths[i]
            away = path.with_name(path.name + ".away")
            path.rename(away)
            path.write_bytes(b"not a drive")
            moved.append((path, away))
        server.start()
        yield
    finally:
        server.stop()
        for path, away in moved:
            path.unlink()
            away.rename(path)
        server.start()


def read_back_without_any_m(corpus: Corpus, objs: list[Obj] | None = None) -> None:
    """Every choice of M drives of each set away (rotated across sets), all read back."""
    combos = list(itertools.combinations(range(SET_SIZE), PARITY))
    sets = DRIVES // SET_SIZE
    for c in range(len(combos)):
        gone = [s * SET_SIZE + p for s in range(sets) for p in combos[(c + s) % len(combos)]]
        with drives_away(corpus.server, gone):
            corpus.client = corpus.server.boto3_client()
            corpus.check(objs)
    corpus.client = corpus.server.boto3_client()
