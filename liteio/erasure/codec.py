"""Reed-Solomon codecs with MinIO's matrix, one shared instance per layout."""

from __future__ import annotations

from functools import cache

from liteio._ext.erasure import CodecError, ReedSolomon, TooFewShards
from liteio.erasure.gf256 import encoding_matrix

__all__ = ["CodecError", "ReedSolomon", "TooFewShards", "codec_for", "shard_size"]


@cache
def codec_for(data_shards: int, parity_shards: int) -> ReedSolomon:
    """The codec for K+M; thread-safe to share (encode tables are read-only)."""
    try:
        matrix = encoding_matrix(data_shards, parity_shards)
    except ValueError as exc:
        raise CodecError(str(exc)) from None
    return ReedSolomon(data_shards, parity_shards, matrix)


def shard_size(block_len: int, data_shards: int) -> int:
    """Bytes per shard for a block: ceil(block / K), MinIO's split rule."""
    return -(-block_len // data_shards)
