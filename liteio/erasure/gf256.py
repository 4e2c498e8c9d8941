"""GF(2^8) arithmetic and MinIO's encoding matrix, in plain Python.

Used once per (K, M) layout to build the matrix that ISA-L expands into its
tables; never on a data path. The field is x^8+x^4+x^3+x^2+1 (0x11D) with
generator 2, the same field as ISA-L and klauspost/reedsolomon.
"""

from __future__ import annotations

from functools import cache

POLYNOMIAL = 0x11D


def _build_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= POLYNOMIAL
    # A doubled exp table lets mul skip the modulo.
    for power in range(255, 510):
        exp[power] = exp[power - 255]
    return exp, log


EXP, LOG = _build_tables()


def mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def inverse(a: int) -> int:
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    return EXP[(255 - LOG[a]) % 255]


def power(a: int, n: int) -> int:
    """a**n in the field; a**0 is 1 for every a, including 0 (klauspost's rule)."""
    if n == 0:
        return 1
    if a == 0:
        return 0
    return EXP[(LOG[a] * n) % 255]


Matrix = list[list[int]]


def mat_mul(left: Matrix, right: Matrix) -> Matrix:
    inner = len(right)
    cols = len(right[0])
    out = []
    for row in left:
        out_row = []
        for c in range(cols):
            acc = 0
            for j in range(inner):
                acc ^= mul(row[j], right[j][c])
            out_row.append(acc)
        out.append(out_row)
    return out


def mat_invert(matrix: Matrix) -> Matrix:
    """Gauss-Jordan inverse of a square matrix; ValueError if singular."""
    size = len(matrix)
    work = [list(row) + [1 if i == j else 0 for j in range(size)] for i, row in enumerate(matrix)]
    for col in range(size):
        pivot = next((r for r in range(col, size) if work[r][col]), None)
        if pivot is None:
            raise ValueError("matrix is singular")
        work[col], work[pivot] = work[pivot], work[col]
        scale = inverse(work[col][col])
        work[col] = [mul(v, scale) for v in work[col]]
        for r in range(size):
            factor = work[r][col]
            if r != col and factor:
                work[r] = [v ^ mul(factor, p) for v, p in zip(work[r], work[col])]
    return [row[size:] for row in work]


def vandermonde(rows: int, cols: int) -> Matrix:
    return [[power(r, c) for c in range(cols)] for r in range(rows)]


@cache
def encoding_matrix(data_shards: int, parity_shards: int) -> bytes:
    """MinIO's (klauspost default) systematic matrix, (K+M) x K, row-major.

    V is the (K+M) x K Vandermonde matrix; E = V * inverse(top K rows of V),
    so E's top K rows are the identity and any K rows stay invertible.
    """
    total = data_shards + parity_shards
    if data_shards < 1 or parity_shards < 0 or total > 256:
        raise ValueError(f"no GF(2^8) code with {data_shards} data and {parity_shards} parity")
    v = vandermonde(total, data_shards)
    top_inverse = mat_invert(v[:data_shards])
    e = mat_mul(v, top_inverse)
    return bytes(b for row in e for b in row)
