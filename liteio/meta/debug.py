"""``liteio debug xl-meta FILE...``: print xl.meta files as JSON.

For operators and for us: what a drive really holds (versions, erasure
layout, parts, metadata, inline data, signatures, load-time fixes). Each file
is printed as one JSON document; a damaged file gets a one-line message on
stderr instead, the remaining files are still printed, and the exit status
is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from liteio.meta.checksums import CHECKSUM_KEY, parse_checksum_blob
from liteio.meta.errors import XLMetaError
from liteio.meta.header import TYPE_NAMES, VersionHeader
from liteio.meta.ids import format_rfc3339_nano, uuid_str, version_id_str
from liteio.meta.versions import DeleteMarker, LegacyObject, ObjectVersion
from liteio.meta.xlmeta import VersionEntry, XLMeta

PROG = "liteio debug xl-meta"


def _text_or_hex(value: bytes) -> Any:
    """Metadata values are usually ASCII; binary ones (sealed keys, CRC blobs) as hex."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": value.hex()}
    return text if text.isprintable() else {"hex": value.hex()}


def _checksums(blob: bytes) -> Any:
    try:
        records = parse_checksum_blob(blob)
    except XLMetaError as exc:
        return {"error": str(exc)}
    return [
        {
            "algorithm": r.algorithm,
            "type_bits": r.type_bits,
            "value": r.value_b64,
            "multipart": r.is_multipart,
            "full_object": r.is_full_object,
            "part_count": r.part_count,
            "parts": [p.hex() for p in r.part_values],
        }
        for r in records
    ]


def _flags(header: VersionHeader) -> dict[str, Any]:
    return {
        "value": header.flags,
        "free_version": header.is_free_version,
        "uses_data_dir": header.uses_data_dir,
        "inline_data": header.has_inline_flag,
    }


def _object(rec: ObjectVersion, xl: XLMeta) -> dict[str, Any]:
    stored = xl.inline.get(rec.version_id)
    sys_meta = rec.meta_sys
    out: dict[str, Any] = {
        "data_dir": uuid_str(rec.data_dir),
        "erasure": {
            "algorithm": rec.ec_algo,
            "data": rec.ec_m,
            "parity": rec.ec_n,
            "block_size": rec.ec_block_size,
            "index": rec.ec_index,
            "distribution": rec.ec_dist,
            "checksum_algorithm": rec.csum_algo,
        },
        "size": rec.size,
        "actual_size": rec.actual_size,
        "etag": rec.etag,
        "parts": {
            "count": len(rec.part_numbers),
            "numbers": rec.part_numbers,
            "sizes": rec.part_sizes,
            "actual_sizes": rec.part_actual_sizes,
            "etags": rec.part_etags,
            "index_sizes": None if rec.part_indices is None else [len(i) for i in rec.part_indices],
        },
        "inline": {
            "requested": rec.inline_flag,
            "stored": stored is not None,
            "size": None if stored is None else len(stored),
        },
        "meta_sys": None if sys_meta is None else {k: _text_or_hex(v) for k, v in sys_meta.items()},
        "meta_usr": rec.meta_usr,
    }
    blob = rec.meta_sys_get(CHECKSUM_KEY)
    if blob is not None:
        out["checksums"] = _checksums(blob)
    if rec.extras is not None and rec.extras.unknown:
        out["unknown_fields"] = {k: v.hex() for k, v in rec.extras.unknown.items()}
    return out


def _version(i: int, entry: VersionEntry, xl: XLMeta) -> dict[str, Any]:
    header = entry.header
    rec = entry.version
    out: dict[str, Any] = {
        "index": i,
        "type": TYPE_NAMES.get(header.type, str(header.type)),
        "version_id": header.version_id_text,
        "mod_time": format_rfc3339_nano(header.mod_time),
        "mod_time_ns": header.mod_time,
        "signature": header.signature.hex(),
        "flags": _flags(header),
        "header_ec": {"parity": header.ec_n, "data": header.ec_m},
        "written_by": rec.written_by,
    }
    if isinstance(rec, ObjectVersion):
        out.update(_object(rec, xl))
    elif isinstance(rec, DeleteMarker):
        out["free_version"] = rec.is_free_version
        out["meta_sys"] = (
            None if rec.meta_sys is None else {k: _text_or_hex(v) for k, v in rec.meta_sys.items()}
        )
    elif isinstance(rec, LegacyObject):
        out["legacy_v1_object_bytes"] = len(rec.raw)
    if rec.body_extras is not None and rec.body_extras.unknown:
        out["unknown_body_fields"] = {k: v.hex() for k, v in rec.body_extras.unknown.items()}
    return out


def describe(xl: XLMeta, *, path: str = "", file_size: int | None = None) -> dict[str, Any]:
    """The JSON-ready description of one loaded xl.meta."""
    inline = xl.inline
    return {
        "file": path,
        "file_size": file_size,
        "envelope": xl.source_version,
        "header_version": xl.source_header_version or None,
        "meta_version": xl.source_meta_version,
        "crc": None if xl.stored_crc is None else f"{xl.stored_crc:08x}",
        "version_count": len(xl),
        "versions": [_version(i, e, xl) for i, e in enumerate(xl.entries)],
        "inline_data": {
            "entries": inline.sizes(),
            "repaired": inline.repaired,
        },
        "load_fixes": [
            {
                "version_id": version_id_str(f.version_id),
                "fix": f.fix,
                "stored_signature": f.stored_signature.hex(),
                "signature": f.signature.hex(),
            }
            for f in xl.load_fixes
        ],
    }


def _resolve(path: Path) -> Path:
    """Accept an object directory as well as the xl.meta inside it."""
    return path / "xl.meta" if path.is_dir() else path


def run_xl_meta(args: argparse.Namespace) -> int:
    failures = 0
    for name in args.files:
        path = _resolve(Path(name))
        try:
            data = path.read_bytes()
            xl = XLMeta.load(data, verify_crc=not args.skip_crc)
            doc = describe(xl, path=str(path), file_size=len(data))
        except OSError as exc:
            print(f"{PROG}: {path}: {exc.strerror or exc}", file=sys.stderr)
            failures += 1
            continue
        except XLMetaError as exc:
            print(f"{PROG}: {path}: damaged xl.meta: {exc}", file=sys.stderr)
            failures += 1
            continue
        indent = None if args.compact else 2
        sys.stdout.write(json.dumps(doc, indent=indent) + "\n")
        sys.stdout.flush()
    return 1 if failures else 0


def add_debug_commands(commands: Any) -> None:
    """Register ``debug`` and its subcommands on the top-level subparsers."""
    debug = commands.add_parser(
        "debug",
        help="inspect on-disk structures",
        description="Inspect liteio/MinIO on-disk structures without a running server.",
    )
    sub = debug.add_subparsers(dest="debug_command", metavar="WHAT")
    xl_meta = sub.add_parser(
        "xl-meta",
        help="print xl.meta files as JSON",
        description="Print each xl.meta (or object directory holding one) as a JSON "
        "document: versions, erasure layout, parts, metadata, inline data, signatures. "
        "Exits 1 if any file is damaged or unreadable; the others are still printed.",
    )
    xl_meta.add_argument("files", nargs="+", metavar="FILE", help="xl.meta file or object dir")
    xl_meta.add_argument(
        "--compact", action="store_true", help="one line per file (JSON Lines) instead of indented"
    )
    xl_meta.add_argument(
        "--skip-crc", action="store_true", help="decode even if the stored CRC does not match"
    )
    xl_meta.set_defaults(handler=run_xl_meta)

    def _usage(_: argparse.Namespace) -> int:
        debug.print_help(sys.stderr)
        return 2

    debug.set_defaults(handler=_usage)
