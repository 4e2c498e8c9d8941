"""Encoding version bodies with msgp's exact layout (see ``versions.py``).

Each on-disk map is described once, as a table of fields in MinIO's writer
order with the Go type of each value. ``encode_map`` writes a record from its
table either in that canonical order or, for a record decoded from a file
whose map differed (key order, unknown keys), in the order it was read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from liteio.meta import msgp
from liteio.meta.header import TYPE_DELETE_MARKER, TYPE_LEGACY, TYPE_OBJECT
from liteio.meta.versions import DeleteMarker, LegacyObject, MapExtras, ObjectVersion, Version

Put = Callable[[bytearray, Any], None]
_NO_OVERRIDES: Mapping[str, Any] = {}


class Field(NamedTuple):
    key: str
    key_bytes: bytes
    attr: str | None  # record attribute; None = the record itself (a nested map)
    put: Put  # writes a non-nil value
    omitempty: bool  # msgp omits the key when the value is nil

    def value(self, rec: Any, overrides: Mapping[str, Any] = _NO_OVERRIDES) -> Any:
        if self.attr is None:
            return rec
        if self.attr in overrides:
            return overrides[self.attr]
        return getattr(rec, self.attr)


def _f(key: str, attr: str | None, put: Put, omitempty: bool = False) -> Field:
    return Field(key, msgp.str_key(key), attr, put, omitempty)


def _put_str_list(out: bytearray, items: list[str]) -> None:
    msgp.put_array_header(out, len(items))
    for s in items:
        msgp.put_str(out, s)


def _put_bin_list(out: bytearray, items: list[bytes]) -> None:
    msgp.put_array_header(out, len(items))
    for b in items:
        msgp.put_bin(out, b)


def _put_sys_map(out: bytearray, meta: dict[str, bytes]) -> None:
    msgp.put_map_header(out, len(meta))
    for k, v in meta.items():
        msgp.put_str(out, k)
        msgp.put_bin(out, v)


def _put_usr_map(out: bytearray, meta: dict[str, str]) -> None:
    msgp.put_map_header(out, len(meta))
    for k, v in meta.items():
        msgp.put_str(out, k)
        msgp.put_str(out, v)


# V2Obj: 17 entries, 18 with PartIdx. Go int -> put_int, uint8 -> put_uint.
OBJECT_FIELDS: tuple[Field, ...] = (
    _f("ID", "version_id", msgp.put_bin),
    _f("DDir", "data_dir", msgp.put_bin),
    _f("EcAlgo", "ec_algo", msgp.put_uint),
    _f("EcM", "ec_m", msgp.put_int),
    _f("EcN", "ec_n", msgp.put_int),
    _f("EcBSize", "ec_block_size", msgp.put_int),
    _f("EcIndex", "ec_index", msgp.put_int),
    _f("EcDist", "ec_dist", msgp.put_uint_array),
    _f("CSumAlgo", "csum_algo", msgp.put_uint),
    _f("PartNums", "part_numbers", msgp.put_int_array),
    _f("PartETags", "part_etags", _put_str_list),
    _f("PartSizes", "part_sizes", msgp.put_int_array),
    _f("PartASizes", "part_actual_sizes", msgp.put_int_array),
    _f("PartIdx", "part_indices", _put_bin_list, omitempty=True),
    _f("Size", "size", msgp.put_int),
    _f("MTime", "mod_time", msgp.put_int),
    _f("MetaSys", "meta_sys", _put_sys_map),
    _f("MetaUsr", "meta_usr", _put_usr_map),
)

DELETE_MARKER_FIELDS: tuple[Field, ...] = (
    _f("ID", "version_id", msgp.put_bin),
    _f("MTime", "mod_time", msgp.put_int),
    _f("MetaSys", "meta_sys", _put_sys_map, omitempty=True),
)


def _put_object(out: bytearray, rec: ObjectVersion) -> None:
    encode_map(out, OBJECT_FIELDS, rec, rec.extras)


def _put_delete_marker(out: bytearray, rec: DeleteMarker) -> None:
    encode_map(out, DELETE_MARKER_FIELDS, rec, rec.extras)


def _put_legacy(out: bytearray, rec: LegacyObject) -> None:
    out += rec.raw


def _body_fields(payload_key: str, put_payload: Put) -> tuple[Field, ...]:
    return (
        _f("Type", "TYPE", msgp.put_uint),
        _f(payload_key, None, put_payload),
        _f("v", "written_by", msgp.put_uint, omitempty=True),
    )


# The outer body map, per version type.
BODY_FIELDS: dict[int, tuple[Field, ...]] = {
    TYPE_OBJECT: _body_fields("V2Obj", _put_object),
    TYPE_DELETE_MARKER: _body_fields("DelObj", _put_delete_marker),
    TYPE_LEGACY: _body_fields("V1Obj", _put_legacy),
}
PAYLOAD_KEY = {TYPE_OBJECT: "V2Obj", TYPE_DELETE_MARKER: "DelObj", TYPE_LEGACY: "V1Obj"}


def emitted(
    fields: tuple[Field, ...], rec: Any, overrides: Mapping[str, Any] = _NO_OVERRIDES
) -> list[Field]:
    """The fields msgp writes for ``rec``: all but nil omitempty ones."""
    return [f for f in fields if not (f.omitempty and f.value(rec, overrides) is None)]


def encode_map(
    out: bytearray,
    fields: tuple[Field, ...],
    rec: Any,
    extras: MapExtras | None,
    overrides: Mapping[str, Any] = _NO_OVERRIDES,
) -> None:
    """Append ``rec`` as a msgpack map: canonical order, or the order it was read in.

    With extras: keys in the original order first (unknown ones from their raw
    bytes), then any known key the original lacked but that now has a value.
    ``overrides`` substitutes attribute values without copying the record.
    """
    chosen: list[tuple[Field | None, str]]
    if extras is None:
        chosen = [(f, f.key) for f in emitted(fields, rec, overrides)]
    else:
        by_key = {f.key: f for f in fields}
        chosen = []
        for key in extras.order:
            known = by_key.pop(key, None)
            if known is not None:
                if not (known.omitempty and known.value(rec, overrides) is None):
                    chosen.append((known, key))
            elif key in extras.unknown:
                chosen.append((None, key))
        chosen += [
            (f, f.key) for f in fields if f.key in by_key and f.value(rec, overrides) is not None
        ]
    msgp.put_map_header(out, len(chosen))
    for field, key in chosen:
        if field is None:
            assert extras is not None
            out += msgp.str_key(key)
            out += extras.unknown[key]
            continue
        out += field.key_bytes
        value = field.value(rec, overrides)
        if value is None:
            out += msgp.NIL
        else:
            field.put(out, value)


def encode_version(rec: Version) -> bytes:
    """The version body bytes (what goes in the bin after the header)."""
    out = bytearray()
    encode_map(out, BODY_FIELDS[rec.TYPE], rec, rec.body_extras)
    return bytes(out)


def encode_payload_canonical(
    rec: ObjectVersion | DeleteMarker, overrides: Mapping[str, Any] = _NO_OVERRIDES
) -> bytes:
    """Just the V2Obj/DelObj map in MinIO's writer layout, ignoring extras
    (what the signature hashes: MinIO drops unknown keys when it re-encodes)."""
    out = bytearray()
    fields = OBJECT_FIELDS if rec.TYPE == TYPE_OBJECT else DELETE_MARKER_FIELDS
    encode_map(out, fields, rec, None, overrides)
    return bytes(out)
