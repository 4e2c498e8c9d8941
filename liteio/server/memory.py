"""Keep a worker's resident memory close to what it actually holds.

glibc gives every thread that allocates its own heap arena and keeps freed
blocks of big buffers (1 MiB response bodies, shard windows) in them, so a
threaded server's RSS creeps up to its historical peak. Two arenas and a
fixed mmap threshold make large buffers go straight back to the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 << 10


def tune_malloc() -> bool:
    """Apply the settings (before threads start); False where libc has no mallopt."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_ARENA_MAX, 2) == 1
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and ok)
