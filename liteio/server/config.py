"""Server settings from flags and ``LITEIO_*`` environment variables (flags win)."""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field

DEFAULT_ADDRESS = "127.0.0.1:9000"
DEFAULT_DRIVES = "./liteio-data/drive{1...4}"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCESS_KEY = "liteioadmin"


class SettingsError(ValueError):
    pass


@dataclass(slots=True)
class Settings:
    address: str = DEFAULT_ADDRESS
    drives: list[str] = field(default_factory=lambda: [DEFAULT_DRIVES])
    parity: int | None = None
    set_size: int | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = DEFAULT_REGION
    domains: tuple[str, ...] = ()
    io_threads: int = 4
    drive_timeout: float = 30.0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    log_level: str = "info"
    # The background scanner (worker 0 only); MRF healing always runs. Pace and depth:
    # LITEIO_HEAL_SCAN_* / LITEIO_HEAL_MRF_* (ScannerConfig/MRFConfig.from_env).
    heal_scan: bool = True

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


ENV = {
    "address": "LITEIO_ADDRESS",
    "drives": "LITEIO_DRIVES",
    "parity": "LITEIO_PARITY",
    "set_size": "LITEIO_SET_DRIVE_COUNT",
    "access_key": "LITEIO_ACCESS_KEY",
    "secret_key": "LITEIO_SECRET_KEY",
    "region": "LITEIO_REGION",
    "domains": "LITEIO_DOMAIN",
    "io_threads": "LITEIO_IO_THREADS",
    "workers": "LITEIO_WORKERS",
    "drive_timeout": "LITEIO_DRIVE_TIMEOUT",
    "log_level": "LITEIO_LOG_LEVEL",
    "heal_scan": "LITEIO_HEAL_SCAN",
}
_ON = ("1", "true", "on", "yes")
_OFF = ("0", "false", "off", "no")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("drives", nargs="*", metavar="DRIVE",
                        help="drive folders; MinIO-style ranges expand: /data/disk{1...8} "
                        f"(default {DEFAULT_DRIVES}; env {ENV['drives']}, space-separated)")
    parser.add_argument("--drives", dest="drive_flags", action="append", default=[],
                        metavar="PATTERN", help="same as the positional DRIVE arguments")
    parser.add_argument("--address", metavar="HOST:PORT",
                        help=f"where to listen (default {DEFAULT_ADDRESS}; env {ENV['address']})")
    parser.add_argument("--parity", type=int, metavar="M",
                        help="parity drives per erasure set (default by set size: 4-5 drives -> 2, "
                        f"6-7 -> 3, 8+ -> 4; env {ENV['parity']})")
    parser.add_argument("--set-size", type=int, metavar="N",
                        help=f"drives per erasure set, 2..16 (default: the largest that divides the "
                        f"drive count; env {ENV['set_size']})")
    parser.add_argument("--access-key", metavar="KEY",
                        help=f"root access key (default {DEFAULT_ACCESS_KEY}; env {ENV['access_key']})")
    parser.add_argument("--secret-key", metavar="SECRET",
                        help="root secret key (default: generated once and kept on the drives; "
                        f"env {ENV['secret_key']})")
    parser.add_argument("--region", metavar="REGION",
                        help=f"region to sign for (default {DEFAULT_REGION}; env {ENV['region']})")
    parser.add_argument("--domain", dest="domains", action="append", default=[], metavar="DOMAIN",
                        help="serve virtual-host style requests for <bucket>.DOMAIN "
                        f"(repeatable; env {ENV['domains']}, comma-separated)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="serving processes sharing the port (default: one per CPU; "
                        f"env {ENV['workers']})")
    parser.add_argument("--io-threads", type=int, metavar="N",
                        help=f"I/O threads per drive (default 4; env {ENV['io_threads']})")
    parser.add_argument("--drive-timeout", type=float, metavar="SECONDS",
                        help="a drive call slower than this marks the drive offline "
                        f"(default 30; env {ENV['drive_timeout']})")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help=f"default info; env {ENV['log_level']}")
    parser.add_argument("--heal-scan", action=argparse.BooleanOptionalAction, default=None,
                        help="scan every object in the background and heal what is damaged "
                        f"(default on; env {ENV['heal_scan']}=on|off; pace: "
                        "LITEIO_HEAL_SCAN_RATE objects/s, LITEIO_HEAL_SCAN_SLEEP_FACTOR, "
                        "LITEIO_HEAL_SCAN_CYCLE_PAUSE seconds, LITEIO_HEAL_SCAN_DEEP)")


def _env(name: str) -> str | None:
    value = os.environ.get(ENV[name])
    return value if value not in (None, "") else None


def _switch(name: str, flag: bool | None, default: bool) -> bool:
    if flag is not None:
        return flag
    raw = (_env(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _ON or raw in _OFF:
        return raw in _ON
    raise SettingsError(f"{ENV[name]} must be on or off, got {raw!r}")


def settings_from(args: argparse.Namespace) -> Settings:
    s = Settings()
    drives = list(args.drives) + list(args.drive_flags)
    if not drives and _env("drives"):
        drives = shlex.split(_env("drives") or "")
    if drives:
        s.drives = drives
    s.address = args.address or _env("address") or s.address
    try:
        s.port  # noqa: B018 - validates the address
    except (ValueError, IndexError):
        raise SettingsError(f"--address must be HOST:PORT, got {s.address!r}") from None
    for name, cast in (("parity", int), ("set_size", int), ("io_threads", int),
                       ("drive_timeout", float), ("workers", int)):
        value = getattr(args, name)
        if value is None and _env(name) is not None:
            try:
                value = cast(_env(name) or "")
            except ValueError:
                raise SettingsError(f"{ENV[name]} must be a number") from None
        if value is not None:
            setattr(s, name, value)
    s.access_key = args.access_key or _env("access_key")
    s.secret_key = args.secret_key or _env("secret_key")
    s.region = args.region or _env("region") or s.region
    domains = list(args.domains) or [d for d in (_env("domains") or "").split(",") if d]
    s.domains = tuple(d.strip().lower() for d in domains if d.strip())
    s.log_level = args.log_level or _env("log_level") or s.log_level
    s.heal_scan = _switch("heal_scan", getattr(args, "heal_scan", None), s.heal_scan)
    if s.workers < 1:
        raise SettingsError("--workers must be at least 1")
    if s.secret_key is not None and len(s.secret_key) < 8:
        raise SettingsError("the secret key must be at least 8 characters")
    return s
