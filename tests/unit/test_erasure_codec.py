"""Reed-Solomon codec: MinIO's vectors, a naive oracle, and bad input."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liteio.erasure import gf256
from liteio.erasure.codec import CodecError, ReedSolomon, TooFewShards, codec_for, shard_size
from liteio.erasure.selftest import GOLDEN_XXH64, minio_selftest_digest, run_erasure_selftest
from tests.fixtures import minio_vectors
from tests.unit import gf_oracle

VECTORS = minio_vectors("reedsolomon-vectors.json")


def test_field_matches_klauspost_checks() -> None:
    checks = VECTORS["galois_checks_from_klauspost_tests"]
    for a, b, product in checks["mul"]:
        assert gf256.mul(a, b) == product == gf_oracle.gmul(a, b)
    for a, n, result in checks["exp"]:
        assert gf256.power(a, n) == result
    scaled = bytes(gf256.mul(25, v) for v in checks["mul_slice"]["input"])
    assert scaled.hex() == checks["mul_slice"]["by_25_hex"]
    inverse = gf256.mat_invert(checks["matrix_inverse"]["input"])
    assert inverse == checks["matrix_inverse"]["inverse"]


def test_vandermonde_examples() -> None:
    for layout, rows in VECTORS["vandermonde_before_normalisation"]["examples"].items():
        k, m = map(int, layout.split("+"))
        got = gf256.vandermonde(k + m, k)
        assert [" ".join(f"{v:02x}" for v in row) for row in got] == rows


@pytest.mark.parametrize("layout", sorted(VECTORS["encoding_matrix_parity_rows"]["rows"]))
def test_parity_rows_match_minio(layout: str) -> None:
    k, m = map(int, layout.split("+"))
    matrix = gf256.encoding_matrix(k, m)
    parity = [matrix[r * k : (r + 1) * k] for r in range(k, k + m)]
    want = VECTORS["encoding_matrix_parity_rows"]["rows"][layout]
    assert [" ".join(f"{v:02x}" for v in row) for row in parity] == want
    assert [list(row) for row in parity] == gf_oracle.encoding_rows(k, m)[k:]


def test_all_sixty_minio_selftest_hashes() -> None:
    entries = VECTORS["minio_erasure_selftest"]["entries"]
    assert len(entries) == 60
    for entry in entries:
        k, m = entry["data"], entry["parity"]
        assert GOLDEN_XXH64[(k, m)] == int(entry["xxh64_hex"], 16)
        assert f"{minio_selftest_digest(k, m):016x}" == entry["xxh64_hex"], (k, m)


def test_explicit_parity_examples() -> None:
    for case in VECTORS["explicit_parity_examples"]["cases"]:
        k, m, size = case["data"], case["parity"], case["shard_len"]
        data = bytes.fromhex(case["input_hex"])
        assert shard_size(len(data), k) == size
        padded = data.ljust(k * size, b"\0")
        shards = [bytearray(padded[i * size : (i + 1) * size]) for i in range(k)]
        shards += [bytearray(size) for _ in range(m)]
        codec_for(k, m).encode(shards)
        assert [s.hex() for s in shards[:k]] == case["data_shards_hex"]
        assert [s.hex() for s in shards[k:]] == case["parity_shards_hex"]


def test_selftest_covers_every_layout_of_2_to_16_drives() -> None:
    # parity 0..N/2 for every N in 2..16
    assert run_erasure_selftest() == sum(n // 2 + 1 for n in range(2, 17))


layouts = st.integers(2, 16).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n - 1)).map(lambda t: (t[0] - t[1], t[1]))
)


@settings(max_examples=150, deadline=None)
@given(layout=layouts, size=st.integers(0, 2500), seed=st.integers(0, 2**32 - 1))
def test_encode_and_reconstruct_agree_with_oracle(
    layout: tuple[int, int], size: int, seed: int
) -> None:
    k, m = layout
    rng = random.Random(seed)
    data = [rng.randbytes(size) for _ in range(k)]
    shards = [bytearray(d) for d in data] + [bytearray(size) for _ in range(m)]
    codec = codec_for(k, m)
    codec.encode(shards)
    assert [bytes(s) for s in shards[k:]] == gf_oracle.encode(k, m, data)

    lost = rng.sample(range(k + m), rng.randint(0, m))
    also_gone = [i for i in range(k + m) if i not in lost][: rng.randint(0, m - len(lost))]
    damaged: list[bytearray | None] = [bytearray(s) for s in shards]
    for i in lost:
        damaged[i] = bytearray(os.urandom(size))
    for i in also_gone:
        damaged[i] = None  # unavailable and not wanted back
    codec.reconstruct(damaged, lost)
    for i in lost:
        assert damaged[i] == shards[i], (k, m, lost, i)


def test_reconstruct_prefers_data_shards_and_leaves_sources_alone() -> None:
    codec = codec_for(4, 2)
    shards = [bytearray(os.urandom(100)) for _ in range(4)] + [bytearray(100) for _ in range(2)]
    codec.encode(shards)
    original = [bytes(s) for s in shards]
    work: list[bytearray | None] = [bytearray(s) for s in shards]
    work[5] = bytearray(100)
    codec.reconstruct(work, [5])
    assert [bytes(s) for s in work if s is not None] == original


def test_too_many_missing_is_refused() -> None:
    codec = codec_for(4, 2)
    shards: list[bytearray | None] = [bytearray(8) for _ in range(6)]
    shards[1] = shards[2] = None
    with pytest.raises(TooFewShards, match="needs 4 shards"):
        codec.reconstruct(shards, [0])


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([bytearray(4)] * 5, "encodes 6 shards, got 5"),
        ([bytearray(4)] * 5 + [bytearray(3)], "same length"),
        ([bytearray(4)] * 5 + [bytes(4)], "writable"),
        ([bytearray(4)] * 5 + [42], "not a buffer"),
        ([bytearray(4)] * 5 + [memoryview(bytearray(8))[::2]], "C-contiguous"),
    ],
)
def test_bad_encode_input(shards: list[object], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        codec_for(4, 2).encode(shards)


def test_bad_reconstruct_input() -> None:
    codec = codec_for(2, 2)
    shards = [bytearray(4) for _ in range(4)]
    with pytest.raises(CodecError, match="out of range"):
        codec.reconstruct(shards, [4])
    with pytest.raises(CodecError, match="duplicate"):
        codec.reconstruct(shards, [1, 1])
    with pytest.raises(CodecError, match="no buffer"):
        codec.reconstruct([None, *shards[1:]], [0])
    with pytest.raises(CodecError, match="writable"):
        codec.reconstruct([bytes(4), *shards[1:]], [0])


@pytest.mark.parametrize(("k", "m"), [(0, 2), (-1, 1), (2, -1), (200, 57)])
def test_bad_layouts(k: int, m: int) -> None:
    with pytest.raises(CodecError):
        codec_for(k, m)


def test_matrix_must_fit_and_be_systematic() -> None:
    with pytest.raises(CodecError, match="needs 8"):
        ReedSolomon(2, 2, bytes(7))
    with pytest.raises(CodecError, match="systematic"):
        ReedSolomon(2, 2, bytes(8))


def test_zero_parity_and_empty_shards() -> None:
    codec = codec_for(3, 0)
    shards = [bytearray(b"abc") for _ in range(3)]
    codec.encode(shards)
    assert shards == [bytearray(b"abc")] * 3
    empty = [bytearray() for _ in range(6)]
    codec_for(4, 2).encode(empty)
    codec_for(4, 2).reconstruct(empty, [0, 5])
