# cython: language_level=3
"""Shard file I/O with O_DIRECT where the filesystem supports it.

O_DIRECT bypasses the page cache, so streaming shards to disk neither evicts
the hot set nor double-buffers data we already hold. It requires the buffer
address, the file offset and the length to be multiples of the logical block
size (4096 here, safe for every common device). Callers decide per drive with
``probe_direct`` and open files with ``direct=True`` or ``False``.

Writing is append-only. In direct mode the file position stays 4096-aligned:

    caller data  ....|<--- n x 4096 --->|<- tail ->|
                      written straight     copied into the stage; the stage
                      from the caller's    goes out in 1 MiB O_DIRECT writes,
                      buffer when it is    and its last partial page at
                      4096-aligned and     close()/fdatasync(), after
                      nothing is staged    O_DIRECT is cleared with fcntl

Once that unaligned tail is on disk the position is no longer aligned, so any
later writes to the same file go through the page cache (still correct).

Reads are positional (``pread_into``). Requests that are not aligned in
address, offset or length read the covering aligned range into a bounce
buffer and copy out. Every syscall runs without the GIL and retries EINTR;
errors raise OSError carrying errno and the path.
"""

import io
import os

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.errno cimport EINTR, EINVAL, EIO, ENOMEM, errno
from libc.stdlib cimport free
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.fcntl cimport (
    F_GETFL, F_SETFL, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR,
    O_TRUNC, O_WRONLY, fcntl,
)
from posix.fcntl cimport open as c_open
from posix.stat cimport fstat, struct_stat
from posix.stdlib cimport posix_memalign
from posix.types cimport off_t
from posix.unistd cimport close as c_close
from posix.unistd cimport fdatasync, fsync, pread, pwrite, unlink

cdef enum:
    ALIGN = 4096
    STAGE_SIZE = 1 << 20    # default write staging buffer of a direct writer
    BOUNCE_MAX = 1 << 20    # largest bounce buffer one unaligned read uses

ALIGNMENT = ALIGN


cdef inline bint _aligned(size_t n) noexcept nogil:
    return (n & (ALIGN - 1)) == 0


cdef inline Py_ssize_t _round_up(Py_ssize_t n) noexcept nogil:
    return (n + ALIGN - 1) & ~(<Py_ssize_t>ALIGN - 1)


cdef object _oserror(int err, object path):
    return OSError(err, os.strerror(err), path)


cdef int _open(const char *path, int flags, int mode) noexcept nogil:
    """open(2) retrying EINTR; the fd, or -errno."""
    cdef int fd
    while True:
        fd = c_open(path, flags, mode)
        if fd >= 0:
            return fd
        if errno != EINTR:
            return -errno


cdef int _sync(int fd, bint data_only) noexcept nogil:
    """fdatasync/fsync retrying EINTR; 0 or errno."""
    while (fdatasync(fd) if data_only else fsync(fd)) != 0:
        if errno != EINTR:
            return errno
    return 0


cdef class DirectFile:
    """One shard file, opened for appending writes (``"w"``) or positional reads (``"r"``).

    ``"w"`` creates or truncates the file (mode 0o644). With ``direct=True``
    the file is opened with O_DIRECT (EINVAL if the filesystem refuses it;
    Linux creates the file before refusing, so it may be left empty).
    Not for concurrent writers; concurrent ``pread_into`` calls are fine.
    """

    cdef int _fd
    cdef readonly object path
    cdef readonly str mode
    cdef bint _direct           # O_DIRECT is set on _fd right now
    cdef unsigned char *_stage  # direct writer: bytes not yet written, < _stage_size
    cdef Py_ssize_t _stage_size
    cdef Py_ssize_t _staged
    cdef off_t _written         # file offset the next write(2) goes to
    cdef int _failed            # errno of a failed write: the file is no longer trusted
    cdef int _busy              # calls running without the GIL

    def __cinit__(self, path, str mode="r", *, bint direct=False,
                  Py_ssize_t stage_size=STAGE_SIZE):
        self._fd = -1
        self._stage = NULL
        if stage_size < ALIGN or not _aligned(<size_t>stage_size):
            raise ValueError(f"stage_size must be a positive multiple of {ALIGN}, got {stage_size}")
        self._stage_size = stage_size
        self.path = os.fspath(path)
        self.mode = mode
        cdef int flags
        if mode == "r":
            flags = O_RDONLY
        elif mode == "w":
            flags = O_WRONLY | O_CREAT | O_TRUNC
        else:
            raise ValueError(f"mode must be 'r' or 'w', got {mode!r}")
        flags |= O_CLOEXEC | (O_DIRECT if direct else 0)
        cdef void *stage = NULL
        if direct and mode == "w":
            if posix_memalign(&stage, ALIGN, self._stage_size) != 0:
                raise MemoryError("cannot allocate the O_DIRECT staging buffer")
            self._stage = <unsigned char *>stage
        cdef bytes cpath = os.fsencode(self.path)
        cdef const char *p = cpath
        cdef int fd
        with nogil:
            fd = _open(p, flags, 0o644)
        if fd < 0:
            raise _oserror(-fd, self.path)
        self._fd = fd
        self._direct = direct

    def __dealloc__(self):
        # Dropped without close(): still put staged bytes on disk (best effort).
        if self._fd >= 0:
            if self._failed == 0:
                self._flush_stage()
            c_close(self._fd)
        free(self._stage)

    # -- helpers, all without the GIL ---------------------------------------

    cdef int _clear_direct(self) noexcept nogil:
        cdef int flags = fcntl(self._fd, F_GETFL)
        if flags < 0 or fcntl(self._fd, F_SETFL, flags & ~O_DIRECT) < 0:
            return errno
        self._direct = False
        return 0

    cdef int _write_all(self, const unsigned char *p, Py_ssize_t n) noexcept nogil:
        """Write n bytes at _written, advancing it; 0 or errno."""
        cdef ssize_t r
        while n > 0:
            r = pwrite(self._fd, p, n, self._written)
            if r < 0:
                if errno == EINTR:
                    continue
                return errno
            if r == 0:
                return EIO
            p += r
            n -= r
            self._written += r
            if n > 0 and self._direct and not _aligned(r):
                # NOTE: a short O_DIRECT write (e.g. a nearly full disk) leaves the
                # offset unaligned; finish through the page cache.
                if self._clear_direct():
                    return errno
        return 0

    cdef int _write(self, const unsigned char *src, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t take, bulk
        cdef int err
        while n > 0:
            if not self._direct:
                return self._write_all(src, n)
            if self._staged == 0 and n >= ALIGN and _aligned(<size_t>src):
                # PERF: the common case (pool buffers): no copy at all.
                bulk = n & ~(<Py_ssize_t>ALIGN - 1)
                err = self._write_all(src, bulk)
                if err:
                    return err
                src += bulk
                n -= bulk
                continue
            take = min(n, self._stage_size - self._staged)
            memcpy(self._stage + self._staged, src, take)
            self._staged += take
            src += take
            n -= take
            if self._staged == self._stage_size:
                err = self._write_all(self._stage, self._stage_size)
                if err:
                    return err
                self._staged = 0
        return 0

    cdef int _flush_stage(self) noexcept nogil:
        """Put every staged byte on disk; an unaligned tail goes without O_DIRECT."""
        cdef Py_ssize_t whole = self._staged & ~(<Py_ssize_t>ALIGN - 1)
        cdef int err
        if self._staged == 0:
            return 0
        if whole:
            err = self._write_all(self._stage, whole)
            if err:
                return err
            self._staged -= whole
            memmove(self._stage, self._stage + whole, self._staged)
        if self._staged:
            if self._direct:
                err = self._clear_direct()
                if err:
                    return err
            err = self._write_all(self._stage, self._staged)
            if err:
                return err
            self._staged = 0
        return 0

    cdef Py_ssize_t _pread_full(self, unsigned char *p, Py_ssize_t n, off_t off) noexcept nogil:
        """Read up to n bytes at off, stopping only at EOF; the count, or -errno."""
        cdef Py_ssize_t done = 0
        cdef ssize_t r
        while done < n:
            r = pread(self._fd, p + done, n - done, off + done)
            if r < 0:
                if errno == EINTR:
                    continue
                return -errno
            if r == 0:
                break
            done += r
            # A short O_DIRECT read that is not whole pages is EOF; reading on
            # from the unaligned offset would only fail with EINVAL.
            if self._direct and not _aligned(r):
                break
        return done

    cdef Py_ssize_t _pread_bounced(self, unsigned char *dst, Py_ssize_t n,
                                   off_t off) noexcept nogil:
        """Read through an aligned bounce buffer covering whole pages; count or -errno."""
        cdef off_t start
        cdef Py_ssize_t skip = off & (ALIGN - 1), cap, want, r, got, done = 0
        cdef void *bounce = NULL
        # NOTE: allocated per call so concurrent readers of one file never share it.
        cap = min(_round_up(skip + n), <Py_ssize_t>BOUNCE_MAX)
        if posix_memalign(&bounce, ALIGN, cap) != 0:
            return -ENOMEM
        while done < n:
            start = off + done
            skip = start & (ALIGN - 1)
            start -= skip
            want = min(_round_up(skip + n - done), cap)
            r = self._pread_full(<unsigned char *>bounce, want, start)
            if r < 0:
                free(bounce)
                return r
            if r <= skip:
                break
            got = min(r - skip, n - done)
            memcpy(dst + done, <unsigned char *>bounce + skip, got)
            done += got
            if r < want:
                break
        free(bounce)
        return done

    cdef Py_ssize_t _pread(self, unsigned char *dst, Py_ssize_t n, off_t off) noexcept nogil:
        cdef Py_ssize_t done = 0, want, r
        if not self._direct:
            return self._pread_full(dst, n, off)
        while done < n:
            if _aligned(<size_t>(dst + done)) and _aligned(off + done) and n - done >= ALIGN:
                # PERF: whole pages go straight into the caller's buffer.
                want = (n - done) & ~(<Py_ssize_t>ALIGN - 1)
                r = self._pread_full(dst + done, want, off + done)
                if r < 0:
                    return r
                done += r
                if r < want:
                    break
                continue
            r = self._pread_bounced(dst + done, n - done, off + done)
            if r < 0:
                return r
            done += r
            break
        return done

    # -- Python API ---------------------------------------------------------

    cdef int _check(self, bint writing) except -1:
        if self._fd < 0:
            raise ValueError(f"I/O operation on closed file {self.path!r}")
        if writing and self.mode != "w":
            raise io.UnsupportedOperation(f"{self.path!r} is open for reading, not writing")
        if not writing and self.mode != "r":
            raise io.UnsupportedOperation(f"{self.path!r} is open for writing, not reading")
        return 0

    def write(self, data):
        """Append every byte of ``data`` (any C-contiguous buffer); returns its length."""
        self._check(True)
        if self._failed:
            raise _oserror(self._failed, self.path)
        if self._busy:
            raise RuntimeError(f"concurrent write to {self.path!r}")
        cdef Py_buffer view
        try:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        except (BufferError, TypeError) as exc:
            raise TypeError(f"write() needs a C-contiguous buffer: {exc}") from None
        cdef Py_ssize_t n = view.len
        cdef int err
        self._busy += 1
        try:
            with nogil:
                err = self._write(<const unsigned char *>view.buf, n)
        finally:
            self._busy -= 1
            PyBuffer_Release(&view)
        if err:
            self._failed = err
            raise _oserror(err, self.path)
        return n

    def pread_into(self, buf, Py_ssize_t offset):
        """Fill ``buf`` (writable, C-contiguous) from ``offset``; returns bytes read.

        Fewer than ``len(buf)`` only at end of file (0 at or past it). Bytes of
        ``buf`` past the returned count are unspecified: an O_DIRECT read stores
        whole pages, so it may leave the zeros that follow end of file there.
        """
        self._check(False)
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        cdef Py_buffer view
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        except (BufferError, TypeError) as exc:
            raise TypeError(
                f"pread_into() needs a writable C-contiguous buffer, got "
                f"{type(buf).__name__}: {exc}") from None
        cdef Py_ssize_t r
        self._busy += 1
        try:
            with nogil:
                r = self._pread(<unsigned char *>view.buf, view.len, offset)
        finally:
            self._busy -= 1
            PyBuffer_Release(&view)
        if r < 0:
            raise _oserror(<int>-r, self.path)
        return r

    def fdatasync(self):
        """Make everything written so far durable (staged bytes included)."""
        if self._fd < 0:
            raise ValueError(f"I/O operation on closed file {self.path!r}")
        if self._failed:
            raise _oserror(self._failed, self.path)
        if self._busy and self.mode == "w":
            raise RuntimeError(f"fdatasync of {self.path!r} during a write")
        cdef int err = 0
        self._busy += 1
        try:
            with nogil:
                if self._staged:
                    err = self._flush_stage()
                if err == 0:
                    err = _sync(self._fd, True)
        finally:
            self._busy -= 1
        if err:
            self._failed = err
            raise _oserror(err, self.path)

    def close(self):
        """Write out staged bytes and close. Idempotent. Does not fdatasync."""
        if self._fd < 0:
            return
        if self._busy:
            raise RuntimeError(f"close of {self.path!r} while another thread uses it")
        cdef int err = 0
        cdef int fd = self._fd
        self._busy += 1  # keeps other threads out while the GIL is dropped
        with nogil:
            if self._failed == 0 and self._staged:
                err = self._flush_stage()
            # NOTE: never retry close(2) on EINTR: on Linux the fd is gone anyway.
            if c_close(fd) != 0 and err == 0:
                err = errno
        self._busy -= 1
        self._fd = -1
        free(self._stage)
        self._stage = NULL
        if err:
            raise _oserror(err, self.path)

    @property
    def size(self):
        """Bytes in the file (fstat), plus, for a writer, bytes still staged."""
        if self._fd < 0:
            raise ValueError(f"I/O operation on closed file {self.path!r}")
        cdef struct_stat st
        cdef int rc
        with nogil:
            rc = fstat(self._fd, &st)
        if rc != 0:
            raise _oserror(errno, self.path)
        return st.st_size + self._staged

    @property
    def direct(self):
        """Whether O_DIRECT is in effect now (a writer drops it after its unaligned tail)."""
        return self._direct

    @property
    def closed(self):
        return self._fd < 0

    def fileno(self):
        if self._fd < 0:
            raise ValueError(f"I/O operation on closed file {self.path!r}")
        return self._fd

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __repr__(self):
        state = "closed" if self._fd < 0 else ("direct" if self._direct else "buffered")
        return f"<DirectFile {self.path!r} mode={self.mode!r} {state}>"


def probe_direct(directory):
    """Whether files in ``directory`` take O_DIRECT: an aligned 4096-byte write and read.

    False when the filesystem refuses O_DIRECT (EINVAL); other errors (no such
    directory, permission denied, ...) raise OSError.
    """
    directory = os.fspath(directory)
    name = os.path.join(
        directory, f".liteio-direct-probe-{os.getpid()}-{os.urandom(6).hex()}")
    cdef bytes cpath = os.fsencode(name)
    cdef const char *p = cpath
    cdef void *buf = NULL
    cdef int fd, err = 0
    cdef ssize_t r = 0
    if posix_memalign(&buf, ALIGN, 2 * ALIGN) != 0:
        raise MemoryError()
    cdef unsigned char *out = <unsigned char *>buf
    cdef unsigned char *back = out + ALIGN
    with nogil:
        memset(out, 0x5A, ALIGN)
        memset(back, 0, ALIGN)
        fd = _open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0o600)
        if fd >= 0:
            while True:
                r = pwrite(fd, out, ALIGN, 0)
                if r >= 0 or errno != EINTR:
                    break
            if r == ALIGN:
                while True:
                    r = pread(fd, back, ALIGN, 0)
                    if r >= 0 or errno != EINTR:
                        break
            if r < 0:
                err = errno
            elif r != ALIGN or memcmp(out, back, ALIGN) != 0:
                err = EIO
            c_close(fd)
            unlink(p)
        elif fd == -EINVAL:
            # NOTE: Linux creates the file before it checks O_DIRECT support.
            unlink(p)
    free(buf)
    if fd < 0:
        if -fd == EINVAL:
            return False
        raise _oserror(-fd, directory)
    if err == EINVAL:
        return False
    if err:
        raise _oserror(err, directory)
    return True


def fsync_dir(path):
    """fsync a directory, making renames and creations inside it durable."""
    path = os.fspath(path)
    cdef bytes cpath = os.fsencode(path)
    cdef const char *p = cpath
    cdef int fd, err = 0
    with nogil:
        fd = _open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if fd >= 0:
            err = _sync(fd, False)
            c_close(fd)
    if fd < 0:
        raise _oserror(-fd, path)
    if err:
        raise _oserror(err, path)
