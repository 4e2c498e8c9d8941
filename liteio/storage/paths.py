"""Names on a drive: the reserved system volume and checks on caller paths.

Layout of one drive (MinIO's)::

    <root>/.minio.sys/format.json                  drive identity and set layout
    <root>/.minio.sys/tmp/<uuid>/...               staging for writes in flight
    <root>/.minio.sys/multipart/<hash>/<upload>/   multipart uploads
    <root>/.minio.sys/buckets/<bucket>/...         bucket configuration
    <root>/<bucket>/<key...>/xl.meta               all versions of an object
    <root>/<bucket>/<key...>/<data-dir>/part.N     shard streams of large versions
"""

from __future__ import annotations

from liteio.storage.errors import PathInvalid

SYSTEM_VOLUME = ".minio.sys"
TMP_DIR = "tmp"
TRASH_DIR = "tmp/.trash"
MULTIPART_DIR = "multipart"
BUCKETS_DIR = "buckets"
FORMAT_FILE = "format.json"
XL_META = "xl.meta"
# A key ending in "/" is stored as a directory with this suffix (MinIO's rule),
# so "photos/" and "photos" are different objects on disk too.
DIR_SUFFIX = "__XLDIR__"

NAME_MAX = 255
PATH_MAX = 4000


def check_volume(volume: str) -> str:
    if not volume or "/" in volume or volume in (".", "..") or "\0" in volume:
        raise PathInvalid(f"invalid volume name {volume!r}")
    if len(volume.encode()) > NAME_MAX:
        raise PathInvalid("volume name too long")
    return volume


def check_path(path: str) -> str:
    """A relative path inside a volume: no empty, '.', '..' or over-long components."""
    if not path:
        raise PathInvalid("empty path")
    if "\0" in path:
        raise PathInvalid("path contains NUL")
    if len(path.encode()) > PATH_MAX:
        raise PathInvalid("path too long")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise PathInvalid(f"path {path!r} has an empty, '.' or '..' component")
        if len(part.encode()) > NAME_MAX:
            raise PathInvalid(f"path component longer than {NAME_MAX} bytes")
    return path


def encode_key(key: str) -> str:
    """The on-disk path of an object key (trailing '/' becomes the dir suffix)."""
    if key.endswith("/"):
        return key[:-1] + DIR_SUFFIX
    return key


def decode_key(path: str) -> str:
    if path.endswith(DIR_SUFFIX):
        return path[: -len(DIR_SUFFIX)] + "/"
    return path
