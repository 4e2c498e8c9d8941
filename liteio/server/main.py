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
from dataclasses import dataclass
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from liteio import __version__
from liteio.cluster.layout import LayoutError, SetLayout, plan_layout
from liteio.heal import DriveHealConfig, HealService, MRFConfig, ScannerConfig
from liteio.object.bootstrap import format_drives
from liteio.object.errors import DriveLayoutError
from liteio.object.layer import ObjectLayer
from liteio.object.nslock import NamespaceLock, ProcessLockTable
from liteio.object.shared_state import SharedCounter
from liteio.s3.admin import AdminAPI
from liteio.s3.app import create_app
from liteio.s3.auth import Credentials
from liteio.s3.context import ServerConfig
from liteio.server.config import DEFAULT_ACCESS_KEY, Settings
from liteio.server.heal_status import HealStatusBoard
from liteio.server.memory import tune_malloc
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.health import HealthCheckedDrive
from liteio.storage.local import LocalDrive
from liteio.storage.paths import SYSTEM_VOLUME

log = logging.getLogger("liteio.server")
CREDENTIALS_FILE = "liteio-credentials.json"
STALE_UPLOAD_SECONDS = 24 * 3600
SWITCH_INTERVAL = float(os.environ.get("LITEIO_SWITCH_INTERVAL", "0.0005"))


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
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # Not a directory (a dead mount, a file in its place): the drive starts
            # offline and the set serves without it while quorum allows.
            log.warning("event=drive_unusable path=%s error=%r", root, exc.strerror)
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
    lines.append(f"  workers     {settings.workers} process(es) sharing the port")
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


@dataclass(slots=True)
class Deployment:
    """What the parent learns once, before any worker serves."""

    layout: SetLayout
    deployment_id: str
    access_key: str
    secret_key: str


async def prepare(settings: Settings) -> Deployment:
    """Self-test, format the drives, settle credentials, clean staging: once, up front."""
    engine_selftest()
    try:
        layout = plan_layout(settings.drives, settings.parity, settings.set_size)
    except LayoutError as exc:
        raise StartupError(str(exc)) from None
    drives = await open_drives(layout, settings)
    try:
        deployment, _ = await format_drives(drives, layout.set_count, layout.set_size)
        access, secret, _ = await root_credentials(drives, settings)
    except DriveLayoutError as exc:
        raise StartupError(str(exc)) from None
    finally:
        await asyncio.gather(*(d.close() for d in drives), return_exceptions=True)
    return Deployment(layout, deployment, access, secret)


def shared_state_path(deployment_id: str, layout: SetLayout) -> str:
    """Prefix of the files workers share (lock table, bucket generation): tmpfs if any."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return str(shm / f"liteio-{deployment_id}")
    return str(Path(layout.drives[0]).expanduser().resolve() / SYSTEM_VOLUME / "liteio")


def hypercorn_config(bind: str) -> Config:
    hyper = Config()
    hyper.bind = [bind]
    hyper.h11_max_incomplete_size = 64 * 1024  # S3 metadata headers are large
    hyper.keep_alive_timeout = 30
    hyper.graceful_timeout = 10
    hyper.include_server_header = False
    hyper.accesslog = None
    hyper.errorlog = logging.getLogger("liteio.hypercorn")
    return hyper


async def start_healing(layer: ObjectLayer, settings: Settings, index: int) -> HealService:
    """MRF in every worker (each heals what its own requests saw damaged); the scanner
    and the refill of emptied or replaced drives in worker 0 only (one walk is enough)."""
    try:
        mrf = MRFConfig.from_env()
        scanner = ScannerConfig.from_env() if settings.heal_scan and index == 0 else None
        drives = DriveHealConfig.from_env() if index == 0 else None
    except ValueError as exc:
        raise StartupError(f"bad LITEIO_HEAL_* setting: {exc}") from None
    return await layer.start_healing(mrf=mrf, scanner=scanner, drives=drives)


async def serve_worker(settings: Settings, plan: Deployment, bind: str, *, index: int = 0,
                       workers: int = 1, ready: asyncio.Event | None = None) -> None:
    """One serving process: its own drives, object layer and Hypercorn loop."""
    tune_malloc()
    # PERF: drive threads finish a syscall in microseconds, then wait for the GIL;
    # CPython's default 5 ms switch interval would add that wait to every hop.
    sys.setswitchinterval(SWITCH_INTERVAL)
    drives = await open_drives(plan.layout, settings)
    try:
        # NOTE: no staging clean-up here: with several workers the others may be writing.
        _, sets = await format_drives(drives, plan.layout.set_count, plan.layout.set_size,
                                      clean_tmp=False)
    except DriveLayoutError as exc:
        raise StartupError(str(exc)) from None
    locks = generation = None
    shared = shared_state_path(plan.deployment_id, plan.layout)
    if workers > 1:
        locks = NamespaceLock(table=ProcessLockTable(f"{shared}.locks"))
        generation = SharedCounter(f"{shared}.generation")
    layer = ObjectLayer(sets, plan.layout.parity, plan.deployment_id, locks=locks,
                        bucket_generation=generation)
    healing = await start_healing(layer, settings, index)
    board = (HealStatusBoard(shared, index, workers, healing.status) if workers > 1
             else None)
    config = ServerConfig(Credentials.single(plan.access_key, plan.secret_key), settings.region,
                          settings.domains)
    admin = AdminAPI(layer, heal_status=board.merged if board is not None else None,
                     root=plan.access_key)
    app = create_app(layer, config, admin)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for drive in drives:
        if isinstance(drive, HealthCheckedDrive):
            drive.start_monitor()
    housekeeping = asyncio.create_task(_periodic_cleanup(layer)) if index == 0 else None
    if board is not None:
        board.start()
    if ready is not None:
        ready.set()
    try:
        await serve(app, hypercorn_config(bind), shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    finally:
        if housekeeping is not None:
            housekeeping.cancel()
        await layer.close()  # stops healing too
        if board is not None:
            await board.stop()  # the final figures, for the workers still answering


def _runner():  # type: ignore[no-untyped-def]
    try:
        import uvloop

        return uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional at heart
        return asyncio.run


def run(settings: Settings) -> int:
    configure_logging(settings.log_level)
    runner = _runner()
    try:
        # NOTE: plain asyncio here: the parent may fork workers next, and libuv leaves
        # process-wide signal and child-reaping machinery behind.
        plan = asyncio.run(prepare(settings))
    except StartupError as exc:
        print(f"liteio: cannot start: {exc}", file=sys.stderr)
        return 1
    url = f"http://{settings.address}"
    try:
        if settings.workers <= 1:
            print(banner(settings, plan.layout, plan.access_key, plan.secret_key, url), flush=True)
            runner(serve_worker(settings, plan, settings.address))
        else:
            from liteio.server.workers import supervise

            return supervise(settings, plan, url)
    except StartupError as exc:
        print(f"liteio: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"liteio: cannot listen on {settings.address}: {exc.strerror}", file=sys.stderr)
        return 1
    print("liteio stopped", flush=True)
    return 0
