"""heal_object against every kind of damage, on 2+2 and 4+2 sets.

For each kind, up to M drives of every object are damaged (a different choice
of drives per object), every object is healed, and the heal's report must say
exactly what was done to each drive. The proof that the heal restored full
redundancy: with every choice of M drives taken away, every version of every
object reads back byte-identical, delete markers and listings included.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.heal.results import META_MISSING, META_OK
from tests.unit.test_heal_support import (
    LAYOUT_IDS,
    LAYOUTS,
    HealStore,
    Obj,
    build_corpus,
    flip,
    flip_inline,
    read_back_without_any_m,
    shards_of,
)

Expected = tuple[str, set[tuple[str, int, str, bool]]]  # (metadata state, shard repairs)


@pytest.fixture(params=LAYOUTS, ids=LAYOUT_IDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HealStore]:
    s = HealStore(tmp_path, *request.param)
    yield s
    s.close()


def victims(s: HealStore, index: int) -> tuple[int, ...]:
    combos = list(itertools.combinations(range(s.n), s.m))
    return combos[index % len(combos)]


def damage(s: HealStore, obj: Obj, p: int, kind: str) -> Expected:
    """Damage one drive's copy of ``obj``; what a heal must report for it."""
    shards: set[tuple[str, int, str, bool]] = set()
    if kind == "no-shard":
        for vid, number, path in s.part_files(p, obj):
            path.unlink()
            shards.add((vid, number, "missing", False))
    elif kind == "truncate":
        for vid, number, path in s.part_files(p, obj):
            os.truncate(path, path.stat().st_size * 2 // 3)
            shards.add((vid, number, "short", False))
    elif kind == "bitrot":
        for vid, number, path in s.part_files(p, obj):
            flip(path, path.stat().st_size * 2 // 3)
            shards.add((vid, number, "bitrot", False))
        for vid, stream in s.inline_versions(p, obj):
            if len(stream) > 64:
                flip_inline(s.obj_dir(p, obj) / "xl.meta", vid)
                shards.add((vid, 1, "bitrot", True))
    elif kind == "no-xl.meta":
        # The part files stay (and are kept: they verify); inline shards went with it.
        shards = {(vid, 1, "missing", True) for vid, _ in s.inline_versions(p, obj)}
        (s.obj_dir(p, obj) / "xl.meta").unlink()
        return META_MISSING, shards
    else:  # pragma: no cover
        raise AssertionError(kind)
    return META_OK, shards


def check_report(s: HealStore, obj: Obj, result: object, expected: dict[int, Expected],
                 only_inline: bool = False) -> None:
    from liteio.heal.results import HealResult

    assert isinstance(result, HealResult)
    for p in range(s.n):
        report = result.drives[p]
        meta, shards = expected.get(p, (META_OK, set()))
        if only_inline:
            shards = {x for x in shards if x[3]}
        assert report.metadata == meta, (obj.name, p, report)
        assert shards_of(result, p) == shards, (obj.name, p, report)
        assert report.damaged == bool(shards or meta != META_OK), (obj.name, p, report)
        assert not report.errors and not report.stale_versions
        assert all(r.done for r in report.shards)
        if meta == META_MISSING:
            assert report.metadata_written
            assert set(report.missing_versions) == {v.version_id for v in obj.versions}
        rebuilt = report.bytes_rebuilt > 0
        assert rebuilt == any(r.reason for r in report.shards if obj.kind != "empty"), report
    assert result.found and not result.failed and not result.dangling
    assert result.fully_redundant, result.summary()
    assert result.versions == [v.version_id for v in obj.versions]


@pytest.mark.parametrize("kind", ["no-shard", "truncate", "bitrot", "no-xl.meta"])
def test_up_to_m_damaged_drives_are_healed(store: HealStore, kind: str) -> None:
    s = store
    objs = build_corpus(s)
    expected: dict[str, dict[int, Expected]] = {}
    for i, obj in enumerate(objs):
        expected[obj.name] = {p: damage(s, obj, p, kind) for p in victims(s, i)}
    assert any(shards for per in expected.values() for _, shards in per.values())
    deep = kind == "bitrot"
    if kind == "bitrot":
        # A normal heal verifies inline shards (they are in memory anyway) but only
        # sizes part files: it repairs the inline rot and cannot see the rest.
        for obj in objs:
            check_report(s, obj, s.heal(obj), expected[obj.name], only_inline=True)
        for per in expected.values():
            for p, (meta, shards) in per.items():
                per[p] = meta, {x for x in shards if not x[3]}
    for obj in objs:
        check_report(s, obj, s.heal(obj, deep=deep), expected[obj.name])
    for obj in objs:  # a deep look afterwards finds nothing left to do
        again = s.heal(obj, deep=True)
        assert not again.needs_heal and not again.healed and again.fully_redundant, obj.name
    read_back_without_any_m(s, objs)
