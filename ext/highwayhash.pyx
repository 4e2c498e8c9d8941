# cython: language_level=3
"""HighwayHash-64/128/256, the hash behind MinIO's bitrot protection.

MinIO stores HighwayHash-256 (key ``MINIO_BITROT_KEY``) of every shard chunk
in front of the chunk. Digests are the result lanes written little-endian,
lane 0 first, exactly as MinIO writes them.

The C kernels (``ext/csrc/highwayhash``) run without the GIL; an AVX2 kernel
is chosen at load time when the CPU has it. ``LITEIO_HIGHWAYHASH_IMPL``
(``auto``, ``portable`` or ``avx2``) overrides the choice at import, and
``set_implementation`` at run time (meant for tests and benchmarks).

Inputs are any C-contiguous buffers; nothing is copied, and ``*_into`` and
``hash_shards`` write straight into the caller's buffers.
"""

import os

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.stdint cimport uint8_t
from libc.string cimport memcpy

from hh_c cimport (
    HH_IMPL_AUTO, HH_IMPL_AVX2, HH_IMPL_PORTABLE, hh_cpu_has_avx2, hh_get_impl, hh_hash,
    hh_hash_many, hh_set_impl, hh_stream, hh_stream_digest, hh_stream_reset,
    hh_stream_update, hh_verify_many,
)

#: MinIO's bitrot key (cmd/bitrot.go ``magicHighwayHash256Key``): HighwayHash-256
#: under an all-zero key of the 100 digits of pi after "3.".
MINIO_BITROT_KEY = bytes.fromhex(
    "4be734fa8e238acd263e83e6bb968552040f935da39f441497e09d1322de36a0")

KEY_SIZE = 32
BLOCK_SIZE = 32

# PERF: inputs shorter than this are hashed holding the GIL: below ~4 KiB the
# hash takes well under a microsecond, less than dropping and retaking the
# GIL costs once other threads contend for it.
cdef enum:
    NOGIL_MIN = 4096

cdef dict _IMPL_IDS = {
    "auto": HH_IMPL_AUTO, "portable": HH_IMPL_PORTABLE, "avx2": HH_IMPL_AVX2}
cdef dict _IMPL_NAMES = {HH_IMPL_PORTABLE: "portable", HH_IMPL_AVX2: "avx2"}


# -- argument checks (all with the GIL, before any C call) -------------------

cdef str _label(str what, Py_ssize_t index):
    return what if index < 0 else f"{what}[{index}]"


cdef int _get_view(Py_buffer *view, object obj, str what, bint writable,
                   Py_ssize_t index=-1) except -1:
    """Borrow obj's bytes as one contiguous block; the caller releases it.

    Errors name the argument as ``what`` (``what[index]`` for list items).
    """
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except TypeError:
        raise TypeError(f"{_label(what, index)} must be a bytes-like object, "
                        f"not {type(obj).__name__}") from None
    except (BufferError, ValueError) as exc:
        raise ValueError(
            f"{_label(what, index)} must be a C-contiguous buffer ({exc})") from None
    if writable and view.readonly:
        PyBuffer_Release(view)
        raise TypeError(f"{_label(what, index)} must be a writable buffer; "
                        f"{type(obj).__name__} is read-only")
    return 0


cdef int _read_key(object key, uint8_t *dest) except -1:
    cdef Py_buffer view
    _get_view(&view, key, "key", False)
    try:
        if view.len != KEY_SIZE:
            raise ValueError(f"key must be exactly {KEY_SIZE} bytes, got {view.len}")
        memcpy(dest, view.buf, KEY_SIZE)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef int _check_digest_size(int digest_size) except -1:
    if digest_size not in (8, 16, 32):
        raise ValueError(f"digest_size must be 8, 16 or 32 bytes, got {digest_size}")
    return 0


cdef list _as_list(object items, str what):
    if isinstance(items, list):
        return <list>items
    try:
        return list(items)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of buffers, "
                        f"not {type(items).__name__}") from None


cdef class _Views:
    """Borrowed views of N buffers (pointers and lengths), released together."""

    cdef Py_buffer *views
    cdef const uint8_t **ptrs
    cdef size_t *lens
    cdef Py_ssize_t count
    cdef size_t total

    def __cinit__(self, Py_ssize_t capacity):
        self.count = 0
        self.total = 0
        # One block: [views | ptrs | lens]; +1 so a zero capacity is no special case.
        capacity += 1
        self.views = <Py_buffer *>PyMem_Calloc(
            capacity, sizeof(Py_buffer) + sizeof(uint8_t *) + sizeof(size_t))
        if self.views == NULL:
            raise MemoryError()
        self.ptrs = <const uint8_t **>(self.views + capacity)
        self.lens = <size_t *>(self.ptrs + capacity)

    cdef int add(self, object obj, str what, bint writable,
                 Py_ssize_t min_len) except -1:
        cdef Py_ssize_t index = self.count
        cdef Py_buffer *view = &self.views[index]
        _get_view(view, obj, what, writable, index)
        self.count += 1  # counted now so __dealloc__ releases it even if we raise
        if view.len < min_len:
            raise ValueError(
                f"{_label(what, index)} has {view.len} bytes, needs at least {min_len}")
        self.ptrs[self.count - 1] = <const uint8_t *>view.buf
        self.lens[self.count - 1] = <size_t>view.len
        self.total += <size_t>view.len
        return 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.views != NULL:
            for i in range(self.count):
                PyBuffer_Release(&self.views[i])
        PyMem_Free(self.views)


# -- kernels, dropping the GIL only when the work is worth it ----------------

cdef void _hash(const uint8_t *key, const uint8_t *data, size_t length, int digest_size,
                uint8_t *out) noexcept:
    if length < NOGIL_MIN:
        hh_hash(key, data, length, digest_size, out)
    else:
        with nogil:
            hh_hash(key, data, length, digest_size, out)


cdef bytes _oneshot(object key, object data, int digest_size):
    cdef uint8_t k[32]
    cdef uint8_t out[32]
    cdef Py_buffer view
    _read_key(key, k)
    _get_view(&view, data, "data", False)
    try:
        _hash(k, <const uint8_t *>view.buf, <size_t>view.len, digest_size, out)
    finally:
        PyBuffer_Release(&view)
    return (<char *>out)[:digest_size]


# -- streaming hashers ------------------------------------------------------

cdef class HighwayHash:
    """Streaming HighwayHash with a hashlib-like interface.

    ``digest_size`` is 8, 16 or 32 bytes (HighwayHash-64/128/256).
    ``digest()`` does not consume the state: update, digest, update again
    gives the digest of everything so far.

    NOTE: one hasher is not meant to be fed from several threads at once;
    doing so yields a wrong digest but never corrupts memory.
    """

    cdef hh_stream _stream
    cdef uint8_t _key[32]
    cdef readonly int digest_size

    def __init__(self, key, data=None, *, int digest_size=32):
        _check_digest_size(digest_size)
        _read_key(key, self._key)
        self.digest_size = digest_size
        hh_stream_reset(&self._stream, self._key)
        if data is not None:
            self.update(data)

    @property
    def name(self):
        return f"highwayhash{8 * self.digest_size}"

    @property
    def block_size(self):
        return BLOCK_SIZE

    def update(self, data):
        """Absorb more bytes (any C-contiguous buffer)."""
        cdef Py_buffer view
        cdef hh_stream work
        _get_view(&view, data, "data", False)
        try:
            if view.len < NOGIL_MIN:
                hh_stream_update(&self._stream, <const uint8_t *>view.buf,
                                 <size_t>view.len)
            else:
                # NOTE: hash a private copy and store it back with the GIL held,
                # so racing update() calls cannot tear the pending-byte count.
                work = self._stream
                with nogil:
                    hh_stream_update(&work, <const uint8_t *>view.buf, <size_t>view.len)
                self._stream = work
        finally:
            PyBuffer_Release(&view)

    def digest(self):
        """The digest of everything absorbed so far (state is kept)."""
        cdef uint8_t out[32]
        hh_stream_digest(&self._stream, self.digest_size, out)
        return (<char *>out)[:self.digest_size]

    def hexdigest(self):
        return self.digest().hex()

    def copy(self):
        """An independent hasher with the same key and state."""
        cls = type(self)
        cdef HighwayHash other = cls.__new__(cls)
        other._stream = self._stream
        memcpy(other._key, self._key, KEY_SIZE)
        other.digest_size = self.digest_size
        return other

    def reset(self):
        """Forget all input; the key is kept."""
        hh_stream_reset(&self._stream, self._key)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


cdef class HighwayHash64(HighwayHash):
    """HighwayHash with an 8-byte digest."""

    def __init__(self, key, data=None):
        HighwayHash.__init__(self, key, data, digest_size=8)


cdef class HighwayHash128(HighwayHash):
    """HighwayHash with a 16-byte digest."""

    def __init__(self, key, data=None):
        HighwayHash.__init__(self, key, data, digest_size=16)


cdef class HighwayHash256(HighwayHash):
    """HighwayHash with a 32-byte digest: MinIO's bitrot hash."""

    def __init__(self, key, data=None):
        HighwayHash.__init__(self, key, data, digest_size=32)


# -- one-shot and batched ---------------------------------------------------

def hh64(key, data):
    """HighwayHash-64 of data: 8 bytes."""
    return _oneshot(key, data, 8)


def hh128(key, data):
    """HighwayHash-128 of data: 16 bytes."""
    return _oneshot(key, data, 16)


def hh256(key, data):
    """HighwayHash-256 of data: 32 bytes."""
    return _oneshot(key, data, 32)


def hh256_into(key, data, out):
    """Write HighwayHash-256 of data into the first 32 bytes of ``out``.

    ``out`` may overlap ``data``: it is written only after all of data is read.
    """
    cdef uint8_t k[32]
    cdef Py_buffer src, dst
    _read_key(key, k)
    _get_view(&src, data, "data", False)
    try:
        _get_view(&dst, out, "out", True)
        try:
            if dst.len < 32:
                raise ValueError(f"out has {dst.len} bytes, needs at least 32")
            _hash(k, <const uint8_t *>src.buf, <size_t>src.len, 32, <uint8_t *>dst.buf)
        finally:
            PyBuffer_Release(&dst)
    finally:
        PyBuffer_Release(&src)


def hash_shards(key, shards, outs):
    """Write HighwayHash-256 of ``shards[i]`` into ``outs[i][:32]`` for every i.

    Shards may differ in length. One call, one GIL release for the lot.
    Outputs must not overlap the shards.
    """
    cdef uint8_t k[32]
    cdef Py_ssize_t i, n
    _read_key(key, k)
    cdef list src_list = _as_list(shards, "shards")
    cdef list dst_list = _as_list(outs, "outs")
    n = len(src_list)
    if len(dst_list) != n:
        raise ValueError(f"got {n} shards but {len(dst_list)} output buffers")
    cdef _Views src = _Views(n)
    cdef _Views dst = _Views(n)
    for i in range(n):
        src.add(src_list[i], "shards", False, 0)
        dst.add(dst_list[i], "outs", True, 32)
    if src.total < NOGIL_MIN:
        hh_hash_many(k, src.ptrs, src.lens, n, 32, <uint8_t **>dst.ptrs)
    else:
        with nogil:
            hh_hash_many(k, src.ptrs, src.lens, n, 32, <uint8_t **>dst.ptrs)


def verify_shards(key, shards, expected):
    """Indices i (ascending) where HighwayHash-256 of ``shards[i]`` differs
    from ``expected[i][:32]``; an empty list means every shard is intact."""
    cdef uint8_t k[32]
    cdef Py_ssize_t i, n
    cdef size_t nbad
    _read_key(key, k)
    cdef list src_list = _as_list(shards, "shards")
    cdef list want_list = _as_list(expected, "expected")
    n = len(src_list)
    if len(want_list) != n:
        raise ValueError(f"got {n} shards but {len(want_list)} expected hashes")
    cdef _Views src = _Views(n)
    cdef _Views want = _Views(n)
    for i in range(n):
        src.add(src_list[i], "shards", False, 0)
        want.add(want_list[i], "expected", False, 32)
    cdef bytearray flags = bytearray(n)
    cdef uint8_t *bad = flags
    if src.total < NOGIL_MIN:
        nbad = hh_verify_many(k, src.ptrs, src.lens, n, 32, want.ptrs, bad)
    else:
        with nogil:
            nbad = hh_verify_many(k, src.ptrs, src.lens, n, 32, want.ptrs, bad)
    if nbad == 0:
        return []
    return [i for i in range(n) if bad[i]]


# -- kernel selection -------------------------------------------------------

def implementation():
    """The kernel in use: ``"portable"`` or ``"avx2"``."""
    return _IMPL_NAMES[hh_get_impl()]


def available_implementations():
    """Kernels this CPU can run, fastest last."""
    return ("portable", "avx2") if hh_cpu_has_avx2() else ("portable",)


def set_implementation(name):
    """Select the kernel: ``"auto"`` (fastest available), ``"portable"`` or ``"avx2"``.

    Process-wide; meant for tests and benchmarks, not to be switched while
    other threads are hashing.
    """
    impl = _IMPL_IDS.get(name)
    if impl is None:
        raise ValueError(f"unknown HighwayHash implementation {name!r}; "
                         f"choose from {sorted(_IMPL_IDS)}")
    if hh_set_impl(impl) != 0:
        raise ValueError(
            f"the {name} HighwayHash kernel needs a CPU with {name.upper()}")


set_implementation(os.environ.get("LITEIO_HIGHWAYHASH_IMPL", "auto") or "auto")
