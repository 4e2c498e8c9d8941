"""The S3 front door: a Falcon ASGI app whose single sink dispatches S3 verbs.

Every request: parse bucket/key (path or virtual-host style) -> verify SigV4
-> pick the handler from ``(level, method, sub-resource)`` -> handler calls
the object layer. Errors of any kind leave through :func:`_handle_error`, the
one place that renders S3 error XML; anything unexpected becomes a logged
``InternalError`` with the request id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import falcon
import falcon.asgi

from liteio.object.layer import ObjectLayer
from liteio.s3 import dispatch
from liteio.s3.admin import AdminAPI, is_admin
from liteio.s3.auth import AuthRequest, verify_request
from liteio.s3.context import Request, ServerConfig, new_request_id, parse_query, split_path
from liteio.s3.errors import S3Error, to_s3_error
from liteio.s3.http import NotModified, object_headers
from liteio.s3.xmlio import error_document

access_log = logging.getLogger("liteio.access")
error_log = logging.getLogger("liteio.error")
SERVER_NAME = "liteio"


class S3Sink:
    def __init__(self, layer: ObjectLayer, config: ServerConfig,
                 admin: AdminAPI | None = None) -> None:
        self.layer = layer
        self.config = config
        self.admin = admin or AdminAPI(layer)

    async def __call__(self, req: falcon.asgi.Request, resp: falcon.asgi.Response | None,
                       **_: Any) -> None:
        assert resp is not None  # Falcon passes None only to WebSocket sinks
        scope = req.scope
        request_id = req.context.request_id
        headers = {k.lower(): v for k, v in req.headers.items()}
        bucket, key = split_path(scope.get("raw_path") or req.path.encode(),
                                 headers.get("host", ""), self.config.domains)
        query = parse_query(scope.get("query_string", b""))
        request = Request(req, resp, self.layer, self.config, request_id, bucket, key, query,
                          headers)
        req.context.s3 = request
        auth_request = AuthRequest(req.method, scope.get("raw_path") or req.path.encode(),
                                   scope.get("query_string", b""), scope.get("headers", ()))
        request.auth = verify_request(auth_request, self.config.credentials, self.config.region,
                                      domains=self.config.domains)
        if request.auth.anonymous:
            raise S3Error("AccessDenied", "Anonymous access is not allowed")
        if is_admin(bucket):  # /_liteio/...: no bucket can have that name (s3/admin.py)
            await self.admin.handle(request)
            return
        handler = dispatch.find(request)
        await handler(request)


class RequestLifecycle:
    """Request ids, common headers and the one-line access log."""

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.request_id = new_request_id()
        req.context.started = time.perf_counter()

    async def process_response(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                               resource: object, req_succeeded: bool) -> None:
        request_id = getattr(req.context, "request_id", "")
        resp.set_header("x-amz-request-id", request_id)
        resp.set_header("x-amz-id-2", request_id)
        resp.set_header("Server", SERVER_NAME)
        started = getattr(req.context, "started", time.perf_counter())
        if resp.stream is not None:
            resp.stream = _counted(resp.stream, req, resp, started)  # type: ignore[arg-type]
        else:
            size = len(resp.data or b"") if resp.data is not None else 0
            _log(req, resp, size, started)


async def _counted(stream: AsyncIterator[bytes], req: falcon.asgi.Request,
                   resp: falcon.asgi.Response, started: float) -> AsyncIterator[bytes]:
    sent = 0
    outcome = "ok"
    try:
        async for chunk in stream:
            sent += len(chunk)
            yield chunk
    except BaseException as exc:
        # Headers are gone already: the connection is cut, which clients see as an error.
        outcome = f"aborted:{type(exc).__name__}"
        if not isinstance(exc, GeneratorExit):
            error_log.warning("request_id=%s stream failed: %r", req.context.request_id, exc)
        raise
    finally:
        _log(req, resp, sent, started, outcome)


def _log(req: falcon.asgi.Request, resp: falcon.asgi.Response, size: int, started: float,
         outcome: str = "ok") -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    access_log.info(
        "request_id=%s method=%s path=%s status=%s bytes=%d duration_ms=%.2f outcome=%s",
        getattr(req.context, "request_id", "-"), req.method, req.path, resp.status_code, size,
        duration_ms, outcome,
    )


async def _handle_error(req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: BaseException,
                        params: dict[str, Any], ws: Any = None) -> None:
    request_id = getattr(req.context, "request_id", "")
    request: Request | None = getattr(req.context, "s3", None)
    if isinstance(ex, NotModified):
        resp.status = 304
        versioned = False
        for name, value in object_headers(ex.info, versioned_bucket=versioned).items():
            if name in ("ETag", "Last-Modified"):
                resp.set_header(name, value)
        resp.data = b""
        return
    error = to_s3_error(ex)
    if error is None and isinstance(ex, falcon.HTTPError):
        error = S3Error("BadRequest" if ex.status_code < 500 else "InternalError",
                        ex.title or None, status=ex.status_code)
    if error is None:
        error_log.exception("request_id=%s unexpected error", request_id, exc_info=ex)
        error = S3Error("InternalError")
    resource = request.resource if request is not None else req.path
    resp.status = error.status
    for name, value in error.headers.items():
        resp.set_header(name, value)
    resp.stream = None
    if req.method == "HEAD":
        resp.data = b""
        return
    resp.content_type = "application/xml"
    resp.data = error_document(error.code, error.message, error.details, resource, request_id,
                               request_id)


def create_app(layer: ObjectLayer, config: ServerConfig,
               admin: AdminAPI | None = None) -> falcon.asgi.App:
    """``admin``: the admin API (default: this process's own heal status, any valid key)."""
    app = falcon.asgi.App(middleware=[RequestLifecycle()])
    app.req_options.strip_url_path_trailing_slash = False
    app.req_options.auto_parse_qs_csv = False
    app.add_sink(S3Sink(layer, config, admin), prefix="/")
    app.add_error_handler(Exception, _handle_error)
    return app
