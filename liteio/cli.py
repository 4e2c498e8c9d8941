"""The ``liteio`` command line: one subcommand per job, each in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from liteio import __version__
from liteio.admin.cli import add_admin_command
from liteio.meta.debug import add_debug_commands


def _selftest(args: argparse.Namespace) -> int:
    from liteio.engine_check import run

    return run(bench=args.bench, seconds=args.seconds)


SERVER_DESCRIPTION = """\
Serve the Amazon S3 API over erasure-coded local drives.

With no arguments, liteio serves http://127.0.0.1:9000 from four drive folders
under ./liteio-data (erasure code 2+2: any two can be lost), creating them if
needed, and prints the endpoint and the root credentials.

DRIVES
  Each DRIVE is a folder; MinIO-style ranges expand, the leftmost varying
  fastest: /data/disk{1...8}, /mnt/d{01...16}. Drives are cut into erasure
  sets of 2..16 (the largest size dividing the count, unless --set-size).
  Drives that MinIO wrote are served in place: liteio's on-disk format is
  MinIO's, and only a format.json is added to drives that lack one.

CREDENTIALS
  --access-key/--secret-key (or LITEIO_ACCESS_KEY/LITEIO_SECRET_KEY) set the
  root user. Otherwise a secret is generated on first start and kept in
  .minio.sys/liteio-credentials.json on every drive (mode 0600).

ENVIRONMENT
  Every flag has a LITEIO_* variable, shown with the flag; flags win.

HEALING
  Degraded reads and writes queue their object for healing (MRF) in every
  worker; worker 0 also scans every object in the background (--no-heal-scan
  or LITEIO_HEAL_SCAN=off to stop it) and refills emptied or replaced drives.
  Tuning: LITEIO_HEAL_SCAN_RATE, _SLEEP_FACTOR, _CYCLE_PAUSE, _DEEP;
  LITEIO_HEAL_MRF_CAPACITY, _WORKERS, _DEEP. `liteio admin heal` heals now;
  `liteio admin heal-status` shows the queue, the scanner and the drives.

SIGNALS
  SIGINT or SIGTERM stop accepting connections, let requests in flight
  finish (10 s at most), then exit. Writes are durable only once
  acknowledged; an interrupted write leaves nothing visible.
"""


def _server(args: argparse.Namespace) -> int:
    from liteio.server.config import SettingsError, settings_from
    from liteio.server.main import run

    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"liteio server: {exc}", file=sys.stderr)
        return 2
    return run(settings)


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

    from liteio.server.config import add_server_arguments

    server = commands.add_parser(
        "server",
        help="serve the S3 API (default: 127.0.0.1:9000 over ./liteio-data, EC 2+2)",
        description=SERVER_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_server_arguments(server)
    server.set_defaults(handler=_server)
    add_admin_command(commands)
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
