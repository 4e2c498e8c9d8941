"""Object and bucket tagging.

Object tags live in the version's MetaUsr under ``X-Amz-Tagging`` as a
URL-encoded query string (MinIO's convention); bucket tags in the bucket
metadata as the Tagging XML document.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from liteio.meta.versions import ObjectVersion
from liteio.object.bucket_meta import BucketMetadata
from liteio.object.types import TAGGING_KEY
from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers.common import send_empty, send_xml, version_param
from liteio.s3.xmlio import child, child_text, children, document, element, parse

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
SMALL_XML = 64 << 10


def validate_tags(pairs: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    if len(pairs) > limit:
        raise S3Error("InvalidTag", f"Object tags cannot be greater than {limit}")
    seen = set()
    for key, value in pairs:
        if not 1 <= len(key) <= 128:
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid")
        if len(value) > 256:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid")
        if key.lower().startswith("aws:"):
            raise S3Error("InvalidTag", "System tags cannot be added/updated by requester")
        if key in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        seen.add(key)
    return pairs


def tagging_from_header(value: str) -> str:
    """The x-amz-tagging header (a query string), validated and normalised."""
    pairs = parse_qsl(value, keep_blank_values=True)
    return urlencode(validate_tags(pairs, MAX_OBJECT_TAGS))


def _tagset_xml(pairs: list[tuple[str, str]]) -> str:
    tags = "".join("<Tag>" + element("Key", k) + element("Value", v) + "</Tag>" for k, v in pairs)
    return f"<TagSet>{tags}</TagSet>"


def _parse_tagging(body: bytes, limit: int) -> list[tuple[str, str]]:
    doc = parse(body, "Tagging")
    tagset = child(doc, "TagSet")
    if tagset is None:
        raise S3Error("MalformedXML")
    pairs = []
    for tag in children(tagset, "Tag"):
        key = child_text(tag, "Key")
        value = child_text(tag, "Value", "")
        if key is None:
            raise S3Error("MalformedXML")
        pairs.append((key, value or ""))
    return validate_tags(pairs, limit)


async def get_object_tagging(request: Request) -> None:
    info = await request.layer.get_object_info(request.bucket, request.key, version_param(request))
    pairs = parse_qsl(info.tagging, keep_blank_values=True)
    request.resp.set_header("x-amz-version-id", info.version_id)
    send_xml(request, "Tagging", _tagset_xml(pairs))


async def _set_object_tags(request: Request, encoded: str | None) -> None:
    def mutate(version: ObjectVersion) -> None:
        meta = dict(version.meta_usr or {})
        meta.pop(TAGGING_KEY, None)
        if encoded:
            meta[TAGGING_KEY] = encoded
        version.meta_usr = meta

    info = await request.layer.update_object(request.bucket, request.key, version_param(request),
                                             mutate)
    request.resp.set_header("x-amz-version-id", info.version_id)


async def put_object_tagging(request: Request) -> None:
    pairs = _parse_tagging(await request.read_small_body(SMALL_XML), MAX_OBJECT_TAGS)
    await _set_object_tags(request, urlencode(pairs))
    send_empty(request)


async def delete_object_tagging(request: Request) -> None:
    await _set_object_tags(request, None)
    send_empty(request, 204)


async def get_bucket_tagging(request: Request) -> None:
    meta = await request.layer.bucket_metadata(request.bucket)
    if not meta.tagging_xml:
        raise S3Error("NoSuchTagSet", details={"BucketName": request.bucket})
    request.resp.content_type = "application/xml"
    request.resp.data = meta.tagging_xml


async def put_bucket_tagging(request: Request) -> None:
    pairs = _parse_tagging(await request.read_small_body(SMALL_XML), MAX_BUCKET_TAGS)
    xml = document("Tagging", _tagset_xml(pairs))

    def apply(meta: BucketMetadata) -> None:
        meta.tagging_xml = xml

    await request.layer.update_bucket_metadata(request.bucket, apply)
    send_empty(request, 204)


async def delete_bucket_tagging(request: Request) -> None:
    def apply(meta: BucketMetadata) -> None:
        meta.tagging_xml = b""

    await request.layer.update_bucket_metadata(request.bucket, apply)
    send_empty(request, 204)
