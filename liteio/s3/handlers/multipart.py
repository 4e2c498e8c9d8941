"""Multipart uploads: create, upload part (and part copy), complete, abort, list."""

from __future__ import annotations

import re

from liteio.object.types import CompletePart, PartInfo, PutOptions
from liteio.s3.checksum_headers import plan_from_headers, stored_checksum_headers
from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers.common import int_param, owner_xml, send_empty, send_xml, url_encoder
from liteio.s3.handlers.objects import MAX_PUT, copy_source
from liteio.s3.handlers.tagging import tagging_from_header
from liteio.s3.http import (
    check_copy_conditions,
    content_md5,
    iso8601,
    metadata_from_headers,
    write_precondition,
)
from liteio.s3.xmlio import child_text, children, element, local, parse

MAX_COMPLETE_XML = 4 << 20
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
CHECKSUM_ELEMENTS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def _upload_id(request: Request) -> str:
    upload_id = request.query.get("uploadId", "")
    if not upload_id:
        raise S3Error("InvalidArgument", "uploadId must not be empty")
    return upload_id


async def create_upload(request: Request) -> None:
    metadata = metadata_from_headers(request.headers)
    tags = request.headers.get("x-amz-tagging")
    if tags is not None:
        metadata["X-Amz-Tagging"] = tagging_from_header(tags)
    algorithm = request.headers.get("x-amz-checksum-algorithm", "").upper()
    ctype = request.headers.get("x-amz-checksum-type", "").upper()
    upload_id = await request.layer.new_multipart_upload(
        request.bucket, request.key, PutOptions(metadata=metadata),
        checksum_algorithm=algorithm, checksum_type=ctype)
    if algorithm:
        request.resp.set_header("x-amz-checksum-algorithm", algorithm)
    if ctype:
        request.resp.set_header("x-amz-checksum-type", ctype)
    send_xml(request, "InitiateMultipartUploadResult",
             element("Bucket", request.bucket) + element("Key", request.key)
             + element("UploadId", upload_id))


def _part_number(request: Request) -> int:
    raw = request.query.get("partNumber")
    if raw is None:
        raise S3Error("InvalidArgument", "partNumber is required")
    try:
        number = int(raw)
    except ValueError:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000") from None
    if not 1 <= number <= 10000:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000")
    return number


async def upload_part(request: Request) -> None:
    upload_id = _upload_id(request)
    number = _part_number(request)
    if "x-amz-copy-source" in request.headers:
        await _upload_part_copy(request, upload_id, number)
        return
    size = request.content_length()
    if size > MAX_PUT:
        raise S3Error("EntityTooLarge")
    plan = plan_from_headers(request.headers)
    assert request.auth is not None
    reader = request.auth.body(request.req.stream)
    opts = PutOptions(content_md5=content_md5(request.headers.get("content-md5")))
    if plan is not None:
        opts.hashers = [plan.hasher]
        opts.verify_body = plan.verifier(lambda: reader.trailers)
    part = await request.layer.put_object_part(request.bucket, request.key, upload_id, number,
                                               aiter(reader), size, opts)
    if plan is not None:
        request.resp.set_header(plan.header, plan.value_b64())
    request.resp.set_header("ETag", f'"{part.etag}"')
    send_empty(request)


async def _upload_part_copy(request: Request, upload_id: str, number: int) -> None:
    src_bucket, src_key, src_version = copy_source(request)
    source = await request.layer.get_object_info(src_bucket, src_key, src_version)
    check_copy_conditions(request.headers, source)
    offset, length = 0, source.size
    raw = request.headers.get("x-amz-copy-source-range")
    if raw is not None:
        match = _COPY_RANGE.match(raw.strip())
        if not match:
            raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the "
                          "form bytes=first-last where first and last are the zero-based offsets")
        first, last = int(match.group(1)), int(match.group(2))
        if first > last or last >= source.size:
            raise S3Error("InvalidRange", details={"ActualObjectSize": str(source.size)})
        offset, length = first, last - first + 1
    if length > MAX_PUT:
        raise S3Error("EntityTooLarge")
    part = await request.layer.copy_object_part(
        src_bucket, src_key, source.version_id if src_version else None, request.bucket,
        request.key, upload_id, number, offset, length)
    if src_version:
        request.resp.set_header("x-amz-copy-source-version-id", source.version_id)
    send_xml(request, "CopyPartResult",
             element("LastModified", iso8601(part.mod_time_ns)) + element("ETag", f'"{part.etag}"'))


def _requested_parts(body: bytes) -> list[CompletePart]:
    doc = parse(body, "CompleteMultipartUpload")
    parts = []
    for node in children(doc, "Part"):
        number = child_text(node, "PartNumber")
        etag = child_text(node, "ETag")
        if number is None or etag is None:
            raise S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag")
        try:
            value = int(number)
        except ValueError:
            raise S3Error("MalformedXML", "PartNumber must be an integer") from None
        sums = {}
        for sub in node:
            name = local(sub.tag)
            if name.startswith("Checksum") and name[8:] in CHECKSUM_ELEMENTS:
                sums[name[8:]] = (sub.text or "").strip()
        parts.append(CompletePart(value, etag.strip().strip('"'), sums))
    if not parts:
        raise S3Error("MalformedXML", "You must specify at least one part")
    return parts


async def complete_upload(request: Request) -> None:
    upload_id = _upload_id(request)
    parts = _requested_parts(await request.read_small_body(MAX_COMPLETE_XML))
    opts = PutOptions(precondition=write_precondition(request.headers))
    info = await request.layer.complete_multipart_upload(request.bucket, request.key, upload_id,
                                                         parts, opts)
    meta = await request.layer.bucket_metadata(request.bucket)
    if meta.versioning or info.version_id != "null":
        request.resp.set_header("x-amz-version-id", info.version_id)
    body = (element("Location", f"/{request.bucket}/{request.key}")
            + element("Bucket", request.bucket) + element("Key", request.key)
            + element("ETag", f'"{info.etag}"'))
    for header, value in stored_checksum_headers(info.checksum_blob).items():
        if header == "x-amz-checksum-type":
            body += element("ChecksumType", value)
        else:
            body += element("Checksum" + header.rsplit("-", 1)[1].upper(), value)
    send_xml(request, "CompleteMultipartUploadResult", body)


async def abort_upload(request: Request) -> None:
    await request.layer.abort_multipart_upload(request.bucket, request.key, _upload_id(request))
    send_empty(request, 204)


def _part_xml(part: PartInfo) -> str:
    body = (element("PartNumber", part.number) + element("LastModified", iso8601(part.mod_time_ns))
            + element("ETag", f'"{part.etag}"') + element("Size", part.size))
    for name, value in sorted(part.checksums.items()):
        body += element("Checksum" + name.upper(), value)
    return f"<Part>{body}</Part>"


async def list_parts(request: Request) -> None:
    upload_id = _upload_id(request)
    marker = int_param(request, "part-number-marker", 0, 0)
    max_parts = int_param(request, "max-parts", 1000, 0, 1000)
    result = await request.layer.list_parts(request.bucket, request.key, upload_id, marker,
                                            max_parts)
    owner = owner_xml(request)
    body = (element("Bucket", request.bucket) + element("Key", request.key)
            + element("UploadId", upload_id)
            + owner.replace("<Owner>", "<Initiator>").replace("</Owner>", "</Initiator>") + owner
            + element("StorageClass", "STANDARD") + element("PartNumberMarker", marker)
            + element("NextPartNumberMarker", result.next_part_number_marker)
            + element("MaxParts", max_parts)
            + element("IsTruncated", "true" if result.is_truncated else "false"))
    if result.upload.checksum_algorithm:
        body += element("ChecksumAlgorithm", result.upload.checksum_algorithm)
    body += "".join(_part_xml(p) for p in result.parts)
    send_xml(request, "ListPartsResult", body)


async def list_uploads(request: Request) -> None:
    q = request.query
    enc = url_encoder(request)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    max_uploads = int_param(request, "max-uploads", 1000, 0, 1000)
    result = await request.layer.list_multipart_uploads(
        request.bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
        upload_id_marker=id_marker, max_uploads=max_uploads)
    owner = owner_xml(request)
    body = (element("Bucket", request.bucket) + element("KeyMarker", enc(key_marker))
            + element("UploadIdMarker", id_marker)
            + element("NextKeyMarker", enc(result.next_key_marker))
            + element("NextUploadIdMarker", result.next_upload_id_marker)
            + element("Prefix", enc(prefix)) + element("MaxUploads", max_uploads)
            + element("IsTruncated", "true" if result.is_truncated else "false"))
    if delimiter:
        body += element("Delimiter", enc(delimiter))
    if "encoding-type" in q:
        body += element("EncodingType", "url")
    for upload in result.uploads:
        body += ("<Upload>" + element("Key", enc(upload.key)) + element("UploadId", upload.upload_id)
                 + owner.replace("<Owner>", "<Initiator>").replace("</Owner>", "</Initiator>")
                 + owner + element("StorageClass", "STANDARD")
                 + element("Initiated", iso8601(upload.initiated_ns)) + "</Upload>")
    body += "".join("<CommonPrefixes>" + element("Prefix", enc(p)) + "</CommonPrefixes>"
                    for p in result.prefixes)
    send_xml(request, "ListMultipartUploadsResult", body)
