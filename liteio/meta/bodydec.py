"""Decoding version bodies into records (see ``versions.py`` for the layout).

PERF: the common body (only keys MinIO's writer knows) is decoded with one C
``unpack`` into nested dicts, then each field is type-checked and converted.
Only a body with a key we do not know (or a legacy ``V1Obj``) takes the slow
path: a streaming walk that keeps the unknown values' exact bytes so they can
be written back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liteio.meta import msgp
from liteio.meta.bodyenc import (
    BODY_FIELDS,
    DELETE_MARKER_FIELDS,
    OBJECT_FIELDS,
    PAYLOAD_KEY,
    Field,
    emitted,
)
from liteio.meta.errors import XLMetaCorrupt
from liteio.meta.header import TYPE_DELETE_MARKER, TYPE_NAMES, TYPE_OBJECT
from liteio.meta.versions import DeleteMarker, LegacyObject, MapExtras, ObjectVersion, Version

# --- field converters: msgpack-python value -> typed value, or XLMetaCorrupt ----


def _bad(what: str, want: str, value: Any) -> XLMetaCorrupt:
    return XLMetaCorrupt(f"{what}: expected {want}, got {type(value).__name__}")


def _as_uuid(value: Any, what: str) -> bytes:
    if not (isinstance(value, bytes) and len(value) == 16):
        raise _bad(what, "16-byte bin", value)
    return value


def _as_uint(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise _bad(what, "unsigned integer", value)
    return value


def _as_int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise _bad(what, "integer", value)
    return value


def _as_int_list(value: Any, what: str) -> list[int]:
    if value is None:
        return []  # msgp writes these as arrays; a nil from elsewhere reads as empty
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        raise _bad(what, "array of integers", value)
    return value


def _as_uint_list(value: Any, what: str) -> list[int]:
    items = _as_int_list(value, what)
    if any(v < 0 for v in items):
        raise XLMetaCorrupt(f"{what}: negative entry in an unsigned array")
    return items


def _as_opt_int_list(value: Any, what: str) -> list[int] | None:
    return None if value is None else _as_int_list(value, what)


def _to_str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    raise _bad(what, "str", value)


def _to_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise _bad(what, "bin", value)


def _as_opt_str_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _bad(what, "array of str", value)
    return [_to_str(v, what) for v in value]


def _as_opt_bin_list(value: Any, what: str) -> list[bytes] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _bad(what, "array of bin", value)
    return [_to_bytes(v, what) for v in value]


def _as_sys_map(value: Any, what: str) -> dict[str, bytes] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(what, "map", value)
    return {_to_str(k, what): _to_bytes(v, what) for k, v in value.items()}


def _as_usr_map(value: Any, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(what, "map", value)
    return {_to_str(k, what): _to_str(v, what) for k, v in value.items()}


Converter = Callable[[Any, str], Any]
Decoders = dict[str, tuple[str, Converter, str]]  # key -> (attribute, converter, "Map.Key")


def _decoders(map_name: str, spec: dict[str, tuple[str, Converter]]) -> Decoders:
    return {k: (attr, conv, f"{map_name}.{k}") for k, (attr, conv) in spec.items()}


OBJECT_DECODERS = _decoders(
    "V2Obj",
    {
        "ID": ("version_id", _as_uuid),
        "DDir": ("data_dir", _as_uuid),
        "EcAlgo": ("ec_algo", _as_uint),
        "EcM": ("ec_m", _as_int),
        "EcN": ("ec_n", _as_int),
        "EcBSize": ("ec_block_size", _as_int),
        "EcIndex": ("ec_index", _as_int),
        "EcDist": ("ec_dist", _as_uint_list),
        "CSumAlgo": ("csum_algo", _as_uint),
        "PartNums": ("part_numbers", _as_int_list),
        "PartETags": ("part_etags", _as_opt_str_list),
        "PartSizes": ("part_sizes", _as_int_list),
        "PartASizes": ("part_actual_sizes", _as_opt_int_list),
        "PartIdx": ("part_indices", _as_opt_bin_list),
        "Size": ("size", _as_int),
        "MTime": ("mod_time", _as_int),
        "MetaSys": ("meta_sys", _as_sys_map),
        "MetaUsr": ("meta_usr", _as_usr_map),
    },
)

DELETE_MARKER_DECODERS = _decoders(
    "DelObj",
    {
        "ID": ("version_id", _as_uuid),
        "MTime": ("mod_time", _as_int),
        "MetaSys": ("meta_sys", _as_sys_map),
    },
)

# --- building records from decoded maps -----------------------------------------


_ALL_KEYS: dict[int, list[str]] = {}


def _extras_for(
    fields: tuple[Field, ...], rec: Any, order: list[str], unknown: dict[str, bytes]
) -> MapExtras | None:
    """None when the map was in msgp's canonical layout (the usual case)."""
    if not unknown:
        # PERF: with every field present the canonical order is the table's;
        # only when that fails do we work out which omitempty keys drop out.
        all_keys = _ALL_KEYS.get(id(fields))
        if all_keys is None:
            all_keys = _ALL_KEYS[id(fields)] = [f.key for f in fields]
        if order == all_keys or order == [f.key for f in emitted(fields, rec)]:
            return None
    return MapExtras(tuple(order), unknown)


def _object(values: dict[str, Any], order: list[str], unknown: dict[str, bytes]) -> ObjectVersion:
    if "version_id" not in values:
        raise XLMetaCorrupt("V2Obj: missing ID")
    rec = ObjectVersion(**values)
    rec.extras = _extras_for(OBJECT_FIELDS, rec, order, unknown)
    return rec


def _delete_marker(
    values: dict[str, Any], order: list[str], unknown: dict[str, bytes]
) -> DeleteMarker:
    if "version_id" not in values:
        raise XLMetaCorrupt("DelObj: missing ID")
    values.setdefault("meta_sys", None)  # absent means nil here, not the writer default {}
    rec = DeleteMarker(**values)
    rec.extras = _extras_for(DELETE_MARKER_FIELDS, rec, order, unknown)
    return rec


_PAYLOADS: dict[str, tuple[int, Decoders, Callable[..., Version]]] = {
    "V2Obj": (TYPE_OBJECT, OBJECT_DECODERS, _object),
    "DelObj": (TYPE_DELETE_MARKER, DELETE_MARKER_DECODERS, _delete_marker),
}


def _finish(
    vtype: int | None,
    rec: Version | None,
    written_by: int | None,
    order: list[str],
    unknown: dict[str, bytes],
) -> Version:
    if vtype is None:
        raise XLMetaCorrupt("version body: missing Type")
    if vtype not in TYPE_NAMES:
        raise XLMetaCorrupt(f"version body: invalid version type {vtype}")
    if rec is None:
        raise XLMetaCorrupt(f"version body: Type {vtype} without its {PAYLOAD_KEY[vtype]} map")
    if rec.TYPE != vtype:
        raise XLMetaCorrupt(
            f"version body: Type {vtype} but it holds a {TYPE_NAMES[rec.TYPE]} payload"
        )
    rec.written_by = written_by
    rec.body_extras = _extras_for(BODY_FIELDS[vtype], rec, order, unknown)
    return rec


# --- fast path: one unpack() per body ----------------------------------------------


def _from_document(doc: Any) -> Version | None:
    """Build a record from an already-unpacked body; None if the slow path is needed."""
    if not isinstance(doc, dict):
        raise XLMetaCorrupt(f"version body: expected a map, got {type(doc).__name__}")
    rec: Version | None = None
    for key, value in doc.items():
        if key in ("Type", "v"):
            continue
        payload = _PAYLOADS.get(key) if isinstance(value, dict) else None
        if payload is None or rec is not None:
            return None  # unknown key, nil payload, V1Obj or two payloads
        _, decoders, build = payload
        values: dict[str, Any] = {}
        for k, v in value.items():
            spec = decoders.get(k)
            if spec is None:
                return None
            attr, convert, what = spec
            values[attr] = convert(v, what)
        rec = build(values, list(value), {})
    vtype = doc.get("Type")
    vtype = None if vtype is None else _as_uint(vtype, "version body: Type")
    written_by = doc.get("v")
    written_by = None if written_by is None else _as_uint(written_by, "version body: v")
    return _finish(vtype, rec, written_by, list(doc), {})


# --- slow path: streaming, keeping unknown values' bytes ---------------------------


def _stream_map(r: msgp.Reader, name: str) -> Version:
    _, decoders, build = _PAYLOADS[name]
    n = r.map_header(name)
    values: dict[str, Any] = {}
    order: list[str] = []
    unknown: dict[str, bytes] = {}
    for _ in range(n):
        key = r.key(f"{name} key")
        order.append(key)
        spec = decoders.get(key)
        if spec is None:
            unknown[key] = r.raw(f"{name}.{key}")
            continue
        attr, convert, what = spec
        values[attr] = convert(r.value(what), what)
    return build(values, order, unknown)


def _stream_version(r: msgp.Reader) -> Version:
    n = r.map_header("version body")
    vtype: int | None = None
    rec: Version | None = None
    written_by: int | None = None
    order: list[str] = []
    unknown: dict[str, bytes] = {}
    for _ in range(n):
        key = r.key("version body key")
        order.append(key)
        nil_next = r.peek_byte() == 0xC0
        if key == "Type":
            vtype = _as_uint(r.value("Type"), "version body: Type")
        elif key == "v":
            written_by = _as_uint(r.value("v"), "version body: v")
        elif key in ("V2Obj", "DelObj", "V1Obj") and not nil_next:
            if rec is not None:
                raise XLMetaCorrupt("version body: more than one of V1Obj/V2Obj/DelObj")
            if key == "V1Obj":
                rec = LegacyObject(raw=r.raw("V1Obj"))  # opaque: kept byte for byte
            else:
                rec = _stream_map(r, key)
        else:
            unknown[key] = r.raw(f"version body.{key}")
    return _finish(vtype, rec, written_by, order, unknown)


def read_version(r: msgp.Reader) -> Version:
    """Decode the version body at the reader's position (used for journals, where
    bodies sit back to back in one buffer)."""
    start = r.tell()
    doc = r.value("version body")
    rec = _from_document(doc)
    if rec is None:
        rec = _stream_version(msgp.Reader(r.slice(start, r.tell()), ""))
    return rec


def decode_version(body: bytes | memoryview) -> Version:
    """Decode a version body held in its own buffer (the bin after a header)."""
    return read_version(msgp.Reader(body, ""))
