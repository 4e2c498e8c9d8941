"""The ``liteio`` command line: one subcommand per job, each in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from liteio import __version__
from liteio.meta.debug import add_debug_commands


def _selftest(args: argparse.Namespace) -> int:
    from liteio.engine_check import run

    return run(bench=args.bench, seconds=args.seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liteio",
        description="liteio: an S3-compatible, erasure-coded object store.",
    )
    parser.add_argument("--version", action="version", version=f"liteio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    selftest = commands.add_parser(
        "selftest",
        help="verify the engine against MinIO's golden values (and optionally time it)",
        description="Run the start-up self-tests of the compiled engine: Reed-Solomon "
        "against MinIO's 60 golden hashes and a round trip of every K+M from 2 to 16 "
        "drives, HighwayHash-256 bitrot against MinIO's self-test. With --bench, also "
        "print single-core throughput of each kernel.",
    )
    selftest.add_argument("--bench", action="store_true", help="also measure kernel throughput")
    selftest.add_argument(
        "--seconds", type=float, default=0.5, help="time per throughput figure (default 0.5)"
    )
    selftest.set_defaults(handler=_selftest)
    add_debug_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args))
