"""Bitrot framing math and MinIO's HighwayHash self-test.

Every shard stream (a ``part.N`` file, or an inline-data value) is a run of
frames, one per erasure block::

    +----------------------+---------------------------+
    | HighwayHash-256 (32) | shard chunk (s bytes)     |  block 0, s = ceil(B / K)
    +----------------------+---------------------------+
    | HighwayHash-256 (32) | shard chunk               |  block 1 ...
    +----------------------+---------------------------+
    | HighwayHash-256 (32) | last chunk (may be short) |
    +----------------------+---------------------------+
"""

from __future__ import annotations

from liteio._ext.highwayhash import MINIO_BITROT_KEY, hh256

HASH_SIZE = 32
BITROT_KEY = MINIO_BITROT_KEY
_SELFTEST_FINAL = bytes.fromhex("39c0407ed3f01b18d22c85db4aeff11e060ca5f43131b0126731ca197cd42313")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def shard_file_size(size: int, block_size: int, data_shards: int) -> int:
    """Bytes of shard data one drive stores for a part of ``size`` bytes (no hashes)."""
    whole, rest = divmod(size, block_size)
    return whole * ceil_div(block_size, data_shards) + ceil_div(rest, data_shards)


def framed_size(size: int, block_size: int, data_shards: int) -> int:
    """Bytes of one drive's framed shard stream for a part of ``size`` bytes."""
    shard_bytes = shard_file_size(size, block_size, data_shards)
    chunk = ceil_div(block_size, data_shards)
    return ceil_div(shard_bytes, chunk) * HASH_SIZE + shard_bytes


class BitrotSelfTestFailed(RuntimeError):
    """HighwayHash does not reproduce MinIO's value; stored checksums would not verify."""


def run_bitrot_selftest() -> None:
    """MinIO's start-up check: hash, append the hash, 32 times; compare the last hash."""
    message = b""
    digest = b""
    for _ in range(32):
        digest = hh256(BITROT_KEY, message)
        message += digest
    if digest != _SELFTEST_FINAL:
        raise BitrotSelfTestFailed(
            f"HighwayHash-256 self-test gave {digest.hex()}, MinIO's is {_SELFTEST_FINAL.hex()}"
        )
