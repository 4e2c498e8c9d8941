"""PutObject, CopyObject, GetObject, HeadObject, DeleteObject, DeleteObjects."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, unquote

from liteio.erasure.ranges import resolve_range
from liteio.object import errors as oerr
from liteio.object.types import ObjectInfo, PutOptions
from liteio.s3.checksum_headers import plan_from_headers, stored_checksum_headers
from liteio.s3.context import Request
from liteio.s3.errors import S3Error, to_s3_error
from liteio.s3.handlers.common import send_empty, send_xml, version_param
from liteio.s3.handlers.tagging import tagging_from_header
from liteio.s3.http import (
    check_copy_conditions,
    check_read_conditions,
    content_md5,
    iso8601,
    metadata_from_headers,
    object_headers,
    parse_range,
    write_precondition,
)
from liteio.s3.xmlio import child_text, children, element, parse

MAX_PUT = 5 << 30
MAX_DELETE_KEYS = 1000
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


async def _versioned(request: Request) -> bool:
    meta = await request.layer.bucket_metadata(request.bucket)
    return bool(meta.versioning)


def _version_header(request: Request, info: ObjectInfo, versioned: bool) -> None:
    if versioned or info.version_id != "null":
        request.resp.set_header("x-amz-version-id", info.version_id)


async def put_or_copy_object(request: Request) -> None:
    if "x-amz-copy-source" in request.headers:
        await copy_object(request)
        return
    size = request.content_length()
    if size > MAX_PUT:
        raise S3Error("EntityTooLarge")
    metadata = metadata_from_headers(request.headers)
    tags = request.headers.get("x-amz-tagging")
    if tags is not None:
        metadata["X-Amz-Tagging"] = tagging_from_header(tags)
    plan = plan_from_headers(request.headers)
    assert request.auth is not None
    reader = request.auth.body(request.req.stream)
    opts = PutOptions(metadata=metadata, content_md5=content_md5(request.headers.get("content-md5")),
                      precondition=write_precondition(request.headers))
    if plan is not None:
        opts.hashers = [plan.hasher]
        verify = plan.verifier(lambda: reader.trailers)

        def verify_and_record() -> None:
            verify()
            opts.checksum_blob = plan.blob()  # known only once the body is hashed

        opts.verify_body = verify_and_record
    info = await request.layer.put_object(request.bucket, request.key, aiter(reader), size, opts)
    if plan is not None:
        request.resp.set_header(plan.header, plan.value_b64())
    request.resp.set_header("ETag", f'"{info.etag}"')
    _version_header(request, info, await _versioned(request))
    send_empty(request)


def copy_source(request: Request) -> tuple[str, str, str | None]:
    raw = request.headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    path = unquote(path).lstrip("/")
    if "/" not in path:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey")
    bucket, key = path.split("/", 1)
    version = dict(parse_qsl(query)).get("versionId") if query else None
    return bucket, key, version


async def copy_object(request: Request) -> None:
    src_bucket, src_key, src_version = copy_source(request)
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.")
    tag_directive = request.headers.get("x-amz-tagging-directive", "COPY").upper()
    source = await request.layer.get_object_info(src_bucket, src_key, src_version)
    check_copy_conditions(request.headers, source)
    same = (src_bucket, src_key) == (request.bucket, request.key)
    if same and directive == "COPY" and tag_directive == "COPY" and "x-amz-storage-class" not in request.headers:
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes.")
    if source.size > MAX_PUT:
        raise S3Error("InvalidRequest", "The specified copy source is larger than the maximum "
                      "allowable size for a copy source: 5368709120")
    opts = PutOptions(precondition=write_precondition(request.headers))
    if directive == "REPLACE":
        opts.metadata = metadata_from_headers(request.headers)
        if source.tagging and tag_directive == "COPY":
            opts.metadata["X-Amz-Tagging"] = source.tagging
    if tag_directive == "REPLACE":
        tags = request.headers.get("x-amz-tagging", "")
        if directive == "COPY":
            opts.metadata = {k: v for k, v in source.metadata.items() if k != "X-Amz-Tagging"}
            directive = "REPLACE"
        opts.metadata.pop("X-Amz-Tagging", None)
        if tags:
            opts.metadata["X-Amz-Tagging"] = tagging_from_header(tags)
    info = await request.layer.copy_object(
        src_bucket, src_key, source.version_id if src_version else None,
        request.bucket, request.key, opts, replace_metadata=directive == "REPLACE")
    if src_version:
        request.resp.set_header("x-amz-copy-source-version-id", source.version_id)
    _version_header(request, info, await _versioned(request))
    send_xml(request, "CopyObjectResult",
             element("LastModified", iso8601(info.mod_time_ns)) + element("ETag", f'"{info.etag}"'))


def _part_range(request: Request, info: ObjectInfo) -> tuple[int, int] | None:
    raw = request.query.get("partNumber")
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError:
        raise S3Error("InvalidArgument", "Part number must be an integer") from None
    if not 1 <= number <= 10000:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000")
    if "range" in request.headers:
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    parts = info.parts or []
    if len(parts) <= 1 and number == 1:
        return 0, info.size
    offset = 0
    for part in parts:
        if part.number == number:
            request.resp.set_header("x-amz-mp-parts-count", str(len(parts)))
            return offset, part.size
        offset += part.size
    raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", status=416)


def _send_headers(request: Request, info: ObjectInfo, versioned: bool, whole: bool) -> None:
    for name, value in object_headers(info, versioned_bucket=versioned).items():
        request.resp.set_header(name, value)
    # A checksum describes the whole object, so ranged reads do not carry one (as S3).
    if whole and request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        for name, value in stored_checksum_headers(info.checksum_blob).items():
            request.resp.set_header(name, value)
    for param, header in RESPONSE_OVERRIDES.items():
        if param in request.query:
            request.resp.set_header(header, request.query[param])


def _select_range(request: Request, info: ObjectInfo) -> tuple[int, int]:
    part = _part_range(request, info)
    if part is not None:
        offset, length = part
        if length != info.size:
            request.resp.status = 206
            request.resp.set_header(
                "Content-Range", f"bytes {offset}-{offset + length - 1}/{info.size}")
        return offset, length
    spec = parse_range(request.headers.get("range"))
    if spec is None:
        return 0, info.size
    resolved = resolve_range(spec, info.size)
    if resolved is None:
        raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{info.size}"},
                      details={"RangeRequested": request.headers.get("range", ""),
                               "ActualObjectSize": str(info.size)})
    offset, length = resolved
    request.resp.status = 206
    request.resp.set_header("Content-Range", f"bytes {offset}-{offset + length - 1}/{info.size}")
    return offset, length


async def get_object(request: Request) -> None:
    versioned = await _versioned(request)
    reader = await request.layer.open_object(request.bucket, request.key, version_param(request))
    info = reader.info
    try:
        check_read_conditions(request.headers, info)
        request.resp.status = 200
        offset, length = _select_range(request, info)
        _send_headers(request, info, versioned, length == info.size)
    except BaseException:
        await reader.close()  # opened shard files are released now, not at collection
        raise
    request.resp.content_length = length
    if length == 0:
        await reader.close()
        request.resp.data = b""
        return
    request.resp.stream = reader.stream(offset, length)


async def head_object(request: Request) -> None:
    versioned = await _versioned(request)
    info = await request.layer.get_object_info(request.bucket, request.key, version_param(request))
    check_read_conditions(request.headers, info)
    request.resp.status = 200
    _offset, length = _select_range(request, info)
    _send_headers(request, info, versioned, length == info.size)
    request.resp.content_length = length
    request.resp.data = b""


async def delete_object(request: Request) -> None:
    result = await request.layer.delete_object(request.bucket, request.key, version_param(request))
    if result.delete_marker:
        request.resp.set_header("x-amz-delete-marker", "true")
    version = result.delete_marker_version_id or result.version_id
    if version:
        request.resp.set_header("x-amz-version-id", version)
    send_empty(request, 204)


async def delete_objects(request: Request) -> None:
    await request.layer.bucket_metadata(request.bucket)
    body = await request.read_small_body(2 << 20)
    expected_md5 = content_md5(request.headers.get("content-md5"))
    if expected_md5 is not None and hashlib.md5(body).digest() != expected_md5:
        raise S3Error("BadDigest")
    doc = parse(body, "Delete")
    quiet = (child_text(doc, "Quiet") or "false").lower() == "true"
    objects = children(doc, "Object")
    if len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML", "The request can contain a list of up to 1000 keys")
    out = []
    for node in objects:
        key = child_text(node, "Key")
        version_id = child_text(node, "VersionId") or None
        if not key:
            raise S3Error("MalformedXML", "Every Object needs a Key")
        out.append(await _delete_one(request, key, version_id, quiet))
    send_xml(request, "DeleteResult", "".join(out))


async def _delete_one(request: Request, key: str, version_id: str | None, quiet: bool) -> str:
    try:
        result = await request.layer.delete_object(request.bucket, key, version_id)
    except (oerr.ObjectError, S3Error) as exc:
        error = to_s3_error(exc)
        assert error is not None
        return ("<Error>" + element("Key", key) + (element("VersionId", version_id) if version_id else "")
                + element("Code", error.code) + element("Message", error.message) + "</Error>")
    if quiet:
        return ""
    body = element("Key", key)
    if version_id:
        body += element("VersionId", version_id)
    if result.delete_marker:
        body += element("DeleteMarker", "true")
        if result.delete_marker_version_id:
            body += element("DeleteMarkerVersionId", result.delete_marker_version_id)
    return f"<Deleted>{body}</Deleted>"
