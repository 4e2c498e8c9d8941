"""One way to time a kernel, shared by every benchmark that compares against a reference.

Best of short windows of back-to-back calls: the same method on both sides of a
ratio, so machine noise (these machines are shared) hits both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WINDOW = 0.05


def best_calls_per_second(work: Callable[[], object], seconds: float = 0.5,
                          window: float = WINDOW) -> float:
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        calls = 0
        start = time.perf_counter()
        while time.perf_counter() - start < window:
            work()
            calls += 1
        best = max(best, calls / (time.perf_counter() - start))
    return best
