"""Service-level operations."""

from __future__ import annotations

from liteio.s3.context import Request
from liteio.s3.handlers.common import owner_xml, send_xml
from liteio.s3.http import iso8601
from liteio.s3.xmlio import element


async def list_buckets(request: Request) -> None:
    buckets = await request.layer.list_buckets()
    entries = "".join(
        "<Bucket>" + element("Name", b.name) + element("CreationDate", iso8601(b.created_ns))
        + "</Bucket>"
        for b in buckets
    )
    send_xml(request, "ListAllMyBucketsResult", owner_xml(request) + f"<Buckets>{entries}</Buckets>")
