"""Drive replacement: a drive that comes back empty (its folder emptied, or a new
empty directory in its place) is formatted into its slot and refilled, resuming
after a stop; start-up formatting marks replacements for refilling too."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from liteio.heal.drive_heal import DriveHealConfig, DriveHealer
from liteio.heal.tracker import TRACKER_PATH, DriveHealTracker
from liteio.meta.format_json import FormatErasureV3
from liteio.object.bucket_meta import metadata_key
from liteio.storage.errors import DriveOffline
from liteio.storage.paths import FORMAT_FILE, SYSTEM_VOLUME
from tests.support.store import Store
from tests.unit.test_heal_support import (
    BUCKET,
    LAYOUT_IDS,
    LAYOUTS,
    HealStore,
    Obj,
    build_corpus,
    read_back_without_any_m,
    sha,
)

BUCKET_SETTINGS = 2  # HealStore's two buckets: one settings object each, refilled too
DEADLINE = 20.0


@pytest.fixture(params=LAYOUTS, ids=LAYOUT_IDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealStore]:
    s = HealStore(tmp_path, *request.param)
    yield s
    s.close()


def wipe(root: Path) -> None:
    """Everything under the drive root goes, format.json included."""
    for entry in root.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def format_of(root: Path) -> FormatErasureV3:
    return FormatErasureV3.load_file(root / SYSTEM_VOLUME / FORMAT_FILE)


def tracker_on(root: Path) -> DriveHealTracker | None:
    path = root / SYSTEM_VOLUME / TRACKER_PATH
    return DriveHealTracker.load(path.read_bytes()) if path.exists() else None


Shards = dict[str, tuple[set[tuple[str, int, str]], set[tuple[str, str]], list[tuple[str, int]]]]


def shards_on(s: HealStore, position: int, objs: list[Obj]) -> Shards:
    """Per object: part files (version, part, sha256), inline streams (version, sha256)
    and the versions the drive's xl.meta holds with their shard number."""
    return {obj.name: ({(v, n, sha(path.read_bytes())) for v, n, path in s.part_files(position, obj)},
                       {(v, sha(stream)) for v, stream in s.inline_versions(position, obj)},
                       [(v, rec.ec_index) for v, rec in s.stored(position, obj)])
            for obj in objs}


def nonempty(shards: Shards) -> tuple[int, int]:
    return (sum(len(parts) for parts, _, _ in shards.values()),
            sum(len(inline) for _, inline, _ in shards.values()))


def wait_until(s: Store, done: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while not done():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    s.run(poll())


def only_record(healer: DriveHealer) -> dict[str, Any]:
    records = healer.status()
    assert len(records) == 1, records
    return records[0]


def check_done(record: dict[str, Any], s: HealStore, position: int, total: int,
               healed: int | None = None) -> None:
    assert record["state"] == "done" and not record["running"]
    assert (record["set"], record["position"]) == (0, position)
    assert record["endpoint"] == s.faulty(position).endpoint
    assert (record["scanned"], record["healed"], record["failed"]) == (
        total, total if healed is None else healed, 0)
    assert record["failures"] == []
    assert record["bytes_rebuilt"] > 0
    assert record["finished_ns"] >= record["started_ns"] > 0
    json.dumps(record)  # what the admin API serves


def test_emptied_drive_is_formatted_into_its_slot_and_refilled(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    p = s.n - 1
    root = s.root_of(p)
    identity = (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes()
    before = shards_on(s, p, objs)
    parts, inline = nonempty(before)
    assert parts > 0 and inline > 0
    wipe(root)
    assert nonempty(shards_on(s, p, objs)) == (0, 0)
    assert s.faulty(p).is_online()  # the same directory, emptied: the drive still answers

    healer = DriveHealer(s.layer)
    s.run(healer.check_now())

    assert (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes() == identity
    assert shards_on(s, p, objs) == before  # every shard rebuilt byte for byte
    assert (root / BUCKET).is_dir()
    total = len(objs) + BUCKET_SETTINGS
    check_done(only_record(healer), s, p, total)
    saved = tracker_on(root)
    assert saved is not None and saved.finished and saved.scanned == total
    assert saved.drive_id == format_of(root).this
    # Another look finds nothing to do: the finished refill is not run again.
    s.run(healer.check_now())
    check_done(only_record(healer), s, p, total)
    read_back_without_any_m(s, objs)


def test_new_empty_root_in_place_of_the_drive(store: HealStore) -> None:
    """The drive's directory is replaced by a new, empty one at the same path."""
    s = store
    objs = build_corpus(s)
    p = 0
    root = s.root_of(p)
    old_id = format_of(root).this
    before = shards_on(s, p, objs)
    root.rename(root.with_name("old-drive"))
    root.mkdir()
    drive = s.faulty(p)
    with pytest.raises(DriveOffline):
        s.run(drive.stat_volume(BUCKET))  # the first call that looks notices
    assert not drive.is_online()
    healer = DriveHealer(s.layer)
    s.run(healer.check_now())
    assert healer.status() == [] and not (root / SYSTEM_VOLUME).exists()  # offline: untouched

    assert s.run(drive.reconnect())  # a fresh drive (no format.json) is taken
    s.run(healer.check_now())
    assert format_of(root).this == old_id
    assert shards_on(s, p, objs) == before
    check_done(only_record(healer), s, p, len(objs) + BUCKET_SETTINGS)
    assert format_of(root.with_name("old-drive")).this == old_id  # the old one left alone
    read_back_without_any_m(s, objs)


def test_root_of_another_drive_is_refused(store: HealStore) -> None:
    s = store
    build_corpus(s)
    p = 1
    root = s.root_of(p)
    old_id = format_of(root).this
    root.rename(root.with_name("old-drive"))
    root.mkdir()
    stranger = FormatErasureV3.new(1, s.n).for_drive(0, p)
    (root / SYSTEM_VOLUME).mkdir()
    (root / SYSTEM_VOLUME / FORMAT_FILE).write_bytes(stranger.dump())
    drive = s.faulty(p)
    with pytest.raises(DriveOffline):
        s.run(drive.stat_volume(BUCKET))
    assert not s.run(drive.reconnect())
    assert not drive.is_online()
    healer = DriveHealer(s.layer)
    s.run(healer.check_now())
    assert healer.status() == []
    assert format_of(root) == stranger and sorted(os.listdir(root)) == [SYSTEM_VOLUME]
    # The right drive back in place: it reconnects, and there is nothing to refill.
    shutil.rmtree(root)
    root.with_name("old-drive").rename(root)
    assert s.run(drive.reconnect())
    s.run(healer.check_now())
    assert healer.status() == [] and format_of(root).this == old_id


def test_refill_resumes_from_its_tracker(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    total = len(objs) + BUCKET_SETTINGS
    p = 1
    root = s.root_of(p)
    before = shards_on(s, p, objs)
    wipe(root)
    first = DriveHealer(s.layer, DriveHealConfig(checkpoint_every=1000))
    s.run(first.check_now(limit=3))
    record = only_record(first)
    assert record["state"] == "healing" and not record["running"]
    assert (record["scanned"], record["healed"]) == (3, 3)
    saved = tracker_on(root)
    assert saved is not None and not saved.finished
    assert (saved.scanned, saved.bucket, saved.key) == (3, record["bucket"], record["key"])
    assert saved.key

    # A new healer (a restarted server) goes on after the saved position: had it
    # started over, it would have scanned every object again on top of the first 3.
    second = DriveHealer(s.layer)
    s.run(second.check_now())
    check_done(only_record(second), s, p, total)
    assert shards_on(s, p, objs) == before
    read_back_without_any_m(s, objs)


def test_stopped_refill_saves_its_position(store: HealStore) -> None:
    """Stopped mid-way (server shutdown): the tracker on the drive holds the last
    object done, and the next healer finishes from there."""
    s = store
    objs = build_corpus(s)
    total = len(objs) + BUCKET_SETTINGS
    p = 0
    root = s.root_of(p)
    wipe(root)
    healer = DriveHealer(s.layer, DriveHealConfig(interval=0.01, pause=0.05,
                                                  checkpoint_every=1000))
    s.run(healer.start())
    wait_until(s, lambda: any(r["scanned"] >= 2 for r in healer.status()), "two objects")
    s.run(healer.stop())
    record = only_record(healer)
    assert record["state"] == "healing" and not record["running"]
    saved = tracker_on(root)
    assert saved is not None and not saved.finished
    assert 2 <= saved.scanned < total
    assert (saved.scanned, saved.bucket, saved.key) == (
        record["scanned"], record["bucket"], record["key"])

    again = DriveHealer(s.layer)
    s.run(again.check_now())
    check_done(only_record(again), s, p, total)
    read_back_without_any_m(s, objs)


def test_refill_stops_when_the_drive_goes_away(store: HealStore) -> None:
    """A drive that drops out mid-refill is not reported refilled: the refill stops
    unfinished and the next one, with the drive back, completes it."""
    s = store
    objs = build_corpus(s)
    total = len(objs) + BUCKET_SETTINGS
    p = 1
    before = shards_on(s, p, objs)
    wipe(s.root_of(p))
    healer = DriveHealer(s.layer, DriveHealConfig(interval=0.01, pause=0.05))
    s.run(healer.start())
    wait_until(s, lambda: any(r["scanned"] >= 2 for r in healer.status()), "two objects")
    s.offline(p)
    wait_until(s, lambda: not only_record(healer)["running"], "the refill to stop")
    record = only_record(healer)
    assert record["state"] == "healing" and 2 <= record["scanned"] < total
    s.run(healer.stop())

    s.online_again()
    # Nothing was saved while the drive was away: the refill goes over every object
    # again, and those the first one rebuilt are already in place.
    again = DriveHealer(s.layer)
    s.run(again.check_now())
    check_done(only_record(again), s, p, total, healed=total - record["healed"])
    assert shards_on(s, p, objs) == before


def test_drive_emptied_while_the_server_was_down(tmp_path: Path) -> None:
    """Start-up formatting puts a replacement into its slot with a tracker, and
    the healer refills it."""
    s = HealStore(tmp_path, 4, 2)
    try:
        objs = build_corpus(s)
        p = 2
        root = s.root_of(p)
        identity = (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes()
        before = shards_on(s, p, objs)
        s.run(s.layer.close())
        wipe(root)
        s.layer = s.run(s._open())  # format_drives, as a server start does
        assert (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes() == identity
        saved = tracker_on(root)
        assert saved is not None and not saved.finished and saved.scanned == 0
        assert saved.drive_id == format_of(root).this and (saved.set, saved.position) == (0, p)
        # Drives that kept their format.json got no tracker.
        assert [tracker_on(s.root_of(q)) for q in range(s.n) if q != p] == [None] * (s.n - 1)

        healer = DriveHealer(s.layer)
        s.run(healer.check_now())
        check_done(only_record(healer), s, p, len(objs) + BUCKET_SETTINGS)
        assert shards_on(s, p, objs) == before
        read_back_without_any_m(s, objs)
    finally:
        s.close()


def test_healing_service_refills_in_the_background(store: HealStore) -> None:
    s = store
    objs = build_corpus(s)
    p = s.n - 2
    before = shards_on(s, p, objs)
    healing = s.run(s.layer.start_healing(drives=DriveHealConfig(interval=0.01)))
    assert healing.status()["drives"] == []
    wipe(s.root_of(p))

    def done() -> bool:
        return any(r["state"] == "done" and not r["running"] for r in healing.status()["drives"])

    wait_until(s, done, "the refill")
    [record] = healing.status()["drives"]
    check_done(record, s, p, len(objs) + BUCKET_SETTINGS)
    s.run(s.layer.stop_healing())
    assert shards_on(s, p, objs) == before
    read_back_without_any_m(s, objs)


def test_drive_of_the_second_set_gets_its_own_slot(tmp_path: Path) -> None:
    s = Store(tmp_path, 4, 2, sets=2)
    try:
        s.run(s.layer.make_bucket("two-sets"))
        keys = [f"k{i}" for i in range(12)]
        for key in keys:
            s.put("two-sets", key, key.encode() * 1000)
        es = s.layer.sets[1]
        root = Path(es.drives[3].endpoint)
        identity = (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes()
        mine = [k for k in keys if s.layer.set_for(k) is es]
        assert mine and len(mine) < len(keys)
        wipe(root)
        healer = DriveHealer(s.layer)
        s.run(healer.check_now())
        assert (root / SYSTEM_VOLUME / FORMAT_FILE).read_bytes() == identity
        record = only_record(healer)
        assert (record["set"], record["position"], record["state"]) == (1, 3, "done")
        # Only this set's objects (and the bucket settings, when this set holds them).
        settings = int(s.layer.set_for(metadata_key("two-sets")) is es)
        assert record["scanned"] == len(mine) + settings
        assert record["healed"] == record["scanned"] and record["failed"] == 0
        for key in mine:
            assert (root / "two-sets" / key / "xl.meta").is_file()
        for key in set(keys) - set(mine):
            assert not (root / "two-sets" / key).exists()
    finally:
        s.close()


def test_config_from_env() -> None:
    config = DriveHealConfig.from_env({
        "LITEIO_HEAL_DRIVE_INTERVAL": "2.5", "LITEIO_HEAL_DRIVE_CHECKPOINT": "7",
        "LITEIO_HEAL_DRIVE_PAUSE": "0.25", "LITEIO_HEAL_DRIVE_DEEP": "on"})
    assert config == DriveHealConfig(interval=2.5, checkpoint_every=7, pause=0.25, deep=True)
    assert DriveHealConfig.from_env({}) == DriveHealConfig()


def test_tracker_round_trip_and_rejects() -> None:
    tracker = DriveHealTracker(drive_id="d", endpoint="/x", set=1, position=2, started_ns=5,
                               bucket="b", key="k", scanned=3, healed=2, failed=1,
                               failures=["b/k"], finished=True, finished_ns=9)
    assert DriveHealTracker.load(tracker.dump()) == tracker
    doc = tracker.to_dict()
    for broken in (b"{", b"[]", json.dumps({**doc, "version": 2}).encode(),
                   json.dumps({k: v for k, v in doc.items() if k != "position"}).encode(),
                   json.dumps({**doc, "key": 7}).encode()):
        assert DriveHealTracker.load(broken) is None, broken
