"""The inline-data section at the end of xl.meta: small objects' shards.

    byte 0   section version, always 1
    byte 1.. msgpack map, one entry per inlined version:
               key   str  version id as lowercase UUID text, or "null"
               value bin  this drive's bitrot-framed shard stream for it
                          (what part.1 would hold; empty for a 0-byte object)

A zero-length section means no inline data. Keys keep their insertion
order: replacing an entry keeps its place, a new entry goes last.
"""

from __future__ import annotations

from collections.abc import Iterator

from liteio.meta import msgp
from liteio.meta.errors import XLMetaCorrupt
from liteio.meta.ids import VersionIdLike, version_id_bytes, version_id_str

INLINE_SECTION_VERSION = 1


def inline_key(version_id: VersionIdLike) -> str:
    """The section key for a version id in any spelling ("null" for the null version).

    Round-tripping through bytes normalises case and hyphenation the way
    MinIO prints ids; a string that is not a UUID raises ``ValueError``.
    """
    return version_id_str(version_id_bytes(version_id))


class InlineData:
    """A mapping of version id text -> shard bytes, with MinIO's on-disk encoding.

    Until it is modified, ``to_bytes`` returns the section exactly as read.
    """

    __slots__ = ("_entries", "_raw", "repaired")

    def __init__(self, entries: dict[str, bytes] | None = None) -> None:
        self._entries: dict[str, bytes] = dict(entries or {})
        self._raw: bytes | None = None
        self.repaired = False  # True when a malformed section was cut to its valid prefix

    @classmethod
    def parse(cls, section: bytes | memoryview, *, repair: bool = False) -> InlineData:
        """Decode a section. With ``repair``, keep the valid prefix of a damaged
        section (as MinIO does) instead of raising ``XLMetaCorrupt``."""
        found = cls()
        if len(section) == 0:
            found._raw = b""
            return found
        try:
            found._read_into(section)
        except XLMetaCorrupt:
            if not repair:
                raise
            found.repaired = True
            return found
        found._raw = bytes(section)
        return found

    def _read_into(self, section: bytes | memoryview) -> None:
        if section[0] != INLINE_SECTION_VERSION:
            raise XLMetaCorrupt(f"inline data: unknown section version {section[0]}")
        r = msgp.Reader(section[1:], "inline data")
        count = r.map_header("inline data")
        for _ in range(count):
            key = r.key("inline data key")
            value = r.value(f"inline data[{key}]")
            if not key:
                raise XLMetaCorrupt("inline data: empty key")
            if not isinstance(value, bytes):
                raise XLMetaCorrupt(f"inline data[{key}]: value is not a bin")
            self._entries[key] = value

    def get(self, version_id: VersionIdLike) -> bytes | None:
        return self._entries.get(inline_key(version_id))

    def set(self, version_id: VersionIdLike, data: bytes | bytearray | memoryview) -> None:
        self._entries[inline_key(version_id)] = bytes(data)
        self._raw = None

    def remove(self, version_id: VersionIdLike) -> bool:
        """Drop a version's entry; returns whether there was one."""
        removed = self._entries.pop(inline_key(version_id), None) is not None
        if removed:
            self._raw = None
        return removed

    def keys(self) -> list[str]:
        return list(self._entries)

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self._entries.items()}

    def __contains__(self, version_id: object) -> bool:
        try:
            return inline_key(version_id) in self._entries  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def to_bytes(self) -> bytes:
        if self._raw is not None:
            return self._raw
        if not self._entries:
            return b""
        out = bytearray([INLINE_SECTION_VERSION])
        msgp.put_map_header(out, len(self._entries))
        for key, value in self._entries.items():
            msgp.put_str(out, key)
            msgp.put_bin(out, value)
        return bytes(out)
