"""liteio._ext.directio: O_DIRECT and buffered shard files must hold exactly the bytes written.

Runs every mode: O_DIRECT and buffered on a real disk filesystem (a temp dir
under /var/tmp, or LITEIO_TEST_DISK_DIR), and on tmpfs (/dev/shm). NOTE: since
Linux 6.6 tmpfs accepts O_DIRECT, so there the probe may say True; a
filesystem that refuses it (ramfs) is tested in a private mount namespace
when this process may create one.
"""

from __future__ import annotations

import errno
import gc
import io
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio._ext.buffers import aligned_empty
from liteio._ext.directio import DirectFile, fsync_dir, probe_direct

PAGE = 4096
MIB = 1 << 20
DISK_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs"}


def fs_type(path: str) -> str:
    """The filesystem type of the mount holding ``path`` (longest mount point prefix)."""
    best, kind = "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mount_point = fields[4]
            fstype = fields[fields.index("-") + 1]
            inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, kind = mount_point, fstype
    return kind


@pytest.fixture(scope="module")
def disk_dir():
    base = os.environ.get("LITEIO_TEST_DISK_DIR", "/var/tmp")
    path = tempfile.mkdtemp(prefix="liteio-directio-", dir=base)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def shm_dir():
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    path = tempfile.mkdtemp(prefix="liteio-directio-", dir="/dev/shm")
    yield path
    shutil.rmtree(path, ignore_errors=True)


MODES = ["disk-direct", "disk-buffered", "tmpfs-probed", "tmpfs-buffered"]


@pytest.fixture(scope="module", params=MODES)
def target(request, disk_dir, shm_dir) -> tuple[str, bool]:
    """(directory, direct) for each mode under test."""
    where, how = request.param.split("-")
    directory = disk_dir if where == "disk" else shm_dir
    if how == "direct":
        if not probe_direct(directory):
            pytest.skip(f"{directory} ({fs_type(directory)}) refuses O_DIRECT")
        return directory, True
    if how == "probed":
        return directory, probe_direct(directory)
    return directory, False


# One random source; writes are slices of it at aligned and unaligned addresses.
SOURCE = aligned_empty(64 * 1024)
memoryview(SOURCE)[:] = random.Random(1).randbytes(SOURCE.size)

write_sizes = st.one_of(
    st.integers(0, 20000),
    st.integers(0, 4).map(lambda pages: pages * PAGE),  # exact multiples, 0 included
)
source_starts = st.one_of(st.sampled_from([0, PAGE, 2 * PAGE]), st.integers(0, PAGE))


def write_and_check(path: str, direct: bool, pieces: list[memoryview]) -> None:
    expected = b"".join(bytes(p) for p in pieces)
    with DirectFile(path, "w", direct=direct) as f:
        for piece in pieces:
            assert f.write(piece) == len(piece)
        assert f.size == len(expected)
    assert os.stat(path).st_size == len(expected)
    assert Path(path).read_bytes() == expected


@settings(max_examples=60, deadline=None)
@given(writes=st.lists(st.tuples(write_sizes, source_starts), max_size=12))
def test_write_sequences_make_identical_files(target, writes) -> None:
    directory, direct = target
    view = memoryview(SOURCE)
    pieces = [view[start : start + size] for size, start in writes]
    write_and_check(os.path.join(directory, "seq"), direct, pieces)


def test_large_writes_cross_the_staging_buffer(target) -> None:
    directory, direct = target
    rng = random.Random(2)
    big = aligned_empty(3 * MIB + PAGE)
    memoryview(big)[:] = rng.randbytes(big.size)
    view = memoryview(big)
    pieces = [view[:MIB], view[5 : 5 + 524_320], view[: 3 * MIB], view[PAGE : PAGE + 300 * PAGE]]
    pieces += [view[rng.randrange(PAGE) :][: rng.randrange(2 * MIB)] for _ in range(6)]
    write_and_check(os.path.join(directory, "big"), direct, pieces)


def test_writes_accept_any_contiguous_buffer(target) -> None:
    directory, direct = target
    path = os.path.join(directory, "kinds")
    parts: list[Any] = [
        b"abc" * 2000,
        bytearray(b"x" * 4096),
        np.arange(5000, dtype=np.uint16),
        b"",
    ]
    with DirectFile(path, "w", direct=direct) as f:
        for part in parts:
            f.write(part)
    assert Path(path).read_bytes() == b"".join(bytes(memoryview(p).cast("B")) for p in parts)


def test_fdatasync_mid_stream_keeps_the_file_exact(target) -> None:
    directory, direct = target
    path = os.path.join(directory, "synced")
    data = random.Random(3).randbytes(3 * PAGE + 100)
    with DirectFile(path, "w", direct=direct) as f:
        f.write(data[: PAGE + 100])
        f.fdatasync()  # the unaligned tail must reach the disk now
        assert os.stat(path).st_size == PAGE + 100
        if direct:
            assert not f.direct  # the position is unaligned from here on
        f.write(data[PAGE + 100 :])
        f.fdatasync()
    assert Path(path).read_bytes() == data


def test_dropped_writer_still_writes_its_staged_bytes(target) -> None:
    directory, direct = target
    path = os.path.join(directory, "dropped")
    f = DirectFile(path, "w", direct=direct)
    f.write(b"q" * (PAGE + 7))
    del f
    gc.collect()
    assert Path(path).read_bytes() == b"q" * (PAGE + 7)


# -- reads ----------------------------------------------------------------------

FILE_SIZES = [0, 1, 4095, 4096, 4097, 50_000, 65_536]


@pytest.fixture(scope="module")
def read_files(target) -> dict[int, str]:
    directory, _ = target
    files = {}
    for size in FILE_SIZES:
        path = os.path.join(directory, f"read-{size}")
        Path(path).write_bytes(random.Random(size).randbytes(size))
        files[size] = path
    return files


@settings(max_examples=80, deadline=None)
@given(
    size=st.sampled_from(FILE_SIZES),
    reads=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 70_000), st.integers(0, 16).map(lambda p: p * PAGE)),
            st.one_of(st.integers(0, 20_000), st.integers(0, 5).map(lambda p: p * PAGE)),
            st.sampled_from([0, 0, 1, 511, PAGE]),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_pread_into_matches_the_file(target, read_files, size, reads) -> None:
    _, direct = target
    path = read_files[size]
    data = Path(path).read_bytes()
    with DirectFile(path, "r", direct=direct) as f:
        assert f.size == size
        for offset, length, shift in reads:
            dest = aligned_empty(length + 2 * PAGE)
            view = memoryview(dest)
            view[:] = b"\xee" * dest.size
            n = f.pread_into(view[shift : shift + length], offset)
            expected = data[offset : offset + length]
            assert n == len(expected)
            assert view[shift : shift + n] == expected
            # Nothing outside the caller's window is touched. (Inside it, past
            # n, an O_DIRECT read may have stored the zeros after EOF.)
            assert view[:shift] == b"\xee" * shift
            assert view[shift + length :] == b"\xee" * (dest.size - shift - length)


def test_large_unaligned_read_spans_several_bounce_buffers(target) -> None:
    directory, direct = target
    data = random.Random(4).randbytes(3 * MIB + 77)
    path = os.path.join(directory, "big-read")
    Path(path).write_bytes(data)
    with DirectFile(path, "r", direct=direct) as f:
        out = bytearray(3 * MIB + 100)
        assert f.pread_into(memoryview(out)[3:], 5) == len(data) - 5
        assert out[3 : 3 + len(data) - 5] == data[5:]
        whole = aligned_empty(4 * MIB)
        assert f.pread_into(whole, 0) == len(data)
        assert memoryview(whole)[: len(data)] == data


def test_reads_at_and_past_eof(target) -> None:
    directory, direct = target
    path = os.path.join(directory, "eof")
    Path(path).write_bytes(b"z" * 5000)
    with DirectFile(path, "r", direct=direct) as f:
        buf = aligned_empty(2 * PAGE)
        assert f.pread_into(buf, 5000) == 0
        assert f.pread_into(buf, 10**9) == 0
        assert f.pread_into(buf, PAGE) == 5000 - PAGE
        assert f.pread_into(bytearray(0), 0) == 0


def test_concurrent_reads_of_one_file(target) -> None:
    directory, direct = target
    data = random.Random(5).randbytes(2 * MIB + 333)
    path = os.path.join(directory, "shared")
    Path(path).write_bytes(data)
    rng = random.Random(6)
    jobs = [(rng.randrange(len(data)), rng.randrange(300_000)) for _ in range(64)]
    with DirectFile(path, "r", direct=direct) as f:

        def read(job: tuple[int, int]) -> bool:
            offset, length = job
            out = bytearray(length)
            n = f.pread_into(out, offset)
            return out[:n] == data[offset : offset + length]

        with ThreadPoolExecutor(8) as ex:
            assert all(ex.map(read, jobs))


# -- probe, errors, odds and ends ---------------------------------------------------


def test_probe_on_a_disk_filesystem(disk_dir) -> None:
    before = set(os.listdir(disk_dir))
    works = probe_direct(disk_dir)
    assert set(os.listdir(disk_dir)) == before  # the probe file is gone
    if fs_type(disk_dir) in DISK_FILESYSTEMS:
        assert works is True


def test_probe_on_tmpfs_decides_and_the_decision_works(shm_dir) -> None:
    direct = probe_direct(shm_dir)
    assert isinstance(direct, bool)
    assert not [n for n in os.listdir(shm_dir) if n.startswith(".liteio-direct-probe")]
    path = os.path.join(shm_dir, "probed")
    write_and_check(path, direct, [memoryview(SOURCE)[:5000], memoryview(SOURCE)[:PAGE]])


def test_probe_errors_that_are_not_about_odirect_raise(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_direct(tmp_path / "missing")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        probe_direct(tmp_path / "file")


RAMFS_SCRIPT = textwrap.dedent(
    """
    import errno, os, sys
    from liteio._ext.directio import DirectFile, probe_direct
    d = sys.argv[1]
    assert probe_direct(d) is False, "ramfs refuses O_DIRECT"
    try:
        DirectFile(os.path.join(d, "x"), "w", direct=True)
    except OSError as e:
        assert e.errno == errno.EINVAL and e.filename.endswith("x"), e
    else:
        raise AssertionError("O_DIRECT open succeeded on ramfs")
    data = os.urandom(10000)
    with DirectFile(os.path.join(d, "x"), "w", direct=False) as f:
        f.write(data[:3]); f.write(data[3:])
    out = bytearray(10000)
    with DirectFile(os.path.join(d, "x"), "r") as f:
        assert f.pread_into(out, 0) == 10000 and out == data
    assert os.listdir(d) == ["x"]
    print("OK")
    """
)


def test_filesystem_refusing_odirect_falls_back_to_buffered(tmp_path) -> None:
    """ramfs refuses O_DIRECT; mounted in a private namespace, gone when the child exits."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to mount a private ramfs")
    mnt = tmp_path / "ramfs"
    mnt.mkdir()
    shell = f'mount -t ramfs none "$1" || exit 77; exec "{sys.executable}" -c "$2" "$1"'
    proc = subprocess.run(
        [
            unshare,
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            shell,
            "sh",
            str(mnt),
            RAMFS_SCRIPT,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount ramfs here: {proc.stderr.strip()}")
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr


def test_new_files_get_mode_0644(disk_dir) -> None:
    path = os.path.join(disk_dir, "perm")
    umask = os.umask(0)
    os.umask(umask)
    with DirectFile(path, "w", direct=True):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644 & ~umask


def test_write_truncates_an_existing_file(disk_dir) -> None:
    path = os.path.join(disk_dir, "trunc")
    Path(path).write_bytes(b"old" * 10000)
    with DirectFile(path, "w", direct=True) as f:
        f.write(b"new")
    assert Path(path).read_bytes() == b"new"


def test_open_errors_carry_errno_and_path(tmp_path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError) as info:
        DirectFile(missing, "r")
    assert info.value.errno == errno.ENOENT and info.value.filename == missing
    with pytest.raises(FileNotFoundError):
        DirectFile(tmp_path / "no-dir" / "f", "w", direct=True)
    with pytest.raises(ValueError, match="mode"):
        DirectFile(missing, "a")  # type: ignore[arg-type]


def test_write_errors_carry_errno_and_stick(tmp_path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    f = DirectFile("/dev/full", "w")
    with pytest.raises(OSError) as info:
        f.write(b"x" * 10)
    assert info.value.errno == errno.ENOSPC and info.value.filename == "/dev/full"
    with pytest.raises(OSError, match="No space"):
        f.write(b"y")  # a failed writer is not trusted with more data
    f.close()


def test_bad_input_is_a_clear_error(disk_dir) -> None:
    path = os.path.join(disk_dir, "bad")
    Path(path).write_bytes(b"a" * 10000)
    with DirectFile(path, "r", direct=True) as f:
        with pytest.raises(TypeError, match="writable"):
            f.pread_into(b"\0" * 100, 0)
        with pytest.raises(TypeError, match="writable"):
            f.pread_into(memoryview(bytearray(100))[::2], 0)
        with pytest.raises(TypeError):
            f.pread_into(42, 0)
        with pytest.raises(ValueError, match="offset"):
            f.pread_into(bytearray(10), -1)
        with pytest.raises(io.UnsupportedOperation):
            f.write(b"x")
    with DirectFile(os.path.join(disk_dir, "bad-w"), "w", direct=True) as w:
        with pytest.raises(TypeError):
            w.write("text")
        with pytest.raises(TypeError):
            w.write(memoryview(bytearray(100))[::2])
        with pytest.raises(io.UnsupportedOperation):
            w.pread_into(bytearray(10), 0)
    for closed in (f, w):
        assert closed.closed
        closed.close()  # idempotent
        with pytest.raises(ValueError, match="closed"):
            closed.pread_into(bytearray(10), 0) if closed is f else closed.write(b"x")
        with pytest.raises(ValueError, match="closed"):
            closed.fdatasync()
        with pytest.raises(ValueError, match="closed"):
            _ = closed.size


def test_fsync_dir(tmp_path) -> None:
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "file")
