"""Decoding version bodies into records (see ``versions.py`` for the layout).

Tiers, each taken only when the one before declines:

    canonical   the maps hold exactly the keys of MinIO's writer, in its order,
                each value of the kind its converter takes without coercion:
                the record is built directly (extras None). A body in its own
                buffer is read by ``liteio._ext.xlscan.decode_body`` in C
                (~3 us); one inside a journal, already unpacked into dicts by
                the reader, is checked in ``_canonical`` (inlined type checks).
    document    the unpacked dicts, each field through its converter
                (bin/str coercion, nil lists, other key orders -> extras).
    streaming   a walk that keeps unknown values' exact bytes so they can be
                written back unchanged (unknown keys, ``V1Obj``), and that
                names the field when the body is damaged.

The canonical tier never raises: anything it does not recognise, damage
included, goes down a tier, so errors always come from the tiers below.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from liteio._ext.xlscan import decode_body as _decode_body
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


# --- canonical tier: the writer's exact layout, checks inlined ----------------------

# Whether the canonical tier is tried (tests compare the tiers by switching it
# off; LITEIO_META_FAST_PATH=0 does it for a process).
FAST_BODY = os.environ.get("LITEIO_META_FAST_PATH", "1") != "0"

# Key orders for which ``_extras_for`` yields None: the writer's, with the
# omitempty keys either present or absent.
_OBJECT_KEYS = [f.key for f in OBJECT_FIELDS]
_OBJECT_KEYS_NO_IDX = [k for k in _OBJECT_KEYS if k != "PartIdx"]
_DELETE_MARKER_KEYS = [f.key for f in DELETE_MARKER_FIELDS]
_DELETE_MARKER_KEYS_NO_SYS = [k for k in _DELETE_MARKER_KEYS if k != "MetaSys"]
_OBJECT_BODY = [f.key for f in BODY_FIELDS[TYPE_OBJECT]]
_DELETE_MARKER_BODY = [f.key for f in BODY_FIELDS[TYPE_DELETE_MARKER]]
_OBJECT_BODY_NO_V = _OBJECT_BODY[:2]
_DELETE_MARKER_BODY_NO_V = _DELETE_MARKER_BODY[:2]
_INT: frozenset[type] = frozenset({int})
_STR: frozenset[type] = frozenset({str})
_BYTES: frozenset[type] = frozenset({bytes})


def _all(items: Iterable[Any], kind: frozenset[type]) -> bool:
    """Every item has exactly this type (bool is not int). PERF: one C-level pass."""
    return set(map(type, items)) <= kind


def _sys_map(value: Any) -> bool:
    return value is None or (
        type(value) is dict and _all(value, _STR) and set(map(type, value.values())) <= _BYTES
    )


def _usr_map(value: Any) -> bool:
    return value is None or (
        type(value) is dict and _all(value, _STR) and set(map(type, value.values())) <= _STR
    )


def _canonical_object(m: Any, written_by: int | None) -> ObjectVersion | None:
    if type(m) is not dict:
        return None
    order = list(m)
    if order == _OBJECT_KEYS_NO_IDX:
        indices = None
    elif order == _OBJECT_KEYS:
        indices = m["PartIdx"]
        if indices is not None and not (type(indices) is list and _all(indices, _BYTES)):
            return None
    else:
        return None
    vid, ddir = m["ID"], m["DDir"]
    ec_algo, ec_m, ec_n, block = m["EcAlgo"], m["EcM"], m["EcN"], m["EcBSize"]
    ec_index, dist, csum, nums = m["EcIndex"], m["EcDist"], m["CSumAlgo"], m["PartNums"]
    etags, sizes, asizes = m["PartETags"], m["PartSizes"], m["PartASizes"]
    size, mtime, meta_sys, meta_usr = m["Size"], m["MTime"], m["MetaSys"], m["MetaUsr"]
    if not (
        type(vid) is bytes
        and len(vid) == 16
        and type(ddir) is bytes
        and len(ddir) == 16
        and _all([ec_algo, ec_m, ec_n, block, ec_index, csum, size, mtime], _INT)
        and ec_algo >= 0
        and csum >= 0
        and type(dist) is list
        and _all(dist, _INT)
        and (not dist or min(dist) >= 0)
        and type(nums) is list
        and _all(nums, _INT)
        and (etags is None or (type(etags) is list and _all(etags, _STR)))
        and type(sizes) is list
        and _all(sizes, _INT)
        and (asizes is None or (type(asizes) is list and _all(asizes, _INT)))
        and _sys_map(meta_sys)
        and _usr_map(meta_usr)
    ):
        return None
    return ObjectVersion(
        vid, ddir, ec_algo, ec_m, ec_n, block, ec_index, dist, csum, nums, etags, sizes,
        asizes, indices, size, mtime, meta_sys, meta_usr, written_by,
    )  # fmt: skip


def _canonical_delete_marker(m: Any, written_by: int | None) -> DeleteMarker | None:
    if type(m) is not dict:
        return None
    order = list(m)
    if order == _DELETE_MARKER_KEYS:
        meta_sys = m["MetaSys"]
        if not _sys_map(meta_sys):
            return None
    elif order == _DELETE_MARKER_KEYS_NO_SYS:
        meta_sys = None  # absent means nil here, not the writer default {}
    else:
        return None
    vid, mtime = m["ID"], m["MTime"]
    if not (type(vid) is bytes and len(vid) == 16 and type(mtime) is int):
        return None
    return DeleteMarker(vid, mtime, meta_sys, written_by)


def _canonical(doc: Any) -> Version | None:
    """The record of a body in the writer's exact layout, or None (never raises)."""
    if type(doc) is not dict:
        return None
    order = list(doc)
    vtype = doc.get("Type")
    written_by = doc.get("v")
    if type(vtype) is not int or not (
        written_by is None or (type(written_by) is int and written_by >= 0)
    ):
        return None
    if vtype == TYPE_OBJECT and (order == _OBJECT_BODY or order == _OBJECT_BODY_NO_V):
        return _canonical_object(doc["V2Obj"], written_by)
    if vtype == TYPE_DELETE_MARKER and (
        order == _DELETE_MARKER_BODY or order == _DELETE_MARKER_BODY_NO_V
    ):
        return _canonical_delete_marker(doc["DelObj"], written_by)
    return None


# --- document tier: one unpack() per body, then a converter per field --------------


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


# --- streaming tier: keeps unknown values' bytes ------------------------------------


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
    rec = _canonical(doc) if FAST_BODY else None
    if rec is None:
        rec = _from_document(doc)
    if rec is None:
        rec = _stream_version(msgp.Reader(r.slice(start, r.tell()), ""))
    return rec


def decode_version(body: bytes | memoryview) -> Version:
    """Decode a version body held in its own buffer (the bin after a header)."""
    if FAST_BODY:
        found = _decode_body(body)
        if found is not None:
            vtype, args = found
            return ObjectVersion(*args) if vtype == TYPE_OBJECT else DeleteMarker(*args)
    return read_version(msgp.Reader(body, ""))
