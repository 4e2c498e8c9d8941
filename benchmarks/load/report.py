"""The markdown report: the issue's targets with pass/fail, then every phase beside nginx and moto."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.load.harness import Row, RunResult

PHASE_ORDER = ("PUT", "GET", "STAT", "MIXED", "DELETE")
SIZE_TITLES = {"4KiB": "4 KiB objects", "1MiB": "1 MiB objects"}


@dataclass(slots=True)
class Target:
    name: str
    measured: str
    passed: bool | None  # None: not measured in this run


def machine_facts(load_at_start: tuple[float, float, float] | None = None) -> list[str]:
    facts = [f"nproc: {os.cpu_count()} (`nproc` says {_run(['nproc']) or '?'})"]
    lscpu = _run(["lscpu"])
    wanted = ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor", "L3 cache")
    for line in lscpu.splitlines():
        name = line.split(":", 1)[0].strip()
        if name in wanted:
            facts.append(f"{name}: {line.split(':', 1)[1].strip()}")
    facts.append(f"kernel: {platform.release()}; Python {platform.python_version()}")
    nginx = _run(["nginx", "-v"], stderr=True).strip()
    if nginx:
        facts.append(f"nginx: {nginx.split(':', 1)[-1].strip()}")
    try:
        import moto

        facts.append(f"moto: {moto.__version__}")
    except ImportError:
        pass
    if load_at_start is not None:
        facts.append("load average (1/5/15 min) at the start: "
                      + " ".join(f"{v:.2f}" for v in load_at_start))
    try:
        load = os.getloadavg()
        facts.append("load average at the end: " + " ".join(f"{v:.2f}" for v in load))
    except OSError:
        pass
    return facts


def _run(cmd: list[str], stderr: bool = False) -> str:
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stderr if stderr else out.stdout.strip()


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def evaluate(result: RunResult) -> list[Target]:
    """The issue's targets, each against this run's figures."""
    out: list[Target] = []

    def add(name: str, row: Row | None, figure: Callable[[Row], float], unit: str,
            ok: Callable[[Row], bool]) -> None:
        if row is None:
            out.append(Target(name, "not run", None))
            return
        errors = f", {row.errors} errors" if row.errors else ""
        out.append(Target(name, f"{_num(figure(row))} {unit}{errors}",
                          ok(row) and row.errors == 0))

    find = result.find
    add("warp mix 4 KiB >= 3,000 ops/s, zero errors", find("MIXED", "4KiB", "liteio"),
        lambda r: r.ops_s, "ops/s", lambda r: r.ops_s >= 3000)
    add("GET 4 KiB >= 5,000 req/s", find("GET", "4KiB", "liteio"), lambda r: r.ops_s, "req/s",
        lambda r: r.ops_s >= 5000)
    add("HEAD 4 KiB >= 5,000 req/s", find("STAT", "4KiB", "liteio"), lambda r: r.ops_s, "req/s",
        lambda r: r.ops_s >= 5000)
    add("PUT 4 KiB (durable) >= 1,500 req/s", find("PUT", "4KiB", "liteio"), lambda r: r.ops_s,
        "req/s", lambda r: r.ops_s >= 1500)
    get_l, get_n = find("GET", "1MiB", "liteio"), find("GET", "1MiB", "nginx")
    if get_l is not None and get_n is not None and get_n.mib_s > 0:
        ratio = get_l.mib_s / get_n.mib_s
        bound = ("; nginx was held back by the client, "
                 f"{get_n.client_cores:.2f} cores" if get_n.client_cores >= 0.8 else "")
        out.append(Target("GET 1 MiB >= 30% of nginx",
                          f"{ratio:.1%} ({_num(get_l.mib_s)} of {_num(get_n.mib_s)} MiB/s{bound})",
                          ratio >= 0.30 and get_l.errors == 0))
    else:
        out.append(Target("GET 1 MiB >= 30% of nginx", "not run", None))
    add("PUT 1 MiB >= 600 MiB/s", find("PUT", "1MiB", "liteio"), lambda r: r.mib_s, "MiB/s",
        lambda r: r.mib_s >= 600)
    add("PUT 64 MiB, one stream >= 400 MiB/s", find("PUT", "64MiB", "liteio"),
        lambda r: r.mib_s, "MiB/s", lambda r: r.mib_s >= 400)
    listing = next((r for r in result.rows if r.phase == "LIST" and r.target == "liteio"), None)
    scale = ""
    if listing is not None and listing.extra.get("objects", 0) != 100_000:
        scale = f" (of {_num(listing.extra['objects'])} objects, not 100,000)"
    add("ListObjectsV2 1,000-key page p50 <= 50 ms" + scale, listing, lambda r: r.p50_ms,
        "ms p50", lambda r: r.p50_ms <= 50)
    add("ListObjectsV2 full walk >= 20,000 keys/s" + scale, listing,
        lambda r: r.extra["keys_s"], "keys/s", lambda r: r.extra["keys_s"] >= 20_000)
    liteio_rows = [r for r in result.rows if r.target == "liteio"]
    if liteio_rows:
        rss = max(r.max_rss_mib for r in liteio_rows)
        out.append(Target("RSS <= 512 MiB (max over all phases)", f"{_num(rss)} MiB", rss <= 512))
    starts = {k: v for k, v in result.startup_s.items() if k.startswith("liteio")}
    if starts:
        worst = max(starts.values())
        shown = ", ".join(f"{k.split('(')[1].rstrip(')')} {v:.2f} s" for k, v in starts.items())
        out.append(Target("start-up to first answer <= 2 s", shown, worst <= 2.0))
    errors = sum(r.errors for r in liteio_rows)
    out.append(Target("zero errors in every liteio phase", f"{errors} errors",
                      errors == 0 if liteio_rows else None))
    return out


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "**FAIL**", None: "n/a"}[passed]


def _phase_table(rows: list[Row], title: str, extra_col: str | None = None) -> list[str]:
    lines = [f"### {title}", "",
             ("| phase | server | ops/s | MiB/s | errors | p50 ms | p90 ms | p99 ms | max RSS MiB "
             "| CPU server/client | liteio/nginx |"),
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        nginx = next((r for r in rows if r.phase == row.phase and r.target == "nginx"), None)
        ratio = ""
        if row.target == "liteio" and nginx is not None and nginx.ops_s:
            ratio = f"{row.ops_s / nginx.ops_s:.3f}"
        flags = " (ran out)" if row.exhausted and row.phase == "MIXED" else ""
        lines.append(
            f"| {row.phase}{flags} | {row.target} | {_num(row.ops_s)} | {_num(row.mib_s, 1)} "
            f"| {row.errors} | {_ms(row.p50_ms)} | {_ms(row.p90_ms)} | {_ms(row.p99_ms)} "
            f"| {_num(row.max_rss_mib)} | {row.server_cores:.2f} / {row.client_cores:.2f} "
            f"| {ratio} |")
    return lines + [""]


def render(result: RunResult, command: str) -> str:
    cfg = result.config
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result.started_at))
    minutes = (result.finished_at - result.started_at) / 60
    lines = [
        "# liteio server under load, beside nginx and moto",
        "",
        f"Measured {when} ({minutes:.1f} min) with:",
        "",
        "```sh",
        command,
        "```",
        "",
        (f"{cfg.connections} connections (one process each, HTTP/1.1 keep-alive, one request in "
        f"flight per connection), {cfg.duration:g} s per timed phase. liteio runs `liteio "
        "server` with its defaults (4 drive folders, EC 2+2, access log at info) and checks a "
        "SigV4 presigned URL on every request (all signed before the phase). nginx serves the "
        "same keys as files from the same disk (`sendfile`, 2 workers, access log off; PUT and "
        "DELETE through the dav module, which does not fsync). moto is `python -m moto.server` "
        "(objects in memory). Client and servers share the machine."),
        "",
        "## Machine",
        "",
        *[f"- {fact}" for fact in machine_facts(result.load_at_start)],
        "",
        "## Targets (from the issues)",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        *[f"| {t.name} | {t.measured} | {_verdict(t.passed)} |" for t in evaluate(result)],
        "",
        "## Phases",
        "",
    ]
    sizes = [s for s in ("4KiB", "1MiB", "64MiB") if any(r.size == s for r in result.rows)]
    for size in sizes:
        rows = [r for r in result.rows if r.size == size]
        rows.sort(key=lambda r: (PHASE_ORDER.index(r.phase) if r.phase in PHASE_ORDER else 99,
                                 ("liteio", "nginx", "moto").index(r.target)))
        title = SIZE_TITLES.get(size, "64 MiB objects, one stream")
        lines += _phase_table(rows, title)
    lists = [r for r in result.rows if r.phase == "LIST"]
    if lists:
        lines += ["### ListObjectsV2, 1,000-key pages, one stream walking the bucket", "",
                  ("| objects | server | pages/s | keys/s | errors | p50 ms | p90 ms | p99 ms "
                  "| max RSS MiB |"),
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in lists:
            lines.append(f"| {_num(r.extra['objects'])} | {r.target} | {_num(r.ops_s, 1)} "
                         f"| {_num(r.extra['keys_s'])} | {r.errors} | {_ms(r.p50_ms)} "
                         f"| {_ms(r.p90_ms)} | {_ms(r.p99_ms)} | {_num(r.max_rss_mib)} |")
        lines.append("")
    mixed = [r for r in result.rows if r.phase == "MIXED"]
    if mixed:
        lines += ["MIXED is warp's mix: 45% GET, 30% HEAD, 15% PUT, 10% DELETE, per kind:", ""]
        for r in mixed:
            kinds = ", ".join(f"{k} {_num(v)}/s" for k, v in r.per_kind.items())
            lines.append(f"- {r.size} {r.target}: {kinds}")
        lines.append("")
    lines += ["## Start-up (spawn to first answered request)", "",
              "| server | seconds |", "| --- | ---: |",
              *[f"| {k} | {v:.2f} |" for k, v in result.startup_s.items()], ""]
    errors = [r for r in result.rows if r.errors]
    if errors:
        lines += ["## Errors", ""]
        for r in errors:
            lines.append(f"- {r.phase} {r.size} {r.target}: {r.statuses}; "
                         + "; ".join(f"`{s[:200]}`" for s in r.samples[:3]))
        lines.append("")
    if result.skipped:
        lines += ["## Not measured", "", *[f"- {k}: {v}" for k, v in result.skipped.items()], ""]
    lines += [
        "## How to read it",
        "",
        ("- ops/s counts 2xx answers only; every other status, short body or short listing page "
        "is an error. MiB/s counts object bytes sent (PUT) or received (GET)."),
        ("- Latency is per request, measured at the client, all request kinds of the phase "
        "together."),
        ("- PUT phases write fresh keys up to 2 GiB per phase, then overwrite them in turn; DELETE "
        "removes the keys the PUT phase wrote and ends early when they run out."),
        ("- LIST pages are walked with `start-after` (the previous page's last key), so every "
        "request is presigned before the phase; liteio maps a continuation token to the same "
        "marker. The issue's figure is for 100,000 objects: "
        "`python -m benchmarks.load --phases list --list-objects 100000`."),
        ("- \"(ran out)\": a connection used up its prebuilt request list before the phase's "
         "end and stopped, so the figure undercounts (it is taken over the whole phase, or over "
         "the time the lists lasted when every connection ran out)."),
        ("- CPU server/client: cores busy on average during the phase (CPU seconds per second), "
        "the server's process tree and the load generator's processes; the machine has "
        f"{os.cpu_count()}."),
        ("- max RSS is the server's resident memory (nginx: master and workers together), "
        "sampled every 0.1 s during the phase."),
        "",
    ]
    return "\n".join(lines)
