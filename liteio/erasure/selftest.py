"""MinIO's erasure start-up self-test, run by liteio before it serves.

For every layout, the 256-byte message 00..ff is split into K shards of
ceil(256/K) bytes (zero padded), M parity shards are computed, and xxHash64
(seed 0) is fed, for each shard i in order, the byte i then the shard. The
golden values are MinIO's own (cmd/erasure-coding.go ``erasureSelfTest``), so
a match proves the field, the matrix and the split rule are MinIO's.
"""

from __future__ import annotations

import os

import xxhash

from liteio.erasure.codec import TooFewShards, codec_for, shard_size

# (K, M) -> xxHash64, from shared/fixtures/minio/vectors/reedsolomon-vectors.json.
GOLDEN_XXH64: dict[tuple[int, int], int] = {
    (2, 2): 0x23fb21be2496f5d3, (2, 3): 0xa5cd5600ba0d8e7c, (3, 1): 0x60ab052148b010b4,
    (3, 2): 0xe64927daef76435a, (3, 3): 0x672f6f242b227b21, (3, 4): 0x0571e41ba23a6dc6,
    (4, 1): 0x524eaa814d5d86e2, (4, 2): 0x62b9552945504fef, (4, 3): 0xcbf9065ee053e518,
    (4, 4): 0x09a07581dcd03da8, (4, 5): 0xbf2d27b55370113f, (5, 1): 0x0f71031a01d70daf,
    (5, 2): 0x8e5845859939d0f4, (5, 3): 0x7ad9161acbb4c325, (5, 4): 0xc446b88830b4f800,
    (5, 5): 0xabf1573cc6f76165, (5, 6): 0x7b5598a85045bfb8, (6, 1): 0xe2fc1e677cc7d872,
    (6, 2): 0x7ed133de5ca6a58e, (6, 3): 0x39ef92d0a74cc3c0, (6, 4): 0x0cfc90052bc25d20,
    (6, 5): 0x71c96f6baeef9c58, (6, 6): 0x4b79056484883e4c, (6, 7): 0xb1a0e2427ac2dc1a,
    (7, 1): 0x937ba2b7af467a22, (7, 2): 0x5fd13a734d27d37a, (7, 3): 0x3be2722d9b66912f,
    (7, 4): 0x14c628e59011be3d, (7, 5): 0xcc3b39ad4c083b9f, (7, 6): 0x45af361b7de7a4ff,
    (7, 7): 0x456cc320cec8a6e6, (7, 8): 0x1867a9f4db315b5c, (8, 1): 0xbc5756b9a9ade030,
    (8, 2): 0xdfd7d9d0b3e36503, (8, 3): 0x72bb72c2cdbcf99d, (8, 4): 0x03ba5e9b41bf07f0,
    (8, 5): 0xd7dabc15800f9d41, (8, 6): 0x0b482a6169fd270f, (8, 7): 0x50748e0099d657e8,
    (9, 1): 0xc77ae0144fcaeb6e, (9, 2): 0x8a86c7dbebf27b68, (9, 3): 0xa64e3be6d6fe7e92,
    (9, 4): 0x239b71c41745d207, (9, 5): 0x2d0803094c5a86ce, (9, 6): 0xa3c2539b3af84874,
    (10, 1): 0x7d30d91b89fcec21, (10, 2): 0xfa5af9aa9f1857a3, (10, 3): 0x84bc4bda8af81f90,
    (10, 4): 0x6c1cba8631de994a, (10, 5): 0x4383e58a086cc1ac, (11, 1): 0x04ed2929a2df690b,
    (11, 2): 0xecd6f1b1399775c0, (11, 3): 0xc78cfbfc0dc64d01, (11, 4): 0xb2643390973702d6,
    (12, 1): 0x3b2a88686122d082, (12, 2): 0x0fd2f30a48a8e2e9, (12, 3): 0xd5ce58368ae90b13,
    (13, 1): 0x9c88e2a9d1b8fff8, (13, 2): 0x0cb8460aa4cf6613, (14, 1): 0x78a28bbaec57996e,
}


class SelfTestFailed(RuntimeError):
    """The codec does not reproduce MinIO's erasure coding; serving would corrupt data."""


def minio_selftest_digest(data_shards: int, parity_shards: int) -> int:
    message = bytes(range(256))
    size = shard_size(len(message), data_shards)
    padded = message.ljust(size * data_shards, b"\0")
    shards = [bytearray(padded[i * size : (i + 1) * size]) for i in range(data_shards)]
    shards += [bytearray(size) for _ in range(parity_shards)]
    codec_for(data_shards, parity_shards).encode(shards)
    digest = xxhash.xxh64(seed=0)
    for index, shard in enumerate(shards):
        digest.update(bytes([index]))
        digest.update(shard)
    return digest.intdigest()


def _check_reconstruct(data_shards: int, parity_shards: int) -> None:
    """Encode, lose the first M shards (all data where possible), rebuild, compare."""
    size = 64
    shards = [bytearray(os.urandom(size)) for _ in range(data_shards)]
    shards += [bytearray(size) for _ in range(parity_shards)]
    codec = codec_for(data_shards, parity_shards)
    codec.encode(shards)
    lost = list(range(parity_shards))
    damaged: list[bytearray | None] = [bytearray(s) for s in shards]
    for i in lost:
        damaged[i] = bytearray(size)
    codec.reconstruct(damaged, lost)
    if damaged != shards:
        raise SelfTestFailed(f"{data_shards}+{parity_shards}: reconstruction does not round-trip")
    if parity_shards:
        too_few: list[bytearray | None] = [None] * (parity_shards + 1) + list(
            shards[parity_shards + 1 :]
        )
        too_few[0] = bytearray(size)
        try:
            codec.reconstruct(too_few, [0])
        except TooFewShards:
            pass
        else:
            raise SelfTestFailed(f"{data_shards}+{parity_shards}: rebuilt with too few shards")


def run_erasure_selftest(min_drives: int = 2, max_drives: int = 16) -> int:
    """Check every golden layout and round-trip every K+M in range; returns layouts checked."""
    for (k, m), want in GOLDEN_XXH64.items():
        got = minio_selftest_digest(k, m)
        if got != want:
            raise SelfTestFailed(
                f"erasure {k}+{m}: xxh64 {got:016x}, MinIO's golden value is {want:016x}"
            )
    checked = 0
    for total in range(min_drives, max_drives + 1):
        for parity in range(total // 2 + 1):
            _check_reconstruct(total - parity, parity)
            checked += 1
    return checked
