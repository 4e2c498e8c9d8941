"""The load generator: one process per connection, each replaying a prebuilt request list.

    parent                         worker (one per connection, forked)
    ------                         ------
    spawn workers  ------------->  build the request list (presign every URL)
                   <-------------  "ready"
    send (start, end) ---------->  connect, wait for start, replay until end
    sample server RSS              (or until a one-shot list runs out)
                   <-------------  counts, bytes, non-2xx, latencies

A blocking keep-alive socket per process is the cheapest way to keep one
request in flight per connection from Python (no event loop between the
syscalls), and the same code drives liteio, nginx and moto. Workers share the
machine with the server under test, as any client on the same host would.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import signal
import time
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from typing import Any
from urllib.parse import quote

from benchmarks.load.client import Connection, ProtocolError
from benchmarks.load.signer import Presigner

KINDS = ("PUT", "GET", "HEAD", "DELETE", "LIST")
PUT, GET, HEAD, DELETE, LIST = range(5)
CHECK_NONE, CHECK_LENGTH, CHECK_KEYS = range(3)
READY_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go and how they are authorised: presigned (S3) or plain paths (nginx)."""

    port: int
    signed: bool
    access: str = ""
    secret: str = ""
    region: str = "us-east-1"


@dataclass(slots=True)
class Plan:
    """What one connection sends; expanded into requests inside its worker.

    ``mode``: "put" (keys prefix+n, n < count), "get"/"stat"/"delete" (``keys``),
    "list" (``keys`` are start-after markers, ``expect`` keys per page),
    "mixed" (GET/HEAD/PUT/DELETE over ``keys`` and new keys prefix+n).
    ``cyclic`` plans restart when done; the others end the connection's run.
    """

    mode: str
    bucket: str
    size: int = 0
    keys: list[str] = field(default_factory=list)
    prefix: str = ""
    count: int = 0
    offset: int = 0
    cyclic: bool = True
    expect: list[int] = field(default_factory=list)
    seed: int = 0
    weights: tuple[int, int, int, int] = (45, 30, 15, 10)  # GET, HEAD, PUT, DELETE


@dataclass(slots=True)
class WorkerResult:
    ops: list[int]
    errors: list[int]
    nbytes: list[int]
    latencies: list[bytes]  # array('d') per kind, seconds
    statuses: dict[str, int]
    samples: list[str]
    exhausted: bool
    last_done: float
    puts_done: int
    cpu_s: float


@dataclass(slots=True)
class PhaseResult:
    ops: list[int]
    errors: list[int]
    nbytes: list[int]
    latencies: list[array]
    statuses: dict[str, int]
    samples: list[str]
    seconds: float
    exhausted: int
    max_rss_kib: int
    puts_done: list[int]
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def total_ops(self) -> int:
        return sum(self.ops)

    @property
    def total_errors(self) -> int:
        return sum(self.errors)


Op = tuple[int, bytes, "bytes | memoryview | None", bool, int, int]


def _body(size: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    block = rnd.randbytes(min(size, 1 << 20))
    return (block * (size // len(block) + 1))[:size] if size > len(block) else block


class RequestBuilder:
    """Request heads for one endpoint; S3 targets get a presigned URL per request."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.host = f"127.0.0.1:{endpoint.port}"
        self.signer = (Presigner(endpoint.access, endpoint.secret, self.host, endpoint.region)
                       if endpoint.signed else None)

    def head(self, method: str, path: str, params: dict[str, str] | None = None,
             length: int | None = None) -> bytes:
        if self.signer is not None:
            target = self.signer.target(method, path, params)
        else:
            target = quote(path, safe="/~")
            if params:
                target += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        extra = f"Content-Length: {length}\r\n" if length is not None else ""
        return f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n{extra}\r\n".encode()


def build_ops(endpoint: Endpoint, plan: Plan) -> list[Op]:
    rb = RequestBuilder(endpoint)
    b = "/" + plan.bucket + "/"
    body = _body(plan.size, plan.seed) if plan.mode in ("put", "mixed") else None
    ops: list[Op] = []
    if plan.mode == "put":
        for n in range(plan.count):
            ops.append((PUT, rb.head("PUT", f"{b}{plan.prefix}{n:07d}", length=plan.size), body,
                        False, CHECK_NONE, 0))
    elif plan.mode in ("get", "stat", "delete"):
        kind, method = {"get": (GET, "GET"), "stat": (HEAD, "HEAD"),
                        "delete": (DELETE, "DELETE")}[plan.mode]
        keys = plan.keys[plan.offset:] + plan.keys[:plan.offset]
        check = CHECK_LENGTH if kind == GET else CHECK_NONE
        for key in keys:
            ops.append((kind, rb.head(method, b + key), None, kind == HEAD, check, plan.size))
    elif plan.mode == "list":
        for marker, expect in zip(plan.keys, plan.expect, strict=True):
            params = {"list-type": "2", "max-keys": "1000"}
            if marker:
                params["start-after"] = marker
            ops.append((LIST, rb.head("GET", "/" + plan.bucket, params), None, False,
                        CHECK_KEYS, expect))
    elif plan.mode == "mixed":
        ops = _mixed_ops(rb, plan, b, body)
    else:
        raise ValueError(plan.mode)
    return ops


def _mixed_ops(rb: RequestBuilder, plan: Plan, b: str, body: bytes | None) -> list[Op]:
    """warp's mix, replayable: GET/HEAD hit live keys, DELETE removes the oldest, PUT adds.

    The live set is simulated while building, so no request meets a missing key.
    """
    rnd = random.Random(plan.seed)
    live = list(plan.keys)
    oldest = 0  # live[oldest:] are the keys that still exist
    turn = 0
    made = 0
    ops: list[Op] = []
    choices = rnd.choices((GET, HEAD, PUT, DELETE), weights=plan.weights, k=plan.count)
    for kind in choices:
        if kind == DELETE and len(live) - oldest < 2:
            kind = PUT
        if kind == PUT:
            key = f"{plan.prefix}{made:07d}"
            made += 1
            live.append(key)
            ops.append((PUT, rb.head("PUT", b + key, length=plan.size), body, False, CHECK_NONE, 0))
        elif kind == DELETE:
            ops.append((DELETE, rb.head("DELETE", b + live[oldest]), None, False, CHECK_NONE, 0))
            oldest += 1
        else:
            span = len(live) - oldest
            key = live[oldest + (turn * 7919) % span]
            turn += 1
            method = "GET" if kind == GET else "HEAD"
            ops.append((kind, rb.head(method, b + key), None, kind == HEAD,
                        CHECK_LENGTH if kind == GET else CHECK_NONE, plan.size))
    return ops


def _replay(conn: Connection, ops: list[Op], cyclic: bool, start: float, end: float) -> WorkerResult:
    ops_n = [0] * len(KINDS)
    errs = [0] * len(KINDS)
    nbytes = [0] * len(KINDS)
    lats = [array("d") for _ in KINDS]
    statuses: dict[str, int] = {}
    samples: list[str] = []
    clock = time.perf_counter
    exhausted = not ops
    puts = 0
    i = 0
    n = len(ops)
    last = start
    while clock() < start:
        pass
    cpu0 = time.process_time()
    while n:
        if i == n:
            if not cyclic:
                exhausted = True
                break
            i = 0
        kind, head, body, head_only, check, expect = ops[i]
        i += 1
        t0 = clock()
        if t0 >= end:
            break
        try:
            if conn.closed:
                conn.connect()
            conn.send(head, body)
            status, length, data = conn.read_response(head_only, check == CHECK_KEYS)
        except (OSError, ProtocolError, ValueError) as exc:
            conn.close()
            errs[kind] += 1
            name = type(exc).__name__
            statuses[name] = statuses.get(name, 0) + 1
            if len(samples) < 3:
                samples.append(f"{KINDS[kind]}: {exc!r}")
            time.sleep(0.01)
            continue
        t1 = clock()
        last = t1
        ok = 200 <= status < 300
        if ok and check == CHECK_LENGTH and length != expect:
            ok = False
            status = 0
            data = f"body of {length} bytes, expected {expect}".encode()
        elif ok and check == CHECK_KEYS:
            got = data.count(b"<Key>")
            if got != expect:
                ok = False
                status = 0
                data = f"page of {got} keys, expected {expect}".encode()
        if ok:
            ops_n[kind] += 1
            nbytes[kind] += length if kind != PUT else len(body or b"")
            lats[kind].append(t1 - t0)
            if kind == PUT:
                puts += 1
        else:
            errs[kind] += 1
            label = str(status) if status else "check"
            statuses[label] = statuses.get(label, 0) + 1
            if len(samples) < 3:
                samples.append(f"{KINDS[kind]} {status}: {data[:300]!r}")
        if conn.closed:
            conn.close()
    return WorkerResult(ops_n, errs, nbytes, [a.tobytes() for a in lats], statuses, samples,
                        exhausted, last, puts, time.process_time() - cpu0)


def _worker(endpoint: Endpoint, plan: Plan, pipe: Pipe) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)  # die quietly: the parent cleans up
    try:
        ops = build_ops(endpoint, plan)
        conn = Connection(endpoint.port)
        conn.connect()
        pipe.send("ready")
        start, end = pipe.recv()
        result = _replay(conn, ops, plan.cyclic, start, end)
        conn.close()
        pipe.send(result)
    except Exception:  # noqa: BLE001 - reported to the parent, which fails the phase
        pipe.send("error:\n" + traceback.format_exc())


def run_phase(endpoint: Endpoint, plans: list[Plan], seconds: float,
              sample_rss: Callable[[], int] | None = None,
              server_cpu: Callable[[], float] | None = None) -> PhaseResult:
    """Run one phase: every plan on its own connection, for ``seconds`` at most.

    ``sample_rss`` (KiB) is polled every 0.1 s while the phase runs; ``server_cpu``
    (seconds used so far) is read at its start and end.
    """
    ctx = mp.get_context("fork")
    procs: list[Any] = []
    pipes: list[Pipe] = []
    try:
        for plan in plans:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(endpoint, plan, theirs), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            pipes.append(mine)
        deadline = time.perf_counter() + READY_TIMEOUT
        for pipe, proc in zip(pipes, procs, strict=True):
            if not pipe.poll(max(0.0, deadline - time.perf_counter())):
                raise RuntimeError("a load worker did not get ready in time")
            msg = pipe.recv()
            if msg != "ready":
                raise RuntimeError(f"load worker failed: {msg}")
        start = time.perf_counter() + 0.05
        end = start + seconds
        cpu_before = cpu_after = server_cpu() if server_cpu else 0.0
        for pipe in pipes:
            pipe.send((start, end))
        results: dict[int, WorkerResult] = {}
        max_rss = sample_rss() if sample_rss else 0
        hard_stop = end + 120.0
        while len(results) < len(pipes):
            if time.perf_counter() > hard_stop:
                raise RuntimeError("load workers did not report back in time")
            ready = wait([p for i, p in enumerate(pipes) if i not in results], timeout=0.1)
            for done in ready:
                index = pipes.index(done)  # type: ignore[arg-type]
                msg = pipes[index].recv()
                if not isinstance(msg, WorkerResult):
                    raise RuntimeError(f"load worker failed: {msg}")  # noqa: TRY004 - not a type bug
                results[index] = msg
                if len(results) == len(pipes) and server_cpu is not None:
                    cpu_after = server_cpu()
            if sample_rss is not None and time.perf_counter() < end:
                max_rss = max(max_rss, sample_rss())
        for proc in procs:
            proc.join(10)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        for pipe in pipes:
            pipe.close()
    merged = _merge([results[i] for i in range(len(plans))], start, end, max_rss)
    if server_cpu is not None:
        merged.server_cpu_s = cpu_after - cpu_before
    return merged


def _merge(parts: list[WorkerResult], start: float, end: float, max_rss: int) -> PhaseResult:
    kinds = range(len(KINDS))
    lats = [array("d") for _ in kinds]
    statuses: dict[str, int] = {}
    samples: list[str] = []
    for part in parts:
        for k in kinds:
            lats[k].frombytes(part.latencies[k])
        for code, count in part.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
        samples += part.samples[: max(0, 5 - len(samples))]
    exhausted = sum(p.exhausted for p in parts)
    # A one-shot list that ran out early ends the phase at its last answer.
    finish = max(p.last_done for p in parts) if exhausted == len(parts) else end
    return PhaseResult(
        ops=[sum(p.ops[k] for p in parts) for k in kinds],
        errors=[sum(p.errors[k] for p in parts) for k in kinds],
        nbytes=[sum(p.nbytes[k] for p in parts) for k in kinds],
        latencies=lats, statuses=statuses, samples=samples,
        seconds=max(1e-9, min(finish, end) - start), exhausted=exhausted,
        max_rss_kib=max_rss, puts_done=[p.puts_done for p in parts],
        client_cpu_s=sum(p.cpu_s for p in parts),
    )
