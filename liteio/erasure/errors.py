"""Errors of the erasure pipeline; the object layer maps them to object errors."""

from __future__ import annotations


class ErasureError(Exception):
    pass


class IncompleteBody(ErasureError):
    """The body ended before the declared size."""

    def __init__(self, expected: int, received: int) -> None:
        super().__init__(f"body ended after {received} of {expected} bytes")
        self.expected = expected
        self.received = received


class BodyTooLong(ErasureError):
    """The body carried more bytes than declared."""


class WriteQuorumLost(ErasureError):
    """Too many shard writers failed for the write to be durable."""

    def __init__(self, alive: int, needed: int, errors: dict[int, BaseException]) -> None:
        super().__init__(f"only {alive} shard writers left, {needed} needed")
        self.alive = alive
        self.needed = needed
        self.errors = errors


class ReadQuorumLost(ErasureError):
    """Fewer than K intact shards remain for a block."""

    def __init__(self, block: int, good: int, needed: int) -> None:
        super().__init__(f"block {block}: {good} intact shards, {needed} needed")
        self.block = block
        self.good = good
        self.needed = needed
