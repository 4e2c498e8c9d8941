# cython: language_level=3
"""4096-byte-aligned buffers for O_DIRECT I/O, and a bounded pool of them.

A ``BufferPool`` carves ``count`` buffers out of one aligned slab at start-up
and never allocates again, so memory stays bounded however busy the server
gets. Each ``acquire`` hands out a fresh ``AlignedBuffer`` handle over a free
slot; the handle, not the slot, is what the caller holds:

    slab  +----------+----------+----------+-----+
          | slot 0   | slot 1   | slot 2   | ... |   each buffer_size bytes,
          +----------+----------+----------+-----+   4096-aligned
                ^
          AlignedBuffer(_slot=0)  -- release() / with-exit / garbage collection
                                     pushes slot 0 back on the free stack

Guarantees:
- a slot is handed out again only after its handle gave it back, and a
  handle refuses to give it back while a memoryview or numpy array still
  points into it (BufferError), so pooled memory is never shared by mistake;
- a handle that is dropped without release() returns its slot when it is
  deallocated, so forgetting to release cannot drain the pool for good;
- a released handle exports nothing more (ValueError), so stale handles
  cannot write into memory now lent to someone else.

Buffer contents are not cleared between uses (like ``numpy.empty``).

Locking: the free stack is guarded by a pthread mutex whose critical sections
are pure C (no Python objects, no GIL), so a thread can wait on the condition
variable without the GIL, and ``__dealloc__`` can return a slot from any
thread, even from inside the garbage collector. asyncio waiters live in a
deque that is touched only with the GIL held, outside the mutex.
"""

cimport cython
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from cpython.exc cimport PyErr_CheckSignals
from libc.stdlib cimport free, malloc
from posix.stdlib cimport posix_memalign
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.types cimport clockid_t

import asyncio
from collections import deque

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *mutex, const void *attr)
    int pthread_mutex_destroy(pthread_mutex_t *mutex)
    int pthread_mutex_lock(pthread_mutex_t *mutex)
    int pthread_mutex_unlock(pthread_mutex_t *mutex)
    int pthread_condattr_init(pthread_condattr_t *attr)
    int pthread_condattr_setclock(pthread_condattr_t *attr, clockid_t clock)
    int pthread_condattr_destroy(pthread_condattr_t *attr)
    int pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr)
    int pthread_cond_destroy(pthread_cond_t *cond)
    int pthread_cond_signal(pthread_cond_t *cond)
    int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                               const timespec *abstime)

cdef enum:
    ALIGN = 4096

ALIGNMENT = ALIGN

cdef char *BYTE_FORMAT = "B"  # struct-module code of the exported items

# A blocked acquire() wakes this often to let Ctrl-C (KeyboardInterrupt) through.
cdef double SIGNAL_CHECK_SECONDS = 0.1


class PoolExhausted(TimeoutError):
    """No buffer became free before the timeout."""


cdef inline Py_ssize_t _round_up(Py_ssize_t n) noexcept nogil:
    return (n + ALIGN - 1) & ~(<Py_ssize_t>ALIGN - 1)


cdef inline double _monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef class BufferPool


@cython.final
@cython.no_gc_clear  # __dealloc__ needs _pool to hand the slot back, even when collected
cdef class AlignedBuffer:
    """``size`` writable bytes at a 4096-aligned address.

    Exposes the buffer protocol (1-D unsigned bytes), so ``memoryview(buf)``
    and ``numpy.frombuffer(buf, dtype=numpy.uint8)`` share its memory.
    Made by ``BufferPool.acquire`` (pooled) or ``aligned_empty`` (standalone).
    """

    cdef unsigned char *_ptr  # NULL once released
    cdef Py_ssize_t _size
    cdef Py_ssize_t _stride   # always 1; exported views point their strides here
    cdef int _exports         # live Py_buffer views into _ptr
    cdef int _slot            # slot number in _pool, -1 when standalone
    cdef BufferPool _pool     # None when standalone

    def __cinit__(self):
        self._ptr = NULL
        self._size = 0
        self._stride = 1
        self._exports = 0
        self._slot = -1
        self._pool = None

    def __init__(self, *args, **kwargs):
        raise TypeError("use aligned_empty(size) or BufferPool.acquire() to get an AlignedBuffer")

    def __dealloc__(self):
        # Views hold a reference to us, so _exports is 0 here.
        if self._ptr != NULL:
            self._give_back()

    cdef void _give_back(self) noexcept:
        cdef BufferPool pool = self._pool
        cdef unsigned char *ptr = self._ptr
        self._ptr = NULL
        if pool is None:
            free(ptr)
            return
        pool._put(self._slot)
        self._pool = None
        try:
            pool._wake_async_waiter()
        except Exception:
            pass  # NOTE: may run inside __dealloc__, where nothing can be raised

    def __getbuffer__(self, Py_buffer *view, int flags):
        if self._ptr == NULL:
            raise ValueError("AlignedBuffer was released; it exports no memory")
        view.buf = self._ptr
        view.obj = self
        view.len = self._size
        view.readonly = 0
        view.itemsize = 1
        view.ndim = 1
        # Fill format, shape and strides only when asked, as PyBuffer_FillInfo does.
        view.format = NULL
        view.shape = NULL
        view.strides = NULL
        if flags & PyBUF_FORMAT:
            view.format = BYTE_FORMAT
        if flags & PyBUF_ND:
            view.shape = &self._size
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            view.strides = &self._stride
        view.suboffsets = NULL
        view.internal = NULL
        self._exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self._exports -= 1

    @property
    def address(self):
        """The memory's address, a multiple of 4096."""
        if self._ptr == NULL:
            raise ValueError("AlignedBuffer was released")
        return <size_t>self._ptr

    @property
    def size(self):
        return self._size

    @property
    def exports(self):
        """How many buffer views (memoryviews, numpy arrays, ...) are still open."""
        return self._exports

    @property
    def released(self):
        return self._ptr == NULL

    def __len__(self):
        return self._size

    def release(self):
        """Give the memory back: to the pool it came from, or to the system."""
        if self._ptr == NULL:
            raise ValueError("AlignedBuffer was already released")
        if self._exports:
            raise BufferError(
                f"AlignedBuffer still has {self._exports} open view(s) "
                "(memoryview or numpy array); release them before the buffer")
        self._give_back()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._ptr != NULL:
            self.release()

    def __repr__(self):
        if self._ptr == NULL:
            return f"<AlignedBuffer size={self._size} released>"
        kind = "pooled" if self._pool is not None else "standalone"
        return f"<AlignedBuffer size={self._size} {kind} at {<size_t>self._ptr:#x}>"


def aligned_empty(Py_ssize_t size):
    """A standalone, uninitialised AlignedBuffer of ``size`` bytes.

    Memory is rounded up to whole 4096-byte pages (at least one), so O_DIRECT
    may read a full page into it; ``size`` is what the buffer exposes.
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    cdef void *ptr = NULL
    if posix_memalign(&ptr, ALIGN, _round_up(size if size else 1)) != 0:
        raise MemoryError(f"cannot allocate {size} aligned bytes")
    cdef AlignedBuffer buf = AlignedBuffer.__new__(AlignedBuffer)
    buf._ptr = <unsigned char *>ptr
    buf._size = size
    return buf


def _deliver_wakeup(BufferPool pool, fut):
    """Runs on the waiter's event loop: wake it, or pass the wakeup on if it left."""
    if fut.cancelled():
        pool._wake_async_waiter()
    elif not fut.done():
        fut.set_result(None)


@cython.final
@cython.no_gc_clear
cdef class BufferPool:
    """``count`` buffers of ``buffer_size`` bytes (rounded up to 4096), preallocated.

    Thread-safe. ``acquire`` blocks without the GIL, ``acquire_async`` waits
    without blocking the event loop, ``try_acquire`` never waits.
    """

    cdef unsigned char *_slab
    cdef int *_free_stack       # slot numbers; the top is handed out next
    cdef int _nfree
    cdef readonly Py_ssize_t buffer_size
    cdef readonly int capacity
    cdef pthread_mutex_t _mutex
    cdef pthread_cond_t _cond   # signalled on every release, for blocked threads
    cdef bint _sync_ready
    cdef object _waiters        # deque of asyncio futures, oldest first

    def __cinit__(self, Py_ssize_t buffer_size, int count):
        self._slab = NULL
        self._free_stack = NULL
        self._sync_ready = False
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        cdef Py_ssize_t rounded = _round_up(buffer_size)
        if rounded < buffer_size or rounded > (<Py_ssize_t>1 << 62) // count:
            raise OverflowError(f"{count} buffers of {buffer_size} bytes is too large")
        cdef void *slab = NULL
        if posix_memalign(&slab, ALIGN, rounded * count) != 0:
            raise MemoryError(f"cannot allocate {count} x {rounded} aligned bytes")
        self._slab = <unsigned char *>slab
        self._free_stack = <int *>malloc(count * sizeof(int))
        if self._free_stack == NULL:
            raise MemoryError()
        cdef int i
        for i in range(count):
            self._free_stack[i] = count - 1 - i  # slot 0 on top: handed out first
        self._nfree = count
        self.buffer_size = rounded
        self.capacity = count

        cdef pthread_condattr_t attr
        pthread_condattr_init(&attr)
        # NOTE: a monotonic clock, so timeouts survive wall-clock jumps.
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        if pthread_mutex_init(&self._mutex, NULL) != 0 or \
                pthread_cond_init(&self._cond, &attr) != 0:
            pthread_condattr_destroy(&attr)
            raise MemoryError("cannot initialise the pool lock")
        pthread_condattr_destroy(&attr)
        self._sync_ready = True
        self._waiters = deque()

    def __dealloc__(self):
        # Every handed-out AlignedBuffer holds a reference to us, so no slot is in use.
        if self._sync_ready:
            pthread_cond_destroy(&self._cond)
            pthread_mutex_destroy(&self._mutex)
        free(self._free_stack)
        free(self._slab)

    # -- the free stack (pure C, any thread, GIL or not) --------------------

    cdef int _take(self) noexcept nogil:
        cdef int slot = -1
        pthread_mutex_lock(&self._mutex)
        if self._nfree:
            self._nfree -= 1
            slot = self._free_stack[self._nfree]
        pthread_mutex_unlock(&self._mutex)
        return slot

    cdef int _take_waiting(self, double until) noexcept nogil:
        """A slot, waiting until the monotonic time ``until``; -1 if none came."""
        cdef timespec ts
        cdef int slot = -1, rc = 0
        ts.tv_sec = <long>until
        ts.tv_nsec = min(<long>((until - ts.tv_sec) * 1e9), 999999999)
        pthread_mutex_lock(&self._mutex)
        # rc is 0 on a wakeup (real or spurious), else ETIMEDOUT: stop waiting,
        # but check the stack once more, as a release can coincide with the timeout.
        while self._nfree == 0 and rc == 0:
            rc = pthread_cond_timedwait(&self._cond, &self._mutex, &ts)
        if self._nfree:
            self._nfree -= 1
            slot = self._free_stack[self._nfree]
        pthread_mutex_unlock(&self._mutex)
        return slot

    cdef void _put(self, int slot) noexcept nogil:
        pthread_mutex_lock(&self._mutex)
        self._free_stack[self._nfree] = slot
        self._nfree += 1
        pthread_cond_signal(&self._cond)
        pthread_mutex_unlock(&self._mutex)

    cdef AlignedBuffer _wrap(self, int slot):
        cdef AlignedBuffer buf
        try:
            buf = AlignedBuffer.__new__(AlignedBuffer)
        except BaseException:
            self._put(slot)
            raise
        buf._ptr = self._slab + slot * self.buffer_size
        buf._size = self.buffer_size
        buf._slot = slot
        buf._pool = self
        return buf

    # -- asyncio waiters (GIL held) -----------------------------------------

    cdef void _wake_async_waiter(self) except *:
        """Wake the oldest live asyncio waiter, if any, to retry after a release."""
        waiters = self._waiters
        while waiters:
            try:
                fut = waiters.popleft()
            except IndexError:
                return  # another thread emptied it meanwhile
            if fut.done():
                continue
            try:
                fut.get_loop().call_soon_threadsafe(_deliver_wakeup, self, fut)
            except RuntimeError:
                continue  # its loop is closed; nobody is waiting there
            return

    cdef void _leave(self, fut) except *:
        """An asyncio waiter stops waiting (got a buffer, or was cancelled)."""
        woken = fut.done() and not fut.cancelled()
        fut.cancel()  # a wakeup still on its way is passed on by _deliver_wakeup
        if woken:
            # It was woken for a release it will not take: pass that on.
            self._wake_async_waiter()
        else:
            try:
                self._waiters.remove(fut)
            except ValueError:
                pass

    # -- public API ---------------------------------------------------------

    @property
    def free(self):
        """Buffers available right now."""
        cdef int n
        with nogil:
            pthread_mutex_lock(&self._mutex)
            n = self._nfree
            pthread_mutex_unlock(&self._mutex)
        return n

    def try_acquire(self):
        """A buffer if one is free now, else None."""
        cdef int slot = self._take()
        return None if slot < 0 else self._wrap(slot)

    def acquire(self, timeout=None):
        """A buffer, waiting (without the GIL) up to ``timeout`` seconds, or forever if None.

        Raises PoolExhausted when the timeout passes with no buffer free.
        """
        cdef int slot = self._take()
        if slot >= 0:
            return self._wrap(slot)
        cdef double now = _monotonic(), deadline = 1e300, until
        if timeout is not None:
            if timeout < 0:
                raise ValueError(f"timeout must be >= 0 or None, got {timeout}")
            deadline = now + timeout
        while True:
            until = min(deadline, now + SIGNAL_CHECK_SECONDS)
            with nogil:
                slot = self._take_waiting(until)
                now = _monotonic()
            if slot >= 0:
                return self._wrap(slot)
            if now >= deadline:
                raise PoolExhausted(
                    f"no buffer free in {timeout} s (pool of {self.capacity} x "
                    f"{self.buffer_size} bytes)")
            PyErr_CheckSignals()

    async def acquire_async(self):
        """A buffer, awaiting a release without blocking the event loop.

        Waiters are woken oldest first; cancelling one never loses a wakeup.
        Bound the wait with ``asyncio.timeout``.
        """
        buf = self.try_acquire()
        if buf is not None:
            return buf
        loop = asyncio.get_running_loop()
        retry = False
        while True:
            fut = loop.create_future()
            # A woken waiter that lost the race keeps its place at the front.
            if retry:
                self._waiters.appendleft(fut)
            else:
                self._waiters.append(fut)
            # NOTE: try again now that we are queued: a release that happened
            # since the first try found no waiter to wake.
            buf = self.try_acquire()
            if buf is not None:
                self._leave(fut)
                return buf
            try:
                await fut
            except BaseException:
                self._leave(fut)
                raise
            buf = self.try_acquire()
            if buf is not None:
                return buf
            retry = True  # a thread or try_acquire took it first

    def release(self, AlignedBuffer buf not None):
        """Return ``buf`` to this pool (same as ``buf.release()``)."""
        if buf._pool is not self:
            if buf._ptr == NULL:
                raise ValueError("AlignedBuffer was already released")
            raise ValueError("AlignedBuffer does not belong to this pool")
        buf.release()

    def __repr__(self):
        return (f"<BufferPool {self.capacity} x {self.buffer_size} bytes, "
                f"{self.free} free>")
