"""``XLMeta``: one object's xl.meta on one drive, every version plus inline data.

Loading is shallow by design, because listing calls it for every object:

    envelope (magic, version, CRC)        checked eagerly, one xxh64 pass
    headers (id, mtime, type, sig, ...)   decoded eagerly, one Unpacker pass
    bodies                                kept as bytes, decoded on first use
    inline section                        kept as a view, parsed on first use

so ``XLMeta.load(data).latest()`` decodes one header array per version and a
single body. Journals from 1.0-1.2 files carry no headers; their bodies are
all decoded to derive headers, as MinIO does.

PERF: a 1.3 file goes first through ``liteio._ext.xlscan.scan``, one C pass
over envelope, CRC and headers (~1 us against ~40 us for the Python path).
It accepts only what the Python path accepts and returns None otherwise, so
anything unusual or damaged is loaded (and reported) by the Python path.
Both build the same entries; load-time fixes and sorting then run on either.

Versions are kept sorted latest-first (``VersionHeader.sort_key``). Records
returned by ``find``/``latest`` are the cached decodes: treat them as
read-only and pass a modified copy to ``add_version``.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from liteio._ext.xlscan import scan as _scan
from liteio.meta import msgp
from liteio.meta.bodydec import decode_version, read_version
from liteio.meta.envelope import build_envelope, parse_envelope
from liteio.meta.errors import VersionNotFound, XLMetaCorrupt, XLMetaError
from liteio.meta.errors import XLMetaUnsupportedVersion as Unsupported
from liteio.meta.fixes import (
    LoadFix,
    fix_part_indices,
    fix_timestamps,
    needs_index_fix,
    needs_timestamp_fix,
)
from liteio.meta.header import (
    HEADER_VERSION,
    META_VERSION,
    TYPE_OBJECT,
    VersionHeader,
)
from liteio.meta.ids import VersionIdLike, version_id_bytes, version_id_str
from liteio.meta.inline import InlineData
from liteio.meta.signature import header_of, signature_of
from liteio.meta.versions import DeleteMarker, ObjectVersion, Version

if TYPE_CHECKING:
    from liteio._ext.xlscan import ScanResult

# Whether ``XLMeta.load`` tries the compiled scan first (tests compare both
# paths by switching this off; LITEIO_META_FAST_PATH=0 does it for a process).
FAST_SCAN = os.environ.get("LITEIO_META_FAST_PATH", "1") != "0"


class VersionEntry:
    """A header plus its body, the body decoded only when asked for."""

    __slots__ = ("_body", "_record", "header")

    def __init__(self, header: VersionHeader, body: bytes | None, record: Version | None) -> None:
        self.header = header
        self._body = body
        self._record = record

    @property
    def version(self) -> Version:
        if self._record is None:
            assert self._body is not None
            try:
                rec = decode_version(self._body)
            except XLMetaCorrupt as exc:
                raise type(exc)(f"version {self.header.version_id_text}: {exc}") from None
            if rec.TYPE != self.header.type or rec.version_id != self.header.version_id:
                raise XLMetaCorrupt(
                    f"version {self.header.version_id_text}: body (type {rec.TYPE}, id "
                    f"{rec.version_id_text}) does not match its header (type {self.header.type})"
                )
            self._record = rec
        return self._record

    @property
    def body(self) -> bytes:
        """The body bytes as they will be written (the stored bytes if unchanged)."""
        if self._body is None:
            assert self._record is not None
            self._body = self._record.to_msgpack()
        return self._body

    @property
    def is_decoded(self) -> bool:
        return self._record is not None

    def replace_record(self, record: Version) -> None:
        """Swap in a changed body and re-derive the signature."""
        self._record = record
        self._body = None
        self.header.signature = signature_of(record)

    def __repr__(self) -> str:
        h = self.header
        return f"<VersionEntry {h.version_id_text} type={h.type} sig={h.signature.hex()}>"


def _sort(entries: list[VersionEntry]) -> None:
    entries.sort(key=lambda e: e.header.sort_key())


class XLMeta:
    """All versions of one object as stored on one drive."""

    __slots__ = (
        "_inline",
        "_inline_raw",
        "entries",
        "load_fixes",
        "source_header_version",
        "source_meta_version",
        "source_version",
        "stored_crc",
    )

    def __init__(self) -> None:
        self.entries: list[VersionEntry] = []
        self.source_version = "1.3"  # envelope version it was read from
        self.source_header_version = HEADER_VERSION
        self.source_meta_version = META_VERSION
        self.stored_crc: int | None = None
        self.load_fixes: list[LoadFix] = []
        self._inline_raw: memoryview | None = memoryview(b"")
        self._inline: InlineData | None = None

    # --- loading -------------------------------------------------------------

    @classmethod
    def load(
        cls,
        data: bytes | bytearray | memoryview,
        *,
        verify_crc: bool = True,
        apply_fixes: bool = True,
        inline: bool = True,
    ) -> XLMeta:
        """Parse an xl.meta of any envelope version (1.0-1.3).

        ``apply_fixes`` applies MinIO's load-time fixes (on by default, so
        signatures agree with MinIO's). ``inline=False`` is for a metadata-only
        prefix of the file (see ``envelope.metadata_span``): the inline section
        is then unavailable rather than silently empty.
        """
        if not isinstance(data, bytes):
            data = bytes(data)  # views below must not see later mutations
        if FAST_SCAN:
            found = _scan(data, verify_crc)
            if found is not None:
                return cls._from_scan(data, found, apply_fixes, inline)
        env = parse_envelope(data, verify_crc=verify_crc)
        xl = cls()
        xl.source_version = env.version
        xl.stored_crc = env.crc
        if env.is_legacy_journal:
            xl.source_header_version = 0  # none stored; derived from the bodies
            xl.source_meta_version = 1
            xl.entries = _load_journal(env.metadata)
        else:
            hv, mv, xl.entries = _load_indexed(env.metadata)
            xl.source_header_version, xl.source_meta_version = hv, mv
        if apply_fixes:
            xl._apply_fixes()
        _sort(xl.entries)
        xl._inline_raw = env.inline if inline else None
        return xl

    @classmethod
    def _from_scan(
        cls,
        data: bytes,
        found: ScanResult,
        apply_fixes: bool,
        inline: bool,
    ) -> XLMeta:
        """The rest of ``load`` for a file ``xlscan.scan`` accepted (same result)."""
        header_version, meta_version, crc, inline_at, in_order, versions = found
        xl = cls()
        xl.source_version = "1.3"
        xl.source_header_version = header_version
        xl.source_meta_version = meta_version
        xl.stored_crc = crc
        xl.entries = [
            VersionEntry(
                VersionHeader(vid, mtime, sig, vtype, flags, ec_n, ec_m), data[at : at + size], None
            )
            for vid, mtime, sig, vtype, flags, ec_n, ec_m, at, size in versions
        ]
        if apply_fixes:
            xl._apply_fixes()  # the same fixes as below: only metaVersion < 3 needs any
        # The scan checked the stored order; a fix changes a signature, which
        # can change it. (Sorting is stable, so skipping it on sorted input is exact.)
        if not in_order or xl.load_fixes:
            _sort(xl.entries)
        xl._inline_raw = memoryview(data)[inline_at:] if inline else None
        return xl

    def _apply_fixes(self) -> None:
        mv = self.source_meta_version
        if mv >= META_VERSION:
            return
        for entry in self.entries:
            body = entry.body
            if needs_timestamp_fix(mv, entry.header, body):
                rec = entry.version
                name = "replication timestamps to UTC"
                changed = isinstance(rec, DeleteMarker) and fix_timestamps(rec)
            elif needs_index_fix(mv, entry.header, body):
                rec = entry.version
                name = "dropped compression indexes of small parts"
                changed = isinstance(rec, ObjectVersion) and fix_part_indices(rec)
            else:
                continue
            if changed:
                stored = entry.header.signature
                entry.replace_record(rec)
                self.load_fixes.append(
                    LoadFix(entry.header.version_id, name, stored, entry.header.signature)
                )

    # --- writing -------------------------------------------------------------

    def dump_metadata(
        self, *, header_version: int = HEADER_VERSION, meta_version: int = META_VERSION
    ) -> bytes:
        """The indexed metadata (the 1.3 bin content) without the envelope."""
        if header_version not in (2, 3):
            raise ValueError(f"cannot write header version {header_version}")
        if not 1 <= meta_version <= META_VERSION:
            raise ValueError(f"cannot write meta version {meta_version}")
        out = bytearray()
        msgp.put_uint(out, header_version)
        msgp.put_uint(out, meta_version)
        msgp.put_int(out, len(self.entries))
        for entry in self.entries:
            header = entry.header
            if header_version >= 3 and header.type == TYPE_OBJECT and header.ec_m == 0:
                # Headers read from headerVersion < 3 files lack the EC counts.
                rec = entry.version
                if isinstance(rec, ObjectVersion):
                    header.ec_n, header.ec_m = rec.ec_n, rec.ec_m
            msgp.put_bin(out, header.to_msgpack(header_version))
            msgp.put_bin(out, entry.body)
        return bytes(out)

    def dump(
        self, *, header_version: int = HEADER_VERSION, meta_version: int = META_VERSION
    ) -> bytes:
        """The whole file as a 1.3 envelope (what MinIO's current writer emits).

        Older header/meta versions are only for byte-exact round trips of
        files read with ``apply_fixes=False``.
        """
        meta = self.dump_metadata(header_version=header_version, meta_version=meta_version)
        if self._inline is not None:
            section: bytes | memoryview = self._inline.to_bytes()
        elif self._inline_raw is not None:
            section = self._inline_raw
        else:
            raise XLMetaError("cannot write an xl.meta that was loaded without its inline data")
        return build_envelope(meta, section)

    # --- queries -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[VersionEntry]:
        return iter(self.entries)

    @property
    def headers(self) -> list[VersionHeader]:
        return [e.header for e in self.entries]

    def versions(self, *, include_free: bool = True) -> list[Version]:
        """Every version, latest first (decodes all bodies)."""
        return [e.version for e in self.entries if include_free or not e.header.is_free_version]

    def index_of(self, version_id: VersionIdLike) -> int | None:
        vid = version_id_bytes(version_id)
        for i, entry in enumerate(self.entries):
            if entry.header.version_id == vid:
                return i
        return None

    def find_entry(self, version_id: VersionIdLike) -> VersionEntry | None:
        i = self.index_of(version_id)
        return None if i is None else self.entries[i]

    def find(self, version_id: VersionIdLike) -> Version | None:
        """The version with this id ("null"/None for the null version), or None."""
        entry = self.find_entry(version_id)
        return None if entry is None else entry.version

    def latest_entry(self, *, include_free: bool = False) -> VersionEntry | None:
        for entry in self.entries:
            if include_free or not entry.header.is_free_version:
                return entry
        return None

    def latest(self, *, include_free: bool = False) -> Version | None:
        """The current version (may be a delete marker); free versions are skipped
        unless asked for, since S3 never shows them."""
        entry = self.latest_entry(include_free=include_free)
        return None if entry is None else entry.version

    def data_dir_users(self, data_dir: bytes) -> int:
        """How many object versions point at ``data_dir`` (a data dir shared by
        several versions must outlive the deletion of one of them)."""
        count = 0
        for entry in self.entries:
            if entry.header.type == TYPE_OBJECT and entry.header.uses_data_dir:
                rec = entry.version
                if isinstance(rec, ObjectVersion) and rec.data_dir == data_dir:
                    count += 1
        return count

    # --- inline data ----------------------------------------------------------

    @property
    def inline(self) -> InlineData:
        """The inline-data section (parsed on first use; a damaged section is cut
        to its valid prefix, as MinIO does, and ``inline.repaired`` is set)."""
        if self._inline is None:
            if self._inline_raw is None:
                raise XLMetaError("xl.meta was loaded without its inline data")
            self._inline = InlineData.parse(self._inline_raw, repair=True)
        return self._inline

    def inline_data(self, version_id: VersionIdLike) -> bytes | None:
        """This drive's shard stream of an inlined version, or None."""
        return self.inline.get(version_id)

    # --- mutations ------------------------------------------------------------

    def add_version(
        self, version: Version, *, inline_data: bytes | bytearray | memoryview | None = None
    ) -> VersionHeader:
        """Insert a version, replacing one with the same id (the null version too).

        ``inline_data`` stores this drive's shard stream in the inline section;
        without it a replaced version's old inline entry is dropped.
        """
        header = header_of(version)
        entry = VersionEntry(header, version.to_msgpack(), version)
        old = self.index_of(version.version_id)
        if old is not None:
            del self.entries[old]
        if inline_data is not None:
            self.inline.set(version.version_id, inline_data)
        elif old is not None and self._has_inline_entries():
            self.inline.remove(version.version_id)
        bisect.insort(self.entries, entry, key=lambda e: e.header.sort_key())
        return header

    def update_version(self, version: Version) -> VersionHeader:
        """Replace an existing version's body (e.g. new metadata or tags) and keep
        its inline data; raises ``VersionNotFound`` if there is no such version."""
        i = self.index_of(version.version_id)
        if i is None:
            raise VersionNotFound(version_id_str(version.version_id))
        header = header_of(version)
        del self.entries[i]
        entry = VersionEntry(header, version.to_msgpack(), version)
        bisect.insort(self.entries, entry, key=lambda e: e.header.sort_key())
        return header

    def delete_version(self, version_id: VersionIdLike) -> VersionEntry:
        """Remove a version and its inline data; returns the removed entry.

        The entry (not the decoded record) is returned so that a version whose
        body is damaged can still be deleted; ``entry.version`` decodes it.
        """
        i = self.index_of(version_id)
        if i is None:
            raise VersionNotFound(version_id_str(version_id_bytes(version_id)))
        entry = self.entries.pop(i)
        if self._has_inline_entries():
            self.inline.remove(entry.header.version_id)
        return entry

    def _has_inline_entries(self) -> bool:
        if self._inline is not None:
            return len(self._inline) > 0
        return self._inline_raw is None or len(self._inline_raw) > 0

    def __repr__(self) -> str:
        return f"<XLMeta {len(self.entries)} versions from {self.source_version}>"


def _load_indexed(content: memoryview) -> tuple[int, int, list[VersionEntry]]:
    """Parse 1.3 content: hdr ver, meta ver, count, then count x (bin header, bin body)."""
    r = msgp.Reader(content, "xl.meta")
    header_version = r.value("header version")
    meta_version = r.value("meta version")
    count = r.value("version count")
    for name, value in (("header", header_version), ("meta", meta_version), ("count", count)):
        if type(value) is not int or value < 0:
            raise XLMetaCorrupt(f"xl.meta: {name} version field is not an unsigned integer")
    if not 1 <= header_version <= HEADER_VERSION:
        raise Unsupported(f"unknown xl.meta header version {header_version}")
    if meta_version > META_VERSION:
        raise Unsupported(f"unknown xl.meta meta version {meta_version}")
    entries: list[VersionEntry] = []
    for i in range(count):
        raw_header = r.value(f"version {i} header")
        body = r.value(f"version {i} body")
        if not isinstance(raw_header, bytes) or not isinstance(body, bytes):
            raise XLMetaCorrupt(f"xl.meta: version {i}: header and body must be msgpack bin")
        try:
            header = VersionHeader.from_msgpack(raw_header, header_version)
        except XLMetaCorrupt as exc:
            raise XLMetaCorrupt(f"xl.meta: version {i}: {exc}") from None
        entries.append(VersionEntry(header, body, None))
    return header_version, meta_version, entries


def _load_journal(journal: memoryview) -> list[VersionEntry]:
    """Parse a 1.0-1.2 journal map {"Versions": [body, ...]}; derive every header."""
    r = msgp.Reader(journal, "")
    entries: list[VersionEntry] = []
    for _ in range(r.map_header("xl.meta journal")):
        key = r.key("xl.meta journal key")
        if key != "Versions":
            r.raw(f"xl.meta journal.{key}")
            continue
        if r.peek_byte() == 0xC0:
            r.value("xl.meta journal.Versions")
            continue
        for i in range(r.array_header("xl.meta journal.Versions")):
            start = r.tell()
            try:
                rec = read_version(r)
                header = header_of(rec)
            except XLMetaCorrupt as exc:
                raise type(exc)(f"xl.meta journal: version {i}: {exc}") from None
            except ValueError as exc:  # EC counts that do not fit a header
                raise XLMetaCorrupt(f"xl.meta journal: version {i}: {exc}") from None
            entries.append(VersionEntry(header, bytes(journal[start : r.tell()]), rec))
    return entries
