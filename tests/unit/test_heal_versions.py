"""heal_object and versions: drives that missed writes and deletes, dangling versions,
damage beyond M, leftover data dirs, dry runs, and the namespace lock."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.heal.results import META_MISSING, META_OUTDATED, HealResult
from liteio.meta.versions import DeleteMarker
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.storage.errors import FileCorrupt
from liteio.storage.faulty import Fault
from liteio.storage.local import LocalDrive
from tests.support.store import body_of
from tests.unit.test_heal_support import (
    BUCKET,
    LAYOUT_IDS,
    LAYOUTS,
    VBUCKET,
    HealStore,
    Obj,
    Version,
    build_corpus,
    data_of,
    flip,
    flip_inline,
    read_back_without_any_m,
    shards_of,
)


@pytest.fixture(params=LAYOUTS, ids=LAYOUT_IDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealStore]:
    s = HealStore(tmp_path, *request.param)
    yield s
    s.close()


def by_key(objs: list[Obj]) -> dict[str, Obj]:
    return {o.key: o for o in objs}


def test_drives_that_missed_writes_and_deletes_are_brought_in_line(store: HealStore) -> None:
    """N - W drives are away while objects are deleted, overwritten, created, versions
    removed and delete markers added; once back, heal makes them agree with the quorum
    (and nothing deleted comes back)."""
    s = store
    objs = build_corpus(s)
    o = by_key(objs)
    lagging = list(range(s.eset.write_quorum, s.n))
    for p in lagging:
        s.offline(p)
    s.delete_obj(o["single"])  # unversioned: gone
    s.put_obj(o["inline"], data_of(50, 70_000))  # overwritten
    fresh = Obj(BUCKET, "fresh", "multi")
    objs.append(fresh)
    s.put_obj(fresh, data_of(51, 1_500_000))  # created
    doc = o["doc"]
    v2 = doc.versions[2]
    assert v2.data is not None and len(v2.data) == 300_000
    s.run(s.layer.delete_object(VBUCKET, "doc", v2.version_id))  # a version removed for good
    doc.versions.remove(v2)
    s.put_obj(doc, data_of(52, 5_000))  # a new (inline) version
    s.delete_obj(o["gone"])  # another delete marker
    s.online_again()
    v2_dirs = {p: next(r.data_dir_text for vid, r in s.stored(p, doc) if vid == v2.version_id)
               for p in lagging}

    results = {obj.key: s.heal(obj) for obj in objs}
    for obj in objs:
        r = results[obj.key]
        assert r.fully_redundant and not r.failed, r.summary()
        assert r.versions == [v.version_id for v in obj.versions]
        for p in range(s.n):
            if p not in lagging:
                assert not r.drives[p].damaged, (obj.key, p)
        if obj.key in ("empty", "dir/folder/", "deep/key/multi", "multipart"):
            assert not r.needs_heal
    for p in lagging:
        single = results["single"]
        assert single.drives[p].stale_versions == ["null"]
        assert [(x.version_id, x.removable, x.removed) for x in single.dangling] == \
            [("null", True, True)]
        assert not (s.obj_dir(p, o["single"])).exists()  # no resurrection source left
        inline = results["inline"].drives[p]
        assert (inline.metadata, inline.missing_versions, inline.stale_versions) == \
            (META_OUTDATED, ["null"], ["null"])
        assert shards_of(results["inline"], p) == {("null", 1, "missing", True)}
        new = results["fresh"].drives[p]
        assert new.metadata == META_MISSING
        assert shards_of(results["fresh"], p) == {("null", 1, "missing", False)}
        d = results["doc"].drives[p]
        assert (d.missing_versions, d.stale_versions) == ([doc.versions[0].version_id],
                                                          [v2.version_id])
        assert shards_of(results["doc"], p) == {(doc.versions[0].version_id, 1, "missing", True)}
        assert d.stray_data_dirs == [v2_dirs[p]] and d.strays_removed
        assert not (s.obj_dir(p, doc) / v2_dirs[p]).exists()
        g = results["gone"].drives[p]
        assert (g.metadata, g.missing_versions) == (META_OUTDATED, [o["gone"].versions[0].version_id])
    read_back_without_any_m(s, objs)


def _strip_version(s: HealStore, obj: Obj, p: int, version_id: str) -> None:
    """What a put that died mid-commit leaves: the version never reached this drive."""
    path = s.obj_dir(p, obj) / "xl.meta"
    xl = XLMeta.load(path.read_bytes())
    ddir = next(r.data_dir_text for vid, r in s.stored(p, obj) if vid == version_id)
    xl.delete_version(version_id)
    path.write_bytes(xl.dump())
    for f in (s.obj_dir(p, obj) / ddir).iterdir():
        f.unlink()
    (s.obj_dir(p, obj) / ddir).rmdir()


def test_dangling_version_is_kept_until_the_quorum_proves_it_never_committed(
        store: HealStore) -> None:
    s = store
    k, w = s.eset.data, s.eset.write_quorum
    obj = Obj(VBUCKET, "half", "versioned")
    s.put_obj(obj, data_of(60, 300_000))
    s.put_obj(obj, data_of(61, 300_000))
    half = obj.versions.pop(0)
    holders = list(range(k - 1))  # too few for a read quorum
    for p in range(k - 1, s.n):
        _strip_version(s, obj, p, half.version_id)
    # Enough drives unreachable that the version *could* have reached a write quorum.
    away = list(range(s.n - (w - len(holders)), s.n))
    for p in away:
        s.offline(p)
    before = s.tree(range(s.n))
    r = s.heal(obj)
    assert r.versions == [obj.versions[0].version_id]
    assert [(x.version_id, x.holders, x.removable, x.removed) for x in r.dangling] == \
        [(half.version_id, holders, False, False)]
    assert not r.fully_redundant and not r.healed
    assert s.tree(range(s.n)) == before  # kept, on every drive that had it
    s.online_again()
    r = s.heal(obj)  # now every drive answered: fewer than W ever held it
    assert [(x.version_id, x.removable, x.removed) for x in r.dangling] == \
        [(half.version_id, True, True)]
    assert r.fully_redundant
    for p in holders:
        assert r.drives[p].stale_versions == [half.version_id]
        assert half.version_id not in [vid for vid, _ in s.stored(p, obj)]
        assert len(r.drives[p].stray_data_dirs) == 1 and r.drives[p].strays_removed
    read_back_without_any_m(s, [obj])


def test_damage_beyond_m_is_reported_and_left_alone(store: HealStore) -> None:
    """M+1 drives lost an object's shards: reported unrecoverable, nothing touched.
    M+1 drives lost its xl.meta but kept the shards: reported dangling, kept (not
    "never committed": the shards prove otherwise). Other objects heal as usual."""
    s = store
    objs = build_corpus(s)
    o = by_key(objs)
    lost, bare, fine = o["deep/key/multi"], o["single"], o["multipart"]
    for p in range(s.m + 1):
        for _, _, path in s.part_files(p, lost):
            path.unlink()
        (s.obj_dir(p, bare) / "xl.meta").unlink()
    for p in range(s.m):
        for _, _, path in s.part_files(p, fine):
            path.unlink()
    before = s.tree()
    r = s.heal(lost, deep=True)
    assert r.unrecoverable == ["null"] and r.failed and not r.fully_redundant
    assert sorted(r.damaged_drives) == list(range(s.m + 1))
    assert not r.healed
    r = s.heal(bare)
    assert r.versions == [] and not r.healed and not r.fully_redundant
    assert [(x.version_id, x.removable, x.removed, x.shard_holders) for x in r.dangling] == \
        [("null", False, False, list(range(s.m + 1)))]
    assert s.tree() == before
    with pytest.raises(oerr.InsufficientReadQuorum):
        s.get(BUCKET, lost.key)
    r = s.heal(fine)
    assert r.fully_redundant and r.healed
    read_back_without_any_m(s, [obj for obj in objs if obj not in (lost, bare)])


def test_unreferenced_data_dirs_are_swept_but_nested_keys_are_not(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    single = by_key(objs)["single"]
    nested = Obj(BUCKET, f"single/{uuid.uuid4()}", "single")  # a key that looks like a data dir
    s.put_obj(nested, data_of(70, 200_000))
    leftovers = {}
    for p in range(s.n):
        name = str(uuid.uuid4())
        (s.obj_dir(p, single) / name).mkdir()
        (s.obj_dir(p, single) / name / "part.1").write_bytes(b"left behind by a crash")
        leftovers[p] = name
    dry = s.heal(single, dry_run=True)
    assert all(dry.drives[p].stray_data_dirs == [leftovers[p]] for p in range(s.n))
    assert all((s.obj_dir(p, single) / leftovers[p]).exists() for p in range(s.n))
    r = s.heal(single)
    for p in range(s.n):
        assert r.drives[p].stray_data_dirs == [leftovers[p]] and r.drives[p].strays_removed
        assert not (s.obj_dir(p, single) / leftovers[p]).exists()
    assert r.fully_redundant
    read_back_without_any_m(s, [single, nested])


def test_dry_run_changes_nothing(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    combos = list(itertools.combinations(range(s.n), s.m))
    damaged = set()
    for i, obj in enumerate(objs):
        for j, p in enumerate(combos[i % len(combos)]):
            kind = (i + j) % 3
            if kind == 0:
                for _, _, path in s.part_files(p, obj):
                    path.unlink()
                    damaged.add(obj.key)
            elif kind == 1:
                (s.obj_dir(p, obj) / "xl.meta").unlink()
                damaged.add(obj.key)
            else:
                for _, _, path in s.part_files(p, obj):
                    flip(path, 100)
                    damaged.add(obj.key)
                for vid, stream in s.inline_versions(p, obj):
                    if len(stream) > 64:
                        flip_inline(s.obj_dir(p, obj) / "xl.meta", vid)
                        damaged.add(obj.key)
    assert len(damaged) >= len(objs) - 2  # the empty objects may have dodged
    before = s.tree()
    planned = {}
    for obj in objs:
        r = s.heal(obj, deep=True, dry_run=True)
        assert r.dry_run and not r.healed, obj.key
        assert r.needs_heal == (not r.fully_redundant) == (obj.key in damaged), obj.key
        assert all(not x.done for d in r.drives for x in d.shards)
        assert not any(d.metadata_written or d.strays_removed for d in r.drives)
        planned[obj.key] = {p: shards_of(r, p) for p in range(s.n)}, r.damaged_drives
    assert s.tree() == before
    for obj in objs:
        r = s.heal(obj, deep=True)
        assert r.healed == (obj.key in damaged) and r.fully_redundant
        assert ({p: {(v, n, why, inl) for v, n, why, inl in shards_of(r, p)}
                 for p in range(s.n)}, r.damaged_drives) == planned[obj.key], obj.key
    read_back_without_any_m(s, objs)


def test_heal_waits_for_a_put_committing_the_same_object(store: HealStore) -> None:
    """A heal started while a PUT of the object is committing does not read or write
    the object until the commit is over, then finds it complete."""
    s = store
    obj = Obj(BUCKET, "busy", "single")
    s.put_obj(obj, data_of(80, 700_000))
    new = data_of(81, 700_000)
    last = s.faulty(s.n - 1)
    hang = last.add(Fault("commit_version", action="hang"))

    async def race() -> object:
        loop = asyncio.get_running_loop()
        put = asyncio.ensure_future(s.layer.put_object(BUCKET, obj.key, body_of(new), len(new)))
        deadline = loop.time() + 10
        while last.hanging == 0:  # the put is inside its commit, holding the lock
            assert loop.time() < deadline and not put.done()
            await asyncio.sleep(0.001)
        calls = [s.faulty(p).calls.copy() for p in range(s.n)]
        heal = asyncio.ensure_future(s.layer.heal_object(BUCKET, obj.key))
        for _ in range(200):
            await asyncio.sleep(0)
        assert not heal.done()
        for p in range(s.n):  # not one drive call on the object's behalf
            seen = s.faulty(p).calls
            assert all(seen[n] == calls[p][n] for n in ("read_xl", "open_shard", "list_dir"))
        hang.enabled = False
        last.release()
        await put
        return await heal

    result = s.run(race())
    assert isinstance(result, HealResult)
    assert not result.needs_heal and result.fully_redundant
    assert s.get(BUCKET, obj.key) == new


def test_heal_racing_puts_and_deletes(store: HealStore) -> None:
    """Heals loop while puts and deletes of the same keys run: no torn read, nothing
    resurrected or lost, and the drives agree at the end."""
    s = store
    keys = {"race/file": 700_000, "race/inline": 30_000}
    written: dict[str, set[bytes]] = {k: set() for k in keys}
    last: dict[str, bytes | None] = {}

    async def writer(key: str, seed: int) -> None:
        for i in range(12):
            if i % 4 == 3:
                try:
                    await s.layer.delete_object(BUCKET, key)
                except oerr.ObjectNotFound:
                    pass
                last[key] = None
                continue
            data = data_of(seed * 100 + i, keys[key])
            written[key].add(data)
            await s.layer.put_object(BUCKET, key, body_of(data), len(data))
            last[key] = data

    async def healer() -> None:
        for _ in range(12):
            for key in keys:
                try:
                    r = await s.layer.heal_object(BUCKET, key, deep=True)
                except oerr.ObjectError:
                    continue
                assert not r.failed, r.summary()

    async def reader() -> None:
        for _ in range(12):
            for key in keys:
                try:
                    got = b"".join([c async for c in
                                    (await s.layer.open_object(BUCKET, key)).stream()])
                except oerr.ObjectNotFound:
                    continue
                assert got in written[key]  # a whole version, never a mix

    async def everything() -> None:
        await asyncio.gather(writer("race/file", 1), writer("race/inline", 2), healer(),
                             reader())

    s.run(everything())
    objs = []
    for key in keys:
        value = last[key]
        obj = Obj(BUCKET, key, "race", [] if value is None else [Version("null", value)])
        r = s.heal(obj, deep=True)
        assert not r.needs_heal and r.fully_redundant, r.summary()
        objs.append(obj)
    read_back_without_any_m(s, objs)


def test_xl_meta_of_another_slot_is_not_trusted(store: HealStore) -> None:
    """Two drives' xl.meta swapped (each names the other's shard number, while its part
    file holds its own): both are rebuilt, not read as the wrong shard."""
    s = store
    objs = build_corpus(s)
    obj = by_key(objs)["deep/key/multi"]
    a, b = s.obj_dir(0, obj) / "xl.meta", s.obj_dir(1, obj) / "xl.meta"
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(raw_b)
    b.write_bytes(raw_a)
    r = s.heal(obj)
    for p in (0, 1):
        assert shards_of(r, p) == {("null", 1, "misplaced", False)}
        assert r.drives[p].missing_versions == ["null"] and r.drives[p].metadata_written
    assert r.fully_redundant
    read_back_without_any_m(s, [obj])


def test_write_xl_replaces_whole_and_refuses_garbage(tmp_path: Path) -> None:
    """The StorageAPI call heal commits with: a whole xl.meta, atomically, parents made,
    never a file readers would call corrupt."""
    drive = LocalDrive(tmp_path)

    async def go() -> None:
        await drive.make_volume("bkt")
        xl = XLMeta()
        xl.add_version(DeleteMarker(version_id=uuid.uuid4().bytes, mod_time=1))
        await drive.write_xl("bkt", "a/b/c", xl.dump())
        assert await drive.read_xl("bkt", "a/b/c") == xl.dump()
        with pytest.raises(FileCorrupt):
            await drive.write_xl("bkt", "a/b/c", b"XL2 garbage")
        assert await drive.read_xl("bkt", "a/b/c") == xl.dump()
        await drive.close()

    asyncio.run(go())
