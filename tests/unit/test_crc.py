"""liteio._ext.crc against a bitwise pure-Python oracle, zlib and published vectors."""

from __future__ import annotations

import array
import itertools
import mmap
import os
import random
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio._ext import crc

MIB = 1 << 20


def reference_crc(data: bytes, poly_reflected: int, width: int, value: int = 0) -> int:
    """Bit-at-a-time reflected CRC with init = xorout = all ones, zlib-style chaining."""
    mask = (1 << width) - 1
    reg = value ^ mask
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ (poly_reflected if reg & 1 else 0)
    return reg ^ mask


# name -> (engine function, combine, reflected polynomial, width)
ALGORITHMS = {
    "crc32": (crc.crc32, crc.crc32_combine, 0xEDB88320, 32),
    "crc32c": (crc.crc32c, crc.crc32c_combine, 0x82F63B78, 32),
    "crc64nvme": (crc.crc64nvme, crc.crc64nvme_combine, 0x9A6C9329AC4BC9B5, 64),
    "crc64nvme_portable": (crc.crc64nvme_portable, crc.crc64nvme_combine, 0x9A6C9329AC4BC9B5, 64),
}
NAMES = sorted(ALGORITHMS)
ENGINES = [ALGORITHMS[n][0] for n in NAMES]

# One random pool that tests slice from; hypothesis picks offsets and sizes.
POOL = random.Random(20240611).randbytes(5000 + 64)


# --- published check values ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crc32", 0xCBF43926),
        ("crc32c", 0xE3069283),
        ("crc64nvme", 0xAE8B14860A799888),
        ("crc64nvme_portable", 0xAE8B14860A799888),
    ],
)
def test_catalogue_check_value(name: str, expected: int) -> None:
    fn, _, poly, width = ALGORITHMS[name]
    assert fn(b"123456789") == expected
    assert reference_crc(b"123456789", poly, width) == expected


@pytest.mark.parametrize(
    ("fn", "data", "expected"),
    [
        # CRC-64/NVME vectors published by other implementations:
        (crc.crc64nvme, bytes(32), 0xCF3473434D4ECF3B),  # AWS CRT checksum tests
        (crc.crc64nvme, bytes(range(32)), 0xB9D9D4A8492CBD7F),  # AWS CRT checksum tests
        (crc.crc64nvme, b"hello world!", 0xD9160D1FA8E418E3),  # crc64fast-nvme docs
        (crc.crc64nvme, b"aaaaaaaaaa", 0x0C1A80036D65C555),  # aws-c-s3 tests
        (crc.crc64nvme, bytes(4096), 0x6482D367EB22B64E),  # SPDK, NVM Command Set spec
        (crc.crc64nvme, b"\xff" * 4096, 0xC0DDBA7302ECA3AC),  # SPDK, NVM Command Set spec
        (crc.crc32, bytes(32), 0x190A55AD),  # AWS CRT checksum tests
        (crc.crc32, b"Hello", 4157704578),  # AWS CRT checksum tests
        (crc.crc32c, b"Hello", 2178485787),  # AWS CRT checksum tests
        (crc.crc32c, b"hello world", 0xC99465AA),
    ],
)
def test_published_vectors(fn, data: bytes, expected: int) -> None:
    assert fn(data) == expected


@pytest.mark.parametrize("fn", ENGINES)
def test_empty_input_keeps_value(fn) -> None:
    assert fn(b"") == 0
    assert fn(b"", 0x1234) == 0x1234


# --- against the oracle and zlib ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(0, 63), size=st.integers(0, 5000), name=st.sampled_from(NAMES))
def test_matches_bitwise_reference(offset: int, size: int, name: str) -> None:
    fn, _, poly, width = ALGORITHMS[name]
    data = memoryview(POOL)[offset : offset + size]
    assert fn(data) == reference_crc(bytes(data), poly, width)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 300), value=st.integers(0, 2**32 - 1))
def test_matches_reference_from_any_value(size: int, value: int) -> None:
    data = POOL[:size]
    for name in NAMES:
        fn, _, poly, width = ALGORITHMS[name]
        start = value if width == 32 else value * 0x1_0000_0001
        assert fn(data, start) == reference_crc(data, poly, width, start)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=20000), value=st.integers(0, 2**32 - 1))
def test_crc32_equals_zlib(data: bytes, value: int) -> None:
    assert crc.crc32(data) == zlib.crc32(data)
    assert crc.crc32(data, value) == zlib.crc32(data, value)


def test_crc32_equals_zlib_on_large_input() -> None:
    data = os.urandom(3 * MIB + 5)
    assert crc.crc32(data) == zlib.crc32(data)


# --- folding path == table path ---------------------------------------------------

# Every size below 300, then each power-of-two boundary from both sides.
SIZES = [*range(300), *(n + d for n in (512, 1024, 4096, 65536, MIB) for d in (-1, 0, 1))]


def test_folding_matches_portable_every_size_and_alignment() -> None:
    pool = memoryview(os.urandom(MIB + 64))
    for size in SIZES:
        for offset in range(17) if size < 4096 else (0, 1, 3, 7, 8, 13):
            view = pool[offset : offset + size]
            assert crc.crc64nvme(view) == crc.crc64nvme_portable(view), (size, offset)


@pytest.mark.parametrize("size", [3 * MIB + 11, 8 * MIB - 1])
def test_folding_matches_portable_multi_mib(size: int) -> None:
    pool = memoryview(os.urandom(size + 8))
    for offset in (0, 1, 5):
        view = pool[offset : offset + size]
        value = 0xDEADBEEFCAFEF00D
        assert crc.crc64nvme(view, value) == crc.crc64nvme_portable(view, value)


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(0, 63), size=st.integers(0, 5000), value=st.integers(0, 2**64 - 1))
def test_folding_matches_portable_hypothesis(offset: int, size: int, value: int) -> None:
    data = memoryview(POOL)[offset : offset + size]
    assert crc.crc64nvme(data, value) == crc.crc64nvme_portable(data, value)


def test_accelerated_flag_is_bool() -> None:
    assert isinstance(crc.crc64nvme_accelerated(), bool)


# --- chaining and combining -----------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=4))
def test_chaining_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    for fn in ENGINES:
        value = 0
        for lo, hi in itertools.pairwise(bounds):
            value = fn(data[lo:hi], value)
        assert value == fn(data)


@settings(max_examples=150, deadline=None)
@given(a=st.binary(max_size=2000), b=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_combine_equals_crc_of_concatenation(a: bytes, b: bytes, name: str) -> None:
    fn, combine, _, _ = ALGORITHMS[name]
    assert combine(fn(a), fn(b), len(b)) == fn(a + b)


@pytest.mark.parametrize("name", NAMES)
def test_combine_long_second_part(name: str) -> None:
    fn, combine, _, _ = ALGORITHMS[name]
    a, b = os.urandom(1000), os.urandom(5 * MIB + 3)
    assert combine(fn(a), fn(b), len(b)) == fn(a + b)


@pytest.mark.parametrize("name", NAMES)
def test_combine_is_associative_for_huge_lengths(name: str) -> None:
    # Pure algebra past any length we could hash: (A+B)+C == A+(B+C).
    _, combine, _, width = ALGORITHMS[name]
    rng = random.Random(7)
    c1, c2, c3 = (rng.getrandbits(width) for _ in range(3))
    n2, n3 = 2**62 + 12345, 2**63 - 99
    left = combine(combine(c1, c2, n2), c3, n3)
    right = combine(c1, combine(c2, c3, n3), n2 + n3)
    assert left == right
    assert combine(c1, c2, 0) == c1 ^ c2
    assert 0 <= combine(c1, c2, 2**64 - 1) < 2**width


# --- inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", ENGINES)
def test_accepts_any_contiguous_buffer(fn) -> None:
    raw = os.urandom(4099)
    expected = fn(raw)
    assert fn(bytearray(raw)) == expected
    assert fn(memoryview(raw)) == expected
    assert fn(np.frombuffer(raw, dtype=np.uint8)) == expected
    words = array.array("I", raw[:4096])
    assert fn(words) == fn(raw[:4096])
    assert fn(np.frombuffer(raw[:4096], dtype=np.uint32).reshape(32, 32)) == fn(raw[:4096])


@pytest.mark.parametrize("fn", ENGINES)
def test_rejects_bad_data(fn) -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        fn("text")
    with pytest.raises(TypeError, match="bytes-like"):
        fn(None)
    with pytest.raises(TypeError, match="bytes-like"):
        fn(12345)
    with pytest.raises(ValueError, match="C-contiguous"):
        fn(memoryview(b"abcdefgh")[::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        fn(np.zeros((8, 8), dtype=np.uint8).T)


@pytest.mark.parametrize("name", NAMES)
def test_rejects_bad_values(name: str) -> None:
    fn, combine, _, width = ALGORITHMS[name]
    for bad in (-1, 2**width, 2**100):
        with pytest.raises(ValueError, match="value must be in"):
            fn(b"x", bad)
        with pytest.raises(ValueError, match="crc1 must be in"):
            combine(bad, 0, 1)
        with pytest.raises(ValueError, match="crc2 must be in"):
            combine(0, bad, 1)
    bad_types: tuple[Any, ...] = (1.5, "1", None, b"\x01")
    for bad_type in bad_types:
        with pytest.raises(TypeError, match="value must be an int"):
            fn(b"x", bad_type)
        with pytest.raises(TypeError, match="len2 must be an int"):
            combine(0, 0, bad_type)
    with pytest.raises(ValueError, match="len2 must be in"):
        combine(0, 0, -1)
    with pytest.raises(ValueError, match="len2 must be in"):
        combine(0, 0, 2**64)
    assert fn(b"x", True) == fn(b"x", 1)  # bool is an int, as in zlib


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crc32c", "crc64nvme"])
def test_input_over_2gib(name: str) -> None:
    # ISA-L's crc32_iscsi takes an int length, so the engine feeds it in
    # pieces. Untouched anonymous pages all map the zero page: no real memory.
    fn, combine, _, _ = ALGORITHMS[name]
    size = 2**31 + 4099
    zeros = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    # Expected value by doubling with combine alone, never reading the mmap.
    value, length = fn(b"\0"), 1
    while length * 2 <= 2**31:
        value, length = combine(value, value, length), length * 2
    expected = combine(value, fn(bytes(size - length)), size - length)
    try:
        assert fn(zeros) == expected
    finally:
        zeros.close()


def test_threads_agree_with_serial() -> None:
    # The GIL is released for large inputs and tables are built on first use:
    # many threads at once must still agree with one.
    blobs = [os.urandom(MIB + i) for i in range(8)]
    expected = [(crc.crc32(b), crc.crc32c(b), crc.crc64nvme(b)) for b in blobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda b: (crc.crc32(b), crc.crc32c(b), crc.crc64nvme(b)), blobs))
    assert got == expected
