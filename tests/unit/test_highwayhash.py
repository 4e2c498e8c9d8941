"""HighwayHash engine: reference vectors, MinIO's bitrot facts, kernels agree, bad input."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio._ext import highwayhash as hh

# The shared fixtures sit beside the repository; a missing file is an error, not a skip.
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "minio"
VECTORS_PATH = FIXTURES / "vectors" / "highwayhash-vectors.json"
if not VECTORS_PATH.exists():
    raise FileNotFoundError(
        f"{VECTORS_PATH} is missing: the shared/ folder must sit beside the repository"
    )
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
REFERENCE = VECTORS["reference_vectors"]
BITROT = VECTORS["minio_bitrot"]
REFERENCE_KEY = bytes.fromhex(REFERENCE["key_hex"])

HAS_AVX2 = "avx2" in hh.available_implementations()
KERNELS = [
    "portable",
    pytest.param("avx2", marks=pytest.mark.skipif(not HAS_AVX2, reason="CPU has no AVX2")),
]
ONE_SHOT = {8: hh.hh64, 16: hh.hh128, 32: hh.hh256}
STREAMING = {8: hh.HighwayHash64, 16: hh.HighwayHash128, 32: hh.HighwayHash256}


@contextmanager
def kernel(name: str) -> Iterator[None]:
    before = hh.implementation()
    hh.set_implementation(name)
    try:
        yield
    finally:
        hh.set_implementation(before)


@pytest.fixture(params=KERNELS)
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    with kernel(request.param):
        yield request.param


def reference_message(i: int) -> bytes:
    return bytes(range(i))


# -- published values -------------------------------------------------------


@pytest.mark.parametrize("digest_size", [8, 16, 32])
def test_reference_vectors(impl: str, digest_size: int) -> None:
    expected = REFERENCE[f"hh{8 * digest_size}"]
    assert len(expected) == 65
    for i, want in enumerate(expected):
        msg = reference_message(i)
        assert ONE_SHOT[digest_size](REFERENCE_KEY, msg).hex() == want, f"{impl} vector {i}"
        hasher = STREAMING[digest_size](REFERENCE_KEY, msg)
        assert hasher.digest_size == digest_size
        assert hasher.hexdigest() == want, f"{impl} streaming vector {i}"
        generic = hh.HighwayHash(REFERENCE_KEY, msg, digest_size=digest_size)
        assert generic.hexdigest() == want


def test_minio_key_is_hh256_of_pi_digits(impl: str) -> None:
    assert hh.MINIO_BITROT_KEY.hex() == BITROT["key_hex"]
    digits = BITROT["pi_digits"].encode("ascii")
    assert len(digits) == 100
    assert hh.hh256(bytes(32), digits) == hh.MINIO_BITROT_KEY


def test_minio_bitrot_selftest(impl: str) -> None:
    # cmd/bitrot.go bitrotSelfTest: hash, append the hash, 32 times.
    msg = b""
    digest = b""
    for _ in range(32):
        digest = hh.hh256(hh.MINIO_BITROT_KEY, msg)
        msg += digest
    assert digest.hex() == BITROT["selftest"]["expected_final_hex"]


DERIVED_INPUTS = {
    "empty": b"",
    "bytes 0x00..0x3f (64 bytes)": bytes(range(64)),
    'ASCII "hello"': b"hello",
    "1 MiB of zero bytes": bytes(1 << 20),
    "bytes i%256 for i in 0..99999 (100000 bytes)": bytes(i % 256 for i in range(100000)),
}


def test_derived_minio_key_vectors(impl: str) -> None:
    derived = BITROT["derived_vectors"]
    assert derived, "no derived vectors in the fixture"
    for entry in derived:
        # An input this table does not know must fail, never be silently skipped.
        data = DERIVED_INPUTS[entry["input"]]
        want = entry["hh256_minio_key"]
        assert hh.hh256(hh.MINIO_BITROT_KEY, data).hex() == want, entry["input"]
        assert hh.HighwayHash256(hh.MINIO_BITROT_KEY, data).hexdigest() == want


# -- streaming --------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12),
    digest_size=st.sampled_from([8, 16, 32]),
    kernel_name=st.sampled_from(hh.available_implementations()),
)
def test_any_chunk_split_equals_one_shot(
    data: bytes, cuts: list[int], digest_size: int, kernel_name: str
) -> None:
    with kernel(kernel_name):
        hasher = STREAMING[digest_size](REFERENCE_KEY)
        bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
        for start, end in itertools.pairwise(bounds):
            hasher.update(data[start:end])
            # digest() must not disturb the stream
            assert hasher.digest() == ONE_SHOT[digest_size](REFERENCE_KEY, data[:end])
        assert hasher.digest() == ONE_SHOT[digest_size](REFERENCE_KEY, data)


def test_large_updates_release_gil_path_and_split(impl: str) -> None:
    data = random.Random(7).randbytes(300_001)
    hasher = hh.HighwayHash256(hh.MINIO_BITROT_KEY)
    for start in range(0, len(data), 65_537):
        hasher.update(memoryview(data)[start : start + 65_537])
    assert hasher.digest() == hh.hh256(hh.MINIO_BITROT_KEY, data)


def test_digest_copy_reset() -> None:
    hasher = hh.HighwayHash256(hh.MINIO_BITROT_KEY, b"hel")
    twin = hasher.copy()
    assert type(twin) is hh.HighwayHash256
    hasher.update(b"lo")
    assert hasher.digest() == hasher.digest() == hh.hh256(hh.MINIO_BITROT_KEY, b"hello")
    assert twin.digest() == hh.hh256(hh.MINIO_BITROT_KEY, b"hel")
    assert hasher.hexdigest() == hasher.digest().hex()
    hasher.reset()
    assert hasher.digest() == hh.hh256(hh.MINIO_BITROT_KEY, b"")
    assert hasher.name == "highwayhash256" and hasher.block_size == 32
    assert hh.HighwayHash64(REFERENCE_KEY).copy().digest_size == 8
    assert "HighwayHash128" in repr(hh.HighwayHash128(REFERENCE_KEY))


# -- the kernels agree ------------------------------------------------------


@pytest.mark.skipif(not HAS_AVX2, reason="CPU has no AVX2")
def test_portable_equals_avx2_all_small_sizes() -> None:
    rng = random.Random(2024)
    blob = rng.randbytes(2001)
    key = rng.randbytes(32)
    for size in range(2001):
        data = blob[:size]
        results = []
        for name in ("portable", "avx2"):
            with kernel(name):
                results.append((hh.hh64(key, data), hh.hh128(key, data), hh.hh256(key, data)))
        assert results[0] == results[1], f"kernels differ at {size} bytes"


@pytest.mark.skipif(not HAS_AVX2, reason="CPU has no AVX2")
@pytest.mark.parametrize("size", [4096, 65_536 + 17, 1 << 20, (1 << 20) + 31, 3_000_003])
def test_portable_equals_avx2_large(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    with kernel("portable"):
        portable = hh.hh256(hh.MINIO_BITROT_KEY, data)
    with kernel("avx2"):
        avx2 = hh.hh256(hh.MINIO_BITROT_KEY, data)
    assert portable == avx2


def test_implementation_switch() -> None:
    assert hh.implementation() in hh.available_implementations()
    with kernel("portable"):
        assert hh.implementation() == "portable"
    with pytest.raises(ValueError, match="unknown HighwayHash implementation"):
        hh.set_implementation("sse9")


def test_env_var_selects_kernel() -> None:
    code = "from liteio._ext import highwayhash as h; print(h.implementation())"
    env = {**os.environ, "LITEIO_HIGHWAYHASH_IMPL": "portable"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "portable"


# -- one-shot into buffers, shard batches -----------------------------------


def test_hh256_into_writes_first_32_bytes_only(impl: str) -> None:
    frame = bytearray(b"\xee" * 40)
    hh.hh256_into(hh.MINIO_BITROT_KEY, b"hello", frame)
    assert bytes(frame[:32]) == hh.hh256(hh.MINIO_BITROT_KEY, b"hello")
    assert frame[32:] == b"\xee" * 8
    # A bitrot frame filled in place: header slot, then the chunk it covers.
    chunk = random.Random(1).randbytes(10_000)
    frame = bytearray(32) + chunk
    view = memoryview(frame)
    hh.hh256_into(hh.MINIO_BITROT_KEY, view[32:], view[:32])
    assert bytes(frame[:32]) == hh.hh256(hh.MINIO_BITROT_KEY, chunk)


def test_hash_and_verify_shards(impl: str) -> None:
    rng = random.Random(5)
    # Unequal lengths, empty, tiny and GIL-releasing sizes in one batch.
    shards: list[Any] = [rng.randbytes(n) for n in (0, 1, 31, 32, 33, 1000, 262_144)]
    shards.append(bytearray(rng.randbytes(5000)))
    shards.append(np.frombuffer(rng.randbytes(4096), dtype=np.uint32))
    outs = [bytearray(32) for _ in shards]
    hh.hash_shards(hh.MINIO_BITROT_KEY, shards, outs)
    for shard, out in zip(shards, outs):
        assert bytes(out) == hh.hh256(hh.MINIO_BITROT_KEY, shard)
    assert hh.verify_shards(hh.MINIO_BITROT_KEY, shards, outs) == []
    outs[3][0] ^= 1
    shards[6] = bytearray(shards[6])
    shards[6][100] ^= 0x80
    assert hh.verify_shards(hh.MINIO_BITROT_KEY, tuple(shards), outs) == [3, 6]
    hh.hash_shards(hh.MINIO_BITROT_KEY, [], [])
    assert hh.verify_shards(hh.MINIO_BITROT_KEY, [], []) == []


def test_hash_shards_into_one_header_buffer() -> None:
    shards = [bytes([i]) * 1000 for i in range(6)]
    headers = memoryview(bytearray(6 * 32))
    hh.hash_shards(hh.MINIO_BITROT_KEY, shards, [headers[32 * i : 32 * i + 32] for i in range(6)])
    for i, shard in enumerate(shards):
        assert headers[32 * i : 32 * i + 32] == hh.hh256(hh.MINIO_BITROT_KEY, shard)


def test_threads_hash_concurrently() -> None:
    blobs = [random.Random(i).randbytes(200_000 + i) for i in range(16)]
    want = [hh.hh256(hh.MINIO_BITROT_KEY, b) for b in blobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: hh.hh256(hh.MINIO_BITROT_KEY, b), blobs * 4))
    assert got == want * 4


# -- bad input: clear errors, never a crash ---------------------------------


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), bytes(64)])
def test_wrong_key_length(key: bytes) -> None:
    with pytest.raises(ValueError, match="key must be exactly 32 bytes"):
        hh.hh256(key, b"x")
    with pytest.raises(ValueError, match="key must be exactly 32 bytes"):
        hh.HighwayHash256(key)
    with pytest.raises(ValueError, match="key must be exactly 32 bytes"):
        hh.hash_shards(key, [b"x"], [bytearray(32)])


@pytest.mark.parametrize("bad", ["text", 12, None, [1, 2, 3]])
def test_non_buffer_data_and_key(bad: object) -> None:
    with pytest.raises(TypeError, match="data must be a bytes-like object"):
        hh.hh256(hh.MINIO_BITROT_KEY, bad)
    with pytest.raises(TypeError, match="key must be a bytes-like object"):
        hh.hh256(bad, b"x")
    with pytest.raises(TypeError, match="data must be a bytes-like object"):
        hh.HighwayHash256(hh.MINIO_BITROT_KEY).update(bad)


def test_non_contiguous_buffer() -> None:
    strided = np.arange(64, dtype=np.uint8)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        hh.hh256(hh.MINIO_BITROT_KEY, strided)
    with pytest.raises(ValueError, match=r"shards\[1\] must be a C-contiguous"):
        hh.hash_shards(hh.MINIO_BITROT_KEY, [b"", strided], [bytearray(32)] * 2)


def test_bad_digest_size() -> None:
    with pytest.raises(ValueError, match="digest_size must be 8, 16 or 32"):
        hh.HighwayHash(REFERENCE_KEY, digest_size=20)


def test_bad_output_buffers() -> None:
    key = hh.MINIO_BITROT_KEY
    with pytest.raises(TypeError, match="out must be a writable buffer"):
        hh.hh256_into(key, b"x", bytes(32))
    with pytest.raises(TypeError, match="out must be a writable buffer"):
        hh.hh256_into(key, b"x", memoryview(bytearray(32)).toreadonly())
    with pytest.raises(ValueError, match="out has 31 bytes, needs at least 32"):
        hh.hh256_into(key, b"x", bytearray(31))
    with pytest.raises(TypeError, match=r"outs\[1\] must be a writable buffer"):
        hh.hash_shards(key, [b"a", b"b"], [bytearray(32), bytes(32)])
    with pytest.raises(ValueError, match=r"outs\[0\] has 16 bytes"):
        hh.hash_shards(key, [b"a"], [bytearray(16)])
    with pytest.raises(ValueError, match=r"expected\[0\] has 8 bytes"):
        hh.verify_shards(key, [b"a"], [bytes(8)])


def test_mismatched_and_non_sequence_lists() -> None:
    key = hh.MINIO_BITROT_KEY
    with pytest.raises(ValueError, match="got 2 shards but 1 output buffers"):
        hh.hash_shards(key, [b"a", b"b"], [bytearray(32)])
    with pytest.raises(ValueError, match="got 1 shards but 2 expected hashes"):
        hh.verify_shards(key, [b"a"], [bytes(32), bytes(32)])
    with pytest.raises(TypeError, match="shards must be a sequence of buffers"):
        hh.hash_shards(key, 5, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"shards\[1\] must be a bytes-like object, not NoneType"):
        hh.verify_shards(key, [b"a", None], [bytes(32), bytes(32)])


def test_failed_batch_leaves_outputs_untouched() -> None:
    outs = [bytearray(32), bytearray(32)]
    with pytest.raises(TypeError):
        hh.hash_shards(hh.MINIO_BITROT_KEY, [b"a", "not bytes"], outs)
    assert outs == [bytearray(32), bytearray(32)]
