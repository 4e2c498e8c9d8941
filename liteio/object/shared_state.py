"""A counter every worker process sees: bumped on a bucket-setting change so
the other workers drop their cached bucket metadata at once."""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

_FORMAT = "<Q"


class SharedCounter:
    def __init__(self, path: str | Path) -> None:
        self._fd = os.open(str(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(self._fd).st_size < 8:
            os.ftruncate(self._fd, 8)
        self._map = mmap.mmap(self._fd, 8)

    @property
    def value(self) -> int:
        return int(struct.unpack_from(_FORMAT, self._map)[0])

    def bump(self) -> int:
        # The lock makes read-modify-write atomic across processes; readers need none
        # (any change they see, torn or not, just means "reload").
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 8, 0)
        try:
            value = self.value + 1
            struct.pack_into(_FORMAT, self._map, 0, value)
            return value
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 8, 0)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
