"""Receive buffers for shard bodies, reused once nobody looks at them any more.

A shard read hands its caller a view of the buffer the bytes were received
into, and the caller keeps it as long as it likes (the erasure decoder holds
a window while later ones are prefetched), so buffers cannot be returned
explicitly. Instead the cache keeps the arrays it gave out and reuses one
when its reference count shows that no view of it is left.

Why bother: a fresh 1 MiB allocation is a fresh mapping when malloc's mmap
threshold is low (``liteio server`` sets it to 128 KiB to keep RSS honest),
and faulting its pages in costs as much as moving the megabyte over loopback
(~0.3-0.6 ms on a VM). ``np.empty`` rather than ``bytearray``: no zeroing.
"""

from __future__ import annotations

import sys

import numpy as np

MIN_CLASS = 64 << 10
MAX_CLASS = 4 << 20


def size_class(n: int) -> int:
    return max(MIN_CLASS, 1 << (n - 1).bit_length())


class BufferCache:
    """Up to ``budget`` bytes of reusable arrays, in power-of-two size classes.
    Event-loop thread only."""

    __slots__ = ("_arrays", "_held", "budget")

    def __init__(self, budget: int = 32 << 20) -> None:
        self.budget = budget
        self._arrays: list[np.ndarray] = []
        self._held = 0

    def take(self, n: int) -> memoryview:
        """A writable view of exactly ``n`` bytes (contents undefined)."""
        if n > MAX_CLASS:
            return np.empty(n, np.uint8).data
        cap = size_class(n)
        arrays = self._arrays
        for i in range(len(arrays)):
            # NOTE: 2 = the list's reference + getrefcount's argument: no view is alive.
            if arrays[i].size == cap and sys.getrefcount(arrays[i]) == 2:
                return arrays[i].data[:n]
        arr = np.empty(cap, np.uint8)
        if self._held + cap <= self.budget:
            arrays.append(arr)
            self._held += cap
        return arr.data[:n]

    @property
    def held(self) -> int:
        return self._held


RECEIVE_BUFFERS = BufferCache()
