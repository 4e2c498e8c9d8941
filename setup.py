"""Build liteio's compiled engine (``liteio._ext.*``) against the system ISA-L.

Every ``ext/<name>.pyx`` becomes the module ``liteio._ext.<name>``; C sources
in ``ext/csrc/<name>/`` are compiled into that module. ISA-L is located with
pkg-config (``libisal``) or, when set, the ``LITEIO_ISAL_PREFIX`` directory
(holding ``include/isa-l.h`` and ``lib/libisal.so``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent.resolve()
EXT_DIR = Path("ext")
MIN_ISAL = (2, 30)

MISSING_ISAL = """
liteio needs Intel ISA-L >= {want} (headers and library) to build its engine.
{why}
Install it, then build again:
  Debian/Ubuntu:  sudo apt-get install libisal-dev pkg-config
  Fedora/RHEL:    sudo dnf install isa-l-devel pkgconf
  from source:    https://github.com/intel/isa-l, then set LITEIO_ISAL_PREFIX=/usr/local
"""


class IsalNotFound(SystemExit):
    def __init__(self, why: str) -> None:
        super().__init__(MISSING_ISAL.format(want="%d.%d" % MIN_ISAL, why=why))


def _pkg_config(*args: str) -> str:
    out = subprocess.run(
        ["pkg-config", *args, "libisal"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise IsalNotFound(f"pkg-config does not know libisal: {out.stderr.strip()}")
    return out.stdout.strip()


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def isal_build_flags() -> dict[str, list[str]]:
    """Compiler and linker flags for ISA-L, or a SystemExit that says what to install."""
    prefix = os.environ.get("LITEIO_ISAL_PREFIX")
    if prefix:
        root = Path(prefix)
        if not (root / "include" / "isa-l.h").exists():
            raise IsalNotFound(f"LITEIO_ISAL_PREFIX={prefix} has no include/isa-l.h.")
        libdirs = [str(d) for d in (root / "lib", root / "lib64") if d.exists()]
        return {
            "include_dirs": [str(root / "include")],
            "library_dirs": libdirs,
            "runtime_library_dirs": libdirs,
            "libraries": ["isal"],
        }
    if shutil.which("pkg-config") is None:
        raise IsalNotFound("pkg-config is not installed, so libisal cannot be located.")
    version = _pkg_config("--modversion")
    if _version_tuple(version) < MIN_ISAL:
        raise IsalNotFound(f"Found libisal {version}, which is too old.")
    cflags = _pkg_config("--cflags").split()
    libs = _pkg_config("--libs").split()
    return {
        "include_dirs": [f[2:] for f in cflags if f.startswith("-I")],
        "library_dirs": [f[2:] for f in libs if f.startswith("-L")],
        "runtime_library_dirs": [],
        "libraries": [f[2:] for f in libs if f.startswith("-l")] or ["isal"],
    }


def extensions() -> list[Extension]:
    flags = isal_build_flags()
    # LITEIO_EXT_ONLY=a,b limits a development rebuild to those modules.
    only = {n for n in os.environ.get("LITEIO_EXT_ONLY", "").split(",") if n}
    modules = []
    for pyx in sorted(EXT_DIR.glob("*.pyx")):
        name = pyx.stem
        if only and name not in only:
            continue
        csrc = EXT_DIR / "csrc" / name
        c_files = sorted(str(p) for p in csrc.glob("*.c")) if csrc.is_dir() else []
        modules.append(
            Extension(
                f"liteio._ext.{name}",
                sources=[str(pyx), *c_files],
                include_dirs=[str(EXT_DIR), str(csrc), *flags["include_dirs"]],
                library_dirs=flags["library_dirs"],
                runtime_library_dirs=flags["runtime_library_dirs"],
                libraries=flags["libraries"],
                # NOTE: no -march=native: SIMD paths use target attributes and
                # runtime CPU dispatch so one build runs on any x86-64.
                extra_compile_args=["-O3", "-std=gnu11", "-Wno-unused-function"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return modules


def cythonized() -> list[Extension]:
    from Cython.Build import cythonize

    return cythonize(
        extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        quiet=True,
    )


if __name__ == "__main__":
    # Metadata-only commands (egg_info, --version) must work without ISA-L.
    needs_build = not any(a in sys.argv for a in ("egg_info", "--version", "--name", "dist_info"))
    setup(ext_modules=cythonized() if needs_build else [])
