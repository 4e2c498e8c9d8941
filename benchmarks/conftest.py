"""Shared benchmark plumbing: build C references, print figures beside them.

Every benchmark records its figure and the reference measured in the same
run in ``benchmark.extra_info`` (keys ending in ``_gbps``/``_mibps`` and a
``ratio``); the terminal summary lists them together, since absolute numbers
on shared machines mean little on their own.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BUILD = HERE / ".build"


def build_c_reference(name: str, libraries: tuple[str, ...] = ("isal",)) -> Path:
    """Compile benchmarks/c/<name>.c into benchmarks/.build/<name> (once per source change)."""
    source = HERE / "c" / f"{name}.c"
    binary = BUILD / name
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("a C compiler is needed to build the benchmark references")
    BUILD.mkdir(exist_ok=True)
    subprocess.run(
        [compiler, "-O2", "-o", str(binary), str(source), *(f"-l{lib}" for lib in libraries)],
        check=True,
    )
    return binary


@pytest.fixture(scope="session")
def c_reference():
    return build_c_reference


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    session = getattr(config, "_benchmarksession", None)
    benchmarks = getattr(session, "benchmarks", None) or []
    rows = [(b.name, b.extra_info) for b in benchmarks if b.extra_info]
    if not rows:
        return
    terminalreporter.section("figures beside their same-run references")
    for name, info in sorted(rows):
        figures = "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in info.items())
        terminalreporter.write_line(f"{name:55s} {figures}")
