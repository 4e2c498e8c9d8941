"""Bucket lifecycle, location and versioning."""

from __future__ import annotations

from liteio.object.bucket_meta import BucketMetadata
from liteio.s3.context import Request
from liteio.s3.errors import S3Error
from liteio.s3.handlers.common import send_empty, send_xml
from liteio.s3.xmlio import child_text, document, element, parse, text

SMALL_XML = 64 << 10


async def create_bucket(request: Request) -> None:
    body = await request.read_small_body(SMALL_XML)
    if body.strip():
        config = parse(body, "CreateBucketConfiguration")
        constraint = child_text(config, "LocationConstraint") or ""
        if constraint and constraint != request.config.region:
            raise S3Error("InvalidLocationConstraint",
                          f"The specified location-constraint is not valid (this server is "
                          f"{request.config.region})", status=400)
    if request.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        raise S3Error("NotImplemented", "Object lock is not implemented by liteio")
    await request.layer.make_bucket(request.bucket)
    request.resp.set_header("Location", f"/{request.bucket}")
    send_empty(request)


async def head_bucket(request: Request) -> None:
    await request.layer.get_bucket_info(request.bucket)
    request.resp.set_header("x-amz-bucket-region", request.config.region)
    send_empty(request)


async def delete_bucket(request: Request) -> None:
    await request.layer.delete_bucket(request.bucket)
    send_empty(request, 204)


async def get_location(request: Request) -> None:
    await request.layer.get_bucket_info(request.bucket)
    region = "" if request.config.region == "us-east-1" else request.config.region
    request.resp.content_type = "application/xml"
    request.resp.data = document("LocationConstraint", text(region))


async def get_versioning(request: Request) -> None:
    meta = await request.layer.bucket_metadata(request.bucket)
    status = meta.versioning
    send_xml(request, "VersioningConfiguration", element("Status", status) if status else "")


async def put_versioning(request: Request) -> None:
    config = parse(await request.read_small_body(SMALL_XML), "VersioningConfiguration")
    status = child_text(config, "Status")
    if status not in ("Enabled", "Suspended"):
        raise S3Error("IllegalVersioningConfigurationException")
    if (child_text(config, "MfaDelete") or "Disabled") == "Enabled":
        raise S3Error("NotImplemented", "MFA delete is not implemented by liteio")
    xml = document("VersioningConfiguration", element("Status", status))

    def apply(meta: BucketMetadata) -> None:
        meta.versioning_xml = xml

    await request.layer.update_bucket_metadata(request.bucket, apply)
    send_empty(request)
