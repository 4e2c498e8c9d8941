"""ListObjects (V1 and V2) and ListObjectVersions."""

from __future__ import annotations

import base64
import binascii

from liteio.object.listing import list_objects as list_page
from liteio.object.types import STORAGE_CLASS_KEY, ListObjectsResult, ObjectInfo
from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers.common import int_param, owner_xml, send_xml, url_encoder
from liteio.s3.http import iso8601
from liteio.s3.xmlio import element

MAX_KEYS = 1000


def _token_encode(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _token_decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from None


def _storage_class(info: ObjectInfo) -> str:
    return info.metadata.get(STORAGE_CLASS_KEY, "STANDARD")


def _contents(request: Request, info: ObjectInfo, enc, with_owner: bool) -> str:  # type: ignore[no-untyped-def]
    return (
        "<Contents>" + element("Key", enc(info.key))
        + element("LastModified", iso8601(info.mod_time_ns))
        + element("ETag", f'"{info.etag}"') + element("Size", info.size)
        + (owner_xml(request) if with_owner else "")
        + element("StorageClass", _storage_class(info)) + "</Contents>"
    )


def _prefixes(result: ListObjectsResult, enc) -> str:  # type: ignore[no-untyped-def]
    return "".join(
        "<CommonPrefixes>" + element("Prefix", enc(p)) + "</CommonPrefixes>"
        for p in result.prefixes
    )


async def list_objects(request: Request) -> None:
    await request.layer.bucket_metadata(request.bucket)
    q = request.query
    v2 = q.get("list-type") == "2"
    if "list-type" in q and not v2:
        raise S3Error("InvalidArgument", "Invalid list-type")
    enc = url_encoder(request)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    max_keys = int_param(request, "max-keys", MAX_KEYS, 0, MAX_KEYS)
    if v2:
        token = q.get("continuation-token")
        start_after = q.get("start-after", "")
        marker = _token_decode(token) if token else start_after
    else:
        marker = q.get("marker", "")
    result = await list_page(request.layer.sets, request.bucket, prefix=prefix,
                             delimiter=delimiter, marker=marker, max_keys=max_keys)
    body = element("Name", request.bucket) + element("Prefix", enc(prefix))
    if v2:
        if token:
            body += element("ContinuationToken", token)
        if q.get("start-after"):
            body += element("StartAfter", enc(q["start-after"]))
        body += element("KeyCount", len(result.objects) + len(result.prefixes))
    else:
        body += element("Marker", enc(marker))
    body += element("MaxKeys", max_keys)
    if delimiter:
        body += element("Delimiter", enc(delimiter))
    if "encoding-type" in q:
        body += element("EncodingType", "url")
    body += element("IsTruncated", "true" if result.is_truncated else "false")
    if result.is_truncated:
        if v2:
            body += element("NextContinuationToken", _token_encode(result.next_marker))
        elif delimiter:
            body += element("NextMarker", enc(result.next_marker))
    with_owner = not v2 or q.get("fetch-owner") == "true"
    body += "".join(_contents(request, o, enc, with_owner) for o in result.objects)
    body += _prefixes(result, enc)
    send_xml(request, "ListBucketResult", body)


async def list_object_versions(request: Request) -> None:
    await request.layer.bucket_metadata(request.bucket)
    q = request.query
    enc = url_encoder(request)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    key_marker = q.get("key-marker", "")
    version_marker = q.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise S3Error("InvalidArgument",
                      "A version-id marker cannot be specified without a key marker.")
    max_keys = int_param(request, "max-keys", MAX_KEYS, 0, MAX_KEYS)
    result = await list_page(request.layer.sets, request.bucket, prefix=prefix,
                             delimiter=delimiter, marker=key_marker, max_keys=max_keys,
                             versions=True, version_marker=version_marker)
    body = element("Name", request.bucket) + element("Prefix", enc(prefix))
    body += element("KeyMarker", enc(key_marker)) + element("VersionIdMarker", version_marker)
    if result.is_truncated:
        body += element("NextKeyMarker", enc(result.next_marker))
        body += element("NextVersionIdMarker", result.next_version_id_marker)
    body += element("MaxKeys", max_keys)
    if delimiter:
        body += element("Delimiter", enc(delimiter))
    if "encoding-type" in q:
        body += element("EncodingType", "url")
    body += element("IsTruncated", "true" if result.is_truncated else "false")
    owner = owner_xml(request)
    for info in result.objects:
        common = (element("Key", enc(info.key)) + element("VersionId", info.version_id)
                  + element("IsLatest", "true" if info.is_latest else "false")
                  + element("LastModified", iso8601(info.mod_time_ns)))
        if info.delete_marker:
            body += "<DeleteMarker>" + common + owner + "</DeleteMarker>"
        else:
            body += ("<Version>" + common + element("ETag", f'"{info.etag}"')
                     + element("Size", info.size) + owner
                     + element("StorageClass", _storage_class(info)) + "</Version>")
    body += _prefixes(result, enc)
    send_xml(request, "ListVersionsResult", body)
