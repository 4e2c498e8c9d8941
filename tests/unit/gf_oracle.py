"""A deliberately naive GF(2^8) Reed-Solomon, independent of liteio's code.

Multiplication is shift-and-add with reduction by 0x11D (no tables), the
matrix is built straight from its definition, and decoding solves by
Gauss-Jordan elimination, so agreeing with it means something.
"""

from __future__ import annotations


def gmul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
    return product


def gpow(a: int, n: int) -> int:
    result = 1
    for _ in range(n):
        result = gmul(result, a)
    return result


def ginv(a: int) -> int:
    for candidate in range(1, 256):
        if gmul(a, candidate) == 1:
            return candidate
    raise ZeroDivisionError(a)


def solve(matrix: list[list[int]]) -> list[list[int]]:
    n = len(matrix)
    aug = [row[:] + [int(i == j) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if aug[r][col])
        aug[col], aug[pivot] = aug[pivot], aug[col]
        inv = ginv(aug[col][col])
        aug[col] = [gmul(v, inv) for v in aug[col]]
        for r in range(n):
            if r != col and aug[r][col]:
                f = aug[r][col]
                aug[r] = [v ^ gmul(f, w) for v, w in zip(aug[r], aug[col])]
    return [row[n:] for row in aug]


def matmul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    out = []
    for row in a:
        new = []
        for c in range(len(b[0])):
            acc = 0
            for j, v in enumerate(row):
                acc ^= gmul(v, b[j][c])
            new.append(acc)
        out.append(new)
    return out


def encoding_rows(k: int, m: int) -> list[list[int]]:
    vand = [[gpow(r, c) for c in range(k)] for r in range(k + m)]
    return matmul(vand, solve(vand[:k]))


# Products tabulated from the naive gmul, only to keep per-byte loops bearable.
_PRODUCTS = [bytes(gmul(a, b) for b in range(256)) for a in range(256)]


def encode(k: int, m: int, data: list[bytes]) -> list[bytes]:
    rows = encoding_rows(k, m)
    size = len(data[0])
    parity = []
    for p in range(m):
        out = bytearray(size)
        for c, shard in zip(rows[k + p], data):
            scaled = shard.translate(_PRODUCTS[c])
            out = bytearray(x ^ y for x, y in zip(out, scaled))
        parity.append(bytes(out))
    return parity
