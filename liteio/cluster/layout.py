"""Drive patterns and erasure-set layout, following MinIO's conventions.

A pattern such as ``/data/disk{1...8}`` or ``http://node{1...4}/disk{01...16}``
expands to concrete drives. When a pattern holds several ranges the leftmost
varies fastest, so consecutive drives (which form a set) spread across nodes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

MIN_SET_SIZE = 2
MAX_SET_SIZE = 16
_RANGE = re.compile(r"\{([0-9a-z]+)\.\.\.([0-9a-z]+)\}")


class LayoutError(ValueError):
    """A drive pattern or set layout that cannot be used; the message says why."""


def _expand_range(start: str, end: str, pattern: str) -> list[str]:
    if start.isdigit() and end.isdigit():
        lo, hi = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if lo > hi:
            raise LayoutError(f"range {{{start}...{end}}} in {pattern!r} runs backwards")
        return [str(n).zfill(width) for n in range(lo, hi + 1)]
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        if start > end:
            raise LayoutError(f"range {{{start}...{end}}} in {pattern!r} runs backwards")
        return [chr(c) for c in range(ord(start), ord(end) + 1)]
    raise LayoutError(f"range {{{start}...{end}}} in {pattern!r} must be numbers or single letters")


def expand_pattern(pattern: str) -> list[str]:
    """All drives a pattern names, leftmost range varying fastest."""
    if "{" not in pattern and "}" not in pattern:
        return [pattern]
    pieces = _RANGE.split(pattern)
    literals = pieces[0::3]
    if any("{" in lit or "}" in lit for lit in literals):
        raise LayoutError(f"malformed range in {pattern!r}: use {{START...END}}")
    ranges = [_expand_range(pieces[i], pieces[i + 1], pattern) for i in range(1, len(pieces), 3)]
    drives = []
    # product() varies the last iterable fastest; reverse so the leftmost does.
    for combo in itertools.product(*reversed(ranges)):
        values = list(reversed(combo))
        text = literals[0]
        for value, literal in zip(values, literals[1:]):
            text += value + literal
        drives.append(text)
    return drives


def expand_patterns(patterns: list[str]) -> list[str]:
    drives = [d for p in patterns for d in expand_pattern(p)]
    duplicates = sorted({d for d in drives if drives.count(d) > 1})
    if duplicates:
        raise LayoutError(f"drive named twice: {', '.join(duplicates)}")
    return drives


def choose_set_size(drive_count: int, requested: int | None = None) -> int:
    """Drives per erasure set: the largest size in 2..16 that divides the count."""
    if drive_count < 1:
        raise LayoutError("at least one drive is needed")
    if requested is not None:
        if not MIN_SET_SIZE <= requested <= MAX_SET_SIZE and not (requested == drive_count == 1):
            raise LayoutError(f"set size {requested} is outside {MIN_SET_SIZE}..{MAX_SET_SIZE}")
        if drive_count % requested:
            raise LayoutError(f"{drive_count} drives cannot be split into sets of {requested}")
        return requested
    if drive_count == 1:
        return 1
    for size in range(MAX_SET_SIZE, MIN_SET_SIZE - 1, -1):
        if drive_count % size == 0:
            return size
    raise LayoutError(
        f"{drive_count} drives cannot be split evenly into sets of {MIN_SET_SIZE} to "
        f"{MAX_SET_SIZE}; use a drive count with such a divisor"
    )


def default_parity(set_size: int) -> int:
    """MinIO's default parity for a set size (EC:4 from 8 drives up)."""
    if set_size <= 1:
        return 0
    if set_size <= 3:
        return 1
    if set_size <= 5:
        return 2
    if set_size <= 7:
        return 3
    return 4


@dataclass(frozen=True, slots=True)
class SetLayout:
    """How a pool's drives are cut into erasure sets."""

    drives: tuple[str, ...]
    set_size: int
    parity: int

    @property
    def set_count(self) -> int:
        return len(self.drives) // self.set_size

    @property
    def data(self) -> int:
        return self.set_size - self.parity

    def sets(self) -> list[tuple[str, ...]]:
        n = self.set_size
        return [self.drives[i : i + n] for i in range(0, len(self.drives), n)]


def plan_layout(
    patterns: list[str], parity: int | None = None, set_size: int | None = None
) -> SetLayout:
    drives = expand_patterns(patterns)
    size = choose_set_size(len(drives), set_size)
    chosen = default_parity(size) if parity is None else parity
    if chosen < 0 or chosen > size // 2:
        raise LayoutError(
            f"parity {chosen} is not possible for sets of {size} drives (0..{size // 2})"
        )
    return SetLayout(tuple(drives), size, chosen)
