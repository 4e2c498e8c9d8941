"""Healing nobody asked for: the MRF queue after degraded requests, and the scanner.

Background work runs on the store's event loop, so every wait here is a poll
inside ``s.run`` with a deadline (the healers progress while it awaits).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from liteio.heal.mrf import MRFConfig, MRFQueue
from liteio.heal.results import HealResult
from liteio.heal.scanner import STATE_PATH, Scanner, ScannerConfig
from liteio.object.erasure_set import ErasureSet
from liteio.storage.faulty import Fault
from liteio.storage.paths import SYSTEM_VOLUME
from tests.unit.test_heal_support import (
    BUCKET,
    LAYOUT_IDS,
    LAYOUTS,
    HealStore,
    Obj,
    build_corpus,
    data_of,
    empty_drive,
    flip,
    flip_inline,
    read_back_without_any_m,
)

FAST = ScannerConfig(objects_per_second=0, sleep_factor=0, cycle_pause=0.01, checkpoint_every=2)
DEADLINE = 20.0


@pytest.fixture(params=LAYOUTS, ids=LAYOUT_IDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealStore]:
    s = HealStore(tmp_path, *request.param)
    yield s
    s.close()


def wait_until(s: HealStore, done: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while not done():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    s.run(poll())


def data_positions(s: HealStore, obj: Obj) -> list[int]:
    """Set positions holding data shards (what a GET reads first)."""
    return [p for p in range(s.n)
            if all(rec.ec_index <= s.eset.data for _, rec in s.stored(p, obj))]


# -- MRF -----------------------------------------------------------------------------------


def test_mrf_heals_after_degraded_reads_and_writes(store: HealStore) -> None:
    s = store
    healing = s.run(s.layer.start_healing(mrf=MRFConfig(recheck_seconds=0.01)))
    mrf = healing.mrf
    assert mrf is not None
    objs = build_corpus(s)
    o = {x.key: x for x in objs}
    # A GET that meets a missing data shard, and one that meets rotten inline data.
    single, inline = o["single"], o["inline"]
    p_single = data_positions(s, single)[0]
    (_, _, part), = s.part_files(p_single, single)
    part.unlink()
    p_inline = data_positions(s, inline)[0]
    flip_inline(s.obj_dir(p_inline, inline) / "xl.meta", "null")
    assert s.get(BUCKET, single.key) == single.versions[0].data
    assert s.get(BUCKET, inline.key) == inline.versions[0].data
    # A PUT whose commit one drive missed.
    s.faulty(s.n - 1).add(Fault("commit_version", times=1))
    fresh = Obj(BUCKET, "fresh", "single")
    s.put_obj(fresh, data_of(90, 800_000))
    wait_until(s, lambda: mrf.stats.healed >= 3 and mrf.stats.queued == 0
               and mrf.stats.in_flight == 0, "MRF to heal 3 objects")
    assert part.exists()
    assert s.xl_on(s.n - 1, fresh) is not None
    assert mrf.stats.failed == 0
    for obj in (single, inline, fresh):
        r = s.heal(obj, deep=True)
        assert not r.needs_heal and r.fully_redundant, obj.key
    objs.append(fresh)
    # A PUT while a drive is away: held until the drive is back, then healed.
    s.offline(0)
    away = Obj(BUCKET, "while-away", "multi")
    s.put_obj(away, data_of(91, 1_500_000))
    assert mrf.stats.waiting_for_drive == 1 and s.xl_on(0, away) is None
    healed = mrf.stats.healed
    s.online_again()
    wait_until(s, lambda: mrf.stats.healed > healed and mrf.stats.in_flight == 0,
               "MRF to heal the put the drive missed")
    assert mrf.stats.waiting_for_drive == 0 and s.xl_on(0, away) is not None
    objs.append(away)
    read_back_without_any_m(s, objs)


def test_mrf_queue_is_bounded_deduplicated_and_survives_failures(tmp_path: Path) -> None:
    s = HealStore(tmp_path, 4, 2)
    try:
        seen: list[str] = []
        gate = asyncio.Event()

        async def heal(es: ErasureSet, bucket: str, key: str) -> HealResult:
            await gate.wait()
            seen.append(key)
            if key == "boom":
                raise RuntimeError("injected")
            return HealResult(bucket, key)

        mrf = MRFQueue(s.layer.sets, MRFConfig(capacity=3), heal=heal)
        assert mrf.add(0, BUCKET, "a") and mrf.add(0, BUCKET, "boom")
        assert not mrf.add(0, BUCKET, "a")  # already waiting
        assert mrf.add(0, BUCKET, "b")
        assert not mrf.add(0, BUCKET, "c")  # full
        assert (mrf.stats.queued, mrf.stats.deduplicated, mrf.stats.dropped) == (3, 1, 1)

        async def drain() -> None:
            await mrf.start()
            gate.set()
            assert await mrf.wait_idle(DEADLINE)
            assert mrf.add(0, BUCKET, "c")  # still serving after a failure
            assert await mrf.wait_idle(DEADLINE)
            await mrf.stop()

        s.run(drain())
        assert seen == ["a", "boom", "b", "c"]
        assert (mrf.stats.failed, mrf.stats.clean, mrf.stats.queued) == (1, 3, 0)
        assert "injected" in mrf.stats.last_error
    finally:
        s.close()


# -- scanner ---------------------------------------------------------------------------------


def damage_some(s: HealStore, objs: list[Obj]) -> set[str]:
    """A different kind of damage on each object with files; returns the damaged keys."""
    out = set()
    for i, obj in enumerate(objs):
        p = i % s.n
        files = s.part_files(p, obj)
        if i % 3 == 0 and files:
            files[0][2].unlink()
        elif i % 3 == 1 and s.xl_on(p, obj) is not None:
            (s.obj_dir(p, obj) / "xl.meta").unlink()
        elif files:
            files[-1][2].write_bytes(files[-1][2].read_bytes()[:100])
        else:
            continue
        out.add(obj.key)
    return out


def test_scanner_heals_on_its_own(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    damaged = damage_some(s, objs)
    assert len(damaged) >= 5
    healing = s.run(s.layer.start_healing(scanner=FAST))
    scanner = healing.scanner
    assert scanner is not None
    wait_until(s, lambda: scanner.stats.cycle >= 1, "a full scanner cycle")
    # One cycle is one pass: every object (plus the two buckets' settings) once.
    assert scanner.stats.scanned >= len(objs) + 2
    assert scanner.stats.healed == len(damaged) and scanner.stats.failed == 0
    assert scanner.stats.bytes_rebuilt > 0 and scanner.stats.last_cycle_seconds > 0
    s.run(s.layer.stop_healing())
    for obj in objs:
        r = s.heal(obj, deep=True)
        assert not r.needs_heal and r.fully_redundant, obj.key
    read_back_without_any_m(s, objs)


def test_scanner_rebuilds_emptied_drive_and_deep_mode_finds_rot(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    empty_drive(s.root_of(0))
    scanner = Scanner(s.layer, FAST)
    assert s.run(scanner.run()) == len(objs) + 2
    assert scanner.stats.buckets_healed == 2
    assert scanner.stats.healed == len(objs) + 2  # the emptied drive needed everything
    rotten = next(o for o in objs if o.key == "deep/key/multi")
    (_, _, part), = s.part_files(1, rotten)
    flip(part, part.stat().st_size // 2)
    assert s.run(scanner.run()) == len(objs) + 2
    assert scanner.stats.healed == len(objs) + 2  # a normal scan checks sizes, not rot
    assert s.heal(rotten, deep=True, dry_run=True).needs_heal
    deep = Scanner(s.layer, ScannerConfig(deep=True, objects_per_second=0, sleep_factor=0))
    assert s.run(deep.run()) == len(objs) + 2
    assert deep.stats.healed == 1 and deep.stats.cycle == scanner.stats.cycle + 1
    read_back_without_any_m(s, objs)


def test_scanner_is_paced(tmp_path: Path) -> None:
    s = HealStore(tmp_path, 4, 2)
    try:
        for i in range(6):
            s.put(BUCKET, f"k{i}", data_of(i, 1000))
        scanner = Scanner(s.layer, ScannerConfig(objects_per_second=40, sleep_factor=0))
        started = time.monotonic()
        scanned = s.run(scanner.run())
        elapsed = time.monotonic() - started
        assert scanned == 6 + 2
        assert elapsed >= (scanned - 1) / 40  # a rate ceiling, honoured
    finally:
        s.close()


def test_scanner_resumes_where_it_stopped(tmp_path: Path) -> None:
    s = HealStore(tmp_path, 4, 2)
    objs = build_corpus(s)
    scanner = Scanner(s.layer, FAST)
    assert s.run(scanner.run(limit=4)) == 4
    # Order: bucket settings (.minio.sys sorts first), then each bucket in key order.
    assert (scanner.stats.bucket, scanner.stats.key) == (BUCKET, "dir/folder/")
    saved = [json.loads((s.root_of(p) / SYSTEM_VOLUME / STATE_PATH).read_bytes())
             for p in range(s.n)]
    assert {(d["bucket"], d["key"], d["cycle"]) for d in saved} == {(BUCKET, "dir/folder/", 0)}
    s.close()

    s = HealStore(tmp_path, 4, 2, fresh=False)  # a restart
    try:
        again = Scanner(s.layer, FAST)
        assert s.run(again.run(limit=1)) == 1
        assert (again.stats.bucket, again.stats.key) == (BUCKET, "empty")
        rest = s.run(again.run())
        assert rest == len(objs) + 2 - 5  # the remainder of the cycle, no object twice
        assert again.stats.cycle == 1 and (again.stats.bucket, again.stats.key) == ("", "")
        assert s.run(again.run()) == len(objs) + 2  # the next cycle starts over
        assert again.stats.cycle == 2
    finally:
        s.close()
