"""``.minio.sys/format.json``: a drive's identity and the cluster's set layout.

MinIO's erasure format v3, as compact JSON (Go's ``json.Marshal`` layout):

    {"version":"1","format":"xl","id":"<deployment uuid>",
     "xl":{"version":"3","this":"<this drive's uuid>",
           "sets":[["<uuid>", ...], ...],          one list per erasure set, in drive order
           "distributionAlgo":"SIPMOD+PARITY"}}   or "SIPMOD", "CRCMOD"

Single-drive deployments use ``"format":"xl-single"``. Keys we do not know
are kept and written back after the known ones.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liteio.meta.errors import FormatJSONError

FORMAT_META_VERSION = "1"
FORMAT_ERASURE = "xl"
FORMAT_ERASURE_SINGLE = "xl-single"
FORMAT_ERASURE_VERSION = "3"

DIST_CRCMOD = "CRCMOD"
DIST_SIPMOD = "SIPMOD"
DIST_SIPMOD_PARITY = "SIPMOD+PARITY"
DISTRIBUTION_ALGOS = (DIST_CRCMOD, DIST_SIPMOD, DIST_SIPMOD_PARITY)

_TOP_KEYS = ("version", "format", "id", "xl")
_XL_KEYS = ("version", "this", "sets", "distributionAlgo")


def _require_uuid(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise FormatJSONError(f"format.json: {what} must be a string")
    try:
        uuid.UUID(value)
    except ValueError:
        raise FormatJSONError(f"format.json: {what} {value!r} is not a UUID") from None
    return value


@dataclass(slots=True)
class FormatErasureV3:
    """One drive's format.json."""

    id: str  # deployment id; also the SipHash key for SIPMOD set selection
    this: str  # this drive's uuid ("" in a cluster-wide reference copy)
    sets: list[list[str]]
    distribution_algo: str = DIST_SIPMOD_PARITY
    format: str = FORMAT_ERASURE
    version: str = FORMAT_META_VERSION
    xl_version: str = FORMAT_ERASURE_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level keys
    xl_extra: dict[str, Any] = field(default_factory=dict)  # unknown keys inside "xl"

    @classmethod
    def new(
        cls,
        set_count: int,
        drives_per_set: int,
        *,
        deployment_id: str | None = None,
        distribution_algo: str = DIST_SIPMOD_PARITY,
    ) -> FormatErasureV3:
        """A fresh layout with random drive ids; ``this`` is left empty, set it
        per drive with ``for_drive``."""
        if set_count < 1 or drives_per_set < 1:
            raise ValueError("a layout needs at least one set of one drive")
        sets = [[str(uuid.uuid4()) for _ in range(drives_per_set)] for _ in range(set_count)]
        single = set_count == 1 and drives_per_set == 1
        return cls(
            id=deployment_id or str(uuid.uuid4()),
            this="",
            sets=sets,
            distribution_algo=distribution_algo,
            format=FORMAT_ERASURE_SINGLE if single else FORMAT_ERASURE,
        )

    def for_drive(self, set_index: int, drive_index: int) -> FormatErasureV3:
        """The copy written to one drive: identical except for ``this``."""
        return FormatErasureV3(
            id=self.id,
            this=self.sets[set_index][drive_index],
            sets=[list(s) for s in self.sets],
            distribution_algo=self.distribution_algo,
            format=self.format,
            version=self.version,
            xl_version=self.xl_version,
            extra=dict(self.extra),
            xl_extra=dict(self.xl_extra),
        )

    @property
    def set_count(self) -> int:
        return len(self.sets)

    @property
    def drives_per_set(self) -> int:
        return len(self.sets[0]) if self.sets else 0

    def drive_position(self, drive_id: str | None = None) -> tuple[int, int] | None:
        """(set index, index within the set) of a drive id (default: this drive)."""
        target = self.this if drive_id is None else drive_id
        for s, drives in enumerate(self.sets):
            for d, candidate in enumerate(drives):
                if candidate == target:
                    return s, d
        return None

    # --- JSON -------------------------------------------------------------------

    @classmethod
    def load(cls, data: bytes | str) -> FormatErasureV3:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatJSONError(f"format.json: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise FormatJSONError("format.json: top level is not an object")
        version = doc.get("version")
        if version != FORMAT_META_VERSION:
            raise FormatJSONError(f"format.json: unknown format version {version!r}")
        fmt = doc.get("format")
        if fmt not in (FORMAT_ERASURE, FORMAT_ERASURE_SINGLE):
            raise FormatJSONError(f"format.json: unsupported backend format {fmt!r}")
        deployment_id = _require_uuid(doc.get("id"), "id")
        xl = doc.get("xl")
        if not isinstance(xl, dict):
            raise FormatJSONError('format.json: missing "xl" section')
        xl_version = xl.get("version")
        if xl_version != FORMAT_ERASURE_VERSION:
            raise FormatJSONError(
                f"format.json: erasure format version {xl_version!r} is not supported "
                f"(only {FORMAT_ERASURE_VERSION!r}; older drives must be migrated by MinIO first)"
            )
        this = xl.get("this", "")
        if this != "":
            _require_uuid(this, "xl.this")
        sets = xl.get("sets")
        if not isinstance(sets, list) or not sets:
            raise FormatJSONError("format.json: xl.sets must be a non-empty list")
        width = None
        for i, drives in enumerate(sets):
            if not isinstance(drives, list) or not drives:
                raise FormatJSONError(f"format.json: xl.sets[{i}] must be a non-empty list")
            for j, drive in enumerate(drives):
                _require_uuid(drive, f"xl.sets[{i}][{j}]")
            if width is not None and len(drives) != width:
                raise FormatJSONError("format.json: erasure sets differ in size")
            width = len(drives)
        algo = xl.get("distributionAlgo")
        if algo not in DISTRIBUTION_ALGOS:
            raise FormatJSONError(f"format.json: unknown distributionAlgo {algo!r}")
        return cls(
            id=deployment_id,
            this=this,
            sets=[list(s) for s in sets],
            distribution_algo=algo,
            format=fmt,
            version=version,
            xl_version=xl_version,
            extra={k: v for k, v in doc.items() if k not in _TOP_KEYS},
            xl_extra={k: v for k, v in xl.items() if k not in _XL_KEYS},
        )

    @classmethod
    def load_file(cls, path: str | Path) -> FormatErasureV3:
        try:
            return cls.load(Path(path).read_bytes())
        except FormatJSONError as exc:
            raise FormatJSONError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        xl: dict[str, Any] = {
            "version": self.xl_version,
            "this": self.this,
            "sets": self.sets,
            "distributionAlgo": self.distribution_algo,
        }
        xl.update(self.xl_extra)
        doc: dict[str, Any] = {"version": self.version, "format": self.format, "id": self.id}
        doc["xl"] = xl
        doc.update(self.extra)
        return doc

    def dump(self) -> bytes:
        """Compact JSON in MinIO's key order (no whitespace, no trailing newline)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
