# cython: language_level=3
"""Hashes that place object keys: SipHash-2-4 (MinIO's SIPMOD set choice).

Computed per request, so it lives in C rather than a Python loop.
"""

from libc.stdint cimport uint64_t, uint8_t
from libc.string cimport memcpy


cdef inline uint64_t _rotl(uint64_t x, int b) noexcept nogil:
    return (x << b) | (x >> (64 - b))


cdef inline uint64_t _load_le64(const uint8_t *p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v |= (<uint64_t>p[i]) << (8 * i)
    return v


cdef struct _SipState:
    uint64_t v0, v1, v2, v3


cdef inline void _rounds(_SipState *s, int n) noexcept nogil:
    cdef int _round
    for _round in range(n):
        s.v0 += s.v1
        s.v1 = _rotl(s.v1, 13)
        s.v1 ^= s.v0
        s.v0 = _rotl(s.v0, 32)
        s.v2 += s.v3
        s.v3 = _rotl(s.v3, 16)
        s.v3 ^= s.v2
        s.v0 += s.v3
        s.v3 = _rotl(s.v3, 21)
        s.v3 ^= s.v0
        s.v2 += s.v1
        s.v1 = _rotl(s.v1, 17)
        s.v1 ^= s.v2
        s.v2 = _rotl(s.v2, 32)


cdef uint64_t _siphash24(uint64_t k0, uint64_t k1, const uint8_t *data, size_t n) noexcept nogil:
    cdef _SipState s
    s.v0 = k0 ^ 0x736f6d6570736575ULL
    s.v1 = k1 ^ 0x646f72616e646f6dULL
    s.v2 = k0 ^ 0x6c7967656e657261ULL
    s.v3 = k1 ^ 0x7465646279746573ULL
    cdef size_t whole = n - (n % 8), i
    cdef uint64_t m
    for i in range(0, whole, 8):
        m = _load_le64(data + i)
        s.v3 ^= m
        _rounds(&s, 2)
        s.v0 ^= m
    # Last word: the remaining bytes, with the length's low byte on top.
    cdef uint8_t tail[8]
    cdef size_t j
    for j in range(8):
        tail[j] = 0
    memcpy(tail, data + whole, n - whole)
    m = _load_le64(tail) | ((<uint64_t>(n & 0xff)) << 56)
    s.v3 ^= m
    _rounds(&s, 2)
    s.v0 ^= m
    s.v2 ^= 0xff
    _rounds(&s, 4)
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3


def siphash24(key, data) -> int:
    """SipHash-2-4 of ``data`` under a 16-byte ``key`` (k0, k1 little-endian)."""
    cdef const uint8_t[::1] k = key
    cdef const uint8_t[::1] d = data
    if k.shape[0] != 16:
        raise ValueError(f"SipHash needs a 16-byte key, got {k.shape[0]} bytes")
    cdef const uint8_t *p = &d[0] if d.shape[0] else <const uint8_t *>b""
    return _siphash24(_load_le64(&k[0]), _load_le64(&k[8]), p, d.shape[0])


def sip_mod(key: bytes, deployment_id: bytes, int cardinality) -> int:
    """MinIO's SIPMOD: SipHash-2-4 of the key under the deployment id, mod the set count."""
    if cardinality <= 0:
        raise ValueError("cardinality must be positive")
    return siphash24(deployment_id, key) % cardinality
