# cython: language_level=3
"""Fast paths for xl.meta reads: one C pass over a file, one over a version body.

``scan`` reads a 1.3 file's envelope, CRC and every version header; it is
what ``XLMeta.load`` tries before its pure-Python loader (~1 us against ~30
to 40 us of msgpack calls and Python checks). ``decode_body`` reads a version
body in MinIO's writer layout for ``liteio.meta.bodydec``. Both accept only
what the Python code accepts, with the same result, and return None for
anything else (other envelope versions, headerVersion 1, integers outside
int64, unusual layouts, damage): the caller then takes the Python path, which
gives the result or the precise error. Neither raises on any input bytes.

    0      'XL2 ' 01 00 03 00                  magic, envelope 1.3 only
    8      c4|c5|c6 len  [content .........]   metadata bin (MinIO: always c6)
    end    uint crc                            low 32 bits of xxh64(content)
    end+k  inline section ...                  returned as an offset only

    content: uint headerVersion (2|3), uint metaVersion (<=3), uint count,
             count x (bin header, bin body)
    header:  array 7 [bin16 id, int mtime, bin4 sig, u8 type, u8 flags,
                      u8 ec_n, u8 ec_m]            (headerVersion 3)
             array 5, the first five                (headerVersion 2)

"Accept" follows msgpack-python as the Python loader uses it: any width of
an integer, bin or array header, but the exact kind (a str is not a bin, a
negative int is not a uint) and a header bin holding one array and nothing
else. Every read is bounds-checked against the end of its enclosing span.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_SetItem
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcmp, memset

# Releasing the GIL costs about as much as hashing a few KiB; only worth it
# for the rare big file (many versions or thousands of parts).
cdef enum:
    NOGIL_HASH_MIN = 65536

# --- xxHash64, written from the published algorithm description ------------------

# The five 64-bit primes, as C constants so the compiler folds them.
cdef extern from *:
    """
    #define XLSCAN_P1 0x9E3779B185EBCA87ULL
    #define XLSCAN_P2 0xC2B2AE3D27D4EB4FULL
    #define XLSCAN_P3 0x165667B19E3779F9ULL
    #define XLSCAN_P4 0x85EBCA77C2B2AE63ULL
    #define XLSCAN_P5 0x27D4EB2F165667C5ULL
    """
    const uint64_t _P1 "XLSCAN_P1"
    const uint64_t _P2 "XLSCAN_P2"
    const uint64_t _P3 "XLSCAN_P3"
    const uint64_t _P4 "XLSCAN_P4"
    const uint64_t _P5 "XLSCAN_P5"


cdef inline uint64_t _rotl64(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _le64(const uint8_t *p) noexcept nogil:
    # Byte by byte so the result is right on any host; compilers fold it into one load.
    return ((<uint64_t>p[0]) | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16)
            | (<uint64_t>p[3] << 24) | (<uint64_t>p[4] << 32) | (<uint64_t>p[5] << 40)
            | (<uint64_t>p[6] << 48) | (<uint64_t>p[7] << 56))


cdef inline uint64_t _le32(const uint8_t *p) noexcept nogil:
    return ((<uint64_t>p[0]) | (<uint64_t>p[1] << 8) | (<uint64_t>p[2] << 16)
            | (<uint64_t>p[3] << 24))


cdef inline uint64_t _lane(uint64_t acc, uint64_t word) noexcept nogil:
    acc = acc + word * _P2
    return _rotl64(acc, 31) * _P1


cdef inline uint64_t _fold_lane(uint64_t h, uint64_t acc) noexcept nogil:
    h = h ^ _lane(0, acc)
    return h * _P1 + _P4


cdef uint64_t _xxh64(const uint8_t *p, size_t n, uint64_t seed) noexcept nogil:
    cdef const uint8_t *end = p + n
    cdef uint64_t h, a1, a2, a3, a4
    if n >= 32:
        # Four lanes over 32-byte stripes, then merged.
        a1 = seed + _P1 + _P2
        a2 = seed + _P2
        a3 = seed
        a4 = seed - _P1
        while end - p >= 32:
            a1 = _lane(a1, _le64(p))
            a2 = _lane(a2, _le64(p + 8))
            a3 = _lane(a3, _le64(p + 16))
            a4 = _lane(a4, _le64(p + 24))
            p += 32
        h = _rotl64(a1, 1) + _rotl64(a2, 7) + _rotl64(a3, 12) + _rotl64(a4, 18)
        h = _fold_lane(h, a1)
        h = _fold_lane(h, a2)
        h = _fold_lane(h, a3)
        h = _fold_lane(h, a4)
    else:
        h = seed + _P5
    h = h + <uint64_t>n
    # The tail: 8-byte words, at most one 4-byte word, then single bytes.
    while end - p >= 8:
        h = h ^ _lane(0, _le64(p))
        h = _rotl64(h, 27) * _P1 + _P4
        p += 8
    if end - p >= 4:
        h = h ^ (_le32(p) * _P1)
        h = _rotl64(h, 23) * _P2 + _P3
        p += 4
    while p < end:
        h = h ^ ((<uint64_t>p[0]) * _P5)
        h = _rotl64(h, 11) * _P1
        p += 1
    # Final avalanche.
    h = h ^ (h >> 33)
    h = h * _P2
    h = h ^ (h >> 29)
    h = h * _P3
    h = h ^ (h >> 32)
    return h


def xxh64(data, uint64_t seed=0) -> int:
    """xxHash64 of any contiguous buffer (exposed for tests against the reference)."""
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    cdef uint64_t h
    try:
        with nogil:
            h = _xxh64(<const uint8_t *>view.buf, <size_t>view.len, seed)
    finally:
        PyBuffer_Release(&view)
    return h


# --- msgpack readers: each returns 1 and advances *pos, or returns 0 -------------------
#
# ``end`` bounds the enclosing span; nothing at or past it is ever read.


cdef inline uint64_t _be(const uint8_t *p, int n) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(n):
        v = (v << 8) | p[i]
    return v


cdef int _read_uint(const uint8_t *b, size_t end, size_t *pos,
                    uint64_t *out) noexcept nogil:
    """A non-negative integer in any encoding (msgpack-python reads all as int)."""
    cdef size_t at = pos[0]
    cdef uint8_t tag
    cdef int width
    cdef uint64_t v
    if at >= end:
        return 0
    tag = b[at]
    if tag < 0x80:
        out[0] = tag
        pos[0] = at + 1
        return 1
    if 0xCC <= tag <= 0xCF:
        width = 1 << (tag - 0xCC)
    elif 0xD0 <= tag <= 0xD3:
        width = 1 << (tag - 0xD0)
    else:
        return 0
    if <size_t>width > end - at - 1:
        return 0
    v = _be(b + at + 1, width)
    if tag >= 0xD0 and (v >> (8 * width - 1)) & 1:
        return 0  # a negative signed value
    out[0] = v
    pos[0] = at + 1 + width
    return 1


cdef int _read_int64(const uint8_t *b, size_t end, size_t *pos,
                     int64_t *out) noexcept nogil:
    """Any integer that fits int64 (a larger uint64 is valid but left to Python)."""
    cdef size_t at = pos[0]
    cdef uint8_t tag
    cdef int width
    cdef uint64_t v
    if at >= end:
        return 0
    tag = b[at]
    if tag < 0x80 or tag >= 0xE0:
        out[0] = <int64_t>(<signed char>tag)
        pos[0] = at + 1
        return 1
    if 0xCC <= tag <= 0xCF:
        width = 1 << (tag - 0xCC)
    elif 0xD0 <= tag <= 0xD3:
        width = 1 << (tag - 0xD0)
    else:
        return 0
    if <size_t>width > end - at - 1:
        return 0
    v = _be(b + at + 1, width)
    if tag <= 0xCF:
        if v > <uint64_t>0x7FFFFFFFFFFFFFFFULL:
            return 0
        out[0] = <int64_t>v
    elif width == 1:
        out[0] = <int64_t>(<signed char>v)
    elif width == 2:
        out[0] = <int64_t>(<short>v)
    elif width == 4:
        out[0] = <int64_t>(<int>v)
    else:
        out[0] = <int64_t>v
    pos[0] = at + 1 + width
    return 1


cdef int _read_bin(const uint8_t *b, size_t end, size_t *pos,
                   size_t *start, size_t *length) noexcept nogil:
    """A bin of any width whose content lies inside the span."""
    cdef size_t at = pos[0]
    cdef int width
    cdef uint64_t n
    if at >= end:
        return 0
    if b[at] == 0xC4:
        width = 1
    elif b[at] == 0xC5:
        width = 2
    elif b[at] == 0xC6:
        width = 4
    else:
        return 0
    if <size_t>width > end - at - 1:
        return 0
    n = _be(b + at + 1, width)
    at = at + 1 + width
    if n > end - at:
        return 0
    start[0] = at
    length[0] = <size_t>n
    pos[0] = at + <size_t>n
    return 1


cdef int _read_array_len(const uint8_t *b, size_t end, size_t *pos,
                         uint64_t *n) noexcept nogil:
    cdef size_t at = pos[0]
    cdef uint8_t tag
    if at >= end:
        return 0
    tag = b[at]
    if 0x90 <= tag <= 0x9F:
        n[0] = tag & 0x0F
        pos[0] = at + 1
        return 1
    if tag == 0xDC and end - at > 2:
        n[0] = _be(b + at + 1, 2)
        pos[0] = at + 3
        return 1
    if tag == 0xDD and end - at > 4:
        n[0] = _be(b + at + 1, 4)
        pos[0] = at + 5
        return 1
    return 0


cdef inline int _read_u8(const uint8_t *b, size_t end, size_t *pos,
                         int *out) noexcept nogil:
    cdef uint64_t v
    if not _read_uint(b, end, pos, &v) or v > 0xFF:
        return 0
    out[0] = <int>v
    return 1


# --- version headers -------------------------------------------------------------------


cdef struct _Header:
    size_t id_at       # offset of the 16 id bytes
    int64_t mod_time
    size_t sig_at      # offset of the 4 signature bytes
    int vtype
    int flags
    int ec_n
    int ec_m


cdef int _read_header(const uint8_t *b, size_t start, size_t end, int header_version,
                      _Header *h) noexcept nogil:
    """The header array filling exactly [start, end), as msgpack.unpackb demands."""
    cdef size_t pos = start, at, n
    cdef uint64_t count
    if not _read_array_len(b, end, &pos, &count):
        return 0
    if count != (7 if header_version == 3 else 5):
        return 0
    if not _read_bin(b, end, &pos, &at, &n) or n != 16:
        return 0
    h.id_at = at
    if not _read_int64(b, end, &pos, &h.mod_time):
        return 0
    if not _read_bin(b, end, &pos, &at, &n) or n != 4:
        return 0
    h.sig_at = at
    if not _read_u8(b, end, &pos, &h.vtype) or not 1 <= h.vtype <= 3:
        return 0
    if not _read_u8(b, end, &pos, &h.flags):
        return 0
    h.ec_n = 0
    h.ec_m = 0
    if header_version == 3:
        if not _read_u8(b, end, &pos, &h.ec_n) or not _read_u8(b, end, &pos, &h.ec_m):
            return 0
    return pos == end


cdef bint _in_order(const uint8_t *b, _Header *a, _Header *c) noexcept nogil:
    """Whether ``a`` may precede ``c`` in latest-first order (VersionHeader.sort_key):
    newer ModTime, lower Type, larger Signature, larger VersionID, larger Flags."""
    cdef int d
    if a.mod_time != c.mod_time:
        return a.mod_time > c.mod_time
    if a.vtype != c.vtype:
        return a.vtype < c.vtype
    d = memcmp(b + a.sig_at, b + c.sig_at, 4)
    if d != 0:
        return d > 0
    d = memcmp(b + a.id_at, b + c.id_at, 16)
    if d != 0:
        return d > 0
    return a.flags >= c.flags


# --- the scan --------------------------------------------------------------------------


cdef object _scan(const uint8_t *b, size_t size, bint verify_crc):
    cdef size_t pos, start, length, content_end, hdr_start, hdr_len, body_start, body_len
    cdef uint64_t crc, header_version, meta_version, count, i
    cdef uint64_t computed
    cdef size_t inline_at
    cdef _Header h, prev
    cdef bint in_order = True
    memset(&prev, 0, sizeof(prev))  # read only from the second version on
    # Envelope: magic, then exactly version 1.3 (u16 LE major 1, minor 3).
    if size < 9 or memcmp(b, b"XL2 \x01\x00\x03\x00", 8) != 0:
        return None
    pos = 8
    if not _read_bin(b, size, &pos, &start, &length):
        return None
    content_end = pos
    # The CRC: a uint in any unsigned width (1.3 writers use ce + 4 bytes).
    if pos >= size:
        return None
    if b[pos] < 0x80:
        crc = b[pos]
        pos += 1
    elif 0xCC <= b[pos] <= 0xCF:
        if not _read_uint(b, size, &pos, &crc):
            return None
    else:
        return None
    if verify_crc:
        if length >= NOGIL_HASH_MIN:
            with nogil:
                computed = _xxh64(b + start, length, 0) & 0xFFFFFFFFULL
        else:
            computed = _xxh64(b + start, length, 0) & 0xFFFFFFFFULL
        if computed != crc:
            return None
    inline_at = pos
    # Indexed metadata inside the bin; trailing bytes after the last pair are
    # ignored, as by the Python loader.
    pos = start
    if not _read_uint(b, content_end, &pos, &header_version):
        return None
    if not _read_uint(b, content_end, &pos, &meta_version):
        return None
    if not _read_uint(b, content_end, &pos, &count):
        return None
    if header_version not in (2, 3) or meta_version > 3:
        return None
    versions = []
    i = 0
    while i < count:
        if not _read_bin(b, content_end, &pos, &hdr_start, &hdr_len):
            return None
        if not _read_bin(b, content_end, &pos, &body_start, &body_len):
            return None
        if not _read_header(b, hdr_start, hdr_start + hdr_len, <int>header_version, &h):
            return None
        if i > 0 and in_order and not _in_order(b, &prev, &h):
            in_order = False
        prev = h
        versions.append((
            PyBytes_FromStringAndSize(<const char *>b + h.id_at, 16),
            h.mod_time,
            PyBytes_FromStringAndSize(<const char *>b + h.sig_at, 4),
            h.vtype,
            h.flags,
            h.ec_n,
            h.ec_m,
            body_start,
            body_len,
        ))
        i += 1
    return (header_version, meta_version, crc, inline_at, in_order, versions)


def scan(data, bint verify_crc=True):
    """Scan a 1.3 xl.meta; None when the Python loader must handle it.

    Returns ``(header_version, meta_version, stored_crc, inline_offset,
    in_order, versions)``: ``versions`` in stored order, each ``(version_id,
    mod_time, signature, type, flags, ec_n, ec_m, body_offset, body_length)``
    with ec_n/ec_m 0 for headerVersion 2, offsets into ``data``;
    ``in_order`` says they are already latest-first (no sort needed).
    """
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _scan(<const uint8_t *>view.buf, <size_t>view.len, verify_crc)
    finally:
        PyBuffer_Release(&view)


# --- version bodies in the writer's exact layout ---------------------------------------
#
# The canonical tier of ``liteio.meta.bodydec``: a body whose maps hold exactly
# the keys MinIO's writer emits, in its order, each value of the kind the
# record's converter accepts without coercion, decodes to the same record the
# Python tiers build (with extras None). Everything else returns None.
#
#   { "Type": 1, "V2Obj": {ID, DDir, EcAlgo, EcM, EcN, EcBSize, EcIndex, EcDist,
#                          CSumAlgo, PartNums, PartETags, PartSizes, PartASizes,
#                          [PartIdx,] Size, MTime, MetaSys, MetaUsr}, ["v": uint] }
#   { "Type": 2, "DelObj": {ID, MTime, [MetaSys]}, ["v": uint] }

cdef object _FAIL = object()  # "not canonical": distinct from a decoded nil (None)


cdef int _read_map_len(const uint8_t *b, size_t end, size_t *pos,
                       uint64_t *n) noexcept nogil:
    cdef size_t at = pos[0]
    cdef uint8_t tag
    if at >= end:
        return 0
    tag = b[at]
    if 0x80 <= tag <= 0x8F:
        n[0] = tag & 0x0F
        pos[0] = at + 1
        return 1
    if tag == 0xDE and end - at > 2:
        n[0] = _be(b + at + 1, 2)
        pos[0] = at + 3
        return 1
    if tag == 0xDF and end - at > 4:
        n[0] = _be(b + at + 1, 4)
        pos[0] = at + 5
        return 1
    return 0


cdef int _read_str(const uint8_t *b, size_t end, size_t *pos,
                   size_t *start, size_t *length) noexcept nogil:
    """A str of any width whose content lies inside the span."""
    cdef size_t at = pos[0]
    cdef uint8_t tag
    cdef int width
    cdef uint64_t n
    if at >= end:
        return 0
    tag = b[at]
    if 0xA0 <= tag <= 0xBF:
        n = tag & 0x1F
        at += 1
    else:
        if tag == 0xD9:
            width = 1
        elif tag == 0xDA:
            width = 2
        elif tag == 0xDB:
            width = 4
        else:
            return 0
        if <size_t>width > end - at - 1:
            return 0
        n = _be(b + at + 1, width)
        at = at + 1 + width
    if n > end - at:
        return 0
    start[0] = at
    length[0] = <size_t>n
    pos[0] = at + <size_t>n
    return 1


cdef inline int _key(const uint8_t *b, size_t end, size_t *pos, const char *name,
                     size_t n) noexcept nogil:
    """The next map key is the str ``name``."""
    cdef size_t start, length
    return (_read_str(b, end, pos, &start, &length) and length == n
            and memcmp(b + start, name, n) == 0)


cdef inline bint _nil(const uint8_t *b, size_t end, size_t *pos) noexcept nogil:
    if pos[0] < end and b[pos[0]] == 0xC0:
        pos[0] += 1
        return True
    return False


cdef object _int(const uint8_t *b, size_t end, size_t *pos, bint unsigned):
    """An int of any encoding (``unsigned``: only a non-negative one), or _FAIL."""
    cdef uint64_t u
    cdef int64_t v
    cdef size_t at = pos[0]
    if _read_uint(b, end, pos, &u):
        return PyLong_FromUnsignedLongLong(u)
    if unsigned or not _read_int64(b, end, pos, &v):
        pos[0] = at
        return _FAIL
    return PyLong_FromLongLong(v)


cdef object _bin(const uint8_t *b, size_t end, size_t *pos, Py_ssize_t want):
    """A bin (of exactly ``want`` bytes unless -1) as bytes, or _FAIL."""
    cdef size_t start, length
    if not _read_bin(b, end, pos, &start, &length):
        return _FAIL
    if want >= 0 and length != <size_t>want:
        return _FAIL
    return PyBytes_FromStringAndSize(<const char *>b + start, length)


cdef object _str(const uint8_t *b, size_t end, size_t *pos):
    """A str decoded as msgpack-python does here (UTF-8, surrogateescape), or _FAIL."""
    cdef size_t start, length
    if not _read_str(b, end, pos, &start, &length):
        return _FAIL
    return PyUnicode_DecodeUTF8(<const char *>b + start, length, "surrogateescape")


cdef enum _Item:
    _INT_ITEM
    _UINT_ITEM
    _STR_ITEM
    _BIN_ITEM


cdef object _array(const uint8_t *b, size_t end, size_t *pos, _Item kind, bint nil_ok):
    """An array of one kind of item as a list (nil -> None if ``nil_ok``), or _FAIL."""
    cdef uint64_t n, i
    cdef object item
    if nil_ok and _nil(b, end, pos):
        return None
    # Every item takes at least a byte: a longer count cannot be honest.
    if not _read_array_len(b, end, pos, &n) or n > end - pos[0]:
        return _FAIL
    out = PyList_New(<Py_ssize_t>n)
    for i in range(n):
        if kind == _INT_ITEM:
            item = _int(b, end, pos, False)
        elif kind == _UINT_ITEM:
            item = _int(b, end, pos, True)
        elif kind == _STR_ITEM:
            item = _str(b, end, pos)
        else:
            item = _bin(b, end, pos, -1)
        if item is _FAIL:
            return _FAIL  # a list's unset (NULL) slots are fine to free
        Py_INCREF(item)
        PyList_SET_ITEM(out, <Py_ssize_t>i, item)
    return out


cdef object _map(const uint8_t *b, size_t end, size_t *pos, bint bin_values):
    """nil -> None, or a map of str keys to bin (``bin_values``) or str values, or _FAIL.

    Duplicate keys keep the last value, as msgpack-python's dict building does.
    """
    cdef uint64_t n
    if _nil(b, end, pos):
        return None
    if not _read_map_len(b, end, pos, &n) or n > end - pos[0]:
        return _FAIL
    out = {}
    while n:
        n -= 1
        key = _str(b, end, pos)
        if key is _FAIL:
            return _FAIL
        value = _bin(b, end, pos, -1) if bin_values else _str(b, end, pos)
        if value is _FAIL:
            return _FAIL
        PyDict_SetItem(out, key, value)
    return out


cdef object _object_args(const uint8_t *b, size_t end, size_t *pos):
    """V2Obj's fields as a list in ``ObjectVersion`` argument order, or _FAIL."""
    cdef uint64_t n
    if not _read_map_len(b, end, pos, &n) or not (n == 17 or n == 18):
        return _FAIL
    if not _key(b, end, pos, "ID", 2):
        return _FAIL
    vid = _bin(b, end, pos, 16)
    if vid is _FAIL or not _key(b, end, pos, "DDir", 4):
        return _FAIL
    ddir = _bin(b, end, pos, 16)
    if ddir is _FAIL or not _key(b, end, pos, "EcAlgo", 6):
        return _FAIL
    ec_algo = _int(b, end, pos, True)
    if ec_algo is _FAIL or not _key(b, end, pos, "EcM", 3):
        return _FAIL
    ec_m = _int(b, end, pos, False)
    if ec_m is _FAIL or not _key(b, end, pos, "EcN", 3):
        return _FAIL
    ec_n = _int(b, end, pos, False)
    if ec_n is _FAIL or not _key(b, end, pos, "EcBSize", 7):
        return _FAIL
    block = _int(b, end, pos, False)
    if block is _FAIL or not _key(b, end, pos, "EcIndex", 7):
        return _FAIL
    ec_index = _int(b, end, pos, False)
    if ec_index is _FAIL or not _key(b, end, pos, "EcDist", 6):
        return _FAIL
    dist = _array(b, end, pos, _UINT_ITEM, False)
    if dist is _FAIL or not _key(b, end, pos, "CSumAlgo", 8):
        return _FAIL
    csum = _int(b, end, pos, True)
    if csum is _FAIL or not _key(b, end, pos, "PartNums", 8):
        return _FAIL
    nums = _array(b, end, pos, _INT_ITEM, False)
    if nums is _FAIL or not _key(b, end, pos, "PartETags", 9):
        return _FAIL
    etags = _array(b, end, pos, _STR_ITEM, True)
    if etags is _FAIL or not _key(b, end, pos, "PartSizes", 9):
        return _FAIL
    sizes = _array(b, end, pos, _INT_ITEM, False)
    if sizes is _FAIL or not _key(b, end, pos, "PartASizes", 10):
        return _FAIL
    asizes = _array(b, end, pos, _INT_ITEM, True)
    if asizes is _FAIL:
        return _FAIL
    indices = None
    if n == 18:
        if not _key(b, end, pos, "PartIdx", 7):
            return _FAIL
        indices = _array(b, end, pos, _BIN_ITEM, True)
        if indices is _FAIL:
            return _FAIL
    if not _key(b, end, pos, "Size", 4):
        return _FAIL
    size = _int(b, end, pos, False)
    if size is _FAIL or not _key(b, end, pos, "MTime", 5):
        return _FAIL
    mtime = _int(b, end, pos, False)
    if mtime is _FAIL or not _key(b, end, pos, "MetaSys", 7):
        return _FAIL
    meta_sys = _map(b, end, pos, True)
    if meta_sys is _FAIL or not _key(b, end, pos, "MetaUsr", 7):
        return _FAIL
    meta_usr = _map(b, end, pos, False)
    if meta_usr is _FAIL:
        return _FAIL
    return [vid, ddir, ec_algo, ec_m, ec_n, block, ec_index, dist, csum, nums, etags,
            sizes, asizes, indices, size, mtime, meta_sys, meta_usr]


cdef object _delete_marker_args(const uint8_t *b, size_t end, size_t *pos):
    """DelObj's fields as a list in ``DeleteMarker`` argument order, or _FAIL."""
    cdef uint64_t n
    if not _read_map_len(b, end, pos, &n) or not (n == 2 or n == 3):
        return _FAIL
    if not _key(b, end, pos, "ID", 2):
        return _FAIL
    vid = _bin(b, end, pos, 16)
    if vid is _FAIL or not _key(b, end, pos, "MTime", 5):
        return _FAIL
    mtime = _int(b, end, pos, False)
    if mtime is _FAIL:
        return _FAIL
    meta_sys = None  # absent means nil here
    if n == 3:
        if not _key(b, end, pos, "MetaSys", 7):
            return _FAIL
        meta_sys = _map(b, end, pos, True)
        if meta_sys is _FAIL:
            return _FAIL
    return [vid, mtime, meta_sys]


cdef object _body(const uint8_t *b, size_t size):
    cdef size_t pos = 0
    cdef uint64_t n, vtype
    if not _read_map_len(b, size, &pos, &n) or not (n == 2 or n == 3):
        return None
    if not _key(b, size, &pos, "Type", 4) or not _read_uint(b, size, &pos, &vtype):
        return None
    if vtype == 1 and _key(b, size, &pos, "V2Obj", 5):
        args = _object_args(b, size, &pos)
    elif vtype == 2 and _key(b, size, &pos, "DelObj", 6):
        args = _delete_marker_args(b, size, &pos)
    else:
        return None
    if args is _FAIL:
        return None
    written_by = None
    if n == 3:
        if not _key(b, size, &pos, "v", 1):
            return None
        if not _nil(b, size, &pos):
            written_by = _int(b, size, &pos, True)
            if written_by is _FAIL:
                return None
    # Nothing may follow the map: the writer's layout has no room for it.
    if pos != size:
        return None
    args.append(written_by)
    return (<int>vtype, args)


def decode_body(data):
    """Decode a version body in MinIO's writer layout; None for anything else.

    Returns ``(type, args)``: type 1 with the ``ObjectVersion`` arguments in
    field order, or type 2 with the ``DeleteMarker`` ones, ending with the
    ``v`` value (None when absent or nil). Never raises on any input.
    """
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _body(<const uint8_t *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
