"""Start liteio: drives -> format -> object layer -> S3 app under Hypercorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from liteio import __version__
from liteio.cluster.layout import LayoutError, SetLayout, plan_layout
from liteio.object.bootstrap import format_drives
from liteio.object.errors import DriveLayoutError
from liteio.object.layer import ObjectLayer
from liteio.s3.app import create_app
from liteio.s3.auth import Credentials
from liteio.s3.context import ServerConfig
from liteio.server.config import DEFAULT_ACCESS_KEY, Settings
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.paths import SYSTEM_VOLUME

log = logging.getLogger("liteio.server")
CREDENTIALS_FILE = "liteio-credentials.json"
STALE_UPLOAD_SECONDS = 24 * 3600


class StartupError(RuntimeError):
    pass


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


async def open_drives(layout: SetLayout, settings: Settings) -> list[StorageAPI]:
    drives: list[StorageAPI] = []
    for path in layout.drives:
        if "://" in path:
            raise StartupError(f"remote drive {path}: distributed mode is not implemented yet")
        root = Path(path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        local = LocalDrive(root, endpoint=str(root), io_threads=settings.io_threads)
        drives.append(HealthCheckedDrive(local, timeout=settings.drive_timeout))
    return drives


async def root_credentials(drives: list[StorageAPI], settings: Settings) -> tuple[str, str, bool]:
    """(access key, secret, generated): flags/env win; else the pair kept on the drives."""
    if settings.access_key and settings.secret_key:
        return settings.access_key, settings.secret_key, False
    stored: dict[tuple[str, str], int] = {}
    for drive in drives:
        try:
            doc = json.loads(await drive.read_all(SYSTEM_VOLUME, CREDENTIALS_FILE))
            pair = (str(doc["accessKey"]), str(doc["secretKey"]))
            stored[pair] = stored.get(pair, 0) + 1
        except (serr.StorageError, ValueError, KeyError, TypeError):
            continue
    if stored:
        access, secret = max(stored, key=lambda p: stored[p])
        return settings.access_key or access, settings.secret_key or secret, False
    access = settings.access_key or DEFAULT_ACCESS_KEY
    secret = settings.secret_key or secrets.token_urlsafe(24)
    blob = json.dumps({"accessKey": access, "secretKey": secret}).encode()
    await asyncio.gather(*(d.write_all(SYSTEM_VOLUME, CREDENTIALS_FILE, blob) for d in drives),
                         return_exceptions=True)
    for drive in drives:
        local = getattr(drive, "inner", drive)
        if isinstance(local, LocalDrive):
            with contextlib.suppress(OSError):
                os.chmod(Path(local.root) / SYSTEM_VOLUME / CREDENTIALS_FILE, 0o600)
    return access, secret, True


def banner(settings: Settings, layout: SetLayout, access: str, secret: str, url: str) -> str:
    lines = [
        f"liteio {__version__} is serving S3 at {url}",
        f"  region      {settings.region}",
        f"  access key  {access}",
        f"  secret key  {secret}",
        (f"  erasure     {layout.set_count} set(s) of {layout.set_size} drives, "
        f"EC {layout.data}+{layout.parity} (survives {layout.parity} lost drives per set)"),
    ]
    lines += [f"  drive       {d}" for d in layout.drives]
    lines += [
        (f"  try         AWS_ACCESS_KEY_ID={access} AWS_SECRET_ACCESS_KEY={secret} "
        f"aws --endpoint-url {url} s3 ls"),
        "  stop        Ctrl-C",
    ]
    return "\n".join(lines)


async def _periodic_cleanup(layer: ObjectLayer) -> None:
    cleanup = getattr(layer, "cleanup_stale_uploads", None)
    while cleanup is not None:
        await asyncio.sleep(3600)
        try:
            await cleanup(STALE_UPLOAD_SECONDS)
        except Exception:  # housekeeping must never stop the server
            log.exception("stale upload cleanup failed")


def engine_selftest() -> None:
    """MinIO's start-up checks: a codec or hash that disagrees would corrupt data."""
    from liteio.erasure.bitrot import BitrotSelfTestFailed, run_bitrot_selftest
    from liteio.erasure.selftest import SelfTestFailed, run_erasure_selftest

    try:
        run_erasure_selftest()
        run_bitrot_selftest()
    except (SelfTestFailed, BitrotSelfTestFailed) as exc:
        raise StartupError(f"engine self-test failed, refusing to serve: {exc}") from None


async def serve_forever(settings: Settings, ready: asyncio.Event | None = None) -> None:
    engine_selftest()
    try:
        layout = plan_layout(settings.drives, settings.parity, settings.set_size)
    except LayoutError as exc:
        raise StartupError(str(exc)) from None
    drives = await open_drives(layout, settings)
    try:
        deployment, sets = await format_drives(drives, layout.set_count, layout.set_size)
    except DriveLayoutError as exc:
        raise StartupError(str(exc)) from None
    layer = ObjectLayer(sets, layout.parity, deployment)
    access, secret, _ = await root_credentials(drives, settings)
    config = ServerConfig(Credentials.single(access, secret), settings.region, settings.domains)
    app = create_app(layer, config)

    hyper = Config()
    hyper.bind = [settings.address]
    hyper.h11_max_incomplete_size = 64 * 1024  # S3 metadata headers are large
    hyper.keep_alive_timeout = 30
    hyper.graceful_timeout = 10
    hyper.include_server_header = False
    hyper.accesslog = None
    hyper.errorlog = logging.getLogger("liteio.hypercorn")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for drive in drives:
        if isinstance(drive, HealthCheckedDrive):
            drive.start_monitor()
    housekeeping = asyncio.create_task(_periodic_cleanup(layer))
    url = f"http://{settings.address}"
    print(banner(settings, layout, access, secret, url), flush=True)
    if ready is not None:
        ready.set()
    try:
        await serve(app, hyper, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    finally:
        housekeeping.cancel()
        await layer.close()
        print("liteio stopped", flush=True)


def run(settings: Settings) -> int:
    configure_logging(settings.log_level)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional at heart
        runner = asyncio.run
    try:
        runner(serve_forever(settings))
    except StartupError as exc:
        print(f"liteio: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"liteio: cannot listen on {settings.address}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
