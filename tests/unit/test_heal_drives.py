"""heal_object against whole emptied drives and mixed damage on every choice of M
drives, on 2+2 and 4+2 sets (the damage kinds one by one: test_heal_object.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.heal.results import META_MISSING
from tests.unit.test_heal_object import Expected, check_report, damage
from tests.unit.test_heal_support import (
    LAYOUT_IDS,
    LAYOUTS,
    HealStore,
    build_corpus,
    empty_drive,
    read_back_without_any_m,
)


@pytest.fixture(params=LAYOUTS, ids=LAYOUT_IDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealStore]:
    s = HealStore(tmp_path, *request.param)
    yield s
    s.close()


def test_emptied_drives_are_rebuilt(store: HealStore) -> None:
    """M drives lose everything but format.json: bucket dirs, xl.meta, shards, settings."""
    s = store
    objs = build_corpus(s)
    gone = (0, s.n - 1)[: s.m]
    expected: dict[str, dict[int, Expected]] = {}
    for obj in objs:
        expected[obj.name] = {}
        for p in gone:
            shards = {(vid, 1, "missing", True) for vid, _ in s.inline_versions(p, obj)}
            shards |= {(vid, number, "missing", False) for vid, number, _ in s.part_files(p, obj)}
            expected[obj.name][p] = META_MISSING, shards
    for p in gone:
        empty_drive(s.root_of(p))
    for obj in objs:
        check_report(s, obj, s.heal(obj), expected[obj.name])
    s.heal_bucket_settings()
    for p in gone:
        assert (s.root_of(p) / ".minio.sys" / "buckets").is_dir()
    read_back_without_any_m(s, objs)


def test_mixed_damage_on_every_choice_of_m_drives(store: HealStore) -> None:
    """Every choice of M drives, each drive damaged a different way, on a multi-block
    and a multipart object: healed, then readable with any M drives away."""
    s = store
    kinds = ["no-shard", "bitrot", "no-xl.meta", "truncate"]
    objs = [o for o in build_corpus(s) if o.kind in ("multi", "multipart", "versioned")]
    for c, combo in enumerate(itertools.combinations(range(s.n), s.m)):
        expected = {}
        for obj in objs:
            expected[obj.name] = {p: damage(s, obj, p, kinds[(c + j) % len(kinds)])
                                  for j, p in enumerate(combo)}
        for obj in objs:
            check_report(s, obj, s.heal(obj, deep=True), expected[obj.name])
    read_back_without_any_m(s, objs)
