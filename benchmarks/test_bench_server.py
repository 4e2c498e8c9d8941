"""A quick pass of the server load harness (``benchmarks/load``), so ``make bench`` covers it.

    python -m pytest benchmarks/test_bench_server.py -q

Runs ``python -m benchmarks.load --quick`` (3 s phases, 2,000 listed objects)
into a temp report, not ``docs/``: the table there comes from a full run
(``make bench-server``). Figures go to ``extra_info`` beside nginx's from the
same run; targets are reported, not asserted (the machine is shared), but every
phase must finish with zero errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.load.__main__ import config_from, parse_args
from benchmarks.load.harness import Harness
from benchmarks.load.report import evaluate, render
from benchmarks.load.signer import check_against_botocore


def test_presigner_matches_botocore() -> None:
    check_against_botocore()


def test_server_load_quick(benchmark: Any, tmp_path: Path) -> None:
    config = config_from(parse_args(["--quick", "--out", str(tmp_path / "report.md")]))
    result = benchmark.pedantic(lambda: Harness(config, log=lambda line: None).run(),
                                rounds=1, iterations=1)
    (tmp_path / "report.md").write_text(render(result, "pytest benchmarks/test_bench_server.py"))
    info = benchmark.extra_info
    for row in result.rows:
        name = f"{row.phase}_{row.size}_{row.target}".lower()
        info[f"{name}_ops"] = round(row.ops_s, 1)
        if row.mib_s >= 1:
            info[f"{name}_mibps"] = round(row.mib_s, 1)
    info["targets_met"] = sum(t.passed is True for t in evaluate(result))
    info["targets_missed"] = sum(t.passed is False for t in evaluate(result))
    errors = {f"{r.phase} {r.size} {r.target}": r.statuses for r in result.rows if r.errors}
    assert not errors, errors
    assert any(r.target == "liteio" for r in result.rows)
