"""Serve drive folders over RPC from a process of their own (until ``liteio server``
learns distributed mode): used by the fault tests and benchmarks, handy by hand.

    LITEIO_RPC_SECRET=... python -m liteio.rpc.serve --port 9100 /d1=/srv/disk1 /d2=/srv/disk2

Each argument is ``DRIVE_ID=FOLDER`` (the id remote nodes name the drive by;
a bare folder serves under its own path). The secret comes from the
environment only: a command line is visible to every user of the machine.
Prints ``listening HOST:PORT`` once ready; SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from liteio.rpc.auth import server_tls
from liteio.rpc.server import RPCServer
from liteio.storage.api import StorageAPI
from liteio.storage.local import LocalDrive

SECRET_ENV = "LITEIO_RPC_SECRET"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m liteio.rpc.serve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("drives", nargs="+", metavar="DRIVE_ID=FOLDER")
    p.add_argument("--host", default=os.environ.get("LITEIO_RPC_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("LITEIO_RPC_PORT", "0")))
    p.add_argument("--tls-cert", default=os.environ.get("LITEIO_RPC_TLS_CERT"))
    p.add_argument("--tls-key", default=os.environ.get("LITEIO_RPC_TLS_KEY"))
    p.add_argument("--tls-ca", default=os.environ.get("LITEIO_RPC_TLS_CA"),
                   help="require client certificates signed by this CA (mutual TLS)")
    p.add_argument("--uvloop", action="store_true",
                   default=os.environ.get("LITEIO_RPC_UVLOOP", "") == "1")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    drives: dict[str, StorageAPI] = {}
    for spec in args.drives:
        drive_id, sep, folder = spec.partition("=")
        if not sep:
            drive_id, folder = os.path.abspath(spec), spec
        drives[drive_id] = LocalDrive(folder)
    ctx = server_tls(args.tls_cert, args.tls_key, args.tls_ca) if args.tls_cert else None
    server = RPCServer(drives, os.environ.get(SECRET_ENV) or None, args.host, args.port, ssl=ctx)
    await server.start()
    print(f"listening {args.host}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    for drive in drives.values():
        await drive.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    if args.uvloop:
        import uvloop

        uvloop.install()
    try:
        asyncio.run(serve(args))
    except ValueError as exc:  # no secret and no mutual TLS
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
