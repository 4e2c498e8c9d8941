"""Pure range math: object bytes -> parts -> erasure blocks -> shard frames.

No I/O here, so every mapping can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from liteio.erasure.bitrot import HASH_SIZE, ceil_div


@dataclass(frozen=True, slots=True)
class StripeGeometry:
    """How one part of ``part_size`` bytes is cut into blocks and shard frames."""

    part_size: int
    block_size: int
    data_shards: int

    @property
    def block_count(self) -> int:
        return ceil_div(self.part_size, self.block_size)

    @property
    def full_shard(self) -> int:
        """Shard bytes of a full block: ceil(B / K)."""
        return ceil_div(self.block_size, self.data_shards)

    def block_length(self, block: int) -> int:
        return min(self.block_size, self.part_size - block * self.block_size)

    def shard_length(self, block: int) -> int:
        return ceil_div(self.block_length(block), self.data_shards)

    def frame_offset(self, block: int) -> int:
        """Where block ``block``'s frame starts in a shard stream (all earlier blocks are full)."""
        return block * (HASH_SIZE + self.full_shard)

    def frames_span(self, first: int, last: int) -> tuple[int, int]:
        """(offset, length) in a shard stream covering the frames of blocks first..last."""
        start = self.frame_offset(first)
        end = self.frame_offset(last) + HASH_SIZE + self.shard_length(last)
        return start, end - start

    @property
    def stream_size(self) -> int:
        if self.part_size == 0:
            return 0
        return self.frames_span(0, self.block_count - 1)[1]


@dataclass(frozen=True, slots=True)
class PartSlice:
    """The bytes [offset, offset + length) of part number ``index`` (0-based position)."""

    index: int
    offset: int
    length: int


def slice_parts(part_sizes: list[int], offset: int, length: int) -> list[PartSlice]:
    """Split an object byte range across its parts."""
    slices = []
    start = 0
    end = offset + length
    for index, size in enumerate(part_sizes):
        part_end = start + size
        if part_end > offset and start < end and size:
            lo = max(offset, start) - start
            hi = min(end, part_end) - start
            slices.append(PartSlice(index, lo, hi - lo))
        start = part_end
        if start >= end:
            break
    return slices


def block_span(offset: int, length: int, block_size: int) -> tuple[int, int]:
    """First and last block index touched by [offset, offset + length); length > 0."""
    return offset // block_size, (offset + length - 1) // block_size


def resolve_range(spec: tuple[int | None, int | None], size: int) -> tuple[int, int] | None:
    """An HTTP byte range (first, last) or suffix (None, n) -> (offset, length).

    Returns None when unsatisfiable (the caller answers 416). ``last`` past the
    end is clipped, as RFC 9110 says.
    """
    first, last = spec
    if first is None:
        if last is None or last <= 0 or size == 0:
            return None
        n = min(last, size)
        return size - n, n
    if first >= size:
        return None
    stop = size - 1 if last is None else min(last, size - 1)
    if stop < first:
        return None
    return first, stop - first + 1
