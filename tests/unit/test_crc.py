"""liteio._ext.crc against a bitwise pure-Python oracle, zlib and published vectors.

CRC32 and CRC32C each have four paths (the dispatcher, the folding engine,
ISA-L, the tables) and CRC64NVME two; every path is checked against the
oracle, and all paths of one CRC against each other, across sizes, offsets,
starting values and chained calls.
"""

from __future__ import annotations

import array
import itertools
import mmap
import os
import random
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterable
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


def reference_prefixes(
    data: bytes, sizes: Iterable[int], poly_reflected: int, width: int, value: int = 0
) -> dict[int, int]:
    """``reference_crc(data[:n])`` for each n in sizes, in one bytewise pass.

    The byte table is the bitwise oracle applied to each byte value, so this is
    the same oracle, only fast enough to reach a few MiB.
    """
    mask = (1 << width) - 1
    # table[b]: the register after byte b from a zero register (value = mask).
    table = [reference_crc(bytes([b]), poly_reflected, width, mask) ^ mask for b in range(256)]
    reg, done, out = value ^ mask, 0, {}
    for n in sorted(set(sizes)):
        for byte in data[done:n]:
            reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
        done = n
        out[n] = reg ^ mask
    return out


CRC32 = (0xEDB88320, 32)
CRC32C = (0x82F63B78, 32)
CRC64NVME = (0x9A6C9329AC4BC9B5, 64)

# name -> (engine function, combine, reflected polynomial, width)
ALGORITHMS = {
    "crc32": (crc.crc32, crc.crc32_combine, *CRC32),
    "crc32_fold": (crc._fold_crc32, crc.crc32_combine, *CRC32),
    "crc32_isal": (crc._isal_crc32, crc.crc32_combine, *CRC32),
    "crc32_portable": (crc.crc32_portable, crc.crc32_combine, *CRC32),
    "crc32c": (crc.crc32c, crc.crc32c_combine, *CRC32C),
    "crc32c_fold": (crc._fold_crc32c, crc.crc32c_combine, *CRC32C),
    "crc32c_isal": (crc._isal_crc32c, crc.crc32c_combine, *CRC32C),
    "crc32c_portable": (crc.crc32c_portable, crc.crc32c_combine, *CRC32C),
    "crc64nvme": (crc.crc64nvme, crc.crc64nvme_combine, *CRC64NVME),
    "crc64nvme_portable": (crc.crc64nvme_portable, crc.crc64nvme_combine, *CRC64NVME),
}
NAMES = sorted(ALGORITHMS)
ENGINES = [ALGORITHMS[n][0] for n in NAMES]

# Each CRC -> every path that computes it; the first is the public dispatcher.
FAMILIES = {
    "crc32": ["crc32", "crc32_fold", "crc32_isal", "crc32_portable"],
    "crc32c": ["crc32c", "crc32c_fold", "crc32c_isal", "crc32c_portable"],
    "crc64nvme": ["crc64nvme", "crc64nvme_portable"],
}
CHECK_VALUES = {"crc32": 0xCBF43926, "crc32c": 0xE3069283, "crc64nvme": 0xAE8B14860A799888}


def family_of(name: str) -> str:
    return next(f for f, paths in FAMILIES.items() if name in paths)


def at_offset(data: bytes, offset: int) -> memoryview:
    """``data`` as a view starting ``offset`` bytes into a fresh buffer (its alignment)."""
    return memoryview(bytearray(offset) + data)[offset:]


# One random pool that tests slice from; hypothesis picks offsets and sizes.
POOL = random.Random(20240611).randbytes(5000 + 64)


# --- published check values ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_catalogue_check_value(name: str) -> None:
    fn, _, poly, width = ALGORITHMS[name]
    expected = CHECK_VALUES[family_of(name)]
    assert fn(b"123456789") == expected
    assert reference_crc(b"123456789", poly, width) == expected


@pytest.mark.parametrize(
    ("family", "data", "expected"),
    [
        # CRC-64/NVME vectors published by other implementations:
        ("crc64nvme", bytes(32), 0xCF3473434D4ECF3B),  # AWS CRT checksum tests
        ("crc64nvme", bytes(range(32)), 0xB9D9D4A8492CBD7F),  # AWS CRT checksum tests
        ("crc64nvme", b"hello world!", 0xD9160D1FA8E418E3),  # crc64fast-nvme docs
        ("crc64nvme", b"aaaaaaaaaa", 0x0C1A80036D65C555),  # aws-c-s3 tests
        ("crc64nvme", bytes(4096), 0x6482D367EB22B64E),  # SPDK, NVM Command Set spec
        ("crc64nvme", b"\xff" * 4096, 0xC0DDBA7302ECA3AC),  # SPDK, NVM Command Set spec
        ("crc32", bytes(32), 0x190A55AD),  # AWS CRT checksum tests
        ("crc32", b"Hello", 4157704578),  # AWS CRT checksum tests
        ("crc32c", b"Hello", 2178485787),  # AWS CRT checksum tests
        ("crc32c", b"hello world", 0xC99465AA),
        ("crc32c", bytes(32), 0x8A9136AA),  # RFC 3720 B.4 (iSCSI), 32 zero bytes
        ("crc32c", b"\xff" * 32, 0x62A8AB43),  # RFC 3720 B.4, 32 bytes of 0xff
        ("crc32c", bytes(range(32)), 0x46DD794E),  # RFC 3720 B.4, incrementing
    ],
)
def test_published_vectors(family: str, data: bytes, expected: int) -> None:
    for name in FAMILIES[family]:
        assert ALGORITHMS[name][0](data) == expected, name


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


# --- every path of one CRC agrees --------------------------------------------------

# Each power-of-two boundary up to 1 MiB from both sides: the folding loop's
# 16- and 128-byte steps, the 2 KiB GIL and 4 KiB ISA-L/folding switches.
BOUNDARY_SIZES = sorted({(1 << k) + d for k in range(4, 21) for d in (-1, 0, 1)})
ODD_OFFSETS = (1, 3, 7, 13)


def agreeing_value(family: str, data: Any, value: int = 0) -> int:
    """The one CRC every path of ``family`` gives for ``data``, or an assertion error."""
    results = {name: ALGORITHMS[name][0](data, value) for name in FAMILIES[family]}
    if family == "crc32":
        results["zlib"] = zlib.crc32(data, value)
    assert len(set(results.values())) == 1, {k: hex(v) for k, v in results.items()}
    return results[family]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bytewise_oracle_is_the_bitwise_one(family: str) -> None:
    _, _, poly, width = ALGORITHMS[family]
    data = random.Random(1).randbytes(700)
    sizes = [0, 1, 7, 8, 9, 64, 299, 700]
    value = random.Random(2).getrandbits(width)
    fast = reference_prefixes(data, sizes, poly, width, value)
    assert fast == {n: reference_crc(data[:n], poly, width, value) for n in sizes}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_paths_match_reference_every_size_below_300(family: str) -> None:
    _, _, poly, width = ALGORITHMS[family]
    data = random.Random(300).randbytes(300)
    start = random.Random(family).getrandbits(width)
    for value in (0, start):
        expected = [reference_crc(data[:size], poly, width, value) for size in range(300)]
        for offset in range(17):  # every alignment mod 16, and one more
            view = at_offset(data, offset)
            for size in range(300):
                got = agreeing_value(family, view[:size], value)
                assert got == expected[size], (size, offset, value)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_paths_match_reference_power_of_two_boundaries(family: str) -> None:
    _, _, poly, width = ALGORITHMS[family]
    data = random.Random(20).randbytes(MIB + 1)
    value = random.Random(family).getrandbits(width)
    expected = reference_prefixes(data, BOUNDARY_SIZES, poly, width, value)
    for offset in (0, *ODD_OFFSETS):
        view = at_offset(data, offset)
        for size in BOUNDARY_SIZES:
            assert agreeing_value(family, view[:size], value) == expected[size], (size, offset)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_paths_match_reference_multi_mib(family: str) -> None:
    _, _, poly, width = ALGORITHMS[family]
    data = os.urandom(8 * MIB + 7)
    value = random.Random(family).getrandbits(width)
    # The oracle runs at about 4 MiB/s, so it checks one multi-MiB size; the
    # paths (ISA-L and zlib are independent implementations) check more.
    oracle_size = 3 * MIB + 11
    expected = reference_prefixes(data, [oracle_size], poly, width, value)[oracle_size]
    for offset in (0, 1, 5):
        view = at_offset(data, offset)
        assert agreeing_value(family, view[:oracle_size], value) == expected, offset
        agreeing_value(family, view[: 8 * MIB - 1 - offset], value)


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(0, 63),
    size=st.integers(0, 5000),
    value=st.integers(0, 2**64 - 1),
    family=st.sampled_from(sorted(FAMILIES)),
)
def test_paths_agree_hypothesis(offset: int, size: int, value: int, family: str) -> None:
    width = ALGORITHMS[family][3]
    data = memoryview(POOL)[offset : offset + size]
    agreeing_value(family, data, value & ((1 << width) - 1))


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


@settings(max_examples=100, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 40000), max_size=6),
    picks=st.lists(st.integers(0, 3), min_size=7, max_size=7),
    family=st.sampled_from(sorted(FAMILIES)),
)
def test_chaining_across_paths(cuts: list[int], picks: list[int], family: str) -> None:
    # Pieces below and above the 4 KiB switch, each hashed by a different path,
    # must chain into the one-shot CRC: the paths share one register convention.
    data = memoryview(POOL * 8)[:40000]
    paths = FAMILIES[family]
    bounds = [0, *sorted(cuts), len(data)]
    value = 0
    for (lo, hi), pick in zip(itertools.pairwise(bounds), picks, strict=False):
        value = ALGORITHMS[paths[pick % len(paths)]][0](data[lo:hi], value)
    assert value == agreeing_value(family, data)


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
@pytest.mark.parametrize("name", ["crc32", "crc32c", "crc32c_isal", "crc64nvme"])
def test_input_over_2gib(name: str) -> None:
    # ISA-L's crc32_iscsi takes an int length, so the engine feeds it in
    # pieces; the folding engine takes a size_t. Untouched anonymous pages all
    # map the zero page: no real memory.
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


def test_first_use_from_many_threads() -> None:
    # Each CRC builds its tables and folding constants on first use, under
    # pthread_once: a fresh interpreter whose first calls all race must agree.
    script = textwrap.dedent(
        """
        import os, threading
        from liteio._ext import crc
        fns = [crc._fold_crc32, crc._fold_crc32c, crc.crc64nvme,
               crc.crc32_portable, crc.crc32c_portable, crc.crc64nvme_portable]
        data = os.urandom(1 << 20)
        barrier = threading.Barrier(12)
        results = [None] * 12
        def run(i):
            barrier.wait()
            results[i] = fns[i % 6](data)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(12)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert results[:6] == results[6:], results
        assert results[0] == results[3] and results[1] == results[4], results
        assert results[2] == results[5], results
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
