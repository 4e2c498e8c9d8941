"""Concurrency: many tasks putting, getting and deleting the same few keys at once.

Every body carries its own checksum and names its key, so a read that mixed
two versions (or returned the wrong key's bytes) is caught. The only error a
caller may see is ObjectNotFound. Afterwards the store must hold, for every
key, exactly what the last committed mutation left, and list exactly that;
the commit order is taken from drive 0, where commits of one key happen under
the key's write lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.meta.versions import ObjectVersion
from liteio.object import errors as oerr
from liteio.object.listing import list_objects
from liteio.storage.api import CommitResult, StorageAPI
from liteio.storage.faulty import FaultyDrive
from tests.support.store import Store, body_of

MIB = 1 << 20
BUCKET = "bkt"
KEYS = ["hot", "dir/warm", "dir/sub/cool"]
TASKS = 12
OPS_PER_TASK = 20
MAGIC = b"LIOC"
HEADER = struct.Struct(">4sHHI")  # magic, key index, task, sequence


def make_body(rng: random.Random, key: int, task: int, seq: int) -> bytes:
    """magic + who wrote it + random bytes + MD5 of everything before it."""
    if rng.random() < 0.5:
        size = rng.randrange(0, 96 << 10)  # inline
    else:
        size = rng.randrange(MIB + 1, 2 * MIB + 4096)  # two or three blocks
    head = HEADER.pack(MAGIC, key, task, seq) + rng.randbytes(size)
    return head + hashlib.md5(head).digest()


def check_body(data: bytes, key: int) -> None:
    assert len(data) >= HEADER.size + 16, f"torn read: {len(data)} bytes"
    assert hashlib.md5(data[:-16]).digest() == data[-16:], "torn read: checksum mismatch"
    magic, got_key, _, _ = HEADER.unpack_from(data)
    assert (magic, got_key) == (MAGIC, key), "another key's bytes"


class RecordingDrive(FaultyDrive):
    """Records, in order, each successful mutation: (path, etag or None for a delete)."""

    def __init__(self, inner: StorageAPI) -> None:
        super().__init__(inner)
        self.log: list[tuple[str, str | None]] = []

    async def commit_version(self, volume: str, path: str, version: ObjectVersion,
                             inline: bytes | None, staged_data_dir: tuple[str, str] | None
                             ) -> CommitResult:
        result = await super().commit_version(volume, path, version, inline, staged_data_dir)
        if volume == BUCKET:
            self.log.append((path, (version.meta_usr or {})["etag"]))
        return result

    async def delete_version(self, volume: str, path: str, version_id: bytes) -> CommitResult:
        result = await super().delete_version(volume, path, version_id)
        if volume == BUCKET:
            self.log.append((path, None))
        return result


@pytest.fixture(params=[(4, 2), (6, 2)], ids=["2+2", "4+2"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    drives, parity = request.param
    s = Store(tmp_path, drives, parity,
              wrap=lambda i, d: RecordingDrive(d) if i == 0 else d)
    s.run(s.layer.make_bucket(BUCKET))
    yield s
    s.close()


def test_mixed_puts_gets_deletes_on_few_keys(store: Store) -> None:
    layer = store.layer
    written: dict[str, set[str]] = defaultdict(set)  # key -> MD5s of every body put
    unexpected: list[BaseException] = []
    counts: dict[str, int] = defaultdict(int)

    async def read(key: str) -> None:
        try:
            reader = await layer.open_object(BUCKET, key)
            # Stream in pieces, yielding to the others between them.
            chunks = []
            async for chunk in reader.stream():
                chunks.append(chunk)
                await asyncio.sleep(0)
        except oerr.ObjectNotFound:
            counts["get-missing"] += 1
            return
        data = b"".join(chunks)
        check_body(data, KEYS.index(key))
        assert hashlib.md5(data).hexdigest() in written[key], "a body nobody wrote"
        assert reader.info.etag == hashlib.md5(data).hexdigest() and reader.info.size == len(data)
        counts["get"] += 1

    async def worker(task: int) -> None:
        rng = random.Random(1000 + task)
        for seq in range(OPS_PER_TASK):
            key = rng.choice(KEYS)
            op = rng.random()
            try:
                if op < 0.45:
                    data = make_body(rng, KEYS.index(key), task, seq)
                    # Known before the put starts: a reader may see it before the put returns.
                    written[key].add(hashlib.md5(data).hexdigest())
                    info = await layer.put_object(BUCKET, key, body_of(data), len(data))
                    assert info.etag == hashlib.md5(data).hexdigest()
                    counts["put"] += 1
                elif op < 0.9:
                    await read(key)
                else:
                    await layer.delete_object(BUCKET, key)
                    counts["delete"] += 1
            except oerr.ObjectNotFound:
                counts["missing"] += 1
            except BaseException as exc:  # noqa: BLE001 - every other outcome is a failure
                unexpected.append(exc)

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(worker(t) for t in range(TASKS))), 60)

    store.run(main())
    assert not unexpected, [repr(e) for e in unexpected[:5]]
    assert counts["put"] > 50 and counts["get"] > 50 and counts["delete"] > 5, dict(counts)

    # The final state: the last mutation drive 0 committed for each key.
    drive0 = store.layer.sets[0].drives[0]
    assert isinstance(drive0, RecordingDrive)
    final: dict[str, str | None] = {}
    for path, etag in drive0.log:
        final[path] = etag
    expected = {k: final[k] for k in KEYS if final.get(k) is not None}
    for key in KEYS:
        if key in expected:
            data = store.get(BUCKET, key)
            check_body(data, KEYS.index(key))
            assert hashlib.md5(data).hexdigest() == expected[key]
        else:
            with pytest.raises(oerr.ObjectNotFound):
                store.get(BUCKET, key)
    listing = store.run(list_objects(store.layer.sets, BUCKET))
    assert {o.key: o.etag for o in listing.objects} == expected
    # Nothing staged is left behind, and no data dir but the live ones.
    for p in store.paths:
        assert list((p / ".minio.sys" / "tmp").iterdir()) == []
        for key in KEYS:
            obj = p / BUCKET / key
            if key not in expected:
                assert not (obj / "xl.meta").exists()
                continue
            dirs = [d for d in obj.iterdir() if d.is_dir()]
            assert len(dirs) <= 1, dirs


@pytest.mark.parametrize("size", [50_000, 3 * MIB + 1], ids=["inline", "multi-block"])
@pytest.mark.parametrize("then", ["overwrite", "delete"])
def test_opened_reader_survives_overwrite_and_delete(store: Store, size: int, then: str) -> None:
    """A GET resolves under the read lock and streams after it (the S3 layer sends
    headers in between): a commit in that gap must not tear or fail the stream."""
    layer = store.layer
    old = make_body(random.Random(size), 0, 0, 0)[:HEADER.size] + bytes(size)
    old = old + hashlib.md5(old).digest()
    new = make_body(random.Random(size + 1), 0, 0, 1)
    store.put(BUCKET, "k", old)

    async def scenario() -> bytes:
        reader = await layer.open_object(BUCKET, "k")
        if then == "overwrite":
            await layer.put_object(BUCKET, "k", body_of(new), len(new))
        else:
            await layer.delete_object(BUCKET, "k")
        return b"".join([chunk async for chunk in reader.stream()])

    assert store.run(scenario()) == old
    assert store.layer.sets[0].heal_hints == []  # nobody is blamed for the race
    if then == "overwrite":
        assert store.get(BUCKET, "k") == new
    else:
        with pytest.raises(oerr.ObjectNotFound):
            store.get(BUCKET, "k")
    # A reader that is never streamed gives its files back on close.
    store.put(BUCKET, "k", new)

    async def unused() -> None:
        reader = await layer.open_object(BUCKET, "k")
        await reader.close()

    store.run(unused())
