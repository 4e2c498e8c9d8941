"""The request as authentication sees it: plain values, no web framework.

The front door builds an :class:`AuthRequest` from the ASGI scope (or
Falcon's request) once per request::

    AuthRequest(method=scope["method"], raw_path=scope["raw_path"],
                query=scope["query_string"], headers=scope["headers"])

Header names and values given as ``bytes`` are decoded as latin-1, the HTTP
convention (and what Falcon does), so the canonical request can re-encode them
to the exact bytes the client signed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias
from urllib.parse import unquote_to_bytes

HeaderSource: TypeAlias = "Headers | Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]"
QuerySource: TypeAlias = "str | bytes | Sequence[tuple[str, str]]"


class Headers:
    """Case-insensitive, multi-valued request headers (names kept lowercase)."""

    __slots__ = ("_map",)

    def __init__(self, source: HeaderSource = ()) -> None:
        if isinstance(source, Headers):
            self._map: dict[str, list[str]] = {k: list(v) for k, v in source._map.items()}
            return
        m: dict[str, list[str]] = {}
        pairs = source.items() if isinstance(source, Mapping) else source
        for name, value in pairs:
            key = (name.decode("latin-1") if isinstance(name, bytes) else name).lower()
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            values = m.get(key)
            if values is None:
                m[key] = [text]
            else:
                values.append(text)
        self._map = m

    def get(self, name: str) -> str | None:
        """The value of ``name`` (lowercase), several values joined with ``,``."""
        values = self._map.get(name)
        if values is None:
            return None
        return values[0] if len(values) == 1 else ",".join(values)

    def get_all(self, name: str) -> list[str]:
        return list(self._map.get(name, ()))

    def __contains__(self, name: object) -> bool:
        return name in self._map

    def names(self) -> list[str]:
        return list(self._map)

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


def decode_query(raw: str | bytes) -> list[tuple[bytes, bytes]]:
    """Split a raw query string into percent-decoded (name, value) byte pairs.

    ``+`` decodes to a space, as in form encoding (Go's ``url.ParseQuery``
    and Falcon's query parser agree), so what is signed is what the router
    reads. A name without ``=`` has an empty value; empty segments are skipped.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not raw:
        return []
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        if b"+" in name:
            name = name.replace(b"+", b" ")
        if b"+" in value:
            value = value.replace(b"+", b" ")
        pairs.append(
            (
                unquote_to_bytes(name) if b"%" in name else name,
                unquote_to_bytes(value) if b"%" in value else value,
            )
        )
    return pairs


@dataclass(slots=True)
class AuthRequest:
    """One request: method, path and query exactly as received, headers, and the clock.

    ``raw_path`` is the percent-encoded path as sent (ASGI ``raw_path``), never
    the decoded one. ``query`` is the raw query string (no ``?``) or already
    decoded (name, value) pairs. ``now`` is seconds since the epoch (or an
    aware datetime); tests pin it, servers leave it to the wall clock.
    """

    method: str
    raw_path: str | bytes
    query: QuerySource = b""
    headers: HeaderSource = ()
    now: float | datetime | None = None
    _pairs: list[tuple[bytes, bytes]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)
        if self.now is None:
            self.now = time.time()
        elif isinstance(self.now, datetime):
            self.now = self.now.timestamp()
        if isinstance(self.raw_path, str):
            self.raw_path = self.raw_path.encode("utf-8", "surrogateescape")
        if isinstance(self.query, str):
            self.query = self.query.encode("utf-8", "surrogateescape")

    @property
    def header_map(self) -> Headers:
        assert isinstance(self.headers, Headers)
        return self.headers

    @property
    def path_bytes(self) -> bytes:
        assert isinstance(self.raw_path, bytes)
        return self.raw_path

    @property
    def timestamp(self) -> float:
        assert isinstance(self.now, float | int)
        return float(self.now)

    def query_pairs(self) -> list[tuple[bytes, bytes]]:
        """The query as percent-decoded (name, value) byte pairs, in request order."""
        if self._pairs is None:
            q = self.query
            if isinstance(q, str | bytes):
                self._pairs = decode_query(q)
            else:
                self._pairs = [
                    (n.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                    for n, v in q
                ]
        return self._pairs

    def query_names(self) -> set[bytes]:
        """The decoded parameter names (cheaper than :meth:`query_pairs` for a raw query)."""
        q = self.query
        if self._pairs is not None or not isinstance(q, bytes):
            return {name for name, _ in self.query_pairs()}
        names = set()
        for part in q.split(b"&"):
            name = part.partition(b"=")[0]
            if b"%" in name or b"+" in name:
                name = unquote_to_bytes(name.replace(b"+", b" "))
            if name:
                names.add(name)
        return names

    def query_param(self, name: bytes) -> str | None:
        """The first value of query parameter ``name`` (case-sensitive), decoded as UTF-8."""
        for n, v in self.query_pairs():
            if n == name:
                return v.decode("utf-8", "surrogateescape")
        return None
