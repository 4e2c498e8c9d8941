"""The ``liteio selftest`` command, run as a user would."""

from __future__ import annotations

import subprocess
import sys


def test_selftest_command_reports_matches() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "liteio", "selftest"], check=False, capture_output=True,
        text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "MinIO golden hashes match" in out.stdout
    assert "matches MinIO's self-test" in out.stdout


def test_no_command_prints_usage_and_fails() -> None:
    out = subprocess.run([sys.executable, "-m", "liteio"], check=False, capture_output=True, text=True)
    assert out.returncode == 2
    assert "usage: liteio" in out.stderr
