"""The admin API: ``/_liteio/admin/v1/...`` on the S3 port, signed like any S3 request.

    POST /_liteio/admin/v1/heal?bucket=B&prefix=P&deep=true&dry-run=true&all=true
         heal now; the answer streams application/x-ndjson as the walk goes:
           {"type":"object", "bucket", "key", "state", "damaged_drives", ...}
                             each object not simply fine (with all=true: each one)
           {"type":"progress", "scanned", ...}          about once a second
           {"type":"summary", "scanned", "healed", ...} last
    GET  /_liteio/admin/v1/heal/status
         MRF queue, scanner, drives being refilled ("drives"), and every drive of
         every set online or not ("disks": set, position, endpoint, online) (JSON)

``_liteio`` can never name a bucket (no underscores in bucket names), so the
path cannot shadow S3. The sink has verified the signature already; only the
root user may call these. Errors are S3 error XML like everywhere else,
raised before the first byte of a stream; once streaming, a failure ends the
stream with a summary that carries the error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from liteio.heal.walk import HealWalk, ObjectOutcome
from liteio.object.layer import ObjectLayer
from liteio.object.names import check_bucket_name
from liteio.s3.context import Request
from liteio.s3.errors import S3Error

log = logging.getLogger("liteio.admin")

ADMIN_BUCKET = "_liteio"  # the first path segment of every admin route
API_PREFIX = "admin/v1/"
PROGRESS_EVERY = 1.0  # seconds between progress lines of a heal stream
NDJSON = "application/x-ndjson"

StatusFn = Callable[[], dict[str, Any]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
_END = object()


def is_admin(bucket: str) -> bool:
    return bucket == ADMIN_BUCKET


class AdminAPI:
    """``heal_status``: the merged status of every worker (see server/heal_status.py);
    None: this process's own. ``root``: the only access key allowed (None: any valid)."""

    def __init__(self, layer: ObjectLayer, *, heal_status: StatusFn | None = None,
                 root: str | None = None) -> None:
        self.layer = layer
        self.heal_status = heal_status
        self.root = root
        self.routes: dict[str, dict[str, Callable[[Request], Awaitable[None]]]] = {
            "heal": {"POST": self.heal},
            "heal/status": {"GET": self.status},
        }

    async def handle(self, request: Request) -> None:
        assert request.auth is not None
        if self.root is not None and request.auth.access_key != self.root:
            raise S3Error("AccessDenied", "The admin API is for the root user only")
        route = request.key[len(API_PREFIX):] if request.key.startswith(API_PREFIX) else None
        methods = self.routes.get(route.rstrip("/")) if route is not None else None
        if methods is None:
            raise S3Error("NotImplemented",
                          f"No admin API at {request.method} /{ADMIN_BUCKET}/{request.key}")
        handler = methods.get(request.method)
        if handler is None:
            raise S3Error("MethodNotAllowed")
        await handler(request)

    # -- heal status -------------------------------------------------------------------

    def local_status(self) -> dict[str, Any]:
        healing = self.layer.healing
        status = healing.status() if healing is not None else {"mrf": None, "scanner": None}
        return {**status, "workers": [{"index": 0, "age_seconds": 0.0,
                                       "mrf": status.get("mrf")}]}

    async def status(self, request: Request) -> None:
        status = (self.heal_status or self.local_status)()
        status["disks"] = [
            {"set": es.index, "position": position, "endpoint": drive.endpoint,
             "online": drive.is_online()}
            for es in self.layer.sets for position, drive in enumerate(es.drives)]
        request.resp.content_type = "application/json"
        request.resp.data = json.dumps(status, sort_keys=True, default=str).encode()

    # -- heal ----------------------------------------------------------------------------

    async def heal(self, request: Request) -> None:
        query = request.query
        bucket, prefix = query.get("bucket", ""), query.get("prefix", "")
        if prefix and not bucket:
            raise S3Error("InvalidArgument", "prefix needs a bucket",
                          details={"ArgumentName": "prefix", "ArgumentValue": prefix[:256]})
        if bucket:
            check_bucket_name(bucket)
            await self.layer.bucket_metadata(bucket)  # NoSuchBucket before anything streams
        every = _flag(query, "all")
        walk = HealWalk(self.layer, bucket, prefix, deep=_flag(query, "deep"),
                        dry_run=_flag(query, "dry-run"))
        # NOTE: Falcon offers no public hook for a client hanging up on a streamed
        # response (sends after that are silently dropped), so the stream watches the
        # ASGI receive channel itself; without it the walk would run on to the end.
        receive: Receive | None = getattr(request.req, "_receive", None)
        request.resp.status = 200
        request.resp.content_type = NDJSON
        request.resp.set_header("Cache-Control", "no-store")
        request.resp.stream = heal_stream(walk, every, receive, request.request_id)


async def heal_stream(walk: HealWalk, every: bool, receive: Receive | None,
                      request_id: str = "-") -> AsyncIterator[bytes]:
    """Run ``walk``; yield its NDJSON lines, a progress line each ``PROGRESS_EVERY``
    seconds, then the summary. A client that hangs up stops the walk (after the object
    in hand); so does closing this generator."""
    lines: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)

    async def on_object(outcome: ObjectOutcome) -> None:
        await lines.put(outcome.to_dict())

    async def produce() -> None:
        try:
            await walk.run(on_object, every)
        finally:
            await lines.put(_END)

    producer = asyncio.create_task(produce(), name="liteio-admin-heal")
    gone = asyncio.create_task(_hang_up(receive)) if receive is not None else None
    client_gone = False
    due = time.monotonic() + PROGRESS_EVERY
    try:
        while True:
            if gone is not None and gone.done() and not client_gone:
                client_gone = True  # from here on: no more lines, just wind down
                walk.stop()
            try:
                line = await asyncio.wait_for(lines.get(), max(0.0, due - time.monotonic()))
            except TimeoutError:
                line = None
            if line is _END:
                break
            if line is not None and not client_gone:
                yield _encode(line)
            if time.monotonic() >= due:
                due = time.monotonic() + PROGRESS_EVERY
                if not client_gone:
                    yield _encode(walk.progress())
        if not client_gone:
            yield _encode(walk.summary())
    finally:
        walk.stop()
        try:
            while not producer.done():  # it finishes the object in hand; never block its puts
                while not lines.empty():
                    lines.get_nowait()
                await asyncio.wait({producer}, timeout=0.05)
        except asyncio.CancelledError:  # the server is going down: do not wait
            producer.cancel()
            raise
        if gone is not None:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)
        log.info("event=admin_heal request_id=%s %s%s", request_id, walk.log_line(),
                 " client=gone" if client_gone else "")


async def _hang_up(receive: Receive) -> None:
    """Returns once the client is gone (the request body, if any, is discarded)."""
    while True:
        event = await receive()
        if event.get("type") == "http.disconnect":
            return


def _encode(line: dict[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":"), default=str).encode() + b"\n"


def _flag(query: dict[str, str], name: str) -> bool:
    """``?deep``, ``?deep=true``/``1``/``yes``/``on`` -> True; ``false``/``0``/... -> False."""
    raw = query.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise S3Error("InvalidArgument", f"{name} must be true or false",
                  details={"ArgumentName": name, "ArgumentValue": raw[:256]})
