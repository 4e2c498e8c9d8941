# cython: language_level=3
"""Reed-Solomon erasure coding over GF(2^8) on Intel ISA-L.

The coding matrix is supplied by the caller (liteio builds MinIO's systematic
Vandermonde matrix in Python, see ``liteio.erasure.gf256``); this module only
expands it into ISA-L tables and runs the SIMD kernels without the GIL.

Shards are any C-contiguous buffers of one common length. Nothing is copied:
parity and rebuilt shards are written straight into the caller's buffers.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from isal_erasure_code cimport ec_init_tables, ec_encode_data, gf_mul, gf_invert_matrix

cdef enum:
    MAX_SHARDS = 256

# Decode tables are cached per (sources, targets) pattern; a set of 16 drives
# has few patterns that ever occur, so a small bound is plenty.
DECODE_CACHE_LIMIT = 4096


class CodecError(ValueError):
    """A shard layout, buffer or parameter the codec cannot work with."""


class TooFewShards(CodecError):
    """Fewer than K usable shards remain, so the data cannot be recovered."""


cdef class _ShardBuffers:
    """Borrowed views of N shard buffers, released together."""

    cdef Py_buffer views[MAX_SHARDS]
    cdef unsigned char *ptrs[MAX_SHARDS]
    cdef int count
    cdef Py_ssize_t length

    def __cinit__(self):
        self.count = 0
        self.length = -1

    cdef int add(self, object shard, bint writable, int index) except -1:
        cdef int flags = PyBUF_SIMPLE | (PyBUF_WRITABLE if writable else 0)
        try:
            PyObject_GetBuffer(shard, &self.views[self.count], flags)
        except BufferError as exc:
            kind = "writable C-contiguous" if writable else "C-contiguous"
            raise CodecError(f"shard {index} is not a {kind} buffer: {exc}") from None
        except TypeError:
            raise CodecError(
                f"shard {index} is a {type(shard).__name__}, not a buffer") from None
        self.count += 1
        cdef Py_ssize_t n = self.views[self.count - 1].len
        if self.length < 0:
            self.length = n
        elif n != self.length:
            raise CodecError(
                f"shard {index} is {n} bytes but the others are {self.length}: "
                "all shards of a stripe must have the same length")
        self.ptrs[self.count - 1] = <unsigned char *>self.views[self.count - 1].buf
        return 0

    def __dealloc__(self):
        cdef int i
        for i in range(self.count):
            PyBuffer_Release(&self.views[i])


cdef class ReedSolomon:
    """An RS(K+M) code: K data shards protected by M parity shards.

    ``matrix`` is the (K+M) x K encoding matrix, row-major bytes, whose top
    K rows must be the identity (a systematic code).
    """

    cdef readonly int data_shards
    cdef readonly int parity_shards
    cdef readonly int total_shards
    cdef unsigned char *_matrix
    cdef unsigned char *_encode_tables
    cdef dict _decode_cache

    def __cinit__(self, int data_shards, int parity_shards, const unsigned char[::1] matrix):
        self._matrix = NULL
        self._encode_tables = NULL
        if data_shards < 1:
            raise CodecError(f"data shards must be at least 1, got {data_shards}")
        if parity_shards < 0:
            raise CodecError(f"parity shards cannot be negative, got {parity_shards}")
        if data_shards + parity_shards > MAX_SHARDS:
            raise CodecError(
                f"{data_shards}+{parity_shards} exceeds {MAX_SHARDS} shards, "
                "the most GF(2^8) can code")
        cdef int k = data_shards, n = data_shards + parity_shards
        if matrix.shape[0] != n * k:
            raise CodecError(
                f"encoding matrix has {matrix.shape[0]} bytes, a {n}x{k} matrix needs {n * k}")
        cdef int r, c
        for r in range(k):
            for c in range(k):
                if matrix[r * k + c] != (1 if r == c else 0):
                    raise CodecError("encoding matrix is not systematic (top rows not identity)")
        self.data_shards = k
        self.parity_shards = parity_shards
        self.total_shards = n
        self._matrix = <unsigned char *>malloc(n * k)
        self._encode_tables = <unsigned char *>malloc(32 * k * parity_shards + 1)
        if self._matrix == NULL or self._encode_tables == NULL:
            raise MemoryError()
        memcpy(self._matrix, &matrix[0], n * k)
        if parity_shards:
            ec_init_tables(k, parity_shards, self._matrix + k * k, self._encode_tables)
        self._decode_cache = {}

    def __dealloc__(self):
        free(self._matrix)
        free(self._encode_tables)

    def __repr__(self):
        return f"ReedSolomon({self.data_shards}+{self.parity_shards})"

    def encode(self, shards):
        """Compute parity in place: ``shards[K:]`` are overwritten from ``shards[:K]``."""
        cdef int k = self.data_shards, m = self.parity_shards, i
        if len(shards) != self.total_shards:
            raise CodecError(
                f"{self!r} encodes {self.total_shards} shards, got {len(shards)}")
        cdef _ShardBuffers bufs = _ShardBuffers()
        for i in range(self.total_shards):
            bufs.add(shards[i], i >= k, i)
        cdef int length = self._checked_length(bufs.length)
        if m == 0 or length == 0:
            return
        with nogil:
            ec_encode_data(length, k, m, self._encode_tables, bufs.ptrs, bufs.ptrs + k)

    def reconstruct(self, shards, targets):
        """Rebuild the shards numbered in ``targets`` from K of the others.

        ``shards`` holds all K+M positions: a buffer, or None where the shard
        is unavailable. Every target must be given a writable buffer, which is
        overwritten. The lowest-numbered K available non-target shards are
        used, so data shards are preferred over parity.
        """
        cdef int k = self.data_shards, n = self.total_shards, i, t
        cdef int ntargets = 0, nsources = 0
        cdef int target_ids[MAX_SHARDS]
        cdef int source_ids[MAX_SHARDS]
        cdef unsigned char is_target[MAX_SHARDS]
        # PERF: this runs per block on degraded reads; keep Python objects out of it.
        if len(shards) != n:
            raise CodecError(f"{self!r} needs all {n} shard positions, got {len(shards)}")
        memset(is_target, 0, n)
        for obj in targets:
            t = obj
            if t < 0 or t >= n:
                raise CodecError(f"target shard {t} is out of range 0..{n - 1}")
            if is_target[t]:
                raise CodecError(f"duplicate shard {t} in targets")
            if shards[t] is None:
                raise CodecError(f"target shard {t} has no buffer to rebuild into")
            is_target[t] = 1
            target_ids[ntargets] = t
            ntargets += 1
        if ntargets == 0:
            return
        for i in range(n):
            if not is_target[i] and shards[i] is not None:
                source_ids[nsources] = i
                nsources += 1
                if nsources == k:
                    break
        if nsources < k:
            raise TooFewShards(
                f"{self!r} needs {k} shards to rebuild "
                f"{sorted(target_ids[j] for j in range(ntargets))}, only {nsources} available")

        cdef bytes tables = self._decode_tables(source_ids, target_ids, ntargets)
        cdef _ShardBuffers inputs = _ShardBuffers()
        cdef _ShardBuffers outputs = _ShardBuffers()
        for i in range(k):
            inputs.add(shards[source_ids[i]], False, source_ids[i])
        for i in range(ntargets):
            outputs.add(shards[target_ids[i]], True, target_ids[i])
        if inputs.length != outputs.length:
            raise CodecError(
                f"target shards are {outputs.length} bytes but sources are {inputs.length}")
        cdef int length = self._checked_length(inputs.length)
        cdef unsigned char *tbl = tables
        if length == 0:
            return
        with nogil:
            ec_encode_data(length, k, ntargets, tbl, inputs.ptrs, outputs.ptrs)

    cdef int _checked_length(self, Py_ssize_t length) except -1:
        if length > 0x7FFFFFFF:
            raise CodecError(f"shard length {length} exceeds 2 GiB, the ISA-L limit")
        return <int>length

    cdef bytes _decode_tables(self, int *sources, int *targets, int rows):
        cdef int k = self.data_shards
        cdef unsigned char keybuf[2 * MAX_SHARDS]
        cdef int r
        for r in range(k):
            keybuf[r] = <unsigned char>sources[r]
        for r in range(rows):
            keybuf[k + r] = <unsigned char>targets[r]
        # k is fixed per codec, so where sources end and targets begin is implied.
        cdef bytes key = PyBytes_FromStringAndSize(<char *>keybuf, k + rows)
        cached = self._decode_cache.get(key)
        if cached is not None:
            return cached
        cdef int c, j, t
        cdef unsigned char acc
        cdef bytearray sub = bytearray(k * k)
        cdef bytearray inv = bytearray(k * k)
        cdef bytearray coeffs = bytearray(k * rows)
        cdef unsigned char *s = sub
        cdef unsigned char *d = inv
        cdef unsigned char *out = coeffs
        for r in range(k):
            memcpy(s + r * k, self._matrix + sources[r] * k, k)
        if gf_invert_matrix(s, d, k) != 0:
            raise CodecError(
                f"shards {[sources[j] for j in range(k)]} do not form an invertible code matrix")
        # Row for target t: identity row t of the inverse for a data shard,
        # else (encoding row t) x inverse for a parity shard.
        for r in range(rows):
            t = targets[r]
            if t < k:
                memcpy(out + r * k, d + t * k, k)
                continue
            for c in range(k):
                acc = 0
                for j in range(k):
                    acc ^= gf_mul(self._matrix[t * k + j], d[j * k + c])
                out[r * k + c] = acc
        cdef bytearray expanded = bytearray(32 * k * rows)
        ec_init_tables(k, rows, out, <unsigned char *>expanded)
        cdef bytes tables = bytes(expanded)
        if len(self._decode_cache) >= DECODE_CACHE_LIMIT:
            self._decode_cache.clear()
        self._decode_cache[key] = tables
        return tables
