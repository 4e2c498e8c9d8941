"""Storage errors: what can go wrong on one drive, independent of S3.

The object layer counts these per drive to decide quorum; it never looks at
``OSError`` numbers itself.

    StorageError
    +-- DriveOffline        the drive cannot be reached (vanished, timed out, I/O errors)
    +-- DriveFull           no space left
    +-- VolumeNotFound      the bucket directory does not exist
    +-- VolumeExists
    +-- VolumeNotEmpty
    +-- FileNotFound        the object, part or metadata is absent
    +-- VersionNotFound     xl.meta exists but not with that version
    +-- FileCorrupt         present but unreadable: bad xl.meta, failed bitrot check
    +-- PathInvalid         a name the drive refuses (too long, escapes the volume)
    +-- DriveMismatch       the drive's format.json belongs to another deployment/slot
"""

from __future__ import annotations


class StorageError(Exception):
    """A failure of one drive operation."""


class DriveOffline(StorageError):
    """The drive is unreachable or failing; treat everything on it as missing."""


class DriveFull(StorageError):
    """The drive has no space for the write."""


class VolumeNotFound(StorageError):
    pass


class VolumeExists(StorageError):
    pass


class VolumeNotEmpty(StorageError):
    pass


class FileNotFound(StorageError):
    pass


class VersionNotFound(StorageError):
    pass


class FileCorrupt(StorageError):
    """Data is on the drive but fails validation (xl.meta CRC, bitrot hash, short file)."""


class PathInvalid(StorageError):
    """A volume or path name the drive will not store."""


class DriveMismatch(StorageError):
    """The drive's identity does not match the slot it is mounted in."""
