# cython: language_level=3
"""CRC32, CRC32C and CRC64NVME: S3's flexible checksums, computed without the GIL.

All three run on one reflected-CRC folding engine (``ext/csrc/crc/``:
PCLMULQDQ folding picked at run time, slicing-by-8 tables otherwise). CRC32
(zlib's) and CRC32C use ISA-L instead for short inputs and on CPUs without
PCLMULQDQ.

Every function chains like ``zlib.crc32``: start from 0 (the default) and pass
the previous result as ``value``, so ``f(b, f(a)) == f(a + b)``. The
``*_combine`` functions join two CRCs when the data was hashed apart
(multipart "full object" checksums) in O(log len2) GF(2) multiplications.

Inputs are any C-contiguous buffers (bytes, bytearray, memoryview, numpy
arrays, mmap); nothing is copied. The ``*_portable`` functions force the table
path, and the underscored ``_fold_*``/``_isal_*`` ones one engine whatever
the size: they exist for tests and benchmarks.
"""

import operator

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint32_t, uint64_t

from isal_crc cimport crc32_gzip_refl, crc32_iscsi
cimport crc_models_c as fold

__all__ = [
    "crc32", "crc32c", "crc64nvme",
    "crc32_portable", "crc32c_portable", "crc64nvme_portable",
    "crc32_combine", "crc32c_combine", "crc64nvme_combine", "crc64nvme_accelerated",
]

# PERF: releasing and retaking the GIL costs about as much as a CRC of 2 KiB,
# so smaller inputs keep it (hashlib draws the line at the same place).
cdef size_t GIL_RELEASE_MIN = 2048

# PERF: measured on a PCLMULQDQ CPU without VPCLMULQDQ (Cascade Lake): on
# cached data ISA-L's CRC32C is up to 25% quicker than folding below 4 KiB
# and ISA-L's CRC32 up to 10%; from 4 KiB they tie (~24 GB/s). Once the data
# is out of L2 folding is 1.2-2.5x quicker, so larger inputs fold.
cdef size_t FOLD_MIN = 4096
cdef bint CPU_FOLDS = fold.liteio_crc_uses_clmul()

# NOTE: ISA-L's crc32_iscsi takes an int length; feed it at most this much.
cdef size_t ISCSI_CHUNK = 1 << 30

cdef enum Algorithm:
    ALG_CRC32
    ALG_CRC32_ISAL
    ALG_CRC32_FOLD
    ALG_CRC32_PORTABLE
    ALG_CRC32C
    ALG_CRC32C_ISAL
    ALG_CRC32C_FOLD
    ALG_CRC32C_PORTABLE
    ALG_CRC64NVME
    ALG_CRC64NVME_PORTABLE


cdef uint32_t _iscsi_update(uint32_t value, const unsigned char *p, size_t n) noexcept nogil:
    # crc32_iscsi works on the raw register: no pre/post inversion.
    cdef uint32_t reg = ~value
    while n > ISCSI_CHUNK:
        reg = crc32_iscsi(<unsigned char *>p, <int>ISCSI_CHUNK, reg)
        p += ISCSI_CHUNK
        n -= ISCSI_CHUNK
    return ~crc32_iscsi(<unsigned char *>p, <int>n, reg)


cdef uint64_t _update(Algorithm alg, const unsigned char *p, size_t n,
                      uint64_t value) noexcept nogil:
    """CRC of p[0:n] continuing from a finished CRC ``value`` (zlib convention)."""
    if alg == ALG_CRC32:
        alg = ALG_CRC32_FOLD if CPU_FOLDS and n >= FOLD_MIN else ALG_CRC32_ISAL
    elif alg == ALG_CRC32C:
        alg = ALG_CRC32C_FOLD if CPU_FOLDS and n >= FOLD_MIN else ALG_CRC32C_ISAL

    if alg == ALG_CRC32_ISAL:
        return crc32_gzip_refl(<uint32_t>value, p, n)
    if alg == ALG_CRC32_FOLD:
        return fold.liteio_crc32(<uint32_t>value, p, n)
    if alg == ALG_CRC32_PORTABLE:
        return fold.liteio_crc32_portable(<uint32_t>value, p, n)
    if alg == ALG_CRC32C_ISAL:
        return _iscsi_update(<uint32_t>value, p, n)
    if alg == ALG_CRC32C_FOLD:
        return fold.liteio_crc32c(<uint32_t>value, p, n)
    if alg == ALG_CRC32C_PORTABLE:
        return fold.liteio_crc32c_portable(<uint32_t>value, p, n)
    if alg == ALG_CRC64NVME:
        return fold.liteio_crc64nvme(value, p, n)
    return fold.liteio_crc64nvme_portable(value, p, n)


cdef uint64_t _as_uint(object obj, unsigned width, str what) except? 0:
    """``obj`` as an unsigned integer of ``width`` bits, or TypeError/ValueError."""
    try:
        v = operator.index(obj)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(obj).__name__}") from None
    if v < 0 or v >> width:
        raise ValueError(f"{what} must be in 0..2**{width}-1, got {v}")
    return <uint64_t>v


cdef object _checksum(Algorithm alg, unsigned width, object data, object value):
    cdef uint64_t v = _as_uint(value, width, "value")
    cdef Py_buffer view
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except (BufferError, ValueError) as exc:
        raise ValueError(f"data must be a C-contiguous buffer: {exc}") from None
    except TypeError:
        raise TypeError(
            f"data must be a bytes-like object, not {type(data).__name__}") from None
    cdef const unsigned char *p = <const unsigned char *>view.buf
    cdef size_t n = <size_t>view.len
    try:
        if n >= GIL_RELEASE_MIN:
            with nogil:
                v = _update(alg, p, n, v)
        else:
            v = _update(alg, p, n, v)
    finally:
        PyBuffer_Release(&view)
    return v


def crc32(data, value=0):
    """CRC-32 (zlib, gzip, S3 ``CRC32``) of ``data``, continuing from ``value``."""
    return _checksum(ALG_CRC32, 32, data, value)


def crc32c(data, value=0):
    """CRC-32C (Castagnoli, iSCSI, S3 ``CRC32C``) of ``data``, continuing from ``value``."""
    return _checksum(ALG_CRC32C, 32, data, value)


def crc64nvme(data, value=0):
    """CRC-64/NVME (S3 ``CRC64NVME``) of ``data``, continuing from ``value``."""
    return _checksum(ALG_CRC64NVME, 64, data, value)


def crc32_portable(data, value=0):
    """:func:`crc32` forced onto the table-driven path (tests, benchmarks)."""
    return _checksum(ALG_CRC32_PORTABLE, 32, data, value)


def crc32c_portable(data, value=0):
    """:func:`crc32c` forced onto the table-driven path (tests, benchmarks)."""
    return _checksum(ALG_CRC32C_PORTABLE, 32, data, value)


def crc64nvme_portable(data, value=0):
    """:func:`crc64nvme` forced onto the table-driven path (tests, benchmarks)."""
    return _checksum(ALG_CRC64NVME_PORTABLE, 64, data, value)


def crc64nvme_accelerated():
    """True when the folding engine uses PCLMULQDQ on this CPU.

    Then :func:`crc64nvme` folds from 16 bytes, and :func:`crc32` and
    :func:`crc32c` from 4 KiB (ISA-L below); otherwise all run on tables
    (CRC32 and CRC32C on ISA-L's).
    """
    return bool(CPU_FOLDS)


# Single engines whatever the input size, for tests and benchmarks only.

def _fold_crc32(data, value=0):
    """:func:`crc32` by the folding engine (its table path on CPUs without PCLMULQDQ)."""
    return _checksum(ALG_CRC32_FOLD, 32, data, value)


def _fold_crc32c(data, value=0):
    """:func:`crc32c` by the folding engine (its table path on CPUs without PCLMULQDQ)."""
    return _checksum(ALG_CRC32C_FOLD, 32, data, value)


def _isal_crc32(data, value=0):
    """:func:`crc32` by ISA-L's ``crc32_gzip_refl``."""
    return _checksum(ALG_CRC32_ISAL, 32, data, value)


def _isal_crc32c(data, value=0):
    """:func:`crc32c` by ISA-L's ``crc32_iscsi``."""
    return _checksum(ALG_CRC32C_ISAL, 32, data, value)


# --- combine: CRC(A + B) from CRC(A), CRC(B) and len(B) ----------------------
#
# For these three CRCs (init = xorout = all ones), in GF(2)[x] mod P:
#     crc(A + B) = crc(A) * x^(8 len(B)) + crc(B)
# Polynomials are kept bit-reflected, as the CRC values are: the top bit of
# the width is x^0, bit 0 is x^(width-1).

cdef enum:
    X2N_POWERS = 67   # x^(2^k) for k < 67 covers x^(8 * len) for any 64-bit len

cdef struct Gf2Field:
    uint64_t poly                  # P without x^width, reflected
    uint64_t one                   # the polynomial 1
    uint64_t x2n[X2N_POWERS]       # x^(2^k) mod P


cdef Gf2Field FIELD_CRC32
cdef Gf2Field FIELD_CRC32C
cdef Gf2Field FIELD_CRC64NVME


cdef uint64_t _mulmod(const Gf2Field *f, uint64_t a, uint64_t b) noexcept nogil:
    """a * b mod P: add b for each coefficient of a, from x^0 up, while b *= x."""
    cdef uint64_t product = 0
    cdef uint64_t coeff = f.one
    while coeff:
        if a & coeff:
            product ^= b
        b = (b >> 1) ^ (f.poly if b & 1 else 0)
        coeff >>= 1
    return product


cdef void _field_init(Gf2Field *f, uint64_t poly, unsigned width) noexcept:
    f.poly = poly
    f.one = (<uint64_t>1) << (width - 1)
    f.x2n[0] = f.one >> 1   # x^1
    cdef int k
    for k in range(1, X2N_POWERS):
        f.x2n[k] = _mulmod(f, f.x2n[k - 1], f.x2n[k - 1])


cdef uint64_t _combine(const Gf2Field *f, uint64_t crc1, uint64_t crc2,
                       uint64_t len2) noexcept nogil:
    cdef uint64_t shift = f.one
    cdef int k = 3  # x^(8 len2) = product of x^(2^(k+3)) over the set bits k of len2
    while len2:
        if len2 & 1:
            shift = _mulmod(f, shift, f.x2n[k])
        len2 >>= 1
        k += 1
    return _mulmod(f, crc1, shift) ^ crc2


cdef object _combine_checked(const Gf2Field *f, unsigned width, crc1, crc2, len2):
    cdef uint64_t a = _as_uint(crc1, width, "crc1")
    cdef uint64_t b = _as_uint(crc2, width, "crc2")
    cdef uint64_t n = _as_uint(len2, 64, "len2")
    return _combine(f, a, b, n)


def crc32_combine(crc1, crc2, len2):
    """CRC32 of ``A + B`` given ``crc32(A)``, ``crc32(B)`` and ``len(B)``."""
    return _combine_checked(&FIELD_CRC32, 32, crc1, crc2, len2)


def crc32c_combine(crc1, crc2, len2):
    """CRC32C of ``A + B`` given ``crc32c(A)``, ``crc32c(B)`` and ``len(B)``."""
    return _combine_checked(&FIELD_CRC32C, 32, crc1, crc2, len2)


def crc64nvme_combine(crc1, crc2, len2):
    """CRC64NVME of ``A + B`` given ``crc64nvme(A)``, ``crc64nvme(B)`` and ``len(B)``."""
    return _combine_checked(&FIELD_CRC64NVME, 64, crc1, crc2, len2)


# Reflected polynomials, the same ones crc_models.c folds with.
_field_init(&FIELD_CRC32, 0xEDB88320, 32)
_field_init(&FIELD_CRC32C, 0x82F63B78, 32)
_field_init(&FIELD_CRC64NVME, 0x9A6C9329AC4BC9B5, 64)
