from __future__ import annotations

from liteio.erasure.bitrot import framed_size, run_bitrot_selftest, shard_file_size

MIB = 1 << 20


def test_selftest_passes() -> None:
    run_bitrot_selftest()


def test_sizes_match_the_cicd_corpus() -> None:
    # 644,520 bytes, 3+2, 1 MiB blocks: one chunk of 214,840 bytes, file 214,872 (FIXTURES.md).
    assert shard_file_size(644_520, MIB, 3) == 214_840
    assert framed_size(644_520, MIB, 3) == 214_872


def test_sizes_over_several_blocks() -> None:
    chunk = -(-MIB // 4)
    assert shard_file_size(3 * MIB + 10, MIB, 4) == 3 * chunk + 3
    assert framed_size(3 * MIB + 10, MIB, 4) == 4 * 32 + 3 * chunk + 3
    assert framed_size(0, MIB, 4) == 0
    assert framed_size(2 * MIB, MIB, 4) == 2 * (32 + chunk)
