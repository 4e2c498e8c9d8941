"""``python -m benchmarks.load``: run the phases, print them as they finish, write the report."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from benchmarks.load.harness import PHASES, SIZES, TARGETS, Harness, RunConfig
from benchmarks.load.report import evaluate, render
from benchmarks.load.signer import check_against_botocore

DEFAULT_OUT = "docs/performance-server.md"


def _choices(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    picked = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in picked if p not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} "
                                         f"(choose from {', '.join(allowed)})")
    return picked


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Load a liteio server beside nginx and moto; write a markdown report.")
    parser.add_argument("--quick", action="store_true",
                        help="3 s phases and 2,000 listed objects (unless given)")
    parser.add_argument("--duration", type=float, help="seconds per timed phase (default 10)")
    parser.add_argument("--phases", default=",".join(PHASES),
                        type=lambda t: _choices(t, PHASES, "phase"),
                        help=f"comma-separated (default all: {','.join(PHASES)})")
    parser.add_argument("--sizes", default=",".join(SIZES),
                        type=lambda t: _choices(t, tuple(SIZES), "size"),
                        help="object sizes of the PUT/GET/STAT/MIXED/DELETE phases")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        type=lambda t: _choices(t, TARGETS, "target"),
                        help="servers to load (default liteio,nginx,moto)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--list-objects", type=int,
                        help="objects in the LIST bucket (default 10,000; the issue's 100,000 "
                        "takes a minute or more to prepare)")
    parser.add_argument("--workdir", type=Path,
                        help="parent of the run's temp dir (default /var/tmp; env LITEIO_BENCH_DIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (drives, logs)")
    parser.add_argument("--liteio-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `liteio server` (repeatable)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"markdown report (default {DEFAULT_OUT})")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> RunConfig:
    duration = args.duration or (3.0 if args.quick else 10.0)
    objects = args.list_objects or (2_000 if args.quick else 10_000)
    workdir = args.workdir or (Path(os.environ["LITEIO_BENCH_DIR"])
                               if os.environ.get("LITEIO_BENCH_DIR") else None)
    return RunConfig(duration=duration, connections=args.connections, sizes=args.sizes,
                     phases=args.phases, targets=args.targets, list_objects=objects,
                     workdir=workdir, keep=args.keep, liteio_args=args.liteio_arg)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_against_botocore()
    command = "python -m benchmarks.load " + shlex.join(sys.argv[1:] if argv is None else argv)
    result = Harness(config_from(args), log=lambda line: print(line, flush=True)).run()
    report = render(result, command.strip())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(
            {"rows": [asdict(r) for r in result.rows], "startup_s": result.startup_s,
             "skipped": result.skipped}, indent=1, default=str))
    print(f"\nwrote {out}")
    for target in evaluate(result):
        verdict = {True: "pass", False: "FAIL", None: "n/a"}[target.passed]
        print(f"  {verdict:4s}  {target.name}: {target.measured}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temp dir removed", file=sys.stderr)
        sys.exit(130)
