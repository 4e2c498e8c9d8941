"""Errors raised by the on-disk record codecs.

Every way a file can be wrong maps to one of these, so the storage layer can
turn "this drive's xl.meta is damaged" into a single storage error without
catching msgpack, struct or KeyError internals.

    XLMetaError                      anything wrong with an xl.meta
    +-- XLMetaCorrupt                bytes present but wrong (bad magic, bad msgpack, wrong types)
    |   +-- XLMetaTruncated          the data ends before the structure does
    |   +-- XLMetaChecksumMismatch   stored CRC differs from the computed one
    +-- XLMetaUnsupportedVersion     a version number newer than we understand

    VersionNotFound                  a lookup by version id found nothing (not damage)
    FormatJSONError                  format.json is malformed or of an unknown version
"""

from __future__ import annotations


class XLMetaError(Exception):
    """Base class: an xl.meta (or one of its parts) could not be used."""


class XLMetaCorrupt(XLMetaError):
    """The bytes are present but do not form a valid record."""


class XLMetaTruncated(XLMetaCorrupt):
    """The data stops before the structure it announces is complete."""


class XLMetaChecksumMismatch(XLMetaCorrupt):
    """The CRC stored after the metadata does not match its content."""

    def __init__(self, stored: int, computed: int) -> None:
        super().__init__(f"CRC mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}")
        self.stored = stored
        self.computed = computed


class XLMetaUnsupportedVersion(XLMetaError):
    """A major/minor, header or meta version we do not know how to read."""


class VersionNotFound(LookupError):
    """No version with the requested id exists in this xl.meta."""

    def __init__(self, version_id: str) -> None:
        super().__init__(f"version {version_id} not found")
        self.version_id = version_id


class FormatJSONError(ValueError):
    """format.json is not valid JSON of the expected shape, or of an unknown version."""
