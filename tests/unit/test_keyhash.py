"""SipHash-2-4: published vectors and a pure-Python reference."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liteio._ext.keyhash import sip_mod, siphash24

MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def reference_siphash24(key: bytes, data: bytes) -> int:
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def half(a: int, b: int, c: int, d: int, s: int, t: int) -> None:
        v[a] = (v[a] + v[b]) & MASK
        v[b] = _rotl(v[b], s) ^ v[a]
        v[c] = (v[c] + v[d]) & MASK
        v[d] = _rotl(v[d], t) ^ v[c]
        v[a] = _rotl(v[a], 32)

    def sipround() -> None:
        half(0, 1, 2, 3, 13, 16)
        half(2, 1, 0, 3, 17, 21)

    padded = data + bytes(7 - len(data) % 8) + bytes([len(data) & 0xFF])
    for i in range(0, len(padded), 8):
        m = int.from_bytes(padded[i : i + 8], "little")
        v[3] ^= m
        sipround()
        sipround()
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        sipround()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def test_published_vectors() -> None:
    key = bytes(range(16))
    # From the SipHash paper's reference implementation (vectors[0], [8], [15]).
    assert siphash24(key, b"") == 0x726FDB47DD0E0E31
    assert siphash24(key, bytes(range(8))) == 0x93F5F5799A932462
    assert siphash24(key, bytes(range(15))) == 0xA129CA6149BE45E5


@given(key=st.binary(min_size=16, max_size=16), data=st.binary(max_size=300))
def test_matches_reference(key: bytes, data: bytes) -> None:
    assert siphash24(key, data) == reference_siphash24(key, data)


def test_sip_mod_and_bad_input() -> None:
    key = bytes(range(16))
    assert sip_mod(b"photos/a.jpg", key, 7) == reference_siphash24(key, b"photos/a.jpg") % 7
    import pytest

    with pytest.raises(ValueError, match="16-byte key"):
        siphash24(b"short", b"x")
    with pytest.raises(ValueError, match="cardinality"):
        sip_mod(b"x", key, 0)
