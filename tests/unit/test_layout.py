from __future__ import annotations

import pytest

from liteio.cluster.layout import (
    LayoutError,
    choose_set_size,
    default_parity,
    expand_pattern,
    expand_patterns,
    plan_layout,
)


def test_plain_and_numeric_patterns() -> None:
    assert expand_pattern("/data/disk") == ["/data/disk"]
    assert expand_pattern("/data/disk{1...3}") == ["/data/disk1", "/data/disk2", "/data/disk3"]
    assert expand_pattern("/d{08...10}") == ["/d08", "/d09", "/d10"]
    assert expand_pattern("/d{a...c}") == ["/da", "/db", "/dc"]


def test_leftmost_range_varies_fastest() -> None:
    drives = expand_pattern("http://node{1...2}/disk{1...3}")
    assert drives == [
        "http://node1/disk1", "http://node2/disk1",
        "http://node1/disk2", "http://node2/disk2",
        "http://node1/disk3", "http://node2/disk3",
    ]


@pytest.mark.parametrize("bad", ["/d{3...1}", "/d{1..3}", "/d{1...x}", "/d{ab...c}", "/d}"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(LayoutError):
        expand_pattern(bad)


def test_duplicates_refused() -> None:
    with pytest.raises(LayoutError, match="named twice"):
        expand_patterns(["/d{1...2}", "/d2"])


@pytest.mark.parametrize(
    ("drives", "size"), [(1, 1), (2, 2), (4, 4), (12, 12), (16, 16), (32, 16), (20, 10), (18, 9)]
)
def test_set_size(drives: int, size: int) -> None:
    assert choose_set_size(drives) == size


def test_set_size_errors() -> None:
    with pytest.raises(LayoutError, match="evenly"):
        choose_set_size(17)
    with pytest.raises(LayoutError, match="cannot be split"):
        choose_set_size(12, 5)
    with pytest.raises(LayoutError, match="outside"):
        choose_set_size(34, 17)


def test_default_parity_follows_set_size() -> None:
    assert [default_parity(n) for n in (1, 2, 3, 4, 5, 6, 7, 8, 16)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_plan_layout() -> None:
    layout = plan_layout(["/x/d{1...8}"])
    assert (layout.set_size, layout.parity, layout.data, layout.set_count) == (8, 4, 4, 1)
    layout = plan_layout(["/x/d{1...32}"], parity=2)
    assert layout.set_count == 2 and layout.sets()[1][0] == "/x/d17"
    with pytest.raises(LayoutError, match="parity 3"):
        plan_layout(["/x/d{1...4}"], parity=3)
