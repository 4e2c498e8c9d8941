"""The run: start the servers, prepare objects, run every phase against each server in turn.

Phases run back to back per server (liteio, nginx, moto) so each comparison is
made minutes apart on the same noisy machine, not on different days.

    per size (4 KiB, 1 MiB):  prepare -> PUT -> GET -> STAT -> MIXED -> DELETE
    then:                     LIST (own bucket of --list-objects keys, one stream)
                              PUT 64 MiB (one stream)
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.load.generator import KINDS, PhaseResult, Plan, run_phase
from benchmarks.load.targets import LiteioServer, MotoServer, NginxServer, Server

KIB = 1024
MIB = 1 << 20
SIZES = {"4KiB": 4 * KIB, "1MiB": MIB}
PHASES = ("put", "get", "stat", "mixed", "delete", "list", "put64")
TARGETS = ("liteio", "nginx", "moto")
# moto runs the peer comparison only: 4 KiB mixed, 1 MiB GET and PUT.
MOTO_PHASES = {("4KiB", "mixed"), ("1MiB", "get"), ("1MiB", "put")}
# Presigned request lists are built for this rate at most (per size); a one-shot list (MIXED)
# that runs out ends its connection early and the phase is flagged.
MAX_RATE = {"4KiB": 16_000, "1MiB": 2_500, "64MiB": 100}
PREPARED_PER_CONN = {"4KiB": 256, "1MiB": 32}
PUT_BUDGET = 2 << 30  # unique keys per PUT phase at most this many bytes; then overwrites
LIST_OBJECT_SIZE = 64
PREPARE_LIMIT = 3600.0  # 100,000 LIST objects at a few hundred PUTs a second


@dataclass(slots=True)
class RunConfig:
    duration: float = 10.0
    connections: int = 8
    sizes: tuple[str, ...] = ("4KiB", "1MiB")
    phases: tuple[str, ...] = PHASES
    targets: tuple[str, ...] = TARGETS
    list_objects: int = 10_000
    workdir: Path | None = None
    keep: bool = False
    liteio_args: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Row:
    """One phase against one server, as reported."""

    phase: str
    size: str
    target: str
    ops_s: float
    mib_s: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_rss_mib: float
    seconds: float
    ops: int
    exhausted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    per_kind: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    server_cores: float = 0.0  # CPU seconds per second of the phase
    client_cores: float = 0.0


@dataclass(slots=True)
class RunResult:
    config: RunConfig
    rows: list[Row] = field(default_factory=list)
    startup_s: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    load_at_start: tuple[float, float, float] = field(default_factory=os.getloadavg)
    finished_at: float = 0.0

    def find(self, phase: str, size: str, target: str) -> Row | None:
        return next((r for r in self.rows
                     if (r.phase, r.size, r.target) == (phase, size, target)), None)


def to_row(phase: str, size: str, target: str, res: PhaseResult) -> Row:
    lat = np.concatenate([np.frombuffer(a.tobytes(), dtype=np.float64) for a in res.latencies])
    p50, p90, p99 = (np.percentile(lat, [50, 90, 99]) * 1000) if lat.size else (0.0, 0.0, 0.0)
    per_kind = {KINDS[k]: res.ops[k] / res.seconds for k in range(len(KINDS)) if res.ops[k]}
    return Row(phase, size, target, res.total_ops / res.seconds,
               sum(res.nbytes) / res.seconds / MIB, res.total_errors, float(p50), float(p90),
               float(p99), res.max_rss_kib / 1024, res.seconds, res.total_ops, res.exhausted,
               dict(res.statuses), list(res.samples), per_kind,
               server_cores=res.server_cpu_s / res.seconds,
               client_cores=res.client_cpu_s / res.seconds)


@contextmanager
def _interrupts_as_exceptions() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every server and temp dir is cleaned up."""
    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


class Harness:
    def __init__(self, config: RunConfig, log: Any = print) -> None:
        self.config = config
        self.log = log
        self.result = RunResult(config)
        self.servers: dict[str, Server] = {}
        self.workdir: Path | None = None

    # -- plumbing ----------------------------------------------------------------------

    def run(self) -> RunResult:
        with _interrupts_as_exceptions():
            base = self.config.workdir
            if base is not None:
                base.mkdir(parents=True, exist_ok=True)
            self.workdir = Path(tempfile.mkdtemp(prefix="liteio-load-", dir=base or "/var/tmp"))
            try:
                self._start_servers()
                self._run_phases()
            finally:
                self._cleanup()
        self.result.finished_at = time.time()
        return self.result

    def _cleanup(self) -> None:
        for name, server in list(self.servers.items()):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                self.log(f"stopping {name} failed: {exc!r}")
        self.servers.clear()
        if self.workdir is not None and not self.config.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _start_servers(self) -> None:
        assert self.workdir is not None
        wanted = self.config.targets
        if "liteio" in wanted:
            liteio = LiteioServer(self.workdir, extra_args=self.config.liteio_args)
            self.servers["liteio"] = liteio
            # Fresh drives (formats them), then a restart on the formatted drives.
            self.result.startup_s["liteio (fresh drives)"] = liteio.start()
            liteio.stop()
            self.result.startup_s["liteio (restart)"] = liteio.start()
        if "nginx" in wanted:
            if NginxServer.binary() is None:
                self.result.skipped["nginx"] = "nginx is not installed (make bench-server installs it)"
            else:
                nginx = NginxServer(self.workdir)
                self.servers["nginx"] = nginx
                self.result.startup_s["nginx"] = nginx.start()
                if not NginxServer.has_dav():
                    self.result.skipped["nginx PUT/DELETE"] = "nginx lacks the dav module"
        if "moto" in wanted:
            if (why := MotoServer.missing()) is not None:
                self.result.skipped["moto"] = why
            else:
                moto = MotoServer(self.workdir)
                self.servers["moto"] = moto
                self.result.startup_s["moto"] = moto.start()
        for name, seconds in self.result.startup_s.items():
            self.log(f"start-up {name}: {seconds * 1000:.0f} ms")

    def _runs(self, size: str, phase: str) -> list[tuple[str, Server]]:
        out = []
        for name, server in self.servers.items():
            if name == "moto" and (size, phase) not in MOTO_PHASES:
                continue
            if (name == "nginx" and phase in ("put", "delete", "mixed", "put64")
                    and "nginx PUT/DELETE" in self.result.skipped):
                continue
            if name == "nginx" and phase == "list":
                continue  # no S3 listing to compare with
            out.append((name, server))
        return out

    def _timed(self, phase: str, size: str, name: str, server: Server, plans: list[Plan],
               seconds: float | None = None) -> tuple[Row, PhaseResult]:
        res = run_phase(server.endpoint, plans, seconds or self.config.duration, server.rss_kib,
                        server.cpu_s)
        row = to_row(phase, size, name, res)
        self.result.rows.append(row)
        errors = f" errors={row.errors} {row.statuses} {row.samples[:2]}" if row.errors else ""
        self.log(f"{phase:6s} {size:6s} {name:6s} {row.ops_s:10.1f} ops/s {row.mib_s:9.1f} MiB/s "
                 f"p50={row.p50_ms:.2f}ms p99={row.p99_ms:.2f}ms rss={row.max_rss_mib:.0f}MiB "
                 f"cpu server={row.server_cores:.2f} client={row.client_cores:.2f}"
                 f"{' exhausted=' + str(row.exhausted) if row.exhausted else ''}{errors}")
        return row, res

    def _prepare(self, name: str, server: Server, plans: list[Plan]) -> PhaseResult:
        started = time.perf_counter()
        res = run_phase(server.endpoint, plans, PREPARE_LIMIT)
        if res.total_errors or res.exhausted != len(plans):
            raise RuntimeError(f"{name}: preparing objects failed: {res.statuses} {res.samples}")
        self.log(f"prepared {res.total_ops} objects on {name} in "
                 f"{time.perf_counter() - started:.1f}s")
        return res

    # -- phases ------------------------------------------------------------------------

    def _run_phases(self) -> None:
        phases = self.config.phases
        for size in self.config.sizes:
            if any(p in phases for p in ("put", "get", "stat", "mixed", "delete")):
                self._run_size(size)
        if "list" in phases:
            self._run_list()
        if "put64" in phases:
            self._run_put64()

    @staticmethod
    def _put_count(size: str, nbytes: int, duration: float, conns: int) -> int:
        """Keys per connection for a PUT phase: unique up to the rate and byte caps."""
        unique = min(MAX_RATE[size] * duration, PUT_BUDGET // nbytes)
        return max(2, math.ceil(unique / conns))

    def _run_size(self, size: str) -> None:
        conns = self.config.connections
        nbytes = SIZES[size]
        phases = self.config.phases
        bucket = f"bench-{size.lower()}"
        per_conn = PREPARED_PER_CONN[size]
        prepared = [[f"{size}/obj/c{i:02d}/{n:07d}" for n in range(per_conn)] for i in range(conns)]
        everything = [k for keys in prepared for k in keys]
        needs_prepared = [p for p in ("get", "stat", "mixed") if p in phases]
        for name, server in self.servers.items():
            server.create_bucket(bucket)
            if any(name in dict(self._runs(size, p)) for p in needs_prepared):
                self._prepare(name, server, [
                    Plan("put", bucket, nbytes, prefix=f"{size}/obj/c{i:02d}/", count=per_conn,
                         cyclic=False, seed=i) for i in range(conns)])
        put_count = self._put_count(size, nbytes, self.config.duration, conns)
        written: dict[str, list[int]] = {}
        if "put" in phases:
            for name, server in self._runs(size, "put"):
                plans = [Plan("put", bucket, nbytes, prefix=f"{size}/put/c{i:02d}/",
                              count=put_count, seed=i) for i in range(conns)]
                _, res = self._timed("PUT", size, name, server, plans)
                written[name] = [min(put_count, n) for n in res.puts_done]
        for phase, label in (("get", "GET"), ("stat", "STAT")):
            if phase in phases:
                for name, server in self._runs(size, phase):
                    plans = [Plan(phase, bucket, nbytes, keys=everything,
                                  offset=i * len(everything) // conns) for i in range(conns)]
                    self._timed(label, size, name, server, plans)
        if "mixed" in phases:
            for name, server in self._runs(size, "mixed"):
                # Connections do not share the load evenly; unsigned lists cost next to nothing.
                spare = 2 if server.signed else 4
                mixed_count = math.ceil(spare * MAX_RATE[size] * self.config.duration / conns)
                plans = [Plan("mixed", bucket, nbytes, keys=prepared[i],
                              prefix=f"{size}/mixed/c{i:02d}/", count=mixed_count, seed=100 + i,
                              cyclic=False) for i in range(conns)]
                self._timed("MIXED", size, name, server, plans)
        if "delete" in phases:
            for name, server in self._runs(size, "delete"):
                if name not in written:
                    # No PUT phase ran: make something to delete first (untimed).
                    res = self._prepare(name, server, [
                        Plan("put", bucket, nbytes, prefix=f"{size}/put/c{i:02d}/",
                             count=per_conn * 4, cyclic=False, seed=i) for i in range(conns)])
                    written[name] = res.puts_done
                plans = [Plan("delete", bucket, nbytes, cyclic=False,
                              keys=[f"{size}/put/c{i:02d}/{n:07d}" for n in range(written[name][i])])
                         for i in range(conns)]
                self._timed("DELETE", size, name, server, plans)

    def _run_list(self) -> None:
        if "liteio" not in self.servers:
            return
        conns = self.config.connections
        total = self.config.list_objects
        bucket = "bench-list"
        per_conn = [total // conns + (1 if i < total % conns else 0) for i in range(conns)]
        keys = sorted(f"obj/c{i:02d}/{n:07d}" for i in range(conns) for n in range(per_conn[i]))
        markers = [""] + [keys[p * 1000 - 1] for p in range(1, math.ceil(total / 1000))]
        expect = [min(1000, total - p * 1000) for p in range(len(markers))]
        for name, server in self._runs("list", "list"):
            server.create_bucket(bucket)
            self._prepare(name, server, [
                Plan("put", bucket, LIST_OBJECT_SIZE, prefix=f"obj/c{i:02d}/", count=per_conn[i],
                     cyclic=False, seed=i) for i in range(conns)])
            row, _ = self._timed("LIST", f"{total}", name, server,
                              [Plan("list", bucket, keys=markers, expect=expect)])
            row.extra["keys_s"] = row.ops_s * total / len(markers)
            row.extra["objects"] = total

    def _run_put64(self) -> None:
        nbytes = 64 * MIB
        count = self._put_count("64MiB", nbytes, self.config.duration, 1)
        for name, server in self._runs("64MiB", "put64"):
            server.create_bucket("bench-64mib")
            self._timed("PUT", "64MiB", name, server, [
                Plan("put", "bench-64mib", nbytes, prefix="64MiB/put/c00/", count=count)])
