from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liteio.erasure.bitrot import framed_size
from liteio.erasure.ranges import (
    StripeGeometry,
    block_span,
    resolve_range,
    slice_parts,
)

MIB = 1 << 20


def test_geometry_of_a_multi_block_part() -> None:
    g = StripeGeometry(part_size=2 * MIB + 5, block_size=MIB, data_shards=4)
    assert g.block_count == 3
    assert g.full_shard == MIB // 4
    assert [g.block_length(b) for b in range(3)] == [MIB, MIB, 5]
    assert g.shard_length(2) == 2
    assert g.frame_offset(2) == 2 * (32 + MIB // 4)
    assert g.frames_span(1, 2) == (32 + MIB // 4, 32 + MIB // 4 + 32 + 2)


@given(size=st.integers(0, 5 * MIB), k=st.integers(1, 16))
def test_stream_size_matches_minio_formula(size: int, k: int) -> None:
    assert StripeGeometry(size, MIB, k).stream_size == framed_size(size, MIB, k)


def test_slice_parts() -> None:
    sizes = [10, 0, 5, 20]
    got = [(s.index, s.offset, s.length) for s in slice_parts(sizes, 0, 35)]
    assert got == [(0, 0, 10), (2, 0, 5), (3, 0, 20)]
    got = [(s.index, s.offset, s.length) for s in slice_parts(sizes, 8, 10)]
    assert got == [(0, 8, 2), (2, 0, 5), (3, 0, 3)]
    got = [(s.index, s.offset, s.length) for s in slice_parts(sizes, 16, 19)]
    assert got == [(3, 1, 19)]


@given(
    sizes=st.lists(st.integers(0, 50), min_size=1, max_size=6),
    data=st.data(),
)
def test_slice_parts_reassembles(sizes: list[int], data: st.DataObject) -> None:
    total = sum(sizes)
    offset = data.draw(st.integers(0, max(total - 1, 0)))
    length = data.draw(st.integers(0, total - offset))
    blob = bytes(range(256)) * 2
    parts, pos = [], 0
    for size in sizes:
        parts.append(blob[pos : pos + size])
        pos += size
    pieces = slice_parts(sizes, offset, length)
    joined = b"".join(parts[s.index][s.offset : s.offset + s.length] for s in pieces)
    assert joined == blob[offset : offset + length]


def test_block_span() -> None:
    assert block_span(0, 1, MIB) == (0, 0)
    assert block_span(MIB - 1, 2, MIB) == (0, 1)
    assert block_span(3 * MIB, MIB, MIB) == (3, 3)


def test_resolve_range() -> None:
    assert resolve_range((0, 9), 100) == (0, 10)
    assert resolve_range((90, None), 100) == (90, 10)
    assert resolve_range((90, 500), 100) == (90, 10)
    assert resolve_range((None, 10), 100) == (90, 10)
    assert resolve_range((None, 500), 100) == (0, 100)
    assert resolve_range((100, None), 100) is None
    assert resolve_range((None, 0), 100) is None
    assert resolve_range((5, 4), 100) is None
    assert resolve_range((None, 5), 0) is None
