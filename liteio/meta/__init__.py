"""On-disk records: MinIO's ``xl.meta`` and ``format.json``, typed and byte-exact.

The storage layer's entry points:

    XLMeta.load(data)             parse (shallow: headers now, bodies on demand)
    XLMeta.dump()                 serialize as a 1.3 file
    xl.latest() / xl.find(id)     a version record (ObjectVersion | DeleteMarker | ...)
    xl.add_version(rec, inline_data=...) / xl.delete_version(id)
    xl.inline_data(id)            this drive's inline shard stream
    FormatErasureV3.load/dump     format.json
"""

from liteio.meta.envelope import metadata_span
from liteio.meta.errors import (
    FormatJSONError,
    VersionNotFound,
    XLMetaChecksumMismatch,
    XLMetaCorrupt,
    XLMetaError,
    XLMetaTruncated,
    XLMetaUnsupportedVersion,
)
from liteio.meta.format_json import FormatErasureV3
from liteio.meta.header import (
    FLAG_FREE_VERSION,
    FLAG_INLINE_DATA,
    FLAG_USES_DATA_DIR,
    TYPE_DELETE_MARKER,
    TYPE_LEGACY,
    TYPE_OBJECT,
    VersionHeader,
)
from liteio.meta.ids import NULL_VERSION_ID, version_id_bytes, version_id_str
from liteio.meta.inline import InlineData
from liteio.meta.signature import header_of, signature_of
from liteio.meta.versions import (
    INLINE_DATA_KEY,
    DeleteMarker,
    LegacyObject,
    ObjectPart,
    ObjectVersion,
    Version,
)
from liteio.meta.xlmeta import VersionEntry, XLMeta

__all__ = [
    "FLAG_FREE_VERSION",
    "FLAG_INLINE_DATA",
    "FLAG_USES_DATA_DIR",
    "INLINE_DATA_KEY",
    "NULL_VERSION_ID",
    "TYPE_DELETE_MARKER",
    "TYPE_LEGACY",
    "TYPE_OBJECT",
    "DeleteMarker",
    "FormatErasureV3",
    "FormatJSONError",
    "InlineData",
    "LegacyObject",
    "ObjectPart",
    "ObjectVersion",
    "Version",
    "VersionEntry",
    "VersionHeader",
    "VersionNotFound",
    "XLMeta",
    "XLMetaChecksumMismatch",
    "XLMetaCorrupt",
    "XLMetaError",
    "XLMetaTruncated",
    "XLMetaUnsupportedVersion",
    "header_of",
    "metadata_span",
    "signature_of",
    "version_id_bytes",
    "version_id_str",
]
