"""``liteio admin``: talk to a running server's admin API.

    liteio admin [--endpoint URL] [--access-key K] [--secret-key S] [--region R]
        heal [BUCKET[/PREFIX]] [--deep] [--dry-run] [--json] [--verbose]
        heal-status [--json]

Exit codes: 0 all healthy (or healed; a dry run that found damage too), 3 some
objects failed to heal or are unrecoverable, 1 the request failed (bad
credentials, no such bucket, server unreachable, stream cut short), 2 usage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from liteio.server.config import DEFAULT_ADDRESS, DEFAULT_REGION

if TYPE_CHECKING:  # the client (and SigV4) load only when a command runs
    from liteio.admin.client import AdminClient

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DAMAGE = 0, 1, 2, 3

DESCRIPTION = f"""\
Ask a running liteio server to heal, or how healing goes. Requests are signed
with the root credentials (SigV4) and go to the S3 port, under /_liteio/admin/v1.

DEFAULTS
  --endpoint    LITEIO_ENDPOINT, else http://{DEFAULT_ADDRESS}
  --access-key  LITEIO_ACCESS_KEY, else AWS_ACCESS_KEY_ID
  --secret-key  LITEIO_SECRET_KEY, else AWS_SECRET_ACCESS_KEY
  --region      LITEIO_REGION, else AWS_REGION, else {DEFAULT_REGION}

EXIT CODES
  0 healthy or healed (a dry run that found damage too)   3 objects failed or unrecoverable
  1 request or connection error                             2 usage
"""


def add_admin_command(commands: Any) -> None:
    admin = commands.add_parser(
        "admin", help="operate a running server: heal now, healing status",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    admin.add_argument("--endpoint", metavar="URL", help="the server (default: see above)")
    admin.add_argument("--access-key", metavar="KEY")
    admin.add_argument("--secret-key", metavar="SECRET")
    admin.add_argument("--region", metavar="REGION")
    admin.set_defaults(handler=lambda args: _usage(admin))
    sub = admin.add_subparsers(dest="admin_command", metavar="COMMAND")

    heal = sub.add_parser(
        "heal", help="check every object (of a bucket, under a prefix) and repair it now",
        description="Walk the objects and heal each one on every drive of its set, "
        "printing each object that was damaged, healed or failed, then a summary. "
        "Without BUCKET: every bucket, and the bucket settings.")
    heal.add_argument("target", nargs="?", default="", metavar="BUCKET[/PREFIX]")
    heal.add_argument("--deep", action="store_true",
                      help="verify every shard frame (reads all data) instead of sizes only")
    heal.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    heal.add_argument("--json", action="store_true", help="print the NDJSON lines as received")
    heal.add_argument("--verbose", "-v", action="store_true",
                      help="a line for every object, healthy ones too")
    heal.set_defaults(handler=_heal)

    status = sub.add_parser("heal-status", help="MRF queue, scanner, drives being healed",
                            description="Background healing as the server sees it: the "
                            "MRF queue (summed over worker processes), the scanner, drives "
                            "being refilled, and which drives are online.")
    status.add_argument("--json", action="store_true", help="print the JSON answer")
    status.set_defaults(handler=_heal_status)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def client_from(args: argparse.Namespace) -> AdminClient:
    from liteio.admin.client import AdminClient

    endpoint = args.endpoint or _env("LITEIO_ENDPOINT") or f"http://{DEFAULT_ADDRESS}"
    if args.access_key or args.secret_key:
        access, secret = args.access_key, args.secret_key
    elif _env("LITEIO_ACCESS_KEY") and _env("LITEIO_SECRET_KEY"):
        access, secret = _env("LITEIO_ACCESS_KEY"), _env("LITEIO_SECRET_KEY")
    else:
        access, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise UsageError("credentials needed: --access-key/--secret-key, LITEIO_ACCESS_KEY/"
                         "LITEIO_SECRET_KEY or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                         "(the server prints them at start)")
    region = args.region or _env("LITEIO_REGION", "AWS_REGION") or DEFAULT_REGION
    return AdminClient(endpoint, access, secret, region)


class UsageError(Exception):
    pass


def _run(args: argparse.Namespace, body: Any) -> int:
    """Shared error handling: a message on stderr and an exit code, never a traceback."""
    from liteio.admin.client import AdminError

    try:
        return int(body(client_from(args)))
    except UsageError as exc:
        print(f"liteio admin: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AdminError as exc:
        print(f"liteio admin: the server refused: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        print(f"liteio admin: request to {_endpoint(args)} failed: {reason}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\nliteio admin: interrupted", file=sys.stderr)
        return 130


def _endpoint(args: argparse.Namespace) -> str:
    return str(args.endpoint or _env("LITEIO_ENDPOINT") or f"http://{DEFAULT_ADDRESS}")


# -- heal ------------------------------------------------------------------------------


def _heal(args: argparse.Namespace) -> int:
    bucket, _, prefix = str(args.target).partition("/")
    query = [(name, value) for name, value in (("bucket", bucket), ("prefix", prefix)) if value]
    query += [(name, "true") for name, on in
              (("deep", args.deep), ("dry-run", args.dry_run), ("all", args.verbose)) if on]

    def body(client: AdminClient) -> int:
        return show_heal(client.lines("POST", "heal", query), json_out=args.json)

    return _run(args, body)


def show_heal(lines: Iterable[dict[str, Any]], *, json_out: bool = False,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print a heal stream (human or as received) and return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    live = not json_out and err.isatty()
    unrecoverable: list[str] = []
    summary: dict[str, Any] | None = None
    for line in lines:
        kind = line.get("type")
        if json_out:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            out.flush()
        if kind == "object" and line.get("state") == "unrecoverable":
            unrecoverable.append(_name(line))
        if kind == "summary":
            summary = line
        if json_out:
            continue
        if kind == "progress" and live:
            err.write(f"\r  scanned {line.get('scanned', 0)}, healed {line.get('healed', 0)}, "
                      f"failed {line.get('failed', 0)}: {_name(line)[:60]}\033[K")
            err.flush()
        elif kind == "object":
            if live:
                err.write("\r\033[K")
            out.write(object_line(line) + "\n")
            out.flush()
    if live:
        err.write("\r\033[K")
    if summary is None:
        print("liteio admin: the heal stream ended without a summary (connection lost?)",
              file=err)
        return EXIT_ERROR
    if not json_out:
        out.write(summary_block(summary, unrecoverable))
    if summary.get("error"):
        print(f"liteio admin: the heal stopped early: {summary['error']}", file=err)
        return EXIT_ERROR
    if summary.get("failed") or summary.get("unrecoverable"):
        return EXIT_DAMAGE
    return EXIT_OK


def _name(line: dict[str, Any]) -> str:
    bucket, key = line.get("bucket") or "", line.get("key") or ""
    return f"{bucket}/{key}" if key else bucket


def object_line(line: dict[str, Any]) -> str:
    text = f"{line.get('state', '?'):<13} {_name(line)}"
    if line.get("damaged_drives"):
        text += f"  drives {','.join(str(d) for d in line['damaged_drives'])}"
    if line.get("bytes_rebuilt"):
        text += f"  rebuilt {human_bytes(int(line['bytes_rebuilt']))}"
    if line.get("unrecoverable_versions"):
        text += f"  versions {','.join(line['unrecoverable_versions'])}"
    for error in line.get("errors") or []:
        text += f"\n              {error}"
    return text


def summary_block(s: dict[str, Any], unrecoverable: list[str]) -> str:
    what = (f"{s.get('bucket')}/{s.get('prefix') or ''}" if s.get("bucket")
            else "every bucket")
    mode = " ".join(m for m, on in (("deep", s.get("deep")), ("dry run", s.get("dry_run"))) if on)
    rows = [
        ("objects scanned", str(s.get("scanned", 0))),
        ("healed", str(s.get("healed", 0))),
        ("damaged" + (" (would heal)" if s.get("dry_run") else ""), str(s.get("damaged", 0))),
        ("failed", str(s.get("failed", 0))),
        ("unrecoverable", str(s.get("unrecoverable", 0))
         + (": " + ", ".join(unrecoverable) if unrecoverable else "")),
        ("bytes rebuilt", human_bytes(int(s.get("bytes_rebuilt", 0)))),
        ("seconds", f"{float(s.get('seconds', 0.0)):.1f}"),
    ]
    if s.get("buckets_healed"):
        rows.insert(1, ("bucket dirs made", str(s["buckets_healed"])))
    if s.get("stopped"):
        rows.append(("note", "stopped before the end"))
    head = f"heal of {what}" + (f" ({mode})" if mode else "")
    return head + "\n" + "".join(f"  {name:<24}{value}\n" for name, value in rows)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _refill(d: dict[str, Any]) -> str:
    at = f"{d.get('bucket')}/{d.get('key')}" if d.get("bucket") else "-"
    return (f"set {d.get('set')} drive {d.get('position')}  {d.get('state', '?')}"
            f"{' (running)' if d.get('running') else ''}: scanned {d.get('scanned', 0)}, "
            f"healed {d.get('healed', 0)}, failed {d.get('failed', 0)}, rebuilt "
            f"{human_bytes(int(d.get('bytes_rebuilt', 0) or 0))}, at {at}  {d.get('endpoint', '')}")


# -- heal-status -----------------------------------------------------------------------


def _heal_status(args: argparse.Namespace) -> int:
    def body(client: AdminClient) -> int:
        status = client.json("GET", "heal/status")
        if args.json:
            print(json.dumps(status, sort_keys=True))  # one line, like the heal stream
        else:
            sys.stdout.write(status_text(status))
        return EXIT_OK

    return _run(args, body)


def status_text(status: dict[str, Any]) -> str:
    lines: list[str] = []
    mrf = status.get("mrf")
    workers = status.get("workers") or []
    if mrf is None:
        lines.append("MRF       off")
    else:
        lines.append(
            f"MRF       queued {mrf.get('queued', 0)}, in flight {mrf.get('in_flight', 0)}, "
            f"healed {mrf.get('healed', 0)}, clean {mrf.get('clean', 0)}, "
            f"failed {mrf.get('failed', 0)}, dropped {mrf.get('dropped', 0)}, "
            f"waiting for a drive {mrf.get('waiting_for_drive', 0)}, "
            f"rebuilt {human_bytes(int(mrf.get('bytes_rebuilt', 0)))}"
            + (f" ({len(workers)} workers)" if len(workers) > 1 else ""))
        if mrf.get("last_error"):
            lines.append(f"          last error: {mrf['last_error']}")
    scanner = status.get("scanner")
    if scanner is None:
        lines.append("scanner   off")
    else:
        at = f"{scanner.get('bucket')}/{scanner.get('key')}" if scanner.get("bucket") else "-"
        lines.append(
            f"scanner   {'running' if scanner.get('running') else 'resting'}, cycle "
            f"{scanner.get('cycle', 0)}, at {at}; scanned {scanner.get('scanned', 0)}, healed "
            f"{scanner.get('healed', 0)}, failed {scanner.get('failed', 0)}, last cycle "
            f"{float(scanner.get('last_cycle_seconds', 0.0)):.1f} s")
        if scanner.get("last_error"):
            lines.append(f"          last error: {scanner['last_error']}")
    drives = status.get("drives")
    if isinstance(drives, list) and drives:
        lines.append("refills   (emptied or replaced drives)")
        for entry in drives:
            lines.append("  " + _refill(entry) if isinstance(entry, dict) else f"  {entry}")
    elif drives is not None and not isinstance(drives, list):
        lines.append(f"healing drives: {json.dumps(drives, sort_keys=True)}")
    disks = status.get("disks") or []
    if disks:
        lines.append("drives")
        for d in disks:
            lines.append(f"  set {d.get('set')} drive {d.get('position')}  "
                         f"{'online ' if d.get('online') else 'OFFLINE'}  {d.get('endpoint')}")
    return "\n".join(lines) + "\n"
